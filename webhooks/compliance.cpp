#include "webhooks/compliance.h"

#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "plugin/core/catalog.h"
#include "plugin/core/shop_store.h"

namespace afterglow::webhooks {
namespace {

using nlohmann::json;

constexpr const char* kRedactedBody = R"({"redacted":true})";
// Long id lists become several statements so no statement exceeds a driver's parameter limit.
constexpr size_t kIdsPerStatement = 100;

Error invalid(std::string message) {
  return Error{ErrorCode::kInvalidArgument, std::move(message)};
}

// Ids are read as exact integers (they exceed 2^53); a float is refused, never rounded.
Result<std::optional<int64_t>> id_value(const json& v, const std::string& what) {
  if (v.is_null()) return std::optional<int64_t>();
  if (v.is_number_unsigned()) {
    uint64_t u = v.get<uint64_t>();
    if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return std::unexpected(invalid(what + " does not fit in 64 bits"));
    }
    return std::optional<int64_t>(static_cast<int64_t>(u));
  }
  if (v.is_number_integer()) return std::optional<int64_t>(v.get<int64_t>());
  return std::unexpected(invalid(what + " must be an integer"));
}

Result<std::optional<int64_t>> opt_id(const json& obj, const char* key, const std::string& what) {
  auto it = obj.find(key);
  if (it == obj.end()) return std::optional<int64_t>();
  return id_value(*it, what);
}

std::optional<std::string> opt_text(const json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_string() || it->get<std::string>().empty()) return std::nullopt;
  return it->get<std::string>();
}

// Whom a privacy request is about, from the payload.
struct Subject {
  std::optional<int64_t> platform_shop_id;
  std::optional<int64_t> customer_id;
  std::optional<std::string> email;  // normalised
  std::optional<std::string> phone;  // as sent
  std::vector<int64_t> order_ids;    // orders_requested | orders_to_redact
  std::optional<int64_t> data_request_id;
};

Result<Subject> parse_subject(const std::string& body, const char* orders_key) {
  json j = json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return std::unexpected(invalid("body is not a JSON object"));
  Subject s;
  s.platform_shop_id = AG_TRY(opt_id(j, "shop_id", "shop_id"));
  auto c = j.find("customer");
  if (c != j.end() && c->is_object()) {
    s.customer_id = AG_TRY(opt_id(*c, "id", "customer.id"));
    if (auto email = opt_text(*c, "email")) {
      s.email = normalise_address(AddressChannel::kEmail, *email);
    }
    s.phone = opt_text(*c, "phone");
  }
  auto orders = j.find(orders_key);
  if (orders != j.end() && !orders->is_null()) {
    if (!orders->is_array())
      return std::unexpected(invalid(std::string(orders_key) + " is not an array"));
    for (const json& v : *orders) {
      auto id = AG_TRY(id_value(v, std::string(orders_key) + "[]"));
      if (id) s.order_ids.push_back(*id);
    }
  }
  auto request = j.find("data_request");
  if (request != j.end() && request->is_object()) {
    s.data_request_id = AG_TRY(opt_id(*request, "id", "data_request.id"));
  }
  if (!s.customer_id && !s.email && !s.phone) {
    return std::unexpected(invalid("the request names no customer id, email or phone"));
  }
  return s;
}

std::string placeholders(size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) out += i ? ", ?" : "?";
  return out;
}

// The phone as sent and in its normalised form: stored values come from either.
std::vector<std::string> phone_forms(const Subject& s) {
  std::vector<std::string> out;
  if (!s.phone) return out;
  out.push_back(*s.phone);
  std::string n = normalise_address(AddressChannel::kSms, *s.phone);
  if (!n.empty() && n != *s.phone) out.push_back(n);
  return out;
}

