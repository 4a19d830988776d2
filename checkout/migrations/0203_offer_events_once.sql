-- An impression (or a holdout, or an expiry) counts once per order and offer: a reloaded
-- thank-you page adds nothing. Analytics then count impressions as merchants expect (once per
-- order), and a frequent customer's history, which every decision reads, stays small.
DELETE FROM offer_events WHERE kind IN ('impression', 'holdout', 'expire') AND id NOT IN (
  SELECT MIN(id) FROM offer_events WHERE kind IN ('impression', 'holdout', 'expire')
  GROUP BY shop_id, surface, order_key, offer_id, kind);
CREATE UNIQUE INDEX offer_events_once ON offer_events(shop_id, surface, order_key, offer_id, kind)
  WHERE kind IN ('impression', 'holdout', 'expire');
