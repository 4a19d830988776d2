-- The sequences at run time: consent, enrolments, the steps waiting to run, the messages sent,
-- what recipients did with them, and why a step was skipped or delayed. Times are integer
-- milliseconds since the epoch (UTC), from the Clock. Addresses are normalised
-- (plugin/core/shop_store.h normalise_address: lower-case email, '+' and digits for phones).

-- Consent per channel and address: the current state. Every change is also appended to
-- consent_events, which is the evidence (time, source, wording) a regulator would ask for.
-- SMS needs a row in state 'subscribed' with a wording: "express written consent".
CREATE TABLE consents (
  id INTEGER PRIMARY KEY,
  shop_id BIGINT NOT NULL REFERENCES shops(id) ON DELETE CASCADE,
  channel TEXT NOT NULL,                     -- email | sms
  address TEXT NOT NULL,
  customer_id BIGINT,                        -- platform customer id, when known
  state TEXT NOT NULL,                       -- subscribed | not_subscribed | unsubscribed | pending
  source TEXT NOT NULL,                      -- shopify_customer | shopify_order | sms_keyword | unsubscribe_link | preference_centre | admin | demo
  wording TEXT,                              -- the disclosure agreed to
  opt_in_level TEXT,                         -- single_opt_in | confirmed_opt_in | unknown
  collected_at_ms BIGINT,                    -- when the person agreed or withdrew, as reported
  frequency TEXT NOT NULL DEFAULT 'normal',  -- preference centre: normal | weekly | monthly
  updated_at_ms BIGINT NOT NULL,
  UNIQUE (shop_id, channel, address)
);
CREATE INDEX consents_customer ON consents(shop_id, customer_id);

CREATE TABLE consent_events (
  id INTEGER PRIMARY KEY,
  shop_id BIGINT NOT NULL REFERENCES shops(id) ON DELETE CASCADE,
  channel TEXT NOT NULL,
  address TEXT NOT NULL,
  customer_id BIGINT,
  state TEXT NOT NULL,
  source TEXT NOT NULL,
  wording TEXT,
  detail TEXT,                               -- e.g. the inbound SMS text, the user agent
  at_ms BIGINT NOT NULL
);
CREATE INDEX consent_events_address ON consent_events(shop_id, channel, address);

-- One person in one flow for one triggering event. The unique key is what makes a duplicate
-- trigger (a replayed webhook, a double-submitted checkout) enrol nobody twice.
CREATE TABLE enrolments (
  id INTEGER PRIMARY KEY,
  shop_id BIGINT NOT NULL REFERENCES shops(id) ON DELETE CASCADE,
  flow_id BIGINT NOT NULL REFERENCES flows(id) ON DELETE CASCADE,
  flow_version BIGINT NOT NULL,
  enrolment_key TEXT NOT NULL,               -- order:ID | checkout:TOKEN | view:PRODUCT:DAY | decline:ORDER:OFFER | fulfil:ORDER
  person_key TEXT NOT NULL,                  -- customer:ID, else email:HASH or phone:HASH
  customer_id BIGINT,
  email TEXT,                                -- where to write; NULL: no email channel
  phone TEXT,                                -- E.164; NULL: no SMS channel
  trigger_kind TEXT NOT NULL,
  trigger_ref TEXT,                          -- what cancels it: the checkout or cart token, the order id
  trigger_data TEXT NOT NULL,                -- JSON (email/enrolment.h TriggerData)
  state TEXT NOT NULL,                       -- active | completed | exited | cancelled
  exit_reason TEXT,
  entered_at_ms BIGINT NOT NULL,
  finished_at_ms BIGINT,
  UNIQUE (shop_id, flow_id, enrolment_key)
);
CREATE INDEX enrolments_person ON enrolments(shop_id, person_key, flow_id, entered_at_ms);
CREATE INDEX enrolments_ref ON enrolments(shop_id, trigger_ref);
CREATE INDEX enrolments_customer ON enrolments(shop_id, customer_id);

