// Decisions and offer events: the asynchronous sink writes in batches and on flush, the
// stored form keeps what the merchant needs, and the admin readers page and aggregate it.
#include "checkout/offer_events.h"

#include <catch2/catch.hpp>
#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "plugin/core/migrations.h"
#include "tests/support/test_backend.h"
#include "tests/support/test_db.h"

using namespace afterglow;
using namespace afterglow::checkout;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

constexpr int64_t kNow = 1'745'000'000'000;

struct Fixture {
  testing::TestDatabase tdb;
  std::unique_ptr<Db> db = tdb.open();
  int64_t shop = 0, other_shop = 0;
  Fixture() {
    REQUIRE(migrate(*db));
    shop = testing::seed_installed_shop(*db, "store-a.myshopify.com");
    other_shop = testing::seed_installed_shop(*db, "store-b.myshopify.com");
  }
  int64_t count(const std::string& table) {
    return testing::query_int(*db, "SELECT COUNT(*) FROM " + table);
  }
  json read(const std::function<Result<json>(Tx&)>& fn) {
    json out;
    auto r = db->read([&](Tx& tx) -> Result<void> {
      out = AG_TRY(fn(tx));
      return {};
    });
    INFO((r ? "" : r.error().message));
    REQUIRE(r);
    return out;
  }
};

ShownOffer shown_offer(int64_t id) {
  ShownOffer s;
  s.offer_id = id;
  return s;
}

DecisionRecord decision(int64_t shop, std::string order_key, int64_t at_ms,
                        std::vector<int64_t> shown = {}) {
  Decision d;
  for (int64_t id : shown) d.offers.push_back(shown_offer(id));
  if (shown.empty()) d.reason = std::string(reason::kOutOfStock);
  d.rejections.push_back(Rejection{9, std::string(reason::kOutOfStock)});
  return make_decision_record(shop, "thank_you", std::move(order_key), 7, d, at_ms);
}

OfferEvent event(int64_t shop, std::string kind, std::string order_key, int64_t offer_id,
                 std::string arm = "", std::optional<int64_t> amount = std::nullopt) {
  OfferEvent e;
  e.shop_id = shop;
  e.surface = "thank_you";
  e.order_key = std::move(order_key);
  e.offer_id = offer_id;
  e.customer_id = 7;
  e.product_id = 200;
  e.variant_id = 2000;
  e.arm = std::move(arm);
  e.kind = std::move(kind);
  e.amount_minor = amount;
  if (amount) e.currency = "USD";
  e.created_at_ms = kNow;
  return e;
}

// Waits (bounded) for a condition another thread makes true.
template <class F>
bool eventually(F&& condition) {
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::yield();
  }
  return true;
}

}  // namespace

TEST_CASE("the event sink writes what was queued when flushed", "[offer_events][db]") {
  Fixture f;
  EventSink sink(*f.db, std::chrono::hours(1));  // only flush() or a full batch writes
  sink.add_decision(decision(f.shop, "1001", kNow));
  sink.add_decision(decision(f.shop, "1002", kNow, {5}));
  sink.add_event(event(f.shop, "impression", "1002", 5));
  CHECK(f.count("offer_decisions") == 0);  // queued, not written: the route never waits
  sink.flush();
  CHECK(f.count("offer_decisions") == 2);
  CHECK(f.count("offer_events") == 1);
  CHECK(sink.written() == 3);
  CHECK(sink.dropped() == 0);
  sink.flush();  // nothing queued: returns at once
  CHECK(sink.written() == 3);

  auto row = testing::query_row(
      *f.db,
      "SELECT surface, order_key, offer_id, customer_id, product_id, variant_id, arm, kind, "
      "amount_minor, currency, created_at_ms FROM offer_events");
  REQUIRE(row);
  CHECK(row->text(0) == "thank_you");
  CHECK(row->text(1) == "1002");
  CHECK(row->i64(2) == 5);
  CHECK(row->i64(3) == 7);
  CHECK(row->i64(4) == 200);
  CHECK(row->i64(5) == 2000);
  CHECK(row->is_null(6));  // no arm
  CHECK(row->text(7) == "impression");
  CHECK(row->is_null(8));
  CHECK(row->is_null(9));
  CHECK(row->i64(10) == kNow);
}

TEST_CASE("a full batch is written without waiting for the interval", "[offer_events][db]") {
  Fixture f;
  EventSink sink(*f.db, std::chrono::hours(1), 2);
  for (int i = 0; i < 5; ++i) sink.add_event(event(f.shop, "impression", std::to_string(i), 5));
  CHECK(eventually([&] { return sink.written() == 4; }));  // two full batches
  CHECK(f.count("offer_events") == 4);
  sink.flush();
  CHECK(f.count("offer_events") == 5);
}

