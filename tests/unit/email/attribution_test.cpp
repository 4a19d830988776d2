// Last-touch attribution: the person's last human click inside the shop's window wins, once per
// order.
#include "email/attribution.h"

#include <catch2/catch.hpp>

#include "plugin/core/migrations.h"
#include "plugin/core/shop_settings.h"
#include "tests/support/test_backend.h"
#include "tests/support/test_db.h"

using namespace afterglow;
using namespace afterglow::email;
using afterglow::testing::exec_sql;
using afterglow::testing::query_int;
using afterglow::testing::query_row;

namespace {

// INSERT … RETURNING id, in a write transaction (query_int reads).
int64_t insert_id(Db& db, std::string_view sql, const Params& params) {
  int64_t id = 0;
  auto r = db.write([&](Tx& tx) -> Result<void> {
    auto rows = AG_TRY(tx.query(sql, params));
    if (rows.empty()) return fail(ErrorCode::kInternal, "no id returned");
    id = rows[0].i64(0);
    return {};
  });
  INFO((r ? "" : r.error().message));
  REQUIRE(r);
  return id;
}

constexpr int64_t kOrderedAt = 1'746'000'000'000;
constexpr int64_t kDay = 24 * 3'600'000;
constexpr int64_t kCustomer = 501;

struct Fixture {
  testing::TestDatabase tdb;
  std::unique_ptr<Db> db = tdb.open();
  int64_t shop = 0;
  int64_t next_step_run = 1;

  Fixture() {
    REQUIRE(migrate(*db));
    shop = testing::seed_installed_shop(*db, "glow-store.myshopify.com");
  }

  int64_t message(std::optional<int64_t> customer_id, const std::string& recipient,
                  int64_t flow_id = 11, const std::string& channel = "email") {
    return insert_id(
        *db,
        "INSERT INTO messages (shop_id, step_run_id, enrolment_id, flow_id, step_id, customer_id, "
        "person_key, channel, recipient, state, links, created_at_ms, sent_at_ms, updated_at_ms) "
        "VALUES (?, ?, 1, ?, 'email_1', ?, 'p', ?, ?, 'sent', '[]', ?, ?, ?) RETURNING id",
        {shop, next_step_run++, flow_id, customer_id ? DbValue(*customer_id) : DbValue(), channel,
         recipient, kOrderedAt - 30 * kDay, kOrderedAt - 30 * kDay, kOrderedAt - 30 * kDay});
  }

  void event(int64_t message_id, const std::string& kind, int64_t at_ms, bool machine = false) {
    exec_sql(*db,
             "INSERT INTO message_events (shop_id, message_id, kind, machine, link_index, at_ms) "
             "VALUES (?, ?, ?, ?, 0, ?)",
             {shop, message_id, kind, int64_t{machine ? 1 : 0}, at_ms});
  }

  std::optional<int64_t> attribute(int64_t order_id, std::optional<int64_t> customer_id,
                                   const std::string& email, int64_t revenue = 4599,
                                   int64_t ordered_at = kOrderedAt) {
    std::optional<int64_t> out;
    auto r = db->write([&](Tx& tx) -> Result<void> {
      out = AG_TRY(
          attribute_order(tx, shop, order_id, customer_id, email, revenue, "USD", ordered_at));
      return {};
    });
    INFO((r ? "" : r.error().message));
    REQUIRE(r);
    return out;
  }

  int64_t attributions() { return query_int(*db, "SELECT COUNT(*) FROM attributions"); }
};

}  // namespace

