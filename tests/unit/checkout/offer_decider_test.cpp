// The offer decision: triggers (AND across kinds, OR within one), exclusions, the two-offer
// limit, catch-alls as fallback, pricing with the margin floor, the reason shown to the
// merchant, funnel follow-ups and sticky weighted A/B arms.
#include "checkout/offer_decider.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <functional>
#include <map>
#include <string>
#include <vector>

using namespace afterglow::checkout;

namespace {

constexpr int64_t kShop = 1;

// Catalogue in memory: product id → its variants (first = position 1).
class FakeCatalog : public CatalogView {
 public:
  std::optional<CatalogItem> item(int64_t product_id,
                                  std::optional<int64_t> variant_id) const override {
    ++lookups;
    auto it = products.find(product_id);
    if (it == products.end()) return std::nullopt;
    for (const CatalogItem& v : it->second) {
      if (variant_id ? v.variant_id == *variant_id : v.available) return v;
    }
    if (!variant_id && !it->second.empty()) return it->second.front();
    return std::nullopt;
  }
  CatalogItem& add(int64_t product_id, int64_t variant_id, int64_t price_minor) {
    CatalogItem i;
    i.product_id = product_id;
    i.variant_id = variant_id;
    i.product_title = "Product " + std::to_string(product_id);
    i.variant_title = "Variant " + std::to_string(variant_id);
    i.price_minor = price_minor;
    auto& list = products[product_id];
    list.push_back(i);
    return list.back();
  }
  std::map<int64_t, std::vector<CatalogItem>> products;
  mutable int lookups = 0;
};

// Bought product 100 (variant 1000) × 2 for 30.00 USD, shipped to the US, by customer 7 (tag
// "VIP", third order); the product is tagged "summer" and in collection 55.
PurchaseContext base_context() {
  PurchaseContext c;
  c.shop_id = kShop;
  c.customer_id = 7;
  c.customer_key = "c:7";
  c.lines.push_back(PurchasedLine{100, 1000, 2, 1500});
  c.order_value_minor = 3000;
  c.shop_currency = "USD";
  c.presentment_currency = "USD";
  c.country = "US";
  c.customer_tags = {"VIP"};
  c.customer_order_count = 3;
  c.line_product_tags = {"summer"};
  c.line_collection_ids = {55};
  return c;
}

// An upsell of product 200 triggered by product 100.
Offer base_offer(int64_t id = 1, int64_t product_id = 200) {
  Offer o;
  o.id = id;
  o.shop_id = kShop;
  o.title = "Offer " + std::to_string(id);
  o.headline = "Add this";
  o.product_id = product_id;
  o.triggers.product_ids = {100};
  return o;
}

FakeCatalog base_catalog() {
  FakeCatalog cat;
  cat.add(200, 2000, 1000);
  cat.add(200, 2001, 1200);
  cat.add(201, 2010, 500);
  cat.add(202, 2020, 700);
  cat.add(203, 2030, 900);
  cat.add(100, 1000, 1500);
  return cat;
}

std::string rejection_of(const Decision& d, int64_t offer_id) {
  for (const Rejection& r : d.rejections) {
    if (r.offer_id == offer_id) return r.reason;
  }
  for (int64_t id : d.unmatched_offer_ids) {
    if (id == offer_id) return std::string(reason::kNoMatchingRule);
  }
  return "";
}

size_t considered(const Decision& d) { return d.rejections.size() + d.unmatched_offer_ids.size(); }

std::vector<int64_t> shown_ids(const Decision& d) {
  std::vector<int64_t> out;
  for (const ShownOffer& s : d.offers) out.push_back(s.offer_id);
  return out;
}

}  // namespace

