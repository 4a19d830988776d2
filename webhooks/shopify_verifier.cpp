#include "webhooks/shopify_verifier.h"

#include "plugin/core/crypto.h"

namespace afterglow::webhooks {

bool ShopifyVerifier::verify(std::string_view raw_body, std::string_view hmac_header) const {
  auto given = crypto::base64_decode(hmac_header);
  if (!given || given->size() != 32) return false;
  bool ok = crypto::constant_time_equal(crypto::hmac_sha256(secret_, raw_body), *given);
  // Always compute the second HMAC when a previous secret exists, so timing does not tell which
  // secret matched.
  if (!previous_.empty()) {
    ok = crypto::constant_time_equal(crypto::hmac_sha256(previous_, raw_body), *given) || ok;
  }
  return ok;
}

std::string ShopifyVerifier::sign(std::string_view secret, std::string_view raw_body) {
  return crypto::base64_encode(crypto::hmac_sha256(secret, raw_body));
}

bool valid_shop_domain(std::string_view domain) {
  constexpr std::string_view kSuffix = ".myshopify.com";
  if (domain.size() <= kSuffix.size() || domain.size() > 255) return false;
  if (domain.substr(domain.size() - kSuffix.size()) != kSuffix) return false;
  std::string_view name = domain.substr(0, domain.size() - kSuffix.size());
  if (name.front() == '-') return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace afterglow::webhooks
