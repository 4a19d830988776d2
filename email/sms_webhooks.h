// What the SMS provider calls: inbound messages (POST /webhooks/sms) and delivery reports
// (POST /webhooks/sms/status), both form-encoded and signed with X-Twilio-Signature (HMAC-SHA1
// of the public URL and the sorted parameters under the account's auth token).
//
// Inbound keywords (email/sms_keywords.h) act at once, before the answer:
//   - opt-out (STOP, … and plain-language revocations): the number is unsubscribed and
//     suppressed in every shop that messaged it or holds its consent (we send all shops' texts
//     from one sender, and a revocation applies to the sender). Exact carrier keywords are
//     confirmed by the provider itself (Twilio's default opt-out handling), so we answer with an
//     empty TwiML response; a plain-language opt-out, which the provider does not recognise, gets
//     our one confirmation.
//   - HELP / INFO: answered with the brand, the support contact and how to stop.
//   - START / UNSTOP / YES: the suppression is lifted and the consent the person gave before is
//     restored (never a consent they did not give: without an earlier record nothing is stored).
// Delivery reports move messages monotonically (sent → delivered | undelivered | failed; a late
// "sent" never undoes "delivered") and are deduplicated on (MessageSid, MessageStatus).
//
// A missing or wrong signature → 401, a malformed form → 400 (JSON errors), too large → 413 (the
// server's limit). Thread-safe.
#pragma once

#include <string>

#include "plugin/core/clock.h"
#include "plugin/core/db.h"

namespace httplib {
class Server;
}

namespace afterglow::email {

struct SmsWebhookServices {
  Db& db;
  const Clock& clock;
  std::string auth_token;  // SMS_AUTH_TOKEN; empty: the routes answer 401 (SMS is off)
  std::string app_url;     // APP_URL: the public base the provider calls (the signed URL)
};

void mount_sms_webhooks(httplib::Server& server, SmsWebhookServices& services);

}  // namespace afterglow::email
