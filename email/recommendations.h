// What a message recommends: complements after a purchase, the upgraded version for a cart or a
// viewed product, and top sellers when nothing better is known.
//
// Sources, best first:
//   - the merchant's rules: the shop's active thank-you offers (checkout's `offers` table, read
//     as data) whose triggers name a basis product or one of its collections: cross-sell offers
//     give complements, upsell offers give upgrades;
//   - co-purchase counts: products bought in the same orders as a basis product (order_lines,
//     last 180 days), most frequent first;
//   - the rest of the catalogue: top sellers of the shop over the last 90 days first, then
//     products not sold in that time.
// Always excluded: the basis products themselves, whatever the caller excludes (the fatigue
// budget: accepted, declined, bought), products not active, deleted, or without an available
// variant in stock. Each source fills what the one before left; ties go to the lower product id,
// so the result is deterministic. Reads only; runs in the caller's transaction.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "plugin/core/db.h"

namespace afterglow::email {

enum class RecommendationMode {
  kComplement,  // after a purchase: what goes with it
  kUpgrade,     // a cart or a viewed product: the better version, then complements
};

struct RecommendedItem {
  int64_t product_id = 0;
  int64_t variant_id = 0;       // the first available variant
  std::string title;
  std::string url;              // https://{shop domain}/products/{handle}
  std::string image_url;
  int64_t price_minor = 0;
  std::string price_text;       // formatted with the shop currency ("$24.00")
  std::string source;           // rule | co_purchase | top_seller
};

struct RecommendationRequest {
  int64_t shop_id = 0;
  RecommendationMode mode = RecommendationMode::kComplement;
  std::vector<int64_t> basis_product_ids;    // bought, in the cart, viewed
  std::vector<int64_t> exclude_product_ids;  // never recommend these
  int count = 2;
  int64_t now_ms = 0;
};

Result<std::vector<RecommendedItem>> recommend(Tx& tx, const RecommendationRequest& request);

}  // namespace afterglow::email
