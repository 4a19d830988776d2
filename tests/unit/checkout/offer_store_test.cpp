// The offers table: every call is scoped to its shop, and the database itself refuses a funnel
// link to another shop's offer.
#include "checkout/offer_store.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "plugin/core/migrations.h"
#include "tests/support/test_backend.h"
#include "tests/support/test_db.h"

using namespace afterglow;
using namespace afterglow::checkout;

namespace {

constexpr int64_t kNow = 1'745'000'000'000;

Offer sample(std::string title, OfferKind kind = OfferKind::kUpsell) {
  auto o = offer_from_json({{"kind", std::string(offer_kind_name(kind))},
                            {"title", title},
                            {"product_id", 42},
                            {"catch_all", true}});
  REQUIRE(o);
  return *o;
}

struct Fixture {
  testing::TestDatabase tdb;
  std::unique_ptr<Db> db = tdb.open();
  int64_t shop_a = 0, shop_b = 0;
  Fixture() {
    REQUIRE(migrate(*db));
    shop_a = testing::seed_installed_shop(*db, "store-a.myshopify.com");
    shop_b = testing::seed_installed_shop(*db, "store-b.myshopify.com");
  }
  Offer insert(int64_t shop, Offer o) {
    Offer out;
    auto r = db->write([&](Tx& tx) -> Result<void> {
      out = AG_TRY(insert_offer(tx, shop, o, kNow));
      return {};
    });
    INFO((r ? "" : r.error().message));
    REQUIRE(r);
    return out;
  }
};

}  // namespace

TEST_CASE("offers are stored, listed, updated and deleted per shop", "[offers][db]") {
  Fixture f;
  Offer a1 = f.insert(f.shop_a, sample("A one"));
  Offer a2 = f.insert(f.shop_a, sample("A two"));
  Offer b1 = f.insert(f.shop_b, sample("B one"));
  CHECK(a1.id > 0);
  CHECK(a1.created_at_ms == kNow);

  REQUIRE(f.db->read([&](Tx& tx) -> Result<void> {
    auto page = AG_TRY(list_offers(tx, f.shop_a, 0, 1));
    REQUIRE(page.size() == 1);
    CHECK(page[0].id == a1.id);
    auto rest = AG_TRY(list_offers(tx, f.shop_a, page[0].id, 10));
    REQUIRE(rest.size() == 1);
    CHECK(rest[0].id == a2.id);
    CHECK_FALSE(AG_TRY(find_offer(tx, f.shop_a, b1.id)));  // another shop's offer: not found
    return {};
  }));

  REQUIRE(f.db->write([&](Tx& tx) -> Result<void> {
    Offer changed = sample("B renamed by A");
    CHECK_FALSE(AG_TRY(update_offer(tx, f.shop_a, b1.id, changed, kNow + 1)));
    CHECK_FALSE(AG_TRY(delete_offer(tx, f.shop_a, b1.id)));
    auto updated = AG_TRY(update_offer(tx, f.shop_a, a1.id, sample("A one, renamed"), kNow + 1));
    REQUIRE(updated);
    CHECK(updated->title == "A one, renamed");
    CHECK(updated->updated_at_ms == kNow + 1);
    CHECK(updated->created_at_ms == kNow);
    return {};
  }));
  CHECK(testing::query_row(*f.db, "SELECT title FROM offers WHERE id = ?", {b1.id})->text(0) ==
        "B one");
}

TEST_CASE("a funnel link to another shop's offer is refused by the store and the schema",
          "[offers][db]") {
  Fixture f;
  Offer b_down = f.insert(f.shop_b, sample("B downsell", OfferKind::kDownsell));
  Offer a = sample("A upsell");
  a.funnel.after_decline_offer_id = b_down.id;
  auto r = f.db->write([&](Tx& tx) -> Result<void> {
    AG_CHECK(insert_offer(tx, f.shop_a, a, kNow));
    return {};
  });
  REQUIRE_FALSE(r);
  CHECK(r.error().message == "offers.funnel.after_decline_offer_id names no offer of this shop (" +
                                 std::to_string(b_down.id) + ")");

  // Even SQL that skips the store cannot make the link.
  Offer a_stored = f.insert(f.shop_a, sample("A upsell"));
  CHECK_THROWS(testing::exec_sql(*f.db, "UPDATE offers SET after_decline_offer_id = ? WHERE id = ?",
                                 {b_down.id, a_stored.id}));
}

TEST_CASE("an offer another offer's funnel leads to cannot be deleted", "[offers][db]") {
  Fixture f;
  Offer down = f.insert(f.shop_a, sample("Downsell", OfferKind::kDownsell));
  Offer up = sample("Upsell");
  up.funnel.after_decline_offer_id = down.id;
  up = f.insert(f.shop_a, up);
  auto r = f.db->write([&](Tx& tx) -> Result<void> {
    AG_CHECK(delete_offer(tx, f.shop_a, down.id));
    return {};
  });
  REQUIRE_FALSE(r);
  CHECK(r.error().code == ErrorCode::kConflict);
  CHECK(r.error().message.starts_with("offer " + std::to_string(up.id) + " leads to this offer"));
}
