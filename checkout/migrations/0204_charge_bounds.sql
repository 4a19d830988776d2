-- Reconciliation of an indeterminate charge has an end (one_click.h): past reconcile_deadline_ms
-- a charge with no PaymentIntent at Stripe is failed (not_charged) and never sent again.
-- reconcile_seq numbers the charge's reconcile jobs; only the newest may act, so a charge has
-- one reconcile loop however many places scheduled one. Rows from before this migration have
-- no deadline and are bounded from their creation time.
ALTER TABLE charges ADD COLUMN reconcile_deadline_ms BIGINT;
ALTER TABLE charges ADD COLUMN reconcile_seq BIGINT NOT NULL DEFAULT 0;

-- The order edit in progress on each order: appends to one order run one at a time, in accept
-- order (charge_fulfilment.h), because two edits open on one order each see the other's line.
-- The lease lets the next charge go ahead if the holder's process died.
CREATE TABLE order_edit_locks (
  shop_id BIGINT NOT NULL REFERENCES shops(id) ON DELETE CASCADE,
  order_id BIGINT NOT NULL,
  charge_id BIGINT NOT NULL,
  lease_until_ms BIGINT NOT NULL,
  PRIMARY KEY (shop_id, order_id)
);
