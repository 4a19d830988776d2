// Reading the platform's webhook bodies into trigger events, consents and checkouts: exact
// 64-bit ids, money in minor units, the contact fallbacks, and the consent shapes old and new.
#include "email/trigger_events.h"

#include <catch2/catch.hpp>

#include "tests/unit/email/trigger_env.h"

using namespace afterglow;
using namespace afterglow::email;
using namespace afterglow::email::trigger_testing;

namespace {

OrderEvent parse_order(const std::string& body, FlowTrigger trigger = FlowTrigger::kOrderPaid,
                       std::string_view wording = "") {
  auto r = parse_order_event(body, trigger, wording);
  INFO((r ? "" : r.error().message));
  REQUIRE(r);
  return *r;
}

const ConsentChange* consent_of(const std::vector<ConsentChange>& changes, AddressChannel ch) {
  for (const ConsentChange& c : changes) {
    if (c.channel == ch) return &c;
  }
  return nullptr;
}

}  // namespace

TEST_CASE("an order body becomes an event with exact ids and minor units", "[triggers]") {
  OrderEvent o = parse_order(order_body({}));
  CHECK(o.order_id == 820982911946154508);
  const TriggerEvent& e = o.event;
  CHECK(e.trigger == FlowTrigger::kOrderPaid);
  CHECK(e.key == "order:820982911946154508");
  CHECK(e.ref == "order:820982911946154508");
  CHECK(e.customer_id == 115310627314723954);
  CHECK(e.email == "jon.buyer@example.com");
  CHECK(e.phone == "+15555550123");
  CHECK(e.occurred_at_ms == kStartMs);
  CHECK(e.data.order_name == "#1001");
  CHECK(e.data.value_minor == 20900);
  CHECK(e.data.currency == "USD");
  CHECK(e.data.checkout_token == "ct-4e1c");
  CHECK(e.data.cart_token == "cart-77aa");
  CHECK(e.data.country_code == "CA");
  CHECK(e.data.province_code == "ON");
  CHECK(e.data.first_name == "Jon");
  CHECK(e.data.last_name == "Doe");
  CHECK(e.data.product_ids == std::vector<int64_t>{kProduct});
  CHECK(e.data.variant_ids == std::vector<int64_t>{kVariant});
  CHECK(e.data.customer_tags == std::vector<std::string>{"vip", "wholesale"});
  CHECK(o.consents.empty());  // API 2025-01 webhook customers carry no consent
  CHECK_FALSE(o.cancelled);

  CHECK(parse_order(order_body({}), FlowTrigger::kOrderFulfilled).event.key ==
        "fulfil:820982911946154508");
}

TEST_CASE("the phone falls back from the customer to the addresses to the order", "[triggers]") {
  json j = json::parse(order_body({}));
  j["customer"].erase("phone");
  CHECK(parse_order(j.dump()).event.phone == "+16135550100");  // shipping address
  j["shipping_address"].erase("phone");
  j["billing_address"] = {{"phone", "+442071234567"}};
  CHECK(parse_order(j.dump()).event.phone == "+442071234567");
  j.erase("billing_address");
  j["phone"] = "+33142685300";
  CHECK(parse_order(j.dump()).event.phone == "+33142685300");
  j.erase("customer");
  j["email"] = "guest@example.com";
  OrderEvent guest = parse_order(j.dump());
  CHECK_FALSE(guest.event.customer_id);
  CHECK(guest.event.email == "guest@example.com");
  CHECK(guest.event.data.first_name == "Jonquil");  // the shipping address's name
}

