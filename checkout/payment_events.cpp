#include "checkout/payment_events.h"

#include <charconv>
#include <nlohmann/json.hpp>

#include "checkout/charge_store.h"
#include "checkout/stripe_client.h"
#include "plugin/core/shop_settings.h"
#include "plugin/core/shop_store.h"

namespace afterglow::checkout {
namespace {

using nlohmann::json;

PaymentEventResult ignored(std::string why) { return {true, std::move(why)}; }
PaymentEventResult done(std::string what) { return {false, std::move(what)}; }

std::optional<int64_t> parse_id(const std::string& s) {
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v <= 0) return std::nullopt;
  return v;
}

std::string value_of(const std::map<std::string, std::string>& m, const char* key) {
  auto it = m.find(key);
  return it == m.end() ? std::string() : it->second;
}

// One of our upsell charges reached a final (or new) state at Stripe.
Result<PaymentEventResult> apply_to_charge(Tx& tx, const PaymentIntent& pi,
                                           const std::string& account, JobQueue& queue,
                                           int64_t now_ms) {
  auto charge = AG_TRY(load_charge_by_key(tx, value_of(pi.metadata, "afterglow_charge")));
  if (!charge) return ignored("no charge with the key in the payment's metadata");
  if (account != charge->stripe_account) {
    return ignored("the event's account is not the charge's Stripe account");
  }
  if (!charge->payment_intent_id.empty() && charge->payment_intent_id != pi.id) {
    return ignored("the charge belongs to another payment (" + charge->payment_intent_id + ")");
  }
  const std::string& from = charge->state;
  if (from == "failed" && charge->reason.starts_with(kNotChargedReason)) {
    if (!AG_TRY(refund_late_payment(tx, *charge, pi, queue, now_ms))) {
      return ignored("the charge was settled as not charged; the payment is " + pi.status);
    }
    return done("charge " + std::to_string(charge->id) +
                ": a payment arrived after it was settled as not charged; refunding " + pi.id);
  }
  if (from != "pending" && from != "unknown" && from != "processing" &&
      from != "requires_action") {
    return ignored("the charge is already " + from);
  }
  std::string to = AG_TRY(apply_intent(tx, *charge, from, pi, queue, now_ms));
  if (to.empty()) return ignored("the payment is " + pi.status + "; the charge stays " + from);
  return done("charge " + std::to_string(charge->id) + ": " + from + " -> " + to);
}

// The storefront's own checkout payment: remember its card for the order's one-click offers.
Result<PaymentEventResult> store_order_payment(Tx& tx, std::string_view type,
                                               const PaymentIntent& pi,
                                               const std::string& account, int64_t now_ms) {
  if (type != "payment_intent.succeeded" && type != "payment_intent.amount_capturable_updated") {
    return ignored("a checkout payment is stored only once it succeeded or is authorized");
  }
  std::string domain = value_of(pi.metadata, "shop");
  auto shop = AG_TRY(find_shop(tx, domain));
  if (!shop || shop->state != kShopInstalled) return ignored("shop " + domain + " is not installed");
  ShopSettings settings = AG_TRY(load_shop_settings(tx, shop->id));
  if (settings.stripe_account_id.empty() || account != settings.stripe_account_id) {
    return ignored("not from the shop's Stripe account (settings.stripe_account_id)");
  }
  if (pi.customer.empty() || pi.payment_method.empty()) {
    return ignored(
        "the payment has no customer or payment method: the checkout must create its "
        "PaymentIntent with customer and setup_future_usage");
  }
  std::optional<int64_t> order_id = parse_id(value_of(pi.metadata, "order_id"));
  std::string checkout_token = value_of(pi.metadata, "checkout_token");
  if (!order_id && checkout_token.empty()) {
    return ignored("the payment's metadata names neither order_id nor checkout_token");
  }
  auto nullable_id = [](std::optional<int64_t> v) -> DbValue {
    if (v) return *v;
    return std::monostate{};
  };
  auto nullable_text = [](const std::string& v) -> DbValue {
    if (v.empty()) return std::monostate{};
    return v;
  };
  AG_CHECK(tx.exec(
      "INSERT INTO order_payments (shop_id, order_id, checkout_token, stripe_account, customer, "
      "payment_method, payment_intent, amount_minor, currency, created_at_ms) "
      "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (shop_id, payment_intent) DO UPDATE SET "
      "order_id = COALESCE(excluded.order_id, order_payments.order_id), "
      "checkout_token = COALESCE(excluded.checkout_token, order_payments.checkout_token)",
      {shop->id, nullable_id(order_id), nullable_text(checkout_token), account, pi.customer,
       pi.payment_method, pi.id, pi.amount, pi.currency, now_ms}));
  return done("stored the payment method of " + pi.id + " for " +
              (order_id ? "order " + std::to_string(*order_id) : "checkout " + checkout_token));
}

}  // namespace

Result<PaymentEventResult> apply_payment_event(Tx& tx, std::string_view body, JobQueue& queue,
                                               const Clock& clock) {
  json event = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!event.is_object() || !event.contains("type") || !event["type"].is_string() ||
      !event.contains("data") || !event["data"].is_object() ||
      !event["data"].contains("object") || !event["data"]["object"].is_object()) {
    return fail(ErrorCode::kInvalidArgument, "not a Stripe event with a data.object");
  }
  const json& object = event["data"]["object"];
  if (object.value("object", "") != "payment_intent") {
    return fail(ErrorCode::kInvalidArgument, "the event's object is not a payment_intent");
  }
  auto pi = parse_payment_intent(object.dump());
  if (!pi) return fail(ErrorCode::kInvalidArgument, "the payment_intent has no id");
  std::string type = event["type"].get<std::string>();
  std::string account = event.value("account", "");
  if (!event.contains("account") || !event["account"].is_string()) account.clear();

  if (pi->metadata.contains("afterglow_charge")) {
    return apply_to_charge(tx, *pi, account, queue, clock.now_ms());
  }
  if (pi->metadata.contains("shop")) {
    return store_order_payment(tx, type, *pi, account, clock.now_ms());
  }
  return ignored("not an Afterglow payment (no afterglow_charge or shop in its metadata)");
}

}  // namespace afterglow::checkout
