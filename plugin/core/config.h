// Configuration from the environment (a KEY=VALUE file named by AFTERGLOW_CONFIG, or by
// --config, may set the same keys; the environment wins). Validated once at start: a missing or
// malformed key fails with a message naming it. Secrets are kept here and never logged;
// describe() lists only which keys are set.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "plugin/core/error.h"

namespace afterglow {

// What the process is about to do decides which keys are required.
enum class ConfigPurpose { kServe, kWorker, kAdmin /* migrate, jobs, seed */ };

struct Config {
  std::string app_url = "https://localhost:8443";
  std::string api_key;
  std::string api_secret;
  std::string api_secret_previous;  // optional, during a rotation
  std::string database_url = "sqlite:var/afterglow.db";
  std::string host = "0.0.0.0";
  int port = 8443;                  // HTTPS; 0 = pick a free port
  std::string tls_cert, tls_key;    // PEM files; HTTPS is off when both are empty
  int http_port = -1;               // plain HTTP behind a TLS proxy; -1 = off, 0 = free port
  int workers = 2;                  // in-process job workers for `serve`
  int database_pool_size = 8;       // PostgreSQL connections per process
  int job_lease_seconds = 300;      // a crashed worker's job is retried after this
  int job_retention_days = 7;       // finished jobs are pruned after this
  int http_threads = 16;            // connection threads of the HTTP server
  int64_t max_body_bytes = 1 << 20;
  std::string sqlite_synchronous = "FULL";  // FULL: an acknowledged webhook survives power loss
  // PLATFORM_API_BASE: where shops' OAuth and Admin API endpoints live; "" = https://{shop}.
  // When set, requests go to {base}/{shop}/admin/... (tests point it at a fake platform).
  std::string platform_api_base;
  std::string platform_ca_file;     // PLATFORM_CA_FILE: extra CA bundle for outbound HTTPS
  std::string stripe_secret_key, stripe_api_base = "https://api.stripe.com",
                                 stripe_webhook_secret;
  // The email channel (email/smtp_mailer.h); off when SMTP_URL is empty. SMTP_URL is
  // smtp://[user:pass@]host[:port][/ehlo-domain] (STARTTLS required) or smtps://… (implicit
  // TLS); it may hold a password, so it is a secret. SMTP_TLS=none lets smtp:// run without
  // STARTTLS (a relay on loopback, tests). SMTP_CA_FILE: CA bundle used instead of the system one.
  std::string smtp_url;
  std::string smtp_tls = "required";  // "required" or "none"
  std::string smtp_ca_file;
  int smtp_timeout_seconds = 60;      // SMTP_TIMEOUT_SECONDS: one whole send, connect included
  // MAIL_FROM as given: "bounce@example.com" or "Shop <bounce@example.com>"; mail_from_address
  // is the bare address inside it, the envelope sender (SMTP MAIL FROM).
  std::string mail_from, mail_from_address;
  // The SMS channel (a Twilio-compatible REST API, email/twilio_sms.h); off when
  // SMS_ACCOUNT_SID is empty. SMS_FROM is a sender number (E.164) or a Messaging Service sid
  // (MG…). SMS_AUTH_TOKEN is a secret: it also verifies X-Twilio-Signature on our webhooks.
  std::string sms_api_base = "https://api.twilio.com", sms_account_sid, sms_auth_token, sms_from;
  std::string token_encryption_key;
  std::string log_level = "info";
  bool dev_mode = false;            // DEV_MODE=1, set by the run command only
  bool bench_routes = false;        // BENCH_ROUTES=1 mounts POST /bench/empty (load tests)
  // AFTERGLOW_TEST_HOOKS=1: registers test-only job kinds (plugin/app/test_hooks.h). For the
  // integration tests only; never set it in a deployment.
  bool test_hooks = false;
  int ready_fd = -1;                // READY_FD: the bound ports are written here, then closed

  // A one-line summary naming the keys that are set, with secret values masked.
  std::string describe() const;
};

// Reads `env` (normally the process environment) plus the optional file, validates for
// `purpose`, and returns the config or an error naming the first bad key.
Result<Config> load_config(const std::map<std::string, std::string>& env,
                           const std::string& config_file, ConfigPurpose purpose);

// The process environment as a map.
std::map<std::string, std::string> process_environment();

}  // namespace afterglow
