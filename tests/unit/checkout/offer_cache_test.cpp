// The per-shop cache of active offers reloads after every offer write (through offer_store's
// version bump) and not otherwise.
#include "checkout/offer_cache.h"

#include <catch2/catch.hpp>

#include "checkout/offer_store.h"
#include "plugin/core/migrations.h"
#include "tests/support/test_backend.h"
#include "tests/support/test_db.h"

using namespace afterglow;
using namespace afterglow::checkout;

namespace {

constexpr int64_t kNow = 1'745'000'000'000;

Offer sample(std::string title, int64_t priority = 100) {
  Offer o;
  o.title = std::move(title);
  o.product_id = 42;
  o.catch_all = true;
  o.priority = priority;
  return o;
}

struct Fixture {
  testing::TestDatabase tdb;
  std::unique_ptr<Db> db = tdb.open();
  int64_t shop_a = 0, shop_b = 0;
  OfferCache cache;
  Fixture() {
    REQUIRE(migrate(*db));
    shop_a = testing::seed_installed_shop(*db, "store-a.myshopify.com");
    shop_b = testing::seed_installed_shop(*db, "store-b.myshopify.com");
  }
  OfferCache::OfferList get(int64_t shop) {
    OfferCache::OfferList out;
    auto r = db->read([&](Tx& tx) -> Result<void> {
      out = AG_TRY(cache.get(tx, shop));
      return {};
    });
    INFO((r ? "" : r.error().message));
    REQUIRE(r);
    REQUIRE(out);
    return out;
  }
  template <class F>
  void write(F&& f) {
    auto r = db->write([&](Tx& tx) -> Result<void> { return f(tx); });
    INFO((r ? "" : r.error().message));
    REQUIRE(r);
  }
};

std::vector<std::string> titles(const OfferCache::OfferList& list) {
  std::vector<std::string> out;
  for (const Offer& o : *list) out.push_back(o.title);
  return out;
}

}  // namespace

TEST_CASE("the offer cache reloads after insert update and delete and not otherwise",
          "[offer_cache][db]") {
  Fixture f;
  auto empty = f.get(f.shop_a);
  CHECK(empty->empty());
  CHECK(f.cache.loads() == 1);
  CHECK(f.get(f.shop_a) == empty);  // same list, no reload
  CHECK(f.cache.loads() == 1);

  Offer first;
  f.write([&](Tx& tx) -> Result<void> {
    first = AG_TRY(insert_offer(tx, f.shop_a, sample("first", 20), kNow));
    return {};
  });
  CHECK(titles(f.get(f.shop_a)) == std::vector<std::string>{"first"});
  CHECK(f.cache.loads() == 2);
  for (int i = 0; i < 5; ++i) f.get(f.shop_a);
  CHECK(f.cache.loads() == 2);

  f.write([&](Tx& tx) -> Result<void> {
    AG_CHECK(insert_offer(tx, f.shop_a, sample("second", 10), kNow));
    return {};
  });
  auto two = f.get(f.shop_a);
  CHECK(titles(two) == std::vector<std::string>{"second", "first"});  // engine order
  CHECK(f.cache.loads() == 3);

  f.write([&](Tx& tx) -> Result<void> {
    Offer paused = first;
    paused.status = OfferStatus::kPaused;
    auto updated = AG_TRY(update_offer(tx, f.shop_a, first.id, paused, kNow + 1));
    REQUIRE(updated);
    return {};
  });
  CHECK(titles(f.get(f.shop_a)) == std::vector<std::string>{"second"});
  CHECK(f.cache.loads() == 4);
  // The list handed out earlier is unchanged: callers may keep it.
  CHECK(two->size() == 2);

  f.write([&](Tx& tx) -> Result<void> {
    CHECK(AG_TRY(delete_offer(tx, f.shop_a, first.id)));
    return {};
  });
  CHECK(titles(f.get(f.shop_a)) == std::vector<std::string>{"second"});
  CHECK(f.cache.loads() == 5);

  // Writes that change nothing (another shop's id) do not invalidate.
  f.write([&](Tx& tx) -> Result<void> {
    CHECK_FALSE(AG_TRY(delete_offer(tx, f.shop_b, first.id)));
    CHECK_FALSE(AG_TRY(update_offer(tx, f.shop_b, first.id, sample("x"), kNow)));
    return {};
  });
  f.get(f.shop_a);
  CHECK(f.cache.loads() == 5);
}

TEST_CASE("each shop has its own cached offers and version", "[offer_cache][db]") {
  Fixture f;
  f.write([&](Tx& tx) -> Result<void> {
    AG_CHECK(insert_offer(tx, f.shop_a, sample("a"), kNow));
    AG_CHECK(insert_offer(tx, f.shop_b, sample("b"), kNow));
    return {};
  });
  CHECK(titles(f.get(f.shop_a)) == std::vector<std::string>{"a"});
  CHECK(titles(f.get(f.shop_b)) == std::vector<std::string>{"b"});
  CHECK(f.cache.loads() == 2);
  f.write([&](Tx& tx) -> Result<void> {
    AG_CHECK(insert_offer(tx, f.shop_b, sample("b2"), kNow));
    return {};
  });
  f.get(f.shop_a);
  CHECK(f.cache.loads() == 2);  // shop a did not change
  CHECK(f.get(f.shop_b)->size() == 2);
  CHECK(f.cache.loads() == 3);

  // A version row removed (shop/redact) reads as a change too.
  testing::exec_sql(*f.db, "DELETE FROM offers WHERE shop_id = ?", {f.shop_b});
  testing::exec_sql(*f.db, "DELETE FROM offer_versions WHERE shop_id = ?", {f.shop_b});
  CHECK(f.get(f.shop_b)->empty());
  CHECK(f.cache.loads() == 4);
}