TEST_CASE("a click 4 days before the order is credited with the order", "[attribution][db]") {
  Fixture f;
  int64_t m = f.message(kCustomer, "jane@example.com", 11);
  f.event(m, "click", kOrderedAt - 4 * kDay);
  auto credited = f.attribute(9001, kCustomer, "jane@example.com", 4599);
  REQUIRE(credited);
  CHECK(*credited == m);
  auto row = query_row(*f.db,
                       "SELECT message_id, flow_id, revenue_minor, currency, clicked_at_ms, at_ms "
                       "FROM attributions WHERE shop_id = ? AND order_id = 9001",
                       {f.shop});
  REQUIRE(row);
  CHECK(row->i64(0) == m);
  CHECK(row->i64(1) == 11);
  CHECK(row->i64(2) == 4599);
  CHECK(row->text(3) == "USD");
  CHECK(row->i64(4) == kOrderedAt - 4 * kDay);
  CHECK(row->i64(5) == kOrderedAt);
}

TEST_CASE("a click 6 days before the order is outside the default 5-day window",
          "[attribution][db]") {
  Fixture f;
  int64_t m = f.message(kCustomer, "jane@example.com");
  f.event(m, "click", kOrderedAt - 6 * kDay);
  CHECK_FALSE(f.attribute(9001, kCustomer, "jane@example.com"));
  CHECK(f.attributions() == 0);

  // A shop with a 7-day window counts it.
  auto r = f.db->write([&](Tx& tx) -> Result<void> {
    ShopSettings s = AG_TRY(load_shop_settings(tx, f.shop));
    s.attribution_days = 7;
    return save_shop_settings(tx, f.shop, s);
  });
  REQUIRE(r);
  CHECK(f.attribute(9001, kCustomer, "jane@example.com") == m);
}

TEST_CASE("machine clicks, opens and clicks after the order are not credited",
          "[attribution][db]") {
  Fixture f;
  int64_t m = f.message(kCustomer, "jane@example.com");
  f.event(m, "click", kOrderedAt - 1 * kDay, /*machine=*/true);
  f.event(m, "open", kOrderedAt - 1 * kDay);
  f.event(m, "click", kOrderedAt + 60'000);
  CHECK_FALSE(f.attribute(9001, kCustomer, "jane@example.com"));
  CHECK(f.attributions() == 0);
}

TEST_CASE("the last human click wins and a second call adds nothing", "[attribution][db]") {
  Fixture f;
  int64_t first = f.message(kCustomer, "jane@example.com", 11);
  int64_t last = f.message(kCustomer, "jane@example.com", 12);
  int64_t someone_else = f.message(777, "other@example.com", 13);
  f.event(first, "click", kOrderedAt - 3 * kDay);
  f.event(last, "click", kOrderedAt - 1 * kDay);
  f.event(someone_else, "click", kOrderedAt - 60'000);
  CHECK(f.attribute(9001, kCustomer, "jane@example.com") == last);

  // A later click, and a call with other figures: the order keeps its first answer.
  f.event(first, "click", kOrderedAt - 30'000);
  CHECK(f.attribute(9001, kCustomer, "jane@example.com", 99999) == last);
  CHECK(f.attributions() == 1);
  CHECK(query_int(*f.db, "SELECT revenue_minor FROM attributions WHERE order_id = 9001") == 4599);
}

TEST_CASE("a guest order is matched by the normalised email of an email message",
          "[attribution][db]") {
  Fixture f;
  int64_t m = f.message(std::nullopt, "jane@example.com");
  int64_t sms = f.message(std::nullopt, "+15555551234", 11, "sms");
  f.event(m, "click", kOrderedAt - 2 * kDay);
  f.event(sms, "click", kOrderedAt - 1 * kDay);
  CHECK(f.attribute(9002, std::nullopt, "  Jane@Example.COM ") == m);
  // Neither a customer nor an email: nothing to match.
  CHECK_FALSE(f.attribute(9003, std::nullopt, ""));
  // A customer id matches that customer's messages, whatever address they went to.
  int64_t theirs = f.message(kCustomer, "old-address@example.com");
  f.event(theirs, "click", kOrderedAt - 1 * kDay);
  CHECK(f.attribute(9004, kCustomer, "new-address@example.com") == theirs);
}
