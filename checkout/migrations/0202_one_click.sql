-- One-click offers at work: what the order was paid with, what was decided and shown, what the
-- shopper answered, and what was charged. Times are integer milliseconds (UTC) from the Clock.

-- The stored payment an upsell charges: the original checkout's PaymentIntent as Stripe reports
-- it (payment_intent.succeeded carrying metadata shop + order_id or checkout_token, see README
-- "Payments"). One row per PaymentIntent; the order id may arrive later than the payment.
CREATE TABLE order_payments (
  id INTEGER PRIMARY KEY,
  shop_id BIGINT NOT NULL REFERENCES shops(id) ON DELETE CASCADE,
  order_id BIGINT,                           -- platform order id, when the metadata names it
  checkout_token TEXT,                       -- or the checkout it paid for
  stripe_account TEXT NOT NULL DEFAULT '',   -- acct_… the payment was made in ('' = platform)
  customer TEXT NOT NULL,                    -- cus_…
  payment_method TEXT NOT NULL,              -- pm_…
  payment_intent TEXT NOT NULL,              -- pi_… of the original payment
  amount_minor BIGINT,
  currency TEXT,
  created_at_ms BIGINT NOT NULL,
  UNIQUE (shop_id, payment_intent)
);
CREATE INDEX order_payments_order ON order_payments(shop_id, order_id);
CREATE INDEX order_payments_checkout ON order_payments(shop_id, checkout_token);

-- Bumped by every offer write, so each process's cache of active offers knows when to reload.
CREATE TABLE offer_versions (
  shop_id BIGINT PRIMARY KEY REFERENCES shops(id) ON DELETE CASCADE,
  version BIGINT NOT NULL
);

-- Every decision the engine made, with the reason when it showed nothing (or fewer than it
-- could): the merchant's "why was no offer shown for order #1001?".
CREATE TABLE offer_decisions (
  id INTEGER PRIMARY KEY,
  shop_id BIGINT NOT NULL REFERENCES shops(id) ON DELETE CASCADE,
  surface TEXT NOT NULL,                     -- post_purchase | thank_you
  order_key TEXT NOT NULL,                   -- platform order id, or the post-purchase referenceId
  customer_id BIGINT,
  shown TEXT NOT NULL,                       -- JSON array of offer ids, best first
  reason TEXT,                               -- stable code when nothing was shown
  detail TEXT NOT NULL,                      -- JSON: per-offer rejections and context
  created_at_ms BIGINT NOT NULL
);
CREATE INDEX offer_decisions_order ON offer_decisions(shop_id, order_key, created_at_ms);
CREATE INDEX offer_decisions_recent ON offer_decisions(shop_id, created_at_ms);

-- Impressions, answers and charge outcomes: what analytics and the email/SMS sequences read
-- (an item accepted or declined here is never pitched again by a follow-up).
CREATE TABLE offer_events (
  id INTEGER PRIMARY KEY,
  shop_id BIGINT NOT NULL REFERENCES shops(id) ON DELETE CASCADE,
  surface TEXT NOT NULL,
  order_key TEXT NOT NULL,
  offer_id BIGINT,
  customer_id BIGINT,
  product_id BIGINT,
  variant_id BIGINT,
  arm TEXT,
  kind TEXT NOT NULL,                        -- impression | accept | decline | expire | holdout |
                                             -- charge_succeeded | charge_declined |
                                             -- charge_requires_action | charge_failed |
                                             -- appended | refunded
  amount_minor BIGINT,
  currency TEXT,
  detail TEXT,
  created_at_ms BIGINT NOT NULL
);
CREATE INDEX offer_events_customer ON offer_events(shop_id, customer_id, kind);
CREATE INDEX offer_events_order ON offer_events(shop_id, order_key, offer_id);
CREATE INDEX offer_events_recent ON offer_events(shop_id, created_at_ms);

-- The shopper's answer to an offer, at most one per (order, offer) and per offer token: the
-- first accept, decline or signed changeset wins and the token is spent. Repeating the same
-- answer with the same token replays its result.
CREATE TABLE offer_responses (
  id INTEGER PRIMARY KEY,
  shop_id BIGINT NOT NULL REFERENCES shops(id) ON DELETE CASCADE,
  order_key TEXT NOT NULL,
  offer_id BIGINT NOT NULL,
  token_id TEXT NOT NULL,                    -- the offer token's jti
  action TEXT NOT NULL,                      -- accept | decline | sign
  created_at_ms BIGINT NOT NULL,
  UNIQUE (shop_id, order_key, offer_id),
  UNIQUE (token_id)
);

-- The charge ledger: one row per (shop, order, offer). charge_key is the row's identity and
-- the stem of Stripe's Idempotency-Key, so a repeated, concurrent or retried accept can only
-- ever reach the same PaymentIntent.
CREATE TABLE charges (
  id INTEGER PRIMARY KEY,
  shop_id BIGINT NOT NULL REFERENCES shops(id) ON DELETE CASCADE,
  order_id BIGINT NOT NULL,
  offer_id BIGINT NOT NULL,
  charge_key TEXT NOT NULL UNIQUE,           -- ag:{shop_id}:{order_id}:{offer_id}
  idempotency_key TEXT NOT NULL,             -- charge_key:pi (Stripe Idempotency-Key)
  customer_id BIGINT,                        -- the shopper (platform customer id), for offer events
  stripe_account TEXT NOT NULL,
  customer TEXT NOT NULL,                    -- cus_… the card belongs to
  payment_method TEXT NOT NULL,
  product_id BIGINT NOT NULL,
  variant_id BIGINT NOT NULL,
  quantity BIGINT NOT NULL,
  amount_minor BIGINT NOT NULL,              -- what is charged (after discount)
  discount_minor BIGINT NOT NULL,            -- off the line, for the order edit
  currency TEXT NOT NULL,
  payment_intent_id TEXT,
  state TEXT NOT NULL,                       -- see checkout/charge_ledger.h
  reason TEXT,                               -- why the state is what it is
  decline_code TEXT,
  message TEXT,                              -- safe to show the shopper
  lease_until_ms BIGINT,                     -- while a request is talking to Stripe
  refund_id TEXT,
  created_at_ms BIGINT NOT NULL,
  updated_at_ms BIGINT NOT NULL,
  UNIQUE (shop_id, order_id, offer_id)
);
CREATE INDEX charges_recent ON charges(shop_id, id);
CREATE INDEX charges_payment_intent ON charges(payment_intent_id);

CREATE TABLE charge_events (
  id INTEGER PRIMARY KEY,
  charge_id BIGINT NOT NULL REFERENCES charges(id) ON DELETE CASCADE,
  state TEXT NOT NULL,
  reason TEXT,
  created_at_ms BIGINT NOT NULL
);
CREATE INDEX charge_events_charge ON charge_events(charge_id, id);
