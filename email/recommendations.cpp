#include "email/recommendations.h"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <tuple>

#include "plugin/core/json_fields.h"
#include "plugin/core/money.h"

namespace afterglow::email {
namespace {

using nlohmann::json;

constexpr int64_t kDayMs = 24LL * 60 * 60 * 1000;
constexpr int64_t kCoPurchaseWindowMs = 180 * kDayMs;
constexpr int64_t kTopSellerWindowMs = 90 * kDayMs;

std::string placeholders(size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) out += i ? ", ?" : "?";
  return out;
}

void append_ids(Params& p, const std::set<int64_t>& ids) {
  for (int64_t id : ids) p.emplace_back(std::in_place_type<int64_t>, id);
}

// The same condition everywhere a candidate is ranked, so a source never spends its LIMIT on
// products that could not be recommended anyway.
constexpr const char* kRecommendable =
    "EXISTS (SELECT 1 FROM catalog_products p JOIN catalog_variants v ON v.product_row_id = p.id "
    "WHERE p.shop_id = o.shop_id AND p.product_id = l.product_id AND p.deleted = 0 AND "
    "p.status = 'active' AND v.available = 1)";

// "$24.00" for the currencies whose symbol is unambiguous in a shop's own email; "24.00 SEK"
// for the rest (a symbol shared by several currencies would be guessed wrong somewhere).
std::string price_text(int64_t minor, const std::string& currency) {
  static const std::map<std::string, std::string, std::less<>> kSymbols = {
      {"USD", "$"}, {"CAD", "$"}, {"AUD", "$"}, {"NZD", "$"}, {"EUR", "€"},
      {"GBP", "£"}, {"JPY", "¥"}, {"INR", "₹"}, {"KRW", "₩"}, {"ILS", "₪"}};
  std::string amount = format_money(minor, currency);
  auto it = kSymbols.find(currency);
  if (it == kSymbols.end()) return amount + " " + currency;
  if (minor < 0) return "-" + it->second + amount.substr(1);
  return it->second + amount;
}

struct Context {
  const RecommendationRequest& request;
  std::string domain;
  std::optional<std::string> currency;
  std::set<int64_t> never;  // basis + excluded + already chosen
  std::vector<RecommendedItem> items;

