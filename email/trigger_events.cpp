#include "email/trigger_events.h"

#include <limits>
#include <nlohmann/json.hpp>

#include "plugin/core/money.h"
#include "plugin/core/time_format.h"

namespace afterglow::email {
namespace {

using nlohmann::json;

std::unexpected<Error> invalid(std::string message) {
  return fail(ErrorCode::kInvalidArgument, std::move(message));
}

json parse_object(std::string_view body) {
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  return j.is_object() ? j : json();
}

// An optional 64-bit id. nlohmann keeps integers exact (int64 or uint64); a float would already
// have lost digits, so it is refused rather than rounded.
Result<std::optional<int64_t>> opt_id(const json& obj, const char* key, const std::string& where) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return std::optional<int64_t>();
  if (it->is_number_unsigned()) {
    uint64_t v = it->get<uint64_t>();
    if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return invalid(where + key + " does not fit in 64 bits");
    }
    return std::optional<int64_t>(static_cast<int64_t>(v));
  }
  if (it->is_number_integer()) return std::optional<int64_t>(it->get<int64_t>());
  return invalid(where + key + " must be an integer");
}

Result<int64_t> req_id(const json& obj, const char* key, const std::string& where) {
  auto id = AG_TRY(opt_id(obj, key, where));
  if (!id) return invalid(where + key + " is missing");
  return *id;
}

// Informational text: a value of another type reads as absent.
std::string text(const json* obj, const char* key) {
  if (!obj) return {};
  auto it = obj->find(key);
  return it != obj->end() && it->is_string() ? it->get<std::string>() : std::string();
}
std::string text(const json& obj, const char* key) { return text(&obj, key); }

const json* object(const json* obj, const char* key) {
  if (!obj) return nullptr;
  auto it = obj->find(key);
  return it != obj->end() && it->is_object() ? &*it : nullptr;
}
const json* object(const json& obj, const char* key) { return object(&obj, key); }

std::string first_of(std::initializer_list<std::string> values) {
  for (const std::string& v : values) {
    if (!v.empty()) return v;
  }
  return {};
}

// A platform time: absent or null is nullopt; anything else must be ISO 8601 with an offset.
Result<std::optional<int64_t>> opt_time(const json* obj, const char* key,
                                        const std::string& where) {
  if (!obj) return std::optional<int64_t>();
  auto it = obj->find(key);
  if (it == obj->end() || it->is_null()) return std::optional<int64_t>();
  if (!it->is_string()) return invalid(where + key + " must be a time");
  auto ms = parse_iso8601_ms(it->get<std::string>());
  if (!ms) return invalid(where + key + " is not a time: " + ms.error().message);
  return std::optional<int64_t>(*ms);
}

Result<int64_t> money(const std::string& amount, const std::string& currency,
                      const std::string& field) {
  auto minor = parse_money(amount, currency);
  if (!minor) return invalid(field + ": " + minor.error().message);
  return *minor;
}

void push_unique(std::vector<int64_t>& ids, std::optional<int64_t> id) {
  if (!id) return;
  for (int64_t v : ids) {
    if (v == *id) return;
  }
  ids.push_back(*id);
}

// The first address that names a country: where the order goes (shipping), else who pays.
const json* located_address(const json& holder) {
  for (const char* key : {"shipping_address", "billing_address"}) {
    const json* address = object(holder, key);
    if (address && !text(address, "country_code").empty()) return address;
  }
  return nullptr;
}

