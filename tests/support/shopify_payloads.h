// Webhook bodies in the platform's REST shape (spec/shopify.md §2.5, §2.8), for tests and load
// generators. Ids above 2^53 are the default on purpose: they must survive as exact integers.
#pragma once

#include <cstdint>
#include <string>

namespace afterglow::testing {

struct OrderPayload {
  int64_t id = 820982911946154508;
  std::string name = "#1001";
  std::string created_at = "2025-04-22T14:30:00-05:00";
  std::string updated_at = "2025-04-22T14:30:00-05:00";
  std::string financial_status = "paid";
  std::string email = "jon@example.com";
  std::string phone = "+15555550123";
  int64_t customer_id = 115310627314723954;
  std::string currency = "USD";
  std::string total_price = "209.00";
  std::string presentment_currency = "EUR";
  std::string presentment_total = "193.50";
  int64_t line_item_id = 866550311766439020;
  std::string note;  // optional filler (e.g. to build a body of a given size)
};

// An orders/create|paid|updated body: the order, its customer and one line item.
std::string order_json(const OrderPayload& order);

struct CustomerRef {
  int64_t id = 115310627314723954;
  std::string email = "jon@example.com";
  std::string phone = "+15555550123";
};

// customers/data_request for `customer`, listing `order_id`, with data_request.id = `request_id`.
std::string data_request_json(const std::string& shop_domain, const CustomerRef& customer,
                              int64_t order_id, int64_t request_id);
// customers/redact for `customer`, listing `order_id` in orders_to_redact.
std::string customer_redact_json(const std::string& shop_domain, const CustomerRef& customer,
                                 int64_t order_id);
// shop/redact.
std::string shop_redact_json(const std::string& shop_domain);
// app/uninstalled: the shop object.
std::string app_uninstalled_json(const std::string& shop_domain);

}  // namespace afterglow::testing
