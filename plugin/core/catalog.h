// The products cache: each shop's products and variants (price, compare-at price, inventory,
// image, tags, collections) as the offer engine reads them, in catalog_products,
// catalog_variants and catalog_product_collections (migration 0002).
//
// Two writers keep it current:
//   - a full sync over the Admin API (catalog_sync.h) after install, which also learns the
//     shop's currency and each product's collections;
//   - the products/create|update|delete webhooks (apply_product_webhook), whose REST payload
//     carries everything but collections. Webhooks arrive out of order: the product's
//     updated_at decides (last writer wins), and a deleted product stays deleted (the platform
//     never reuses ids).
// Every call runs in the caller's transaction. Pure with respect to the network.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "plugin/core/db.h"

namespace afterglow {

struct CatalogCollection {
  int64_t id = 0;
  std::string title;
};

struct CatalogVariant {
  int64_t id = 0;
  std::string title;
  std::string sku;
  int position = 0;
  std::string price;  // decimal string, shop currency
  std::optional<std::string> compare_at_price;
  std::optional<int64_t> price_minor;  // filled when read back with a known currency
  std::optional<int64_t> compare_at_price_minor;
  std::optional<int64_t> inventory_quantity;
  bool available = true;  // availableForSale
  std::string image_url;
  // inventoryItem.unitCost (decimal string, shop currency); nullopt when the merchant entered
  // none. Minor units filled like price_minor.
  std::optional<std::string> unit_cost;
  std::optional<int64_t> unit_cost_minor;
};

struct CatalogProduct {
  int64_t id = 0;
  std::string title;
  std::string handle;
  std::string status;  // active | draft | archived
  std::vector<std::string> tags;
  std::string image_url;
  std::vector<CatalogCollection> collections;
  bool collections_known = true;  // false: keep the stored ones (webhook payloads)
  bool unit_costs_known = true;   // false: keep each variant's stored cost (webhook payloads)
  std::vector<CatalogVariant> variants;
  int64_t updated_at_ms = 0;  // the platform's updatedAt
  bool deleted = false;
};

// The numeric id at the end of a GID ("gid://shopify/Product/123" -> 123); nullopt otherwise.
std::optional<int64_t> gid_number(std::string_view gid);
std::string product_gid(int64_t id);
std::string variant_gid(int64_t id);

// Writes `product` for the shop when it is at least as new as the stored row (by updated_at) and
// the stored row is not deleted, unless `force` (a full sync: the platform's current state wins
// over anything). Replaces its variants (and collections, when known). Minor units are computed
// from `currency` when given. `synced_at_ms` marks the row for the full-sync sweep. Returns false
// when the stored row won.
Result<bool> upsert_product(Tx& tx, int64_t shop_id, const CatalogProduct& product,
                            std::optional<std::string_view> currency, int64_t synced_at_ms,
                            bool force);

// Marks the product deleted and drops its variants and collections. Creates a tombstone when the
// product was unknown, so an update that arrives after the delete is ignored.
Result<void> delete_product(Tx& tx, int64_t shop_id, int64_t product_id, int64_t now_ms);

// Marks deleted every product of the shop not written since `synced_before_ms` (the start of a
// full sync that saw every live product). Returns how many.
Result<int64_t> sweep_unsynced_products(Tx& tx, int64_t shop_id, int64_t synced_before_ms);

// What a products/* webhook did.
struct ProductWebhookResult {
  bool applied = false;
  bool needs_refresh = false;  // collections unknown for a new product: fetch it over the API
  int64_t product_id = 0;
  std::string note;  // why it was ignored, or what changed
};

// Applies a products/create, products/update or products/delete body (REST shape: id, title,
// handle, status, tags "a, b", updated_at, variants[{id, title, sku, position, price,
// compare_at_price, inventory_quantity, inventory_management, inventory_policy, image_id}],
// images[{id, src}], image{src}). kInvalidArgument for a body without a numeric id (or without
// updated_at for create/update).
Result<ProductWebhookResult> apply_product_webhook(Tx& tx, int64_t shop_id, std::string_view topic,
                                                   std::string_view body, int64_t now_ms);

// Deletes the shop's whole catalog (shop/redact). Returns how many products were removed.
Result<int64_t> delete_shop_catalog(Tx& tx, int64_t shop_id);

// The shop's currency as learned by a sync (shops.currency), or nullopt.
Result<std::optional<std::string>> shop_currency(Tx& tx, int64_t shop_id);
Result<void> set_shop_currency(Tx& tx, int64_t shop_id, std::string_view currency);

// Reads. Deleted products are not returned.
Result<std::optional<CatalogProduct>> load_product(Tx& tx, int64_t shop_id, int64_t product_id);
// The product holding `variant_id` (with all its variants), or nullopt.
Result<std::optional<CatalogProduct>> load_product_of_variant(Tx& tx, int64_t shop_id,
                                                              int64_t variant_id);

}  // namespace afterglow
