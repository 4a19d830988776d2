// A shop with live flows, a customer who consented, a small catalogue, a real SMTP server on
// loopback and the step runner on a ManualClock: whole flows (days) run in milliseconds.
#pragma once

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "email/consent.h"
#include "email/enrolment.h"
#include "email/flow_store.h"
#include "email/flow_templates.h"
#include "email/mime_parse.h"
#include "email/smtp_mailer.h"
#include "email/step_runner.h"
#include "email/tracking_token.h"
#include "plugin/core/catalog.h"
#include "plugin/core/clock.h"
#include "plugin/core/migrations.h"
#include "plugin/core/shop_settings.h"
#include "tests/support/smtp_server.h"
#include "tests/support/test_backend.h"
#include "tests/support/test_db.h"

namespace afterglow::email::testenv {

using namespace std::chrono_literals;
using nlohmann::json;

// Tuesday 2026-03-03 15:00 UTC (10:00 in New York).
constexpr int64_t kStart = 1'772'550'000'000;
constexpr int64_t kCustomer = 7001;
constexpr const char* kEmail = "ada@example.com";
constexpr const char* kShop = "glow-shop.myshopify.com";
constexpr const char* kSecret = "app-secret-for-tests";

class SequenceEnv {
 public:
  explicit SequenceEnv(std::unique_ptr<SmsSender> sms = nullptr) : sms_(std::move(sms)) {
    REQUIRE(migrate(*db));
    shop = testing::seed_installed_shop(*db, kShop);
    ShopSettings s;
    s.sender_name = "Glow Shop";
    s.sender_email = "hello@glow.example";
    s.postal_address = "1 Market Street, Springfield, IL 62701";
    settings(s);
    SmtpOptions o;
    o.url = smtp.url();
    o.allow_plaintext = true;  // a loopback test server without TLS
    auto m = make_smtp_mailer(o);
    REQUIRE(m);
    mailer = std::move(*m);
    StepRunnerConfig c;
    c.app_url = "https://afterglow.test";
    c.tracking_key = tracking_key(kSecret);
    c.mail_from = "bounces@afterglow.test";
    runner = std::make_unique<StepRunner>(*db, clock, mailer.get(), sms_.get(), c);
    for (int64_t id : {101, 102, 103, 104}) product(id, "Product " + std::to_string(id));
    // Catalogues hold images mail cannot show (the demo shop's are data: URIs).
    product(102, "Product 102", "data:image/svg+xml,%3Csvg%3E%3C/svg%3E");
    product(103, "Product 103", "https://cdn.glow.example/103.png");
    consent(AddressChannel::kEmail, kEmail, ConsentState::kSubscribed);
  }

  void write(const std::function<Result<void>(Tx&)>& fn) {
    auto r = db->write(fn);
    INFO((r ? "" : r.error().message));
    REQUIRE(r);
  }

  void settings(const ShopSettings& s) {
    write([&](Tx& tx) { return save_shop_settings(tx, shop, s); });
  }
  ShopSettings settings() {
    ShopSettings s;
    write([&](Tx& tx) -> Result<void> {
      s = AG_TRY(load_shop_settings(tx, shop));
      return {};
    });
    return s;
  }

  void product(int64_t id, std::string title, std::string image = "") {
    CatalogProduct p;
    p.id = id;
    p.title = std::move(title);
    p.image_url = std::move(image);
    p.handle = "product-" + std::to_string(id);
    p.status = "active";
    CatalogVariant v;
    v.id = id * 10;
    v.price = "24.00";
    v.inventory_quantity = 5;
    p.variants.push_back(v);
    p.updated_at_ms = kStart;
    write([&](Tx& tx) -> Result<void> {
      AG_CHECK(upsert_product(tx, shop, p, std::string_view("USD"), kStart, true));
      return {};
    });
  }

  void consent(AddressChannel channel, const std::string& address, ConsentState state,
               std::string wording = "Yes, send me offers.") {
    ConsentChange c;
    c.channel = channel;
    c.address = address;
    c.customer_id = kCustomer;
    c.state = state;
    c.source = "admin";
    c.wording = std::move(wording);
    c.collected_at_ms = clock.now_ms();
    write([&](Tx& tx) -> Result<void> {
      AG_CHECK(record_consent(tx, shop, c, clock.now_ms()));
      return {};
    });
  }