TEST_CASE("order consents are read from both consent objects", "[triggers]") {
  OrderSpec spec;
  spec.customer_extra = {{"email_marketing_consent",
                          {{"state", "subscribed"},
                           {"opt_in_level", "single_opt_in"},
                           {"consent_updated_at", "2025-04-20T09:00:00-05:00"}}},
                         {"sms_marketing_consent",
                          {{"state", "subscribed"},
                           {"opt_in_level", "unknown"},
                           {"consent_updated_at", nullptr},
                           {"consent_collected_from", "OTHER"}}}};
  OrderEvent o = parse_order(order_body(spec), FlowTrigger::kOrderPaid, "Texts: STOP to end.");
  REQUIRE(o.consents.size() == 2);
  const ConsentChange* email = consent_of(o.consents, AddressChannel::kEmail);
  REQUIRE(email);
  CHECK(email->address == "jon.buyer@example.com");
  CHECK(email->state == ConsentState::kSubscribed);
  CHECK(email->source == "shopify_order");
  CHECK(email->opt_in_level == "single_opt_in");
  REQUIRE(email->collected_at_ms);
  CHECK(*email->collected_at_ms == 1'745'157'600'000);
  CHECK(email->wording.empty());
  const ConsentChange* sms = consent_of(o.consents, AddressChannel::kSms);
  REQUIRE(sms);
  CHECK(sms->address == "+15555550123");
  CHECK(sms->wording == "Texts: STOP to end.");
  CHECK_FALSE(sms->collected_at_ms);
  CHECK_THAT(sms->detail, Catch::Contains("consent_collected_from=OTHER"));

  // A withdrawal carries no wording: the disclosure is evidence of an agreement only.
  spec.customer_extra["sms_marketing_consent"]["state"] = "unsubscribed";
  o = parse_order(order_body(spec), FlowTrigger::kOrderPaid, "Texts: STOP to end.");
  sms = consent_of(o.consents, AddressChannel::kSms);
  REQUIRE(sms);
  CHECK(sms->state == ConsentState::kUnsubscribed);
  CHECK(sms->wording.empty());
}

TEST_CASE("the older accepts_marketing boolean is read when the consent object is absent",
          "[triggers]") {
  OrderSpec spec;
  spec.customer_extra = {{"accepts_marketing", false},
                         {"accepts_marketing_updated_at", "2025-04-01T00:00:00Z"},
                         {"marketing_opt_in_level", nullptr}};
  OrderEvent o = parse_order(order_body(spec));
  REQUIRE(o.consents.size() == 1);
  CHECK(o.consents[0].channel == AddressChannel::kEmail);
  CHECK(o.consents[0].state == ConsentState::kNotSubscribed);
  CHECK(o.consents[0].collected_at_ms == 1'743'465'600'000);

  // The object wins over the boolean when both are there.
  spec.customer_extra["email_marketing_consent"] = {{"state", "subscribed"}};
  o = parse_order(order_body(spec));
  REQUIRE(o.consents.size() == 1);
  CHECK(o.consents[0].state == ConsentState::kSubscribed);
}

TEST_CASE("order bodies that cannot be used are refused naming the field", "[triggers]") {
  auto error_of = [](const std::string& body) {
    auto r = parse_order_event(body, FlowTrigger::kOrderPaid, "");
    REQUIRE_FALSE(r);
    CHECK(r.error().code == ErrorCode::kInvalidArgument);
    return r.error().message;
  };
  json j = json::parse(order_body({}));
  CHECK(error_of("not json") == "body is not a JSON object");
  json k = j;
  k["id"] = 820982911946154508.0;
  CHECK(error_of(k.dump()) == "order id must be an integer");
  k = j;
  k["total_price"] = "20,9";
  CHECK_THAT(error_of(k.dump()), Catch::StartsWith("order 820982911946154508: total_price"));
  k = j;
  k.erase("currency");
  CHECK(error_of(k.dump()) == "order 820982911946154508: currency is missing");
  k = j;
  k["line_items"][0]["product_id"] = "632910392";
  CHECK(error_of(k.dump()) ==
        "order 820982911946154508: line_items[].product_id must be an integer");
  k = j;
  k["updated_at"] = "2025-04-22 14:30";
  CHECK_THAT(error_of(k.dump()), Catch::StartsWith("order 820982911946154508: updated_at"));
}

