#include "checkout/offer_model.h"

#include <cmath>
#include <functional>
#include <map>
#include <set>

#include "plugin/core/json_fields.h"

namespace afterglow::checkout {
namespace {

using nlohmann::json;

constexpr size_t kMaxListItems = 250;                // ids or tags in one trigger kind
constexpr int64_t kMaxMoneyMinor = 100'000'000'000;  // 1e9 in major units: beyond any real order
constexpr size_t kMaxArms = 8;

Discount read_discount(const json& value, const std::string& path, FieldErrors& errors) {
  Discount d;
  ObjectReader r(value, path, errors);
  std::string type = r.choice("type", {"none", "percent", "fixed_amount"}, true, "none");
  if (type == "percent") {
    d.type = DiscountType::kPercent;
    auto pct = r.number("percent", 0, 100, 2, true);
    if (pct) d.percent_bp = std::llround(*pct * 100.0);
    if (r.has("amount_minor")) {
      errors.add(r.field("amount_minor"), "applies only to a fixed_amount discount");
    }
    r.member("amount_minor");
  } else if (type == "fixed_amount") {
    d.type = DiscountType::kFixedAmount;
    d.amount_minor = r.integer("amount_minor", 0, kMaxMoneyMinor, true).value_or(0);
    if (r.has("percent")) errors.add(r.field("percent"), "applies only to a percent discount");
    r.member("percent");
  } else {
    r.member("percent");
    r.member("amount_minor");
  }
  r.reject_unknown();
  return d;
}

json discount_to_json(const Discount& d) {
  switch (d.type) {
    case DiscountType::kPercent:
      return json{{"type", "percent"}, {"percent", static_cast<double>(d.percent_bp) / 100.0}};
    case DiscountType::kFixedAmount:
      return json{{"type", "fixed_amount"}, {"amount_minor", d.amount_minor}};
    case DiscountType::kNone:
      break;
  }
  return json{{"type", "none"}};
}

// Reads min_<name> and max_<name> and checks min <= max.
void read_range(ObjectReader& r, const std::string& name, int64_t max_value,
                std::optional<int64_t>& lo, std::optional<int64_t>& hi) {
  lo = r.integer("min_" + name, 0, max_value);
  hi = r.integer("max_" + name, 0, max_value);
  if (lo && hi && *hi < *lo) {
    r.errors().add(r.field("max_" + name), "must be at least min_" + name);
  }
}

OfferTriggers read_triggers(const json& value, const std::string& path, FieldErrors& errors) {
  OfferTriggers t;
  ObjectReader r(value, path, errors);
  t.product_ids = r.id_list("product_ids", kMaxListItems);
  t.variant_ids = r.id_list("variant_ids", kMaxListItems);
  t.collection_ids = r.id_list("collection_ids", kMaxListItems);
  t.tags = r.text_list("tags", kMaxListItems, 255);
  read_range(r, "quantity", 100'000, t.min_quantity, t.max_quantity);
  read_range(r, "order_value_minor", kMaxMoneyMinor, t.min_order_value_minor,
             t.max_order_value_minor);
  t.customer_tags = r.text_list("customer_tags", kMaxListItems, 255);
  read_range(r, "order_count", 1'000'000, t.min_order_count, t.max_order_count);
  t.countries = r.text_list("countries", kMaxListItems, 64, normalise_country,
                            "must be a two-letter country code such as US");
  t.currencies = r.text_list("currencies", kMaxListItems, 64, normalise_currency,
                             "must be a three-letter currency code such as USD");
  r.reject_unknown();
  return t;
}

json triggers_to_json(const OfferTriggers& t) {
  auto opt = [](const std::optional<int64_t>& v) { return v ? json(*v) : json(nullptr); };
  return json{{"product_ids", t.product_ids},
              {"variant_ids", t.variant_ids},
              {"collection_ids", t.collection_ids},
              {"tags", t.tags},
              {"min_quantity", opt(t.min_quantity)},
              {"max_quantity", opt(t.max_quantity)},
              {"min_order_value_minor", opt(t.min_order_value_minor)},
              {"max_order_value_minor", opt(t.max_order_value_minor)},
              {"customer_tags", t.customer_tags},
              {"min_order_count", opt(t.min_order_count)},
              {"max_order_count", opt(t.max_order_count)},
              {"countries", t.countries},
              {"currencies", t.currencies}};
}

void read_ab_test(const json& value, const std::string& path, FieldErrors& errors, Offer& o) {
  ObjectReader r(value, path, errors);
  o.holdout_share = r.number("holdout_share", 0, 1, 4).value_or(0);
  if (const json* arms = r.member("arms")) {
    std::string arms_path = r.field("arms");
    if (!arms->is_array()) {
      errors.add(arms_path, "must be a list");
    } else if (arms->size() == 1 || arms->size() > kMaxArms) {
      errors.add(arms_path, "must have between 2 and " + std::to_string(kMaxArms) +
                                " arms (or none for no test)");
    } else {
      std::set<std::string> names;
      for (size_t i = 0; i < arms->size(); ++i) {
        std::string arm_path = arms_path + "[" + std::to_string(i) + "]";
        ObjectReader ar((*arms)[i], arm_path, errors);
        AbArm arm;
        arm.name = ar.text("name", 40, true);
        if (!arm.name.empty() && !names.insert(arm.name).second) {
          errors.add(ar.field("name"), "repeats the arm name \"" + arm.name + "\"");
        }
        arm.weight = static_cast<int>(ar.integer("weight", 1, 1000, true).value_or(1));
        if (ar.has("headline"))
          arm.headline = ar.text("headline", 500);
        else
          ar.member("headline");
        if (const json* d = ar.member("discount")) {
          arm.discount = read_discount(*d, ar.field("discount"), errors);
        }
        ar.reject_unknown();
        o.arms.push_back(std::move(arm));
      }
    }
  }
  r.reject_unknown();
}

}  // namespace

bool OfferTriggers::empty() const {
  return product_ids.empty() && variant_ids.empty() && collection_ids.empty() && tags.empty() &&
         !min_quantity && !max_quantity && !min_order_value_minor && !max_order_value_minor &&
         customer_tags.empty() && !min_order_count && !max_order_count && countries.empty() &&
         currencies.empty();
}

std::string_view offer_kind_name(OfferKind kind) {
  switch (kind) {
    case OfferKind::kUpsell:
      return "upsell";
    case OfferKind::kCrossSell:
      return "cross_sell";
    case OfferKind::kDownsell:
      return "downsell";
  }
  return "upsell";
}

std::string_view offer_status_name(OfferStatus status) {
  return status == OfferStatus::kPaused ? "paused" : "active";
}

std::optional<OfferKind> parse_offer_kind(std::string_view name) {
  if (name == "upsell") return OfferKind::kUpsell;
  if (name == "cross_sell") return OfferKind::kCrossSell;
  if (name == "downsell") return OfferKind::kDownsell;
  return std::nullopt;
}

std::optional<OfferStatus> parse_offer_status(std::string_view name) {
  if (name == "active") return OfferStatus::kActive;
  if (name == "paused") return OfferStatus::kPaused;
  return std::nullopt;
}

Result<Offer> offer_from_json(const json& value, std::vector<FieldError>* all_errors) {
  FieldErrors errors;
  Offer o;
  ObjectReader r(value, "offers", errors);
  o.kind =
      *parse_offer_kind(r.choice("kind", {"upsell", "cross_sell", "downsell"}, true, "upsell"));
  o.status = *parse_offer_status(r.choice("status", {"active", "paused"}, false, "active"));
  o.title = r.text("title", 255, true);
  o.headline = r.text("headline", 500);
  o.product_id = r.id("product_id", true).value_or(0);
  o.variant_id = r.id("variant_id");
  o.quantity = r.integer("quantity", 1, 100).value_or(1);
  if (const json* d = r.member("discount"))
    o.discount = read_discount(*d, r.field("discount"), errors);
  o.free_shipping = r.boolean("free_shipping");
  if (const json* t = r.member("triggers"))
    o.triggers = read_triggers(*t, r.field("triggers"), errors);
  o.priority = r.integer("priority", 0, 10000).value_or(100);
  o.catch_all = r.boolean("catch_all");
  if (const json* f = r.member("funnel")) {
    ObjectReader fr(*f, r.field("funnel"), errors);
    o.funnel.after_accept_offer_id = fr.id("after_accept_offer_id");
    o.funnel.after_decline_offer_id = fr.id("after_decline_offer_id");
    fr.reject_unknown();
  }
  if (const json* ab = r.member("ab_test")) read_ab_test(*ab, r.field("ab_test"), errors, o);
  if (const json* e = r.member("exclusions")) {
    ObjectReader er(*e, r.field("exclusions"), errors);
    o.exclusions.once_per_customer = er.boolean("once_per_customer");
    o.exclusions.skip_if_purchased_product_ids =
        er.id_list("skip_if_purchased_product_ids", kMaxListItems);
    er.reject_unknown();
  }
  r.reject_unknown({"id", "created_at_ms", "updated_at_ms"});

  // Cross-field rules, once the fields themselves are known to be well formed.
  if (o.catch_all && !o.triggers.empty()) {
    errors.add("offers.triggers",
               "must be empty for a catch-all offer (it is shown when no other "
               "offer matches)");
  } else if (!o.catch_all && o.triggers.empty() && r.valid()) {
    errors.add("offers.triggers", "needs at least one condition, or mark the offer catch_all");
  }
  if (o.funnel.after_accept_offer_id &&
      o.funnel.after_accept_offer_id == o.funnel.after_decline_offer_id) {
    errors.add("offers.funnel.after_decline_offer_id",
               "must differ from after_accept_offer_id (a declined offer leads to a downsell)");
  }

  if (!errors.empty()) {
    if (all_errors) *all_errors = errors.all();
    return std::unexpected(errors.first());
  }
  return o;
}

json offer_to_json(const Offer& o) {
  auto opt = [](const std::optional<int64_t>& v) { return v ? json(*v) : json(nullptr); };
  json arms = json::array();
  for (const AbArm& a : o.arms) {
    json arm{{"name", a.name}, {"weight", a.weight}};
    arm["headline"] = a.headline ? json(*a.headline) : json(nullptr);
    arm["discount"] = a.discount ? discount_to_json(*a.discount) : json(nullptr);
    arms.push_back(std::move(arm));
  }
  return json{{"id", o.id},
              {"kind", offer_kind_name(o.kind)},
              {"status", offer_status_name(o.status)},
              {"title", o.title},
              {"headline", o.headline},
              {"product_id", o.product_id},
              {"variant_id", opt(o.variant_id)},
              {"quantity", o.quantity},
              {"discount", discount_to_json(o.discount)},
              {"free_shipping", o.free_shipping},
              {"triggers", triggers_to_json(o.triggers)},
              {"priority", o.priority},
              {"catch_all", o.catch_all},
              {"funnel",
               {{"after_accept_offer_id", opt(o.funnel.after_accept_offer_id)},
                {"after_decline_offer_id", opt(o.funnel.after_decline_offer_id)}}},
              {"ab_test", {{"arms", std::move(arms)}, {"holdout_share", o.holdout_share}}},
              {"exclusions",
               {{"once_per_customer", o.exclusions.once_per_customer},
                {"skip_if_purchased_product_ids", o.exclusions.skip_if_purchased_product_ids}}},
              {"created_at_ms", o.created_at_ms},
              {"updated_at_ms", o.updated_at_ms}};
}

namespace {

// The funnel graph with the candidate in place. Reports the first cycle or over-cap path
// reachable from any offer.
enum class GraphProblem { kNone, kCycle, kTooManyAccepts };

GraphProblem graph_problem(const std::map<int64_t, FunnelNode>& nodes) {
  // Most offers a shopper can accept starting at a node: accept it and go on from
  // after_accept, or decline it and go on from after_decline.
  std::map<int64_t, int> memo;
  std::set<int64_t> on_path;
  GraphProblem problem = GraphProblem::kNone;
  std::function<int(int64_t)> accepts = [&](int64_t id) -> int {
    auto it = nodes.find(id);
    if (it == nodes.end()) return 0;
    if (auto m = memo.find(id); m != memo.end()) return m->second;
    if (!on_path.insert(id).second) {
      problem = GraphProblem::kCycle;
      return 0;
    }
    const OfferFunnel& f = it->second.funnel;
    int if_accepted = 1 + (f.after_accept_offer_id ? accepts(*f.after_accept_offer_id) : 0);
    int if_declined = f.after_decline_offer_id ? accepts(*f.after_decline_offer_id) : 0;
    on_path.erase(id);
    int best = std::max(if_accepted, if_declined);
    memo[id] = best;
    return best;
  };
  for (const auto& [id, node] : nodes) {
    int n = accepts(id);
    if (problem != GraphProblem::kNone) return problem;
    if (n > kMaxAcceptedOffersPerOrder) return GraphProblem::kTooManyAccepts;
  }
  return GraphProblem::kNone;
}

}  // namespace

Result<void> check_funnel(const Offer& candidate, const std::vector<FunnelNode>& shop_offers) {
  // The candidate's key in the graph: its id, or a key no stored offer has.
  const int64_t self = candidate.id != 0 ? candidate.id : -1;
  std::map<int64_t, FunnelNode> nodes;
  for (const FunnelNode& n : shop_offers) {
    if (n.id != self) nodes[n.id] = n;
  }
  auto invalid = [](const std::string& field, const std::string& problem) {
    return fail(ErrorCode::kInvalidArgument, "offers.funnel." + field + " " + problem);
  };
  const std::optional<int64_t>& accept = candidate.funnel.after_accept_offer_id;
  const std::optional<int64_t>& decline = candidate.funnel.after_decline_offer_id;
  if (accept) {
    if (*accept == self) return invalid("after_accept_offer_id", "must not name the offer itself");
    // Another shop's offer gets the same answer as a missing one: ids never reveal other shops.
    if (!nodes.contains(*accept)) {
      return invalid("after_accept_offer_id",
                     "names no offer of this shop (" + std::to_string(*accept) + ")");
    }
  }
  if (decline) {
    if (*decline == self)
      return invalid("after_decline_offer_id", "must not name the offer itself");
    auto it = nodes.find(*decline);
    if (it == nodes.end()) {
      return invalid("after_decline_offer_id",
                     "names no offer of this shop (" + std::to_string(*decline) + ")");
    }
    if (it->second.kind != OfferKind::kDownsell) {
      return invalid("after_decline_offer_id",
                     "must name a downsell offer (offer " + std::to_string(*decline) + " is " +
                         std::string(offer_kind_name(it->second.kind)) + ")");
    }
  }
  if (candidate.id != 0 && candidate.kind != OfferKind::kDownsell) {
    for (const auto& [id, n] : nodes) {
      if (n.funnel.after_decline_offer_id == candidate.id) {
        return fail(ErrorCode::kInvalidArgument, "offers.kind must stay downsell: offer " +
                                                     std::to_string(id) +
                                                     " shows this offer after a decline");
      }
    }
  }

  // Which link causes a graph problem: try the accept link alone first.
  auto check_with = [&](bool with_accept, bool with_decline) {
    std::map<int64_t, FunnelNode> g = nodes;
    FunnelNode me{self, candidate.kind, {}};
    if (with_accept) me.funnel.after_accept_offer_id = accept;
    if (with_decline) me.funnel.after_decline_offer_id = decline;
    g[self] = me;
    return graph_problem(g);
  };
  auto describe = [](GraphProblem p) {
    return p == GraphProblem::kCycle
               ? std::string(
                     "would form a loop: following the funnel leads back to an offer "
                     "already shown")
               : "would let a shopper accept more than " +
                     std::to_string(kMaxAcceptedOffersPerOrder) +
                     " offers in one order (the platform's limit)";
  };
  if (accept) {
    if (GraphProblem p = check_with(true, false); p != GraphProblem::kNone) {
      return invalid("after_accept_offer_id", describe(p));
    }
  }
  if (GraphProblem p = check_with(true, true); p != GraphProblem::kNone) {
    return invalid(decline ? "after_decline_offer_id" : "after_accept_offer_id", describe(p));
  }
  return {};
}

}  // namespace afterglow::checkout
