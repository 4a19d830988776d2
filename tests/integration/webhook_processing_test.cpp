// What happens after the 200: the stored deliveries are processed by `afterglow worker --drain`
// (or the server's own workers) into the domain tables, and the database afterwards is checked
// the way an auditor would — orders, exports, and what is left of a customer or shop after the
// privacy webhooks (spec/shopify.md §2.4-§2.6).
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <thread>

#include "tests/support/sandbox.h"
#include "tests/support/shopify_payloads.h"
#include "tests/support/test_db.h"

using namespace afterglow::testing;
using nlohmann::json;

namespace {

constexpr const char* kShop = "example.myshopify.com";

ShopifyDelivery delivery(const std::string& topic, const std::string& webhook_id,
                         std::string body, const std::string& shop = kShop) {
  ShopifyDelivery d;
  d.topic = topic;
  d.shop_domain = shop;
  d.webhook_id = webhook_id;
  d.body = std::move(body);
  return d;
}

// Posts a signed delivery and requires it to be accepted.
void deliver(RunningApp& app, const ShopifyDelivery& d) {
  auto res = app.post_shopify(d);
  INFO(d.topic << " " << d.webhook_id << ": " << res.status << " " << res.body << res.error);
  REQUIRE(res.status == 200);
  REQUIRE(json::parse(res.body)["status"] == "accepted");
}

std::string inbox_state(RunningApp& app, const std::string& webhook_id) {
  auto row = query_row(app.db(), "SELECT state FROM webhook_inbox WHERE delivery_id = ?",
                       {webhook_id});
  return row ? row->text(0) : "<no row>";
}

std::string describe(const std::vector<Trace>& traces) {
  std::string out;
  for (const Trace& t : traces) out += t.describe() + "; ";
  return out;
}

OrderPayload customer_a_order() {
  OrderPayload o;  // the defaults: order 820982911946154508, jon@example.com, +15555550123
  return o;
}

OrderPayload customer_b_order() {
  OrderPayload o;
  o.id = 820982911946154999;
  o.name = "#1002";
  o.customer_id = 115310627314720002;
  o.email = "ann@example.org";
  o.phone = "+15555550999";
  o.line_item_id = 866550311766430002;
  return o;
}

CustomerRef customer_a() { return CustomerRef{}; }

}  // namespace

TEST_CASE("an older orders/updated arriving after a newer one changes nothing: the newer wins",
          "[processing][orders]") {
  RunningApp app;
  OrderPayload newer;
  newer.updated_at = "2025-04-22T15:00:00-05:00";
  newer.financial_status = "paid";
  newer.total_price = "209.00";
  OrderPayload older = newer;
  older.updated_at = "2025-04-22T14:45:00-05:00";
  older.financial_status = "pending";
  older.total_price = "199.00";
  older.presentment_total = "184.20";

  deliver(app, delivery("orders/updated", "wh-newer", order_json(newer)));
  REQUIRE(app.drain() == 1);
  deliver(app, delivery("orders/updated", "wh-older", order_json(older)));
  REQUIRE(app.drain() == 1);

  auto o = query_row(app.db(),
                     "SELECT financial_status, total_price_minor, platform_updated_at_ms "
                     "FROM orders WHERE order_id = ?",
                     {newer.id});
  REQUIRE(o);
  CHECK(o->text(0) == "paid");
  CHECK(o->i64(1) == 20900);
  CHECK(o->i64(2) == 1745352000000);  // 2025-04-22T20:00:00Z
  CHECK(inbox_state(app, "wh-newer") == "processed");
  CHECK(inbox_state(app, "wh-older") == "ignored");
  CHECK(query_row(app.db(), "SELECT note FROM webhook_inbox WHERE delivery_id = 'wh-older'")
            ->text(0)
            .find("older") != std::string::npos);

  // A later update still applies: the guard compares times, it does not freeze the order.
  OrderPayload refunded = newer;
  refunded.updated_at = "2025-04-23T09:00:00-05:00";
  refunded.financial_status = "refunded";
  deliver(app, delivery("orders/updated", "wh-latest", order_json(refunded)));
  REQUIRE(app.drain() == 1);
  CHECK(query_row(app.db(), "SELECT financial_status FROM orders WHERE order_id = ?", {newer.id})
            ->text(0) == "refunded");
  CHECK(query_int(app.db(), "SELECT COUNT(*) FROM orders") == 1);
}