  // Makes a live flow from a seed template (optionally edited first); returns its id.
  int64_t live_template(const std::string& key,
                        const std::function<void(Flow&)>& edit = nullptr) {
    const FlowTemplate* t = find_flow_template(key);
    REQUIRE(t);
    Flow f = t->flow;
    f.status = FlowStatus::kLive;
    if (edit) edit(f);
    int64_t id = 0;
    write([&](Tx& tx) -> Result<void> {
      id = AG_TRY(insert_flow(tx, shop, f, clock.now_ms())).id;
      return {};
    });
    return id;
  }

  // The order the customer placed (orders + order_lines), as the webhook sync stores it.
  void order(int64_t order_id, std::vector<int64_t> products, int64_t at_ms) {
    testing::exec_sql(
        *db,
        "INSERT INTO orders (shop_id, order_id, name, customer_id, email, currency, "
        "total_price, total_price_minor, financial_status, platform_updated_at_ms, "
        "received_at_ms) VALUES (?, ?, ?, ?, ?, 'USD', '48.00', 4800, 'paid', ?, ?)",
        {shop, order_id, "#" + std::to_string(order_id), kCustomer, std::string(kEmail), at_ms,
         at_ms});
    int64_t row = testing::query_int(*db, "SELECT id FROM orders WHERE shop_id = ? AND order_id = ?",
                                     {shop, order_id});
    int64_t line = 1;
    for (int64_t p : products) {
      testing::exec_sql(*db,
                        "INSERT INTO order_lines (order_row_id, line_item_id, product_id, "
                        "variant_id, title, quantity, price, price_minor) "
                        "VALUES (?, ?, ?, ?, 'Item', 1, '24.00', 2400)",
                        {row, order_id * 100 + line++, p, p * 10});
    }
  }

  TriggerEvent event(FlowTrigger trigger, int64_t order_id, std::vector<int64_t> products) {
    TriggerEvent e;
    e.trigger = trigger;
    e.key = (trigger == FlowTrigger::kOrderFulfilled ? "fulfil:" : "order:") +
            std::to_string(order_id);
    e.ref = "order:" + std::to_string(order_id);
    e.customer_id = kCustomer;
    e.email = kEmail;
    e.occurred_at_ms = clock.now_ms();
    e.data.order_id = order_id;
    e.data.order_name = "#" + std::to_string(order_id);
    e.data.first_name = "Ada";
    e.data.value_minor = 4800;
    e.data.currency = "USD";
    e.data.country_code = "US";
    e.data.province_code = "IL";
    e.data.product_ids = std::move(products);
    return e;
  }

  std::vector<EnrolmentOutcome> enrol(const TriggerEvent& e) {
    std::vector<EnrolmentOutcome> out;
    write([&](Tx& tx) -> Result<void> {
      out = AG_TRY(email::enrol(tx, shop, e, clock.now_ms()));
      return {};
    });
    return out;
  }

  // Runs everything due now (as a worker loop would); returns how many runs it ran.
  int run() {
    int total = 0;
    for (;;) {
      auto n = runner->run_due("test-worker", 50);
      INFO((n ? "" : n.error().message));
      REQUIRE(n);
      if (*n == 0) return total;
      total += *n;
    }
  }

  // Advances the clock in steps of at most `step`, running what is due after each.
  void pass(std::chrono::milliseconds d, std::chrono::milliseconds step = 1h) {
    int64_t end = clock.now_ms() + d.count();
    while (clock.now_ms() < end) {
      clock.set_ms(std::min(end, clock.now_ms() + step.count()));
      run();
    }
  }

  std::vector<ParsedEntity> mail() {
    std::vector<ParsedEntity> out;
    for (const std::string& raw : smtp.messages()) {
      auto m = parse_mime(raw);
      INFO((m ? "" : m.error().message));
      REQUIRE(m);
      out.push_back(std::move(*m));
    }
    return out;
  }

  // send_log reasons of the enrolment's steps, oldest first ("outcome:reason").
  std::vector<std::string> log() {
    std::vector<std::string> out;
    for (const Row& r : testing::query_rows(
             *db, "SELECT outcome, reason FROM send_log WHERE shop_id = ? ORDER BY id", {shop})) {
      out.push_back(r.text(0) + ":" + r.text(1));
    }
    return out;
  }

  int64_t count(std::string_view sql, const Params& params = {}) {
    return testing::query_int(*db, sql, params);
  }

  testing::SmtpServer smtp;
  testing::TestDatabase tdb;
  std::unique_ptr<Db> db = tdb.open();
  ManualClock clock{kStart};
  int64_t shop = 0;
  std::unique_ptr<Mailer> mailer;
  std::unique_ptr<SmsSender> sms_;
  std::unique_ptr<StepRunner> runner;
};

}  // namespace afterglow::email::testenv
