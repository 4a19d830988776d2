// The flow triggers against a real database: webhooks enrol once however often they arrive,
// abandoned checkouts are swept after their quiet period and cancelled by the order that
// completes them, consents are recorded, views enrol once a day and end at checkout, and a
// declined offer enrols with the declined item.
#include "email/triggers.h"

#include <catch2/catch.hpp>

#include "email/consent.h"
#include "email/enrolment.h"
#include "email/trigger_events.h"
#include "tests/unit/email/trigger_env.h"

using namespace afterglow;
using namespace afterglow::email;
using namespace afterglow::email::trigger_testing;

namespace {

int64_t order_id() { return static_cast<int64_t>(kOrderId); }

std::string fulfillment_body(const std::string& status = "success") {
  return json{{"id", 255858046ULL},
              {"order_id", kOrderId},
              {"status", status},
              {"created_at", "2025-04-23T10:00:00-05:00"},
              {"email", "jon.buyer@example.com"},
              {"line_items", json::array()}}
      .dump();
}

}  // namespace

TEST_CASE("order paid enrols once even when delivered twice", "[triggers][db]") {
  TriggerEnv env;
  env.live_flow("order_paid");
  auto first = env.processed(handle_order_paid, order_body({}));
  CHECK_THAT(first.note, Catch::Contains("entered 1 of 1 flow(s)"));
  auto second = env.processed(handle_order_paid, order_body({}));
  CHECK_THAT(second.note, Catch::Contains("duplicate_event"));

  REQUIRE(env.enrolments("order_paid") == 1);
  auto e = env.row(
      "SELECT enrolment_key, trigger_ref, customer_id, email, phone, trigger_data FROM enrolments");
  REQUIRE(e);
  CHECK(e->text(0) == "order:820982911946154508");
  CHECK(e->text(1) == "order:820982911946154508");
  CHECK(e->i64(2) == static_cast<int64_t>(kCustomerId));
  CHECK(e->text(3) == "jon.buyer@example.com");
  CHECK(e->text(4) == "+15555550123");  // the customer's phone before the address's
  TriggerData d = trigger_data_from_json(e->text(5));
  CHECK(d.order_id == order_id());
  CHECK(d.value_minor == 20900);
  CHECK(d.currency == "USD");
  CHECK(d.country_code == "CA");
  CHECK(d.province_code == "ON");
  CHECK(d.product_ids == std::vector<int64_t>{kProduct});
  CHECK(d.customer_tags == std::vector<std::string>{"vip", "wholesale"});
  CHECK(d.first_name == "Jon");
}

TEST_CASE("the same order's orders/fulfilled and fulfillments/create enrol once",
          "[triggers][db]") {
  TriggerEnv env;
  env.live_flow("order_fulfilled");
  env.store_order();
  env.processed(handle_order_fulfilled, order_body({}));
  auto again = env.processed(handle_fulfillment_created, fulfillment_body());
  CHECK_THAT(again.note, Catch::Contains("duplicate_event"));
  CHECK(env.enrolments("order_fulfilled") == 1);
  CHECK(env.i64("SELECT COUNT(*) FROM enrolments WHERE enrolment_key = ?",
                {std::string("fulfil:820982911946154508")}) == 1);
}

TEST_CASE("fulfillments/create builds the event from the stored order", "[triggers][db]") {
  TriggerEnv env;
  env.live_flow("order_fulfilled");

  // The order is not stored yet: the delivery fails so it is retried, and nothing is written.
  auto early = env.deliver(handle_fulfillment_created, fulfillment_body());
  REQUIRE_FALSE(early);
  CHECK(early.error().code == ErrorCode::kUnavailable);
  CHECK(env.enrolments("order_fulfilled") == 0);

  env.store_order();
  auto cancelled = env.processed(handle_fulfillment_created, fulfillment_body("cancelled"));
  CHECK(cancelled.ignored);
  CHECK(env.enrolments("order_fulfilled") == 0);

  env.processed(handle_fulfillment_created, fulfillment_body());
  auto e = env.row("SELECT email, phone, trigger_data FROM enrolments");
  REQUIRE(e);
  CHECK(e->text(0) == "jon.buyer@example.com");
  CHECK(e->text(1) == "+15555550123");  // from the stored customer
  TriggerData d = trigger_data_from_json(e->text(2));
  CHECK(d.value_minor == 20900);
  CHECK(d.product_ids == std::vector<int64_t>{kProduct});
  CHECK(d.customer_tags == std::vector<std::string>{"vip"});
}

