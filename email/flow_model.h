// A cross-sell sequence ("flow") as the merchant configures it: one trigger, filters checked when
// a person would enter, an ordered tree of steps (delays, emails, SMS, splits), exit conditions
// checked before every send, a re-entry cooldown and a status. The scheduler reads it;
// /api/admin/flows edits it. The JSON form below is the API's, field for field.
//
// Steps form a tree: a list runs in order; a split ends its list and continues in exactly one of
// its branches. Every step has an id, unique in the flow and stable across edits, so a person's
// place in a live flow (and the one-send-per-step key) survives the merchant editing the flow.
// Ids a client leaves out are assigned ("s1", "s2", … in document order, skipping taken ones).
//
// Validation names the field ("flows.steps[1].subject must not be empty"). Functions keep no
// state and are thread-safe.
#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "plugin/core/error.h"

namespace afterglow {
struct FieldError;
}

namespace afterglow::email {

enum class FlowTrigger {
  kOrderPaid,
  kOrderFulfilled,
  kCheckoutAbandoned,
  kProductViewed,
  kOfferDeclined
};
enum class FlowStatus { kDraft, kLive, kPaused };
enum class ExitCondition {
  kOrderedSinceStart,        // the person placed an order after entering
  kClicked,                  // clicked a link in a message of this flow
  kUnsubscribed,             // unsubscribed from the channel (always also enforced by consent)
  kRefundedOrCancelled,      // the triggering order was refunded or cancelled
  kAcceptedRecommendedItem,  // accepted the item this flow recommends (e.g. on the thank-you page)
};
enum class StepType { kDelay, kSendEmail, kSendSms, kConditionalSplit, kRandomSplit };

// What a predicate looks at. Trigger data comes from the event that started the flow; profile and
// behaviour are read when the predicate is evaluated.
enum class PredicateField {
  kOrderValueMinor,        // number: the triggering order's total, shop currency minor units
  kOrderProductIds,        // id set: products in the triggering order (or the viewed product)
  kOrderCollectionIds,     // id set: their collections
  kCountry,                // code: shipping country, ISO 3166-1 alpha-2
  kCurrency,               // code: presentment currency, ISO 4217
  kCustomerTags,           // tag set
  kOrderCount,             // number: the customer's orders
  kTotalSpentMinor,        // number
  kDaysSinceLastOrder,     // number
  kAcceptsEmailMarketing,  // flag
  kAcceptsSmsMarketing,    // flag
  kOpenedMessage,          // flag: opened a message of this flow since entering
  kClickedMessage,         // flag: clicked …
  kOrderedSinceStart,      // flag: ordered since entering
};
enum class PredicateOp {
  kEq,
  kNeq,
  kGt,
  kGte,
  kLt,
  kLte,
  kContains,
  kNotContains,
  kIn,
  kNotIn,
  kIsTrue,
  kIsFalse
};

// field op value. Numbers and ids go in `numbers` (one for eq/gt/…/contains), tags and codes in
// `strings` (one for contains, one or more for in/not_in); flags take no value.
struct Predicate {
  PredicateField field = PredicateField::kOrderValueMinor;
  PredicateOp op = PredicateOp::kGte;
  std::vector<int64_t> numbers;
  std::vector<std::string> strings;
};

struct FlowStep;

struct RandomBranch {
  int weight = 1;  // 1..1000; a branch's share is weight / sum(weights)
  std::vector<FlowStep> steps;
};

struct FlowStep {
  std::string id;  // [a-z0-9_-]{1,32}, unique in the flow
  StepType type = StepType::kDelay;
  int64_t delay_minutes = 0;           // kDelay: 1 .. 90 days
  std::string subject;                 // kSendEmail
  std::string preview_text;            // kSendEmail, optional
  std::string body;                    // kSendEmail (HTML or text with {{placeholders}}), kSendSms
  Predicate condition;                 // kConditionalSplit
  std::vector<FlowStep> yes;           // kConditionalSplit: when the condition holds
  std::vector<FlowStep> no;            // kConditionalSplit: otherwise
  std::vector<RandomBranch> branches;  // kRandomSplit: 2..5
};

struct Flow {
  int64_t id = 0;       // 0 until stored
  int64_t shop_id = 0;  // set by the store, never by the client
  std::string name;
  FlowStatus status = FlowStatus::kDraft;
  FlowTrigger trigger = FlowTrigger::kOrderPaid;
  std::vector<Predicate> trigger_filters;  // all must hold when a person would enter
  std::vector<FlowStep> steps;
  std::vector<ExitCondition> exit_conditions;
  int64_t reentry_cooldown_hours = 720;  // a person re-enters no sooner than this after entering
  int64_t created_at_ms = 0;
  int64_t updated_at_ms = 0;
};

std::string_view flow_trigger_name(FlowTrigger trigger);
std::string_view flow_status_name(FlowStatus status);
std::string_view exit_condition_name(ExitCondition condition);
std::string_view step_type_name(StepType type);

// Reads a flow from its JSON form (the body of POST/PUT /api/admin/flows), assigning missing step
// ids. Read-only members (id, created_at_ms, updated_at_ms) are ignored; unknown members are
// refused. A live flow must contain at least one send step. On failure: kInvalidArgument naming
// the first bad field; `all_errors`, when given, receives every problem.
Result<Flow> flow_from_json(const nlohmann::json& value,
                            std::vector<FieldError>* all_errors = nullptr);
nlohmann::json flow_to_json(const Flow& flow);

}  // namespace afterglow::email
