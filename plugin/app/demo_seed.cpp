#include "plugin/app/demo_seed.h"

#include <nlohmann/json.hpp>

#include "checkout/offer_store.h"
#include "email/consent.h"
#include "email/flow_store.h"
#include "plugin/core/catalog.h"
#include "plugin/core/crypto.h"
#include "plugin/core/platform_scopes.h"
#include "plugin/core/shop_settings.h"
#include "plugin/core/shop_store.h"
#include "plugin/core/shop_tokens.h"
#include "webhooks/order_sync.h"

namespace afterglow::app {
namespace {

using checkout::Offer;
using checkout::OfferKind;

Offer demo_offer(OfferKind kind, std::string title, std::string headline, int64_t product_id,
                 int64_t variant_id, checkout::Discount discount, int64_t priority) {
  Offer o;
  o.kind = kind;
  o.title = std::move(title);
  o.headline = std::move(headline);
  o.product_id = product_id;
  o.variant_id = variant_id;
  o.discount = discount;
  o.priority = priority;
  o.triggers.product_ids = {kDemoOrderedProductId};  // whoever bought the tote
  return o;
}

// The funnel: the upsell first; after an accept the cross-sell, after a decline the downsell.
Result<int> seed_offers(Tx& tx, int64_t shop_id, int64_t now) {
  auto existing = AG_TRY(checkout::list_offers(tx, shop_id, 0, 1));
  if (!existing.empty()) return 0;  // the merchant's offers, seeded or edited: leave them
  using checkout::DiscountType;
  Offer downsell = AG_TRY(checkout::insert_offer(
      tx, shop_id,
      demo_offer(OfferKind::kDownsell, "Travel Pouch", "Not today? Take the pouch for 25% off",
                 7004, 70041, {DiscountType::kPercent, 2500, 0}, 30),
      now));
  Offer cross_sell = AG_TRY(checkout::insert_offer(
      tx, shop_id,
      demo_offer(OfferKind::kCrossSell, "Leather Care Kit", "Keep your tote like new: $3 off", 7003,
                 70031, {DiscountType::kFixedAmount, 0, 300}, 20),
      now));
  Offer upsell =
      demo_offer(OfferKind::kUpsell, "Merino Socks", "Add three pairs of merino socks for 15% off",
                 7002, 70021, {DiscountType::kPercent, 1500, 0}, 10);
  upsell.funnel.after_accept_offer_id = cross_sell.id;
  upsell.funnel.after_decline_offer_id = downsell.id;
  AG_CHECK(checkout::insert_offer(tx, shop_id, upsell, now));
  return 3;
}

// A live flow that writes a minute after an order is paid (the seed templates wait days), and
// the demo customer's email consent, so the run command shows a sequence end to end. Once.
Result<bool> seed_demo_flow(Tx& tx, int64_t shop_id, int64_t now) {
  auto existing = AG_TRY(tx.query_one("SELECT id FROM flows WHERE shop_id = ?", {shop_id}));
  if (existing) return false;
  using nlohmann::json;
  json wait{{"type", "delay"}, {"duration_minutes", 1}};
  json note{{"type", "send_email"},
            {"subject", "Thanks for your order {{order_name}}"},
            {"preview_text", "Picked to go with it"},
            {"body", "<p>Hi {{first_name|there}}, thanks for shopping with us. These go well "
                     "with your order:</p>{{recommendations}}"}};
  json definition{{"name", "Thank-you note (demo)"},
                  {"status", "live"},
                  {"trigger", "order_paid"},
                  {"reentry_cooldown_hours", 0},
                  {"steps", json::array({wait, note})},
                  {"exit_conditions", json::array({"ordered_since_start", "unsubscribed"})}};
  auto flow = email::flow_from_json(definition);
  if (!flow) return std::unexpected(flow.error());
  AG_CHECK(email::insert_flow(tx, shop_id, *flow, now));
  email::ConsentChange consent;
  consent.channel = AddressChannel::kEmail;
  consent.address = "jon@example.com";
  consent.state = email::ConsentState::kSubscribed;
  consent.source = "demo";
  consent.collected_at_ms = now;
  AG_CHECK(email::record_consent(tx, shop_id, consent, now));
  return true;
}

}  // namespace

Result<std::string> seed_demo(Db& db, const Clock& clock, const DemoSeedOptions& options) {
  const int64_t now = clock.now_ms();
  int offers_created = 0;
  bool token_stored = false;
  AG_CHECK(db.write([&](Tx& tx) -> Result<void> {
    ShopRecord shop = AG_TRY(ensure_shop(tx, kDemoShopDomain, now, kDemoPlatformShopId));
    if (options.tokens && !options.platform_access_token.empty()) {
      // Non-expiring (no expires_in): the development platform accepts it for as long as it runs.
      TokenGrant grant;
      grant.access_token = options.platform_access_token;
      grant.scope = std::string(kRequiredScopes);
      shop = AG_TRY(options.tokens->store_grant(tx, kDemoShopDomain, grant));
      token_stored = true;
    }

    AG_CHECK(set_shop_currency(tx, shop.id, kDemoCurrency));
    for (const CatalogProduct& p : demo_products(now)) {
      AG_CHECK(upsert_product(tx, shop.id, p, kDemoCurrency, now, /*force=*/true));
    }

    ShopSettings settings = AG_TRY(load_shop_settings(tx, shop.id));
    settings.stripe_account_id = kDemoStripeAccount;
    if (settings.sender_email.empty()) {
      settings.sender_name = "Afterglow Demo Shop";
      settings.sender_email = "hello@afterglow-demo.example";
      settings.postal_address = "1 Demo Street, Springfield, IL 62701";
    }
    AG_CHECK(save_shop_settings(tx, shop.id, settings));
    AG_CHECK(seed_demo_flow(tx, shop.id, now));
    offers_created = AG_TRY(seed_offers(tx, shop.id, now));

    // The order goes through the orders/create handler, so it is stored exactly as a real
    // delivery would store it.
    webhooks::InboxEvent event;
    event.source = "shopify";
    event.shop_domain = kDemoShopDomain;
    event.topic = "orders/create";
    event.delivery_id = "demo-seed";
    event.body = demo_order_json(now);
    event.received_at_ms = now;
    AG_CHECK(webhooks::sync_order(tx, event, clock));

    // README "Payments": in production, payment_intent.succeeded of the checkout writes this.
    AG_CHECK(tx.exec(
        "INSERT INTO order_payments (shop_id, order_id, stripe_account, customer, payment_method, "
        "payment_intent, amount_minor, currency, created_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (shop_id, payment_intent) DO NOTHING",
        {shop.id, kDemoOrderId, std::string(kDemoStripeAccount), std::string(kDemoStripeCustomer),
         std::string(kDemoPaymentMethod), std::string("pi_demo_checkout_1001"), int64_t{4800},
         std::string("usd"), now}));
    return {};
  }));
  std::string summary =
      std::string("demo shop ") + kDemoShopDomain + " is installed: 4 products, " +
      (offers_created ? "3 offers created" : "its offers kept") + ", order " + kDemoOrderName +
      " paid with " + kDemoPaymentMethod + " in " + kDemoStripeAccount;
  if (token_stored) summary += "; development platform token stored (encrypted)";
  return summary;
}

}  // namespace afterglow::app