TEST_CASE("a cancelled order says so", "[triggers]") {
  OrderSpec spec;
  spec.cancelled_at = "2025-04-22T15:00:00-05:00";
  CHECK(parse_order(order_body(spec)).cancelled);
}

TEST_CASE("a fulfilment names its order", "[triggers]") {
  auto f = parse_fulfillment_event(
      R"({"id": 255858046, "order_id": 820982911946154508, "status": "success",)"
      R"( "created_at": "2025-04-23T10:00:00-05:00"})");
  REQUIRE(f);
  CHECK(f->fulfillment_id == 255858046);
  CHECK(f->order_id == 820982911946154508);
  CHECK(f->status == "success");
  CHECK(f->created_at_ms == 1'745'420'400'000);
  auto missing = parse_fulfillment_event(R"({"id": 1, "status": "success"})");
  REQUIRE_FALSE(missing);
  CHECK(missing.error().message == "fulfillment 1: order_id is missing");
}

TEST_CASE("customer bodies old and new give the same consents", "[triggers]") {
  // customers/update in an API version that still carries consent.
  auto full = parse_customer_event(json{{"id", kCustomerId},
                                        {"email", "jon@example.com"},
                                        {"phone", "+15555550123"},
                                        {"email_marketing_consent", {{"state", "not_subscribed"}}},
                                        {"sms_marketing_consent", {{"state", "SUBSCRIBED"}}}}
                                       .dump(),
                                   "wording");
  REQUIRE(full);
  CHECK(full->customer_id == static_cast<int64_t>(kCustomerId));
  REQUIRE(full->consents.size() == 2);
  CHECK(full->consents[0].state == ConsentState::kNotSubscribed);
  CHECK(full->consents[0].source == "shopify_customer");
  CHECK(full->consents[1].state == ConsentState::kSubscribed);
  CHECK(full->consents[1].wording == "wording");

  // customers_email_marketing_consent/update.
  auto email_topic = parse_customer_event(
      json{{"customer_id", kCustomerId},
           {"email_address", "jon@example.com"},
           {"email_marketing_consent",
            {{"state", "unsubscribed"}, {"consent_updated_at", "2025-04-22T10:00:00Z"}}}}
          .dump(),
      "");
  REQUIRE(email_topic);
  CHECK(email_topic->customer_id == static_cast<int64_t>(kCustomerId));
  REQUIRE(email_topic->consents.size() == 1);
  CHECK(email_topic->consents[0].address == "jon@example.com");
  CHECK(email_topic->consents[0].state == ConsentState::kUnsubscribed);

  // customers_marketing_consent/update (SMS).
  auto sms_topic = parse_customer_event(json{{"id", kCustomerId},
                                             {"phone", "+15555550123"},
                                             {"sms_marketing_consent", {{"state", "redacted"}}}}
                                            .dump(),
                                        "wording");
  REQUIRE(sms_topic);
  REQUIRE(sms_topic->consents.size() == 1);
  CHECK(sms_topic->consents[0].channel == AddressChannel::kSms);
  CHECK(sms_topic->consents[0].state == ConsentState::kUnsubscribed);
  CHECK(sms_topic->consents[0].wording.empty());

  // A state nobody defined says nothing.
  auto odd = parse_customer_event(
      json{{"id", 1}, {"email", "a@example.com"}, {"email_marketing_consent", {{"state", "maybe"}}}}
          .dump(),
      "");
  REQUIRE(odd);
  CHECK(odd->consents.empty());
}