TEST_CASE("each trigger kind matches and fails to match as configured", "[decider]") {
  struct Case {
    const char* name;
    std::function<void(OfferTriggers&)> set;
    bool match;
  };
  const std::vector<Case> cases = {
      {"product in order", [](auto& t) { t.product_ids = {100}; }, true},
      {"product not in order", [](auto& t) { t.product_ids = {999}; }, false},
      {"any of several products",
       [](auto& t) {
         t.product_ids = {999, 100};
       },
       true},
      {"variant in order", [](auto& t) { t.variant_ids = {1000}; }, true},
      {"variant not in order", [](auto& t) { t.variant_ids = {1001}; }, false},
      {"collection of a line", [](auto& t) { t.collection_ids = {55}; }, true},
      {"other collection", [](auto& t) { t.collection_ids = {56}; }, false},
      {"tag in another case", [](auto& t) { t.tags = {"SUMMER"}; }, true},
      {"tag absent", [](auto& t) { t.tags = {"winter"}; }, false},
      {"quantity within range", [](auto& t) { t.min_quantity = 2, t.max_quantity = 2; }, true},
      {"quantity below minimum", [](auto& t) { t.min_quantity = 3; }, false},
      {"quantity above maximum", [](auto& t) { t.max_quantity = 1; }, false},
      {"order value at both bounds",
       [](auto& t) { t.min_order_value_minor = 3000, t.max_order_value_minor = 3000; }, true},
      {"order value below minimum", [](auto& t) { t.min_order_value_minor = 3001; }, false},
      {"order value above maximum", [](auto& t) { t.max_order_value_minor = 2999; }, false},
      {"customer tag in another case", [](auto& t) { t.customer_tags = {"vip"}; }, true},
      {"customer tag absent", [](auto& t) { t.customer_tags = {"wholesale"}; }, false},
      {"order count within range", [](auto& t) { t.min_order_count = 3; }, true},
      {"order count above maximum", [](auto& t) { t.max_order_count = 2; }, false},
      {"shipping country", [](auto& t) { t.countries = {"US"}; }, true},
      {"other shipping country", [](auto& t) { t.countries = {"CA"}; }, false},
      {"presentment currency", [](auto& t) { t.currencies = {"USD"}; }, true},
      {"other presentment currency", [](auto& t) { t.currencies = {"EUR"}; }, false},
      {"AND across kinds: both hold",
       [](auto& t) {
         t.product_ids = {100}, t.countries = {"CA", "US"};
       },
       true},
      {"AND across kinds: one fails", [](auto& t) { t.product_ids = {100}, t.countries = {"CA"}; },
       false},
  };
  FakeCatalog cat = base_catalog();
  PurchaseContext ctx = base_context();
  ctx.presentment_currency = "usd";  // compared upper-case
  for (const Case& c : cases) {
    INFO(c.name);
    Offer o = base_offer();
    o.triggers = {};
    c.set(o.triggers);
    Decision d = decide(ctx, {o}, cat, 0);
    if (c.match) {
      CHECK(shown_ids(d) == std::vector<int64_t>{1});
      CHECK(considered(d) == 0);
    } else {
      CHECK(d.offers.empty());
      CHECK(d.unmatched_offer_ids == std::vector<int64_t>{1});
      CHECK(d.reason == reason::kNoMatchingRule);
    }
  }
}

