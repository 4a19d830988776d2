// Offer tokens: what /checkout/offers hands the page with each offer, and the only thing the
// page sends back to accept or decline it. The token carries everything the charge needs
// (shop, order, offer, variant, quantity, amount, currency), signed by us, so the browser can
// neither choose the item nor the price, and an accept never recomputes a price the shopper did
// not see.
//
// Format: a JWT (HS256, plugin/core/jwt.h) under a key derived from the app secret
// (HMAC-SHA256(secret, "afterglow offer token v1")), so an offer token is never valid as any
// other token we or the platform sign with the same secret, and vice versa. The claim "typ" is
// "offer". Tokens expire (exp, no leeway); single use is enforced by offer_responses.h, not here.
// Thread-safe; no state.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "plugin/core/clock.h"
#include "plugin/core/error.h"

namespace afterglow::checkout {

struct OfferTokenClaims {
  int64_t shop_id = 0;
  std::string shop_domain;
  std::string surface;    // "post_purchase" | "thank_you"
  std::string order_key;  // platform order id (decimal), or the post-purchase referenceId
  std::optional<int64_t> order_id;  // the platform order id when known
  std::optional<int64_t> customer_id;
  int64_t offer_id = 0;
  std::string arm;        // A/B arm, "" without a test
  int64_t product_id = 0;
  int64_t variant_id = 0;
  int64_t quantity = 1;
  int64_t amount_minor = 0;    // what the shopper pays for the line (after discount)
  int64_t discount_minor = 0;  // off the line
  std::string currency;        // ISO 4217, upper case
  std::string token_id;        // jti: random, identifies this impression
  int64_t issued_at_ms = 0;
  int64_t expires_at_ms = 0;
};

// Signs `claims` (token_id is generated when empty) with the key derived from `app_secret`.
std::string mint_offer_token(OfferTokenClaims claims, std::string_view app_secret);

// Verifies the token under any of `app_secrets` (current first, then the previous one during a
// rotation; empty strings are skipped) and returns its claims.
//   kUnauthenticated  malformed, wrong algorithm, bad signature, not an offer token
//   kForbidden        expired (now >= exp)
// `allow_expired` skips only the expiry check (to record that a shopper answered too late).
Result<OfferTokenClaims> verify_offer_token(std::string_view token,
                                            const std::vector<std::string>& app_secrets,
                                            const Clock& clock, bool allow_expired = false);

}  // namespace afterglow::checkout