TEST_CASE("a checkout open 9 minutes is not swept and one open 11 minutes is", "[triggers][db]") {
  TriggerEnv env;
  env.live_flow("checkout_abandoned");
  env.processed(handle_checkout_update, checkout_body({}));

  env.clock.advance(9min);
  CHECK(env.sweep() == 0);
  CHECK(env.enrolments("checkout_abandoned") == 0);

  env.clock.advance(2min);
  CHECK(env.sweep() == 1);
  REQUIRE(env.enrolments("checkout_abandoned") == 1);
  auto e = env.row("SELECT enrolment_key, trigger_ref, email, trigger_data FROM enrolments");
  REQUIRE(e);
  CHECK(e->text(0) == "checkout:ct-4e1c");
  CHECK(e->text(1) == "ct-4e1c");
  CHECK(e->text(2) == "jon.buyer@example.com");
  TriggerData d = trigger_data_from_json(e->text(3));
  CHECK(d.checkout_token == "ct-4e1c");
  CHECK(d.cart_token == "cart-77aa");
  CHECK(d.value_minor == 7550);
  CHECK(d.recovery_url == "https://trigger-shop.myshopify.com/checkouts/ct-4e1c/recover?key=k");
  CHECK(d.product_ids == std::vector<int64_t>{kProduct});
  CHECK(d.country_code == "US");
  CHECK(env.i64("SELECT COUNT(*) FROM step_runs WHERE state = 'pending'") == 1);

  // Swept once: a later sweep finds nothing, and a replayed update does not reopen it.
  env.clock.advance(30min);
  CHECK(env.sweep() == 0);
  env.processed(handle_checkout_update, checkout_body({}));
  CHECK(env.sweep() == 0);
  CHECK(env.enrolments("checkout_abandoned") == 1);
}

TEST_CASE("an order with the checkout token cancels the enrolment and its pending step run",
          "[triggers][db]") {
  TriggerEnv env;
  env.live_flow("checkout_abandoned");
  env.processed(handle_checkout_update, checkout_body({}));
  env.clock.advance(11min);
  REQUIRE(env.sweep() == 1);
  REQUIRE(env.i64("SELECT COUNT(*) FROM step_runs WHERE state = 'pending'") == 1);

  auto paid = env.processed(handle_order_paid, order_body({}));
  CHECK_THAT(paid.note, Catch::Contains("1 abandoned-checkout enrolment(s) cancelled"));
  auto e = env.row("SELECT state, exit_reason FROM enrolments WHERE trigger_kind = ?",
                   {std::string("checkout_abandoned")});
  REQUIRE(e);
  CHECK(e->text(0) == "cancelled");
  CHECK(e->text(1) == "ordered");
  CHECK(env.i64("SELECT COUNT(*) FROM step_runs WHERE state = 'pending'") == 0);
  CHECK(env.i64("SELECT COUNT(*) FROM step_runs WHERE state = 'cancelled'") == 1);
  auto c = env.row("SELECT completed_at_ms, order_id FROM checkouts");
  REQUIRE(c);
  CHECK_FALSE(c->is_null(0));
  CHECK(c->i64(1) == order_id());
}

TEST_CASE("an order paid through a new checkout of the same cart cancels the old one",
          "[triggers][db]") {
  TriggerEnv env;
  env.live_flow("checkout_abandoned");
  CheckoutSpec old_checkout;
  old_checkout.token = "ct-old";
  env.processed(handle_checkout_update, checkout_body(old_checkout));
  env.clock.advance(11min);
  REQUIRE(env.sweep() == 1);

  OrderSpec order;
  order.checkout_token = "ct-new";  // same cart-77aa
  env.processed(handle_order_paid, order_body(order));
  CHECK(env.i64("SELECT COUNT(*) FROM enrolments WHERE state = 'cancelled'") == 1);
  CHECK(env.i64("SELECT COUNT(*) FROM checkouts WHERE completed_at_ms IS NOT NULL") == 1);
}

