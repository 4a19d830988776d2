// The offer model: what the merchant may configure, and that every refusal names its field.
#include "checkout/offer_model.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "plugin/core/json_fields.h"

using namespace afterglow;
using namespace afterglow::checkout;
using nlohmann::json;

namespace {

json minimal_offer() {
  return json{{"kind", "upsell"},
              {"title", "Matching socks"},
              {"product_id", 632910392},
              {"triggers", {{"product_ids", {111}}}}};
}

// The message of the first error, "" when the offer is valid.
std::string error_of(const json& j) {
  auto r = offer_from_json(j);
  return r ? "" : r.error().message;
}

std::vector<std::string> fields_of(const json& j) {
  std::vector<FieldError> all;
  auto r = offer_from_json(j, &all);
  std::vector<std::string> out;
  for (const FieldError& f : all) out.push_back(f.field);
  return out;
}

}  // namespace

TEST_CASE("a minimal offer gets the documented defaults", "[offers]") {
  auto r = offer_from_json(minimal_offer());
  REQUIRE(r);
  CHECK(r->kind == OfferKind::kUpsell);
  CHECK(r->status == OfferStatus::kActive);
  CHECK(r->quantity == 1);
  CHECK(r->priority == 100);
  CHECK(r->discount.type == DiscountType::kNone);
  CHECK_FALSE(r->variant_id);
  CHECK(r->arms.empty());
  CHECK(r->holdout_share == 0);
}

TEST_CASE("a full offer survives a JSON round trip", "[offers]") {
  json j = minimal_offer();
  j["kind"] = "cross_sell";
  j["status"] = "paused";
  j["headline"] = "Add a second pair for 20% off";
  j["variant_id"] = "808950810";  // ids may arrive as strings (JavaScript numbers lose digits)
  j["quantity"] = 2;
  j["discount"] = {{"type", "percent"}, {"percent", 12.5}};
  j["free_shipping"] = true;
  j["triggers"] = {{"product_ids", {1, 2}},
                   {"variant_ids", {3}},
                   {"collection_ids", {4}},
                   {"tags", {"summer"}},
                   {"min_quantity", 1},
                   {"max_quantity", 5},
                   {"min_order_value_minor", 1000},
                   {"max_order_value_minor", 90000},
                   {"customer_tags", {"vip"}},
                   {"min_order_count", 1},
                   {"max_order_count", 3},
                   {"countries", {"us", "CA"}},
                   {"currencies", {"usd"}}};
  j["priority"] = 5;
  j["funnel"] = {{"after_accept_offer_id", 7}, {"after_decline_offer_id", 8}};
  j["ab_test"] = {{"arms",
                   {{{"name", "a"}, {"weight", 50}},
                    {{"name", "b"},
                     {"weight", 50},
                     {"headline", "Deal"},
                     {"discount", {{"type", "fixed_amount"}, {"amount_minor", 500}}}}}},
                  {"holdout_share", 0.1}};
  j["exclusions"] = {{"once_per_customer", true}, {"skip_if_purchased_product_ids", {9}}};
  auto r = offer_from_json(j);
  REQUIRE(r);
  CHECK(r->variant_id == 808950810);
  CHECK(r->discount.percent_bp == 1250);
  CHECK(r->triggers.countries == std::vector<std::string>{"US", "CA"});
  CHECK(r->triggers.currencies == std::vector<std::string>{"USD"});
  REQUIRE(r->arms.size() == 2);
  CHECK(r->arms[1].discount->amount_minor == 500);

  json out = offer_to_json(*r);
  auto again = offer_from_json(out);
  REQUIRE(again);
  CHECK(offer_to_json(*again) == out);
  CHECK(out["discount"]["percent"] == 12.5);
  CHECK(out["variant_id"] == 808950810);
}

TEST_CASE("offer validation errors name the field", "[offers]") {
  json j = minimal_offer();
  j["discount"] = {{"type", "percent"}, {"percent", 150}};
  CHECK(error_of(j) == "offers.discount.percent must be between 0 and 100");

  j = minimal_offer();
  j["discount"] = {{"type", "percent"}, {"percent", -1}};
  CHECK(error_of(j) == "offers.discount.percent must be between 0 and 100");

  j = minimal_offer();
  j["discount"] = {{"type", "fixed_amount"}, {"amount_minor", -5}};
  CHECK(error_of(j).starts_with("offers.discount.amount_minor must be an integer"));

  j = minimal_offer();
  j["kind"] = "megasell";
  CHECK(error_of(j) == "offers.kind must be one of upsell, cross_sell, downsell");

  j = minimal_offer();
  j.erase("title");
  CHECK(error_of(j) == "offers.title is required");

  j = minimal_offer();
  j["product_id"] = "abc";
  CHECK(error_of(j) == "offers.product_id must be a positive integer id");

  j = minimal_offer();
  j["quantity"] = 0;
  CHECK(error_of(j) == "offers.quantity must be an integer between 1 and 100");

  j = minimal_offer();
  j["triggers"]["countries"] = {"USA"};
  CHECK(error_of(j) == "offers.triggers.countries[0] must be a two-letter country code such as US");

  j = minimal_offer();
  j["triggers"]["min_order_value_minor"] = 5000;
  j["triggers"]["max_order_value_minor"] = 100;
  CHECK(error_of(j) ==
        "offers.triggers.max_order_value_minor must be at least min_order_value_minor");

  j = minimal_offer();
  j["ab_test"] = {{"holdout_share", 1.5}};
  CHECK(error_of(j) == "offers.ab_test.holdout_share must be between 0 and 1");

  j = minimal_offer();
  j["ab_test"] = {{"arms", {{{"name", "a"}, {"weight", 1}}}}};
  CHECK(error_of(j).starts_with("offers.ab_test.arms must have between 2 and 8 arms"));

  j = minimal_offer();
  j["ab_test"] = {{"arms", {{{"name", "a"}, {"weight", 1}}, {{"name", "a"}, {"weight", 0}}}}};
  CHECK(fields_of(j) ==
        std::vector<std::string>{"offers.ab_test.arms[1].name", "offers.ab_test.arms[1].weight"});

  j = minimal_offer();
  j["dicount"] = {{"type", "none"}};
  CHECK(error_of(j) == "offers.dicount is not a known field");
}

