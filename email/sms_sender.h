// The SMS channel seam: hands one text to a provider and says how that ended, in the terms the
// send worker needs to decide between "done", "try again later", "give up" and "suppress the
// number" (spec/messaging.md §3.1, §5.4). Production uses TwilioSms (email/twilio_sms.h); tests
// point it at the Twilio-compatible server in tests/sms_server/.
//
// The worker writes the `messages` row (state 'sending') before calling send() and calls it
// outside any transaction; send() never touches the database.
#pragma once

#include <string>

namespace afterglow::email {

struct OutgoingSms {
  std::string to;               // E.164, e.g. "+15558675310"
  std::string body;             // the rendered text, segment budget already enforced
  std::string status_callback;  // absolute URL for delivery reports, or empty for none
};

// How one send ended. The provider has no idempotency key, so the split between kRetry and
// kUnknown is whether the request could have reached it: only a request that provably never
// arrived (or that it refused before acting, 429) may be sent again.
enum class SmsOutcome {
  kSent,      // accepted (2xx): `sid` names the message; delivery reports follow
  kRetry,     // not created: 429, or the connection was never made; send again later
  kRejected,  // a permanent 4xx (invalid number, bad sender, auth…) or refused locally; never
              // resend as is
  kOptedOut,  // the recipient replied STOP to this sender (error 21610): suppress the number
  kUnknown,   // timeout, dropped connection or 5xx after the request was sent: the message may
              // exist; mark it unknown and do not resend (a duplicate promo is worse than a
              // missed one)
};

// Stable lower-case name for logs and the messages table: "sent", "retry", "rejected",
// "opted_out", "unknown".
const char* sms_outcome_name(SmsOutcome outcome);

struct SmsResult {
  SmsOutcome outcome = SmsOutcome::kUnknown;
  std::string sid;      // "SM…" on kSent (empty if the answer could not be read)
  std::string status;   // the provider's status on kSent: "queued", "accepted", "scheduled"
  int segments = 0;     // billed segments on kSent; 0 when not known yet (Messaging Service)
  int http_status = 0;  // 0 when no answer arrived or nothing was sent
  int error_code = 0;   // the provider's error code (21610, 21211, 20429…), 0 when none
  // The provider's error message or the transport error, for the messages row. Never holds a
  // secret, but a provider message may quote the recipient's number: log error_code instead.
  std::string detail;
};

class SmsSender {
 public:
  virtual ~SmsSender() = default;
  // Sends one text and waits for the provider's answer. Thread-safe; never throws.
  virtual SmsResult send(const OutgoingSms& sms) = 0;
};

}  // namespace afterglow::email
