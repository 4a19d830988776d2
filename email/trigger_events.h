// What the platform's webhooks say, in the terms the email module needs: trigger events
// (email/enrolment.h), consent changes (email/consent.h) and checkouts. Pure parsing of the
// REST-shaped JSON bodies (spec/shopify.md §2.7, §2.8), plus one reader that builds an order's
// event from our stored copy (orders, order_lines, customers) for payloads that name an order
// without carrying it (fulfillments/create, a declined thank-you offer).
//
// Ids are read as exact 64-bit integers (they exceed 2^53; a float would already have lost
// digits, so one is refused). Money becomes integer minor units of the currency
// (plugin/core/money.h). A body that can never be used (not JSON, no id, malformed money) fails
// with kInvalidArgument naming the field; informational fields of the wrong type read as absent.
//
// Event identities (TriggerEvent::key, unique per flow, so a replayed event enrols nobody twice)
// and what cancels them (TriggerEvent::ref):
//   order paid        key "order:ID"             ref "order:ID"
//   order fulfilled   key "fulfil:ID"            ref "order:ID"  (orders/fulfilled and every
//                                                                  fulfillments/create share it)
//   checkout abandoned key "checkout:TOKEN"      ref TOKEN
//   product viewed    key "view:PRODUCT:DAY:PERSON" ref "browse:PERSON"
//   offer declined    key "decline:ORDER:OFFER"  ref "order:ORDER"
//
// SMS consent: a subscription the platform reports is recorded with the shop's
// sms_consent_wording as the wording the person agreed to. When the shop has none, the wording
// stays empty, and a consent without wording is no express consent: no SMS is ever sent on it
// (email/send_policy.h), however "subscribed" its state.
//
// Functions keep no state and are thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "email/consent.h"
#include "email/enrolment.h"
#include "plugin/core/db.h"

namespace afterglow::email {

// consents.source of what the platform reports.
inline constexpr std::string_view kSourceShopifyOrder = "shopify_order";
inline constexpr std::string_view kSourceShopifyCustomer = "shopify_customer";
inline constexpr std::string_view kSourceShopifyCheckout = "shopify_checkout";

// The keys and refs above.
std::string order_event_key(FlowTrigger trigger, int64_t order_id);  // "order:" | "fulfil:"
std::string order_ref(int64_t order_id);
std::string decline_event_key(int64_t order_id, int64_t offer_id);
std::string checkout_event_key(std::string_view checkout_token);
// `person` is person_key(): "customer:ID" or "email:HASH".
std::string browse_ref(std::string_view person);
// One per product, person and UTC day: viewing the same product all day enrols once.
std::string view_event_key(int64_t product_id, int64_t viewed_at_ms, std::string_view person);

// An orders/paid, orders/fulfilled or orders/cancelled body.
struct OrderEvent {
  int64_t order_id = 0;
  // trigger as asked; key order_event_key(trigger, id); ref order_ref(id); email the order's
  // (else the customer's); phone the customer's, else the shipping or billing address's, else
  // the order's; occurred_at updated_at (else created_at, else 0). data: order id and name,
  // total_price in the shop currency, shipping (else billing) country and province, names
  // (customer, else address), distinct product and variant ids, customer tags (when the payload
  // still carries them: API 2025-01 dropped them from webhooks), checkout and cart tokens.
  TriggerEvent event;
  // customer.email_marketing_consent (else the older customer.accepts_marketing) and
  // customer.sms_marketing_consent, source shopify_order. Empty when the payload has neither
  // (webhook customers lost them in API 2025-01).
  std::vector<ConsentChange> consents;
  bool cancelled = false;  // cancelled_at is set
};
Result<OrderEvent> parse_order_event(std::string_view body, FlowTrigger trigger,
                                     std::string_view sms_consent_wording);

// A fulfillments/create body: the fulfilment names its order, it does not carry it.
struct FulfillmentEvent {
  int64_t fulfillment_id = 0;
  int64_t order_id = 0;
  std::string status;         // pending | open | success | cancelled | error | failure
  int64_t created_at_ms = 0;  // 0 when absent
};
Result<FulfillmentEvent> parse_fulfillment_event(std::string_view body);

// The event for `trigger` about a stored order (key order_event_key for order triggers; callers
// of other triggers set key and data themselves), filled from orders, order_lines and the stored
// customer (names, tags, phone). Only the country of the addresses is stored, so province_code
// stays empty. nullopt when the shop has no such order (yet).
Result<std::optional<TriggerEvent>> order_event_from_store(Tx& tx, int64_t shop_id,
                                                           int64_t order_id, FlowTrigger trigger);

// customers/create and customers/update (id, email, phone, email_marketing_consent,
// sms_marketing_consent, accepts_marketing), and the consent topics that replaced those fields in
// API 2025-01: customers_email_marketing_consent/update (customer_id, email_address,
// email_marketing_consent) and customers_marketing_consent/update (id, phone,
// sms_marketing_consent). Consents have source shopify_customer.
struct CustomerEvent {
  std::optional<int64_t> customer_id;
  std::string email;
  std::string phone;
  std::vector<ConsentChange> consents;
};
Result<CustomerEvent> parse_customer_event(std::string_view body,
                                           std::string_view sms_consent_wording);

struct CheckoutItem {
  std::optional<int64_t> product_id;
  std::optional<int64_t> variant_id;
  int64_t quantity = 0;
  int64_t price_minor = 0;  // unit price, in the checkout's currency
};

// One row of the checkouts table as a checkouts/create|update body describes it.
struct CheckoutRecord {
  std::string token;
  std::string cart_token;
  std::optional<int64_t> customer_id;
  std::string email;        // the checkout's, else the customer's
  std::string phone;        // the checkout's, else sms_marketing_phone, else the customer's
  int64_t value_minor = 0;  // total_price
  std::string currency;     // currency (the shop's), else presentment_currency
  std::vector<CheckoutItem> items;
  std::string country_code;  // shipping address, else billing
  std::string province_code;
  std::string recovery_url;  // abandoned_checkout_url
  int64_t updated_at_ms = 0;
  std::optional<int64_t> completed_at_ms;
};

struct CheckoutEvent {
  CheckoutRecord checkout;
  // buyer_accepts_marketing → email subscribed; buyer_accepts_sms_marketing with
  // sms_marketing_phone → SMS subscribed (with the shop's wording). An unticked box records
  // nothing: not ticking it at one checkout is no withdrawal of a consent given elsewhere.
  std::vector<ConsentChange> consents;
};
Result<CheckoutEvent> parse_checkout_event(std::string_view body,
                                           std::string_view sms_consent_wording);

// checkouts.items: [{"product_id", "variant_id", "quantity", "price_minor"}] (round-trips).
std::string checkout_items_to_json(const std::vector<CheckoutItem>& items);
std::vector<CheckoutItem> checkout_items_from_json(std::string_view json_text);

// Tags as the platform writes them ("vip, wholesale"): trimmed, empties dropped.
std::vector<std::string> split_tags(std::string_view tags);

}  // namespace afterglow::email
