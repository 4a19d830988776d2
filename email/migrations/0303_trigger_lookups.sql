-- Lookups the flow triggers make on the core's orders table (email/triggers.cpp): a checkout
-- webhook or the abandoned-checkout sweep asks "has an order with this checkout or cart token
-- arrived already?" (deliveries are unordered), once per checkout. Without these, each question
-- scans the shop's orders.
CREATE INDEX orders_checkout_token ON orders(shop_id, checkout_token);
CREATE INDEX orders_cart_token ON orders(shop_id, cart_token);
