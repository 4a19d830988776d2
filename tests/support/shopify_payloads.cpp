#include "tests/support/shopify_payloads.h"

#include <nlohmann/json.hpp>

namespace afterglow::testing {
namespace {

constexpr int64_t kShopId = 954889;

nlohmann::json money_set(const std::string& shop_amount, const std::string& shop_currency,
                         const std::string& presentment_amount,
                         const std::string& presentment_currency) {
  return {{"shop_money", {{"amount", shop_amount}, {"currency_code", shop_currency}}},
          {"presentment_money",
           {{"amount", presentment_amount}, {"currency_code", presentment_currency}}}};
}

}  // namespace

std::string order_json(const OrderPayload& o) {
  nlohmann::json j = {
      {"id", o.id},
      {"admin_graphql_api_id", "gid://shopify/Order/" + std::to_string(o.id)},
      {"name", o.name},
      {"email", o.email},
      {"phone", o.phone},
      {"created_at", o.created_at},
      {"updated_at", o.updated_at},
      {"currency", o.currency},
      {"presentment_currency", o.presentment_currency},
      {"subtotal_price", o.total_price},
      {"total_discounts", "0.00"},
      {"total_tax", "0.00"},
      {"total_price", o.total_price},
      {"total_price_set",
       money_set(o.total_price, o.currency, o.presentment_total, o.presentment_currency)},
      {"financial_status", o.financial_status},
      {"fulfillment_status", nullptr},
      {"checkout_token", "ct-" + std::to_string(o.id)},
      {"cart_token", "cart-" + std::to_string(o.id)},
      {"tags", ""},
      {"customer",
       {{"id", o.customer_id},
        {"email", o.email},
        {"phone", o.phone},
        {"first_name", "Jon"},
        {"last_name", "Doe"},
        {"state", "enabled"},
        {"currency", o.currency}}},
      {"line_items",
       nlohmann::json::array({{{"id", o.line_item_id},
                               {"product_id", 632910392},
                               {"variant_id", 808950810},
                               {"sku", "IPOD2008PINK"},
                               {"title", "IPod Nano - 8GB"},
                               {"variant_title", "Pink"},
                               {"quantity", 1},
                               {"price", o.total_price},
                               {"price_set", money_set(o.total_price, o.currency,
                                                       o.presentment_total,
                                                       o.presentment_currency)}}})},
      {"shipping_address", {{"country_code", "US"}}},
  };
  if (!o.note.empty()) j["note"] = o.note;
  return j.dump();
}

std::string data_request_json(const std::string& shop_domain, const CustomerRef& c,
                              int64_t order_id, int64_t request_id) {
  return nlohmann::json{
      {"shop_id", kShopId},
      {"shop_domain", shop_domain},
      {"orders_requested", nlohmann::json::array({order_id})},
      {"customer", {{"id", c.id}, {"email", c.email}, {"phone", c.phone}}},
      {"data_request", {{"id", request_id}}}}
      .dump();
}

std::string customer_redact_json(const std::string& shop_domain, const CustomerRef& c,
                                 int64_t order_id) {
  return nlohmann::json{{"shop_id", kShopId},
                        {"shop_domain", shop_domain},
                        {"customer", {{"id", c.id}, {"email", c.email}, {"phone", c.phone}}},
                        {"orders_to_redact", nlohmann::json::array({order_id})}}
      .dump();
}

std::string shop_redact_json(const std::string& shop_domain) {
  return nlohmann::json{{"shop_id", kShopId}, {"shop_domain", shop_domain}}.dump();
}

std::string app_uninstalled_json(const std::string& shop_domain) {
  return nlohmann::json{{"id", kShopId},
                        {"name", "Example Shop"},
                        {"email", "owner@example.com"},
                        {"domain", "shop.example.com"},
                        {"myshopify_domain", shop_domain}}
      .dump();
}

}  // namespace afterglow::testing