// "(customer_id = ? OR lower(email) = ? OR phone IN (?, ?))" for the keys the subject has.
std::string customer_match(const Subject& s, Params& params) {
  std::vector<std::string> terms;
  if (s.customer_id) {
    terms.push_back("customer_id = ?");
    params.push_back(*s.customer_id);
  }
  if (s.email) {
    terms.push_back("lower(email) = ?");
    params.push_back(*s.email);
  }
  auto phones = phone_forms(s);
  if (!phones.empty()) {
    terms.push_back("phone IN (" + placeholders(phones.size()) + ")");
    for (auto& p : phones) params.push_back(p);
  }
  std::string out = "(";
  for (size_t i = 0; i < terms.size(); ++i) out += (i ? " OR " : "") + terms[i];
  return out + ")";
}

// Row ids of the shop's orders that belong to the subject or that the request lists.
Result<std::set<int64_t>> matching_orders(Tx& tx, int64_t shop_id, const Subject& s) {
  std::set<int64_t> rows;
  Params params{shop_id};
  std::string where = customer_match(s, params);
  for (const Row& r :
       AG_TRY(tx.query("SELECT id FROM orders WHERE shop_id = ? AND " + where, params))) {
    rows.insert(r.i64(0));
  }
  for (size_t i = 0; i < s.order_ids.size(); i += kIdsPerStatement) {
    size_t n = std::min(kIdsPerStatement, s.order_ids.size() - i);
    Params p;
    p.reserve(n + 1);
    p.push_back(shop_id);
    for (size_t k = 0; k < n; ++k) {
      // emplace with the type named: push_back(int64_t) trips a GCC 12 false -Wmaybe-uninitialized.
      p.emplace_back(std::in_place_type<int64_t>, s.order_ids[i + k]);
    }
    for (const Row& r : AG_TRY(tx.query(
             "SELECT id FROM orders WHERE shop_id = ? AND order_id IN (" + placeholders(n) + ")",
             p))) {
      rows.insert(r.i64(0));
    }
  }
  return rows;
}

json text_or_null(const Row& r, size_t i) {
  if (r.is_null(i)) return nullptr;
  return r.text(i);
}
json int_or_null(const Row& r, size_t i) {
  if (r.is_null(i)) return nullptr;
  return r.i64(i);
}

// A LIKE pattern matching `text` anywhere, with '!' as the escape character.
std::string contains_pattern(std::string_view text) {
  std::string out = "%";
  for (char c : text) {
    if (c == '%' || c == '_' || c == '!') out.push_back('!');
    out.push_back(c);
  }
  return out + "%";
}

