-- Cross-sell sequences as the merchant configures them (email/flow_model.h is the model).
-- The scheduler looks flows up by (shop, trigger, status); the step tree, the trigger filters
-- and the exit conditions are JSON text read whole. `version` goes up on every edit, so an
-- enrolment can tell which definition it started under.
CREATE TABLE flows (
  id INTEGER PRIMARY KEY,
  shop_id BIGINT NOT NULL REFERENCES shops(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  status TEXT NOT NULL,                      -- draft | live | paused
  trigger_kind TEXT NOT NULL,                -- order_paid | order_fulfilled | checkout_abandoned | product_viewed | offer_declined
  trigger_filters TEXT NOT NULL,             -- JSON list of predicates
  steps TEXT NOT NULL,                       -- JSON step tree
  exit_conditions TEXT NOT NULL,             -- JSON list of names
  reentry_cooldown_hours BIGINT NOT NULL,
  version BIGINT NOT NULL DEFAULT 1,
  created_at_ms BIGINT NOT NULL,
  updated_at_ms BIGINT NOT NULL
);
CREATE INDEX flows_shop_trigger ON flows(shop_id, trigger_kind, status);
