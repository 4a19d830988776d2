#include "email/enrolment.h"

#include <nlohmann/json.hpp>

#include "email/flow_store.h"
#include "email/predicates.h"
#include "email/step_schedule.h"
#include "plugin/core/shop_store.h"

namespace afterglow::email {
namespace {

using nlohmann::json;

constexpr int64_t kHourMs = 3'600'000;

DbValue opt_text(const std::string& s) { return s.empty() ? DbValue() : DbValue(s); }

template <typename T>
std::vector<T> list_of(const json& j, const char* key) {
  std::vector<T> out;
  if (auto it = j.find(key); it != j.end() && it->is_array()) {
    for (const json& v : *it) {
      if constexpr (std::is_same_v<T, int64_t>) {
        if (v.is_number_integer()) out.push_back(v.get<int64_t>());
      } else {
        if (v.is_string()) out.push_back(v.get<std::string>());
      }
    }
  }
  return out;
}

std::string text_of(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::optional<int64_t> int_of(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number_integer()) return std::nullopt;
  return it->get<int64_t>();
}

std::string filter_name(const Predicate& p) {
  // The field's JSON name, so the reason reads like the flow the merchant wrote.
  json j = flow_to_json(Flow{.trigger_filters = {p}});
  return j["trigger_filters"][0].value("field", std::string("predicate"));
}

}  // namespace

std::string person_key(std::optional<int64_t> customer_id, std::string_view salt,
                       std::string_view email, std::string_view phone) {
  if (customer_id) return "customer:" + std::to_string(*customer_id);
  if (!email.empty()) return "email:" + address_hash(salt, AddressChannel::kEmail, email);
  return "phone:" + address_hash(salt, AddressChannel::kSms, phone);
}

std::string trigger_data_to_json(const TriggerData& d) {
  json j{{"order_name", d.order_name},       {"checkout_token", d.checkout_token},
         {"cart_token", d.cart_token},       {"recovery_url", d.recovery_url},
         {"value_minor", d.value_minor},     {"currency", d.currency},
         {"country_code", d.country_code},   {"province_code", d.province_code},
         {"first_name", d.first_name},       {"last_name", d.last_name},
         {"product_ids", d.product_ids},     {"variant_ids", d.variant_ids},
         {"collection_ids", d.collection_ids}, {"customer_tags", d.customer_tags}};
  if (d.order_id) j["order_id"] = *d.order_id;
  if (d.offer_id) j["offer_id"] = *d.offer_id;
  return j.dump();
}

TriggerData trigger_data_from_json(std::string_view text) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  TriggerData d;
  if (!j.is_object()) return d;
  d.order_id = int_of(j, "order_id");
  d.order_name = text_of(j, "order_name");
  d.checkout_token = text_of(j, "checkout_token");
  d.cart_token = text_of(j, "cart_token");
  d.recovery_url = text_of(j, "recovery_url");
  d.value_minor = int_of(j, "value_minor").value_or(0);
  d.currency = text_of(j, "currency");
  d.country_code = text_of(j, "country_code");
  d.province_code = text_of(j, "province_code");
  d.first_name = text_of(j, "first_name");
  d.last_name = text_of(j, "last_name");
  d.product_ids = list_of<int64_t>(j, "product_ids");
  d.variant_ids = list_of<int64_t>(j, "variant_ids");
  d.collection_ids = list_of<int64_t>(j, "collection_ids");
  d.customer_tags = list_of<std::string>(j, "customer_tags");
  d.offer_id = int_of(j, "offer_id");
  return d;
}

Result<std::optional<Enrolment>> find_enrolment(Tx& tx, int64_t enrolment_id) {
  auto row = AG_TRY(tx.query_one(
      "SELECT id, shop_id, flow_id, person_key, customer_id, email, phone, trigger_kind, "
      "trigger_ref, trigger_data, state, entered_at_ms FROM enrolments WHERE id = ?",
      {enrolment_id}));
  if (!row) return std::optional<Enrolment>();
  Enrolment e;
  e.id = row->i64(0);
  e.shop_id = row->i64(1);
  e.flow_id = row->i64(2);
  e.person_key = row->text(3);
  e.customer_id = row->opt_i64(4);
  e.email = row->text(5);
  e.phone = row->text(6);
  std::string kind = row->text(7);
  for (FlowTrigger t : {FlowTrigger::kOrderPaid, FlowTrigger::kOrderFulfilled,
                        FlowTrigger::kCheckoutAbandoned, FlowTrigger::kProductViewed,
                        FlowTrigger::kOfferDeclined}) {
    if (flow_trigger_name(t) == kind) e.trigger = t;
  }
  e.trigger_ref = row->text(8);
  e.data = trigger_data_from_json(row->text(9));
  e.state = row->text(10);
  e.entered_at_ms = row->i64(11);
  return std::optional<Enrolment>(std::move(e));
}