-- The step an enrolment waits at. One row per (enrolment, step), ever: a step runs at most once
-- per person. Claimed like jobs (lease, fenced completion); a send happens outside the claim
-- transaction, and the messages row written before it is what stops a second send.
CREATE TABLE step_runs (
  id INTEGER PRIMARY KEY,
  shop_id BIGINT NOT NULL REFERENCES shops(id) ON DELETE CASCADE,
  enrolment_id BIGINT NOT NULL REFERENCES enrolments(id) ON DELETE CASCADE,
  step_id TEXT NOT NULL,
  state TEXT NOT NULL,                       -- pending | running | done | cancelled
  due_at_ms BIGINT NOT NULL,
  expires_at_ms BIGINT,                      -- dropped, not sent, after this
  attempt BIGINT NOT NULL DEFAULT 0,
  lease_owner TEXT,
  lease_expires_at_ms BIGINT,
  outcome TEXT,                              -- sent | skipped | exited | expired | failed | unknown | cancelled | advanced
  reason TEXT,
  created_at_ms BIGINT NOT NULL,
  updated_at_ms BIGINT NOT NULL,
  UNIQUE (enrolment_id, step_id)
);
CREATE INDEX step_runs_due ON step_runs(state, due_at_ms, id);
-- Crashed workers' claims, found without reading the pending backlog.
CREATE INDEX step_runs_lease ON step_runs(lease_expires_at_ms) WHERE state = 'running';
CREATE INDEX step_runs_enrolment_state ON step_runs(enrolment_id, state);

-- Every message we tried to send. The unique step_run_id is the send ledger: a step has one
-- message, whatever crashes or lease expiries happen around it.
CREATE TABLE messages (
  id INTEGER PRIMARY KEY,
  shop_id BIGINT NOT NULL REFERENCES shops(id) ON DELETE CASCADE,
  step_run_id BIGINT NOT NULL UNIQUE,
  enrolment_id BIGINT NOT NULL,
  flow_id BIGINT NOT NULL,
  step_id TEXT NOT NULL,
  customer_id BIGINT,
  person_key TEXT NOT NULL,
  channel TEXT NOT NULL,                     -- email | sms
  recipient TEXT NOT NULL,                   -- normalised address (erased on redaction)
  state TEXT NOT NULL,                       -- sending | retry | sent | failed | unknown | delivered | undelivered | bounced
  rfc_message_id TEXT,                       -- email: the Message-ID header
  provider_id TEXT,                          -- SMS: the provider's message sid
  subject TEXT,
  variant TEXT,                              -- the random-split branch taken, if any
  items TEXT,                                -- JSON list of recommended product ids
  links TEXT,                                -- JSON list of destination URLs; click tokens name an index
  segments BIGINT,                           -- SMS segments
  error TEXT,
  created_at_ms BIGINT NOT NULL,
  sent_at_ms BIGINT,
  updated_at_ms BIGINT NOT NULL
);
CREATE INDEX messages_person ON messages(shop_id, person_key, channel, created_at_ms);
CREATE INDEX messages_recipient ON messages(shop_id, channel, recipient);
CREATE INDEX messages_provider ON messages(provider_id);
CREATE INDEX messages_enrolment ON messages(enrolment_id);
CREATE INDEX messages_customer ON messages(shop_id, customer_id);

-- What recipients and providers reported about a message. Opens flagged `machine` (Apple Mail
-- Privacy Protection prefetches, scanners) never drive exits or attribution.
CREATE TABLE message_events (
  id INTEGER PRIMARY KEY,
  shop_id BIGINT NOT NULL REFERENCES shops(id) ON DELETE CASCADE,
  message_id BIGINT NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
  kind TEXT NOT NULL,                        -- click | open | unsubscribe | delivered | undelivered | failed | bounce | complaint
  machine BIGINT NOT NULL DEFAULT 0,         -- 1: probably not a person
  link_index BIGINT,
  dedupe_key TEXT,                           -- provider event identity, e.g. MessageSid:MessageStatus
  detail TEXT,
  at_ms BIGINT NOT NULL
);
CREATE UNIQUE INDEX message_events_dedupe ON message_events(dedupe_key) WHERE dedupe_key IS NOT NULL;
CREATE INDEX message_events_message ON message_events(message_id, kind);

