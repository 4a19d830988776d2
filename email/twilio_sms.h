// SmsSender over Twilio's Programmable Messaging REST API (spec/messaging.md §3.1), through the
// HttpClient seam. Production talks to https://api.twilio.com; tests point `api_base` at the
// Twilio-compatible server on loopback (tests/sms_server/).
//
// One send is one request, never retried here (the caller owns retries and their timing):
//   POST {api_base}/2010-04-01/Accounts/{account_sid}/Messages.json
//   Authorization: Basic base64(account_sid:auth_token)
//   To, From (or MessagingServiceSid when `from` is an MG… sid), Body, StatusCallback (when set)
// How the answer maps to SmsOutcome (Twilio has no idempotency key, so anything that may have
// reached Twilio is kUnknown, never kRetry):
//   2xx                                   kSent (sid, status, num_segments from the JSON)
//   429 (error 20429)                     kRetry: refused before anything was created
//   400 with error 21610                  kOptedOut
//   other 4xx (21211 invalid To, 21612,
//     21614, 20003 auth, 404 account…)    kRejected; error_code says which (21211/21614 mean the
//                                         number is bad, 20003 means our credentials are)
//   5xx, any other status                 kUnknown: Twilio saw the request; a 500/503 does not
//                                         prove no message was created
//   transport failure, request not sent   kRetry (connection refused, DNS, TLS handshake,
//     (http_request_not_sent)             connect timeout)
//   any other transport failure           kUnknown (timeout or connection lost after the request
//                                         was written)
//   a bad OutgoingSms (To not E.164,      kRejected with http_status 0, nothing sent
//     empty body, callback not http(s))
//
// Logs one line per send: outcome, HTTP status, error code, sid and the last four digits of the
// number. Never the auth token, the Authorization header or the body.
//
// Thread-safety: send() may be called from many threads at once (HttpClient is thread-safe; the
// object has no mutable state). The HttpClient must outlive the TwilioSms.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "email/sms_sender.h"
#include "plugin/core/config.h"
#include "plugin/core/error.h"
#include "plugin/core/http_client.h"

namespace afterglow::email {

struct TwilioSmsOptions {
  // Scheme and host (and port) only. Plain http only for loopback hosts (127.0.0.1, localhost,
  // [::1]), so a test base URL can never send the token over the network.
  std::string api_base = "https://api.twilio.com";
  std::string account_sid;  // AC…
  std::string auth_token;   // never logged
  std::string from;         // an E.164 number or alphanumeric sender id, or an MG… service sid
  std::chrono::milliseconds request_timeout{std::chrono::seconds(15)};
};

// The options from SMS_API_BASE, SMS_ACCOUNT_SID, SMS_AUTH_TOKEN and SMS_FROM; nullopt when
// SMS_ACCOUNT_SID is empty (the SMS channel is off).
std::optional<TwilioSmsOptions> twilio_sms_options(const Config& config);

// kInvalidArgument naming the problem (never echoing the token) when `options` cannot be used:
// an api_base that is not https (or http on loopback) or has a path, query or user info; an
// account sid that is not AC followed by letters and digits; an empty token or sender; a
// non-positive timeout.
Result<void> validate_twilio_sms_options(const TwilioSmsOptions& options);

class TwilioSms final : public SmsSender {
 public:
  // `options` must pass validate_twilio_sms_options (checked again here: a bad option makes
  // every send kRejected without a request).
  TwilioSms(HttpClient& http, TwilioSmsOptions options);

  SmsResult send(const OutgoingSms& sms) override;

  // The Messages resource URL this sender posts to.
  std::string messages_url() const;

 private:
  HttpClient& http_;
  TwilioSmsOptions options_;
  std::string invalid_options_;  // why the options are unusable, or empty
};

// True for "+" followed by 2 to 15 digits, the first not 0 (E.164).
bool is_e164(std::string_view number);

}  // namespace afterglow::email