TEST_CASE("the event sink writes the rest when it is destroyed", "[offer_events][db]") {
  Fixture f;
  {
    EventSink sink(*f.db, std::chrono::hours(1));
    sink.add_decision(decision(f.shop, "1001", kNow));
    sink.add_event(event(f.shop, "impression", "1001", 5));
  }
  CHECK(f.count("offer_decisions") == 1);
  CHECK(f.count("offer_events") == 1);
}

TEST_CASE("a full event sink drops and counts what does not fit", "[offer_events][db]") {
  Fixture f;
  EventSink sink(*f.db, std::chrono::hours(1), 500, 3);
  for (int i = 0; i < 5; ++i) sink.add_event(event(f.shop, "impression", std::to_string(i), 5));
  CHECK(sink.dropped() == 2);
  sink.flush();
  CHECK(sink.written() == 3);
  CHECK(f.count("offer_events") == 3);
  // Room again after the flush.
  sink.add_event(event(f.shop, "impression", "9", 5));
  sink.flush();
  CHECK(f.count("offer_events") == 4);
}

TEST_CASE("an impression counts once per order and offer however often the page reloads",
          "[offer_events][db]") {
  Fixture f;
  EventSink sink(*f.db, std::chrono::hours(1));
  for (int i = 0; i < 3; ++i) sink.add_event(event(f.shop, "impression", "1001", 5));
  sink.add_event(event(f.shop, "impression", "1001", 6));  // another offer
  sink.add_event(event(f.shop, "impression", "1002", 5));  // another order
  sink.add_event(event(f.shop, "accept", "1001", 5));      // answers are not folded
  sink.flush();
  CHECK(testing::query_int(*f.db, "SELECT COUNT(*) FROM offer_events WHERE kind = 'impression' "
                                  "AND order_key = '1001' AND offer_id = 5") == 1);
  CHECK(f.count("offer_events") == 4);
}

TEST_CASE("events from many threads are all written", "[offer_events][db]") {
  Fixture f;
  EventSink sink(*f.db, 1ms, 7);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        sink.add_event(event(f.shop, "impression", std::to_string(t * 100 + i), 5));
      }
    });
  }
  for (auto& t : threads) t.join();
  sink.flush();
  CHECK(f.count("offer_events") == 200);
  CHECK(sink.written() == 200);
}

TEST_CASE("a decision record lists rejections and counts the surplus of unmatched offers",
          "[offer_events]") {
  Decision d;
  d.reason = std::string(reason::kHoldout);
  for (int64_t id = 1; id <= 150; ++id) d.unmatched_offer_ids.push_back(id);
  d.rejections.push_back(Rejection{151, std::string(reason::kHoldout)});
  DecisionRecord r = make_decision_record(3, "post_purchase", "ref-1", std::nullopt, d, kNow);
  CHECK(r.reason == reason::kHoldout);
  CHECK(r.shown.empty());
  REQUIRE(r.rejections.size() == DecisionRecord::kMaxListedUnmatched + 1);
  CHECK(r.rejections[0].offer_id == 151);
  CHECK(r.rejections[0].reason == reason::kHoldout);
  CHECK(r.rejections[1].offer_id == 1);
  CHECK(r.rejections[1].reason == reason::kNoMatchingRule);
  CHECK(r.rejections.back().offer_id == DecisionRecord::kMaxListedUnmatched);
  CHECK(r.unmatched_not_listed == 50);

  // A decision that showed something keeps no reason.
  Decision shown;
  shown.offers.push_back(shown_offer(4));
  shown.reason = "ignored";
  r = make_decision_record(3, "thank_you", "1", 7, shown, kNow);
  CHECK(r.shown == std::vector<int64_t>{4});
  CHECK(r.reason.empty());
}

