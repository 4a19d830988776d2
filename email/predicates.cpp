#include "email/predicates.h"

#include <algorithm>
#include <set>

#include "email/consent.h"
#include "plugin/core/json_fields.h"
#include "plugin/core/shop_store.h"

namespace afterglow::email {
namespace {

constexpr int64_t kDayMs = 24LL * 60 * 60 * 1000;

std::string lower_ascii(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string upper_ascii(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
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

// Offers compare tags case-insensitively after trimming (normalise_tag); keeping them lower-case
// here makes every later comparison a plain equality.
void add_tag(std::set<std::string>& tags, std::string_view tag) {
  if (auto t = normalise_tag(tag)) tags.insert(lower_ascii(*t));
}

// Who the facts are about, however they were identified.
struct Person {
  int64_t shop_id = 0;
  std::optional<int64_t> customer_id;
  std::string email;  // normalised; empty: none
  std::string phone;
};

// The person's stored orders: by platform customer, or by email for guests.
std::string person_orders_where(const Person& who, Params& p) {
  add(p, who.shop_id);
  std::string where = "o.shop_id = ? AND (";
  bool any = false;
  if (who.customer_id) {
    where += "o.customer_id = ?";
    add(p, *who.customer_id);
    any = true;
  }
  if (!who.email.empty()) {
    where += any ? " OR " : "";
    where += "LOWER(TRIM(o.email)) = ?";
    add(p, who.email);
    any = true;
  }
  where += any ? ")" : "1 = 0)";
  return where;
}

Result<bool> accepts(Tx& tx, int64_t shop_id, AddressChannel channel, const std::string& address) {
  if (address.empty()) return false;
  auto consent = AG_TRY(find_consent(tx, shop_id, channel, address));
  if (!consent || consent->state != ConsentState::kSubscribed) return false;
  // SMS counts only with the wording the person agreed to (express consent), as for sending.
  if (channel == AddressChannel::kSms && consent->wording.empty()) return false;
  return !AG_TRY(suppression_reason(tx, shop_id, channel, address)).has_value();
}

// Trigger data and profile: everything but behaviour since entering. `trigger_at_ms` is when
// the triggering order happened, counted when it is not stored yet.
Result<PersonFacts> load_profile(Tx& tx, const Person& who, const TriggerData& data,
                                 int64_t trigger_at_ms, int64_t now_ms) {
  PersonFacts f;
  f.order_value_minor = data.value_minor;
  std::set<int64_t> products(data.product_ids.begin(), data.product_ids.end());
  f.order_product_ids.assign(products.begin(), products.end());
  // The event names its collections when it knows them; the catalogue fills in the rest.
  std::set<int64_t> collections(data.collection_ids.begin(), data.collection_ids.end());
  if (!products.empty()) {
    Params p{who.shop_id};
    for (int64_t id : products) add(p, id);
    for (const Row& r : AG_TRY(
             tx.query("SELECT DISTINCT pc.collection_id FROM catalog_product_collections pc JOIN "
                      "catalog_products p ON p.id = pc.product_row_id WHERE p.shop_id = ? AND "
                      "p.deleted = 0 AND p.product_id IN (" +
                          placeholders(products.size()) + ")",
                      p))) {
      collections.insert(r.i64(0));
    }
  }
  f.order_collection_ids.assign(collections.begin(), collections.end());
  f.country = upper_ascii(data.country_code);
  f.currency = upper_ascii(data.currency);

  std::set<std::string> tags;
  for (const std::string& t : data.customer_tags) add_tag(tags, t);
  if (who.customer_id) {
    auto row =
        AG_TRY(tx.query_one("SELECT tags FROM customers WHERE shop_id = ? AND customer_id = ?",
                            {who.shop_id, *who.customer_id}));
    // The platform sends customer tags as one comma-separated string ("vip, wholesale").
    const std::string stored = row ? row->text(0) : "";
    for (size_t pos = 0; pos <= stored.size();) {
      size_t comma = stored.find(',', pos);
      if (comma == std::string::npos) comma = stored.size();
      add_tag(tags, std::string_view(stored).substr(pos, comma - pos));
      pos = comma + 1;
    }
  }
  f.customer_tags.assign(tags.begin(), tags.end());

  Params p;
  std::string where = person_orders_where(who, p);
  bool trigger_stored = false;
  std::optional<int64_t> last_order_ms;
  std::set<int64_t> counted;
  for (const Row& r : AG_TRY(tx.query(
           "SELECT o.order_id, o.total_price_minor, o.received_at_ms FROM orders o WHERE " + where,
           p))) {
    if (!counted.insert(r.i64(0)).second) continue;
    f.total_spent_minor += r.i64(1);
    last_order_ms = std::max(last_order_ms.value_or(r.i64(2)), r.i64(2));
    if (data.order_id && *data.order_id == r.i64(0)) trigger_stored = true;
  }
  f.order_count = static_cast<int64_t>(counted.size());
  // An order trigger may be evaluated before orders/create has stored the order: it still counts.
  if (data.order_id && !trigger_stored) {
    ++f.order_count;
    f.total_spent_minor += data.value_minor;
    last_order_ms = std::max(last_order_ms.value_or(trigger_at_ms), trigger_at_ms);
  }
  if (last_order_ms)
    f.days_since_last_order = std::max<int64_t>(0, now_ms - *last_order_ms) / kDayMs;

  f.accepts_email_marketing = AG_TRY(accepts(tx, who.shop_id, AddressChannel::kEmail, who.email));
  f.accepts_sms_marketing = AG_TRY(accepts(tx, who.shop_id, AddressChannel::kSms, who.phone));
  return f;
}

bool compare(int64_t have, PredicateOp op, int64_t want) {
  switch (op) {
    case PredicateOp::kEq:
      return have == want;
    case PredicateOp::kNeq:
      return have != want;
    case PredicateOp::kGt:
      return have > want;
    case PredicateOp::kGte:
      return have >= want;
    case PredicateOp::kLt:
      return have < want;
    case PredicateOp::kLte:
      return have <= want;
    default:
      return false;
  }
}

bool number_holds(std::optional<int64_t> have, const Predicate& p) {
  // Never ordered has no "days since": no comparison with it holds.
  if (!have || p.numbers.empty()) return false;
  return compare(*have, p.op, p.numbers.front());
}

bool id_set_holds(const std::vector<int64_t>& have, const Predicate& p) {
  if (p.numbers.empty()) return false;
  bool found = std::find(have.begin(), have.end(), p.numbers.front()) != have.end();
  if (p.op == PredicateOp::kContains) return found;
  if (p.op == PredicateOp::kNotContains) return !found;
  return false;
}

bool tag_set_holds(const std::vector<std::string>& have, const Predicate& p) {
  if (p.strings.empty()) return false;
  auto want = normalise_tag(p.strings.front());
  if (!want) return false;
  bool found = std::find(have.begin(), have.end(), lower_ascii(*want)) != have.end();
  if (p.op == PredicateOp::kContains) return found;
  if (p.op == PredicateOp::kNotContains) return !found;
  return false;
}

bool code_holds(const std::string& have, const Predicate& p) {
  if (p.strings.empty()) return false;
  auto is = [&](const std::string& code) { return upper_ascii(code) == have; };
  switch (p.op) {
    case PredicateOp::kEq:
      return is(p.strings.front());
    case PredicateOp::kNeq:
      return !is(p.strings.front());
    case PredicateOp::kIn:
      return std::any_of(p.strings.begin(), p.strings.end(), is);
    case PredicateOp::kNotIn:
      return std::none_of(p.strings.begin(), p.strings.end(), is);
    default:
      return false;
  }
}

bool flag_holds(bool have, PredicateOp op) {
  if (op == PredicateOp::kIsTrue) return have;
  if (op == PredicateOp::kIsFalse) return !have;
  return false;
}

}  // namespace

Result<PersonFacts> load_entry_facts(Tx& tx, int64_t shop_id, const TriggerEvent& event,
                                     int64_t now_ms) {
  Person who{shop_id, event.customer_id, normalise_address(AddressChannel::kEmail, event.email),
             normalise_address(AddressChannel::kSms, event.phone)};
  return load_profile(tx, who, event.data, event.occurred_at_ms, now_ms);
}

Result<PersonFacts> load_enrolment_facts(Tx& tx, const Enrolment& enrolment, int64_t now_ms) {
  Person who{enrolment.shop_id, enrolment.customer_id,
             normalise_address(AddressChannel::kEmail, enrolment.email),
             normalise_address(AddressChannel::kSms, enrolment.phone)};
  PersonFacts f = AG_TRY(load_profile(tx, who, enrolment.data, enrolment.entered_at_ms, now_ms));

  // Machine opens (Apple MPP prefetches) and scanner clicks say nothing about the person.
  for (const Row& r : AG_TRY(tx.query(
           "SELECT DISTINCT e.kind FROM message_events e JOIN messages m ON m.id = e.message_id "
           "WHERE m.enrolment_id = ? AND e.machine = 0 AND e.kind IN ('open', 'click')",
           {enrolment.id}))) {
    if (r.text(0) == "open") f.opened_message = true;
    if (r.text(0) == "click") f.clicked_message = true;
  }
  // A click proves the message was opened, whether or not the pixel loaded.
  if (f.clicked_message) f.opened_message = true;

  Params p;
  std::string where = person_orders_where(who, p);
  where += " AND o.received_at_ms > ?";
  add(p, enrolment.entered_at_ms);
  if (enrolment.data.order_id) {
    where += " AND o.order_id <> ?";
    add(p, *enrolment.data.order_id);
  }
  f.ordered_since_start =
      AG_TRY(tx.query_one("SELECT 1 FROM orders o WHERE " + where + " LIMIT 1", p)).has_value();
  return f;
}

bool predicate_holds(const Predicate& predicate, const PersonFacts& facts) {
  const Predicate& p = predicate;
  switch (p.field) {
    case PredicateField::kOrderValueMinor:
      return number_holds(facts.order_value_minor, p);
    case PredicateField::kOrderCount:
      return number_holds(facts.order_count, p);
    case PredicateField::kTotalSpentMinor:
      return number_holds(facts.total_spent_minor, p);
    case PredicateField::kDaysSinceLastOrder:
      return number_holds(facts.days_since_last_order, p);
    case PredicateField::kOrderProductIds:
      return id_set_holds(facts.order_product_ids, p);
    case PredicateField::kOrderCollectionIds:
      return id_set_holds(facts.order_collection_ids, p);
    case PredicateField::kCustomerTags:
      return tag_set_holds(facts.customer_tags, p);
    case PredicateField::kCountry:
      return code_holds(facts.country, p);
    case PredicateField::kCurrency:
      return code_holds(facts.currency, p);
    case PredicateField::kAcceptsEmailMarketing:
      return flag_holds(facts.accepts_email_marketing, p.op);
    case PredicateField::kAcceptsSmsMarketing:
      return flag_holds(facts.accepts_sms_marketing, p.op);
    case PredicateField::kOpenedMessage:
      return flag_holds(facts.opened_message, p.op);
    case PredicateField::kClickedMessage:
      return flag_holds(facts.clicked_message, p.op);
    case PredicateField::kOrderedSinceStart:
      return flag_holds(facts.ordered_since_start, p.op);
  }
  return false;
}

}  // namespace afterglow::email