std::string lower_ascii(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

Result<void> redact_current_delivery(Tx& tx, const InboxEvent& event) {
  // State stays as it is: the dispatcher marks this row processed once the handler returns.
  AG_CHECK(tx.exec("UPDATE webhook_inbox SET body = ?, subject_customer_id = NULL WHERE id = ?",
                   {std::string(kRedactedBody), event.inbox_id}));
  return {};
}

// Stored deliveries of the shop that carry the subject's data, other than the current one.
// Three ways in: the subject column intake filled from customer.id; the email or phone appearing
// in the body; and events of a listed order. The last two are found with LIKE (the one portable
// way to search JSON text in both dialects) and, for order ids, confirmed by parsing, since a
// digit string can also occur inside an unrelated number. Phone numbers written in another
// format than the request's are not found this way.
Result<int64_t> redact_deliveries(Tx& tx, const InboxEvent& event, const Subject& s,
                                  int64_t now_ms) {
  const std::string note = "body erased by customers/redact";
  int64_t redacted = 0;
  const std::string set =
      "UPDATE webhook_inbox SET body = ?, state = 'redacted', subject_customer_id = NULL, "
      "note = ?, processed_at_ms = COALESCE(processed_at_ms, ?) ";
  auto redact = [&](int64_t id) -> Result<void> {
    redacted +=
        AG_TRY(tx.exec(set + "WHERE id = ?", {std::string(kRedactedBody), note, now_ms, id}));
    return {};
  };

  if (s.customer_id) {
    redacted +=
        AG_TRY(tx.exec(set + "WHERE shop_domain = ? AND subject_customer_id = ? AND id <> ?",
                       {std::string(kRedactedBody), note, now_ms, event.shop_domain, *s.customer_id,
                        event.inbox_id}));
  }

  std::vector<std::string> needles;  // lower-case substrings that prove the body names them
  if (s.email) needles.push_back(*s.email);
  for (const std::string& p : phone_forms(s)) needles.push_back(lower_ascii(p));
  if (!needles.empty()) {
    Params p{event.shop_domain, event.inbox_id};
    std::string like;
    for (const std::string& n : needles) {
      like += (like.empty() ? "" : " OR ") + std::string("lower(body) LIKE ? ESCAPE '!'");
      p.push_back(contains_pattern(n));
    }
    for (const Row& r :
         AG_TRY(tx.query("SELECT id FROM webhook_inbox WHERE shop_domain = ? AND id <> ? "
                         "AND state <> 'redacted' AND (" +
                             like + ")",
                         p))) {
      AG_CHECK(redact(r.i64(0)));
    }
  }

  const std::set<int64_t> listed(s.order_ids.begin(), s.order_ids.end());
  for (size_t i = 0; i < s.order_ids.size(); i += kIdsPerStatement) {
    size_t n = std::min(kIdsPerStatement, s.order_ids.size() - i);
    Params p{event.shop_domain, event.inbox_id};
    std::string like;
    for (size_t k = 0; k < n; ++k) {
      like += (k ? " OR " : "") + std::string("body LIKE ?");
      p.push_back("%" + std::to_string(s.order_ids[i + k]) + "%");
    }
    for (const Row& r : AG_TRY(
             tx.query("SELECT id, topic, body FROM webhook_inbox WHERE shop_domain = ? AND id <> ? "
                      "AND state <> 'redacted' AND (" +
                          like + ")",
                      p))) {
      json j = json::parse(r.text(2), nullptr, false);
      if (!j.is_object()) continue;
      bool about_listed_order = false;
      // orders/* carry the order as the body ("id"); refunds and fulfillments point at it.
      const char* key = r.text(1).rfind("orders/", 0) == 0 ? "id" : "order_id";
      auto it = j.find(key);
      if (it != j.end()) {
        auto id = id_value(*it, key);
        about_listed_order = id && *id && listed.count(**id) > 0;
      }
      if (about_listed_order) AG_CHECK(redact(r.i64(0)));
    }
  }
  return redacted;
}

}  // namespace