TEST_CASE("customers/data_request stores an export of the customer's orders for the merchant",
          "[processing][compliance]") {
  RunningApp app;
  OrderPayload order = customer_a_order();
  deliver(app, delivery("orders/create", "wh-order-a", order_json(order)));
  deliver(app, delivery("orders/create", "wh-order-b", order_json(customer_b_order())));
  REQUIRE(app.drain() == 2);

  deliver(app, delivery("customers/data_request", "wh-data-request",
                        data_request_json(kShop, customer_a(), order.id, 9999)));
  REQUIRE(app.drain() == 1);
  CHECK(inbox_state(app, "wh-data-request") == "processed");

  auto row = query_row(app.db(),
                       "SELECT e.customer_id, e.content, s.domain FROM data_exports e "
                       "JOIN shops s ON s.id = e.shop_id WHERE e.data_request_id = 9999");
  REQUIRE(row);
  CHECK(row->i64(0) == customer_a().id);
  CHECK(row->text(2) == kShop);
  json content = json::parse(row->text(1), nullptr, false);
  REQUIRE(content.is_object());
  INFO(content.dump(2));
  // What we hold: the customer record and the order with its line.
  REQUIRE(content["customers"].size() == 1);
  CHECK(content["customers"][0]["email"] == order.email);
  CHECK(content["customers"][0]["phone"] == order.phone);
  REQUIRE(content["orders"].size() == 1);
  CHECK(content["orders"][0]["order_id"].get<int64_t>() == order.id);
  CHECK(content["orders"][0]["total_price"] == "209.00");
  CHECK(content["orders"][0]["line_items"].size() == 1);
  // Only this customer's data: the other customer's order is not in it.
  CHECK(row->text(1).find("ann@example.org") == std::string::npos);
  CHECK(query_int(app.db(), "SELECT COUNT(*) FROM data_exports") == 1);
}

TEST_CASE("customers/redact leaves no trace of the customer's email or phone in any table",
          "[processing][compliance]") {
  RunningApp app;
  OrderPayload a = customer_a_order();
  OrderPayload b = customer_b_order();
  deliver(app, delivery("orders/create", "wh-order-a", order_json(a)));
  deliver(app, delivery("orders/create", "wh-order-b", order_json(b)));
  deliver(app, delivery("customers/data_request", "wh-data-request",
                        data_request_json(kShop, customer_a(), a.id, 9999)));
  REQUIRE(app.drain() == 3);
  // The set-up really put the customer's data in several tables.
  REQUIRE(find_everywhere(app.db(), a.email).size() >= 4);

  deliver(app, delivery("customers/redact", "wh-redact",
                        customer_redact_json(kShop, customer_a(), a.id)));
  REQUIRE(app.drain() == 1);
  CHECK(inbox_state(app, "wh-redact") == "processed");

  for (const std::string& needle : {a.email, a.phone, std::string("5555550123")}) {
    auto traces = find_everywhere(app.db(), needle);
    INFO("'" << needle << "' found in: " << describe(traces));
    CHECK(traces.empty());
  }
  CHECK(query_int(app.db(), "SELECT COUNT(*) FROM customers WHERE customer_id = ?", {a.customer_id}) == 0);
  // The order stays (the merchant's books), without the person.
  auto order = query_row(app.db(),
                         "SELECT email, phone, customer_id, total_price_minor FROM orders "
                         "WHERE order_id = ?",
                         {a.id});
  REQUIRE(order);
  CHECK(order->is_null(0));
  CHECK(order->is_null(1));
  CHECK(order->is_null(2));
  CHECK(order->i64(3) == 20900);
  CHECK(inbox_state(app, "wh-order-a") == "redacted");
  CHECK(query_int(app.db(), "SELECT COUNT(*) FROM data_exports WHERE customer_id = ?",
                  {a.customer_id}) == 0);

  // The other customer is untouched.
  CHECK(query_int(app.db(), "SELECT COUNT(*) FROM customers WHERE email = ?", {b.email}) == 1);
  CHECK(query_int(app.db(), "SELECT COUNT(*) FROM orders WHERE email = ?", {b.email}) == 1);
  CHECK(inbox_state(app, "wh-order-b") == "processed");
}

