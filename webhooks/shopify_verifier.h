// Shopify webhook authenticity: X-Shopify-Hmac-Sha256 is the standard base64 of
// HMAC-SHA256(app secret, raw request body). Compared in constant time against the current
// secret and, during a rotation, the previous one (Shopify keeps signing with the old secret for
// up to an hour). See ../shared/spec/shopify.md §2.2.
#pragma once

#include <string>
#include <string_view>

namespace afterglow::webhooks {

class ShopifyVerifier {
 public:
  ShopifyVerifier(std::string secret, std::string previous_secret = "")
      : secret_(std::move(secret)), previous_(std::move(previous_secret)) {}

  // True when `hmac_header` is a valid signature of `raw_body` under either secret.
  bool verify(std::string_view raw_body, std::string_view hmac_header) const;

  // The header value Shopify would send for `raw_body` under `secret` (tests, the run script).
  static std::string sign(std::string_view secret, std::string_view raw_body);

 private:
  std::string secret_;
  std::string previous_;
};

// True for "{name}.myshopify.com" with a name of letters, digits and hyphens.
bool valid_shop_domain(std::string_view domain);

}  // namespace afterglow::webhooks
