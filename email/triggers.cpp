#include "email/triggers.h"

#include <map>
#include <nlohmann/json.hpp>
#include <variant>
#include <vector>

#include "email/consent.h"
#include "email/enrolment.h"
#include "email/trigger_events.h"
#include "plugin/core/shop_settings.h"
#include "plugin/core/shop_store.h"

namespace afterglow::email {
namespace {

using nlohmann::json;

// A reload of the product page is not a second look.
constexpr int64_t kViewRepeatMs = 30 * 60 * 1000;

int64_t ms(std::chrono::milliseconds d) { return d.count(); }

DbValue opt(const std::optional<int64_t>& v) { return v ? DbValue(*v) : DbValue(); }
DbValue opt(const std::string& v) { return v.empty() ? DbValue() : DbValue(v); }

struct ShopInfo {
  std::string state;
  std::string salt;
};

Result<std::optional<ShopInfo>> load_shop(Tx& tx, int64_t shop_id) {
  auto row = AG_TRY(tx.query_one("SELECT state, hash_salt FROM shops WHERE id = ?", {shop_id}));
  if (!row) return std::optional<ShopInfo>();
  return std::optional<ShopInfo>(ShopInfo{row->text(0), row->text(1)});
}

// The shop's salt when it is installed; otherwise the outcome that says why nothing happens.
Result<std::variant<ShopInfo, TriggerOutcome>> installed_shop(Tx& tx, int64_t shop_id) {
  auto shop = AG_TRY(load_shop(tx, shop_id));
  if (!shop) return TriggerOutcome::ignore("no shop with id " + std::to_string(shop_id));
  if (shop->state != kShopInstalled) return TriggerOutcome::ignore("shop is " + shop->state);
  return *shop;
}

Result<int> record_consents(Tx& tx, int64_t shop_id, const std::vector<ConsentChange>& changes,
                            int64_t now_ms) {
  int changed = 0;
  for (const ConsentChange& change : changes) {
    if (AG_TRY(record_consent(tx, shop_id, change, now_ms))) ++changed;
  }
  return changed;
}

// What the stored customer knows that the event does not (a logged-in view carries only the id;
// webhook customers lost their tags in API 2025-01).
Result<void> fill_from_customer(Tx& tx, int64_t shop_id, TriggerEvent& e) {
  if (!e.customer_id) return {};
  auto row =
      AG_TRY(tx.query_one("SELECT email, phone, first_name, last_name, tags FROM customers "
                          "WHERE shop_id = ? AND customer_id = ?",
                          {shop_id, *e.customer_id}));
  if (!row) return {};
  if (e.email.empty()) e.email = row->text(0);
  if (e.phone.empty()) e.phone = row->text(1);
  if (e.data.first_name.empty()) e.data.first_name = row->text(2);
  if (e.data.last_name.empty()) e.data.last_name = row->text(3);
  if (e.data.customer_tags.empty()) e.data.customer_tags = split_tags(row->text(4));
  return {};
}

// "entered 1 of 2 flow(s); skipped: cooldown×1" — for the inbox note and the job log.
std::string describe(const std::vector<EnrolmentOutcome>& outcomes) {
  if (outcomes.empty()) return "no live flow";
  int entered = 0;
  std::map<std::string, int> skipped;
  for (const EnrolmentOutcome& o : outcomes) {
    if (o.enrolment_id) {
      ++entered;
    } else {
      ++skipped[o.reason];
    }
  }
  std::string out =
      "entered " + std::to_string(entered) + " of " + std::to_string(outcomes.size()) + " flow(s)";
  if (!skipped.empty()) {
    out += "; skipped:";
    for (const auto& [reason, n] : skipped) out += " " + reason + "×" + std::to_string(n);
  }
  return out;
}

Result<std::optional<int64_t>> stored_order_for_checkout(Tx& tx, int64_t shop_id,
                                                         const std::string& token,
                                                         const std::string& cart_token) {
  auto row = AG_TRY(
      tx.query_one("SELECT order_id FROM orders WHERE shop_id = ? AND (checkout_token = ? OR "
                   "(cart_token = ? AND cart_token <> '')) ORDER BY id LIMIT 1",
                   {shop_id, token, cart_token}));
  if (!row) return std::optional<int64_t>();
  return std::optional<int64_t>(row->i64(0));
}

Result<int64_t> complete_checkout(Tx& tx, int64_t shop_id, const std::string& token,
                                  std::optional<int64_t> order_id, int64_t completed_at_ms,
                                  std::string_view reason, int64_t now_ms) {
  AG_CHECK(
      tx.exec("UPDATE checkouts SET completed_at_ms = COALESCE(completed_at_ms, ?), "
              "order_id = COALESCE(order_id, ?), updated_at_ms = ? WHERE shop_id = ? AND token = ?",
              {completed_at_ms, opt(order_id), now_ms, shop_id, token}));
  return cancel_enrolments(tx, shop_id, token, FlowTrigger::kCheckoutAbandoned, reason, now_ms);
}

// The order closes the checkouts it came from: the one with its checkout token, and every
// checkout of the same cart (a buyer who abandoned one checkout and paid through a new one).
Result<int64_t> close_checkouts_for_order(Tx& tx, int64_t shop_id, int64_t order_id,
                                          const TriggerData& d, int64_t completed_at_ms,
                                          int64_t now_ms) {
  std::vector<std::string> tokens;
  if (!d.checkout_token.empty()) tokens.push_back(d.checkout_token);
  if (!d.cart_token.empty()) {
    auto rows = AG_TRY(tx.query("SELECT token FROM checkouts WHERE shop_id = ? AND cart_token = ?",
                                {shop_id, d.cart_token}));
    for (const Row& r : rows) {
      if (r.text(0) != d.checkout_token) tokens.push_back(r.text(0));
    }
  }
  int64_t cancelled = 0;
  for (const std::string& token : tokens) {
    cancelled +=
        AG_TRY(complete_checkout(tx, shop_id, token, order_id, completed_at_ms, "ordered", now_ms));
  }
  cancelled += AG_TRY(cancel_enrolments(tx, shop_id, d.cart_token, FlowTrigger::kCheckoutAbandoned,
                                        "ordered", now_ms));
  return cancelled;
}

Result<bool> order_cancelled(Tx& tx, int64_t shop_id, int64_t order_id) {
  auto row = AG_TRY(tx.query_one(
      "SELECT cancelled_at FROM orders WHERE shop_id = ? AND order_id = ?", {shop_id, order_id}));
  return row && !row->text(0).empty();
}

// orders/paid and orders/fulfilled: the payload is the whole order.
Result<TriggerOutcome> handle_order(Tx& tx, int64_t shop_id, std::string_view body,
                                    FlowTrigger trigger, int64_t now_ms) {
  auto shop = AG_TRY(installed_shop(tx, shop_id));
  if (auto* outcome = std::get_if<TriggerOutcome>(&shop)) return *outcome;
  ShopSettings settings = AG_TRY(load_shop_settings(tx, shop_id));
  OrderEvent o = AG_TRY(parse_order_event(body, trigger, settings.sms_consent_wording));
  std::string note = "order " + std::to_string(o.order_id) + ": ";
  int changed = AG_TRY(record_consents(tx, shop_id, o.consents, now_ms));
  if (!o.consents.empty()) note += std::to_string(changed) + " consent change(s); ";
  if (trigger == FlowTrigger::kOrderPaid) {
    int64_t cancelled = AG_TRY(close_checkouts_for_order(
        tx, shop_id, o.order_id, o.event.data,
        o.event.occurred_at_ms > 0 ? o.event.occurred_at_ms : now_ms, now_ms));
    if (cancelled > 0) {
      note += std::to_string(cancelled) + " abandoned-checkout enrolment(s) cancelled; ";
    }
  }
  // Deliveries are unordered: orders/cancelled may have come first.
  if (o.cancelled || AG_TRY(order_cancelled(tx, shop_id, o.order_id))) {
    return TriggerOutcome::ignore(note + "the order is cancelled: nobody enrolled");
  }
  AG_CHECK(fill_from_customer(tx, shop_id, o.event));
  auto outcomes = AG_TRY(enrol(tx, shop_id, o.event, now_ms));
  return TriggerOutcome::processed(note + describe(outcomes));
}

}  // namespace

Result<TriggerOutcome> handle_order_paid(Tx& tx, int64_t shop_id, std::string_view body,
                                         int64_t now_ms) {
  return handle_order(tx, shop_id, body, FlowTrigger::kOrderPaid, now_ms);
}

Result<TriggerOutcome> handle_order_fulfilled(Tx& tx, int64_t shop_id, std::string_view body,
                                              int64_t now_ms) {
  return handle_order(tx, shop_id, body, FlowTrigger::kOrderFulfilled, now_ms);
}

Result<TriggerOutcome> handle_fulfillment_created(Tx& tx, int64_t shop_id, std::string_view body,
                                                  int64_t now_ms) {
  FulfillmentEvent f = AG_TRY(parse_fulfillment_event(body));
  auto shop = AG_TRY(installed_shop(tx, shop_id));
  if (auto* outcome = std::get_if<TriggerOutcome>(&shop)) return *outcome;
  const std::string note = "order " + std::to_string(f.order_id) + ": ";
  if (f.status == "cancelled" || f.status == "error" || f.status == "failure") {
    return TriggerOutcome::ignore(note + "fulfilment " + std::to_string(f.fulfillment_id) + " is " +
                                  f.status);
  }
  auto event =
      AG_TRY(order_event_from_store(tx, shop_id, f.order_id, FlowTrigger::kOrderFulfilled));
  if (!event) {
    // orders/create is normally seconds behind at most; retrying beats enrolling nobody.
    return fail(ErrorCode::kUnavailable,
                note + "not stored yet (orders/create has not arrived); retried");
  }
  if (AG_TRY(order_cancelled(tx, shop_id, f.order_id))) {
    return TriggerOutcome::ignore(note + "the order is cancelled: nobody enrolled");
  }
  if (f.created_at_ms > 0) event->occurred_at_ms = f.created_at_ms;
  auto outcomes = AG_TRY(enrol(tx, shop_id, *event, now_ms));
  return TriggerOutcome::processed(note + describe(outcomes));
}

Result<TriggerOutcome> handle_order_cancelled(Tx& tx, int64_t shop_id, std::string_view body,
                                              int64_t now_ms) {
  OrderEvent o = AG_TRY(parse_order_event(body, FlowTrigger::kOrderPaid, ""));
  auto shop = AG_TRY(installed_shop(tx, shop_id));
  if (auto* outcome = std::get_if<TriggerOutcome>(&shop)) return *outcome;
  int64_t n = AG_TRY(cancel_enrolments(tx, shop_id, order_ref(o.order_id), std::nullopt,
                                       "order_cancelled", now_ms));
  return TriggerOutcome::processed("order " + std::to_string(o.order_id) + ": " +
                                   std::to_string(n) + " enrolment(s) cancelled");
}

Result<TriggerOutcome> handle_customer_update(Tx& tx, int64_t shop_id, std::string_view body,
                                              int64_t now_ms) {
  auto shop = AG_TRY(installed_shop(tx, shop_id));
  if (auto* outcome = std::get_if<TriggerOutcome>(&shop)) return *outcome;
  ShopSettings settings = AG_TRY(load_shop_settings(tx, shop_id));
  CustomerEvent c = AG_TRY(parse_customer_event(body, settings.sms_consent_wording));
  if (c.consents.empty()) {
    // API 2025-01 took consent out of webhook customers; the consent topics carry it now.
    return TriggerOutcome::ignore("no marketing consent in the payload");
  }
  int changed = AG_TRY(record_consents(tx, shop_id, c.consents, now_ms));
  return TriggerOutcome::processed(std::to_string(c.consents.size()) + " consent report(s), " +
                                   std::to_string(changed) + " changed");
}

Result<TriggerOutcome> handle_checkout_update(Tx& tx, int64_t shop_id, std::string_view body,
                                              int64_t now_ms) {
  auto shop_or = AG_TRY(installed_shop(tx, shop_id));
  if (auto* outcome = std::get_if<TriggerOutcome>(&shop_or)) return *outcome;
  const ShopInfo& shop = std::get<ShopInfo>(shop_or);
  ShopSettings settings = AG_TRY(load_shop_settings(tx, shop_id));
  CheckoutEvent ev = AG_TRY(parse_checkout_event(body, settings.sms_consent_wording));
  const CheckoutRecord& c = ev.checkout;
  std::string note = "checkout " + c.token + ": ";

  // Last writer wins on the platform's updated_at; the guard sits in the statement so two
  // workers racing on one checkout cannot let the older update win. Contact details are kept
  // when a later update leaves them out; completion, once known, stays.
  auto stored = AG_TRY(tx.query(
      "INSERT INTO checkouts (shop_id, token, cart_token, customer_id, email, phone, value_minor, "
      "currency, items, country_code, province_code, recovery_url, platform_updated_at_ms, "
      "completed_at_ms, updated_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
      "ON CONFLICT (shop_id, token) DO UPDATE SET "
      "cart_token = COALESCE(excluded.cart_token, checkouts.cart_token), "
      "customer_id = COALESCE(excluded.customer_id, checkouts.customer_id), "
      "email = COALESCE(excluded.email, checkouts.email), "
      "phone = COALESCE(excluded.phone, checkouts.phone), "
      "value_minor = excluded.value_minor, currency = excluded.currency, items = excluded.items, "
      "country_code = COALESCE(excluded.country_code, checkouts.country_code), "
      "province_code = COALESCE(excluded.province_code, checkouts.province_code), "
      "recovery_url = COALESCE(excluded.recovery_url, checkouts.recovery_url), "
      "platform_updated_at_ms = excluded.platform_updated_at_ms, "
      "completed_at_ms = COALESCE(checkouts.completed_at_ms, excluded.completed_at_ms), "
      "updated_at_ms = excluded.updated_at_ms "
      "WHERE checkouts.platform_updated_at_ms <= excluded.platform_updated_at_ms RETURNING id",
      {shop_id, c.token, opt(c.cart_token), opt(c.customer_id), opt(c.email), opt(c.phone),
       c.value_minor, c.currency, checkout_items_to_json(c.items), opt(c.country_code),
       opt(c.province_code), opt(c.recovery_url), c.updated_at_ms, opt(c.completed_at_ms),
       now_ms}));
  note += stored.empty() ? "older than the stored update; " : "stored; ";

  int changed = AG_TRY(record_consents(tx, shop_id, ev.consents, now_ms));
  if (!ev.consents.empty()) note += std::to_string(changed) + " consent change(s); ";

  // Completed per the payload, or its order already arrived (deliveries are unordered: without
  // this an order that beat its checkout's webhook would leave the checkout to be "abandoned").
  std::optional<int64_t> order_id =
      AG_TRY(stored_order_for_checkout(tx, shop_id, c.token, c.cart_token));
  if (c.completed_at_ms || order_id) {
    int64_t cancelled =
        AG_TRY(complete_checkout(tx, shop_id, c.token, order_id, c.completed_at_ms.value_or(now_ms),
                                 "checkout_completed", now_ms));
    note += "completed";
    if (cancelled > 0) note += ", " + std::to_string(cancelled) + " enrolment(s) cancelled";
    note += "; ";
  }

  // A cart now exists: the browse flows ("viewed, no cart") are over for this person, whether
  // their views were recorded by customer id or by email.
  std::vector<std::string> people;
  if (c.customer_id) people.push_back(person_key(c.customer_id, shop.salt, "", ""));
  std::string email = normalise_address(AddressChannel::kEmail, c.email);
  if (!email.empty()) people.push_back(person_key(std::nullopt, shop.salt, email, ""));
  int64_t browse = 0;
  for (const std::string& person : people) {
    browse += AG_TRY(cancel_enrolments(tx, shop_id, browse_ref(person), FlowTrigger::kProductViewed,
                                       "started_checkout", now_ms));
  }
  if (browse > 0) note += std::to_string(browse) + " browse enrolment(s) cancelled; ";
  note.resize(note.size() - 2);  // every branch above ends its part with "; "
  return TriggerOutcome::processed(note);
}

Result<int> sweep_abandoned_checkouts(Tx& tx, int64_t now_ms, int limit) {
  const int64_t due_before = now_ms - ms(kAbandonedAfter);
  const int64_t stale_before = now_ms - ms(kAbandonedTooStale);
  auto rows = AG_TRY(tx.query(
      "SELECT c.id, c.shop_id, c.token, c.cart_token, c.customer_id, c.email, c.phone, "
      "c.value_minor, c.currency, c.items, c.country_code, c.province_code, c.recovery_url, "
      "c.platform_updated_at_ms, s.state FROM checkouts c JOIN shops s ON s.id = c.shop_id "
      "WHERE c.completed_at_ms IS NULL AND c.abandoned_at_ms IS NULL "
      "AND c.platform_updated_at_ms <= ? AND (c.platform_updated_at_ms < ? "
      "OR s.state <> 'installed' OR COALESCE(c.email, '') <> '' OR COALESCE(c.phone, '') <> '') "
      "ORDER BY c.platform_updated_at_ms, c.id LIMIT ?",
      {due_before, stale_before, int64_t{limit}}));
  int marked = 0;
  for (const Row& r : rows) {
    const int64_t id = r.i64(0);
    const int64_t shop_id = r.i64(1);
    const std::string token = r.text(2);
    const std::string cart_token = r.text(3);
    const int64_t updated_at = r.i64(13);

    if (auto order_id = AG_TRY(stored_order_for_checkout(tx, shop_id, token, cart_token))) {
      marked += static_cast<int>(AG_TRY(
          tx.exec("UPDATE checkouts SET completed_at_ms = ?, order_id = ?, updated_at_ms = ? "
                  "WHERE id = ? AND completed_at_ms IS NULL",
                  {now_ms, *order_id, now_ms, id})));
      continue;
    }
    // The guard makes a concurrent sweep (another worker, PostgreSQL) skip what this one took.
    int64_t took =
        AG_TRY(tx.exec("UPDATE checkouts SET abandoned_at_ms = ?, updated_at_ms = ? "
                       "WHERE id = ? AND abandoned_at_ms IS NULL AND completed_at_ms IS NULL",
                       {now_ms, now_ms, id}));
    if (took == 0) continue;
    ++marked;
    if (r.text(14) != kShopInstalled || updated_at < stale_before) continue;

    TriggerEvent e;
    e.trigger = FlowTrigger::kCheckoutAbandoned;
    e.key = checkout_event_key(token);
    e.ref = token;
    e.customer_id = r.opt_i64(4);
    e.email = r.text(5);
    e.phone = r.text(6);
    e.occurred_at_ms = updated_at;
    TriggerData& d = e.data;
    d.checkout_token = token;
    d.cart_token = cart_token;
    d.value_minor = r.i64(7);
    d.currency = r.text(8);
    for (const CheckoutItem& item : checkout_items_from_json(r.text(9))) {
      if (item.product_id) d.product_ids.push_back(*item.product_id);
      if (item.variant_id) d.variant_ids.push_back(*item.variant_id);
    }
    d.country_code = r.text(10);
    d.province_code = r.text(11);
    d.recovery_url = r.text(12);
    AG_CHECK(fill_from_customer(tx, shop_id, e));
    AG_CHECK(enrol(tx, shop_id, e, now_ms));
  }
  return marked;
}

Result<bool> open_checkouts_remain(Tx& tx) {
  auto row =
      AG_TRY(tx.query_one("SELECT id FROM checkouts WHERE completed_at_ms IS NULL AND "
                          "abandoned_at_ms IS NULL LIMIT 1"));
  return row.has_value();
}

Result<TriggerOutcome> record_product_view(Tx& tx, int64_t shop_id,
                                           std::optional<int64_t> customer_id,
                                           std::string_view email, int64_t product_id,
                                           std::optional<int64_t> variant_id, int64_t now_ms) {
  std::string address = normalise_address(AddressChannel::kEmail, email);
  if (!customer_id && address.empty()) {
    return fail(ErrorCode::kInvalidArgument, "a product view needs a customer id or an email");
  }
  auto shop_or = AG_TRY(installed_shop(tx, shop_id));
  if (auto* outcome = std::get_if<TriggerOutcome>(&shop_or)) return *outcome;
  const ShopInfo& shop = std::get<ShopInfo>(shop_or);

  if (customer_id) {
    auto recent = AG_TRY(tx.query_one(
        "SELECT id FROM product_views WHERE shop_id = ? AND customer_id = ? AND product_id = ? "
        "AND viewed_at_ms > ? LIMIT 1",
        {shop_id, *customer_id, product_id, now_ms - kViewRepeatMs}));
    if (recent) return TriggerOutcome::ignore("viewed again within 30 minutes");
  }
  AG_CHECK(
      tx.exec("INSERT INTO product_views (shop_id, customer_id, email, product_id, variant_id, "
              "viewed_at_ms) VALUES (?, ?, ?, ?, ?, ?)",
              {shop_id, opt(customer_id), opt(address), product_id, opt(variant_id), now_ms}));

  const std::string person = person_key(customer_id, shop.salt, address, "");
  TriggerEvent e;
  e.trigger = FlowTrigger::kProductViewed;
  e.key = view_event_key(product_id, now_ms, person);
  e.ref = browse_ref(person);
  e.customer_id = customer_id;
  e.email = address;
  e.occurred_at_ms = now_ms;
  e.data.product_ids = {product_id};
  if (variant_id) e.data.variant_ids = {*variant_id};
  AG_CHECK(fill_from_customer(tx, shop_id, e));
  auto outcomes = AG_TRY(enrol(tx, shop_id, e, now_ms));
  return TriggerOutcome::processed("product " + std::to_string(product_id) +
                                   " viewed: " + describe(outcomes));
}

Result<TriggerOutcome> handle_offer_declined(Tx& tx, const std::string& payload_json,
                                             int64_t now_ms) {
  json p = json::parse(payload_json, nullptr, /*allow_exceptions=*/false);
  auto id = [&](const char* key) -> std::optional<int64_t> {
    if (!p.is_object()) return std::nullopt;
    auto it = p.find(key);
    if (it == p.end() || !it->is_number_integer()) return std::nullopt;
    return it->get<int64_t>();
  };
  auto shop_id = id("shop_id");
  auto order_id = id("order_id");
  auto offer_id = id("offer_id");
  if (!shop_id || !order_id || !offer_id) {
    return fail(ErrorCode::kInvalidArgument,
                "offer.declined payload needs integer shop_id, order_id and offer_id");
  }
  auto shop = AG_TRY(installed_shop(tx, *shop_id));
  if (auto* outcome = std::get_if<TriggerOutcome>(&shop)) return *outcome;
  std::string note =
      "order " + std::to_string(*order_id) + ", offer " + std::to_string(*offer_id) + ": ";

  auto event = AG_TRY(order_event_from_store(tx, *shop_id, *order_id, FlowTrigger::kOfferDeclined));
  if (!event) {
    // The thank-you page answers seconds after checkout; the order webhook may still be queued.
    return fail(ErrorCode::kUnavailable, note + "the order is not stored yet; retried");
  }
  if (AG_TRY(order_cancelled(tx, *shop_id, *order_id))) {
    return TriggerOutcome::ignore(note + "the order is cancelled: nobody enrolled");
  }
  if (!event->customer_id) event->customer_id = id("customer_id");
  event->key = decline_event_key(*order_id, *offer_id);
  event->ref = order_ref(*order_id);
  event->occurred_at_ms = now_ms;
  event->data.offer_id = *offer_id;
  // The flow is about the declined item, not what was bought. The offers table belongs to the
  // checkout module; it is read here as data, the way modules meet (in the store).
  event->data.product_ids.clear();
  event->data.variant_ids.clear();
  auto offer =
      AG_TRY(tx.query_one("SELECT product_id, variant_id FROM offers WHERE shop_id = ? "
                          "AND id = ?",
                          {*shop_id, *offer_id}));
  if (offer) {
    event->data.product_ids.push_back(offer->i64(0));
    if (auto variant = offer->opt_i64(1)) event->data.variant_ids.push_back(*variant);
  } else {
    note += "the offer no longer exists (no product in the data); ";
  }
  AG_CHECK(fill_from_customer(tx, *shop_id, *event));
  auto outcomes = AG_TRY(enrol(tx, *shop_id, *event, now_ms));
  return TriggerOutcome::processed(note + describe(outcomes));
}

}  // namespace afterglow::email
