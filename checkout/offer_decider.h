// The offer engine's decision: given what was just bought and by whom, which of the shop's
// offers to show (at most two, best first), each priced from the cached catalogue, or the reason
// nothing is shown. Pure: no database, no network, no clock of its own (the caller passes now),
// so a decision costs microseconds and never waits on the platform or Stripe.
//
// Rules (spec/competitors.md §1, issue 6 §1):
//   - Triggers: AND across kinds, OR within a kind (offer_model.h). An offer with no triggers
//     must be a catch-all; catch-alls are considered only when no other offer matched.
//   - Entry offers: downsells are never shown first; they follow a decline (next_in_funnel).
//   - Exclusions: never a product or variant already in the order; never out of stock
//     (not available for sale, or product not active, or a positive known inventory below the
//     offer's quantity; an inventory of 0 or less on a variant that is still available means the
//     stock is not tracked or overselling is allowed, which the platform reports that way);
//     never when the customer bought one of exclusions.skip_if_purchased_product_ids; never
//     twice to one customer when exclusions.once_per_customer; never an item this customer
//     already accepted, declined or bought before (one fatigue budget with email and SMS).
//   - Price: the variant's price times quantity, less the discount (percent, or fixed per line),
//     never below the shop's margin floor when the variant's unit cost is known (the discount
//     is reduced to respect it), never below zero.
//   - A/B: an offer with arms shows one arm, picked by a deterministic hash of (shop, offer,
//     customer key), weighted; holdout_share of customers see nothing from that offer (they are
//     the control group, recorded as "holdout"). Sticky: the same customer always lands the same.
//     The holdout is drawn last, after every exclusion and the stock check, so the control group
//     holds only shoppers who would otherwise have seen the offer.
//   - Catch-alls: considered only when no other offer was shown; when one was, the catch-alls
//     passed over are rejected as catch_all_not_needed.
//   - Evaluation stops once kMaxOffersShown offers are chosen: later offers get no rejection.
//     Cheap checks (triggers, history) run before the catalogue is asked.
//   - The order may have at most kMaxAcceptedOffersPerOrder accepted offers.
// Thread-safe: functions keep no state.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "checkout/offer_model.h"

