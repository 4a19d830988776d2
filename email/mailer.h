// The email channel's seam: hand one complete message to a mail server for one recipient.
// Production uses SMTP (email/smtp_mailer.h); tests use the same SMTP client against a real SMTP
// server on loopback (tests/support/smtp_server.h).
//
// The outcome says what the caller may do next (spec/messaging.md §3.2, §5.4):
//   kSent      the server took responsibility for the message (2xx after the final ".").
//   kRetry     not delivered, and it is safe to send again later: a 4xx reply, or a failure
//              before the whole message was handed over (no connection, TLS, timeout, AUTH).
//   kRejected  a permanent 5xx for this message (MAIL FROM, RCPT TO, or after the message);
//              do not resend. hard_bounce says whether to suppress the address.
//   kUnknown   the connection was lost or timed out after the whole message was handed over and
//              before the server's final reply: it may have been delivered (RFC 1047). Never
//              resend; a duplicate promotion is worse than a missed one.
#pragma once

#include <string>

namespace afterglow::email {

struct OutgoingEmail {
  std::string envelope_from;  // MAIL FROM (bounce address), a bare address
  std::string recipient;      // RCPT TO, a bare address; one recipient per message
  std::string raw_message;    // complete RFC 5322 message, CRLF line endings, not dot-stuffed
};

enum class MailOutcome {
  kSent,
  kRetry,     // 4xx, or a failure before the message was handed over
  kRejected,  // 5xx: permanent
  kUnknown,   // connection lost after the whole message was handed over: maybe delivered
};

// Stable lower-case name ("sent", "retry", "rejected", "unknown") for logs and the database.
const char* mail_outcome_name(MailOutcome outcome);

struct MailResult {
  MailOutcome outcome = MailOutcome::kRetry;
  int smtp_code = 0;         // the server's last reply code; 0 when there was none (no connection)
  std::string detail;        // the server's reply text or the transport error; never credentials
  bool hard_bounce = false;  // 5xx at RCPT TO, or an enhanced status 5.1.x (address unknown)
};

class Mailer {
 public:
  virtual ~Mailer() = default;
  // Sends `email` and waits for the outcome. Never throws; every failure is a MailResult.
  // Thread-safe: any number of threads may send at once.
  virtual MailResult send(const OutgoingEmail& email) = 0;
};

}  // namespace afterglow::email
