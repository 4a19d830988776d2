// webhooks/order_sync: orders/create|paid|updated through the real inbox, queue and dispatcher.
#include "webhooks/order_sync.h"

#include "tests/unit/webhooks/handler_env.h"

namespace afterglow::webhooks::testing {
namespace {

int64_t order_row(HandlerEnv& env, uint64_t order_id = 820982911946154508ULL) {
  return env.i64("SELECT id FROM orders WHERE order_id = ?", {static_cast<int64_t>(order_id)});
}

TEST_CASE("orders/create stores ids above 2^53 exactly", "[order_sync][db]") {
  HandlerEnv env;
  OrderSpec spec;
  spec.line_ids = {866550311766439020ULL, 866550311766439021ULL};
  int64_t id = env.deliver("orders/create", order_body(spec));
  env.drain();

  REQUIRE(env.inbox_state(id) == "processed");
  auto row = env.one("SELECT order_id, customer_id FROM orders");
  REQUIRE(row);
  // 820982911946154508 is not representable as a double (the nearest is ...504).
  CHECK(row->i64(0) == 820982911946154508LL);
  CHECK(row->i64(1) == 115310627314723954LL);
  auto lines = env.rows(
      "SELECT line_item_id, product_id, variant_id, quantity FROM order_lines "
      "ORDER BY line_item_id");
  REQUIRE(lines.size() == 2);
  CHECK(lines[0].i64(0) == 866550311766439020LL);
  CHECK(lines[1].i64(0) == 866550311766439021LL);
  CHECK(lines[0].i64(1) == 632910392);
  CHECK(lines[0].i64(2) == 808950810);
  CHECK(lines[0].i64(3) == 1);
  CHECK(env.i64("SELECT customer_id FROM customers") == 115310627314723954LL);
}

TEST_CASE("order totals are stored in shop and presentment currency minor units", "[order_sync][db]") {
  HandlerEnv env;
  env.deliver("orders/create", order_body(OrderSpec{}));
  env.drain();
  auto o = env.one(
      "SELECT currency, total_price, total_price_minor, presentment_currency, "
      "presentment_total_price, presentment_total_minor FROM orders");
  REQUIRE(o);
  CHECK(o->text(0) == "USD");
  CHECK(o->text(1) == "209.00");
  CHECK(o->i64(2) == 20900);
  CHECK(o->text(3) == "EUR");
  CHECK(o->text(4) == "193.50");
  CHECK(o->i64(5) == 19350);
  auto l = env.one(
      "SELECT price, price_minor, presentment_price, presentment_price_minor "
      "FROM order_lines");
  REQUIRE(l);
  CHECK(l->text(0) == "199.00");
  CHECK(l->i64(1) == 19900);
  CHECK(l->text(2) == "184.20");
  CHECK(l->i64(3) == 18420);
}

TEST_CASE("a yen order is stored in whole yen and a dinar one in fils", "[order_sync][db]") {
  HandlerEnv env;
  OrderSpec yen;
  yen.id = 1;
  yen.currency = "JPY";
  yen.total_price = "21000";
  yen.presentment_currency = "KWD";
  yen.presentment_total = "43.125";
  env.deliver("orders/create", order_body(yen));
  env.drain();
  auto o = env.one("SELECT total_price_minor, presentment_total_minor FROM orders");
  REQUIRE(o);
  CHECK(o->i64(0) == 21000);
  CHECK(o->i64(1) == 43125);
}

TEST_CASE("orders/paid after orders/create updates the financial status", "[order_sync][db]") {
  HandlerEnv env;
  OrderSpec spec;
  env.deliver("orders/create", order_body(spec));
  env.drain();
  CHECK(env.text("SELECT financial_status FROM orders") == "pending");

  spec.financial_status = "paid";
  spec.updated_at = "2025-04-22T14:31:05-05:00";
  int64_t paid = env.deliver("orders/paid", order_body(spec));
  env.drain();
  CHECK(env.inbox_state(paid) == "processed");
  CHECK(env.text("SELECT financial_status FROM orders") == "paid");
  CHECK(env.i64("SELECT platform_updated_at_ms FROM orders") == 1745350265000);
  CHECK(env.i64("SELECT COUNT(*) FROM orders") == 1);
}

TEST_CASE("an older orders/updated arriving after a newer one changes nothing and is ignored",
          "[order_sync][db]") {
  HandlerEnv env;
  OrderSpec newer;
  newer.financial_status = "paid";
  newer.updated_at = "2025-04-22T20:00:00Z";
  newer.line_ids = {11, 12};
  OrderSpec older;
  older.financial_status = "pending";
  older.updated_at = "2025-04-22T14:30:00-05:00";  // 19:30Z, half an hour before `newer`
  older.line_ids = {11};
  older.total_price = "100.00";

  int64_t first = env.deliver("orders/updated", order_body(newer));
  int64_t late = env.deliver("orders/updated", order_body(older));
  env.drain();

  CHECK(env.inbox_state(first) == "processed");
  CHECK(env.inbox_state(late) == "ignored");
  CHECK_THAT(env.inbox_note(late), Catch::Contains("older than the stored order"));
  CHECK_THAT(env.inbox_note(late), Catch::Contains("2025-04-22T19:30:00.000Z"));
  CHECK(env.text("SELECT financial_status FROM orders") == "paid");
  CHECK(env.i64("SELECT total_price_minor FROM orders") == 20900);
  CHECK(env.i64("SELECT COUNT(*) FROM order_lines") == 2);
}

TEST_CASE("an event with the stored updated_at is applied again with the same result",
          "[order_sync][db]") {
  HandlerEnv env;
  OrderSpec spec;
  env.deliver("orders/create", order_body(spec));
  int64_t again = env.deliver("orders/updated", order_body(spec));
  env.drain();
  CHECK(env.inbox_state(again) == "processed");
  CHECK(env.i64("SELECT COUNT(*) FROM orders") == 1);
  CHECK(env.i64("SELECT COUNT(*) FROM order_lines") == 1);
}

TEST_CASE("a newer event replaces the order's lines, so a removed line disappears",
          "[order_sync][db]") {
  HandlerEnv env;
  OrderSpec spec;
  spec.line_ids = {1, 2, 3};
  env.deliver("orders/create", order_body(spec));
  env.drain();
  spec.line_ids = {2};
  spec.updated_at = "2025-04-23T09:00:00+02:00";
  env.deliver("orders/updated", order_body(spec));
  env.drain();
  auto lines =
      env.rows("SELECT line_item_id FROM order_lines WHERE order_row_id = ?", {order_row(env)});
  REQUIRE(lines.size() == 1);
  CHECK(lines[0].i64(0) == 2);
}

TEST_CASE("only the country code of an order's addresses is stored", "[order_sync][db]") {
  HandlerEnv env;
  env.deliver("orders/create", order_body(OrderSpec{}));
  env.drain();
  CHECK(env.text("SELECT country_code FROM orders") == "CA");
  // The inbox keeps the raw body; outside it the street address must not exist.
  auto hits = env.find_text_anywhere("Quillfeather");
  CHECK(hits == std::vector<std::string>{"webhook_inbox.body"});
}

TEST_CASE("the order's customer is upserted and an older snapshot does not overwrite it",
          "[order_sync][db]") {
  HandlerEnv env;
  OrderSpec a;
  a.id = 100;
  a.email = "new.address@example.com";
  a.updated_at = "2025-05-01T10:00:00Z";
  OrderSpec b;  // another order of the same customer, from before the email changed
  b.id = 99;
  b.email = "old.address@example.com";
  b.updated_at = "2025-04-01T10:00:00Z";
  env.deliver("orders/create", order_body(a));
  env.deliver("orders/create", order_body(b));
  env.drain();
  auto c = env.one("SELECT email, phone, first_name, last_name FROM customers");
  REQUIRE(c);
  CHECK(c->text(0) == "new.address@example.com");
  CHECK(c->text(1) == "+15555550123");
  CHECK(c->text(2) == "Jonquil");
  CHECK(c->text(3) == "Doevsky");
  CHECK(env.i64("SELECT COUNT(*) FROM orders") == 2);
}

TEST_CASE("an order for an unknown shop creates the shop with a salt", "[order_sync][db]") {
  HandlerEnv env;
  env.deliver("orders/create", order_body(OrderSpec{}));
  env.drain();
  auto shop = env.one("SELECT state, hash_salt FROM shops WHERE domain = ?", {std::string(kShop)});
  REQUIRE(shop);
  CHECK(shop->text(0) == "installed");
  CHECK(shop->text(1).size() == 32);
}

TEST_CASE("an order id written as a float is dead-lettered at once", "[order_sync][db]") {
  HandlerEnv env;
  std::string body = order_body(OrderSpec{});
  const std::string exact = R"("id":820982911946154508)";
  auto pos = body.find(exact);
  REQUIRE(pos != std::string::npos);
  body.replace(pos, exact.size(), R"("id":8.20982911946154508e17)");
  int64_t id = env.deliver("orders/create", body);
  env.drain();
  CHECK(env.inbox_state(id) == "failed");
  CHECK_THAT(env.inbox_note(id), Catch::Contains("must be an integer"));
  CHECK(env.text("SELECT state FROM jobs") == "dead");
  CHECK(env.i64("SELECT COUNT(*) FROM orders") == 0);
}

TEST_CASE("an order with malformed money or time is dead-lettered at once", "[order_sync][db]") {
  HandlerEnv env;
  OrderSpec bad_money;
  bad_money.total_price = "209,00";
  OrderSpec bad_time;
  bad_time.id = 2;
  bad_time.updated_at = "2025-04-22 14:30:00";
  int64_t a = env.deliver("orders/create", order_body(bad_money));
  int64_t b = env.deliver("orders/create", order_body(bad_time));
  env.drain();
  CHECK(env.inbox_state(a) == "failed");
  CHECK(env.inbox_state(b) == "failed");
  CHECK(env.i64("SELECT COUNT(*) FROM jobs WHERE state = 'dead' AND attempt = 1") == 2);
}

TEST_CASE("orders for an uninstalled shop are ignored with a reason", "[order_sync][db]") {
  HandlerEnv env;
  env.deliver("app/uninstalled", R"({"id":548380009,"domain":"shop-one.myshopify.com"})");
  env.drain();
  int64_t id = env.deliver("orders/create", order_body(OrderSpec{}));
  env.drain();
  CHECK(env.inbox_state(id) == "ignored");
  CHECK(env.inbox_note(id) == "shop is uninstalled");
  CHECK(env.i64("SELECT COUNT(*) FROM orders") == 0);
}

}  // namespace
}  // namespace afterglow::webhooks::testing
