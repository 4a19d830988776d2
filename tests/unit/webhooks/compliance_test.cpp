// webhooks/compliance: customers/data_request, customers/redact and shop/redact, end to end
// through the inbox, the queue and the dispatcher, checked against the whole database.
#include "webhooks/compliance.h"

#include <tuple>

#include "plugin/core/shop_store.h"
#include "tests/unit/webhooks/handler_env.h"

namespace afterglow::webhooks::testing {
namespace {

using nlohmann::json;

constexpr uint64_t kCustomer = 115310627314723954ULL;
constexpr const char* kEmail = "jon.buyer@example.com";
constexpr const char* kPhone = "+15555550123";

std::string salt_of(HandlerEnv& env, const std::string& domain) {
  return *env.text("SELECT hash_salt FROM shops WHERE domain = ?", {domain});
}

int64_t shop_id(HandlerEnv& env, const std::string& domain) {
  return env.i64("SELECT id FROM shops WHERE domain = ?", {domain});
}

void suppress(HandlerEnv& env, const std::string& domain, AddressChannel channel,
              const std::string& address) {
  env.exec(
      "INSERT INTO suppressions (shop_id, channel, address_hash, reason, created_at_ms) "
      "VALUES (?, ?, ?, 'unsubscribed', ?)",
      {shop_id(env, domain), std::string(channel_name(channel)),
       address_hash(salt_of(env, domain), channel, address), kStartMs});
}

// Another customer of the same shop, whose data must survive every redaction of ours.
OrderSpec bystander() {
  OrderSpec o;
  o.id = 5001;
  o.customer_id = 42;
  o.email = "bystander@example.org";
  o.phone = "+4930123456";
  o.first_name = "Bea";
  o.last_name = "Stander";
  o.line_ids = {7001};
  return o;
}

// What the offer engine and one-click checkout keep for a shop (checkout/migrations/0202): a
// stored payment, the offer cache's version, a decision, an event, an answer, and a charge with
// its event. Decisions and events are about `customer`.
void seed_offer_activity(HandlerEnv& env, int64_t shop, int64_t customer, const std::string& tag) {
  env.exec(
      "INSERT INTO order_payments (shop_id, order_id, customer, payment_method, payment_intent, "
      "created_at_ms) VALUES (?, 1, 'cus_1', 'pm_1', ?, ?)",
      {shop, "pi_" + tag, kStartMs});
  env.exec("INSERT INTO offer_versions (shop_id, version) VALUES (?, 1)", {shop});
  env.exec(
      "INSERT INTO offer_decisions (shop_id, surface, order_key, customer_id, shown, detail, "
      "created_at_ms) VALUES (?, 'thank_you', '1', ?, '[]', '{}', ?)",
      {shop, customer, kStartMs});
  env.exec(
      "INSERT INTO offer_events (shop_id, surface, order_key, offer_id, customer_id, kind, "
      "created_at_ms) VALUES (?, 'thank_you', '1', 1, ?, 'impression', ?)",
      {shop, customer, kStartMs});
  env.exec(
      "INSERT INTO offer_responses (shop_id, order_key, offer_id, token_id, action, "
      "created_at_ms) VALUES (?, '1', 1, ?, 'accept', ?)",
      {shop, "jti-" + tag, kStartMs});
  env.exec(
      "INSERT INTO charges (shop_id, order_id, offer_id, charge_key, idempotency_key, "
      "stripe_account, customer, payment_method, product_id, variant_id, quantity, amount_minor, "
      "discount_minor, currency, state, created_at_ms, updated_at_ms) VALUES (?, 1, 1, ?, ?, "
      "'acct_1', 'cus_1', 'pm_1', 1, 1, 1, 100, 0, 'USD', 'succeeded', ?, ?)",
      {shop, "ag:" + tag, "ag:" + tag + ":pi", kStartMs, kStartMs});
  env.exec(
      "INSERT INTO charge_events (charge_id, state, created_at_ms) SELECT id, 'succeeded', ? "
      "FROM charges WHERE charge_key = ?",
      {kStartMs, "ag:" + tag});
}

std::string data_request(int64_t request_id) {
  json body = {{"shop_id", 548380009},
               {"shop_domain", kShop},
               {"orders_requested", {820982911946154508ULL}},
               {"customer", {{"id", kCustomer}, {"email", kEmail}, {"phone", "555-555-0123"}}},
               {"data_request", {{"id", request_id}}}};
  return body.dump();
}

std::string redact_request(std::vector<uint64_t> orders = {820982911946154508ULL}) {
  json body = {{"shop_id", 548380009},
               {"shop_domain", kShop},
               {"customer", {{"id", kCustomer}, {"email", kEmail}, {"phone", kPhone}}},
               {"orders_to_redact", orders}};
  return body.dump();
}

TEST_CASE("customers/data_request stores an export with the customer, orders and suppressions",
          "[compliance][db]") {
  HandlerEnv env;
  env.deliver("orders/create", order_body(OrderSpec{}));
  env.deliver("orders/create", order_body(bystander()));
  env.drain();
  suppress(env, kShop, AddressChannel::kEmail, "Jon.Buyer@example.com ");

  int64_t id = env.deliver("customers/data_request", data_request(9999));
  env.drain();
  REQUIRE(env.inbox_state(id) == "processed");

  auto row = env.one("SELECT customer_id, data_request_id, content FROM data_exports");
  REQUIRE(row);
  CHECK(row->i64(0) == static_cast<int64_t>(kCustomer));
  CHECK(row->i64(1) == 9999);
  json doc = json::parse(row->text(2));
  CHECK(doc["data_request_id"] == 9999);
  CHECK(doc["customer_id"].get<int64_t>() == static_cast<int64_t>(kCustomer));
  REQUIRE(doc["customers"].size() == 1);
  CHECK(doc["customers"][0]["email"] == kEmail);
  CHECK(doc["customers"][0]["first_name"] == "Jonquil");
  REQUIRE(doc["orders"].size() == 1);
  CHECK(doc["orders"][0]["order_id"].get<int64_t>() == 820982911946154508LL);
  CHECK(doc["orders"][0]["total_price_minor"] == 20900);
  REQUIRE(doc["orders"][0]["line_items"].size() == 1);
  CHECK(doc["orders"][0]["line_items"][0]["line_item_id"].get<int64_t>() == 866550311766439020LL);
  REQUIRE(doc["suppressions"].size() == 1);
  CHECK(doc["suppressions"][0]["channel"] == "email");
  CHECK(doc["suppressions"][0]["reason"] == "unsubscribed");
  CHECK(doc["stored_webhook_deliveries"] == 1);  // the orders/create naming the customer
  CHECK(row->text(2).find("bystander") == std::string::npos);
}

TEST_CASE("a repeated data request with the same id stores one export", "[compliance][db]") {
  HandlerEnv env;
  env.deliver("customers/data_request", data_request(9999));
  int64_t repeat = env.deliver("customers/data_request", data_request(9999));
  env.drain();
  CHECK(env.i64("SELECT COUNT(*) FROM data_exports") == 1);
  CHECK(env.inbox_state(repeat) == "ignored");
  CHECK_THAT(env.inbox_note(repeat), Catch::Contains("already stored"));
}

TEST_CASE("customers/redact leaves no trace of the email or phone anywhere in the database",
          "[compliance][db]") {
  HandlerEnv env;
  OrderSpec guest;  // a guest checkout by the same person, listed in orders_to_redact
  guest.id = 820982911946154999ULL;
  guest.customer_id.reset();
  guest.email = "jon.b+guest@example.com";
  guest.phone = "+16135550000";  // found only through the listed order id
  guest.line_ids = {9};
  env.deliver("orders/create", order_body(OrderSpec{}));
  env.deliver("orders/create", order_body(guest));
  env.deliver("orders/create", order_body(bystander()));
  env.deliver("customers/update",
              json({{"id", kCustomer}, {"email", kEmail}, {"phone", kPhone}}).dump());
  env.deliver("customers/data_request", data_request(1));
  env.drain();
  suppress(env, kShop, AddressChannel::kEmail, kEmail);
  suppress(env, kShop, AddressChannel::kSms, kPhone);
  std::string email_hash = address_hash(salt_of(env, kShop), AddressChannel::kEmail, kEmail);
  REQUIRE(env.i64("SELECT COUNT(*) FROM data_exports") == 1);
  REQUIRE_FALSE(env.find_text_anywhere(kEmail).empty());

  int64_t id = env.deliver("customers/redact",
                           redact_request({820982911946154508ULL, 820982911946154999ULL}));
  env.drain();

  REQUIRE(env.inbox_state(id) == "processed");
  for (const char* needle : {kEmail, kPhone, "5555550123", "555-555-0123", "Jonquil", "Doevsky",
                             "jon.b+guest@example.com", "6135550000"}) {
    INFO("searching for " << needle);
    CHECK(env.find_text_anywhere(needle).empty());
  }
  CHECK(env.i64("SELECT COUNT(*) FROM customers WHERE customer_id = ?",
                {static_cast<int64_t>(kCustomer)}) == 0);
  CHECK(env.i64("SELECT COUNT(*) FROM orders WHERE customer_id IS NULL AND email IS NULL") == 2);
  CHECK(env.i64("SELECT COUNT(*) FROM data_exports") == 0);
  CHECK(env.text("SELECT body FROM webhook_inbox WHERE id = ?", {id}) == R"({"redacted":true})");
  // Suppressions survive as salted hashes: the address can still be recognised, not read.
  CHECK(env.i64("SELECT COUNT(*) FROM suppressions") == 2);
  CHECK(env.i64("SELECT COUNT(*) FROM suppressions WHERE address_hash = ?", {email_hash}) == 1);
  // The other customer is untouched.
  CHECK(env.find_text_anywhere("bystander@example.org").size() >= 3);  // customer, order, inbox
  CHECK(env.i64("SELECT COUNT(*) FROM customers WHERE customer_id = 42") == 1);
}

TEST_CASE("customers/redact deletes the customer's offer decisions and events",
          "[compliance][db]") {
  HandlerEnv env;
  env.deliver("orders/create", order_body(OrderSpec{}));
  env.drain();
  int64_t shop = shop_id(env, kShop);
  seed_offer_activity(env, shop, static_cast<int64_t>(kCustomer), "subject");
  // Another customer's rows in the same shop stay.
  env.exec(
      "INSERT INTO offer_events (shop_id, surface, order_key, offer_id, customer_id, kind, "
      "created_at_ms) VALUES (?, 'thank_you', '2', 1, 42, 'accept', ?)",
      {shop, kStartMs});
  env.exec(
      "INSERT INTO offer_decisions (shop_id, surface, order_key, customer_id, shown, detail, "
      "created_at_ms) VALUES (?, 'thank_you', '2', 42, '[1]', '{}', ?)",
      {shop, kStartMs});

  int64_t id = env.deliver("customers/redact", redact_request());
  env.drain();
  REQUIRE(env.inbox_state(id) == "processed");
  const Params subject{shop, static_cast<int64_t>(kCustomer)};
  CHECK(env.i64("SELECT COUNT(*) FROM offer_events WHERE shop_id = ? AND customer_id = ?",
                subject) == 0);
  CHECK(env.i64("SELECT COUNT(*) FROM offer_decisions WHERE shop_id = ? AND customer_id = ?",
                subject) == 0);
  CHECK(env.i64("SELECT COUNT(*) FROM offer_events WHERE customer_id = 42") == 1);
  CHECK(env.i64("SELECT COUNT(*) FROM offer_decisions WHERE customer_id = 42") == 1);
  CHECK_THAT(env.inbox_note(id), Catch::Contains("2 offer decision/event row(s)"));
}

TEST_CASE("a stored order event not yet processed at redaction is skipped afterwards",
          "[compliance][db]") {
  HandlerEnv env;
  int64_t order = env.deliver("orders/create", order_body(OrderSpec{}));
  int64_t redact = env.deliver("customers/redact", redact_request());
  // Run the redaction first, as a worker that picked its job earlier would.
  Job job;
  job.payload = R"({"inbox_id":)" + std::to_string(redact) + "}";
  job.attempt = 1;
  job.max_attempts = 8;
  REQUIRE(env.dispatcher.process(job));
  env.drain();

  CHECK(env.inbox_state(order) == "redacted");
  CHECK(env.inbox_state(redact) == "processed");
  CHECK(env.i64("SELECT COUNT(*) FROM orders") == 0);
  CHECK(env.find_text_anywhere(kEmail).empty());
}

TEST_CASE("shop/redact leaves no rows for the shop except its tombstone", "[compliance][db]") {
  HandlerEnv env;
  env.deliver("orders/create", order_body(OrderSpec{}));
  env.deliver("orders/create", order_body(bystander()), kOtherShop);
  env.deliver("customers/data_request", data_request(1));
  env.drain();
  for (const char* shop : {kShop, kOtherShop}) {
    suppress(env, shop, AddressChannel::kEmail, "someone@example.com");
    JobSpec spec;
    spec.kind = "email.send_step";
    spec.payload = "{}";
    spec.shop_id = shop_id(env, shop);
    spec.run_at_ms = kStartMs + 3600000;
    REQUIRE(env.queue.enqueue(spec));
  }
  env.exec("UPDATE shops SET settings = '{\"offers\":true}', access_token_enc = 'enc'");
  int64_t one = shop_id(env, kShop);
  int64_t two = shop_id(env, kOtherShop);
  for (int64_t shop : {one, two}) {
    // The merchant's offers (one linking to another) and flows, as the admin API stores them.
    env.exec(
        "INSERT INTO offers (shop_id, kind, status, title, headline, product_id, quantity, "
        "discount_type, discount_percent_bp, discount_amount_minor, free_shipping, priority, "
        "catch_all, triggers, ab_test, exclusions, created_at_ms, updated_at_ms) VALUES "
        "(?, 'downsell', 'active', 't', 'h', 1, 1, 'none', 0, 0, 0, 1, 0, '{}', '{}', '{}', 0, 0)",
        {shop});
    int64_t downsell = env.i64("SELECT MAX(id) FROM offers WHERE shop_id = ?", {shop});
    env.exec(
        "INSERT INTO offers (shop_id, kind, status, title, headline, product_id, quantity, "
        "discount_type, discount_percent_bp, discount_amount_minor, free_shipping, priority, "
        "catch_all, after_decline_offer_id, triggers, ab_test, exclusions, created_at_ms, "
        "updated_at_ms) VALUES (?, 'upsell', 'active', 't', 'h', 2, 1, 'none', 0, 0, 0, 0, 0, ?, "
        "'{}', '{}', '{}', 0, 0)",
        {shop, downsell});
    env.exec(
        "INSERT INTO flows (shop_id, name, status, trigger_kind, trigger_filters, steps, "
        "exit_conditions, reentry_cooldown_hours, created_at_ms, updated_at_ms) VALUES "
        "(?, 'f', 'draft', 'order_paid', '[]', '[]', '[]', 0, 0, 0)",
        {shop});
  }

  seed_offer_activity(env, one, 42, "one");
  seed_offer_activity(env, two, 42, "two");

  int64_t id =
      env.deliver("shop/redact", R"({"shop_id":548380009,"shop_domain":"shop-one.myshopify.com"})");
  env.drain();
  REQUIRE(env.inbox_state(id) == "processed");

  auto count = [&](const std::string& table, int64_t shop) {
    return env.i64("SELECT COUNT(*) FROM " + table + " WHERE shop_id = ?", {shop});
  };
  const std::vector<std::string> offer_tables = {"order_payments", "offer_versions",
                                                 "offer_decisions", "offer_events",
                                                 "offer_responses", "charges"};
  for (const char* table :
       {"customers", "orders", "suppressions", "data_exports", "jobs", "offers", "flows"}) {
    INFO(table);
    CHECK(count(table, one) == 0);
  }
  for (const std::string& table : offer_tables) {
    INFO(table);
    CHECK(count(table, one) == 0);
    CHECK(count(table, two) == 1);  // the other shop keeps its own
  }
  CHECK(env.i64("SELECT COUNT(*) FROM charge_events") == 1);  // the other shop's
  // The other shop keeps everything it had.
  CHECK(count("customers", two) == 1);
  CHECK(count("orders", two) == 1);
  CHECK(count("suppressions", two) == 1);
  CHECK(count("jobs", two) == 1);
  CHECK(env.i64("SELECT COUNT(*) FROM order_lines") == 1);  // the other shop's line
  auto inbox =
      env.rows("SELECT id, body FROM webhook_inbox WHERE shop_domain = ?", {std::string(kShop)});
  REQUIRE(inbox.size() == 1);
  CHECK(inbox[0].i64(0) == id);
  CHECK(inbox[0].text(1) == R"({"redacted":true})");
  auto tomb = env.one(
      "SELECT state, access_token_enc, settings, platform_shop_id FROM shops "
      "WHERE id = ?",
      {one});
  REQUIRE(tomb);
  CHECK(tomb->text(0) == "redacted");
  CHECK(tomb->is_null(1));
  CHECK(tomb->text(2) == "{}");
  CHECK(tomb->i64(3) == 548380009);
  CHECK(env.text("SELECT state FROM shops WHERE id = ?", {two}) == "installed");
  CHECK(env.find_text_anywhere(kEmail).empty());
}

TEST_CASE("an orders/create for a redacted shop is ignored and re-creates nothing",
          "[compliance][db]") {
  HandlerEnv env;
  env.deliver("orders/create", order_body(OrderSpec{}));
  env.deliver("shop/redact", R"({"shop_id":548380009})");
  env.drain();
  int64_t late = env.deliver("orders/create", order_body(OrderSpec{}));
  int64_t late_request = env.deliver("customers/data_request", data_request(2));
  env.drain();
  CHECK(env.inbox_state(late) == "ignored");
  CHECK_THAT(env.inbox_note(late), Catch::Contains("redacted"));
  CHECK(env.inbox_state(late_request) == "ignored");
  CHECK(env.i64("SELECT COUNT(*) FROM orders") == 0);
  CHECK(env.i64("SELECT COUNT(*) FROM customers") == 0);
  CHECK(env.i64("SELECT COUNT(*) FROM data_exports") == 0);
  CHECK(env.i64("SELECT COUNT(*) FROM shops") == 1);
}

TEST_CASE("shop/redact for a shop we never stored leaves a tombstone", "[compliance][db]") {
  HandlerEnv env;
  int64_t id =
      env.deliver("shop/redact", R"({"shop_id":1,"shop_domain":"shop-one.myshopify.com"})");
  env.drain();
  CHECK(env.inbox_state(id) == "processed");
  CHECK(env.text("SELECT state FROM shops WHERE domain = ?", {std::string(kShop)}) == "redacted");
}

TEST_CASE("a privacy request that names no customer is dead-lettered at once", "[compliance][db]") {
  HandlerEnv env;
  int64_t id = env.deliver("customers/redact", R"({"shop_id":1,"orders_to_redact":[1]})");
  env.drain();
  CHECK(env.inbox_state(id) == "failed");
  CHECK(env.text("SELECT state FROM jobs") == "dead");
}


TEST_CASE("customers/redact erases the customer's consent and sequence history but keeps the "
          "suppression hash",
          "[compliance][db]") {
  HandlerEnv env;
  env.deliver("orders/create", order_body(OrderSpec{}));
  env.drain();
  int64_t shop = shop_id(env, kShop);
  auto cid = static_cast<int64_t>(kCustomer);
  env.exec(
      "INSERT INTO flows (id, shop_id, name, status, trigger_kind, trigger_filters, steps, "
      "exit_conditions, reentry_cooldown_hours, created_at_ms, updated_at_ms) "
      "VALUES (9, ?, 'f', 'live', 'order_paid', '[]', '[]', '[]', 0, ?, ?)",
      {shop, kStartMs, kStartMs});
  for (auto [customer, email, phone] :
       {std::tuple{cid, std::string(kEmail), std::string("+15555550123")},
        std::tuple{int64_t{42}, std::string("bystander@example.org"), std::string("+15555550999")}}) {
    for (auto [channel, address] : {std::pair{"email", email}, std::pair{"sms", phone}}) {
      env.exec("INSERT INTO consents (shop_id, channel, address, customer_id, state, source, "
               "wording, updated_at_ms) VALUES (?, ?, ?, ?, 'subscribed', 'admin', 'yes', ?)",
               {shop, std::string(channel), address, customer, kStartMs});
      env.exec("INSERT INTO consent_events (shop_id, channel, address, customer_id, state, "
               "source, at_ms) VALUES (?, ?, ?, ?, 'subscribed', 'admin', ?)",
               {shop, std::string(channel), address, customer, kStartMs});
    }
    env.exec("INSERT INTO enrolments (shop_id, flow_id, flow_version, enrolment_key, person_key, "
             "customer_id, email, phone, trigger_kind, trigger_data, state, entered_at_ms) "
             "VALUES (?, 9, 1, ?, ?, ?, ?, ?, 'order_paid', '{}', 'active', ?)",
             {shop, "order:" + std::to_string(customer), "customer:" + std::to_string(customer),
              customer, email, phone, kStartMs});
    int64_t enrolment = env.i64("SELECT MAX(id) FROM enrolments");
    env.exec("INSERT INTO step_runs (shop_id, enrolment_id, step_id, state, due_at_ms, "
             "created_at_ms, updated_at_ms) VALUES (?, ?, 's1', 'done', ?, ?, ?)",
             {shop, enrolment, kStartMs, kStartMs, kStartMs});
    int64_t run = env.i64("SELECT MAX(id) FROM step_runs");
    env.exec("INSERT INTO messages (shop_id, step_run_id, enrolment_id, flow_id, step_id, "
             "customer_id, person_key, channel, recipient, state, created_at_ms, updated_at_ms) "
             "VALUES (?, ?, ?, 9, 's1', ?, 'p', 'email', ?, 'sent', ?, ?)",
             {shop, run, enrolment, customer, email, kStartMs, kStartMs});
    env.exec("INSERT INTO message_events (shop_id, message_id, kind, at_ms) "
             "VALUES (?, (SELECT MAX(id) FROM messages), 'click', ?)",
             {shop, kStartMs});
    env.exec("INSERT INTO send_log (shop_id, enrolment_id, step_id, person_key, customer_id, "
             "outcome, reason, detail, at_ms) VALUES (?, ?, 's1', 'p', ?, 'sent', 'sent', ?, ?)",
             {shop, enrolment, customer, "to " + email, kStartMs});
    env.exec("INSERT INTO checkouts (shop_id, token, customer_id, email, phone, value_minor, "
             "currency, items, platform_updated_at_ms, updated_at_ms) "
             "VALUES (?, ?, ?, ?, ?, 100, 'USD', '[]', ?, ?)",
             {shop, "tok-" + std::to_string(customer), customer, email, phone, kStartMs, kStartMs});
    env.exec("INSERT INTO product_views (shop_id, customer_id, email, product_id, viewed_at_ms) "
             "VALUES (?, ?, ?, 1, ?)",
             {shop, customer, email, kStartMs});
  }
  suppress(env, kShop, AddressChannel::kEmail, kEmail);

  int64_t id = env.deliver("customers/redact", redact_request({820982911946154508ULL}));
  env.drain();

  REQUIRE(env.inbox_state(id) == "processed");
  CHECK(env.find_text_anywhere(kEmail).empty());
  CHECK(env.find_text_anywhere("5555550123").empty());
  for (const char* table : {"consents", "consent_events", "enrolments", "step_runs", "messages",
                            "message_events", "send_log", "checkouts", "product_views"}) {
    INFO(table);
    // The bystander's one row (two for the per-channel consent tables) is all that is left.
    int64_t left = env.i64(std::string("SELECT COUNT(*) FROM ") + table);
    CHECK(left == (std::string(table).starts_with("consent") ? 2 : 1));
  }
  CHECK(env.i64("SELECT COUNT(*) FROM suppressions") == 1);
}

}  // namespace
}  // namespace afterglow::webhooks::testing
