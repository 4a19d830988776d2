#include "email/send_policy.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>

#include "email/consent.h"
#include "email/quiet_hours.h"
#include "email/recommendations.h"
#include "plugin/core/shop_settings.h"
#include "plugin/core/shop_store.h"
#include "plugin/core/time_format.h"

namespace afterglow::email {
namespace {

using nlohmann::json;

constexpr int64_t kMinuteMs = 60LL * 1000;
constexpr int64_t kHourMs = 60 * kMinuteMs;
constexpr int64_t kDayMs = 24 * kHourMs;
constexpr int64_t kInactiveMs = 90 * kDayMs;
// A paused flow holds its steps; they are looked at again this often until it is resumed
// (then the expiry rule drops what waited too long).
constexpr int64_t kPausedRecheckMs = kHourMs;
// Florida and Oklahoma allow at most 3 commercial texts per 24 h (spec messaging §2.2); the
// shop's own caps can be looser, this one cannot.
constexpr int64_t kSmsDailyLimit = 3;

// Messages that count against caps: everything that went, or may have gone, out.
constexpr const char* kCountedStates = "('sending', 'sent', 'unknown', 'delivered', 'undelivered')";
// Messages that reached (or may have reached) the number: a first SMS carries HELP/STOP text.
constexpr const char* kReachedStates = "('sent', 'delivered', 'unknown', 'undelivered')";

PolicyDecision decide(Verdict verdict, const char* reason, std::string detail) {
  PolicyDecision d;
  d.verdict = verdict;
  d.reason = reason;
  d.detail = std::move(detail);
  return d;
}

// "16 h", "15 h 59 min", "3 d 2 h", "45 min".
std::string duration_text(int64_t ms) {
  if (ms < 0) ms = 0;
  const int64_t days = ms / kDayMs;
  const int64_t hours = (ms % kDayMs) / kHourMs;
  const int64_t minutes = (ms % kHourMs) / kMinuteMs;
  std::string out;
  auto part = [&](int64_t n, const char* unit) {
    if (!out.empty()) out += ' ';
    out += std::to_string(n) + ' ' + unit;
  };
  if (days > 0) {
    part(days, "d");
    if (hours > 0) part(hours, "h");
  } else if (hours > 0) {
    part(hours, "h");
    if (minutes > 0) part(minutes, "min");
  } else {
    part(minutes, "min");
  }
  return out;
}

std::string lower_ascii(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string trim(std::string_view s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return "";
  size_t e = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(b, e - b + 1));
}

// Params built one value at a time; emplacing the alternative directly also keeps GCC 12's
// -Wmaybe-uninitialized quiet about converting temporaries.
void add(Params& p, int64_t v) { p.emplace_back(std::in_place_type<int64_t>, v); }
void add(Params& p, std::string v) {
  p.emplace_back(std::in_place_type<std::string>, std::move(v));
}

std::string placeholders(size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) out += i ? ", ?" : "?";
  return out;
}

// Calls `fn(sigil, name)` for every Mustache tag of `text` (email/template.h syntax): sigil is
// '#', '^', '/', '!', '&', '{' or 0 for a plain variable; the name is trimmed and cut at the
// fallback bar ("{{first_name|there}}" names first_name).
template <class Fn>
void for_each_tag(std::string_view text, Fn&& fn) {
  size_t pos = 0;
  while ((pos = text.find("{{", pos)) != std::string_view::npos) {
    size_t end = text.find("}}", pos + 2);
    if (end == std::string_view::npos) return;
    std::string_view inner = text.substr(pos + 2, end - pos - 2);
    pos = end + 2;
    char sigil = 0;
    if (!inner.empty() &&
        std::string_view("#^/!&{").find(inner.front()) != std::string_view::npos) {
      sigil = inner.front();
      inner.remove_prefix(1);
    }
    if (size_t bar = inner.find('|'); bar != std::string_view::npos) inner = inner.substr(0, bar);
    fn(sigil, trim(inner));
  }
}

std::vector<std::string_view> step_texts(const FlowStep& step) {
  return {step.subject, step.preview_text, step.body};
}


bool has_exit(const Flow& flow, ExitCondition condition) {
  return std::find(flow.exit_conditions.begin(), flow.exit_conditions.end(), condition) !=
         flow.exit_conditions.end();
}

// The person's stored orders, by platform customer or (for guests) by email.
std::string person_orders_where(const Enrolment& e, Params& p) {
  add(p, e.shop_id);
  std::string where = "o.shop_id = ? AND (";
  bool any = false;
  if (e.customer_id) {
    where += "o.customer_id = ?";
    add(p, *e.customer_id);
    any = true;
  }
  const std::string email = normalise_address(AddressChannel::kEmail, e.email);
  if (!email.empty()) {
    where += any ? " OR " : "";
    where += "LOWER(TRIM(o.email)) = ?";
    add(p, email);
    any = true;
  }
  where += any ? ")" : "1 = 0)";
  return where;
}

// Everything one evaluation reads about the enrolment, looked up once.
struct Subject {
  Subject(const SendRequest& r, const Enrolment& e, const Flow& f, const FlowStep& st)
      : request(r), enrolment(e), flow(f), step(st) {}
  const SendRequest& request;
  const Enrolment& enrolment;
  const Flow& flow;
  const FlowStep& step;
  bool sms = false;
  AddressChannel channel = AddressChannel::kEmail;
  std::string channel_name;  // "email" | "sms"
  std::string address;       // normalised recipient
  ShopSettings settings;
  std::optional<ConsentRecord> consent;  // on the step's channel
};

Result<bool> has_any_order(Tx& tx, const Enrolment& e) {
  Params p;
  std::string where = person_orders_where(e, p);
  return AG_TRY(tx.query_one("SELECT 1 FROM orders o WHERE " + where + " LIMIT 1", p)).has_value();
}

// Rule 3: consent on the step's channel. Returns the refusal, or nullopt to go on.
Result<std::optional<PolicyDecision>> check_consent(Tx& tx, const Subject& s) {
  const std::optional<ConsentRecord>& c = s.consent;
  const bool withdrawn = c && c->state == ConsentState::kUnsubscribed;
  if (withdrawn && has_exit(s.flow, ExitCondition::kUnsubscribed)) {
    return decide(Verdict::kExit, reason::kExitUnsubscribed,
                  "unsubscribed from " + s.channel_name + " (the flow exits on unsubscribe)");
  }
  if (s.sms) {
    if (!c) {
      return decide(Verdict::kSkip, reason::kNoExpressSmsConsent, "no SMS consent on record");
    }
    if (c->state != ConsentState::kSubscribed) {
      return decide(Verdict::kSkip, reason::kNoExpressSmsConsent,
                    "SMS consent is " + std::string(consent_state_name(c->state)));
    }
    if (trim(c->wording).empty()) {
      return decide(Verdict::kSkip, reason::kNoExpressSmsConsent,
                    "the SMS consent has no recorded wording, so it is not express written "
                    "consent");
    }
    return std::optional<PolicyDecision>();
  }
  if (c && c->state == ConsentState::kSubscribed) return std::optional<PolicyDecision>();
  const std::string state = c ? std::string(consent_state_name(c->state)) : "none on record";
  if (withdrawn || (c && c->state == ConsentState::kPending)) {
    return decide(Verdict::kSkip, reason::kNoConsent, "email consent is " + state);
  }
  // Soft opt-in: a buyer who never said no, where the shop allows it (spec messaging §1.4).
  if (!s.settings.email_soft_opt_in) {
    return decide(Verdict::kSkip, reason::kNoConsent,
                  "email consent is " + state + " and the shop does not use soft opt-in");
  }
  if (!AG_TRY(has_any_order(tx, s.enrolment))) {
    return decide(Verdict::kSkip, reason::kNoConsent,
                  "email consent is " + state + " and soft opt-in needs an order, none is stored");
  }
  return std::optional<PolicyDecision>();
}

// Rule 4, second half: nothing from the person in 90 days and in the flow for longer.
Result<bool> inactive(Tx& tx, const Subject& s) {
  const Enrolment& e = s.enrolment;
  const int64_t since = s.request.now_ms - kInactiveMs;
  if (e.entered_at_ms >= since) return false;
  Params p;
  std::string where = person_orders_where(e, p);
  add(p, since);
  if (AG_TRY(tx.query_one(
          "SELECT 1 FROM orders o WHERE " + where + " AND o.received_at_ms > ? LIMIT 1", p))) {
    return false;
  }
  if (AG_TRY(tx.query_one(
          "SELECT 1 FROM message_events ev JOIN messages m ON m.id = ev.message_id WHERE "
          "m.shop_id = ? AND m.person_key = ? AND ev.machine = 0 AND "
          "ev.kind IN ('click', 'open') AND ev.at_ms > ? LIMIT 1",
          {e.shop_id, e.person_key, since}))) {
    return false;
  }
  const std::string email = normalise_address(AddressChannel::kEmail, e.email);
  const std::string phone = normalise_address(AddressChannel::kSms, e.phone);
  Params cp{e.shop_id, since, email, phone};
  std::string by_customer;
  if (e.customer_id) {
    by_customer = " OR customer_id = ?";
    add(cp, *e.customer_id);
  }
  if (AG_TRY(
          tx.query_one("SELECT 1 FROM consent_events WHERE shop_id = ? AND at_ms > ? AND "
                       "((channel = 'email' AND address = ?) OR (channel = 'sms' AND address = ?)" +
                           by_customer + ") LIMIT 1",
                       cp))) {
    return false;
  }
  return true;
}

// The product ids this enrolment's messages recommended (messages.items: a JSON list of ids, or
// of objects with a product_id).
Result<std::set<int64_t>> recommended_products(Tx& tx, const Enrolment& e) {
  std::set<int64_t> out;
  for (const Row& r : AG_TRY(tx.query(
           "SELECT items FROM messages WHERE enrolment_id = ? AND items IS NOT NULL", {e.id}))) {
    json items = json::parse(r.text(0), nullptr, false);
    if (!items.is_array()) continue;
    for (const json& item : items) {
      const json* id = &item;
      if (item.is_object()) {
        auto it = item.find("product_id");
        if (it == item.end()) continue;
        id = &*it;
      }
      if (id->is_number_integer()) out.insert(id->get<int64_t>());
      if (id->is_string()) {
        try {
          out.insert(std::stoll(id->get<std::string>()));
        } catch (const std::exception&) {
        }
      }
    }
  }
  if (e.trigger == FlowTrigger::kOfferDeclined) {
    out.insert(e.data.product_ids.begin(), e.data.product_ids.end());
  }
  return out;
}

// The platform order ids of the person's stored orders (offer events name orders by id), with
// the triggering one even when it is not stored yet.
Result<std::vector<std::string>> person_order_keys(Tx& tx, const Enrolment& e) {
  Params p;
  std::string where = person_orders_where(e, p);
  std::set<int64_t> ids;
  for (const Row& r : AG_TRY(tx.query("SELECT o.order_id FROM orders o WHERE " + where, p))) {
    ids.insert(r.i64(0));
  }
  if (e.data.order_id) ids.insert(*e.data.order_id);
  std::vector<std::string> out;
  for (int64_t id : ids) out.push_back(std::to_string(id));
  return out;
}

// Offer events of the person (by customer, or by one of their orders for guests).
std::string offer_events_of(const Enrolment& e, const std::vector<std::string>& order_keys,
                            Params& p) {
  std::string who;
  if (e.customer_id) {
    who = "customer_id = ?";
    add(p, *e.customer_id);
  }
  if (!order_keys.empty()) {
    who += who.empty() ? "" : " OR ";
    who += "order_key IN (" + placeholders(order_keys.size()) + ")";
    for (const std::string& k : order_keys) add(p, k);
  }
  return who.empty() ? "1 = 0" : "(" + who + ")";
}

// Rule 5: the flow's exit conditions, in a fixed order so the reason is predictable.
Result<std::optional<PolicyDecision>> check_exits(Tx& tx, const Subject& s) {
  const Enrolment& e = s.enrolment;
  if (has_exit(s.flow, ExitCondition::kOrderedSinceStart)) {
    Params p;
    std::string where = person_orders_where(e, p);
    where += " AND o.received_at_ms > ?";
    add(p, e.entered_at_ms);
    if (e.data.order_id) {
      where += " AND o.order_id <> ?";
      add(p, *e.data.order_id);
    }
    auto row = AG_TRY(tx.query_one("SELECT o.order_id, o.name FROM orders o WHERE " + where +
                                       " ORDER BY o.received_at_ms, o.order_id LIMIT 1",
                                   p));
    if (row) {
      const std::string name = row->text(1).empty() ? std::to_string(row->i64(0)) : row->text(1);
      return decide(Verdict::kExit, reason::kExitOrdered,
                    "placed order " + name + " after entering the flow");
    }
  }
  if (has_exit(s.flow, ExitCondition::kClicked)) {
    if (AG_TRY(tx.query_one(
            "SELECT 1 FROM message_events ev JOIN messages m ON m.id = ev.message_id WHERE "
            "m.enrolment_id = ? AND ev.kind = 'click' AND ev.machine = 0 LIMIT 1",
            {e.id}))) {
      return decide(Verdict::kExit, reason::kExitClicked,
                    "clicked a link in a message of this flow");
    }
  }
  // kUnsubscribed is decided by rules 3 and 4, which see a withdrawal first.
  if (has_exit(s.flow, ExitCondition::kRefundedOrCancelled) && e.data.order_id) {
    auto row = AG_TRY(tx.query_one(
        "SELECT cancelled_at, financial_status, name FROM orders WHERE shop_id = ? AND "
        "order_id = ?",
        {e.shop_id, *e.data.order_id}));
    if (row) {
      const std::string name =
          row->text(2).empty() ? std::to_string(*e.data.order_id) : row->text(2);
      const std::string status = lower_ascii(row->text(1));
      if (!row->is_null(0) && !trim(row->text(0)).empty()) {
        return decide(Verdict::kExit, reason::kExitRefundedOrCancelled,
                      "order " + name + " was cancelled");
      }
      if (status == "refunded" || status == "partially_refunded" || status == "voided") {
        return decide(Verdict::kExit, reason::kExitRefundedOrCancelled,
                      "order " + name + " is " + status);
      }
    }
  }
  if (has_exit(s.flow, ExitCondition::kAcceptedRecommendedItem)) {
    std::set<int64_t> recommended = AG_TRY(recommended_products(tx, e));
    if (!recommended.empty()) {
      auto keys = AG_TRY(person_order_keys(tx, e));
      Params p{e.shop_id, e.entered_at_ms};
      std::string who = offer_events_of(e, keys, p);
      for (int64_t id : recommended) add(p, id);
      auto row = AG_TRY(tx.query_one(
          "SELECT product_id FROM offer_events WHERE shop_id = ? AND created_at_ms > ? AND "
          "kind IN ('accept', 'charge_succeeded') AND " +
              who + " AND product_id IN (" + placeholders(recommended.size()) +
              ") ORDER BY created_at_ms, id LIMIT 1",
          p));
      if (row) {
        return decide(Verdict::kExit, reason::kExitAcceptedItem,
                      "accepted product " + std::to_string(row->i64(0)) +
                          ", which this flow recommends, on the thank-you page");
      }
    }
  }
  if (s.request.expires_at_ms && s.request.now_ms > *s.request.expires_at_ms) {
    return decide(Verdict::kSkip, reason::kExpired,
                  "the step expired at " + format_iso8601_utc(*s.request.expires_at_ms));
  }
  return std::optional<PolicyDecision>();
}

// The cap queries' common part: this person's counted messages, minus this step's own (a step
// evaluated again after a crash must not be capped by its own message).
std::string counted_messages(const Subject& s, Params& p) {
  add(p, s.enrolment.shop_id);
  add(p, s.enrolment.person_key);
  add(p, s.enrolment.id);
  add(p, s.step.id);
  return std::string("FROM messages WHERE shop_id = ? AND person_key = ? AND state IN ") +
         kCountedStates + " AND NOT (enrolment_id = ? AND step_id = ?)";
}

// The newest counted message on `channel` created after `since`, or nullopt.
Result<std::optional<int64_t>> last_on_channel(Tx& tx, const Subject& s, const std::string& channel,
                                               int64_t since) {
  Params p;
  std::string from = counted_messages(s, p);
  add(p, channel);
  add(p, since);
  auto row = AG_TRY(tx.query_one(
      "SELECT MAX(created_at_ms) " + from + " AND channel = ? AND created_at_ms > ?", p));
  if (!row || row->is_null(0)) return std::optional<int64_t>();
  return std::optional<int64_t>(row->i64(0));
}

// Rule 6: frequency caps.
Result<std::optional<PolicyDecision>> check_caps(Tx& tx, const Subject& s) {
  const int64_t now = s.request.now_ms;
  const FrequencyCaps& caps = s.settings.frequency_caps;
  const int hours = s.sms ? caps.sms_hours : caps.email_hours;
  if (hours > 0) {
    const int64_t cap_ms = static_cast<int64_t>(hours) * kHourMs;
    if (auto last = AG_TRY(last_on_channel(tx, s, s.channel_name, now - cap_ms))) {
      return decide(Verdict::kSkip, reason::kFrequencyCap,
                    "last " + std::string(s.sms ? "SMS " : "email ") + duration_text(now - *last) +
                        " ago; the cap is " + duration_text(cap_ms));
    }
  }
  if (caps.weekly_max > 0) {
    Params p;
    std::string from = counted_messages(s, p);
    add(p, now - 7 * kDayMs);
    auto row = AG_TRY(tx.query_one("SELECT COUNT(*) " + from + " AND created_at_ms > ?", p));
    const int64_t n = row ? row->i64(0) : 0;
    if (n >= caps.weekly_max) {
      return decide(Verdict::kSkip, reason::kWeeklyCap,
                    std::to_string(n) + " messages in the last 7 days; the cap is " +
                        std::to_string(caps.weekly_max));
    }
  }
  if (s.consent && (s.consent->frequency == "weekly" || s.consent->frequency == "monthly")) {
    const bool weekly = s.consent->frequency == "weekly";
    const int64_t window = (weekly ? 7 : 30) * kDayMs;
    if (auto last = AG_TRY(last_on_channel(tx, s, s.channel_name, now - window))) {
      return decide(Verdict::kSkip, reason::kPreferenceFrequency,
                    "chose " + s.consent->frequency + " " + s.channel_name +
                        " in the preference centre; the last one was " +
                        duration_text(now - *last) + " ago");
    }
  }
  if (s.sms) {
    // By number as well as by person: the legal limit is per phone, whoever we think it is.
    auto row = AG_TRY(tx.query_one(
        std::string("SELECT COUNT(*) FROM messages WHERE shop_id = ? AND channel = 'sms' AND "
                    "(person_key = ? OR recipient = ?) AND state IN ") +
            kCountedStates + " AND created_at_ms > ? AND NOT (enrolment_id = ? AND step_id = ?)",
        {s.enrolment.shop_id, s.enrolment.person_key, s.address, now - kDayMs, s.enrolment.id,
         s.step.id}));
    const int64_t n = row ? row->i64(0) : 0;
    if (n >= kSmsDailyLimit) {
      return decide(Verdict::kSkip, reason::kSmsDailyLimit,
                    std::to_string(n) + " SMS in the last 24 h; the limit is " +
                        std::to_string(kSmsDailyLimit) + " whatever the shop's caps say");
    }
  }
  return std::optional<PolicyDecision>();
}

// Rule 7's budget: what the person accepted, declined or bought anywhere (sorted, unique).
Result<std::vector<int64_t>> fatigue_exclusions(Tx& tx, const Enrolment& e) {
  std::set<int64_t> out;
  auto keys = AG_TRY(person_order_keys(tx, e));
  Params p{e.shop_id};
  std::string who = offer_events_of(e, keys, p);
  for (const Row& r : AG_TRY(tx.query(
           "SELECT DISTINCT product_id FROM offer_events WHERE shop_id = ? AND product_id IS NOT "
           "NULL AND kind IN ('accept', 'decline', 'charge_succeeded') AND " +
               who,
           p))) {
    out.insert(r.i64(0));
  }
  Params op;
  std::string where = person_orders_where(e, op);
  for (const Row& r : AG_TRY(tx.query(
           "SELECT DISTINCT l.product_id FROM orders o JOIN order_lines l ON l.order_row_id = o.id "
           "WHERE " +
               where + " AND l.product_id IS NOT NULL",
           op))) {
    out.insert(r.i64(0));
  }
  // The triggering order (or the declined offer) counts even before its webhook is stored.
  if (e.trigger == FlowTrigger::kOrderPaid || e.trigger == FlowTrigger::kOrderFulfilled ||
      e.trigger == FlowTrigger::kOfferDeclined) {
    out.insert(e.data.product_ids.begin(), e.data.product_ids.end());
  }
  return std::vector<int64_t>(out.begin(), out.end());
}

RecommendationMode mode_for(FlowTrigger trigger) {
  return trigger == FlowTrigger::kCheckoutAbandoned || trigger == FlowTrigger::kProductViewed
             ? RecommendationMode::kUpgrade
             : RecommendationMode::kComplement;
}

Result<bool> first_sms_to(Tx& tx, const Subject& s) {
  auto row = AG_TRY(
      tx.query_one(std::string("SELECT 1 FROM messages WHERE shop_id = ? AND channel = 'sms' AND "
                               "recipient = ? AND state IN ") +
                       kReachedStates + " AND NOT (enrolment_id = ? AND step_id = ?) LIMIT 1",
                   {s.enrolment.shop_id, s.address, s.enrolment.id, s.step.id}));
  return !row.has_value();
}

}  // namespace