TEST_CASE("each exclusion rejects the offer with its reason", "[decider]") {
  struct Case {
    const char* name;
    std::function<void(PurchaseContext&, Offer&, FakeCatalog&)> set;
    std::string_view expected;  // "" = shown
  };
  const std::vector<Case> cases = {
      {"nothing excluded", [](auto&, auto&, auto&) {}, ""},
      {"product already in the order", [](auto&, auto& o, auto&) { o.product_id = 100; },
       reason::kAlreadyInOrder},
      {"variant not available for sale",
       [](auto&, auto& o, auto& cat) {
         o.variant_id = 2000;
         cat.products[200][0].available = false;
       },
       reason::kOutOfStock},
      {"product not active",
       [](auto&, auto&, auto& cat) {
         for (auto& v : cat.products[200]) v.product_status = "draft";
       },
       reason::kOutOfStock},
      {"inventory below the offer's quantity",
       [](auto&, auto& o, auto& cat) {
         o.variant_id = 2000;
         o.quantity = 2;
         cat.products[200][0].inventory_quantity = 1;
       },
       reason::kOutOfStock},
      {"untracked stock (zero but available) is in stock",
       [](auto&, auto& o, auto& cat) {
         o.variant_id = 2000;
         cat.products[200][0].inventory_quantity = 0;
       },
       ""},
      {"skip-if-purchased product bought before",
       [](auto& c, auto& o, auto&) {
         o.exclusions.skip_if_purchased_product_ids = {300};
         c.purchased_product_ids = {300};
       },
       reason::kAlreadyPurchased},
      {"skip-if-purchased product bought now",
       [](auto&, auto& o, auto&) { o.exclusions.skip_if_purchased_product_ids = {100}; },
       reason::kAlreadyPurchased},
      {"offer product bought before",
       [](auto& c, auto&, auto&) { c.purchased_product_ids = {200}; }, reason::kAlreadyPurchased},
      {"once per customer and shown before",
       [](auto& c, auto& o, auto&) {
         o.exclusions.once_per_customer = true;
         c.shown_offer_ids = {1};
       },
       reason::kOncePerCustomer},
      {"shown before without once-per-customer",
       [](auto& c, auto&, auto&) { c.shown_offer_ids = {1}; }, ""},
      {"product accepted or declined before",
       [](auto& c, auto&, auto&) { c.pitched_product_ids = {200}; }, reason::kAlreadyPitched},
      {"offer answered on this order already",
       [](auto& c, auto&, auto&) { c.answered_offer_ids = {1}; }, reason::kAlreadyPitched},
      {"order has the maximum of accepted offers",
       [](auto& c, auto&, auto&) { c.accepted_this_order = kMaxAcceptedOffersPerOrder; },
       reason::kMaxAccepted},
      {"downsell is not an entry offer",
       [](auto&, auto& o, auto&) { o.kind = OfferKind::kDownsell; }, reason::kDownsellOnly},
      {"product not in the catalogue", [](auto&, auto& o, auto&) { o.product_id = 999; },
       reason::kUnknownProduct},
      {"variant price unknown",
       [](auto&, auto&, auto& cat) { cat.products[200][0].price_minor.reset(); },
       reason::kPriceUnknown},
      {"shop currency unknown", [](auto& c, auto&, auto&) { c.shop_currency.clear(); },
       reason::kPriceUnknown},
      {"every shopper held out", [](auto&, auto& o, auto&) { o.holdout_share = 1.0; },
       reason::kHoldout},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    PurchaseContext ctx = base_context();
    Offer o = base_offer();
    FakeCatalog cat = base_catalog();
    c.set(ctx, o, cat);
    Decision d = decide(ctx, {o}, cat, 0);
    if (c.expected.empty()) {
      CHECK(shown_ids(d) == std::vector<int64_t>{1});
      CHECK(d.reason.empty());
    } else {
      CHECK(d.offers.empty());
      CHECK(rejection_of(d, 1) == c.expected);
      CHECK(d.reason == c.expected);
    }
  }
}

TEST_CASE("an ineligible order or a shop without offers gets its reason and no rejections",
          "[decider]") {
  FakeCatalog cat = base_catalog();
  PurchaseContext ctx = base_context();
  ctx.ineligible_reason = std::string(reason::kCurrencyMismatch);
  Decision d = decide(ctx, {base_offer()}, cat, 0);
  CHECK(d.offers.empty());
  CHECK(d.rejections.empty());
  CHECK(d.reason == reason::kCurrencyMismatch);
  CHECK(cat.lookups == 0);

  d = decide(base_context(), {}, cat, 0);
  CHECK(d.reason == reason::kNoOffers);
}

TEST_CASE("catch-alls are shown only when no rule-based offer was", "[decider]") {
  FakeCatalog cat = base_catalog();
  Offer fallback = base_offer(1, 201);
  fallback.triggers = {};
  fallback.catch_all = true;
  Offer rule = base_offer(2, 200);

  Decision d = decide(base_context(), {fallback, rule}, cat, 0);
  CHECK(shown_ids(d) == std::vector<int64_t>{2});
  CHECK(rejection_of(d, 1) == reason::kCatchAllNotNeeded);

  rule.triggers.product_ids = {999};
  d = decide(base_context(), {fallback, rule}, cat, 0);
  CHECK(shown_ids(d) == std::vector<int64_t>{1});
  CHECK(rejection_of(d, 2) == reason::kNoMatchingRule);
}

TEST_CASE("at most two offers are shown and later offers are not evaluated", "[decider]") {
  FakeCatalog cat = base_catalog();
  std::vector<Offer> offers = {base_offer(1, 200), base_offer(2, 201), base_offer(3, 202),
                               base_offer(4, 203)};
  offers[3].triggers.product_ids = {999};  // would be a no_matching_rule if it were evaluated
  Decision d = decide(base_context(), offers, cat, 0);
  CHECK(shown_ids(d) == std::vector<int64_t>{1, 2});
  CHECK(considered(d) == 0);
  CHECK(cat.lookups == 2);
}

