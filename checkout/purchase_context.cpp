#include "checkout/purchase_context.h"

#include <algorithm>
#include <charconv>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>

#include "plugin/core/crypto.h"
#include "plugin/core/money.h"

namespace afterglow::checkout {
namespace {

using nlohmann::json;

std::string lower_ascii(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string upper_ascii(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

std::string trim(std::string_view s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return "";
  size_t e = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(b, e - b + 1));
}

// Shopify sends customer tags as one comma-separated string ("vip, wholesale").
std::vector<std::string> split_tags(std::string_view tags) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos <= tags.size()) {
    size_t comma = tags.find(',', pos);
    if (comma == std::string_view::npos) comma = tags.size();
    std::string t = trim(tags.substr(pos, comma - pos));
    if (!t.empty()) out.push_back(std::move(t));
    pos = comma + 1;
  }
  return out;
}

std::string placeholders(size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) out += i ? ", ?" : "?";
  return out;
}

// The charge states that took, or may still take, the shopper's money for an accepted offer
// (checkout/one_click.h): they count against kMaxAcceptedOffersPerOrder. Declined, failed and
// refunded charges do not.
constexpr const char* kCountedChargeStates =
    "'pending', 'processing', 'requires_action', 'unknown', 'succeeded', 'committing', "
    "'committed', 'appended', 'append_unknown'";

// History of a known customer: products of their other stored orders and how many orders are
// stored; offers shown and items pitched to them on any surface.
Result<void> load_customer_history(Tx& tx, int64_t shop_id, int64_t customer_id,
                                   std::optional<int64_t> this_order_id, PurchaseContext& c,
                                   int64_t& stored_orders) {
  std::set<int64_t> orders;
  for (const Row& r :
       AG_TRY(tx.query("SELECT o.order_id, l.product_id FROM orders o LEFT JOIN order_lines l ON "
                       "l.order_row_id = o.id WHERE o.shop_id = ? AND o.customer_id = ?",
                       {shop_id, customer_id}))) {
    const int64_t order_id = r.i64(0);
    orders.insert(order_id);
    if (order_id != this_order_id && !r.is_null(1)) c.purchased_product_ids.insert(r.i64(1));
  }
  stored_orders = static_cast<int64_t>(orders.size());
  // DISTINCT: a page reloaded a hundred times leaves a hundred impressions, one fact.
  for (const Row& r : AG_TRY(tx.query(
           "SELECT DISTINCT kind, offer_id, product_id FROM offer_events WHERE shop_id = ? AND "
           "customer_id = ? AND kind IN ('impression', 'accept', 'decline', 'charge_succeeded')",
           {shop_id, customer_id}))) {
    const std::string kind = r.text(0);
    if (kind == "impression") {
      if (!r.is_null(1)) c.shown_offer_ids.insert(r.i64(1));
    } else if (!r.is_null(2)) {
      c.pitched_product_ids.insert(r.i64(2));
    }
  }
  return {};
}

// This order's answers so far (events recorded under `order_key`); returns how many distinct
// offers were accepted.
Result<int> load_order_answers(Tx& tx, int64_t shop_id, const std::string& order_key,
                               PurchaseContext& c) {
  std::set<int64_t> accepted;
  for (const Row& r : AG_TRY(tx.query(
           "SELECT DISTINCT kind, offer_id FROM offer_events WHERE shop_id = ? AND "
           "order_key = ? AND kind IN ('accept', 'decline')",
           {shop_id, order_key}))) {
    if (r.is_null(1)) continue;
    c.answered_offer_ids.insert(r.i64(1));
    if (r.text(0) == "accept") accepted.insert(r.i64(1));
  }
  return static_cast<int>(accepted.size());
}

