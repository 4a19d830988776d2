#include "email/mailer.h"

namespace afterglow::email {

const char* mail_outcome_name(MailOutcome outcome) {
  switch (outcome) {
    case MailOutcome::kSent:
      return "sent";
    case MailOutcome::kRetry:
      return "retry";
    case MailOutcome::kRejected:
      return "rejected";
    case MailOutcome::kUnknown:
      return "unknown";
  }
  return "unknown";
}

}  // namespace afterglow::email