TEST_CASE("decisions are read per order and newest first in pages", "[offer_events][db]") {
  Fixture f;
  REQUIRE(f.db->write([&](Tx& tx) -> Result<void> {
    AG_CHECK(record_decision(tx, decision(f.shop, "1001", kNow + 1)));
    AG_CHECK(record_decision(tx, decision(f.shop, "1001", kNow + 5, {5, 6})));
    AG_CHECK(record_decision(tx, decision(f.shop, "1002", kNow + 3)));
    AG_CHECK(record_decision(tx, decision(f.shop, "1003", kNow + 5)));
    AG_CHECK(record_decision(tx, decision(f.other_shop, "1001", kNow + 9)));
    return {};
  }));

  json order = f.read([&](Tx& tx) { return decisions_for_order(tx, f.shop, "1001"); });
  REQUIRE(order.size() == 2);
  CHECK(order[0]["created_at_ms"] == kNow + 1);
  CHECK(order[0]["shown"] == json::array());
  CHECK(order[0]["reason"] == "out_of_stock");
  CHECK(order[0]["rejections"] == json::parse(R"([{"offer_id":9,"reason":"out_of_stock"}])"));
  CHECK(order[0]["customer_id"] == 7);
  CHECK(order[0]["surface"] == "thank_you");
  CHECK(order[1]["shown"] == json::array({5, 6}));
  CHECK(order[1]["reason"].is_null());

  json page1 = f.read([&](Tx& tx) { return recent_decisions(tx, f.shop, 2, 0); });
  REQUIRE(page1.size() == 2);
  // Newest first; the two at kNow + 5 by id.
  CHECK(page1[0]["order_key"] == "1003");
  CHECK(page1[1]["order_key"] == "1001");
  CHECK(page1[1]["created_at_ms"] == kNow + 5);
  int64_t cursor = page1[1]["id"].get<int64_t>();
  json page2 = f.read([&](Tx& tx) { return recent_decisions(tx, f.shop, 2, cursor); });
  REQUIRE(page2.size() == 2);
  CHECK(page2[0]["order_key"] == "1002");
  CHECK(page2[1]["created_at_ms"] == kNow + 1);
  cursor = page2[1]["id"].get<int64_t>();
  CHECK(f.read([&](Tx& tx) { return recent_decisions(tx, f.shop, 2, cursor); }).empty());
  // Another shop's id is no cursor.
  int64_t foreign =
      testing::query_int(*f.db, "SELECT id FROM offer_decisions WHERE shop_id = ?", {f.other_shop});
  CHECK(f.read([&](Tx& tx) { return recent_decisions(tx, f.shop, 2, foreign); }).empty());
}

TEST_CASE("offer stats count orders per offer and arm and sum charged and refunded money",
          "[offer_events][db]") {
  Fixture f;
  REQUIRE(f.db->write([&](Tx& tx) -> Result<void> {
    for (const OfferEvent& e : {
             event(f.shop, "impression", "1", 5, "a"),
             event(f.shop, "impression", "1", 5, "a"),  // the same order again: counted once
             event(f.shop, "impression", "2", 5, "a"),
             event(f.shop, "impression", "3", 5, "b"),
             event(f.shop, "accept", "1", 5, "a"),
             event(f.shop, "decline", "2", 5, "a"),
             event(f.shop, "charge_succeeded", "1", 5, "a", 1750),
             event(f.shop, "refunded", "1", 5, "a", 1750),
             event(f.shop, "holdout", "4", 5, ""),
             event(f.shop, "charge_succeeded", "3", 5, "b", 900),
             event(f.shop, "impression", "6", 6, ""),
             event(f.other_shop, "impression", "1", 7, ""),
         }) {
      AG_CHECK(record_offer_event(tx, e));
    }
    return {};
  }));
  testing::exec_sql(*f.db, "UPDATE shops SET currency = 'USD' WHERE id = ?", {f.shop});
  json stats = f.read([&](Tx& tx) { return offer_stats(tx, f.shop); });
  REQUIRE(stats.size() == 4);
  auto find = [&](int64_t offer, const std::string& arm) {
    for (const json& s : stats) {
      if (s["offer_id"] == offer && s["arm"] == arm) return s;
    }
    FAIL("no stats for offer " << offer << " arm " << arm);
    return json();
  };
  json a = find(5, "a");
  CHECK(a["impressions"] == 2);
  CHECK(a["accepts"] == 1);
  CHECK(a["declines"] == 1);
  CHECK(a["holdouts"] == 0);
  CHECK(a["charged_minor"] == 1750);
  CHECK(a["charges"] == 1);
  CHECK(a["refunded_minor"] == 1750);
  CHECK(a["currency"] == "USD");
  json b = find(5, "b");
  CHECK(b["impressions"] == 1);
  CHECK(b["charged_minor"] == 900);
  CHECK(b["refunded_minor"] == 0);
  CHECK(find(5, "")["holdouts"] == 1);
  CHECK(find(6, "")["impressions"] == 1);
  // Sorted by offer id, then arm.
  CHECK(stats[0]["arm"] == "");
  CHECK(stats[3]["offer_id"] == 6);
}
