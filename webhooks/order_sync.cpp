#include "webhooks/order_sync.h"

#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "plugin/core/money.h"
#include "plugin/core/shop_store.h"
#include "plugin/core/time_format.h"

namespace afterglow::webhooks {
namespace {

using nlohmann::json;

Error invalid(std::string message) {
  return Error{ErrorCode::kInvalidArgument, std::move(message)};
}

// An optional 64-bit id. nlohmann keeps integers exact (int64 or uint64), so reading them as
// integers loses nothing; a float would already have lost digits, so it is refused, not rounded.
Result<std::optional<int64_t>> opt_id(const json& obj, const char* key, const std::string& where) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return std::optional<int64_t>();
  if (it->is_number_unsigned()) {
    uint64_t v = it->get<uint64_t>();
    if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return std::unexpected(invalid(where + key + " does not fit in 64 bits"));
    }
    return std::optional<int64_t>(static_cast<int64_t>(v));
  }
  if (it->is_number_integer()) return std::optional<int64_t>(it->get<int64_t>());
  return std::unexpected(invalid(where + key + " must be an integer"));
}

Result<int64_t> req_id(const json& obj, const char* key, const std::string& where) {
  auto id = AG_TRY(opt_id(obj, key, where));
  if (!id) return std::unexpected(invalid(where + key + " is missing"));
  return *id;
}

// Text fields are optional and informational: a value of another type is treated as absent
// rather than refusing the whole order.
std::optional<std::string> opt_text(const json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

const json* opt_object(const json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_object()) return nullptr;
  return &*it;
}

// obj.<set>.presentment_money as {amount, currency_code}, if present.
struct MoneyText {
  std::string amount;
  std::optional<std::string> currency;
};
std::optional<MoneyText> presentment_money(const json& obj, const char* set_key) {
  const json* set = opt_object(obj, set_key);
  if (!set) return std::nullopt;
  const json* money = opt_object(*set, "presentment_money");
  if (!money) return std::nullopt;
  auto amount = opt_text(*money, "amount");
  if (!amount) return std::nullopt;
  return MoneyText{*amount, opt_text(*money, "currency_code")};
}

DbValue value(const std::optional<std::string>& v) {
  if (v) return *v;
  return std::monostate{};
}
DbValue value(const std::optional<int64_t>& v) {
  if (v) return *v;
  return std::monostate{};
}

struct LineItem {
  int64_t line_item_id = 0;
  std::optional<int64_t> product_id, variant_id;
  std::optional<std::string> sku, title, variant_title, price, presentment_price;
  int64_t quantity = 0;
  std::optional<int64_t> price_minor, presentment_price_minor;
};

// A customer field present in the payload, possibly null. Fields the payload leaves out (API
// 2025-01 dropped `tags` from webhook customers) keep their stored value.
struct CustomerField {
  const char* column;
  std::optional<std::string> value;
};

struct Customer {
  int64_t id = 0;
  std::vector<CustomerField> fields;
  int64_t updated_at_ms = 0;
};

struct Order {
  int64_t order_id = 0;
  std::optional<std::string> name, email, phone, presentment_currency, subtotal_price, total_tax,
      total_discounts, presentment_total_price, financial_status, fulfillment_status, cancelled_at,
      checkout_token, cart_token, country_code, tags, created_at;
  std::string currency, total_price;
  int64_t total_price_minor = 0;
  std::optional<int64_t> presentment_total_minor;
  int64_t updated_at_ms = 0;
  std::optional<Customer> customer;
  std::vector<LineItem> lines;
};