TEST_CASE("an order stored before its checkout webhook leaves nothing to sweep", "[triggers][db]") {
  TriggerEnv env;
  env.live_flow("checkout_abandoned");
  env.store_order();  // orders/create came first
  auto r = env.processed(handle_checkout_update, checkout_body({}));
  CHECK_THAT(r.note, Catch::Contains("completed"));
  env.clock.advance(1h);
  CHECK(env.sweep() == 0);
  CHECK(env.enrolments("checkout_abandoned") == 0);
}

TEST_CASE("a completed checkout is never swept and cancels its enrolment", "[triggers][db]") {
  TriggerEnv env;
  env.live_flow("checkout_abandoned");
  env.processed(handle_checkout_update, checkout_body({}));
  env.clock.advance(11min);
  REQUIRE(env.sweep() == 1);

  CheckoutSpec done;
  done.updated_at_ms = kStartMs + 12 * 60'000;
  done.completed_at = format_iso8601_utc(done.updated_at_ms);
  env.processed(handle_checkout_update, checkout_body(done));
  CHECK(env.i64("SELECT COUNT(*) FROM enrolments WHERE state = 'cancelled'") == 1);
}

TEST_CASE("stale checkouts and checkouts without contact are not enrolled", "[triggers][db]") {
  TriggerEnv env;
  env.live_flow("checkout_abandoned");
  CheckoutSpec stale;
  stale.token = "ct-stale";
  stale.updated_at_ms = kStartMs - 8 * 24 * 3600'000LL;  // the event arrived a week late
  env.processed(handle_checkout_update, checkout_body(stale));
  CheckoutSpec anonymous;
  anonymous.token = "ct-anon";
  anonymous.email = "";
  anonymous.customer_id = std::nullopt;
  env.processed(handle_checkout_update, checkout_body(anonymous));

  env.clock.advance(11min);
  CHECK(env.sweep() == 1);  // the stale one, marked without enrolling
  CHECK(env.enrolments("checkout_abandoned") == 0);
  CHECK(env.i64("SELECT COUNT(*) FROM checkouts WHERE token = 'ct-stale' AND abandoned_at_ms "
                "IS NOT NULL") == 1);
  CHECK(env.i64("SELECT COUNT(*) FROM checkouts WHERE token = 'ct-anon' AND abandoned_at_ms "
                "IS NULL") == 1);
  bool open = false;
  env.write([&](Tx& tx) -> Result<void> {
    open = AG_TRY(open_checkouts_remain(tx));
    return {};
  });
  CHECK(open);  // the anonymous one may still get an email
}

TEST_CASE("an older checkout update does not replace a newer one", "[triggers][db]") {
  TriggerEnv env;
  CheckoutSpec newer;
  newer.updated_at_ms = kStartMs + 60'000;
  newer.total_price = "99.00";
  env.processed(handle_checkout_update, checkout_body(newer));
  auto r = env.processed(handle_checkout_update, checkout_body({}));  // older, 75.50
  CHECK_THAT(r.note, Catch::Contains("older than the stored update"));
  CHECK(env.i64("SELECT value_minor FROM checkouts") == 9900);
}

TEST_CASE("consent from customers/update is recorded with the shop's SMS wording",
          "[triggers][db]") {
  TriggerEnv env;
  env.settings(
      [](ShopSettings& s) { s.sms_consent_wording = "Texts from Trigger Shop. STOP to end."; });
  json body = {{"id", kCustomerId},
               {"email", "Jon.Buyer@Example.com"},
               {"phone", "+1 (555) 555-0123"},
               {"updated_at", "2025-04-22T14:30:00-05:00"},
               {"email_marketing_consent",
                {{"state", "subscribed"},
                 {"opt_in_level", "confirmed_opt_in"},
                 {"consent_updated_at", "2025-04-20T10:00:00-05:00"}}},
               {"sms_marketing_consent",
                {{"state", "subscribed"},
                 {"opt_in_level", "single_opt_in"},
                 {"consent_updated_at", "2025-04-21T10:00:00-05:00"},
                 {"consent_collected_from", "OTHER"}}}};
  auto r = env.processed(handle_customer_update, body.dump());
  CHECK(r.note == "2 consent report(s), 2 changed");

  std::optional<ConsentRecord> email, sms;
  env.write([&](Tx& tx) -> Result<void> {
    email = AG_TRY(find_consent(tx, env.shop, AddressChannel::kEmail, "jon.buyer@example.com"));
    sms = AG_TRY(find_consent(tx, env.shop, AddressChannel::kSms, "+15555550123"));
    return {};
  });
  REQUIRE(email);
  CHECK(email->state == ConsentState::kSubscribed);
  CHECK(email->source == "shopify_customer");
  CHECK(email->opt_in_level == "confirmed_opt_in");
  CHECK(email->customer_id == static_cast<int64_t>(kCustomerId));
  REQUIRE(sms);
  CHECK(sms->state == ConsentState::kSubscribed);
  CHECK(sms->wording == "Texts from Trigger Shop. STOP to end.");

  // A later withdrawal replaces it; an older report does not undo the withdrawal.
  body["email_marketing_consent"] = {{"state", "unsubscribed"},
                                     {"consent_updated_at", "2025-04-22T10:00:00-05:00"}};
  body.erase("sms_marketing_consent");
  env.processed(handle_customer_update, body.dump());
  body["email_marketing_consent"] = {{"state", "subscribed"},
                                     {"consent_updated_at", "2025-04-19T10:00:00-05:00"}};
  env.processed(handle_customer_update, body.dump());
  env.write([&](Tx& tx) -> Result<void> {
    email = AG_TRY(find_consent(tx, env.shop, AddressChannel::kEmail, "jon.buyer@example.com"));
    return {};
  });
  REQUIRE(email);
  CHECK(email->state == ConsentState::kUnsubscribed);
}

