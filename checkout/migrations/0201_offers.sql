-- Post-purchase offers as the merchant configures them (checkout/offer_model.h is the model).
-- The columns the offer engine filters and sorts on are columns; the nested parts (triggers,
-- A/B arms, exclusions) are JSON text the engine reads whole.
CREATE TABLE offers (
  id INTEGER PRIMARY KEY,
  shop_id BIGINT NOT NULL REFERENCES shops(id) ON DELETE CASCADE,
  kind TEXT NOT NULL,                        -- upsell | cross_sell | downsell
  status TEXT NOT NULL,                      -- active | paused
  title TEXT NOT NULL,
  headline TEXT NOT NULL,
  product_id BIGINT NOT NULL,
  variant_id BIGINT,
  quantity BIGINT NOT NULL,
  discount_type TEXT NOT NULL,               -- none | percent | fixed_amount
  discount_percent_bp BIGINT NOT NULL,       -- hundredths of a percent (1250 = 12.5 %)
  discount_amount_minor BIGINT NOT NULL,     -- shop currency minor units
  free_shipping BIGINT NOT NULL,
  priority BIGINT NOT NULL,                  -- lower is tried first
  catch_all BIGINT NOT NULL,
  after_accept_offer_id BIGINT,
  after_decline_offer_id BIGINT,
  triggers TEXT NOT NULL,                    -- JSON
  ab_test TEXT NOT NULL,                     -- JSON {arms, holdout_share}
  exclusions TEXT NOT NULL,                  -- JSON
  created_at_ms BIGINT NOT NULL,
  updated_at_ms BIGINT NOT NULL,
  -- The target of the composite foreign keys below.
  UNIQUE (shop_id, id),
  -- A funnel link can only name an offer of the same shop: the database refuses anything else,
  -- whatever the code above it does.
  FOREIGN KEY (shop_id, after_accept_offer_id) REFERENCES offers (shop_id, id),
  FOREIGN KEY (shop_id, after_decline_offer_id) REFERENCES offers (shop_id, id)
);
CREATE INDEX offers_shop_priority ON offers(shop_id, status, priority, id);