-- Every decision about a step, visible per customer: sent, skipped (with the rule that stopped
-- it), delayed (quiet hours, a retry), exited, failed.
CREATE TABLE send_log (
  id INTEGER PRIMARY KEY,
  shop_id BIGINT NOT NULL REFERENCES shops(id) ON DELETE CASCADE,
  enrolment_id BIGINT NOT NULL,
  step_id TEXT NOT NULL,
  person_key TEXT NOT NULL,
  customer_id BIGINT,
  channel TEXT,
  outcome TEXT NOT NULL,                     -- sent | skipped | delayed | exited | failed | unknown | cancelled
  reason TEXT NOT NULL,                      -- a stable code, e.g. no_consent, frequency_cap, quiet_hours
  detail TEXT,                               -- for people: "last email 3 h ago; the cap is 16 h"
  at_ms BIGINT NOT NULL
);
CREATE INDEX send_log_person ON send_log(shop_id, person_key, at_ms);
CREATE INDEX send_log_customer ON send_log(shop_id, customer_id, at_ms);
CREATE INDEX send_log_enrolment ON send_log(enrolment_id);

-- An order placed within the attribution window of a click counts for that message and flow
-- (last click wins). One row per order.
CREATE TABLE attributions (
  id INTEGER PRIMARY KEY,
  shop_id BIGINT NOT NULL REFERENCES shops(id) ON DELETE CASCADE,
  order_id BIGINT NOT NULL,
  message_id BIGINT NOT NULL,
  flow_id BIGINT NOT NULL,
  revenue_minor BIGINT NOT NULL,
  currency TEXT NOT NULL,
  clicked_at_ms BIGINT NOT NULL,
  at_ms BIGINT NOT NULL,
  UNIQUE (shop_id, order_id)
);
CREATE INDEX attributions_flow ON attributions(shop_id, flow_id);

-- Checkouts seen (checkouts/create|update) until they complete or are abandoned. A sweep enrols
-- the ones still open after the shop's delay; an order with the same token cancels them.
CREATE TABLE checkouts (
  id INTEGER PRIMARY KEY,
  shop_id BIGINT NOT NULL REFERENCES shops(id) ON DELETE CASCADE,
  token TEXT NOT NULL,
  cart_token TEXT,
  customer_id BIGINT,
  email TEXT,
  phone TEXT,
  value_minor BIGINT NOT NULL,
  currency TEXT NOT NULL,
  items TEXT NOT NULL,                       -- JSON [{product_id, variant_id, quantity, price_minor}]
  country_code TEXT,
  province_code TEXT,
  recovery_url TEXT,                         -- abandoned_checkout_url
  platform_updated_at_ms BIGINT NOT NULL,
  completed_at_ms BIGINT,
  order_id BIGINT,
  abandoned_at_ms BIGINT,                    -- when the sweep enrolled it
  updated_at_ms BIGINT NOT NULL,
  UNIQUE (shop_id, token)
);
CREATE INDEX checkouts_open ON checkouts(completed_at_ms, abandoned_at_ms, platform_updated_at_ms);
CREATE INDEX checkouts_cart ON checkouts(shop_id, cart_token);

-- Storefront product views (POST /events/viewed), for the browse flows and recommendations.
CREATE TABLE product_views (
  id INTEGER PRIMARY KEY,
  shop_id BIGINT NOT NULL REFERENCES shops(id) ON DELETE CASCADE,
  customer_id BIGINT,
  email TEXT,
  product_id BIGINT NOT NULL,
  variant_id BIGINT,
  viewed_at_ms BIGINT NOT NULL
);
CREATE INDEX product_views_customer ON product_views(shop_id, customer_id, viewed_at_ms);