Result<Order> parse_order(const std::string& body) {
  json j = json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return std::unexpected(invalid("body is not a JSON object"));

  Order o;
  o.order_id = AG_TRY(req_id(j, "id", "order "));
  const std::string where = "order " + std::to_string(o.order_id) + ": ";
  auto updated_at = opt_text(j, "updated_at");
  if (!updated_at) return std::unexpected(invalid(where + "updated_at is missing"));
  o.updated_at_ms = AG_TRY(parse_iso8601_ms(*updated_at));
  auto currency = opt_text(j, "currency");
  if (!currency) return std::unexpected(invalid(where + "currency is missing"));
  o.currency = *currency;
  auto total = opt_text(j, "total_price");
  if (!total) return std::unexpected(invalid(where + "total_price is missing"));
  o.total_price = *total;
  o.total_price_minor = AG_TRY(parse_money(o.total_price, o.currency));

  o.name = opt_text(j, "name");
  o.email = opt_text(j, "email");
  o.phone = opt_text(j, "phone");
  o.subtotal_price = opt_text(j, "subtotal_price");
  o.total_tax = opt_text(j, "total_tax");
  o.total_discounts = opt_text(j, "total_discounts");
  o.financial_status = opt_text(j, "financial_status");
  o.fulfillment_status = opt_text(j, "fulfillment_status");
  o.cancelled_at = opt_text(j, "cancelled_at");
  o.checkout_token = opt_text(j, "checkout_token");
  o.cart_token = opt_text(j, "cart_token");
  o.tags = opt_text(j, "tags");
  o.created_at = opt_text(j, "created_at");

  // The buyer may pay in another currency than the shop's; both totals are kept.
  o.presentment_currency = opt_text(j, "presentment_currency");
  auto pm = presentment_money(j, "total_price_set");
  if (pm) {
    if (!o.presentment_currency) o.presentment_currency = pm->currency;
    if (pm->currency && o.presentment_currency && *pm->currency != *o.presentment_currency) {
      return std::unexpected(invalid(where + "total_price_set is in " + *pm->currency +
                                     ", presentment_currency is " + *o.presentment_currency));
    }
    if (o.presentment_currency) {
      o.presentment_total_price = pm->amount;
      o.presentment_total_minor = AG_TRY(parse_money(pm->amount, *o.presentment_currency));
    }
  } else if (o.presentment_currency && *o.presentment_currency == o.currency) {
    o.presentment_total_price = o.total_price;
    o.presentment_total_minor = o.total_price_minor;
  }

  // Data minimisation: of the addresses we keep only the country.
  for (const char* key : {"shipping_address", "billing_address"}) {
    if (const json* address = opt_object(j, key)) {
      o.country_code = opt_text(*address, "country_code");
      if (o.country_code) break;
    }
  }

  if (const json* c = opt_object(j, "customer")) {
    Customer customer;
    customer.id = AG_TRY(req_id(*c, "id", where + "customer."));
    for (const char* key : {"email", "phone", "first_name", "last_name", "tags"}) {
      auto it = c->find(key);
      if (it == c->end()) continue;
      customer.fields.push_back(
          {key, it->is_string() ? std::optional(it->get<std::string>()) : std::nullopt});
    }
    customer.updated_at_ms = o.updated_at_ms;
    if (auto cu = opt_text(*c, "updated_at")) {
      customer.updated_at_ms = AG_TRY(parse_iso8601_ms(*cu));
    }
    o.customer = std::move(customer);
  }

  auto items = j.find("line_items");
  if (items != j.end() && !items->is_null()) {
    if (!items->is_array()) return std::unexpected(invalid(where + "line_items is not an array"));
    std::set<int64_t> seen;
    for (const json& item : *items) {
      if (!item.is_object())
        return std::unexpected(invalid(where + "a line item is not an object"));
      LineItem li;
      li.line_item_id = AG_TRY(req_id(item, "id", where + "line_items[]."));
      if (!seen.insert(li.line_item_id).second) {
        return std::unexpected(
            invalid(where + "line item " + std::to_string(li.line_item_id) + " appears twice"));
      }
      const std::string lwhere = where + "line item " + std::to_string(li.line_item_id) + ": ";
      li.product_id = AG_TRY(opt_id(item, "product_id", lwhere));
      li.variant_id = AG_TRY(opt_id(item, "variant_id", lwhere));
      li.quantity = AG_TRY(req_id(item, "quantity", lwhere));
      li.sku = opt_text(item, "sku");
      li.title = opt_text(item, "title");
      li.variant_title = opt_text(item, "variant_title");
      li.price = opt_text(item, "price");
      if (li.price) li.price_minor = AG_TRY(parse_money(*li.price, o.currency));
      auto lpm = presentment_money(item, "price_set");
      std::optional<std::string> lcur =
          lpm && lpm->currency ? lpm->currency : o.presentment_currency;
      if (lpm && lcur) {
        li.presentment_price = lpm->amount;
        li.presentment_price_minor = AG_TRY(parse_money(lpm->amount, *lcur));
      } else if (!lpm && li.price && o.presentment_currency == o.currency) {
        li.presentment_price = li.price;
        li.presentment_price_minor = li.price_minor;
      }
      o.lines.push_back(std::move(li));
    }
  }
  return o;
}

// Last writer wins per customer too: a snapshot older than the stored one changes nothing.
Result<void> upsert_customer(Tx& tx, int64_t shop_id, const Customer& c) {
  std::string set;
  for (const CustomerField& f : c.fields) {
    set += std::string(f.column) + " = excluded." + f.column + ", ";
  }
  set += "updated_at_ms = excluded.updated_at_ms";
  auto field = [&](const char* column) -> DbValue {
    for (const CustomerField& f : c.fields) {
      if (std::string_view(f.column) == column) return value(f.value);
    }
    return std::monostate{};
  };
  AG_CHECK(tx.exec(
      "INSERT INTO customers (shop_id, customer_id, email, phone, first_name, last_name, tags, "
      "updated_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
      "ON CONFLICT (shop_id, customer_id) DO UPDATE SET " +
          set + " WHERE customers.updated_at_ms <= excluded.updated_at_ms",
      {shop_id, c.id, field("email"), field("phone"), field("first_name"), field("last_name"),
       field("tags"), c.updated_at_ms}));
  return {};
}