TEST_CASE("every bad field is reported, not only the first", "[offers]") {
  json j{{"kind", "upsell"},
         {"product_id", 0},
         {"discount", {{"type", "percent"}, {"percent", 101}}},
         {"triggers", {{"product_ids", {1, 1}}}}};
  CHECK(fields_of(j) == std::vector<std::string>{"offers.title", "offers.product_id",
                                                 "offers.discount.percent",
                                                 "offers.triggers.product_ids[1]"});
}

TEST_CASE("a catch-all has no triggers, and an offer without triggers must be a catch-all",
          "[offers]") {
  json j = minimal_offer();
  j["catch_all"] = true;
  CHECK(error_of(j).starts_with("offers.triggers must be empty for a catch-all offer"));
  j.erase("triggers");
  CHECK(error_of(j).empty());
  j["catch_all"] = false;
  CHECK(error_of(j) == "offers.triggers needs at least one condition, or mark the offer catch_all");
}

TEST_CASE("read-only fields may be echoed back", "[offers]") {
  json j = minimal_offer();
  j["id"] = 12;
  j["created_at_ms"] = 1;
  j["updated_at_ms"] = 2;
  CHECK(error_of(j).empty());
}

namespace {

Offer offer_with(int64_t id, OfferKind kind, std::optional<int64_t> accept = {},
                 std::optional<int64_t> decline = {}) {
  Offer o;
  o.id = id;
  o.kind = kind;
  o.funnel.after_accept_offer_id = accept;
  o.funnel.after_decline_offer_id = decline;
  return o;
}

FunnelNode node(const Offer& o) { return FunnelNode{o.id, o.kind, o.funnel}; }

}  // namespace

TEST_CASE("funnel links must name offers of the same shop", "[offers][funnel]") {
  std::vector<FunnelNode> shop = {node(offer_with(1, OfferKind::kUpsell)),
                                  node(offer_with(2, OfferKind::kDownsell))};
  CHECK(check_funnel(offer_with(0, OfferKind::kUpsell, 1, 2), shop));
  // 99 might be another shop's offer: the answer is the same as for a missing one.
  auto r = check_funnel(offer_with(0, OfferKind::kUpsell, 99), shop);
  REQUIRE_FALSE(r);
  CHECK(r.error().message ==
        "offers.funnel.after_accept_offer_id names no offer of this shop (99)");
  r = check_funnel(offer_with(3, OfferKind::kUpsell, 3), shop);
  REQUIRE_FALSE(r);
  CHECK(r.error().message == "offers.funnel.after_accept_offer_id must not name the offer itself");
}

TEST_CASE("after a decline comes a downsell, and a downsell others decline into stays one",
          "[offers][funnel]") {
  std::vector<FunnelNode> shop = {node(offer_with(1, OfferKind::kUpsell)),
                                  node(offer_with(2, OfferKind::kDownsell)),
                                  node(offer_with(3, OfferKind::kUpsell, {}, 2))};
  auto r = check_funnel(offer_with(0, OfferKind::kUpsell, {}, 1), shop);
  REQUIRE_FALSE(r);
  CHECK(r.error().message ==
        "offers.funnel.after_decline_offer_id must name a downsell offer (offer 1 is upsell)");
  r = check_funnel(offer_with(2, OfferKind::kCrossSell), shop);
  REQUIRE_FALSE(r);
  CHECK(r.error().message ==
        "offers.kind must stay downsell: offer 3 shows this offer after a decline");
}

TEST_CASE("a funnel never loops and never allows more than three accepts", "[offers][funnel]") {
  // 1 -accept-> 2 -accept-> 3. Linking 3 back to 1 is a loop.
  std::vector<FunnelNode> shop = {
      node(offer_with(1, OfferKind::kUpsell, 2)), node(offer_with(2, OfferKind::kUpsell, 3)),
      node(offer_with(3, OfferKind::kUpsell)), node(offer_with(4, OfferKind::kUpsell))};
  auto r = check_funnel(offer_with(3, OfferKind::kUpsell, 1), shop);
  REQUIRE_FALSE(r);
  CHECK(r.error().message.starts_with("offers.funnel.after_accept_offer_id would form a loop"));
  // 3 -accept-> 4 makes 1 -> 2 -> 3 -> 4: four accepts in one order.
  r = check_funnel(offer_with(3, OfferKind::kUpsell, 4), shop);
  REQUIRE_FALSE(r);
  CHECK(r.error().message ==
        "offers.funnel.after_accept_offer_id would let a shopper accept more than 3 offers in "
        "one order (the platform's limit)");
  // A new offer in front of the chain 1 -> 2 -> 3 also makes four.
  r = check_funnel(offer_with(0, OfferKind::kUpsell, 1), shop);
  REQUIRE_FALSE(r);
  // Declines do not count as accepts: upsell -decline-> downsell -accept-> 2 -> 3 is fine.
  shop.push_back(node(offer_with(5, OfferKind::kDownsell, 2)));
  CHECK(check_funnel(offer_with(0, OfferKind::kUpsell, {}, 5), shop));
}