// customer.email_marketing_consent, else the boolean accepts_marketing of older API versions.
Result<void> add_email_consent(const json& holder, const std::string& address,
                               std::optional<int64_t> customer_id, std::string_view source,
                               const std::string& where, std::vector<ConsentChange>& out) {
  if (address.empty()) return {};
  ConsentChange change;
  change.channel = AddressChannel::kEmail;
  change.address = address;
  change.customer_id = customer_id;
  change.source = std::string(source);
  if (const json* consent = object(holder, "email_marketing_consent")) {
    auto state = parse_consent_state(text(consent, "state"));
    if (!state) return {};  // a state we do not know says nothing we could act on
    change.state = *state;
    change.opt_in_level = text(consent, "opt_in_level");
    change.collected_at_ms =
        AG_TRY(opt_time(consent, "consent_updated_at", where + "email_marketing_consent."));
    change.detail = "email_marketing_consent.state=" + text(consent, "state");
    out.push_back(std::move(change));
    return {};
  }
  auto accepts = holder.find("accepts_marketing");
  if (accepts == holder.end() || !accepts->is_boolean()) return {};
  change.state = accepts->get<bool>() ? ConsentState::kSubscribed : ConsentState::kNotSubscribed;
  change.opt_in_level = text(holder, "marketing_opt_in_level");
  change.collected_at_ms = AG_TRY(opt_time(&holder, "accepts_marketing_updated_at", where));
  change.detail = std::string("accepts_marketing=") + (accepts->get<bool>() ? "true" : "false");
  out.push_back(std::move(change));
  return {};
}

Result<void> add_sms_consent(const json& holder, const std::string& phone,
                             std::optional<int64_t> customer_id, std::string_view source,
                             std::string_view wording, const std::string& where,
                             std::vector<ConsentChange>& out) {
  const json* consent = object(holder, "sms_marketing_consent");
  if (!consent || phone.empty()) return {};
  auto state = parse_consent_state(text(consent, "state"));
  if (!state) return {};
  ConsentChange change;
  change.channel = AddressChannel::kSms;
  change.address = phone;
  change.customer_id = customer_id;
  change.state = *state;
  change.source = std::string(source);
  // The disclosure is the shop's; it is only evidence of what was agreed to for a subscription.
  if (*state == ConsentState::kSubscribed) change.wording = std::string(wording);
  change.opt_in_level = text(consent, "opt_in_level");
  change.collected_at_ms =
      AG_TRY(opt_time(consent, "consent_updated_at", where + "sms_marketing_consent."));
  change.detail = "sms_marketing_consent.state=" + text(consent, "state");
  if (std::string from = text(consent, "consent_collected_from"); !from.empty()) {
    change.detail += "; consent_collected_from=" + from;
  }
  out.push_back(std::move(change));
  return {};
}

}  // namespace

std::string order_event_key(FlowTrigger trigger, int64_t order_id) {
  return (trigger == FlowTrigger::kOrderFulfilled ? "fulfil:" : "order:") +
         std::to_string(order_id);
}

std::string order_ref(int64_t order_id) { return "order:" + std::to_string(order_id); }

std::string decline_event_key(int64_t order_id, int64_t offer_id) {
  return "decline:" + std::to_string(order_id) + ":" + std::to_string(offer_id);
}

std::string checkout_event_key(std::string_view checkout_token) {
  return "checkout:" + std::string(checkout_token);
}

std::string browse_ref(std::string_view person) { return "browse:" + std::string(person); }

std::string view_event_key(int64_t product_id, int64_t viewed_at_ms, std::string_view person) {
  return "view:" + std::to_string(product_id) + ":" +
         format_iso8601_utc(viewed_at_ms).substr(0, 10) + ":" + std::string(person);
}

std::vector<std::string> split_tags(std::string_view tags) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= tags.size()) {
    size_t end = tags.find(',', start);
    if (end == std::string_view::npos) end = tags.size();
    std::string_view tag = tags.substr(start, end - start);
    while (!tag.empty() && (tag.front() == ' ' || tag.front() == '\t')) tag.remove_prefix(1);
    while (!tag.empty() && (tag.back() == ' ' || tag.back() == '\t')) tag.remove_suffix(1);
    if (!tag.empty()) out.emplace_back(tag);
    start = end + 1;
  }
  return out;
}