TEST_CASE("SMS consent from a shop without consent wording is stored without wording",
          "[triggers][db]") {
  TriggerEnv env;
  json body = {{"id", kCustomerId},
               {"phone", "+15555550123"},
               {"sms_marketing_consent", {{"state", "subscribed"}}}};
  env.processed(handle_customer_update, body.dump());
  auto row = env.row("SELECT state, wording FROM consents WHERE channel = 'sms'");
  REQUIRE(row);
  CHECK(row->text(0) == "subscribed");
  CHECK(row->is_null(1));  // no express consent: no SMS will be sent on it
}

TEST_CASE("customers/update without consent fields is ignored with the reason", "[triggers][db]") {
  TriggerEnv env;
  auto r = env.processed(handle_customer_update,
                         json{{"id", kCustomerId}, {"email", "a@example.com"}}.dump());
  CHECK(r.ignored);
  CHECK(r.note == "no marketing consent in the payload");
  CHECK(env.i64("SELECT COUNT(*) FROM consent_events") == 0);
}

TEST_CASE("orders/cancelled cancels the order's enrolments", "[triggers][db]") {
  TriggerEnv env;
  env.live_flow("order_paid");
  env.processed(handle_order_paid, order_body({}));
  OrderSpec cancelled;
  cancelled.cancelled_at = "2025-04-22T15:00:00-05:00";
  auto r = env.processed(handle_order_cancelled, order_body(cancelled));
  CHECK_THAT(r.note, Catch::Contains("1 enrolment(s) cancelled"));
  CHECK(env.i64("SELECT COUNT(*) FROM enrolments WHERE state = 'cancelled'") == 1);
  CHECK(env.i64("SELECT COUNT(*) FROM step_runs WHERE state = 'pending'") == 0);

  // A paid delivery that comes after the cancellation enrols nobody.
  auto late = env.processed(handle_order_paid, order_body(cancelled));
  CHECK(late.ignored);
  CHECK(env.enrolments("order_paid") == 1);
}

TEST_CASE("a product view enrols once a day and a checkout ends the browse flow",
          "[triggers][db]") {
  TriggerEnv env;
  env.live_flow("product_viewed");
  env.store_order(9001);  // the customer row supplies the email a logged-in view lacks
  auto view = [&](std::optional<int64_t> variant = std::nullopt) {
    TriggerOutcome out;
    env.write([&](Tx& tx) -> Result<void> {
      out = AG_TRY(record_product_view(tx, env.shop, static_cast<int64_t>(kCustomerId), "",
                                       kProduct, variant, env.clock.now_ms()));
      return {};
    });
    return out;
  };
  CHECK_THAT(view(kVariant).note, Catch::Contains("entered 1 of 1"));
  CHECK(view().ignored);  // a reload
  env.clock.advance(2h);
  CHECK_THAT(view().note, Catch::Contains("duplicate_event"));  // same product, same day
  CHECK(env.i64("SELECT COUNT(*) FROM product_views") == 2);
  auto e = env.row("SELECT enrolment_key, trigger_ref, email FROM enrolments");
  REQUIRE(e);
  CHECK(e->text(0) == "view:632910392:2025-04-22:customer:115310627314723954");
  CHECK(e->text(1) == "browse:customer:115310627314723954");
  CHECK(e->text(2) == "jon.buyer@example.com");

  env.processed(handle_checkout_update, checkout_body({}));
  auto ended = env.row("SELECT state, exit_reason FROM enrolments");
  REQUIRE(ended);
  CHECK(ended->text(0) == "cancelled");
  CHECK(ended->text(1) == "started_checkout");
}