// Tags (lower-cased) and collections of the ordered products, from the catalogue: one read.
Result<void> load_line_catalog_facts(Tx& tx, int64_t shop_id, PurchaseContext& c) {
  std::set<int64_t> products;
  for (const PurchasedLine& l : c.lines) {
    if (l.product_id > 0) products.insert(l.product_id);
  }
  if (products.empty()) return {};
  Params p{shop_id};
  for (int64_t id : products) p.emplace_back(std::in_place_type<int64_t>, id);
  std::set<int64_t> tags_read;
  for (const Row& r : AG_TRY(tx.query(
           "SELECT p.product_id, p.tags, c.collection_id FROM catalog_products p LEFT JOIN "
           "catalog_product_collections c ON c.product_row_id = p.id WHERE p.shop_id = ? AND "
           "p.deleted = 0 AND p.product_id IN (" +
               placeholders(products.size()) + ")",
           p))) {
    if (tags_read.insert(r.i64(0)).second) {
      json tags = json::parse(r.text(1), nullptr, false);
      if (tags.is_array()) {
        for (const json& t : tags) {
          if (t.is_string()) c.line_product_tags.insert(lower_ascii(t.get<std::string>()));
        }
      }
    }
    if (!r.is_null(2)) c.line_collection_ids.insert(r.i64(2));
  }
  return {};
}

Error invalid(std::string message) {
  return Error{ErrorCode::kInvalidArgument, std::move(message)};
}

// An id as the post-purchase API sends it: a JSON integer (ids exceed 2^53, so never a float), a
// decimal string, or a GID ("gid://shopify/Customer/123").
Result<std::optional<int64_t>> input_id(const json& obj, const char* key, const std::string& path) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return std::optional<int64_t>();
  if (it->is_number_unsigned()) {
    uint64_t v = it->get<uint64_t>();
    if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return std::unexpected(invalid(path + key + " does not fit in 64 bits"));
    }
    return std::optional<int64_t>(static_cast<int64_t>(v));
  }
  if (it->is_number_integer()) return std::optional<int64_t>(it->get<int64_t>());
  if (it->is_string()) {
    std::string_view s = it->get_ref<const std::string&>();
    if (s.starts_with("gid://")) {
      if (auto n = gid_number(s)) return std::optional<int64_t>(*n);
    } else {
      int64_t v = 0;
      auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
      if (ec == std::errc() && p == s.data() + s.size() && v > 0) return std::optional<int64_t>(v);
    }
  }
  return std::unexpected(invalid(path + key + " must be an integer id"));
}

const json* object_at(const json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_object()) return nullptr;
  return &*it;
}

std::string text_at(const json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_string()) return "";
  return it->get<std::string>();
}

// A MoneyBag's shopMoney amount in minor units of `currency`, or nullopt when absent.
Result<std::optional<int64_t>> shop_money(const json& obj, const std::string& path,
                                          const std::string& currency) {
  const json* set = object_at(obj, "totalPriceSet");
  if (!set) return std::optional<int64_t>();
  const json* money = object_at(*set, "shopMoney");
  if (!money) return std::optional<int64_t>();
  auto it = money->find("amount");
  if (it == money->end() || it->is_null()) return std::optional<int64_t>();
  // Amounts are decimal strings; a JSON number is accepted through its text when it is integral.
  std::string amount = it->is_string() ? it->get<std::string>() : it->dump();
  auto minor = parse_money(amount, currency);
  if (!minor) {
    return std::unexpected(invalid(
        path + "totalPriceSet.shopMoney.amount is not an amount: " + minor.error().message));
  }
  return std::optional<int64_t>(*minor);
}

}  // namespace

std::string customer_key(std::optional<int64_t> customer_id, std::string_view email,
                         std::string_view order_key) {
  if (customer_id) return "c:" + std::to_string(*customer_id);
  std::string e = lower_ascii(trim(email));
  if (!e.empty()) return "e:" + crypto::to_hex(crypto::sha256(e));
  return "o:" + std::string(order_key);
}