Result<std::vector<EnrolmentOutcome>> enrol(Tx& tx, int64_t shop_id, const TriggerEvent& event,
                                            int64_t now_ms) {
  std::vector<EnrolmentOutcome> outcomes;
  std::vector<Flow> flows = AG_TRY(live_flows(tx, shop_id, event.trigger));
  if (flows.empty()) return outcomes;

  auto shop = AG_TRY(tx.query_one("SELECT hash_salt FROM shops WHERE id = ?", {shop_id}));
  if (!shop) return fail(ErrorCode::kNotFound, "no shop with id " + std::to_string(shop_id));
  std::string email = normalise_address(AddressChannel::kEmail, event.email);
  std::string phone = normalise_address(AddressChannel::kSms, event.phone);
  std::string key = person_key(event.customer_id, shop->text(0), email, phone);

  std::optional<PersonFacts> facts;  // loaded once, only if some flow filters on entry
  for (const Flow& flow : flows) {
    EnrolmentOutcome out;
    out.flow_id = flow.id;
    if (email.empty() && phone.empty()) {
      out.reason = "no_contact";
      outcomes.push_back(std::move(out));
      continue;
    }
    auto existing = AG_TRY(tx.query_one(
        "SELECT id FROM enrolments WHERE shop_id = ? AND flow_id = ? AND enrolment_key = ?",
        {shop_id, flow.id, event.key}));
    if (existing) {
      out.reason = "duplicate_event";
      outcomes.push_back(std::move(out));
      continue;
    }
    std::string failed_filter;
    for (const Predicate& p : flow.trigger_filters) {
      if (!facts) facts = AG_TRY(load_entry_facts(tx, shop_id, event, now_ms));
      if (!predicate_holds(p, *facts)) {
        failed_filter = filter_name(p);
        break;
      }
    }
    if (!failed_filter.empty()) {
      out.reason = "filter:" + failed_filter;
      outcomes.push_back(std::move(out));
      continue;
    }
    auto last = AG_TRY(tx.query_one(
        "SELECT MAX(entered_at_ms) FROM enrolments WHERE shop_id = ? AND person_key = ? "
        "AND flow_id = ?",
        {shop_id, key, flow.id}));
    if (last && !last->is_null(0) &&
        now_ms - last->i64(0) < flow.reentry_cooldown_hours * kHourMs) {
      out.reason = "cooldown";
      outcomes.push_back(std::move(out));
      continue;
    }
    auto version = AG_TRY(tx.query_one("SELECT version FROM flows WHERE id = ?", {flow.id}));
    auto inserted = AG_TRY(tx.query(
        "INSERT INTO enrolments (shop_id, flow_id, flow_version, enrolment_key, person_key, "
        "customer_id, email, phone, trigger_kind, trigger_ref, trigger_data, state, "
        "entered_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'active', ?) "
        "ON CONFLICT (shop_id, flow_id, enrolment_key) DO NOTHING RETURNING id",
        {shop_id, flow.id, version ? version->i64(0) : int64_t{1}, event.key, key,
         event.customer_id ? DbValue(*event.customer_id) : DbValue(), opt_text(email),
         opt_text(phone), std::string(flow_trigger_name(event.trigger)), opt_text(event.ref),
         trigger_data_to_json(event.data), now_ms}));
    if (inserted.empty()) {
      out.reason = "duplicate_event";
      outcomes.push_back(std::move(out));
      continue;
    }
    Enrolment e;
    e.id = inserted[0].i64(0);
    e.shop_id = shop_id;
    e.flow_id = flow.id;
    e.person_key = key;
    e.customer_id = event.customer_id;
    e.email = email;
    e.phone = phone;
    e.trigger = event.trigger;
    e.trigger_ref = event.ref;
    e.data = event.data;
    e.state = "active";
    e.entered_at_ms = now_ms;
    AG_CHECK(log_step(tx, e, "entry", std::nullopt, "entered", std::string(flow_trigger_name(event.trigger)),
                      event.key, now_ms));
    AG_CHECK(schedule_from(tx, e, flow, flow.steps.empty() ? nullptr : &flow.steps.front(),
                           now_ms));
    out.enrolment_id = e.id;
    outcomes.push_back(std::move(out));
  }
  return outcomes;
}

Result<int64_t> cancel_enrolments(Tx& tx, int64_t shop_id, std::string_view ref,
                                  std::optional<FlowTrigger> trigger, std::string_view reason,
                                  int64_t now_ms) {
  if (ref.empty()) return int64_t{0};
  std::string sql =
      "SELECT id FROM enrolments WHERE shop_id = ? AND trigger_ref = ? AND state = 'active'";
  Params params{shop_id, std::string(ref)};
  if (trigger) {
    sql += " AND trigger_kind = ?";
    params.push_back(std::string(flow_trigger_name(*trigger)));
  }
  auto rows = AG_TRY(tx.query(sql, params));
  int64_t ended = 0;
  for (const Row& r : rows) {
    auto e = AG_TRY(find_enrolment(tx, r.i64(0)));
    if (!e) continue;
    if (AG_TRY(finish_enrolment(tx, e->id, "cancelled", reason, now_ms))) {
      AG_CHECK(log_step(tx, *e, "-", std::nullopt, "cancelled", reason, std::string(ref), now_ms));
      ++ended;
    }
  }
  return ended;
}

}  // namespace afterglow::email