TEST_CASE("shop/redact deletes every row of the shop and leaves only a tombstone",
          "[processing][compliance]") {
  RunningApp app;
  const std::string other_shop = "other-shop.myshopify.com";
  int64_t shop_id = seed_installed_shop(app.db(), kShop);
  OrderPayload a = customer_a_order();
  deliver(app, delivery("orders/create", "wh-order-a", order_json(a)));
  deliver(app, delivery("orders/create", "wh-order-b", order_json(customer_b_order())));
  deliver(app, delivery("customers/data_request", "wh-data-request",
                        data_request_json(kShop, customer_a(), a.id, 9999)));
  deliver(app, delivery("orders/create", "wh-other-shop", order_json(a), other_shop));
  deliver(app, delivery("app/uninstalled", "wh-uninstalled", app_uninstalled_json(kShop)));
  REQUIRE(app.drain() == 5);
  exec_sql(app.db(),
           "INSERT INTO suppressions (shop_id, channel, address_hash, reason, created_at_ms) "
           "VALUES (?, 'email', 'ab12', 'unsubscribed', 0)",
           {shop_id});
  REQUIRE(query_int(app.db(), "SELECT COUNT(*) FROM orders WHERE shop_id = ?", {shop_id}) == 2);

  deliver(app, delivery("shop/redact", "wh-shop-redact", shop_redact_json(kShop)));
  REQUIRE(app.drain() == 1);

  auto shop = query_row(app.db(),
                        "SELECT state, access_token_enc, refresh_token_enc, scopes "
                        "FROM shops WHERE id = ?",
                        {shop_id});
  REQUIRE(shop);
  CHECK(shop->text(0) == "redacted");
  CHECK(shop->is_null(1));
  CHECK(shop->is_null(2));
  CHECK(shop->is_null(3));

  // No table keeps a row of the shop: by shop id ...
  for (const std::string& table : table_names(app.db())) {
    if (table == "shops") continue;
    std::vector<std::string> columns = column_names(app.db(), table);
    if (std::find(columns.begin(), columns.end(), "shop_id") == columns.end()) continue;
    INFO("table " << table);
    CHECK(query_int(app.db(), "SELECT COUNT(*) FROM \"" + table + "\" WHERE shop_id = ?",
                    {shop_id}) == 0);
  }
  CHECK(query_int(app.db(), "SELECT COUNT(*) FROM order_lines WHERE order_row_id NOT IN "
                            "(SELECT id FROM orders)") == 0);
  // ... and by domain. The tombstone keeps the domain so a late event cannot re-create the
  // shop; the shop/redact delivery keeps its row (the record that the request was honoured,
  // and the dedupe key for its redelivery) but not its body.
  std::vector<Trace> traces = find_everywhere(app.db(), kShop);
  INFO("domain found in: " << describe(traces));
  for (const Trace& t : traces) {
    bool tombstone = t.table == "shops" && t.id == shop_id;
    bool redact_record =
        t.table == "webhook_inbox" && t.column == "shop_domain" &&
        query_int(app.db(), "SELECT COUNT(*) FROM webhook_inbox WHERE id = ? AND "
                            "delivery_id = 'wh-shop-redact'",
                  {t.id}) == 1;
    CHECK((tombstone || redact_record));
  }
  CHECK(query_row(app.db(), "SELECT body FROM webhook_inbox WHERE delivery_id = 'wh-shop-redact'")
            ->text(0)
            .find("954889") == std::string::npos);
  std::set<std::string> email_tables;  // the same customer also bought in the other shop
  for (const Trace& t : find_everywhere(app.db(), a.email)) email_tables.insert(t.table);
  CHECK(email_tables == std::set<std::string>{"customers", "orders", "webhook_inbox"});

  // The other shop keeps its data, and a late order event for the redacted shop stores nothing.
  CHECK(query_int(app.db(), "SELECT COUNT(*) FROM orders o JOIN shops s ON s.id = o.shop_id "
                            "WHERE s.domain = ?",
                  {other_shop}) == 1);
  deliver(app, delivery("orders/updated", "wh-late", order_json(a)));
  REQUIRE(app.drain() == 1);
  CHECK(inbox_state(app, "wh-late") == "ignored");
  CHECK(query_int(app.db(), "SELECT COUNT(*) FROM orders WHERE shop_id = ?", {shop_id}) == 0);
}

