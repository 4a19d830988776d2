// The send-time gate: whether a send step may go out now, to whom, and if not, why.
//
// Consent can be withdrawn, an order placed, a cap reached or the night fall between the moment
// a step was scheduled and the moment it is due, so every rule is checked at send time, in this
// order (the first that applies decides):
//   1. shop installed, flow live (a paused flow holds its steps, looked at again hourly; a draft
//      one, or an uninstalled shop, ends them)
//   2. a recipient on the channel (email address / phone number)
//   3. consent: email subscribed, or soft opt-in (a buyer who never said no, where the shop's
//      settings allow it); SMS only with a stored express consent (subscribed + wording)
//   4. suppression (unsubscribe, hard bounce, complaint, STOP, invalid number) and inactivity
//      (no order, click or consent in 90 days)
//      (3 and 4 see a withdrawal first: when the flow exits on unsubscribe, an unsubscribed
//      consent or a suppression on the step's channel ends the enrolment, exit_unsubscribed)
//   5. the flow's exit conditions (they end the enrolment), and message expiry
//   6. frequency caps: per channel since the last send (shop settings; defaults 16 h email,
//      24 h SMS), the weekly cap across channels, the preference centre's weekly/monthly
//      choice, and never more than 3 SMS in 24 h whatever the settings say
//   7. one fatigue budget across thank-you offers, email and SMS: items the person accepted,
//      declined or bought are excluded (the step is skipped when nothing is left to pitch);
//      a step that offers the incentive is skipped when the shop configured none
//   8. quiet hours in the recipient's time zone (SMS; email too when the shop says so): the
//      step is delayed to the next allowed minute, not skipped
// Reads only; the caller records the decision (send_log) and acts on it. Thread-safe (no state).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "email/enrolment.h"
#include "email/flow_model.h"
#include "plugin/core/db.h"

namespace afterglow::email {

enum class Verdict {
  kSend,   // go ahead
  kSkip,   // this step is not sent; the flow goes on to the next step
  kDelay,  // try again at delay_until_ms (quiet hours, a paused flow)
  kExit,   // the enrolment ends here (an exit condition, the flow switched off)
};

// Stable reason codes (send_log.reason; the admin page and tests key on them).
namespace reason {
inline constexpr const char* kSent = "sent";
inline constexpr const char* kShopInactive = "shop_inactive";
inline constexpr const char* kFlowPaused = "flow_paused";
inline constexpr const char* kFlowNotLive = "flow_not_live";
inline constexpr const char* kNoRecipient = "no_recipient";
inline constexpr const char* kNoConsent = "no_consent";
inline constexpr const char* kNoExpressSmsConsent = "no_express_sms_consent";
inline constexpr const char* kSuppressed = "suppressed";             // detail names the reason
inline constexpr const char* kInactive = "inactive_90_days";
inline constexpr const char* kExitOrdered = "exit_ordered";
inline constexpr const char* kExitClicked = "exit_clicked";
inline constexpr const char* kExitUnsubscribed = "exit_unsubscribed";
inline constexpr const char* kExitRefundedOrCancelled = "exit_refunded_or_cancelled";
inline constexpr const char* kExitAcceptedItem = "exit_accepted_item";
inline constexpr const char* kExpired = "expired";
inline constexpr const char* kFrequencyCap = "frequency_cap";         // per channel since last
inline constexpr const char* kWeeklyCap = "weekly_cap";
inline constexpr const char* kPreferenceFrequency = "preference_frequency";
inline constexpr const char* kSmsDailyLimit = "sms_daily_limit";      // 3 per 24 h, hard
inline constexpr const char* kNothingToRecommend = "nothing_to_recommend";
inline constexpr const char* kNoIncentive = "no_incentive_configured";
inline constexpr const char* kQuietHours = "quiet_hours";
}  // namespace reason

struct SendRequest {
  const Flow* flow = nullptr;
  const FlowStep* step = nullptr;       // kSendEmail or kSendSms
  const Enrolment* enrolment = nullptr;
  std::optional<int64_t> expires_at_ms;  // the step run's expiry
  int64_t now_ms = 0;
};

struct PolicyDecision {
  Verdict verdict = Verdict::kSend;
  std::string reason = reason::kSent;
  std::string detail;                       // for people: "last email 3 h ago; the cap is 16 h"
  int64_t delay_until_ms = 0;               // kDelay
  std::vector<int64_t> excluded_product_ids;  // kSend: never pitch these (fatigue)
  bool first_sms_to_number = false;         // kSend on SMS: add HELP/STOP instructions
};

// Applies the rules above. Errors are database errors only.
Result<PolicyDecision> evaluate_send_policy(Tx& tx, const SendRequest& request);

// Whether the step's text offers the shop's incentive ({{incentive_code}} or
// {{incentive_text}} in its subject or body).
bool step_offers_incentive(const FlowStep& step);

// Whether the step shows recommendations: its own Mustache section over `items`, or the product
// cards ({{recommendations}}). Such a step is skipped when the fatigue budget leaves nothing.
bool step_recommends(const FlowStep& step);

}  // namespace afterglow::email
