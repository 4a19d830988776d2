#include "plugin/app/demo_catalog.h"

#include <nlohmann/json.hpp>

#include "plugin/core/time_format.h"

namespace afterglow::app {
namespace {

// A square with the product's initial: the demo ships no image files.
std::string tile(const char* colour, char letter) {
  return std::string(
             "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 72 72'%3E"
             "%3Crect width='72' height='72' rx='10' fill='%23") +
         colour +
         "'/%3E%3Ctext x='36' y='47' font-size='32' font-family='sans-serif' fill='white' "
         "text-anchor='middle'%3E" +
         letter + "%3C/text%3E%3C/svg%3E";
}

CatalogVariant variant(int64_t id, std::string title, int position, std::string price,
                       std::optional<std::string> compare_at = std::nullopt) {
  CatalogVariant v;
  v.id = id;
  v.title = std::move(title);
  v.sku = "DEMO-" + std::to_string(id);
  v.position = position;
  v.price = std::move(price);
  v.compare_at_price = std::move(compare_at);
  v.inventory_quantity = 40;
  return v;
}

CatalogProduct product(int64_t id, std::string title, std::string handle,
                       std::vector<std::string> tags, std::string image,
                       std::vector<CatalogVariant> variants, int64_t updated_at_ms) {
  CatalogProduct p;
  p.id = id;
  p.title = std::move(title);
  p.handle = std::move(handle);
  p.status = "active";
  p.tags = std::move(tags);
  p.image_url = std::move(image);
  p.variants = std::move(variants);
  p.updated_at_ms = updated_at_ms;
  return p;
}

}  // namespace

std::vector<CatalogProduct> demo_products(int64_t updated_at_ms) {
  return {
      product(
          kDemoOrderedProductId, "Everyday Tote", "everyday-tote", {"bags"}, tile("b0825a", 'T'),
          {variant(kDemoOrderedVariantId, "Sand", 1, "48.00"), variant(70012, "Black", 2, "48.00")},
          updated_at_ms),
      product(7002, "Merino Socks (3 pairs)", "merino-socks", {"socks", "accessories"},
              tile("5a7bb0", 'S'),
              {variant(70021, "M", 1, "24.00", "30.00"), variant(70022, "L", 2, "24.00", "30.00")},
              updated_at_ms),
      product(7003, "Leather Care Kit", "leather-care-kit", {"care"}, tile("7a5a3c", 'K'),
              {variant(70031, "Default Title", 1, "18.00")}, updated_at_ms),
      product(7004, "Travel Pouch", "travel-pouch", {"bags", "accessories"}, tile("6b8e4e", 'P'),
              {variant(70041, "Olive", 1, "12.00", "16.00")}, updated_at_ms),
  };
}

std::string demo_order_json(int64_t now_ms) {
  using nlohmann::json;
  std::string at = format_iso8601_utc(now_ms);
  auto money = [](const char* amount) {
    return json{{"shop_money", {{"amount", amount}, {"currency_code", kDemoCurrency}}},
                {"presentment_money", {{"amount", amount}, {"currency_code", kDemoCurrency}}}};
  };
  json order = {
      {"id", kDemoOrderId},
      {"name", kDemoOrderName},
      {"email", "jon@example.com"},
      {"currency", kDemoCurrency},
      {"presentment_currency", kDemoCurrency},
      {"subtotal_price", "48.00"},
      {"total_tax", "0.00"},
      {"total_discounts", "0.00"},
      {"total_price", "48.00"},
      {"total_price_set", money("48.00")},
      {"financial_status", "paid"},
      {"created_at", at},
      {"updated_at", at},
      {"customer",
       {{"id", kDemoCustomerId},
        {"email", "jon@example.com"},
        {"first_name", "Jon"},
        {"last_name", "Doe"}}},
      {"line_items", json::array({{{"id", 5550001001001},
                                   {"product_id", kDemoOrderedProductId},
                                   {"variant_id", kDemoOrderedVariantId},
                                   {"title", "Everyday Tote"},
                                   {"variant_title", "Sand"},
                                   {"quantity", 1},
                                   {"price", "48.00"},
                                   {"price_set", money("48.00")}}})},
      {"shipping_address", {{"country_code", "US"}}},
  };
  return order.dump();
}

}  // namespace afterglow::app