namespace afterglow::checkout {

// Stable reason codes, stored in offer_decisions and shown to the merchant.
namespace reason {
inline constexpr std::string_view kNoOffers = "no_active_offers";
inline constexpr std::string_view kNoMatchingRule = "no_matching_rule";
inline constexpr std::string_view kOutOfStock = "out_of_stock";
inline constexpr std::string_view kAlreadyInOrder = "already_in_order";
inline constexpr std::string_view kAlreadyPurchased = "already_purchased";  // skip-if-purchased
inline constexpr std::string_view kAlreadyPitched = "already_pitched";  // accepted/declined before
inline constexpr std::string_view kOncePerCustomer = "once_per_customer";
inline constexpr std::string_view kHoldout = "holdout";
inline constexpr std::string_view kUnknownProduct = "unknown_product";  // not in the catalogue
inline constexpr std::string_view kPriceUnknown = "price_unknown";      // shop currency unknown
inline constexpr std::string_view kMaxAccepted = "max_accepted";
inline constexpr std::string_view kDownsellOnly = "downsell_not_entry";
inline constexpr std::string_view kSameVariantShown =
    "same_variant_shown";  // the other offer has it
inline constexpr std::string_view kCatchAllNotNeeded = "catch_all_not_needed";  // another was shown
// Set by the caller before deciding (the whole order is ineligible):
inline constexpr std::string_view kIneligiblePayment = "ineligible_payment";  // no stored card
inline constexpr std::string_view kNoPaymentAccount = "no_payment_account";   // shop has no acct
inline constexpr std::string_view kCurrencyMismatch = "currency_mismatch";    // presentment≠shop
inline constexpr std::string_view kExpired = "expired";                       // offer window over
inline constexpr std::string_view kOrderUnknown = "order_not_synced";  // no orders/create yet
inline constexpr std::string_view kShopInactive = "shop_inactive";
}  // namespace reason

struct PurchasedLine {
  int64_t product_id = 0;
  int64_t variant_id = 0;
  int64_t quantity = 1;
  int64_t unit_price_minor = 0;  // shop currency
};

// What the decision looks at. The caller fills it from the order (thank-you page) or from the
// post-purchase input data, plus the customer's history.
struct PurchaseContext {
  int64_t shop_id = 0;
  std::string customer_key;  // A/B stickiness: "c:<customer id>", else "e:<email hash>", else
                             // "o:<order key>"
  std::optional<int64_t> customer_id;
  std::vector<PurchasedLine> lines;
  int64_t order_value_minor = 0;  // shop currency, the order's total
  std::string shop_currency;      // ISO 4217
  std::string presentment_currency;
  std::string country;  // shipping country, ISO alpha-2, "" when unknown
  std::vector<std::string> customer_tags;
  int64_t customer_order_count = 1;  // including this order
  // Product tags and collections of the ordered products (for tag and collection triggers).
  std::set<std::string> line_product_tags;  // lower-cased
  std::set<int64_t> line_collection_ids;
  // History of this customer (empty for a guest).
  std::set<int64_t> purchased_product_ids;  // in any earlier order
  std::set<int64_t> shown_offer_ids;        // offers ever shown (once_per_customer)
  std::set<int64_t> pitched_product_ids;    // accepted or declined before, any surface/channel
  // This order's funnel so far.
  int accepted_this_order = 0;
  std::set<int64_t> answered_offer_ids;  // accepted or declined on this order already
  // Set by the caller when the order as a whole cannot get offers (a reason:: code).
  std::string ineligible_reason;
};

// The catalogue as the decision needs it (filled from catalog.h by the caller).
struct CatalogItem {
  int64_t product_id = 0;
  int64_t variant_id = 0;
  std::string product_title, variant_title, image_url;
  std::string product_status = "active";
  bool available = true;
  std::optional<int64_t> inventory_quantity;
  std::optional<int64_t> price_minor;  // unit price, shop currency; nullopt: unknown
  std::optional<int64_t> compare_at_minor;
  std::optional<int64_t> unit_cost_minor;
};

class CatalogView {
 public:
  virtual ~CatalogView() = default;
  // The variant an offer names: `variant_id`, or when absent the product's first variant that
  // is available (by position). nullopt when the product or variant is unknown or deleted.
  virtual std::optional<CatalogItem> item(int64_t product_id,
                                          std::optional<int64_t> variant_id) const = 0;
};

struct ShownOffer {
  int64_t offer_id = 0;
  OfferKind kind = OfferKind::kUpsell;
  std::string arm;  // "" without A/B
  std::string headline, title;
  CatalogItem item;
  int64_t quantity = 1;
  int64_t unit_price_minor = 0;
  int64_t subtotal_minor = 0;  // unit price × quantity
  int64_t discount_minor = 0;  // off the subtotal, after the margin floor
  int64_t total_minor = 0;     // subtotal − discount (+ shipping when known: 0 if free_shipping)
  bool free_shipping = false;
  std::string currency;  // the shop currency
  Discount discount;     // as configured (the arm's when it overrides)
};

struct Rejection {
  int64_t offer_id = 0;
  std::string reason;  // a reason:: code
};

struct Decision {
  std::vector<ShownOffer> offers;  // 0..2, best first
  // When offers is empty: the reason: the context's ineligible_reason (then nothing is
  // rejected), "no_active_offers" when there are none, else the most telling rejection by this
  // precedence: holdout, out_of_stock, max_accepted, already_in_order, already_purchased,
  // already_pitched, once_per_customer, unknown_product, price_unknown, no_matching_rule,
  // downsell_not_entry.
  std::string reason;
  // Every offer considered and why it was not shown, except those whose triggers did not match:
  // a shop with thousands of offers has thousands of those, so they are kept apart as bare ids
  // (their reason is no_matching_rule) and a decision costs no allocation per offer.
  std::vector<Rejection> rejections;
  std::vector<int64_t> unmatched_offer_ids;  // in priority order
};

inline constexpr int kMaxOffersShown = 2;

// Decides for the order's entry page. `offers` are the shop's active offers in priority order
// (priority, then id). `margin_floor_percent` from the shop's settings.
Decision decide(const PurchaseContext& context, const std::vector<Offer>& offers,
                const CatalogView& catalog, double margin_floor_percent);

// The offer that follows `from_offer_id` in the funnel after an accept (`accepted`) or a
// decline, if it exists among `offers` and passes the same exclusions (not the triggers: the
// link is the trigger; a downsell is allowed here); nullopt otherwise. After an accept the order
// must still be below kMaxAcceptedOffersPerOrder. `context` already counts the answer just
// given. When nullopt and `why` is given, `why` receives the follow-up's id and the reason
// (offer_id 0 and "" when there is no follow-up link at all).
std::optional<ShownOffer> next_in_funnel(const PurchaseContext& context,
                                         const std::vector<Offer>& offers, int64_t from_offer_id,
                                         bool accepted, const CatalogView& catalog,
                                         double margin_floor_percent, Rejection* why = nullptr);

// What the offer costs the shopper (exposed for tests and for re-pricing at accept time):
// `unit_price_minor` × `quantity` less `discount` (percent in basis points of the subtotal,
// rounded half-up; or a fixed amount off the line, capped at the subtotal), reduced so that the
// margin stays at or above `margin_floor_percent` when `unit_cost_minor` is known.
struct OfferPrice {
  int64_t subtotal_minor = 0, discount_minor = 0, total_minor = 0;
};
OfferPrice price_offer(int64_t unit_price_minor, int64_t quantity, const Discount& discount,
                       std::optional<int64_t> unit_cost_minor, double margin_floor_percent);

// The arm for `customer_key` in `offer`'s test: "" when the offer has no arms; nullopt when the
// customer is in the holdout. Deterministic (hash of shop id, offer id and customer key).
std::optional<std::string> assign_arm(const Offer& offer, std::string_view customer_key);

}  // namespace afterglow::checkout