Result<Outcome> handle_customers_data_request(Tx& tx, const InboxEvent& event, const Clock& clock) {
  Subject s = AG_TRY(parse_subject(event.body, "orders_requested"));
  if (!s.data_request_id) return std::unexpected(invalid("data_request.id is missing"));
  const int64_t now = clock.now_ms();
  ShopRecord shop = AG_TRY(ensure_shop(tx, event.shop_domain, now, s.platform_shop_id));
  if (shop.state == kShopRedacted) {
    return Outcome::ignore("shop data was redacted (shop/redact); nothing is held");
  }

  json doc;
  doc["shop_domain"] = shop.domain;
  doc["data_request_id"] = *s.data_request_id;
  doc["customer_id"] = s.customer_id ? json(*s.customer_id) : json(nullptr);
  doc["orders_requested"] = s.order_ids;
  doc["generated_at_ms"] = now;

  // Customer rows, and every address we hold for the customer (for the suppression lookup).
  std::set<std::pair<AddressChannel, std::string>> addresses;
  if (s.email) addresses.insert({AddressChannel::kEmail, *s.email});
  for (const std::string& p : phone_forms(s)) addresses.insert({AddressChannel::kSms, p});
  Params params{shop.id};
  std::string where = customer_match(s, params);
  json customers = json::array();
  for (const Row& r : AG_TRY(
           tx.query("SELECT customer_id, email, phone, first_name, last_name, tags, updated_at_ms "
                    "FROM customers WHERE shop_id = ? AND " +
                        where + " ORDER BY customer_id",
                    params))) {
    customers.push_back({{"customer_id", r.i64(0)},
                         {"email", text_or_null(r, 1)},
                         {"phone", text_or_null(r, 2)},
                         {"first_name", text_or_null(r, 3)},
                         {"last_name", text_or_null(r, 4)},
                         {"tags", text_or_null(r, 5)},
                         {"updated_at_ms", r.i64(6)}});
    if (!r.is_null(1)) addresses.insert({AddressChannel::kEmail, r.text(1)});
    if (!r.is_null(2)) addresses.insert({AddressChannel::kSms, r.text(2)});
  }
  doc["customers"] = std::move(customers);

  json orders = json::array();
  for (int64_t row_id : AG_TRY(matching_orders(tx, shop.id, s))) {
    auto o = AG_TRY(tx.query_one(
        "SELECT order_id, name, customer_id, email, phone, currency, presentment_currency, "
        "subtotal_price, total_tax, total_discounts, total_price, total_price_minor, "
        "presentment_total_price, presentment_total_minor, financial_status, fulfillment_status, "
        "cancelled_at, country_code, tags, platform_created_at, platform_updated_at_ms "
        "FROM orders WHERE id = ?",
        {row_id}));
    if (!o) continue;
    json order = {{"order_id", o->i64(0)},
                  {"name", text_or_null(*o, 1)},
                  {"customer_id", int_or_null(*o, 2)},
                  {"email", text_or_null(*o, 3)},
                  {"phone", text_or_null(*o, 4)},
                  {"currency", o->text(5)},
                  {"presentment_currency", text_or_null(*o, 6)},
                  {"subtotal_price", text_or_null(*o, 7)},
                  {"total_tax", text_or_null(*o, 8)},
                  {"total_discounts", text_or_null(*o, 9)},
                  {"total_price", o->text(10)},
                  {"total_price_minor", o->i64(11)},
                  {"presentment_total_price", text_or_null(*o, 12)},
                  {"presentment_total_minor", int_or_null(*o, 13)},
                  {"financial_status", text_or_null(*o, 14)},
                  {"fulfillment_status", text_or_null(*o, 15)},
                  {"cancelled_at", text_or_null(*o, 16)},
                  {"country_code", text_or_null(*o, 17)},
                  {"tags", text_or_null(*o, 18)},
                  {"created_at", text_or_null(*o, 19)},
                  {"updated_at_ms", o->i64(20)}};
    if (!o->is_null(3)) addresses.insert({AddressChannel::kEmail, o->text(3)});
    if (!o->is_null(4)) addresses.insert({AddressChannel::kSms, o->text(4)});
    json lines = json::array();
    for (const Row& l : AG_TRY(tx.query(
             "SELECT line_item_id, product_id, variant_id, sku, title, variant_title, quantity, "
             "price, price_minor, presentment_price, presentment_price_minor "
             "FROM order_lines WHERE order_row_id = ? ORDER BY line_item_id",
             {row_id}))) {
      lines.push_back({{"line_item_id", l.i64(0)},
                       {"product_id", int_or_null(l, 1)},
                       {"variant_id", int_or_null(l, 2)},
                       {"sku", text_or_null(l, 3)},
                       {"title", text_or_null(l, 4)},
                       {"variant_title", text_or_null(l, 5)},
                       {"quantity", l.i64(6)},
                       {"price", text_or_null(l, 7)},
                       {"price_minor", int_or_null(l, 8)},
                       {"presentment_price", text_or_null(l, 9)},
                       {"presentment_price_minor", int_or_null(l, 10)}});
    }
    order["line_items"] = std::move(lines);
    orders.push_back(std::move(order));
  }
  doc["orders"] = std::move(orders);

  // Suppressions hold only salted hashes, so they are found by hashing what we know.
  json suppressions = json::array();
  std::set<std::pair<std::string, std::string>> seen;  // (channel, hash)
  for (const auto& [channel, address] : addresses) {
    std::string hash = address_hash(shop.hash_salt, channel, address);
    if (!seen.insert({std::string(channel_name(channel)), hash}).second) continue;
    for (const Row& r : AG_TRY(tx.query("SELECT channel, reason, created_at_ms FROM suppressions "
                                        "WHERE shop_id = ? AND channel = ? AND address_hash = ?",
                                        {shop.id, std::string(channel_name(channel)), hash}))) {
      suppressions.push_back(
          {{"channel", r.text(0)}, {"reason", r.text(1)}, {"created_at_ms", r.i64(2)}});
    }
  }
  doc["suppressions"] = std::move(suppressions);

  int64_t deliveries = 0;
  if (s.customer_id) {
    auto row = AG_TRY(tx.query_one(
        "SELECT COUNT(*) FROM webhook_inbox WHERE shop_domain = ? AND subject_customer_id = ? "
        "AND id <> ?",
        {event.shop_domain, *s.customer_id, event.inbox_id}));
    deliveries = row ? row->i64(0) : 0;
  }
  doc["stored_webhook_deliveries"] = deliveries;

  auto inserted = AG_TRY(tx.query_one(
      "INSERT INTO data_exports (shop_id, customer_id, data_request_id, created_at_ms, content) "
      "VALUES (?, ?, ?, ?, ?) ON CONFLICT (shop_id, data_request_id) DO NOTHING RETURNING id",
      {shop.id, s.customer_id ? DbValue{*s.customer_id} : DbValue{}, *s.data_request_id, now,
       doc.dump()}));
  if (!inserted) {
    return Outcome::ignore("an export for data request " + std::to_string(*s.data_request_id) +
                           " is already stored");
  }
  return Outcome::processed("export " + std::to_string(inserted->i64(0)) + " stored with " +
                            std::to_string(doc["orders"].size()) + " order(s)");
}