TEST_CASE("two offers for the same variant show only the first", "[decider]") {
  FakeCatalog cat = base_catalog();
  std::vector<Offer> offers = {base_offer(1, 200), base_offer(2, 200), base_offer(3, 201)};
  offers[0].variant_id = 2000;  // explicit; offer 2 gets the first available: the same
  Decision d = decide(base_context(), offers, cat, 0);
  CHECK(shown_ids(d) == std::vector<int64_t>{1, 3});
  CHECK(rejection_of(d, 2) == reason::kSameVariantShown);

  // Another variant of the same product is a different item.
  offers[1].variant_id = 2001;
  d = decide(base_context(), offers, cat, 0);
  CHECK(shown_ids(d) == std::vector<int64_t>{1, 2});
}

TEST_CASE("the catalogue is asked only for offers whose triggers and history pass", "[decider]") {
  FakeCatalog cat = base_catalog();
  std::vector<Offer> offers;
  for (int64_t i = 1; i <= 10000; ++i) {
    Offer o = base_offer(i, 200 + i % 4);
    o.triggers.product_ids = {100000 + i};  // never in the order
    offers.push_back(o);
  }
  offers[9000].triggers.product_ids = {100};
  offers[9000].product_id = 201;
  Decision d = decide(base_context(), offers, cat, 0);
  CHECK(shown_ids(d) == std::vector<int64_t>{9001});
  CHECK(cat.lookups == 1);
  CHECK(d.rejections.empty());
  REQUIRE(d.unmatched_offer_ids.size() == 9999);
  CHECK(d.unmatched_offer_ids.front() == 1);
  CHECK(d.unmatched_offer_ids.back() == 10000);
}

TEST_CASE("the reason is the most telling rejection", "[decider]") {
  FakeCatalog cat = base_catalog();
  cat.products[202][0].available = false;
  Offer unmatched = base_offer(1, 200);
  unmatched.triggers.product_ids = {999};
  Offer unknown = base_offer(2, 999);
  Offer in_order = base_offer(3, 100);
  Offer sold_out = base_offer(4, 202);
  Offer held_out = base_offer(5, 203);
  held_out.holdout_share = 1.0;
  Offer downsell = base_offer(6, 201);
  downsell.kind = OfferKind::kDownsell;

  struct Case {
    std::vector<Offer> offers;
    std::string_view expected;
  };
  const std::vector<Case> cases = {
      {{unmatched, unknown, in_order, sold_out, held_out}, reason::kHoldout},
      {{unmatched, unknown, in_order, sold_out}, reason::kOutOfStock},
      {{unmatched, unknown, in_order}, reason::kAlreadyInOrder},
      {{unmatched, unknown}, reason::kUnknownProduct},
      {{downsell, unmatched}, reason::kNoMatchingRule},
      {{downsell}, reason::kDownsellOnly},
  };
  for (const Case& c : cases) {
    Decision d = decide(base_context(), c.offers, cat, 0);
    INFO("expected " << c.expected);
    CHECK(d.offers.empty());
    CHECK(considered(d) == c.offers.size());
    CHECK(d.reason == c.expected);
  }

  PurchaseContext full = base_context();
  full.accepted_this_order = kMaxAcceptedOffersPerOrder;
  full.pitched_product_ids = {201};
  Offer pitched = base_offer(7, 201);
  Decision d = decide(full, {pitched, unmatched}, cat, 0);
  CHECK(d.reason == reason::kMaxAccepted);
}

TEST_CASE("prices are the subtotal less the discount rounded half-up", "[decider][pricing]") {
  Discount pct{DiscountType::kPercent, 1250, 0};                           // 12.5 %
  CHECK(price_offer(999, 1, pct, std::nullopt, 0).discount_minor == 125);  // 124.875
  CHECK(price_offer(4, 1, pct, std::nullopt, 0).discount_minor == 1);      // 0.5 rounds up
  CHECK(price_offer(3, 1, pct, std::nullopt, 0).discount_minor == 0);      // 0.375 rounds down
  OfferPrice p = price_offer(1000, 3, pct, std::nullopt, 0);
  CHECK(p.subtotal_minor == 3000);
  CHECK(p.discount_minor == 375);
  CHECK(p.total_minor == 2625);

  Discount fixed{DiscountType::kFixedAmount, 0, 500};  // off the line, not per unit
  p = price_offer(1000, 2, fixed, std::nullopt, 0);
  CHECK(p.discount_minor == 500);
  CHECK(p.total_minor == 1500);
  fixed.amount_minor = 5000;  // more than the line: capped, never below zero
  p = price_offer(1000, 2, fixed, std::nullopt, 0);
  CHECK(p.discount_minor == 2000);
  CHECK(p.total_minor == 0);

  p = price_offer(1000, 2, Discount{}, std::nullopt, 0);
  CHECK(p.discount_minor == 0);
  CHECK(p.total_minor == 2000);
}