TEST_CASE("a declined offer enrols with the declined item", "[triggers][db]") {
  TriggerEnv env;
  env.live_flow("offer_declined");
  afterglow::testing::exec_sql(
      env.db(),
      "INSERT INTO offers (id, shop_id, kind, status, title, headline, product_id, variant_id, "
      "quantity, discount_type, discount_percent_bp, discount_amount_minor, free_shipping, "
      "priority, catch_all, triggers, ab_test, exclusions, created_at_ms, updated_at_ms) VALUES "
      "(77, ?, 'cross_sell', 'active', 'Case', 'Add a case', 4242, 42420, 1, 'none', 0, 0, 0, 1, "
      "0, '{}', '{}', '{}', ?, ?)",
      {env.shop, kStartMs, kStartMs});
  const std::string payload = json{
      {"shop_id", env.shop},
      {"order_id", kOrderId},
      {"offer_id", 77},
      {"customer_id",
       kCustomerId}}.dump();
  auto handle = [&]() {
    std::optional<Result<TriggerOutcome>> out;
    (void)env.db().write([&](Tx& tx) -> Result<void> {
      out = handle_offer_declined(tx, payload, env.clock.now_ms());
      if (!*out) return std::unexpected(out->error());  // roll back, as the worker would
      return {};
    });
    return *out;
  };
  auto early = handle();  // the order webhook has not arrived
  REQUIRE_FALSE(early);
  CHECK(early.error().code == ErrorCode::kUnavailable);

  env.store_order();
  REQUIRE(handle());
  REQUIRE(handle());  // a re-run job enrols nobody twice
  REQUIRE(env.enrolments("offer_declined") == 1);
  auto e = env.row("SELECT enrolment_key, trigger_ref, trigger_data FROM enrolments");
  REQUIRE(e);
  CHECK(e->text(0) == "decline:820982911946154508:77");
  CHECK(e->text(1) == "order:820982911946154508");
  TriggerData d = trigger_data_from_json(e->text(2));
  CHECK(d.offer_id == 77);
  CHECK(d.product_ids == std::vector<int64_t>{4242});
  CHECK(d.variant_ids == std::vector<int64_t>{42420});

  std::optional<Result<TriggerOutcome>> bad;
  (void)env.db().write([&](Tx& tx) -> Result<void> {
    bad = handle_offer_declined(tx, R"({"shop_id":"x"})", env.clock.now_ms());
    return {};
  });
  REQUIRE_FALSE(*bad);
  CHECK(bad->error().code == ErrorCode::kInvalidArgument);
}

TEST_CASE("events for an uninstalled shop are ignored", "[triggers][db]") {
  TriggerEnv env;
  env.live_flow("order_paid");
  afterglow::testing::exec_sql(env.db(), "UPDATE shops SET state = 'uninstalled' WHERE id = ?",
                               {env.shop});
  auto r = env.processed(handle_order_paid, order_body({}));
  CHECK(r.ignored);
  CHECK(r.note == "shop is uninstalled");
  CHECK(env.enrolments("order_paid") == 0);
}

TEST_CASE("a body the triggers can never use is refused as invalid", "[triggers][db]") {
  TriggerEnv env;
  for (auto [handler, body] : std::vector<std::pair<TriggerEnv::Handler, std::string>>{
           {handle_order_paid, "[1, 2]"},
           {handle_order_paid, R"({"id": 1.5, "currency": "USD", "total_price": "1.00"})"},
           {handle_checkout_update, R"({"token": "t", "updated_at": "yesterday"})"},
           {handle_fulfillment_created, R"({"id": 1})"}}) {
    auto r = env.deliver(handler, body);
    INFO(body);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == ErrorCode::kInvalidArgument);
  }
}