Result<std::optional<PurchaseContext>> load_order_context(Tx& tx, int64_t shop_id,
                                                          int64_t order_id) {
  auto order = AG_TRY(tx.query_one(
      "SELECT o.id, o.customer_id, o.email, o.currency, o.presentment_currency, "
      "o.total_price_minor, o.country_code, c.tags, s.currency FROM orders o "
      "JOIN shops s ON s.id = o.shop_id "
      "LEFT JOIN customers c ON c.shop_id = o.shop_id AND c.customer_id = o.customer_id "
      "WHERE o.shop_id = ? AND o.order_id = ?",
      {shop_id, order_id}));
  if (!order) return std::optional<PurchaseContext>();
  PurchaseContext c;
  c.shop_id = shop_id;
  const std::string order_key = std::to_string(order_id);
  c.customer_id = order->opt_i64(1);
  c.customer_key = customer_key(c.customer_id, order->text(2), order_key);
  c.shop_currency =
      upper_ascii(order->is_null(8) || order->text(8).empty() ? order->text(3) : order->text(8));
  c.presentment_currency =
      upper_ascii(order->is_null(4) || order->text(4).empty() ? order->text(3) : order->text(4));
  c.order_value_minor = order->i64(5);
  c.country = upper_ascii(order->text(6));
  c.customer_tags = split_tags(order->text(7));

  for (const Row& l : AG_TRY(tx.query("SELECT product_id, variant_id, quantity, price_minor FROM "
                                      "order_lines WHERE order_row_id = ? ORDER BY line_item_id",
                                      {order->i64(0)}))) {
    PurchasedLine line;
    line.product_id = l.i64(0);
    line.variant_id = l.i64(1);
    line.quantity = l.i64(2);
    line.unit_price_minor = l.i64(3);
    c.lines.push_back(line);
  }

  if (c.customer_id) {
    int64_t stored = 0;
    AG_CHECK(load_customer_history(tx, shop_id, *c.customer_id, order_id, c, stored));
    c.customer_order_count = std::max<int64_t>(stored, 1);
  }
  const int accept_events = AG_TRY(load_order_answers(tx, shop_id, order_key, c));
  auto charged = AG_TRY(tx.query_one(
      std::string(
          "SELECT COUNT(*) FROM charges WHERE shop_id = ? AND order_id = ? AND state IN (") +
          kCountedChargeStates + ")",
      {shop_id, order_id}));
  const int charges = charged ? static_cast<int>(charged->i64(0)) : 0;
  c.accepted_this_order = std::max(accept_events, charges);
  AG_CHECK(load_line_catalog_facts(tx, shop_id, c));
  return std::optional<PurchaseContext>(std::move(c));
}

Result<PurchaseContext> context_from_post_purchase(Tx& tx, int64_t shop_id,
                                                   const json& input_data) {
  const json* purchase =
      input_data.is_object() ? object_at(input_data, "initialPurchase") : nullptr;
  std::string path = "inputData.initialPurchase.";
  if (!purchase && input_data.is_object() && input_data.contains("referenceId")) {
    purchase = &input_data;
    path = "initialPurchase.";
  }
  if (!purchase) return std::unexpected(invalid("inputData.initialPurchase is missing"));

  PurchaseContext c;
  c.shop_id = shop_id;
  std::string reference;
  if (auto it = purchase->find("referenceId"); it != purchase->end()) {
    if (it->is_string()) reference = it->get<std::string>();
    if (it->is_number_integer() || it->is_number_unsigned()) reference = it->dump();
  }
  if (reference.empty()) return std::unexpected(invalid(path + "referenceId is missing"));
  c.customer_id = AG_TRY(input_id(*purchase, "customerId", path));
  c.customer_key = customer_key(c.customer_id, "", reference);
  c.country = upper_ascii(text_at(*purchase, "destinationCountryCode"));

  // The shopMoney amounts are in the shop's currency; the catalogue knows which one it is, and
  // the input says it too when the catalogue has not learned it yet.
  std::string input_currency;
  std::string presentment;
  if (const json* set = object_at(*purchase, "totalPriceSet")) {
    if (const json* m = object_at(*set, "shopMoney")) input_currency = text_at(*m, "currencyCode");
    if (const json* m = object_at(*set, "presentmentMoney")) {
      presentment = text_at(*m, "currencyCode");
    }
  }
  auto known = AG_TRY(shop_currency(tx, shop_id));
  c.shop_currency = upper_ascii(known ? *known : input_currency);
  c.presentment_currency = upper_ascii(presentment.empty() ? input_currency : presentment);
  const std::string money_currency = c.shop_currency.empty() ? "XXX" : c.shop_currency;

  if (auto it = purchase->find("lineItems"); it != purchase->end() && !it->is_null()) {
    if (!it->is_array()) return std::unexpected(invalid(path + "lineItems must be a list"));
    for (size_t i = 0; i < it->size(); ++i) {
      const json& item = (*it)[i];
      const std::string ipath = path + "lineItems[" + std::to_string(i) + "].";
      if (!item.is_object()) return std::unexpected(invalid(ipath + " must be an object"));
      PurchasedLine line;
      if (const json* product = object_at(item, "product")) {
        line.product_id = AG_TRY(input_id(*product, "id", ipath + "product.")).value_or(0);
        if (const json* variant = object_at(*product, "variant")) {
          line.variant_id =
              AG_TRY(input_id(*variant, "id", ipath + "product.variant.")).value_or(0);
        }
      }
      auto q = item.find("quantity");
      if (q != item.end() && (q->is_number_integer() || q->is_number_unsigned())) {
        line.quantity = q->get<int64_t>();
      }
      if (line.quantity <= 0) {
        return std::unexpected(invalid(ipath + "quantity must be a positive integer"));
      }
      auto total = AG_TRY(shop_money(item, ipath, money_currency));
      if (total) line.unit_price_minor = *total / line.quantity;
      c.lines.push_back(line);
    }
  }
  auto total = AG_TRY(shop_money(*purchase, path, money_currency));
  if (total) {
    c.order_value_minor = *total;
  } else {
    for (const PurchasedLine& l : c.lines) c.order_value_minor += l.unit_price_minor * l.quantity;
  }

  if (c.customer_id) {
    auto tags =
        AG_TRY(tx.query_one("SELECT tags FROM customers WHERE shop_id = ? AND customer_id = ?",
                            {shop_id, *c.customer_id}));
    if (tags) c.customer_tags = split_tags(tags->text(0));
    int64_t stored = 0;
    // The purchase on the page is normally not stored yet (orders/create follows it).
    AG_CHECK(load_customer_history(tx, shop_id, *c.customer_id, std::nullopt, c, stored));
    c.customer_order_count = stored + 1;
  }
  c.accepted_this_order = AG_TRY(load_order_answers(tx, shop_id, reference, c));
  AG_CHECK(load_line_catalog_facts(tx, shop_id, c));
  return c;
}