  bool full() const { return static_cast<int>(items.size()) >= request.count; }
  // How many ranked rows a source must read to fill what is left even if every excluded or
  // chosen product ranks first.
  int64_t limit() const {
    return static_cast<int64_t>(request.count) + static_cast<int64_t>(never.size());
  }
};

// Adds the recommendable ones among `ranked` (best first), in that order, until full.
Result<void> take(Tx& tx, Context& c, const std::vector<int64_t>& ranked, const char* source) {
  std::vector<int64_t> wanted;
  std::set<int64_t> wanted_set;
  for (int64_t id : ranked) {
    if (c.never.contains(id) || !wanted_set.insert(id).second) continue;
    wanted.push_back(id);
  }
  if (wanted.empty() || c.full()) return {};

  Params p{c.request.shop_id};
  append_ids(p, wanted_set);
  std::map<int64_t, RecommendedItem> found;
  // Variants in position order: the first available one is what a link to the product shows.
  for (const Row& r : AG_TRY(
           tx.query("SELECT p.product_id, p.title, p.handle, p.image_url, v.variant_id, v.price, "
                    "v.price_minor, v.image_url FROM catalog_products p JOIN catalog_variants v ON "
                    "v.product_row_id = p.id WHERE p.shop_id = ? AND p.deleted = 0 AND "
                    "p.status = 'active' AND v.available = 1 AND p.product_id IN (" +
                        placeholders(wanted_set.size()) +
                        ") ORDER BY p.product_id, v.position, v.variant_id",
                    p))) {
    const int64_t id = r.i64(0);
    if (found.contains(id)) continue;
    RecommendedItem item;
    item.product_id = id;
    item.variant_id = r.i64(4);
    item.title = r.text(1);
    item.url = "https://" + c.domain + "/products/" + r.text(2);
    item.image_url = r.text(7).empty() ? r.text(3) : r.text(7);
    if (c.currency) {
      if (auto minor = r.opt_i64(6)) {
        item.price_minor = *minor;
      } else if (auto parsed = parse_money(r.text(5), *c.currency)) {
        item.price_minor = *parsed;
      }
      item.price_text = price_text(item.price_minor, *c.currency);
    } else {
      // No sync has told us the currency yet: show the platform's decimal string as it is.
      item.price_text = r.text(5);
      if (auto minor = r.opt_i64(6)) item.price_minor = *minor;
    }
    item.source = source;
    found.emplace(id, std::move(item));
  }
  for (int64_t id : wanted) {
    if (c.full()) break;
    auto it = found.find(id);
    if (it == found.end()) continue;
    c.never.insert(id);
    c.items.push_back(std::move(it->second));
  }
  return {};
}

// The merchant's own pairings: active thank-you offers triggered by a basis product or one of
// its collections. Upgrade mode takes upsells first, then cross-sells; complement mode only
// cross-sells (after a purchase, a bigger version of what was just bought is not a complement).
Result<std::vector<int64_t>> rule_candidates(Tx& tx, const Context& c,
                                             const std::set<int64_t>& basis) {
  Params p{c.request.shop_id};
  append_ids(p, basis);
  std::set<int64_t> collections;
  for (const Row& r :
       AG_TRY(tx.query("SELECT DISTINCT pc.collection_id FROM catalog_product_collections pc JOIN "
                       "catalog_products p ON p.id = pc.product_row_id WHERE p.shop_id = ? AND "
                       "p.product_id IN (" +
                           placeholders(basis.size()) + ")",
                       p))) {
    collections.insert(r.i64(0));
  }
  const bool upgrade = c.request.mode == RecommendationMode::kUpgrade;
  // (tier, priority, product id): ties go to the lower product id.
  std::vector<std::tuple<int, int64_t, int64_t>> ranked;
  for (const Row& r : AG_TRY(
           tx.query("SELECT kind, product_id, priority, triggers FROM offers WHERE shop_id = ? AND "
                    "status = 'active' AND kind IN ('upsell', 'cross_sell')",
                    {c.request.shop_id}))) {
    const std::string kind = r.text(0);
    if (!upgrade && kind != "cross_sell") continue;
    json triggers = json::parse(r.text(3), nullptr, false);
    if (!triggers.is_object()) continue;
    auto names = [&](const char* key, const std::set<int64_t>& have) {
      auto it = triggers.find(key);
      if (it == triggers.end() || !it->is_array()) return false;
      for (const json& v : *it) {
        auto id = parse_platform_id(v);
        if (id && have.contains(*id)) return true;
      }
      return false;
    };
    if (!names("product_ids", basis) && !names("collection_ids", collections)) continue;
    const int tier = upgrade && kind == "upsell" ? 0 : 1;
    ranked.emplace_back(tier, r.i64(2), r.i64(1));
  }
  std::sort(ranked.begin(), ranked.end());
  std::vector<int64_t> out;
  for (const auto& t : ranked) out.push_back(std::get<2>(t));
  return out;
}

Result<std::vector<int64_t>> co_purchase_candidates(Tx& tx, const Context& c,
                                                    const std::set<int64_t>& basis) {
  Params p{c.request.shop_id, c.request.now_ms - kCoPurchaseWindowMs};
  append_ids(p, basis);
  p.emplace_back(c.limit());
  std::vector<int64_t> out;
  // Counted per order (not per unit): how often people who bought the basis also bought this.
  for (const Row& r : AG_TRY(tx.query(
           std::string("SELECT l.product_id, COUNT(DISTINCT o.id) AS n FROM orders o "
                       "JOIN order_lines b ON b.order_row_id = o.id "
                       "JOIN order_lines l ON l.order_row_id = o.id "
                       "WHERE o.shop_id = ? AND o.received_at_ms >= ? AND b.product_id IN (") +
               placeholders(basis.size()) + ") AND l.product_id IS NOT NULL AND " + kRecommendable +
               " GROUP BY l.product_id ORDER BY n DESC, l.product_id LIMIT ?",
           p))) {
    out.push_back(r.i64(0));
  }
  return out;
}

// The rest of the catalogue, best sellers of the last 90 days first (units sold, the usual
// meaning of "best seller") and unsold products after them, so a shop without sales history
// still has something to show.
Result<std::vector<int64_t>> top_seller_candidates(Tx& tx, const Context& c) {
  std::vector<int64_t> out;
  for (const Row& r : AG_TRY(tx.query(
           "SELECT p.product_id, COALESCE(s.n, 0) AS n FROM catalog_products p LEFT JOIN "
           "(SELECT l.product_id, SUM(l.quantity) AS n FROM orders o JOIN order_lines l ON "
           "l.order_row_id = o.id WHERE o.shop_id = ? AND o.received_at_ms >= ? AND "
           "l.product_id IS NOT NULL GROUP BY l.product_id) s ON s.product_id = p.product_id "
           "WHERE p.shop_id = ? AND p.deleted = 0 AND p.status = 'active' AND EXISTS (SELECT 1 "
           "FROM catalog_variants v WHERE v.product_row_id = p.id AND v.available = 1) "
           "ORDER BY n DESC, p.product_id LIMIT ?",
           {c.request.shop_id, c.request.now_ms - kTopSellerWindowMs, c.request.shop_id,
            c.limit()}))) {
    out.push_back(r.i64(0));
  }
  return out;
}

}  // namespace

Result<std::vector<RecommendedItem>> recommend(Tx& tx, const RecommendationRequest& request) {
  if (request.count <= 0) return std::vector<RecommendedItem>();
  auto shop =
      AG_TRY(tx.query_one("SELECT domain, currency FROM shops WHERE id = ?", {request.shop_id}));
  if (!shop) return std::vector<RecommendedItem>();
  Context c{request, shop->text(0), std::nullopt, {}, {}};
  if (!shop->is_null(1) && !shop->text(1).empty()) c.currency = shop->text(1);

  const std::set<int64_t> basis(request.basis_product_ids.begin(), request.basis_product_ids.end());
  c.never = basis;
  c.never.insert(request.exclude_product_ids.begin(), request.exclude_product_ids.end());

  if (!basis.empty()) {
    AG_CHECK(take(tx, c, AG_TRY(rule_candidates(tx, c, basis)), "rule"));
    if (!c.full())
      AG_CHECK(take(tx, c, AG_TRY(co_purchase_candidates(tx, c, basis)), "co_purchase"));
  }
  if (!c.full()) AG_CHECK(take(tx, c, AG_TRY(top_seller_candidates(tx, c)), "top_seller"));
  return std::move(c.items);
}

}  // namespace afterglow::email
