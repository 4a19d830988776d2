// Shared by the trigger tests: a migrated database on the backend under test with one installed
// shop, a ManualClock, live flows made on demand, and webhook bodies in the platform's REST shape
// (spec/shopify.md §2.7, §2.8) with the fields the trigger tests vary.
#pragma once

#include <catch2/catch.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "email/flow_model.h"
#include "email/flow_store.h"
#include "email/triggers.h"
#include "plugin/core/clock.h"
#include "plugin/core/migrations.h"
#include "plugin/core/shop_settings.h"
#include "plugin/core/time_format.h"
#include "tests/support/test_backend.h"
#include "tests/support/test_db.h"

namespace afterglow::email::trigger_testing {

using namespace std::chrono_literals;
using nlohmann::json;

// 2025-04-22T19:30:00Z, the updated_at of the order bodies below.
constexpr int64_t kStartMs = 1'745'350'200'000;
constexpr const char* kShop = "trigger-shop.myshopify.com";
constexpr uint64_t kOrderId = 820982911946154508ULL;  // above 2^53 on purpose
constexpr uint64_t kCustomerId = 115310627314723954ULL;
constexpr int64_t kProduct = 632910392;
constexpr int64_t kVariant = 808950810;

// An orders/* body.
struct OrderSpec {
  uint64_t id = kOrderId;
  std::optional<uint64_t> customer_id = kCustomerId;
  std::string email = "jon.buyer@example.com";
  std::string customer_phone = "+15555550123";
  std::string checkout_token = "ct-4e1c";
  std::string cart_token = "cart-77aa";
  std::string total_price = "209.00";
  std::string updated_at = "2025-04-22T14:30:00-05:00";
  std::string cancelled_at;
  json customer_extra = json::object();  // merged into "customer" (consent fields)
};

inline std::string order_body(const OrderSpec& o) {
  json body = {
      {"id", o.id},
      {"name", "#1001"},
      {"email", o.email},
      {"phone", nullptr},
      {"created_at", "2025-04-22T14:29:00-05:00"},
      {"updated_at", o.updated_at},
      {"currency", "USD"},
      {"presentment_currency", "EUR"},
      {"total_price", o.total_price},
      {"financial_status", "paid"},
      {"checkout_token", o.checkout_token},
      {"cart_token", o.cart_token},
      {"cancelled_at", o.cancelled_at.empty() ? json() : json(o.cancelled_at)},
      {"line_items",
       {{{"id", 866550311766439020ULL},
         {"product_id", kProduct},
         {"variant_id", kVariant},
         {"quantity", 1},
         {"price", "199.00"}}}},
      {"shipping_address",
       {{"first_name", "Jonquil"},
        {"country_code", "CA"},
        {"province_code", "ON"},
        {"phone", "+16135550100"}}},
  };
  if (o.customer_id) {
    json c = {{"id", *o.customer_id}, {"email", o.email},   {"phone", o.customer_phone},
              {"first_name", "Jon"},  {"last_name", "Doe"}, {"tags", "vip, wholesale"}};
    c.update(o.customer_extra);
    body["customer"] = c;
  }
  return body.dump();
}

// A checkouts/create|update body.
struct CheckoutSpec {
  std::string token = "ct-4e1c";
  std::string cart_token = "cart-77aa";
  std::string email = "jon.buyer@example.com";
  std::string phone;
  std::optional<uint64_t> customer_id = kCustomerId;
  std::string total_price = "75.50";
  int64_t updated_at_ms = kStartMs;
  std::string completed_at;
  bool accepts_marketing = false;
  bool accepts_sms = false;
  std::string sms_phone;
};

inline std::string checkout_body(const CheckoutSpec& c) {
  json body = {
      {"id", 98765432101ULL},
      {"token", c.token},
      {"cart_token", c.cart_token.empty() ? json() : json(c.cart_token)},
      {"email", c.email.empty() ? json() : json(c.email)},
      {"phone", c.phone.empty() ? json() : json(c.phone)},
      {"created_at", format_iso8601_utc(c.updated_at_ms - 60'000)},
      {"updated_at", format_iso8601_utc(c.updated_at_ms)},
      {"completed_at", c.completed_at.empty() ? json() : json(c.completed_at)},
      {"currency", "USD"},
      {"presentment_currency", "USD"},
      {"total_price", c.total_price},
      {"abandoned_checkout_url",
       "https://" + std::string(kShop) + "/checkouts/" + c.token + "/recover?key=k"},
      {"buyer_accepts_marketing", c.accepts_marketing},
      {"buyer_accepts_sms_marketing", c.accepts_sms},
      {"sms_marketing_phone", c.sms_phone.empty() ? json() : json(c.sms_phone)},
      {"line_items",
       {{{"product_id", kProduct}, {"variant_id", kVariant}, {"quantity", 2}, {"price", "37.75"}}}},
      {"shipping_address", {{"country_code", "US"}, {"province_code", "NY"}}},
  };
  if (c.customer_id) body["customer"] = {{"id", *c.customer_id}, {"email", c.email}};
  return body.dump();
}

class TriggerEnv {
 public:
  TriggerEnv() : db_(database_.open()), clock(kStartMs) {
    REQUIRE(migrate(*db_));
    shop = afterglow::testing::seed_installed_shop(*db_, kShop);
  }
  Db& db() { return *db_; }

  // Runs `fn` in a write transaction and requires it to succeed.
  void write(const std::function<Result<void>(Tx&)>& fn) {
    auto r = db_->write(fn);
    INFO((r ? "" : r.error().message));
    REQUIRE(r);
  }

  // A handler called the way the shell calls it: in a write transaction, at the clock's now.
  using Handler = Result<TriggerOutcome> (*)(Tx&, int64_t, std::string_view, int64_t);
  Result<TriggerOutcome> deliver(Handler handler, const std::string& body) {
    std::optional<Result<TriggerOutcome>> out;
    auto r = db_->write([&](Tx& tx) -> Result<void> {
      out = handler(tx, shop, body, clock.now_ms());
      if (!*out) return std::unexpected(out->error());  // roll back, as the dispatcher would
      return {};
    });
    if (!r && !out) return std::unexpected(r.error());
    return *out;
  }
  TriggerOutcome processed(Handler handler, const std::string& body) {
    auto r = deliver(handler, body);
    INFO((r ? r->note : r.error().message));
    REQUIRE(r);
    return *r;
  }

  int sweep(int limit = 100) {
    int n = 0;
    write([&](Tx& tx) -> Result<void> {
      n = AG_TRY(sweep_abandoned_checkouts(tx, clock.now_ms(), limit));
      return {};
    });
    return n;
  }

  // A live flow for `trigger`: wait an hour, then one email (so an enrolment has a pending run).
  int64_t live_flow(const std::string& trigger, json filters = json::array()) {
    json j = {{"name", "flow for " + trigger},
              {"status", "live"},
              {"trigger", trigger},
              {"trigger_filters", filters},
              {"steps",
               {{{"id", "wait"}, {"type", "delay"}, {"duration_minutes", 60}},
                {{"id", "mail"}, {"type", "send_email"}, {"subject", "Hi"}, {"body", "Hello"}}}}};
    auto flow = flow_from_json(j);
    INFO((flow ? "" : flow.error().message));
    REQUIRE(flow);
    int64_t id = 0;
    write([&](Tx& tx) -> Result<void> {
      id = AG_TRY(insert_flow(tx, shop, *flow, clock.now_ms())).id;
      return {};
    });
    return id;
  }

  void settings(const std::function<void(ShopSettings&)>& edit) {
    write([&](Tx& tx) -> Result<void> {
      ShopSettings s = AG_TRY(load_shop_settings(tx, shop));
      edit(s);
      return save_shop_settings(tx, shop, s);
    });
  }

  // The order as webhooks' order sync stores it (orders + one line + the customer).
  void store_order(uint64_t order_id = kOrderId, std::string checkout_token = "ct-4e1c",
                   std::string cart_token = "cart-77aa") {
    afterglow::testing::exec_sql(
        *db_,
        "INSERT INTO orders (shop_id, order_id, name, customer_id, email, currency, total_price, "
        "total_price_minor, financial_status, checkout_token, cart_token, country_code, "
        "platform_updated_at_ms, received_at_ms) VALUES (?, ?, '#1001', ?, ?, 'USD', '209.00', "
        "20900, 'paid', ?, ?, 'CA', ?, ?)",
        {shop, static_cast<int64_t>(order_id), static_cast<int64_t>(kCustomerId),
         std::string("jon.buyer@example.com"), checkout_token, cart_token, kStartMs, kStartMs});
    int64_t row = i64("SELECT id FROM orders WHERE shop_id = ? AND order_id = ?",
                      {shop, static_cast<int64_t>(order_id)});
    afterglow::testing::exec_sql(
        *db_,
        "INSERT INTO order_lines (order_row_id, line_item_id, product_id, variant_id, quantity, "
        "price, price_minor) VALUES (?, 1, ?, ?, 1, '199.00', 19900)",
        {row, kProduct, kVariant});
    afterglow::testing::exec_sql(
        *db_,
        "INSERT INTO customers (shop_id, customer_id, email, phone, first_name, last_name, tags, "
        "updated_at_ms) VALUES (?, ?, ?, ?, 'Jon', 'Doe', 'vip', ?) ON CONFLICT DO NOTHING",
        {shop, static_cast<int64_t>(kCustomerId), std::string("jon.buyer@example.com"),
         std::string("+15555550123"), kStartMs});
  }

  int64_t i64(const std::string& sql, const Params& params = {}) {
    return afterglow::testing::query_int(*db_, sql, params);
  }
  std::optional<Row> row(const std::string& sql, const Params& params = {}) {
    return afterglow::testing::query_row(*db_, sql, params);
  }
  std::vector<Row> rows(const std::string& sql, const Params& params = {}) {
    return afterglow::testing::query_rows(*db_, sql, params);
  }
  int64_t enrolments(const std::string& trigger) {
    return i64("SELECT COUNT(*) FROM enrolments WHERE shop_id = ? AND trigger_kind = ?",
               {shop, trigger});
  }

 private:
  afterglow::testing::TestDatabase database_;  // outlives db_
  std::unique_ptr<Db> db_;

 public:
  ManualClock clock;
  int64_t shop = 0;
};

}  // namespace afterglow::email::trigger_testing