// What the email module holds about the subject (email/migrations/0302): consent and its
// evidence, enrolments with their step runs, messages, events and log rows, abandoned checkouts
// and product views. Named by table, as above. The suppression list keeps its salted hashes, so
// an address that withdrew is never written to again.
Result<int64_t> redact_messaging(Tx& tx, int64_t shop_id, const Subject& s) {
  int64_t rows = 0;
  // Addresses as email/ stores them (normalised).
  std::vector<std::string> addresses;
  if (s.email) addresses.push_back(normalise_address(AddressChannel::kEmail, *s.email));
  if (s.phone) addresses.push_back(normalise_address(AddressChannel::kSms, *s.phone));

  Params ep{shop_id};
  std::string enrolled = "SELECT id FROM enrolments WHERE shop_id = ? AND " + customer_match(s, ep);
  for (const char* sql :
       {"DELETE FROM message_events WHERE message_id IN (SELECT id FROM messages WHERE "
        "enrolment_id IN (%E))",
        "DELETE FROM attributions WHERE message_id IN (SELECT id FROM messages WHERE "
        "enrolment_id IN (%E))",
        "DELETE FROM messages WHERE enrolment_id IN (%E)",
        "DELETE FROM send_log WHERE enrolment_id IN (%E)",
        "DELETE FROM step_runs WHERE enrolment_id IN (%E)"}) {
    std::string q = sql;
    q.replace(q.find("%E"), 2, enrolled);
    rows += AG_TRY(tx.exec(q, ep));
  }
  rows += AG_TRY(tx.exec("DELETE FROM enrolments WHERE id IN (" + enrolled + ")", ep));

  Params cp{shop_id};
  std::string consent_match = "(";
  if (s.customer_id) {
    consent_match += "customer_id = ?";
    cp.push_back(*s.customer_id);
  }
  if (!addresses.empty()) {
    consent_match += std::string(s.customer_id ? " OR " : "") + "address IN (" +
                     placeholders(addresses.size()) + ")";
    for (const std::string& a : addresses) cp.push_back(a);
  }
  consent_match += ")";
  if (consent_match != "()") {
    rows += AG_TRY(tx.exec("DELETE FROM consent_events WHERE shop_id = ? AND " + consent_match, cp));
    rows += AG_TRY(tx.exec("DELETE FROM consents WHERE shop_id = ? AND " + consent_match, cp));
  }

  Params kp{shop_id};
  rows += AG_TRY(tx.exec("DELETE FROM checkouts WHERE shop_id = ? AND " + customer_match(s, kp), kp));
  Params vp{shop_id};
  std::string view_match = "(";
  if (s.customer_id) {
    view_match += "customer_id = ?";
    vp.push_back(*s.customer_id);
  }
  if (s.email) {
    view_match += std::string(s.customer_id ? " OR " : "") + "lower(email) = ?";
    vp.push_back(*s.email);
  }
  view_match += ")";
  if (view_match != "()") {
    rows += AG_TRY(tx.exec("DELETE FROM product_views WHERE shop_id = ? AND " + view_match, vp));
  }
  return rows;
}