TEST_CASE("the margin floor reduces the discount and never raises the price",
          "[decider][pricing]") {
  Discount half{DiscountType::kPercent, 5000, 0};
  // Cost 700, floor 20 %: the total must be at least 700 / 0.8 = 875.
  OfferPrice p = price_offer(1000, 1, half, 700, 20);
  CHECK(p.total_minor == 875);
  CHECK(p.discount_minor == 125);
  // The same per unit for a quantity.
  p = price_offer(1000, 3, half, 700, 20);
  CHECK(p.total_minor == 2625);
  // Exactly at the floor: 700 / 0.7 = 1000, no discount left (and no float drift to 1001).
  p = price_offer(1000, 1, half, 700, 30);
  CHECK(p.discount_minor == 0);
  CHECK(p.total_minor == 1000);
  // Even the full price misses the floor: shown undiscounted, not raised.
  p = price_offer(1000, 1, half, 700, 40);
  CHECK(p.discount_minor == 0);
  CHECK(p.total_minor == 1000);
  // A discount already above the floor is untouched; unknown cost or no floor: no limit.
  Discount small{DiscountType::kPercent, 1000, 0};
  CHECK(price_offer(1000, 1, small, 700, 20).discount_minor == 100);
  CHECK(price_offer(1000, 1, half, std::nullopt, 20).discount_minor == 500);
  CHECK(price_offer(1000, 1, half, 700, 0).discount_minor == 500);
  // Rounded up to the minor unit: cost 333, floor 10 % → 370 (369.99…).
  CHECK(price_offer(1000, 1, Discount{DiscountType::kFixedAmount, 0, 900}, 333, 10).total_minor ==
        370);
}

TEST_CASE("a shown offer carries its price, currency and the arm's overrides", "[decider]") {
  FakeCatalog cat = base_catalog();
  cat.products[200][0].unit_cost_minor = 700;
  Offer o = base_offer();
  o.discount = Discount{DiscountType::kPercent, 5000, 0};
  o.free_shipping = true;
  o.quantity = 2;
  o.arms = {
      AbArm{"a", 1, std::nullopt, std::nullopt},
      AbArm{"b", 1, std::string("Arm B headline"), Discount{DiscountType::kFixedAmount, 0, 100}}};
  Decision d = decide(base_context(), {o}, cat, 20);
  REQUIRE(d.offers.size() == 1);
  const ShownOffer& s = d.offers[0];
  CHECK(s.currency == "USD");
  CHECK(s.quantity == 2);
  CHECK(s.unit_price_minor == 1000);
  CHECK(s.subtotal_minor == 2000);
  CHECK(s.free_shipping);
  CHECK(s.item.variant_id == 2000);
  CHECK(s.arm == *assign_arm(o, "c:7"));
  if (s.arm == "a") {
    CHECK(s.headline == "Add this");
    CHECK(s.discount.type == DiscountType::kPercent);
    CHECK(s.total_minor == 1750);  // 50 % limited by the 20 % floor on a cost of 1400
  } else {
    CHECK(s.headline == "Arm B headline");
    CHECK(s.discount.type == DiscountType::kFixedAmount);
    CHECK(s.total_minor == 1900);
  }
}