Result<OrderEvent> parse_order_event(std::string_view body, FlowTrigger trigger,
                                     std::string_view sms_consent_wording) {
  json j = parse_object(body);
  if (j.is_null()) return invalid("body is not a JSON object");
  OrderEvent o;
  o.order_id = AG_TRY(req_id(j, "id", "order "));
  const std::string where = "order " + std::to_string(o.order_id) + ": ";
  std::string currency = text(j, "currency");
  if (currency.empty()) return invalid(where + "currency is missing");
  std::string total = text(j, "total_price");
  if (total.empty()) return invalid(where + "total_price is missing");

  TriggerEvent& e = o.event;
  e.trigger = trigger;
  e.key = order_event_key(trigger, o.order_id);
  e.ref = order_ref(o.order_id);
  TriggerData& d = e.data;
  d.order_id = o.order_id;
  d.order_name = text(j, "name");
  d.value_minor = AG_TRY(money(total, currency, where + "total_price"));
  d.currency = currency;
  d.checkout_token = text(j, "checkout_token");
  d.cart_token = text(j, "cart_token");
  auto updated = AG_TRY(opt_time(&j, "updated_at", where));
  auto created = AG_TRY(opt_time(&j, "created_at", where));
  e.occurred_at_ms = updated.value_or(created.value_or(0));
  o.cancelled = !text(j, "cancelled_at").empty();

  const json* customer = object(j, "customer");
  if (customer) e.customer_id = AG_TRY(opt_id(*customer, "id", where + "customer."));
  const json* shipping = object(j, "shipping_address");
  const json* billing = object(j, "billing_address");
  if (const json* located = located_address(j)) {
    d.country_code = text(located, "country_code");
    d.province_code = text(located, "province_code");
  }
  e.email = first_of({text(j, "email"), text(customer, "email")});
  e.phone = first_of(
      {text(customer, "phone"), text(shipping, "phone"), text(billing, "phone"), text(j, "phone")});
  d.first_name = first_of(
      {text(customer, "first_name"), text(shipping, "first_name"), text(billing, "first_name")});
  d.last_name = first_of(
      {text(customer, "last_name"), text(shipping, "last_name"), text(billing, "last_name")});
  d.customer_tags = split_tags(text(customer, "tags"));

  auto items = j.find("line_items");
  if (items != j.end() && items->is_array()) {
    for (const json& item : *items) {
      if (!item.is_object()) continue;
      push_unique(d.product_ids, AG_TRY(opt_id(item, "product_id", where + "line_items[].")));
      push_unique(d.variant_ids, AG_TRY(opt_id(item, "variant_id", where + "line_items[].")));
    }
  }

  if (customer) {
    std::string customer_email = first_of({text(customer, "email"), text(j, "email")});
    AG_CHECK(add_email_consent(*customer, customer_email, e.customer_id, kSourceShopifyOrder,
                               where + "customer.", o.consents));
    AG_CHECK(add_sms_consent(*customer, text(customer, "phone"), e.customer_id, kSourceShopifyOrder,
                             sms_consent_wording, where + "customer.", o.consents));
  }
  return o;
}

Result<FulfillmentEvent> parse_fulfillment_event(std::string_view body) {
  json j = parse_object(body);
  if (j.is_null()) return invalid("body is not a JSON object");
  FulfillmentEvent f;
  f.fulfillment_id = AG_TRY(req_id(j, "id", "fulfillment "));
  const std::string where = "fulfillment " + std::to_string(f.fulfillment_id) + ": ";
  f.order_id = AG_TRY(req_id(j, "order_id", where));
  f.status = text(j, "status");
  f.created_at_ms = AG_TRY(opt_time(&j, "created_at", where)).value_or(0);
  return f;
}

