-- The shop's products and variants as offers read them (price, compare-at, inventory, image,
-- tags, collections). Filled by a full sync over the Admin API after install
-- (plugin/core/catalog_sync.h) and kept current by the products/create|update|delete webhooks.
-- Prices are the decimal strings the platform sends, in the shop's currency, plus minor units
-- once that currency is known.

ALTER TABLE shops ADD COLUMN currency TEXT;  -- the shop's currency (shop.currencyCode)

CREATE TABLE catalog_products (
  id INTEGER PRIMARY KEY,
  shop_id BIGINT NOT NULL REFERENCES shops(id) ON DELETE CASCADE,
  product_id BIGINT NOT NULL,
  title TEXT NOT NULL,
  handle TEXT,
  status TEXT,                              -- active | draft | archived
  tags TEXT NOT NULL DEFAULT '[]',          -- JSON array of strings
  image_url TEXT,
  deleted BIGINT NOT NULL DEFAULT 0,        -- 1 after products/delete (ids are never reused)
  platform_updated_at_ms BIGINT NOT NULL,   -- last writer wins on this
  synced_at_ms BIGINT NOT NULL,             -- when we last wrote the row (full-sync sweep)
  UNIQUE (shop_id, product_id)
);

CREATE TABLE catalog_variants (
  id INTEGER PRIMARY KEY,
  shop_id BIGINT NOT NULL REFERENCES shops(id) ON DELETE CASCADE,
  product_row_id BIGINT NOT NULL REFERENCES catalog_products(id) ON DELETE CASCADE,
  variant_id BIGINT NOT NULL,
  title TEXT,
  sku TEXT,
  position BIGINT NOT NULL DEFAULT 0,
  price TEXT NOT NULL,
  price_minor BIGINT,                       -- NULL while the shop's currency is unknown
  compare_at_price TEXT,
  compare_at_price_minor BIGINT,
  inventory_quantity BIGINT,                -- NULL when unknown
  available BIGINT NOT NULL DEFAULT 1,      -- availableForSale
  image_url TEXT,
  UNIQUE (shop_id, variant_id)
);
CREATE INDEX catalog_variants_product ON catalog_variants(product_row_id);

CREATE TABLE catalog_product_collections (
  shop_id BIGINT NOT NULL REFERENCES shops(id) ON DELETE CASCADE,
  product_row_id BIGINT NOT NULL REFERENCES catalog_products(id) ON DELETE CASCADE,
  collection_id BIGINT NOT NULL,
  collection_title TEXT,
  PRIMARY KEY (product_row_id, collection_id)
);
CREATE INDEX catalog_collections_by_id ON catalog_product_collections(shop_id, collection_id);
