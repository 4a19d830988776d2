#include "checkout/offer_decider.h"

#include <algorithm>
#include <array>
#include <cmath>

#include "plugin/core/crypto.h"

namespace afterglow::checkout {
namespace {

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

// ASCII case-insensitive equality without allocating (tags, countries, currencies).
bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

bool contains(const std::vector<int64_t>& sorted, int64_t id) {
  return std::binary_search(sorted.begin(), sorted.end(), id);
}

// What every offer's checks read, computed once per decision so that the per-offer work is a
// handful of comparisons and never an allocation.
struct Facts {
  std::vector<int64_t> order_products;  // sorted
  std::vector<int64_t> order_variants;  // sorted
  int64_t total_quantity = 0;
};

Facts facts_of(const PurchaseContext& c) {
  Facts f;
  f.order_products.reserve(c.lines.size());
  f.order_variants.reserve(c.lines.size());
  for (const PurchasedLine& l : c.lines) {
    f.order_products.push_back(l.product_id);
    f.order_variants.push_back(l.variant_id);
    f.total_quantity += l.quantity;
  }
  std::sort(f.order_products.begin(), f.order_products.end());
  std::sort(f.order_variants.begin(), f.order_variants.end());
  return f;
}

bool in_range(int64_t v, const std::optional<int64_t>& lo, const std::optional<int64_t>& hi) {
  return (!lo || v >= *lo) && (!hi || v <= *hi);
}

bool any_id(const std::vector<int64_t>& wanted, const std::vector<int64_t>& have_sorted) {
  for (int64_t id : wanted) {
    if (contains(have_sorted, id)) return true;
  }
  return false;
}

bool any_id(const std::vector<int64_t>& wanted, const std::set<int64_t>& have) {
  for (int64_t id : wanted) {
    if (have.contains(id)) return true;
  }
  return false;
}

template <class Haystack>
bool any_text(const std::vector<std::string>& wanted, const Haystack& have) {
  for (const std::string& w : wanted) {
    for (const std::string& h : have) {
      if (iequals(w, h)) return true;
    }
  }
  return false;
}

bool any_code(const std::vector<std::string>& wanted, std::string_view have) {
  if (have.empty()) return false;
  for (const std::string& w : wanted) {
    if (iequals(w, have)) return true;
  }
  return false;
}

// AND across kinds, OR within one. A kind left empty does not constrain. An offer without any
// trigger matches only as a catch-all (validation refuses it otherwise; a hand-edited row must
// not suddenly show to everyone).
bool triggers_match(const OfferTriggers& t, const PurchaseContext& c, const Facts& f) {
  if (!t.product_ids.empty() && !any_id(t.product_ids, f.order_products)) return false;
  if (!t.variant_ids.empty() && !any_id(t.variant_ids, f.order_variants)) return false;
  if (!t.collection_ids.empty() && !any_id(t.collection_ids, c.line_collection_ids)) return false;
  if (!t.tags.empty() && !any_text(t.tags, c.line_product_tags)) return false;
  if (!in_range(f.total_quantity, t.min_quantity, t.max_quantity)) return false;
  if (!in_range(c.order_value_minor, t.min_order_value_minor, t.max_order_value_minor)) {
    return false;
  }
  if (!t.customer_tags.empty() && !any_text(t.customer_tags, c.customer_tags)) return false;
  if (!in_range(c.customer_order_count, t.min_order_count, t.max_order_count)) return false;
  if (!t.countries.empty() && !any_code(t.countries, c.country)) return false;
  if (!t.currencies.empty() && !any_code(t.currencies, c.presentment_currency)) return false;
  return true;
}

// The exclusions that need only the context (no catalogue): "" when the offer passes.
std::string_view history_exclusion(const Offer& o, const PurchaseContext& c, const Facts& f,
                                   bool check_accept_cap) {
  if (check_accept_cap && c.accepted_this_order >= kMaxAcceptedOffersPerOrder) {
    return reason::kMaxAccepted;
  }
  if (c.answered_offer_ids.contains(o.id)) return reason::kAlreadyPitched;
  if (contains(f.order_products, o.product_id) ||
      (o.variant_id && contains(f.order_variants, *o.variant_id))) {
    return reason::kAlreadyInOrder;
  }
  // "Ever bought" includes this order: a product in the skip list that is being bought now is
  // bought.
  for (int64_t p : o.exclusions.skip_if_purchased_product_ids) {
    if (c.purchased_product_ids.contains(p) || contains(f.order_products, p)) {
      return reason::kAlreadyPurchased;
    }
  }
  // One fatigue budget with email and SMS: an item this customer bought, accepted or declined
  // before is not pitched again.
  if (c.purchased_product_ids.contains(o.product_id)) return reason::kAlreadyPurchased;
  if (c.pitched_product_ids.contains(o.product_id)) return reason::kAlreadyPitched;
  if (o.exclusions.once_per_customer && c.shown_offer_ids.contains(o.id)) {
    return reason::kOncePerCustomer;
  }
  return {};
}

bool out_of_stock(const CatalogItem& item, int64_t quantity) {
  if (item.product_status != "active" || !item.available) return true;
  // A tracked, non-overselling variant with stock is available with a positive count; a count
  // of zero or less on an available variant means untracked stock or overselling allowed.
  return item.inventory_quantity && *item.inventory_quantity > 0 &&
         *item.inventory_quantity < quantity;
}

// Catalogue, stock, holdout and price. Fills `out` and returns "" when the offer can be shown.
std::string_view finish(const Offer& o, const PurchaseContext& c, const Facts& f,
                        const CatalogView& catalog, double margin_floor_percent,
                        const std::vector<ShownOffer>& chosen, ShownOffer& out) {
  std::optional<CatalogItem> item = catalog.item(o.product_id, o.variant_id);
  if (!item) return reason::kUnknownProduct;
  if (out_of_stock(*item, o.quantity)) return reason::kOutOfStock;
  if (contains(f.order_variants, item->variant_id)) return reason::kAlreadyInOrder;
  for (const ShownOffer& s : chosen) {
    if (s.item.variant_id == item->variant_id) return reason::kSameVariantShown;
  }
  if (!item->price_minor || c.shop_currency.empty()) return reason::kPriceUnknown;

  std::optional<std::string> arm = assign_arm(o, c.customer_key);
  if (!arm) return reason::kHoldout;

  out.offer_id = o.id;
  out.kind = o.kind;
  out.arm = *arm;
  out.headline = o.headline;
  out.discount = o.discount;
  if (!arm->empty()) {
    for (const AbArm& a : o.arms) {
      if (a.name != *arm) continue;
      if (a.headline) out.headline = *a.headline;
      if (a.discount) out.discount = *a.discount;
      break;
    }
  }
  out.title = o.title.empty() ? item->product_title : o.title;
  out.quantity = o.quantity;
  out.unit_price_minor = *item->price_minor;
  OfferPrice p = price_offer(out.unit_price_minor, o.quantity, out.discount, item->unit_cost_minor,
                             margin_floor_percent);
  out.subtotal_minor = p.subtotal_minor;
  out.discount_minor = p.discount_minor;
  out.total_minor = p.total_minor;
  out.free_shipping = o.free_shipping;
  out.currency = c.shop_currency;
  out.item = std::move(*item);
  return {};
}

// Lower index = more telling (Decision::reason).
constexpr std::array<std::string_view, 11> kReasonPrecedence = {
    reason::kHoldout,         reason::kOutOfStock,       reason::kMaxAccepted,
    reason::kAlreadyInOrder,  reason::kAlreadyPurchased, reason::kAlreadyPitched,
    reason::kOncePerCustomer, reason::kUnknownProduct,   reason::kPriceUnknown,
    reason::kNoMatchingRule,  reason::kDownsellOnly};

size_t rank(std::string_view r) {
  for (size_t i = 0; i < kReasonPrecedence.size(); ++i) {
    if (kReasonPrecedence[i] == r) return i;
  }
  return kReasonPrecedence.size();
}

}  // namespace

OfferPrice price_offer(int64_t unit_price_minor, int64_t quantity, const Discount& discount,
                       std::optional<int64_t> unit_cost_minor, double margin_floor_percent) {
  OfferPrice p;
  p.subtotal_minor = unit_price_minor * quantity;
  int64_t off = 0;
  switch (discount.type) {
    case DiscountType::kPercent: {
      // Half-up to the minor unit, in integers: (subtotal × bp + 5000) / 10000.
      __int128 scaled = static_cast<__int128>(p.subtotal_minor) * discount.percent_bp + 5000;
      off = static_cast<int64_t>(scaled / 10000);
      break;
    }
    case DiscountType::kFixedAmount:
      off = discount.amount_minor;  // off the line, not per unit
      break;
    case DiscountType::kNone:
      break;
  }
  off = std::clamp<int64_t>(off, 0, std::max<int64_t>(p.subtotal_minor, 0));

  // Margin floor. The margin of a sale is (total − cost) / total, with cost = unit cost ×
  // quantity. Keeping it at or above f = floor/100 means
  //     total ≥ cost / (1 − f)
  // so the smallest allowed total is ceil(cost × 10000 / (10000 − floor_bp)), with the floor in
  // hundredths of a percent so the arithmetic stays exact (a 30 % floor on a cost of 700 is
  // exactly 1000, where 700 / 0.7 in floating point is 1000.0000000001). The discount shrinks
  // until the total reaches it; the price is never raised above the undiscounted subtotal, so
  // an offer whose full price already misses the floor is shown without discount. A floor of
  // 100 % or more cannot be met by any price: no discount then either.
  if (unit_cost_minor && *unit_cost_minor > 0 && margin_floor_percent > 0 && off > 0) {
    const int64_t floor_bp = std::llround(margin_floor_percent * 100.0);
    const __int128 cost = static_cast<__int128>(*unit_cost_minor) * quantity;
    int64_t max_off = 0;
    if (floor_bp < 10000) {
      const __int128 denom = 10000 - floor_bp;
      const __int128 min_total = (cost * 10000 + denom - 1) / denom;
      if (min_total < p.subtotal_minor)
        max_off = static_cast<int64_t>(p.subtotal_minor - min_total);
    }
    off = std::min(off, max_off);
  }
  p.discount_minor = off;
  p.total_minor = p.subtotal_minor - off;
  return p;
}

std::optional<std::string> assign_arm(const Offer& offer, std::string_view customer_key) {
  if (offer.arms.empty() && offer.holdout_share <= 0) return std::string();
  std::string input = "ab:" + std::to_string(offer.shop_id) + ":" + std::to_string(offer.id) + ":";
  input.append(customer_key);
  const std::string digest = crypto::sha256(input);
  uint64_t h = 0;
  for (int i = 0; i < 8; ++i) h = (h << 8) | static_cast<unsigned char>(digest[i]);
  // u = h / 2^64, uniform in [0, 1).
  const long double u = std::ldexp(static_cast<long double>(h), -64);
  const long double holdout = std::clamp<long double>(offer.holdout_share, 0, 1);
  if (u < holdout) return std::nullopt;
  if (offer.arms.empty()) return std::string();
  const long double x = holdout < 1 ? (u - holdout) / (1 - holdout) : 0;  // [0, 1)
  int64_t total = 0;
  for (const AbArm& a : offer.arms) total += std::max(a.weight, 0);
  if (total <= 0) return offer.arms.front().name;
  // The arm whose cumulative weight interval holds x × total.
  const long double target = x * static_cast<long double>(total);
  int64_t cumulative = 0;
  for (const AbArm& a : offer.arms) {
    cumulative += std::max(a.weight, 0);
    if (target < static_cast<long double>(cumulative)) return a.name;
  }
  return offer.arms.back().name;  // x rounding to 1
}

Decision decide(const PurchaseContext& context, const std::vector<Offer>& offers,
                const CatalogView& catalog, double margin_floor_percent) {
  Decision d;
  if (!context.ineligible_reason.empty()) {
    d.reason = context.ineligible_reason;
    return d;
  }
  if (offers.empty()) {
    d.reason = std::string(reason::kNoOffers);
    return d;
  }
  const Facts facts = facts_of(context);
  d.unmatched_offer_ids.reserve(offers.size());
  auto reject = [&](const Offer& o, std::string_view why) {
    d.rejections.push_back(Rejection{o.id, std::string(why)});
  };
  auto consider = [&](const Offer& o) {
    if (o.kind == OfferKind::kDownsell) return reject(o, reason::kDownsellOnly);
    bool matches = o.catch_all ? triggers_match(o.triggers, context, facts)
                               : !o.triggers.empty() && triggers_match(o.triggers, context, facts);
    if (!matches) return d.unmatched_offer_ids.push_back(o.id);
    if (auto why = history_exclusion(o, context, facts, true); !why.empty()) return reject(o, why);
    ShownOffer shown;
    if (auto why = finish(o, context, facts, catalog, margin_floor_percent, d.offers, shown);
        !why.empty()) {
      return reject(o, why);
    }
    d.offers.push_back(std::move(shown));
  };

  // Catch-alls passed over in priority order wait until the rule-based offers are done.
  std::vector<const Offer*> catch_alls;
  for (const Offer& o : offers) {
    if (d.offers.size() >= static_cast<size_t>(kMaxOffersShown)) break;
    if (o.catch_all) {
      catch_alls.push_back(&o);
      continue;
    }
    consider(o);
  }
  if (d.offers.empty()) {
    for (const Offer* o : catch_alls) {
      if (d.offers.size() >= static_cast<size_t>(kMaxOffersShown)) break;
      consider(*o);
    }
  } else {
    for (const Offer* o : catch_alls) reject(*o, reason::kCatchAllNotNeeded);
  }

  if (d.offers.empty()) {
    size_t best =
        d.unmatched_offer_ids.empty() ? kReasonPrecedence.size() : rank(reason::kNoMatchingRule);
    for (const Rejection& r : d.rejections) best = std::min(best, rank(r.reason));
    d.reason = std::string(best < kReasonPrecedence.size() ? kReasonPrecedence[best]
                                                           : reason::kNoMatchingRule);
  }
  return d;
}

std::optional<ShownOffer> next_in_funnel(const PurchaseContext& context,
                                         const std::vector<Offer>& offers, int64_t from_offer_id,
                                         bool accepted, const CatalogView& catalog,
                                         double margin_floor_percent, Rejection* why) {
  auto none = [&](int64_t offer_id, std::string_view r) -> std::optional<ShownOffer> {
    if (why) *why = Rejection{offer_id, std::string(r)};
    return std::nullopt;
  };
  auto find = [&](int64_t id) -> const Offer* {
    for (const Offer& o : offers) {
      if (o.id == id) return &o;
    }
    return nullptr;
  };
  const Offer* from = find(from_offer_id);
  if (!from) return none(0, "");
  const std::optional<int64_t>& link =
      accepted ? from->funnel.after_accept_offer_id : from->funnel.after_decline_offer_id;
  if (!link) return none(0, "");
  const Offer* next = find(*link);
  // Paused (not among the active offers) or deleted: the funnel ends here.
  if (!next) return none(*link, reason::kNoOffers);
  if (!context.ineligible_reason.empty()) return none(next->id, context.ineligible_reason);
  // The downsell the merchant linked to a decline may offer the declined product again (a
  // cheaper variant, a deeper discount): that one item is exempt from the fatigue rule here.
  PurchaseContext ctx = context;
  if (!accepted) ctx.pitched_product_ids.erase(from->product_id);
  const Facts facts = facts_of(ctx);
  // The accept cap applies after a decline too: an order that is full cannot take a downsell.
  if (auto r = history_exclusion(*next, ctx, facts, true); !r.empty()) {
    return none(next->id, r);
  }
  ShownOffer shown;
  if (auto r = finish(*next, ctx, facts, catalog, margin_floor_percent, {}, shown);
      !r.empty()) {
    return none(next->id, r);
  }
  return shown;
}

}  // namespace afterglow::checkout
