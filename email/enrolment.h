// Putting people into flows, and taking them out.
//
// A trigger (an order paid or fulfilled, an abandoned checkout, a product view, a declined
// thank-you offer) arrives as a TriggerEvent. enrol() puts the person into every live flow of the
// shop started by that trigger whose trigger filters hold, unless they entered the same flow
// within its re-entry cooldown, and schedules the flow's first step. The enrolment key
// (flow, event) is a unique constraint: the same event enrols nobody twice, however often it is
// replayed. Exits are checked again before every send (email/send_policy.h); cancel_enrolments()
// stops enrolments at once when the event that cancels them arrives (an order for an abandoned
// checkout's token).
//
// All calls run inside the caller's transaction (the webhook handler's, so the enrolment commits
// with the event that caused it) and keep no state.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "email/flow_model.h"
#include "plugin/core/db.h"

namespace afterglow::email {

// What the triggering event says about the person and the purchase; stored with the enrolment
// (JSON) and read by filters, splits, exits and rendering.
struct TriggerData {
  std::optional<int64_t> order_id;            // order triggers, offer declined
  std::string order_name;                     // "#1001"
  std::string checkout_token;                 // checkout abandoned (also the order's, if known)
  std::string cart_token;
  std::string recovery_url;                   // checkout abandoned: the platform's link back
  int64_t value_minor = 0;                    // order or checkout total, shop currency
  std::string currency;
  std::string country_code;                   // shipping address
  std::string province_code;
  std::string first_name;
  std::string last_name;
  std::vector<int64_t> product_ids;           // bought, in the cart, viewed, or declined
  std::vector<int64_t> variant_ids;
  std::vector<int64_t> collection_ids;
  std::vector<std::string> customer_tags;
  std::optional<int64_t> offer_id;            // offer declined: which offer
};

struct TriggerEvent {
  FlowTrigger trigger = FlowTrigger::kOrderPaid;
  std::string key;                            // the event's identity, e.g. "order:1001"
  std::string ref;                            // what cancels it (a checkout token); may be empty
  std::optional<int64_t> customer_id;
  std::string email;                          // as received; normalised here; may be empty
  std::string phone;
  int64_t occurred_at_ms = 0;                 // when it happened (platform time)
  TriggerData data;
};

// One stored enrolment, as the policy, the predicates and the step runner read it.
struct Enrolment {
  int64_t id = 0;
  int64_t shop_id = 0;
  int64_t flow_id = 0;
  std::string person_key;
  std::optional<int64_t> customer_id;
  std::string email;  // normalised; empty: none
  std::string phone;
  FlowTrigger trigger = FlowTrigger::kOrderPaid;
  std::string trigger_ref;
  TriggerData data;
  std::string state;  // active | completed | exited | cancelled
  int64_t entered_at_ms = 0;
};

struct EnrolmentOutcome {
  int64_t flow_id = 0;
  std::optional<int64_t> enrolment_id;        // set when the person entered
  std::string reason;                         // why not: duplicate_event | cooldown | filter:… | no_contact
};

// Enrols the person in each live flow of `shop_id` for `event.trigger` (one outcome per flow).
// Skips (with the reason in the outcome, nothing stored): no email and no phone; a trigger
// filter that does not hold; an enrolment in the same flow entered less than its cooldown ago;
// the same event already enrolled (the unique key). The first step is scheduled at now_ms (a
// leading delay step schedules what follows it). The shop must exist.
Result<std::vector<EnrolmentOutcome>> enrol(Tx& tx, int64_t shop_id, const TriggerEvent& event,
                                            int64_t now_ms);

// Ends every active enrolment of the shop with trigger_ref = `ref` (and, when `trigger` is
// given, that trigger): state cancelled, pending step runs cancelled, a send_log row each.
// Returns how many ended.
Result<int64_t> cancel_enrolments(Tx& tx, int64_t shop_id, std::string_view ref,
                                  std::optional<FlowTrigger> trigger, std::string_view reason,
                                  int64_t now_ms);

// "customer:ID" when the platform customer is known, else "email:HASH" / "phone:HASH" (salted
// with the shop's hash salt, so caps and cooldowns work for guests without keeping a second
// copy of the address in the key).
std::string person_key(std::optional<int64_t> customer_id, std::string_view salt,
                       std::string_view email, std::string_view phone);

// The enrolment with that id (any state), or nullopt.
Result<std::optional<Enrolment>> find_enrolment(Tx& tx, int64_t enrolment_id);

// The stored form of TriggerData (round-trips).
std::string trigger_data_to_json(const TriggerData& data);
TriggerData trigger_data_from_json(std::string_view json_text);

}  // namespace afterglow::email
