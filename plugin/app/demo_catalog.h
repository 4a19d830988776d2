// The demo shop's world, shared by both sides of the development setup so they can never
// disagree: `afterglow seed-demo` writes it into our database (demo_seed.h), and the development
// platform (`afterglow-dev-platform`, tests/support/fake_platform_main.cpp) serves the same
// catalogue and order over the Admin API. Depends on nothing but plugin/core/catalog.h.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "plugin/core/catalog.h"

namespace afterglow::app {

inline constexpr const char* kDemoShopDomain = "afterglow-demo.myshopify.com";
inline constexpr int64_t kDemoPlatformShopId = 548380009;
inline constexpr const char* kDemoCurrency = "USD";

// Order #1001, paid by card on the storefront's Stripe checkout just now.
inline constexpr int64_t kDemoOrderId = 5550001001;
inline constexpr const char* kDemoOrderName = "#1001";
inline constexpr int64_t kDemoCustomerId = 115310627314723954;
inline constexpr int64_t kDemoOrderedProductId = 7001;  // the Everyday Tote
inline constexpr int64_t kDemoOrderedVariantId = 70011;

// What the checkout's Stripe PaymentIntent left behind (order_payments): the shop's own Stripe
// account, the shopper's customer and the saved card. The development Stripe server
// (tests/stripe_server, started by scripts/run.sh) is seeded with the same ids.
inline constexpr const char* kDemoStripeAccount = "acct_1AfterglowDemo";
inline constexpr const char* kDemoStripeCustomer = "cus_demo";
inline constexpr const char* kDemoPaymentMethod = "pm_card_visa";

// The catalogue (USD): the tote the shopper bought, and what the offers propose.
std::vector<CatalogProduct> demo_products(int64_t updated_at_ms);

// The order as the platform's orders/create webhook carries it (REST JSON), created and updated
// at `now_ms`.
std::string demo_order_json(int64_t now_ms);

}  // namespace afterglow::app
