#include "plugin/core/catalog.h"

#include <charconv>
#include <map>
#include <nlohmann/json.hpp>

#include "plugin/core/money.h"
#include "plugin/core/time_format.h"

namespace afterglow {
namespace {

using nlohmann::json;

std::optional<int64_t> minor_units(const std::optional<std::string>& amount,
                                   std::optional<std::string_view> currency) {
  if (!amount || !currency) return std::nullopt;
  auto m = parse_money(*amount, *currency);
  return m ? std::optional<int64_t>(*m) : std::nullopt;
}

DbValue opt_value(const std::optional<int64_t>& v) { return v ? DbValue{*v} : DbValue{}; }
DbValue opt_value(const std::optional<std::string>& v) { return v ? DbValue{*v} : DbValue{}; }
DbValue text_or_null(const std::string& s) { return s.empty() ? DbValue{} : DbValue{s}; }

std::string trim(std::string_view s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return "";
  size_t e = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(b, e - b + 1));
}

// A JSON integer id; the platform's ids exceed 2^53, so only integers are accepted.
std::optional<int64_t> json_id(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end()) return std::nullopt;
  if (it->is_number_integer()) return it->get<int64_t>();
  if (it->is_number_unsigned()) return static_cast<int64_t>(it->get<uint64_t>());
  return std::nullopt;
}

std::string json_text(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return "";
  if (it->is_string()) return it->get<std::string>();
  if (it->is_number()) return it->dump();
  return "";
}

Result<CatalogProduct> read_product_row(Tx& tx, const Row& p, std::optional<std::string> currency) {
  CatalogProduct out;
  const int64_t row_id = p.i64(0);
  out.id = p.i64(1);
  out.title = p.text(2);
  out.handle = p.text(3);
  out.status = p.text(4);
  json tags = json::parse(p.text(5), nullptr, false);
  if (tags.is_array()) {
    for (const json& t : tags) {
      if (t.is_string()) out.tags.push_back(t.get<std::string>());
    }
  }
  out.image_url = p.text(6);
  out.updated_at_ms = p.i64(7);
  out.deleted = p.i64(8) != 0;
  for (const Row& v : AG_TRY(tx.query(
           "SELECT variant_id, title, sku, position, price, price_minor, compare_at_price, "
           "compare_at_price_minor, inventory_quantity, available, image_url, unit_cost, "
           "unit_cost_minor FROM catalog_variants WHERE product_row_id = ? "
           "ORDER BY position, variant_id",
           {row_id}))) {
    CatalogVariant cv;
    cv.id = v.i64(0);
    cv.title = v.text(1);
    cv.sku = v.text(2);
    cv.position = static_cast<int>(v.i64(3));
    cv.price = v.text(4);
    cv.price_minor = v.opt_i64(5);
    cv.compare_at_price = v.opt_text(6);
    cv.compare_at_price_minor = v.opt_i64(7);
    cv.inventory_quantity = v.opt_i64(8);
    cv.available = v.i64(9) != 0;
    cv.image_url = v.text(10);
    cv.unit_cost = v.opt_text(11);
    cv.unit_cost_minor = v.opt_i64(12);
    // Rows written before the currency was known get their minor units now.
    if (!cv.price_minor) cv.price_minor = minor_units(cv.price, currency);
    if (!cv.compare_at_price_minor) {
      cv.compare_at_price_minor = minor_units(cv.compare_at_price, currency);
    }
    if (!cv.unit_cost_minor) cv.unit_cost_minor = minor_units(cv.unit_cost, currency);
    out.variants.push_back(std::move(cv));
  }
  for (const Row& c : AG_TRY(tx.query("SELECT collection_id, collection_title FROM "
                                      "catalog_product_collections WHERE product_row_id = ? "
                                      "ORDER BY collection_id",
                                      {row_id}))) {
    out.collections.push_back({c.i64(0), c.text(1)});
  }
  return out;
}

constexpr const char* kProductColumns =
    "SELECT id, product_id, title, handle, status, tags, image_url, platform_updated_at_ms, "
    "deleted FROM catalog_products ";

}  // namespace

