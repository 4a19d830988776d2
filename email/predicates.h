// Trigger filters and conditional splits: what a predicate (email/flow_model.h) reads about a
// person, and whether it holds.
//
// Facts are gathered once per evaluation, at the moment it happens (Klaviyo's point-in-time
// semantics: a split after a delay sees what happened during the delay). Trigger data comes from
// the event that started the flow; profile facts (orders, spend, tags, consent) and behaviour
// facts (opened, clicked, ordered since entering) from the store. Opens flagged as machine opens
// (Apple Mail Privacy Protection) do not count as opened.
// Functions keep no state and are thread-safe; loaders run in the caller's transaction.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "email/enrolment.h"
#include "email/flow_model.h"
#include "plugin/core/db.h"

namespace afterglow::email {

struct PersonFacts {
  int64_t order_value_minor = 0;
  std::vector<int64_t> order_product_ids;
  std::vector<int64_t> order_collection_ids;
  std::string country;   // ISO 3166-1 alpha-2, upper case
  std::string currency;  // ISO 4217
  std::vector<std::string> customer_tags;  // normalised like offer tags (lower case, trimmed)
  int64_t order_count = 0;
  int64_t total_spent_minor = 0;
  std::optional<int64_t> days_since_last_order;  // nullopt: never ordered
  bool accepts_email_marketing = false;          // subscribed (not soft opt-in), not suppressed
  bool accepts_sms_marketing = false;            // the same, with its wording (express consent)
  bool opened_message = false;                   // a human open or click of its messages
  bool clicked_message = false;
  bool ordered_since_start = false;              // an order other than the triggering one
};

// Facts for a person about to enter (no enrolment yet): trigger data plus their profile.
Result<PersonFacts> load_entry_facts(Tx& tx, int64_t shop_id, const TriggerEvent& event,
                                     int64_t now_ms);

// Facts for an enrolled person now: trigger data, profile, and behaviour since entering.
Result<PersonFacts> load_enrolment_facts(Tx& tx, const Enrolment& enrolment, int64_t now_ms);

// Whether `predicate` holds for `facts`. A predicate whose operator does not fit its field
// (flow_from_json refuses those) is false.
bool predicate_holds(const Predicate& predicate, const PersonFacts& facts);

}  // namespace afterglow::email
