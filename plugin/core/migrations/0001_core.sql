-- Shared records that several modules read: shops, customers, orders, suppressions; and the
-- durable job queue. Times are integer milliseconds since the epoch (UTC), set from the Clock.
-- Platform ids are 64-bit integers (BIGINT), never floating point.

CREATE TABLE shops (
  id INTEGER PRIMARY KEY,
  domain TEXT NOT NULL UNIQUE,               -- {name}.myshopify.com
  platform_shop_id BIGINT,
  state TEXT NOT NULL DEFAULT 'installed',   -- installed | uninstalled | redacted
  installed_at_ms BIGINT NOT NULL,
  uninstalled_at_ms BIGINT,
  access_token_enc TEXT,                     -- AES-256-GCM, see the install module
  refresh_token_enc TEXT,
  access_token_expires_at_ms BIGINT,
  refresh_token_expires_at_ms BIGINT,
  scopes TEXT,
  hash_salt TEXT NOT NULL,                   -- salts suppression hashes that outlive redaction
  settings TEXT NOT NULL DEFAULT '{}'
);

CREATE TABLE customers (
  id INTEGER PRIMARY KEY,
  shop_id BIGINT NOT NULL REFERENCES shops(id) ON DELETE CASCADE,
  customer_id BIGINT NOT NULL,
  email TEXT,
  phone TEXT,
  first_name TEXT,
  last_name TEXT,
  tags TEXT,
  updated_at_ms BIGINT NOT NULL,
  UNIQUE (shop_id, customer_id)
);

CREATE TABLE orders (
  id INTEGER PRIMARY KEY,
  shop_id BIGINT NOT NULL REFERENCES shops(id) ON DELETE CASCADE,
  order_id BIGINT NOT NULL,
  name TEXT,
  customer_id BIGINT,
  email TEXT,
  phone TEXT,
  currency TEXT NOT NULL,
  presentment_currency TEXT,
  subtotal_price TEXT,
  total_tax TEXT,
  total_discounts TEXT,
  total_price TEXT NOT NULL,                 -- decimal string as sent, shop currency
  total_price_minor BIGINT NOT NULL,         -- the same in minor units
  presentment_total_price TEXT,
  presentment_total_minor BIGINT,
  financial_status TEXT,
  fulfillment_status TEXT,
  cancelled_at TEXT,
  checkout_token TEXT,
  cart_token TEXT,
  country_code TEXT,
  tags TEXT,
  platform_created_at TEXT,
  platform_updated_at_ms BIGINT NOT NULL,    -- last writer wins on this
  received_at_ms BIGINT NOT NULL,
  UNIQUE (shop_id, order_id)
);
CREATE INDEX orders_customer ON orders(shop_id, customer_id);

CREATE TABLE order_lines (
  id INTEGER PRIMARY KEY,
  order_row_id BIGINT NOT NULL REFERENCES orders(id) ON DELETE CASCADE,
  line_item_id BIGINT NOT NULL,
  product_id BIGINT,
  variant_id BIGINT,
  sku TEXT,
  title TEXT,
  variant_title TEXT,
  quantity BIGINT NOT NULL,
  price TEXT,
  price_minor BIGINT,
  presentment_price TEXT,
  presentment_price_minor BIGINT,
  UNIQUE (order_row_id, line_item_id)
);

-- Who must never be messaged again, by salted hash so it survives customers/redact.
CREATE TABLE suppressions (
  id INTEGER PRIMARY KEY,
  shop_id BIGINT NOT NULL REFERENCES shops(id) ON DELETE CASCADE,
  channel TEXT NOT NULL,                     -- email | sms
  address_hash TEXT NOT NULL,                -- hex HMAC-SHA256(shop salt, normalised address)
  reason TEXT NOT NULL,
  created_at_ms BIGINT NOT NULL,
  UNIQUE (shop_id, channel, address_hash)
);

CREATE TABLE jobs (
  id INTEGER PRIMARY KEY,
  kind TEXT NOT NULL,
  queue TEXT NOT NULL DEFAULT 'default',
  shop_id BIGINT,
  payload TEXT NOT NULL,
  state TEXT NOT NULL DEFAULT 'scheduled',   -- scheduled | running | done | dead | cancelled
  priority BIGINT NOT NULL DEFAULT 0,        -- lower runs first
  run_at_ms BIGINT NOT NULL,
  attempt BIGINT NOT NULL DEFAULT 0,
  max_attempts BIGINT NOT NULL DEFAULT 8,
  lease_owner TEXT,
  lease_expires_at_ms BIGINT,
  unique_key TEXT,
  last_error TEXT,
  created_at_ms BIGINT NOT NULL,
  updated_at_ms BIGINT NOT NULL,
  finished_at_ms BIGINT
);
-- Spans every state: a replayed event must not re-run a finished one-shot job.
CREATE UNIQUE INDEX jobs_unique_key ON jobs(unique_key) WHERE unique_key IS NOT NULL;
CREATE INDEX jobs_due ON jobs(queue, state, run_at_ms);
CREATE INDEX jobs_lease ON jobs(state, lease_expires_at_ms);
CREATE INDEX jobs_shop ON jobs(shop_id, state);
