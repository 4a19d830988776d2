// Deliveries signed the way Shopify and Stripe sign them, for tests and load generators.
//   Shopify: X-Shopify-Hmac-Sha256 = base64(HMAC-SHA256(app secret, raw body))   (shopify.md §2.2)
//   Stripe:  Stripe-Signature = "t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>" (stripe.md §4)
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "tests/support/https_client.h"

namespace afterglow::testing {

struct ShopifyDelivery {
  std::string topic = "orders/create";
  std::string shop_domain = "example.myshopify.com";
  std::string webhook_id;              // X-Shopify-Webhook-Id; a random one when empty
  std::string api_version = "2025-07";
  std::string body;
};

// base64 HMAC-SHA256 of `body` under `secret`.
std::string shopify_hmac(std::string_view secret, std::string_view body);
// Every header Shopify sends with `delivery` (HMAC, topic, shop, webhook id, API version,
// event id, triggered-at, content type), signed with `secret`.
Headers shopify_headers(std::string_view secret, const ShopifyDelivery& delivery);

// The Stripe-Signature value for `body` at `unix_seconds`.
std::string stripe_signature(std::string_view secret, std::string_view body, int64_t unix_seconds);
// Content-Type and Stripe-Signature for `body`, signed at `unix_seconds`.
Headers stripe_headers(std::string_view secret, std::string_view body, int64_t unix_seconds);

// Seconds since the epoch, from the system clock (the server verifies against its own).
int64_t unix_now();

}  // namespace afterglow::testing