TEST_CASE("the funnel follows the accept and decline links", "[decider][funnel]") {
  FakeCatalog cat = base_catalog();
  Offer entry = base_offer(1, 200);
  Offer after_accept = base_offer(2, 201);
  after_accept.triggers.product_ids = {999};  // links need no trigger
  Offer downsell = base_offer(3, 202);
  downsell.kind = OfferKind::kDownsell;
  entry.funnel.after_accept_offer_id = 2;
  entry.funnel.after_decline_offer_id = 3;
  std::vector<Offer> offers = {entry, after_accept, downsell};

  PurchaseContext ctx = base_context();
  ctx.answered_offer_ids = {1};
  ctx.accepted_this_order = 1;
  auto next = next_in_funnel(ctx, offers, 1, true, cat, 0);
  REQUIRE(next);
  CHECK(next->offer_id == 2);

  ctx.accepted_this_order = 0;
  next = next_in_funnel(ctx, offers, 1, false, cat, 0);
  REQUIRE(next);
  CHECK(next->offer_id == 3);
  CHECK(next->kind == OfferKind::kDownsell);

  Rejection why;
  ctx.accepted_this_order = kMaxAcceptedOffersPerOrder;
  CHECK_FALSE(next_in_funnel(ctx, offers, 1, true, cat, 0, &why));
  CHECK(why.offer_id == 2);
  CHECK(why.reason == reason::kMaxAccepted);

  ctx.accepted_this_order = 1;
  cat.products[201][0].available = false;
  CHECK_FALSE(next_in_funnel(ctx, offers, 1, true, cat, 0, &why));
  CHECK(why.reason == reason::kOutOfStock);

  // The follow-up is paused (not among the active offers), or there is no link.
  CHECK_FALSE(next_in_funnel(ctx, {entry, downsell}, 1, true, cat, 0, &why));
  CHECK(why.offer_id == 2);
  CHECK_FALSE(next_in_funnel(ctx, offers, 2, true, cat, 0, &why));
  CHECK(why.offer_id == 0);
  CHECK(why.reason.empty());

  // A follow-up already answered on this order is not shown again.
  ctx.answered_offer_ids = {1, 3};
  CHECK_FALSE(next_in_funnel(ctx, offers, 1, false, cat, 0, &why));
  CHECK(why.reason == reason::kAlreadyPitched);
}

TEST_CASE("a downsell after a decline may offer the declined product again",
          "[decider][funnel]") {
  FakeCatalog cat = base_catalog();
  Offer entry = base_offer(1, 200);
  Offer cheaper = base_offer(2, 200);  // the same product, deeper discount
  cheaper.kind = OfferKind::kDownsell;
  cheaper.discount = Discount{DiscountType::kPercent, 3000, 0};
  entry.funnel.after_decline_offer_id = 2;
  PurchaseContext ctx = base_context();
  ctx.answered_offer_ids = {1};
  ctx.pitched_product_ids = {200};  // the decline just recorded
  auto next = next_in_funnel(ctx, {entry, cheaper}, 1, false, cat, 0);
  REQUIRE(next);
  CHECK(next->offer_id == 2);
  // After an accept the product stays pitched: the next upsell must be another item.
  Offer again = base_offer(3, 200);
  entry.funnel.after_accept_offer_id = 3;
  Rejection why;
  CHECK_FALSE(next_in_funnel(ctx, {entry, cheaper, again}, 1, true, cat, 0, &why));
  CHECK(why.reason == reason::kAlreadyPitched);
}

TEST_CASE("A/B arms are sticky per customer", "[decider][ab]") {
  Offer o = base_offer();
  o.arms = {AbArm{"a", 1, {}, {}}, AbArm{"b", 1, {}, {}}, AbArm{"c", 1, {}, {}}};
  o.holdout_share = 0.2;
  for (const char* key : {"c:7", "e:abc", "o:1001", "c:8"}) {
    auto first = assign_arm(o, key);
    for (int i = 0; i < 100; ++i) CHECK(assign_arm(o, key) == first);
  }
  // Another offer or shop draws independently (the hash covers both).
  Offer other = o;
  other.id = 2;
  int same = 0;
  for (int i = 0; i < 200; ++i) {
    std::string key = "c:" + std::to_string(i);
    if (assign_arm(o, key) == assign_arm(other, key)) ++same;
  }
  CHECK(same < 150);  // about 0.36 agree by chance (0.2² + 3 × (0.8/3)²), not all

  Offer plain = base_offer();
  CHECK(assign_arm(plain, "c:7") == std::string());
}

TEST_CASE("A/B arm and holdout shares follow the weights over many customers", "[decider][ab]") {
  Offer o = base_offer();
  o.arms = {AbArm{"a", 1, {}, {}}, AbArm{"b", 3, {}, {}}};
  o.holdout_share = 0.1;
  int held = 0, a = 0, b = 0;
  const int n = 10000;
  for (int i = 0; i < n; ++i) {
    auto arm = assign_arm(o, "c:" + std::to_string(1000000 + i));
    if (!arm) {
      ++held;
    } else if (*arm == "a") {
      ++a;
    } else {
      REQUIRE(*arm == "b");
      ++b;
    }
  }
  const double shown = a + b;
  CHECK(std::abs(held / static_cast<double>(n) - 0.10) <= 0.02);
  CHECK(std::abs(a / shown - 0.25) <= 0.02);
  CHECK(std::abs(b / shown - 0.75) <= 0.02);
}