TEST_CASE("app/uninstalled marks the shop uninstalled and deletes its tokens",
          "[processing][lifecycle]") {
  RunningApp app;
  int64_t shop_id = seed_installed_shop(app.db(), kShop);
  deliver(app, delivery("app/uninstalled", "wh-uninstalled", app_uninstalled_json(kShop)));
  REQUIRE(app.drain() == 1);
  CHECK(inbox_state(app, "wh-uninstalled") == "processed");

  auto shop = query_row(app.db(),
                        "SELECT state, access_token_enc, refresh_token_enc, uninstalled_at_ms, "
                        "access_token_expires_at_ms FROM shops WHERE id = ?",
                        {shop_id});
  REQUIRE(shop);
  CHECK(shop->text(0) == "uninstalled");
  CHECK(shop->is_null(1));
  CHECK(shop->is_null(2));
  CHECK_FALSE(shop->is_null(3));
  CHECK(shop->is_null(4));

  // The token is dead: a later order event for the shop is kept in the inbox but not applied.
  deliver(app, delivery("orders/create", "wh-after-uninstall", order_json({})));
  REQUIRE(app.drain() == 1);
  CHECK(inbox_state(app, "wh-after-uninstall") == "ignored");
  CHECK(query_int(app.db(), "SELECT COUNT(*) FROM orders") == 0);
}

TEST_CASE("a delivery its handler cannot process shows in `afterglow jobs` as dead with the error",
          "[processing][jobs]") {
  RunningApp app;
  // Authentic and JSON, so it is accepted; but an order without updated_at can never be stored.
  deliver(app, delivery("orders/create", "wh-unprocessable",
                        R"({"id":4242,"currency":"USD","total_price":"1.00"})"));
  REQUIRE(app.drain() == 1);

  CliResult jobs = app.cli({"jobs"});
  INFO(jobs.out << jobs.err);
  REQUIRE(jobs.status == 0);
  CHECK(std::regex_search(jobs.out, std::regex(R"(\ndead +1\n)")));
  int64_t job_id = query_int(app.db(), "SELECT id FROM jobs WHERE state = 'dead'");
  CHECK(std::regex_search(jobs.out, std::regex("\\n" + std::to_string(job_id) +
                                               R"( +webhook\.process +1 +.*updated_at is missing)")));
  CHECK(inbox_state(app, "wh-unprocessable") == "failed");

  // An operator can requeue it once the cause is fixed.
  CliResult retry = app.cli({"jobs", "--retry", std::to_string(job_id)});
  CHECK(retry.status == 0);
  CHECK(query_row(app.db(), "SELECT state FROM jobs WHERE id = ?", {job_id})->text(0) ==
        "scheduled");
}

TEST_CASE("with WORKERS=2 the server processes an accepted delivery by itself",
          "[processing][workers]") {
  RunningApp app(Env{{"WORKERS", "2"}});
  deliver(app, delivery("orders/create", "wh-in-process", order_json({})));

  // The one bounded wait in this suite: the work happens on the server's threads, and the
  // database is the only place to see it finish. The job is completed after the inbox row is
  // marked, so a finished job means both are visible.
  auto job_done = [&] {
    return query_int(app.db(), "SELECT COUNT(*) FROM jobs WHERE state = 'done'") == 1;
  };
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!job_done() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  REQUIRE(job_done());
  CHECK(inbox_state(app, "wh-in-process") == "processed");
  CHECK(query_int(app.db(), "SELECT COUNT(*) FROM orders") == 1);
  CHECK(app.drain() == 0);  // nothing was left for an outside worker
  CHECK(app.stop() == 0);
}