bool step_recommends(const FlowStep& step) {
  bool found = false;
  for (std::string_view text : step_texts(step)) {
    for_each_tag(text, [&](char sigil, const std::string& name) {
      // {{#items}}…{{/items}}: the step lists them itself; {{recommendations}}: the cards.
      if ((sigil == '#' && name == "items") ||
          ((sigil == 0 || sigil == '{' || sigil == '&') && name == "recommendations")) {
        found = true;
      }
    });
  }
  return found;
}

bool step_offers_incentive(const FlowStep& step) {
  bool found = false;
  for (std::string_view text : step_texts(step)) {
    for_each_tag(text, [&](char sigil, const std::string& name) {
      if (sigil == '!' || sigil == '/' || sigil == '^') return;
      if (name == "incentive_code" || name == "incentive_text") found = true;
    });
  }
  return found;
}

Result<PolicyDecision> evaluate_send_policy(Tx& tx, const SendRequest& request) {
  if (!request.flow || !request.step || !request.enrolment) {
    return fail(ErrorCode::kInvalidArgument, "send policy: flow, step and enrolment are required");
  }
  const FlowStep& step = *request.step;
  if (step.type != StepType::kSendEmail && step.type != StepType::kSendSms) {
    return fail(ErrorCode::kInvalidArgument, "send policy: step " + step.id + " sends nothing");
  }
  const Enrolment& e = *request.enrolment;
  const Flow& flow = *request.flow;
  const int64_t now = request.now_ms;

  // 1. Shop installed, flow live.
  auto shop = AG_TRY(tx.query_one("SELECT state FROM shops WHERE id = ?", {e.shop_id}));
  if (!shop || shop->text(0) != kShopInstalled) {
    return decide(Verdict::kExit, reason::kShopInactive,
                  "the shop is " + (shop ? shop->text(0) : std::string("gone")));
  }
  if (flow.status == FlowStatus::kPaused) {
    PolicyDecision d =
        decide(Verdict::kDelay, reason::kFlowPaused,
               "the flow is paused; looking again in " + duration_text(kPausedRecheckMs));
    d.delay_until_ms = now + kPausedRecheckMs;
    return d;
  }
  if (flow.status != FlowStatus::kLive) {
    return decide(Verdict::kExit, reason::kFlowNotLive, "the flow was switched back to draft");
  }

  Subject s(request, e, flow, step);
  s.sms = step.type == StepType::kSendSms;
  s.channel = s.sms ? AddressChannel::kSms : AddressChannel::kEmail;
  s.channel_name = std::string(channel_name(s.channel));

  // 2. A recipient on the channel.
  s.address = normalise_address(s.channel, s.sms ? e.phone : e.email);
  if (s.address.empty()) {
    return decide(Verdict::kSkip, reason::kNoRecipient,
                  s.sms ? "no phone number for this person" : "no email address for this person");
  }
  s.settings = AG_TRY(load_shop_settings(tx, e.shop_id));
  s.consent = AG_TRY(find_consent(tx, e.shop_id, s.channel, s.address));

  // 3. Consent.
  if (auto refused = AG_TRY(check_consent(tx, s))) return *refused;

  // 4. Suppression, inactivity.
  if (auto why = AG_TRY(suppression_reason(tx, e.shop_id, s.channel, s.address))) {
    if (has_exit(flow, ExitCondition::kUnsubscribed)) {
      return decide(Verdict::kExit, reason::kExitUnsubscribed,
                    "the " + s.channel_name + " address is suppressed (" + *why +
                        "); the flow exits on unsubscribe");
    }
    return decide(Verdict::kSkip, reason::kSuppressed,
                  "the " + s.channel_name + " address is suppressed (" + *why + ")");
  }
  if (AG_TRY(inactive(tx, s))) {
    return decide(Verdict::kSkip, reason::kInactive,
                  "no order, click, open or consent change in 90 days");
  }

  // 5. Exit conditions, expiry.
  if (auto exit = AG_TRY(check_exits(tx, s))) return *exit;

  // 6. Frequency caps.
  if (auto capped = AG_TRY(check_caps(tx, s))) return *capped;

  // 7. Fatigue, incentive.
  PolicyDecision send = decide(Verdict::kSend, reason::kSent, "");
  send.excluded_product_ids = AG_TRY(fatigue_exclusions(tx, e));
  if (step_recommends(step)) {
    RecommendationRequest rq;
    rq.shop_id = e.shop_id;
    rq.mode = mode_for(e.trigger);
    rq.basis_product_ids = e.data.product_ids;
    rq.exclude_product_ids = send.excluded_product_ids;
    rq.count = 1;
    rq.now_ms = now;
    if (AG_TRY(recommend(tx, rq)).empty()) {
      return decide(
          Verdict::kSkip, reason::kNothingToRecommend,
          "nothing left to recommend: " + std::to_string(send.excluded_product_ids.size()) +
              " products already bought, accepted or declined, and no other candidate "
              "is active and in stock");
    }
  }
  if (step_offers_incentive(step) && trim(s.settings.incentive_code).empty()) {
    return decide(Verdict::kSkip, reason::kNoIncentive,
                  "the step offers an incentive but the shop has no incentive code configured");
  }

  // 8. Quiet hours in the recipient's zone: held, not dropped, unless the hold outlives the step.
  if (s.sms || s.settings.quiet_hours.apply_to_email) {
    LocationHints hints;
    hints.country_code = e.data.country_code;
    hints.province_code = e.data.province_code;
    hints.phone = e.phone;
    hints.shop_time_zone = s.settings.time_zone;
    const RecipientLocation where = locate_recipient(hints);
    const QuietHours& quiet = s.settings.quiet_hours;
    if (!send_allowed_at(now, where, quiet)) {
      const std::string why = describe_block(now, where, quiet);
      auto next = next_send_time(now, where, quiet);
      if (!next) {
        return decide(Verdict::kSkip, reason::kQuietHours,
                      why + "; no allowed time in the next 14 days");
      }
      if (request.expires_at_ms && *next > *request.expires_at_ms) {
        return decide(Verdict::kSkip, reason::kExpired,
                      why + "; the next allowed time " + format_iso8601_utc(*next) +
                          " is after the step expires at " +
                          format_iso8601_utc(*request.expires_at_ms));
      }
      PolicyDecision d = decide(Verdict::kDelay, reason::kQuietHours,
                                why + "; held until " + format_iso8601_utc(*next));
      d.delay_until_ms = *next;
      return d;
    }
  }

  if (s.sms) send.first_sms_to_number = AG_TRY(first_sms_to(tx, s));
  return send;
}

}  // namespace afterglow::email
