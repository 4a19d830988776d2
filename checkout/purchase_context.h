// The offer decision's inputs (offer_decider.h), read from the database: what was bought and by
// whom (the stored order, or the post-purchase page's input data), the customer's history (other
// orders, offers shown, items pitched), this order's answers so far, and the catalogue facts
// the triggers look at (product tags and collections of the ordered products).
//
// Cost: a handful of indexed reads per call (order with customer and shop currency, lines,
// history, this customer's offer events, this order's offer events, charges, catalogue tags and
// collections), so the decision route stays within its budget. Calls run in the caller's
// transaction and keep no state; DbCatalogView memoises per instance and belongs to one request.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "checkout/offer_decider.h"
#include "plugin/core/catalog.h"
#include "plugin/core/db.h"

namespace afterglow::checkout {

// "c:<customer id>", else "e:<hex SHA-256 of the lower-cased email>", else "o:<order key>":
// the A/B stickiness key (never the email itself).
std::string customer_key(std::optional<int64_t> customer_id, std::string_view email,
                         std::string_view order_key);

// The context for a stored order (the thank-you page): orders/order_lines/customers as
// webhooks/order_sync stores them. nullopt when the order is not stored yet. The shop currency is
// shops.currency, else the order's currency (the platform's `currency` is the shop's).
// accepted_this_order is the larger of the order's charges that took money (succeeded or on the
// way to the order) and its accept events; answered_offer_ids are the accept/decline events
// recorded under the order id.
Result<std::optional<PurchaseContext>> load_order_context(Tx& tx, int64_t shop_id,
                                                          int64_t order_id);

// The context for the post-purchase page, from Shopify's inputData (spec/shopify.md §3.1):
// initialPurchase.referenceId (the order key), customerId, destinationCountryCode,
// totalPriceSet.shopMoney, lineItems[{product{id, variant{id}}, quantity, totalPriceSet}].
// Accepts the inputData object or its initialPurchase alone. The order is usually not stored yet,
// so customer_order_count is the stored orders plus one. kInvalidArgument naming the field when
// the input is malformed (no referenceId, an amount that is not a decimal, ids that are not
// integers).
Result<PurchaseContext> context_from_post_purchase(Tx& tx, int64_t shop_id,
                                                   const nlohmann::json& input_data);

// The catalogue over a transaction (plugin/core/catalog.h). Memoises each product it reads, so
// one decision asking twice costs one read. A database error reads as an unknown product (the
// offer is then rejected as unknown_product) and is kept in error() for the caller to report.
// Not thread-safe; valid while `tx` is.
class DbCatalogView final : public CatalogView {
 public:
  DbCatalogView(Tx& tx, int64_t shop_id) : tx_(tx), shop_id_(shop_id) {}

  std::optional<CatalogItem> item(int64_t product_id,
                                  std::optional<int64_t> variant_id) const override;

  // The first database error met, if any.
  const std::optional<Error>& error() const { return error_; }
  // Products read from the database so far (tests).
  int reads() const { return reads_; }

 private:
  const std::optional<CatalogProduct>* product(int64_t product_id) const;

  Tx& tx_;
  int64_t shop_id_;
  mutable std::map<int64_t, std::optional<CatalogProduct>> products_;
  mutable std::optional<Error> error_;
  mutable int reads_ = 0;
};

}  // namespace afterglow::checkout
