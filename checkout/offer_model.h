// A post-purchase offer as the merchant configures it: what is offered (one product/variant, a
// quantity, a discount, free shipping), to whom (triggers, exclusions), in which order (priority,
// catch-all), what follows (funnel links), and how it is tested (A/B arms, holdout). The offer
// engine reads it; /api/admin/offers edits it. This header is the model's contract: the JSON
// form below is the API's, field for field.
//
// Triggers: AND across kinds, OR within one kind. An offer with no trigger at all is allowed only
// as a catch-all (shown when nothing else matched); a catch-all has no triggers.
//
// Validation names the field ("offers.discount.percent must be between 0 and 100"). Rules that
// need the shop's other offers (funnel links) are in check_funnel(); the store runs them.
// Functions keep no state and are thread-safe.
#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "plugin/core/error.h"

namespace afterglow {
struct FieldError;
}

namespace afterglow::checkout {

// The platform accepts at most this many post-purchase offers per order (spec competitors §1.0).
inline constexpr int kMaxAcceptedOffersPerOrder = 3;

enum class OfferKind { kUpsell, kCrossSell, kDownsell };
enum class OfferStatus { kActive, kPaused };
enum class DiscountType { kNone, kPercent, kFixedAmount };

struct Discount {
  DiscountType type = DiscountType::kNone;
  // kPercent: hundredths of a percent, 0..10000 (12.5 % is 1250), so money math stays integral.
  int64_t percent_bp = 0;
  // kFixedAmount: off the offer's price, in minor units of the shop currency (cents).
  int64_t amount_minor = 0;
};

// Who sees the offer. Every non-empty kind must match (AND); within a kind any value matches (OR).
// Money is in minor units of the shop currency; ranges are inclusive; a missing bound is open.
struct OfferTriggers {
  std::vector<int64_t> product_ids;     // the order contains one of these products
  std::vector<int64_t> variant_ids;     // … one of these variants
  std::vector<int64_t> collection_ids;  // … a product from one of these collections
  std::vector<std::string> tags;        // … a product with one of these tags (case-insensitive)
  std::optional<int64_t> min_quantity, max_quantity;  // total items in the order
  std::optional<int64_t> min_order_value_minor, max_order_value_minor;
  std::vector<std::string> customer_tags;  // the customer has one of these tags
  std::optional<int64_t> min_order_count,
      max_order_count;                  // the customer's orders, this one included
  std::vector<std::string> countries;   // shipping country, ISO 3166-1 alpha-2 ("US")
  std::vector<std::string> currencies;  // presentment currency, ISO 4217 ("USD")

  bool empty() const;
};

// What follows this offer on the post-purchase page. Links name offers of the same shop; after
// a decline the link must name a downsell.
struct OfferFunnel {
  std::optional<int64_t> after_accept_offer_id;
  std::optional<int64_t> after_decline_offer_id;
};

// One arm of an A/B test: shown to weight/sum(weights) of the shoppers who are not held out.
// An arm may override the headline and the discount; everything else is the offer's.
struct AbArm {
  std::string name;  // "a", "b", "deeper-discount"; unique within the offer
  int weight = 1;    // 1..1000
  std::optional<std::string> headline;
  std::optional<Discount> discount;
};

struct OfferExclusions {
  bool once_per_customer = false;                      // never shown twice to one customer
  std::vector<int64_t> skip_if_purchased_product_ids;  // the customer ever bought one of these
};

struct Offer {
  int64_t id = 0;       // 0 until stored
  int64_t shop_id = 0;  // set by the store, never by the client
  OfferKind kind = OfferKind::kUpsell;
  OfferStatus status = OfferStatus::kActive;
  std::string title;     // shown to the shopper (e.g. the product's name as the offer calls it)
  std::string headline;  // shown above the offer ("Add a second pair for 20% off")
  int64_t product_id = 0;
  std::optional<int64_t> variant_id;  // absent: the product's first available variant
  int64_t quantity = 1;               // 1..100
  Discount discount;
  bool free_shipping = false;
  OfferTriggers triggers;
  int64_t priority = 100;  // lower is tried first (0..10000); ties go to the lower id
  bool catch_all = false;
  OfferFunnel funnel;
  std::vector<AbArm> arms;   // empty, or 2..8 arms
  double holdout_share = 0;  // 0..1: this share of eligible shoppers sees nothing (control)
  OfferExclusions exclusions;
  int64_t created_at_ms = 0;
  int64_t updated_at_ms = 0;
};

std::string_view offer_kind_name(OfferKind kind);        // "upsell" | "cross_sell" | "downsell"
std::string_view offer_status_name(OfferStatus status);  // "active" | "paused"
std::optional<OfferKind> parse_offer_kind(std::string_view name);
std::optional<OfferStatus> parse_offer_status(std::string_view name);

// Reads an offer from its JSON form (the body of POST/PUT /api/admin/offers). Read-only members
// a client may echo back (id, created_at_ms, updated_at_ms) are ignored; unknown members are
// refused. On failure: kInvalidArgument naming the first bad field; `all_errors`, when given,
// receives every problem (the page shows each next to its field).
Result<Offer> offer_from_json(const nlohmann::json& value,
                              std::vector<FieldError>* all_errors = nullptr);
// The JSON form, ids and times included. Ids are JSON numbers.
nlohmann::json offer_to_json(const Offer& offer);

// The part of an offer the funnel rules look at.
struct FunnelNode {
  int64_t id = 0;
  OfferKind kind = OfferKind::kUpsell;
  OfferFunnel funnel;
};

// Checks `candidate` (id 0 for a new offer) against the shop's other offers `shop_offers` (the
// candidate's stored version, if any, is replaced by it):
//   - each link names an offer in `shop_offers` (never another shop's: such an id is reported
//     exactly like one that does not exist), and not the candidate itself;
//   - after_decline names a downsell; an offer that others reach after a decline stays a downsell;
//   - following links from any offer never comes back to it (no cycle), and no path lets a
//     shopper accept more than kMaxAcceptedOffersPerOrder offers.
// On failure: kInvalidArgument naming the candidate's field.
Result<void> check_funnel(const Offer& candidate, const std::vector<FunnelNode>& shop_offers);

}  // namespace afterglow::checkout