std::optional<int64_t> gid_number(std::string_view gid) {
  size_t slash = gid.rfind('/');
  if (gid.rfind("gid://", 0) != 0 || slash == std::string_view::npos) return std::nullopt;
  std::string_view digits = gid.substr(slash + 1);
  digits = digits.substr(0, digits.find('?'));  // e.g. …/Product/1?variant=2
  int64_t v = 0;
  auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
  if (ec != std::errc() || p != digits.data() + digits.size() || v <= 0) return std::nullopt;
  return v;
}

std::string product_gid(int64_t id) { return "gid://shopify/Product/" + std::to_string(id); }
std::string variant_gid(int64_t id) { return "gid://shopify/ProductVariant/" + std::to_string(id); }

Result<std::optional<std::string>> shop_currency(Tx& tx, int64_t shop_id) {
  auto row = AG_TRY(tx.query_one("SELECT currency FROM shops WHERE id = ?", {shop_id}));
  if (!row || row->is_null(0) || row->text(0).empty()) return std::optional<std::string>();
  return std::optional<std::string>(row->text(0));
}

Result<void> set_shop_currency(Tx& tx, int64_t shop_id, std::string_view currency) {
  AG_CHECK(tx.exec("UPDATE shops SET currency = ? WHERE id = ?", {std::string(currency), shop_id}));
  return {};
}

Result<bool> upsert_product(Tx& tx, int64_t shop_id, const CatalogProduct& product,
                            std::optional<std::string_view> currency, int64_t synced_at_ms,
                            bool force) {
  auto existing = AG_TRY(tx.query_one(
      "SELECT id, platform_updated_at_ms, deleted FROM catalog_products WHERE shop_id = ? AND "
      "product_id = ? FOR UPDATE",
      {shop_id, product.id}));
  if (existing && !force) {
    if (existing->i64(2) != 0) return false;                     // deleted stays deleted
    if (product.updated_at_ms < existing->i64(1)) return false;  // an older event
  }
  json tags = json::array();
  for (const std::string& t : product.tags) tags.push_back(t);
  int64_t row_id = 0;
  const std::string tags_text = tags.dump();
  if (existing) {
    row_id = existing->i64(0);
    AG_CHECK(tx.exec(
        "UPDATE catalog_products SET title = ?, handle = ?, status = ?, tags = ?, image_url = ?, "
        "platform_updated_at_ms = ?, synced_at_ms = ?, deleted = 0 WHERE id = ?",
        {product.title, text_or_null(product.handle), text_or_null(product.status), tags_text,
         text_or_null(product.image_url), product.updated_at_ms, synced_at_ms, row_id}));
  } else {
    auto row = AG_TRY(tx.query_one(
        "INSERT INTO catalog_products (shop_id, product_id, title, handle, status, tags, "
        "image_url, platform_updated_at_ms, synced_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "RETURNING id",
        {shop_id, product.id, product.title, text_or_null(product.handle),
         text_or_null(product.status), tags_text, text_or_null(product.image_url),
         product.updated_at_ms, synced_at_ms}));
    if (!row) return fail(ErrorCode::kInternal, "catalog product insert returned no id");
    row_id = row->i64(0);
  }
  // Webhook payloads carry no unit cost: each variant keeps the one a sync stored.
  std::map<int64_t, std::optional<std::string>> stored_costs;
  if (!product.unit_costs_known) {
    for (const Row& r : AG_TRY(tx.query(
             "SELECT variant_id, unit_cost FROM catalog_variants WHERE product_row_id = ?",
             {row_id}))) {
      stored_costs[r.i64(0)] = r.opt_text(1);
    }
  }
  AG_CHECK(tx.exec("DELETE FROM catalog_variants WHERE product_row_id = ?", {row_id}));
  for (const CatalogVariant& v : product.variants) {
    std::optional<std::string> unit_cost = v.unit_cost;
    if (!product.unit_costs_known) {
      auto it = stored_costs.find(v.id);
      unit_cost = it != stored_costs.end() ? it->second : std::nullopt;
    }
    AG_CHECK(tx.exec(
        "INSERT INTO catalog_variants (shop_id, product_row_id, variant_id, title, sku, "
        "position, price, price_minor, compare_at_price, compare_at_price_minor, "
        "inventory_quantity, available, image_url, unit_cost, unit_cost_minor) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (shop_id, variant_id) DO UPDATE SET product_row_id = excluded.product_row_id, "
        "title = excluded.title, sku = excluded.sku, position = excluded.position, "
        "price = excluded.price, price_minor = excluded.price_minor, "
        "compare_at_price = excluded.compare_at_price, "
        "compare_at_price_minor = excluded.compare_at_price_minor, "
        "inventory_quantity = excluded.inventory_quantity, available = excluded.available, "
        "image_url = excluded.image_url, unit_cost = excluded.unit_cost, "
        "unit_cost_minor = excluded.unit_cost_minor",
        {shop_id, row_id, v.id, text_or_null(v.title), text_or_null(v.sku), int64_t{v.position},
         v.price, opt_value(minor_units(v.price, currency)), opt_value(v.compare_at_price),
         opt_value(minor_units(v.compare_at_price, currency)), opt_value(v.inventory_quantity),
         int64_t{v.available ? 1 : 0}, text_or_null(v.image_url), opt_value(unit_cost),
         opt_value(minor_units(unit_cost, currency))}));
  }
  if (product.collections_known) {
    AG_CHECK(tx.exec("DELETE FROM catalog_product_collections WHERE product_row_id = ?", {row_id}));
    for (const CatalogCollection& c : product.collections) {
      AG_CHECK(tx.exec(
          "INSERT INTO catalog_product_collections (shop_id, product_row_id, collection_id, "
          "collection_title) VALUES (?, ?, ?, ?) ON CONFLICT (product_row_id, collection_id) "
          "DO UPDATE SET collection_title = excluded.collection_title",
          {shop_id, row_id, c.id, text_or_null(c.title)}));
    }
  }
  return true;
}