Result<Outcome> handle_customers_redact(Tx& tx, const InboxEvent& event, const Clock& clock) {
  Subject s = AG_TRY(parse_subject(event.body, "orders_to_redact"));
  const int64_t now = clock.now_ms();
  int64_t customers = 0, orders = 0, exports = 0, offer_rows = 0, messaging_rows = 0;

  // No shop row means no customer or order rows either; stored deliveries are still searched.
  auto shop = AG_TRY(find_shop(tx, event.shop_domain));
  if (shop) {
    Params params{shop->id};
    std::string where = customer_match(s, params);
    customers = AG_TRY(tx.exec("DELETE FROM customers WHERE shop_id = ? AND " + where, params));
    // Tokens go too: they tie the order to the buyer's checkout session.
    for (int64_t row_id : AG_TRY(matching_orders(tx, shop->id, s))) {
      orders +=
          AG_TRY(tx.exec("UPDATE orders SET email = NULL, phone = NULL, customer_id = NULL, "
                         "checkout_token = NULL, cart_token = NULL WHERE id = ?",
                         {row_id}));
    }
    // Exports hold the customer's data by design; the one about this customer goes, and so does
    // any export that quotes the email (one requested without a customer id).
    Params ep{shop->id};
    std::string ewhere = "customer_id = ?";
    ep.push_back(s.customer_id ? DbValue{*s.customer_id} : DbValue{});
    if (s.email) {
      ewhere += " OR lower(content) LIKE ? ESCAPE '!'";
      ep.push_back(contains_pattern(*s.email));
    }
    exports =
        AG_TRY(tx.exec("DELETE FROM data_exports WHERE shop_id = ? AND (" + ewhere + ")", ep));
    // What the offer engine recorded about the customer (shown offers, answers, decisions).
    if (s.customer_id) {
      offer_rows += AG_TRY(tx.exec("DELETE FROM offer_events WHERE shop_id = ? AND customer_id = ?",
                                   {shop->id, *s.customer_id}));
      offer_rows +=
          AG_TRY(tx.exec("DELETE FROM offer_decisions WHERE shop_id = ? AND customer_id = ?",
                         {shop->id, *s.customer_id}));
    }
    messaging_rows = AG_TRY(redact_messaging(tx, shop->id, s));
  }
  int64_t deliveries = AG_TRY(redact_deliveries(tx, event, s, now));
  AG_CHECK(redact_current_delivery(tx, event));

  return Outcome::processed("erased: " + std::to_string(customers) + " customer row(s), " +
                            std::to_string(orders) + " order(s), " + std::to_string(exports) +
                            " export(s), " + std::to_string(offer_rows) +
                            " offer decision/event row(s), " + std::to_string(messaging_rows) +
                            " consent/sequence row(s), " + std::to_string(deliveries) +
                            " stored deliveries; suppressions kept as hashes");
}

