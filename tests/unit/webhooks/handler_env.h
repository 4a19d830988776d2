// Shared by the topic-handler tests: a migrated database on the backend under test (a SQLite file
// in a private temp dir, or a fresh PostgreSQL database in that pass), a ManualClock,
// the real inbox, queue, dispatcher (with register_topic_handlers) and a worker pool that the
// test drains on its own thread. Deliveries go in through Inbox::record exactly as the HTTP
// route stores them, including the subject_customer_id the route derives from the body.
#pragma once

#include <algorithm>
#include <catch2/catch.hpp>
#include <cctype>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "plugin/core/clock.h"
#include "plugin/core/db.h"
#include "plugin/core/job_queue.h"
#include "plugin/core/metrics.h"
#include "plugin/core/migrations.h"
#include "plugin/core/worker_pool.h"
#include "tests/support/test_backend.h"
#include "tests/support/test_db.h"
#include "webhooks/dispatcher.h"
#include "webhooks/inbox.h"
#include "webhooks/topic_handlers.h"

namespace afterglow::webhooks::testing {

inline constexpr int64_t kStartMs = 1'745'000'000'000;
inline constexpr const char* kShop = "shop-one.myshopify.com";
inline constexpr const char* kOtherShop = "shop-two.myshopify.com";

// An orders/* body in the REST shape of spec/shopify.md §2.8, with the fields tests vary.
struct OrderSpec {
  uint64_t id = 820982911946154508ULL;
  std::string updated_at = "2025-04-22T14:30:00-05:00";
  std::string financial_status = "pending";
  std::string currency = "USD";
  std::string total_price = "209.00";
  std::string presentment_currency = "EUR";
  std::string presentment_total = "193.50";
  std::optional<uint64_t> customer_id = 115310627314723954ULL;
  std::string email = "jon.buyer@example.com";
  std::string phone = "+15555550123";
  std::string first_name = "Jonquil";
  std::string last_name = "Doevsky";
  std::vector<uint64_t> line_ids = {866550311766439020ULL};
};

inline std::string order_body(const OrderSpec& o) {
  using nlohmann::json;
  json lines = json::array();
  for (uint64_t id : o.line_ids) {
    lines.push_back({{"id", id},
                     {"admin_graphql_api_id", "gid://shopify/LineItem/" + std::to_string(id)},
                     {"product_id", 632910392},
                     {"variant_id", 808950810},
                     {"sku", "IPOD2008PINK"},
                     {"title", "IPod Nano - 8GB"},
                     {"variant_title", "Pink"},
                     {"quantity", 1},
                     {"price", "199.00"},
                     {"price_set",
                      {{"shop_money", {{"amount", "199.00"}, {"currency_code", o.currency}}},
                       {"presentment_money",
                        {{"amount", "184.20"}, {"currency_code", o.presentment_currency}}}}}});
  }
  json body = {
      {"id", o.id},
      {"admin_graphql_api_id", "gid://shopify/Order/" + std::to_string(o.id)},
      {"name", "#1001"},
      {"email", o.email},
      {"phone", o.phone},
      {"created_at", "2025-04-22T14:30:00-05:00"},
      {"updated_at", o.updated_at},
      {"currency", o.currency},
      {"presentment_currency", o.presentment_currency},
      {"subtotal_price", "199.00"},
      {"total_discounts", "0.00"},
      {"total_tax", "0.00"},
      {"total_price", o.total_price},
      {"total_price_set",
       {{"shop_money", {{"amount", o.total_price}, {"currency_code", o.currency}}},
        {"presentment_money",
         {{"amount", o.presentment_total}, {"currency_code", o.presentment_currency}}}}},
      {"financial_status", o.financial_status},
      {"fulfillment_status", nullptr},
      {"checkout_token", "ct-4e1c"},
      {"cart_token", "cart-77aa"},
      {"tags", ""},
      {"line_items", lines},
      {"shipping_address",
       {{"first_name", o.first_name},
        {"last_name", o.last_name},
        {"address1", "17 Quillfeather Lane"},
        {"city", "Ottawa"},
        {"zip", "K2P 1L4"},
        {"country_code", "CA"}}},
  };
  if (o.customer_id) {
    body["customer"] = {{"id", *o.customer_id},     {"email", o.email},
                        {"phone", o.phone},         {"first_name", o.first_name},
                        {"last_name", o.last_name}, {"state", "enabled"}};
  } else {
    body["customer"] = nullptr;
  }
  return body.dump();
}

struct HandlerEnv {
  explicit HandlerEnv(bool with_topic_handlers = true)
      : db_(open()),
        clock(kStartMs),
        queue(*db_, clock, RetryPolicy{}, 7),
        dispatcher(*db_, clock, metrics),
        pool(queue, handlers, metrics, pool_options()),
        inbox(*db_, queue, clock) {
    if (with_topic_handlers) register_topic_handlers(dispatcher, queue, clock);
    handlers.add(kProcessJobKind, [this](const Job& job) { return dispatcher.process(job); });
  }
  Db& db() { return *db_; }

