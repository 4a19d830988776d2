// Stripe webhook authenticity: `Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>...][,v0=...]`.
// The signed payload is "<t>.<raw body>"; v1 is lowercase hex HMAC-SHA256 keyed with the
// endpoint secret string as-is (whsec_ prefix included). Any v1 may match (secret rolls sign
// once per active secret); every other scheme is ignored so nobody can downgrade. The timestamp
// must be within the tolerance of the Clock. See ../shared/spec/stripe.md §4.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "plugin/core/clock.h"

namespace afterglow::webhooks {

enum class StripeSignatureCheck {
  kValid,
  kMissing,         // no header, or no t= / no v1=
  kMalformed,       // t= not a number
  kTooOld,          // |now - t| beyond the tolerance
  kMismatch,        // no v1 matched
};

class StripeVerifier {
 public:
  StripeVerifier(std::string endpoint_secret, const Clock& clock, int64_t tolerance_s = 300)
      : secret_(std::move(endpoint_secret)), clock_(clock), tolerance_s_(tolerance_s) {}

  StripeSignatureCheck verify(std::string_view raw_body, std::string_view header) const;

  // The header Stripe would send for `raw_body` at `timestamp` (tests and tools).
  static std::string sign(std::string_view secret, std::string_view raw_body, int64_t timestamp);

 private:
  std::string secret_;
  const Clock& clock_;
  int64_t tolerance_s_;
};

const char* describe(StripeSignatureCheck check);

}  // namespace afterglow::webhooks
