#include "webhooks/stripe_verifier.h"

#include <charconv>
#include <vector>

#include "plugin/core/crypto.h"

namespace afterglow::webhooks {

StripeSignatureCheck StripeVerifier::verify(std::string_view raw_body,
                                            std::string_view header) const {
  std::string_view t_text;
  std::vector<std::string_view> v1s;
  size_t pos = 0;
  while (pos <= header.size()) {
    size_t comma = header.find(',', pos);
    if (comma == std::string_view::npos) comma = header.size();
    std::string_view item = header.substr(pos, comma - pos);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    size_t eq = item.find('=');
    if (eq != std::string_view::npos) {
      std::string_view k = item.substr(0, eq), v = item.substr(eq + 1);
      if (k == "t") t_text = v;
      else if (k == "v1") v1s.push_back(v);
    }
    pos = comma + 1;
  }
  if (t_text.empty() || v1s.empty()) return StripeSignatureCheck::kMissing;
  int64_t t = 0;
  auto [p, ec] = std::from_chars(t_text.data(), t_text.data() + t_text.size(), t);
  if (ec != std::errc() || p != t_text.data() + t_text.size()) {
    return StripeSignatureCheck::kMalformed;
  }
  // Stripe's libraries reject only old timestamps; we also refuse ones far in the future, which
  // a correct sender never produces and a replayer could use to stretch the window. Compared as
  // a window around now, not as now - t: t comes from the sender and now - t can overflow.
  const int64_t now = clock_.now_s();
  if (t < now - tolerance_s_ || t > now + tolerance_s_) return StripeSignatureCheck::kTooOld;

  std::string signed_payload;
  signed_payload.reserve(t_text.size() + 1 + raw_body.size());
  signed_payload.append(t_text).append(".").append(raw_body);
  std::string expected = crypto::hmac_sha256(secret_, signed_payload);
  bool ok = false;
  for (std::string_view v1 : v1s) {
    auto given = crypto::from_hex(v1);
    if (given && crypto::constant_time_equal(*given, expected)) ok = true;
  }
  return ok ? StripeSignatureCheck::kValid : StripeSignatureCheck::kMismatch;
}

std::string StripeVerifier::sign(std::string_view secret, std::string_view raw_body,
                                 int64_t timestamp) {
  std::string ts = std::to_string(timestamp);
  std::string payload = ts + "." + std::string(raw_body);
  return "t=" + ts + ",v1=" + crypto::to_hex(crypto::hmac_sha256(secret, payload));
}

const char* describe(StripeSignatureCheck check) {
  switch (check) {
    case StripeSignatureCheck::kValid: return "valid";
    case StripeSignatureCheck::kMissing: return "Stripe-Signature header missing or incomplete";
    case StripeSignatureCheck::kMalformed: return "Stripe-Signature timestamp is malformed";
    case StripeSignatureCheck::kTooOld: return "Stripe-Signature timestamp outside tolerance";
    case StripeSignatureCheck::kMismatch: return "Stripe-Signature does not match";
  }
  return "invalid";
}

}  // namespace afterglow::webhooks