constexpr const char* kUpsertOrder =
    "INSERT INTO orders (shop_id, order_id, name, customer_id, email, phone, currency, "
    "presentment_currency, subtotal_price, total_tax, total_discounts, total_price, "
    "total_price_minor, presentment_total_price, presentment_total_minor, financial_status, "
    "fulfillment_status, cancelled_at, checkout_token, cart_token, country_code, tags, "
    "platform_created_at, platform_updated_at_ms, received_at_ms) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (shop_id, order_id) DO UPDATE SET name = excluded.name, "
    "customer_id = excluded.customer_id, email = excluded.email, phone = excluded.phone, "
    "currency = excluded.currency, presentment_currency = excluded.presentment_currency, "
    "subtotal_price = excluded.subtotal_price, total_tax = excluded.total_tax, "
    "total_discounts = excluded.total_discounts, total_price = excluded.total_price, "
    "total_price_minor = excluded.total_price_minor, "
    "presentment_total_price = excluded.presentment_total_price, "
    "presentment_total_minor = excluded.presentment_total_minor, "
    "financial_status = excluded.financial_status, "
    "fulfillment_status = excluded.fulfillment_status, cancelled_at = excluded.cancelled_at, "
    "checkout_token = excluded.checkout_token, cart_token = excluded.cart_token, "
    "country_code = excluded.country_code, tags = excluded.tags, "
    "platform_created_at = excluded.platform_created_at, "
    "platform_updated_at_ms = excluded.platform_updated_at_ms, "
    "received_at_ms = excluded.received_at_ms "
    // The guard sits in the statement, not in a prior SELECT, so two workers racing on one
    // order (PostgreSQL, no table lock) still cannot let the older event win.
    "WHERE orders.platform_updated_at_ms <= excluded.platform_updated_at_ms "
    "RETURNING id";

}  // namespace

Result<Outcome> sync_order(Tx& tx, const InboxEvent& event, const Clock& clock) {
  Order o = AG_TRY(parse_order(event.body));

  ShopRecord shop = AG_TRY(ensure_shop(tx, event.shop_domain, clock.now_ms()));
  if (shop.state == kShopUninstalled) return Outcome::ignore("shop is uninstalled");
  if (shop.state == kShopRedacted) return Outcome::ignore("shop data was redacted (shop/redact)");

  std::optional<int64_t> customer_id;
  if (o.customer) customer_id = o.customer->id;
  auto row = AG_TRY(tx.query_one(kUpsertOrder, {shop.id,
                                                o.order_id,
                                                value(o.name),
                                                value(customer_id),
                                                value(o.email),
                                                value(o.phone),
                                                o.currency,
                                                value(o.presentment_currency),
                                                value(o.subtotal_price),
                                                value(o.total_tax),
                                                value(o.total_discounts),
                                                o.total_price,
                                                o.total_price_minor,
                                                value(o.presentment_total_price),
                                                value(o.presentment_total_minor),
                                                value(o.financial_status),
                                                value(o.fulfillment_status),
                                                value(o.cancelled_at),
                                                value(o.checkout_token),
                                                value(o.cart_token),
                                                value(o.country_code),
                                                value(o.tags),
                                                value(o.created_at),
                                                o.updated_at_ms,
                                                event.received_at_ms}));
  if (!row) {
    auto stored = AG_TRY(
        tx.query_one("SELECT platform_updated_at_ms FROM orders WHERE shop_id = ? AND order_id = ?",
                     {shop.id, o.order_id}));
    std::string stored_at = stored ? format_iso8601_utc(stored->i64(0)) : "?";
    return Outcome::ignore("older than the stored order (updated_at " +
                           format_iso8601_utc(o.updated_at_ms) + " < " + stored_at + ")");
  }
  int64_t order_row_id = row->i64(0);

  // The payload lists every line, so the stored lines are replaced, not merged: a line removed
  // by an order edit must disappear here too.
  AG_CHECK(tx.exec("DELETE FROM order_lines WHERE order_row_id = ?", {order_row_id}));
  for (const LineItem& li : o.lines) {
    AG_CHECK(tx.exec(
        "INSERT INTO order_lines (order_row_id, line_item_id, product_id, variant_id, sku, "
        "title, variant_title, quantity, price, price_minor, presentment_price, "
        "presentment_price_minor) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        {order_row_id, li.line_item_id, value(li.product_id), value(li.variant_id), value(li.sku),
         value(li.title), value(li.variant_title), li.quantity, value(li.price),
         value(li.price_minor), value(li.presentment_price), value(li.presentment_price_minor)}));
  }
  if (o.customer) AG_CHECK(upsert_customer(tx, shop.id, *o.customer));

  return Outcome::processed("order " + std::to_string(o.order_id) + " stored with " +
                            std::to_string(o.lines.size()) + " line(s)");
}

}  // namespace afterglow::webhooks
