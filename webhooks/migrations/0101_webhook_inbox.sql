-- Every verified delivery, stored before we answer 200. One row per (source, shop, delivery):
-- the platform's retries of a delivery hit the unique key and change nothing.
CREATE TABLE webhook_inbox (
  id INTEGER PRIMARY KEY,
  source TEXT NOT NULL,                      -- shopify | stripe
  shop_domain TEXT NOT NULL,                 -- '' for Stripe events without a Connect account
  delivery_id TEXT NOT NULL,                 -- X-Shopify-Webhook-Id | Stripe event id
  topic TEXT NOT NULL,                       -- orders/create | payment_intent.succeeded | ...
  api_version TEXT,
  event_id TEXT,                             -- X-Shopify-Event-Id
  triggered_at TEXT,
  subject_customer_id BIGINT,                -- whose personal data the body holds (redaction)
  body TEXT NOT NULL,
  state TEXT NOT NULL DEFAULT 'received',    -- received | processed | ignored | failed | redacted
  note TEXT,                                 -- why ignored, or the last processing error
  received_at_ms BIGINT NOT NULL,
  processed_at_ms BIGINT,
  UNIQUE (source, shop_domain, delivery_id)
);
CREATE INDEX webhook_inbox_subject ON webhook_inbox(shop_domain, subject_customer_id);
CREATE INDEX webhook_inbox_received ON webhook_inbox(received_at_ms);

-- customers/data_request: what we hold for a customer, kept for the merchant to download.
CREATE TABLE data_exports (
  id INTEGER PRIMARY KEY,
  shop_id BIGINT NOT NULL REFERENCES shops(id) ON DELETE CASCADE,
  customer_id BIGINT,
  data_request_id BIGINT,
  created_at_ms BIGINT NOT NULL,
  content TEXT NOT NULL,                     -- JSON document
  UNIQUE (shop_id, data_request_id)
);
