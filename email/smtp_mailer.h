// The email channel over SMTP with libcurl (spec/messaging.md §3.2): one message, one recipient
// per send(), streamed as the complete RFC 5322 text the caller rendered (libcurl adds the
// dot-stuffing and the final "."), so what DKIM signed is what goes out.
//
// Transport security: smtp:// must upgrade with STARTTLS (CURLUSESSL_ALL: a server that does
// not offer it gets nothing, neither credentials nor mail); smtps:// is TLS from the first byte.
// SmtpOptions::allow_plaintext (SMTP_TLS=none) turns STARTTLS off for a relay on loopback or a
// test server; the mailer logs a warning when it is created that way.
// Credentials come from the URL's userinfo (percent-decoded) and go to libcurl separately; they
// are never logged and never appear in a MailResult (the log shows redact_smtp_url()).
//
// Classification (MailResult in email/mailer.h) reads the server's replies, not only the curl
// error: 2xx after the message -> kSent; 4xx anywhere -> kRetry; 5xx to MAIL FROM, RCPT TO or
// the message -> kRejected; failures of the session itself (no connection, TLS, STARTTLS
// missing, timeouts, a refused greeting/EHLO) -> kRetry, because they say nothing about this
// message and mail should wait until the server or the configuration is fixed. That includes a
// rejected AUTH (535): a configuration error, logged as an error, and kRetry so that the mail
// goes out once the password is fixed. Once libcurl has taken the whole message from us, a lost
// connection or a timeout before the final reply is kUnknown (the server may have queued it).
// hard_bounce: a 5xx at RCPT TO (except 5.7.x, which is the receiving side's policy about us,
// e.g. a blocklisted sending IP, not about the address), or an enhanced status 5.1.x about the
// recipient (5.1.1 user unknown, 5.1.10 null MX; not 5.1.7/5.1.8, which are about the sender).
//
// Connections are reused: idle easy handles (each keeping its SMTP connection open, already
// past EHLO/STARTTLS/AUTH) wait in a small pool, and a send takes one or makes a new one, so a
// burst of mail costs one TLS handshake and one AUTH per concurrent sender rather than per
// message (spec §3.2). libcurl closes a connection after any failed transaction, so a reused
// one always starts clean. When a reused connection turns out to have been closed by the server
// while idle (no reply at all to our first command), the send is retried once at once on a new
// connection: nothing was handed over, so this cannot duplicate.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "email/mailer.h"
#include "plugin/core/config.h"
#include "plugin/core/error.h"

namespace afterglow::email {

struct SmtpOptions {
  // smtp://[user:pass@]host[:port][/ehlo-domain] or smtps://…; userinfo percent-encoded.
  std::string url;
  bool allow_plaintext = false;  // smtp:// without STARTTLS (SMTP_TLS=none)
  std::string ca_file;           // PEM bundle used instead of the system CAs; empty = system
  std::chrono::milliseconds connect_timeout{std::chrono::seconds(10)};
  std::chrono::milliseconds timeout{std::chrono::seconds(60)};  // one whole send
};

// The options from SMTP_URL, SMTP_TLS, SMTP_CA_FILE and SMTP_TIMEOUT_SECONDS. Fails with
// kInvalidArgument when SMTP_URL is empty (the email channel is off) or MAIL_FROM is missing
// (every message needs an envelope sender: Config::mail_from_address).
Result<SmtpOptions> smtp_options_from_config(const Config& config);

// `url` with any userinfo replaced by "***" (for logs), e.g. "smtp://***@mail.example.com:587".
// An unparseable URL gives "<invalid SMTP URL>".
std::string redact_smtp_url(std::string_view url);

// A mailer for `options`. Fails with kInvalidArgument when the URL does not parse, is not
// smtp:// or smtps://, has no host, or combines smtps:// with allow_plaintext. Nothing is
// connected yet: the first send() connects. The mailer must outlive every send() in progress.
Result<std::unique_ptr<Mailer>> make_smtp_mailer(SmtpOptions options);

}  // namespace afterglow::email
