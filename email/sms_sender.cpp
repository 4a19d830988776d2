#include "email/sms_sender.h"

namespace afterglow::email {

const char* sms_outcome_name(SmsOutcome outcome) {
  switch (outcome) {
    case SmsOutcome::kSent:
      return "sent";
    case SmsOutcome::kRetry:
      return "retry";
    case SmsOutcome::kRejected:
      return "rejected";
    case SmsOutcome::kOptedOut:
      return "opted_out";
    case SmsOutcome::kUnknown:
      return "unknown";
  }
  return "unknown";
}

}  // namespace afterglow::email
