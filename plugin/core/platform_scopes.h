// The Admin API access scopes the app asks for at install, as one comma-separated list (the form
// the authorize URL's `scope` parameter and shopify.app.toml's `[access_scopes] scopes` take).
// `afterglow describe` prints it and the manifest test compares it with the TOML, so the two can
// never drift apart.
//
// Why each scope (spec/shopify.md §2.7, §5.1):
//   read_orders        orders/create|paid|updated webhooks and reading the order an offer follows
//   write_orders       orderMarkAsPaid, which records the Stripe charge on the edited order
//   write_order_edits  orderEditBegin / AddVariant / AddLineItemDiscount / Commit (the upsell line)
//   read_products      the products/variants cache (prices, compare-at, inventory, images, tags,
//                      collections) and the products/create|update|delete webhooks
//   read_customers     customer fields on orders (email, phone) for the cross-sell sequences,
//                      the customers/* webhooks (marketing consent) and the privacy webhooks
//   read_fulfillments  fulfillments/create, which starts the post-purchase flows at the first
//                      shipment (orders/fulfilled waits for the last; read_orders does not cover
//                      it: the topic needs read_fulfillments or read_marketplace_orders)
// read_orders also covers checkouts/create|update (abandoned-checkout flows) and
// orders/fulfilled|cancelled.
// write_orders implies read_orders on the platform; read_orders is still listed because the
// orders/* webhook subscriptions name it, and an explicit list reads better than an implication.
// Not requested: read_all_orders (orders older than 60 days are never needed), write_products.
#pragma once

#include <string_view>

namespace afterglow {

inline constexpr std::string_view kRequiredScopes =
    "read_orders,write_orders,write_order_edits,read_products,read_customers,read_fulfillments";

}  // namespace afterglow
