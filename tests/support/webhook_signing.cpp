#include "tests/support/webhook_signing.h"

#include <chrono>

#include "plugin/core/crypto.h"

namespace afterglow::testing {

std::string shopify_hmac(std::string_view secret, std::string_view body) {
  return crypto::base64_encode(crypto::hmac_sha256(secret, body));
}

Headers shopify_headers(std::string_view secret, const ShopifyDelivery& d) {
  std::string id = d.webhook_id.empty() ? crypto::random_hex(16) : d.webhook_id;
  return {{"Content-Type", "application/json"},
          {"X-Shopify-Hmac-Sha256", shopify_hmac(secret, d.body)},
          {"X-Shopify-Topic", d.topic},
          {"X-Shopify-Shop-Domain", d.shop_domain},
          {"X-Shopify-Webhook-Id", id},
          {"X-Shopify-API-Version", d.api_version},
          {"X-Shopify-Event-Id", "evt-" + id},
          {"X-Shopify-Triggered-At", "2025-04-22T19:30:00.000Z"}};
}

std::string stripe_signature(std::string_view secret, std::string_view body,
                             int64_t unix_seconds) {
  std::string t = std::to_string(unix_seconds);
  std::string payload = t + "." + std::string(body);
  return "t=" + t + ",v1=" + crypto::to_hex(crypto::hmac_sha256(secret, payload));
}

Headers stripe_headers(std::string_view secret, std::string_view body, int64_t unix_seconds) {
  return {{"Content-Type", "application/json; charset=utf-8"},
          {"Stripe-Signature", stripe_signature(secret, body, unix_seconds)}};
}

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace afterglow::testing