Result<void> delete_product(Tx& tx, int64_t shop_id, int64_t product_id, int64_t now_ms) {
  auto existing = AG_TRY(tx.query_one(
      "SELECT id FROM catalog_products WHERE shop_id = ? AND product_id = ? FOR UPDATE",
      {shop_id, product_id}));
  if (!existing) {
    AG_CHECK(
        tx.exec("INSERT INTO catalog_products (shop_id, product_id, title, deleted, "
                "platform_updated_at_ms, synced_at_ms) VALUES (?, ?, '', 1, ?, ?) "
                "ON CONFLICT (shop_id, product_id) DO UPDATE SET deleted = 1",
                {shop_id, product_id, now_ms, now_ms}));
    return {};
  }
  int64_t row_id = existing->i64(0);
  AG_CHECK(tx.exec("DELETE FROM catalog_variants WHERE product_row_id = ?", {row_id}));
  AG_CHECK(tx.exec("DELETE FROM catalog_product_collections WHERE product_row_id = ?", {row_id}));
  AG_CHECK(tx.exec("UPDATE catalog_products SET deleted = 1, synced_at_ms = ? WHERE id = ?",
                   {now_ms, row_id}));
  return {};
}

Result<int64_t> sweep_unsynced_products(Tx& tx, int64_t shop_id, int64_t synced_before_ms) {
  auto rows = AG_TRY(
      tx.query("SELECT product_id FROM catalog_products WHERE shop_id = ? AND deleted = 0 AND "
               "synced_at_ms < ?",
               {shop_id, synced_before_ms}));
  for (const Row& r : rows) AG_CHECK(delete_product(tx, shop_id, r.i64(0), synced_before_ms));
  return static_cast<int64_t>(rows.size());
}

Result<int64_t> delete_shop_catalog(Tx& tx, int64_t shop_id) {
  AG_CHECK(tx.exec("DELETE FROM catalog_product_collections WHERE shop_id = ?", {shop_id}));
  AG_CHECK(tx.exec("DELETE FROM catalog_variants WHERE shop_id = ?", {shop_id}));
  return tx.exec("DELETE FROM catalog_products WHERE shop_id = ?", {shop_id});
}