Result<std::optional<TriggerEvent>> order_event_from_store(Tx& tx, int64_t shop_id,
                                                           int64_t order_id, FlowTrigger trigger) {
  auto order = AG_TRY(tx.query_one(
      "SELECT id, name, customer_id, email, phone, currency, total_price_minor, checkout_token, "
      "cart_token, country_code, platform_updated_at_ms FROM orders "
      "WHERE shop_id = ? AND order_id = ?",
      {shop_id, order_id}));
  if (!order) return std::optional<TriggerEvent>();
  TriggerEvent e;
  e.trigger = trigger;
  e.key = order_event_key(trigger, order_id);
  e.ref = order_ref(order_id);
  e.customer_id = order->opt_i64(2);
  e.email = order->text(3);
  e.phone = order->text(4);
  e.occurred_at_ms = order->i64(10);
  TriggerData& d = e.data;
  d.order_id = order_id;
  d.order_name = order->text(1);
  d.currency = order->text(5);
  d.value_minor = order->i64(6);
  d.checkout_token = order->text(7);
  d.cart_token = order->text(8);
  d.country_code = order->text(9);

  auto lines = AG_TRY(
      tx.query("SELECT product_id, variant_id FROM order_lines WHERE order_row_id = ? ORDER BY id",
               {order->i64(0)}));
  for (const Row& line : lines) {
    push_unique(d.product_ids, line.opt_i64(0));
    push_unique(d.variant_ids, line.opt_i64(1));
  }

  if (e.customer_id) {
    auto customer =
        AG_TRY(tx.query_one("SELECT email, phone, first_name, last_name, tags FROM customers "
                            "WHERE shop_id = ? AND customer_id = ?",
                            {shop_id, *e.customer_id}));
    if (customer) {
      e.email = first_of({e.email, customer->text(0)});
      e.phone = first_of({customer->text(1), e.phone});
      d.first_name = customer->text(2);
      d.last_name = customer->text(3);
      d.customer_tags = split_tags(customer->text(4));
    }
  }
  return std::optional<TriggerEvent>(std::move(e));
}

Result<CustomerEvent> parse_customer_event(std::string_view body,
                                           std::string_view sms_consent_wording) {
  json j = parse_object(body);
  if (j.is_null()) return invalid("body is not a JSON object");
  CustomerEvent c;
  // customers/* and customers_marketing_consent/update name the customer `id`;
  // customers_email_marketing_consent/update names it `customer_id`.
  c.customer_id = AG_TRY(opt_id(j, "id", "customer "));
  if (!c.customer_id) c.customer_id = AG_TRY(opt_id(j, "customer_id", "customer "));
  const std::string where =
      "customer " + (c.customer_id ? std::to_string(*c.customer_id) : std::string("?")) + ": ";
  c.email = first_of({text(j, "email"), text(j, "email_address")});
  c.phone = text(j, "phone");
  AG_CHECK(add_email_consent(j, c.email, c.customer_id, kSourceShopifyCustomer, where, c.consents));
  AG_CHECK(add_sms_consent(j, c.phone, c.customer_id, kSourceShopifyCustomer, sms_consent_wording,
                           where, c.consents));
  return c;
}

