// The demo shop a newcomer sees after the README's run command (development only): an installed
// shop with a catalogue (plugin/app/demo_catalog.h), three linked offers (an upsell at 15% off,
// a cross-sell after it, a downsell after a decline), its Stripe account in the settings, and
// order #1001 paid by card with the `order_payments` row a one-click offer charges. In
// production that row comes from the storefront checkout's payment_intent.succeeded webhook
// (metadata shop + order_id, checkout/payment_events.h); here it is written directly.
//
// Idempotent: the shop, catalogue and order are upserted (the order's times move to now, so its
// offers are inside their window again), the offers are created only when the shop has none,
// the payment row only once.
#pragma once

#include <string>

#include "plugin/app/demo_catalog.h"
#include "plugin/core/clock.h"
#include "plugin/core/db.h"

namespace afterglow {
class ShopTokens;
}

namespace afterglow::app {

struct DemoSeedOptions {
  // Stores `platform_access_token` as the demo shop's access token (encrypted, as every shop
  // token, by shop_tokens.h) so appends reach the development platform. Both must be set for
  // the token to be written; otherwise the shop's tokens are left as they are.
  ShopTokens* tokens = nullptr;
  std::string platform_access_token;  // never logged or printed
};

// Returns a one-line summary of what exists afterwards.
Result<std::string> seed_demo(Db& db, const Clock& clock, const DemoSeedOptions& options = {});

}  // namespace afterglow::app