Result<ProductWebhookResult> apply_product_webhook(Tx& tx, int64_t shop_id, std::string_view topic,
                                                   std::string_view body, int64_t now_ms) {
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return fail(ErrorCode::kInvalidArgument, "product body is not JSON");
  auto id = json_id(j, "id");
  if (!id || *id <= 0) return fail(ErrorCode::kInvalidArgument, "product body has no numeric id");
  ProductWebhookResult out;
  out.product_id = *id;
  if (topic == "products/delete") {
    AG_CHECK(delete_product(tx, shop_id, *id, now_ms));
    out.applied = true;
    out.note = "product deleted";
    return out;
  }

  CatalogProduct p;
  p.id = *id;
  p.title = json_text(j, "title");
  p.handle = json_text(j, "handle");
  p.status = json_text(j, "status");
  std::string updated = json_text(j, "updated_at");
  if (updated.empty()) return fail(ErrorCode::kInvalidArgument, "product body has no updated_at");
  p.updated_at_ms = AG_TRY(parse_iso8601_ms(updated));
  std::string tags = json_text(j, "tags");
  for (size_t pos = 0; pos <= tags.size();) {
    size_t comma = tags.find(',', pos);
    if (comma == std::string::npos) comma = tags.size();
    std::string t = trim(std::string_view(tags).substr(pos, comma - pos));
    if (!t.empty()) p.tags.push_back(t);
    pos = comma + 1;
  }
  std::map<int64_t, std::string> images;
  if (auto it = j.find("images"); it != j.end() && it->is_array()) {
    for (const json& img : *it) {
      if (!img.is_object()) continue;
      if (auto img_id = json_id(img, "id")) images[*img_id] = json_text(img, "src");
    }
  }
  if (auto it = j.find("image"); it != j.end() && it->is_object()) {
    p.image_url = json_text(*it, "src");
  }
  if (p.image_url.empty() && !images.empty()) p.image_url = images.begin()->second;
  if (auto it = j.find("variants"); it != j.end() && it->is_array()) {
    for (const json& v : *it) {
      if (!v.is_object()) continue;
      auto vid = json_id(v, "id");
      if (!vid) continue;
      CatalogVariant cv;
      cv.id = *vid;
      cv.title = json_text(v, "title");
      cv.sku = json_text(v, "sku");
      cv.position = static_cast<int>(json_id(v, "position").value_or(0));
      cv.price = json_text(v, "price");
      std::string compare = json_text(v, "compare_at_price");
      if (!compare.empty()) cv.compare_at_price = compare;
      cv.inventory_quantity = json_id(v, "inventory_quantity");
      // Sold out only when the platform tracks stock and does not oversell.
      bool tracked = json_text(v, "inventory_management") == "shopify";
      bool deny = json_text(v, "inventory_policy") != "continue";
      cv.available = !(tracked && deny && cv.inventory_quantity && *cv.inventory_quantity <= 0);
      if (auto image_id = json_id(v, "image_id")) {
        auto img = images.find(*image_id);
        if (img != images.end()) cv.image_url = img->second;
      }
      p.variants.push_back(std::move(cv));
    }
  }
  p.collections_known = false;  // REST product payloads do not name collections
  p.unit_costs_known = false;   // nor unit costs (those live on the inventory item)

  auto known = AG_TRY(tx.query_one(
      "SELECT deleted FROM catalog_products WHERE shop_id = ? AND product_id = ?", {shop_id, *id}));
  auto currency = AG_TRY(shop_currency(tx, shop_id));
  std::optional<std::string_view> cur;
  if (currency) cur = *currency;
  bool written = AG_TRY(upsert_product(tx, shop_id, p, cur, now_ms, /*force=*/false));
  if (!written) {
    out.note =
        known && known->i64(0) != 0 ? "product was deleted" : "older than the stored product";
    return out;
  }
  out.applied = true;
  out.needs_refresh = !known || topic == "products/create";
  out.note = known ? "product updated" : "product added";
  return out;
}

Result<std::optional<CatalogProduct>> load_product(Tx& tx, int64_t shop_id, int64_t product_id) {
  auto row = AG_TRY(tx.query_one(
      std::string(kProductColumns) + "WHERE shop_id = ? AND product_id = ? AND deleted = 0",
      {shop_id, product_id}));
  if (!row) return std::optional<CatalogProduct>();
  auto currency = AG_TRY(shop_currency(tx, shop_id));
  return std::optional<CatalogProduct>(AG_TRY(read_product_row(tx, *row, currency)));
}

Result<std::optional<CatalogProduct>> load_product_of_variant(Tx& tx, int64_t shop_id,
                                                              int64_t variant_id) {
  auto row = AG_TRY(tx.query_one(
      "SELECT p.product_id FROM catalog_variants v JOIN catalog_products p ON "
      "p.id = v.product_row_id WHERE v.shop_id = ? AND v.variant_id = ? AND p.deleted = 0",
      {shop_id, variant_id}));
  if (!row) return std::optional<CatalogProduct>();
  return load_product(tx, shop_id, row->i64(0));
}

}  // namespace afterglow