const std::optional<CatalogProduct>* DbCatalogView::product(int64_t product_id) const {
  auto it = products_.find(product_id);
  if (it != products_.end()) return &it->second;
  ++reads_;
  auto loaded = load_product(tx_, shop_id_, product_id);
  if (!loaded) {
    if (!error_) error_ = loaded.error();
    return &products_.emplace(product_id, std::nullopt).first->second;
  }
  return &products_.emplace(product_id, std::move(*loaded)).first->second;
}

std::optional<CatalogItem> DbCatalogView::item(int64_t product_id,
                                               std::optional<int64_t> variant_id) const {
  if (product_id <= 0 && variant_id) {
    // An offer always names its product; this path serves callers that know only the variant.
    ++reads_;
    auto found = load_product_of_variant(tx_, shop_id_, *variant_id);
    if (!found) {
      if (!error_) error_ = found.error();
      return std::nullopt;
    }
    if (!*found) return std::nullopt;
    product_id = (*found)->id;
    products_.emplace(product_id, std::move(*found));
  }
  const std::optional<CatalogProduct>& p = *product(product_id);
  if (!p || p->variants.empty()) return std::nullopt;
  const CatalogVariant* v = nullptr;
  if (variant_id) {
    for (const CatalogVariant& cv : p->variants) {
      if (cv.id == *variant_id) v = &cv;
    }
    if (!v) return std::nullopt;
  } else {
    // The first available variant by position (variants come sorted); when none is available,
    // the first one, so the offer is rejected as out of stock rather than unknown.
    for (const CatalogVariant& cv : p->variants) {
      if (cv.available) {
        v = &cv;
        break;
      }
    }
    if (!v) v = &p->variants.front();
  }
  CatalogItem item;
  item.product_id = p->id;
  item.variant_id = v->id;
  item.product_title = p->title;
  item.variant_title = v->title;
  item.image_url = v->image_url.empty() ? p->image_url : v->image_url;
  // A product whose status the platform never sent (old webhook payloads) is taken as active.
  item.product_status = p->status.empty() ? "active" : p->status;
  item.available = v->available;
  item.inventory_quantity = v->inventory_quantity;
  item.price_minor = v->price_minor;
  item.compare_at_minor = v->compare_at_price_minor;
  item.unit_cost_minor = v->unit_cost_minor;
  return item;
}

}  // namespace afterglow::checkout