Result<CheckoutEvent> parse_checkout_event(std::string_view body,
                                           std::string_view sms_consent_wording) {
  json j = parse_object(body);
  if (j.is_null()) return invalid("body is not a JSON object");
  CheckoutEvent out;
  CheckoutRecord& c = out.checkout;
  c.token = text(j, "token");
  if (c.token.empty()) return invalid("checkout token is missing");
  const std::string where = "checkout " + c.token + ": ";
  auto updated = AG_TRY(opt_time(&j, "updated_at", where));
  if (!updated) return invalid(where + "updated_at is missing");
  c.updated_at_ms = *updated;
  c.completed_at_ms = AG_TRY(opt_time(&j, "completed_at", where));
  c.currency = first_of({text(j, "currency"), text(j, "presentment_currency")});
  if (c.currency.empty()) return invalid(where + "currency is missing");
  std::string total = text(j, "total_price");
  if (total.empty()) return invalid(where + "total_price is missing");
  c.value_minor = AG_TRY(money(total, c.currency, where + "total_price"));
  c.cart_token = text(j, "cart_token");
  c.recovery_url = text(j, "abandoned_checkout_url");

  const json* customer = object(j, "customer");
  if (customer) c.customer_id = AG_TRY(opt_id(*customer, "id", where + "customer."));
  const json* shipping = object(j, "shipping_address");
  const json* billing = object(j, "billing_address");
  if (const json* located = located_address(j)) {
    c.country_code = text(located, "country_code");
    c.province_code = text(located, "province_code");
  }
  std::string sms_phone = text(j, "sms_marketing_phone");
  c.email = first_of({text(j, "email"), text(customer, "email")});
  c.phone = first_of({text(j, "phone"), sms_phone, text(customer, "phone"), text(shipping, "phone"),
                      text(billing, "phone")});

  auto items = j.find("line_items");
  if (items != j.end() && items->is_array()) {
    for (const json& item : *items) {
      if (!item.is_object()) continue;
      CheckoutItem i;
      i.product_id = AG_TRY(opt_id(item, "product_id", where + "line_items[]."));
      i.variant_id = AG_TRY(opt_id(item, "variant_id", where + "line_items[]."));
      i.quantity = AG_TRY(opt_id(item, "quantity", where + "line_items[].")).value_or(1);
      if (std::string price = text(item, "price"); !price.empty()) {
        i.price_minor = AG_TRY(money(price, c.currency, where + "line_items[].price"));
      }
      c.items.push_back(i);
    }
  }

  auto ticked = [&](const char* key) {
    auto it = j.find(key);
    return it != j.end() && it->is_boolean() && it->get<bool>();
  };
  if (ticked("buyer_accepts_marketing") && !c.email.empty()) {
    ConsentChange change;
    change.channel = AddressChannel::kEmail;
    change.address = c.email;
    change.customer_id = c.customer_id;
    change.state = ConsentState::kSubscribed;
    change.source = std::string(kSourceShopifyCheckout);
    change.opt_in_level = "single_opt_in";  // one box ticked, nothing confirmed
    change.collected_at_ms = c.updated_at_ms;
    change.detail = "buyer_accepts_marketing=true";
    out.consents.push_back(std::move(change));
  }
  if (ticked("buyer_accepts_sms_marketing") && !sms_phone.empty()) {
    ConsentChange change;
    change.channel = AddressChannel::kSms;
    change.address = sms_phone;
    change.customer_id = c.customer_id;
    change.state = ConsentState::kSubscribed;
    change.source = std::string(kSourceShopifyCheckout);
    change.wording = std::string(sms_consent_wording);
    change.opt_in_level = "single_opt_in";
    change.collected_at_ms = c.updated_at_ms;
    change.detail = "buyer_accepts_sms_marketing=true";
    out.consents.push_back(std::move(change));
  }
  return out;
}

std::string checkout_items_to_json(const std::vector<CheckoutItem>& items) {
  json out = json::array();
  for (const CheckoutItem& i : items) {
    json item{{"quantity", i.quantity}, {"price_minor", i.price_minor}};
    item["product_id"] = i.product_id ? json(*i.product_id) : json();
    item["variant_id"] = i.variant_id ? json(*i.variant_id) : json();
    out.push_back(std::move(item));
  }
  return out.dump();
}

std::vector<CheckoutItem> checkout_items_from_json(std::string_view json_text) {
  std::vector<CheckoutItem> out;
  json j = json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_array()) return out;
  auto id = [](const json& item, const char* key) -> std::optional<int64_t> {
    auto it = item.find(key);
    if (it == item.end() || !it->is_number_integer()) return std::nullopt;
    return it->get<int64_t>();
  };
  for (const json& item : j) {
    if (!item.is_object()) continue;
    CheckoutItem i;
    i.product_id = id(item, "product_id");
    i.variant_id = id(item, "variant_id");
    i.quantity = id(item, "quantity").value_or(0);
    i.price_minor = id(item, "price_minor").value_or(0);
    out.push_back(i);
  }
  return out;
}

}  // namespace afterglow::email