Result<Outcome> handle_shop_redact(Tx& tx, const InboxEvent& event, const Clock& clock) {
  std::optional<int64_t> platform_shop_id;
  json j = json::parse(event.body, nullptr, false);
  if (j.is_object()) {
    auto id = opt_id(j, "shop_id", "shop_id");
    if (id) platform_shop_id = *id;
  }
  // An unknown shop still gets its tombstone, so a late event cannot re-create it.
  ShopRecord shop = AG_TRY(ensure_shop(tx, event.shop_domain, clock.now_ms(), platform_shop_id));
  const Params id{shop.id};
  // Lines first: cascades are declared, but deleting explicitly does not depend on a driver
  // enforcing foreign keys.
  AG_CHECK(tx.exec(
      "DELETE FROM order_lines WHERE order_row_id IN (SELECT id FROM orders WHERE shop_id = ?)",
      id));
  int64_t orders = AG_TRY(tx.exec("DELETE FROM orders WHERE shop_id = ?", id));
  int64_t customers = AG_TRY(tx.exec("DELETE FROM customers WHERE shop_id = ?", id));
  AG_CHECK(tx.exec("DELETE FROM suppressions WHERE shop_id = ?", id));
  AG_CHECK(tx.exec("DELETE FROM data_exports WHERE shop_id = ?", id));
  AG_CHECK(delete_shop_catalog(tx, shop.id));
  // One-click offers at work (checkout/migrations/0202): answers, events, decisions, the charge
  // ledger (its events first, for the same reason as the lines above), stored payments and the
  // offer cache's version row.
  AG_CHECK(tx.exec("DELETE FROM offer_responses WHERE shop_id = ?", id));
  AG_CHECK(tx.exec("DELETE FROM offer_events WHERE shop_id = ?", id));
  AG_CHECK(tx.exec("DELETE FROM offer_decisions WHERE shop_id = ?", id));
  AG_CHECK(tx.exec(
      "DELETE FROM charge_events WHERE charge_id IN (SELECT id FROM charges WHERE shop_id = ?)",
      id));
  AG_CHECK(tx.exec("DELETE FROM charges WHERE shop_id = ?", id));
  AG_CHECK(tx.exec("DELETE FROM order_payments WHERE shop_id = ?", id));
  AG_CHECK(tx.exec("DELETE FROM offer_versions WHERE shop_id = ?", id));
  // The merchant's configuration (checkout's offers, email's flows) goes too; named here by
  // table so that this module needs none of theirs. One statement each: offers link to offers,
  // and the foreign key is checked when the statement ends.
  AG_CHECK(tx.exec("DELETE FROM offers WHERE shop_id = ?", id));
  // The sequences (email/migrations/0302): what was sent and why, then whom, then the flows.
  for (const char* table : {"message_events", "attributions", "messages", "send_log",
                            "step_runs", "enrolments", "consent_events", "consents", "checkouts",
                            "product_views"}) {
    AG_CHECK(tx.exec(std::string("DELETE FROM ") + table + " WHERE shop_id = ?", id));
  }
  AG_CHECK(tx.exec("DELETE FROM flows WHERE shop_id = ?", id));
  int64_t jobs = AG_TRY(tx.exec("DELETE FROM jobs WHERE shop_id = ?", id));
  int64_t deliveries = AG_TRY(tx.exec("DELETE FROM webhook_inbox WHERE shop_domain = ? AND id <> ?",
                                      {event.shop_domain, event.inbox_id}));
  AG_CHECK(redact_current_delivery(tx, event));
  AG_CHECK(mark_shop_redacted(tx, shop.id));
  return Outcome::processed("shop data deleted: " + std::to_string(orders) + " order(s), " +
                            std::to_string(customers) + " customer(s), " + std::to_string(jobs) +
                            " job(s), " + std::to_string(deliveries) +
                            " stored deliveries; shop row kept as a tombstone");
}

}  // namespace afterglow::webhooks