  // Stores a delivery as the route would and returns its inbox id.
  int64_t deliver(const std::string& topic, const std::string& body,
                  const std::string& shop = kShop, const std::string& source = "shopify") {
    Delivery d;
    d.source = source;
    d.shop_domain = shop;
    d.delivery_id = "delivery-" + std::to_string(++deliveries_);
    d.topic = topic;
    d.api_version = "2025-07";
    d.subject_customer_id = subject_customer(body, topic);
    d.body = body;
    auto r = inbox.record(d);
    REQUIRE(r);
    REQUIRE(*r == IntakeResult::kAccepted);
    return i64("SELECT id FROM webhook_inbox WHERE delivery_id = ?", {d.delivery_id});
  }

  // Runs every due job on this thread; returns how many ran.
  int drain() {
    auto n = pool.drain();
    REQUIRE(n);
    return *n;
  }

  int64_t i64(const std::string& sql, const Params& params = {}) {
    auto row = one(sql, params);
    REQUIRE(row);
    return row->i64(0);
  }
  std::optional<std::string> text(const std::string& sql, const Params& params = {}) {
    auto row = one(sql, params);
    REQUIRE(row);
    return row->opt_text(0);
  }
  std::optional<Row> one(const std::string& sql, const Params& params = {}) {
    std::optional<Row> out;
    REQUIRE(db_->read([&](Tx& tx) -> Result<void> {
      out = AG_TRY(tx.query_one(sql, params));
      return {};
    }));
    return out;
  }
  std::vector<Row> rows(const std::string& sql, const Params& params = {}) {
    std::vector<Row> out;
    REQUIRE(db_->read([&](Tx& tx) -> Result<void> {
      out = AG_TRY(tx.query(sql, params));
      return {};
    }));
    return out;
  }
  void exec(const std::string& sql, const Params& params = {}) {
    REQUIRE(db_->write([&](Tx& tx) -> Result<void> {
      AG_CHECK(tx.exec(sql, params));
      return {};
    }));
  }

  std::string inbox_state(int64_t id) {
    return *text("SELECT state FROM webhook_inbox WHERE id = ?", {id});
  }
  std::string inbox_note(int64_t id) {
    return text("SELECT note FROM webhook_inbox WHERE id = ?", {id}).value_or("");
  }

  // Every table and column whose text contains `needle` (case-insensitive), as "table.column".
  // The database's catalogue is used on purpose: the test must see tables added later too.
  std::vector<std::string> find_text_anywhere(const std::string& needle) {
    auto lower = [](std::string s) {
      std::transform(s.begin(), s.end(), s.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      return s;
    };
    const std::string n = lower(needle);
    std::vector<std::string> hits;
    for (const std::string& table : afterglow::testing::table_names(*db_)) {
      const std::vector<std::string> columns = afterglow::testing::column_names(*db_, table);
      for (const Row& r : rows("SELECT * FROM " + table)) {
        for (size_t i = 0; i < r.size(); ++i) {
          if (auto s = std::get_if<std::string>(&r.at(i));
              s && lower(*s).find(n) != std::string::npos) {
            hits.push_back(table + "." + columns.at(i));
          }
        }
      }
    }
    return hits;
  }

  Metrics metrics;

 private:
  std::unique_ptr<Db> open() {
    auto db = database_.open();
    REQUIRE(migrate(*db));
    return db;
  }
  static WorkerOptions pool_options() {
    WorkerOptions o;
    o.name = "test";
    o.threads = 0;
    return o;
  }
  // The route's rule (webhooks/routes.cpp): customer.id, or the body's id for customers/*.
  static std::optional<int64_t> subject_customer(const std::string& body,
                                                 const std::string& topic) {
    auto j = nlohmann::json::parse(body, nullptr, false);
    if (!j.is_object()) return std::nullopt;
    auto c = j.find("customer");
    if (c != j.end() && c->is_object() && c->contains("id") && (*c)["id"].is_number_integer()) {
      return (*c)["id"].get<int64_t>();
    }
    if (topic.rfind("customers/", 0) == 0 && j.contains("id") && j["id"].is_number_integer()) {
      return j["id"].get<int64_t>();
    }
    return std::nullopt;
  }

  afterglow::testing::TestDatabase database_;  // outlives db_
  std::unique_ptr<Db> db_;
  int deliveries_ = 0;

 public:
  ManualClock clock;
  JobQueue queue;
  WebhookDispatcher dispatcher;
  JobHandlers handlers;
  WorkerPool pool;
  Inbox inbox;
};

}  // namespace afterglow::webhooks::testing