TEST_CASE("a checkout body becomes a checkouts row and its ticked boxes", "[triggers]") {
  CheckoutSpec spec;
  spec.accepts_marketing = true;
  spec.accepts_sms = true;
  spec.sms_phone = "+15555550199";
  auto r = parse_checkout_event(checkout_body(spec), "Texts: STOP to end.");
  REQUIRE(r);
  const CheckoutRecord& c = r->checkout;
  CHECK(c.token == "ct-4e1c");
  CHECK(c.cart_token == "cart-77aa");
  CHECK(c.customer_id == static_cast<int64_t>(kCustomerId));
  CHECK(c.email == "jon.buyer@example.com");
  CHECK(c.phone == "+15555550199");  // no checkout phone: the SMS marketing phone
  CHECK(c.value_minor == 7550);
  CHECK(c.currency == "USD");
  CHECK(c.country_code == "US");
  CHECK(c.province_code == "NY");
  CHECK(c.updated_at_ms == kStartMs);
  CHECK_FALSE(c.completed_at_ms);
  CHECK(c.recovery_url == "https://trigger-shop.myshopify.com/checkouts/ct-4e1c/recover?key=k");
  REQUIRE(c.items.size() == 1);
  CHECK(c.items[0].product_id == kProduct);
  CHECK(c.items[0].variant_id == kVariant);
  CHECK(c.items[0].quantity == 2);
  CHECK(c.items[0].price_minor == 3775);

  REQUIRE(r->consents.size() == 2);
  const ConsentChange* email = consent_of(r->consents, AddressChannel::kEmail);
  REQUIRE(email);
  CHECK(email->state == ConsentState::kSubscribed);
  CHECK(email->source == "shopify_checkout");
  CHECK(email->collected_at_ms == kStartMs);
  const ConsentChange* sms = consent_of(r->consents, AddressChannel::kSms);
  REQUIRE(sms);
  CHECK(sms->address == "+15555550199");
  CHECK(sms->wording == "Texts: STOP to end.");

  // Unticked boxes record nothing.
  auto plain = parse_checkout_event(checkout_body({}), "x");
  REQUIRE(plain);
  CHECK(plain->consents.empty());

  CheckoutSpec done;
  done.completed_at = "2025-04-22T19:45:00Z";
  auto completed = parse_checkout_event(checkout_body(done), "");
  REQUIRE(completed);
  CHECK(completed->checkout.completed_at_ms == kStartMs + 15 * 60'000);
}

TEST_CASE("checkout items survive the stored form", "[triggers]") {
  std::vector<CheckoutItem> items{{632910392, 808950810, 2, 3775}, {std::nullopt, 5, 1, 100}};
  auto back = checkout_items_from_json(checkout_items_to_json(items));
  REQUIRE(back.size() == 2);
  CHECK(back[0].product_id == 632910392);
  CHECK(back[0].variant_id == 808950810);
  CHECK(back[0].quantity == 2);
  CHECK(back[0].price_minor == 3775);
  CHECK_FALSE(back[1].product_id);
  CHECK(back[1].variant_id == 5);
}

TEST_CASE("event keys name one event each", "[triggers]") {
  CHECK(order_event_key(FlowTrigger::kOrderPaid, 42) == "order:42");
  CHECK(order_event_key(FlowTrigger::kOrderFulfilled, 42) == "fulfil:42");
  CHECK(decline_event_key(42, 7) == "decline:42:7");
  CHECK(checkout_event_key("tok") == "checkout:tok");
  CHECK(browse_ref("customer:9") == "browse:customer:9");
  // The same UTC day, one key; the next day, another.
  CHECK(view_event_key(5, kStartMs, "customer:9") == "view:5:2025-04-22:customer:9");
  CHECK(view_event_key(5, kStartMs + 4 * 3600'000LL, "customer:9") ==
        "view:5:2025-04-22:customer:9");
  CHECK(view_event_key(5, kStartMs + 5 * 3600'000LL, "customer:9") ==
        "view:5:2025-04-23:customer:9");
  CHECK(split_tags(" vip,, wholesale ,") == std::vector<std::string>{"vip", "wholesale"});
}
