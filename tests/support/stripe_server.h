// The Stripe-compatible test server (tests/stripe_server/server.mjs, README.md there) as a child
// process, with typed access to its control API.
//
// The constructor starts `node server.mjs --port 0` on 127.0.0.1, reads the `listening <port>`
// line from the child's stdout through a pipe, and returns once the server accepts connections;
// point the code under test at it with STRIPE_API_BASE=base_url() and
// STRIPE_SECRET_KEY=secret_key(). The server's per-request log (stderr) goes to a temporary
// file, readable through log(); it is deleted with the object unless KEEP_TEST_DIRS is set.
//
// Control calls (everything except call()) throw std::runtime_error when the server answers
// with anything but 2xx or cannot be reached: they are test set-up, not behaviour under test.
// All methods may be called from any thread at the same time (each opens its own connection),
// so a test can block in call() on a held request while another thread calls wait_held() and
// release().
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <utility>

namespace afterglow::testing {

class Child;

class StripeServer {
 public:
  struct Options {
    std::string webhook_url;      // e.g. "https://127.0.0.1:PORT/webhooks/stripe"; empty: none
    std::string webhook_secret;   // whsec_…
    std::string webhook_ca_file;  // PEM the webhook target's certificate chains to
  };

  // Starts the server without a webhook endpoint.
  StripeServer();
  // Starts the server; throws std::runtime_error (with the log tail) when node cannot be started
  // or does not report its port within 15 s.
  explicit StripeServer(Options options);
  // SIGTERM, then SIGKILL if the server has not exited within 5 s.
  ~StripeServer();
  StripeServer(const StripeServer&) = delete;
  StripeServer& operator=(const StripeServer&) = delete;

  // "http://127.0.0.1:<port>" (the value for STRIPE_API_BASE).
  std::string base_url() const;
  int port() const { return port_; }
  // "sk_test_afterglow" (the value for STRIPE_SECRET_KEY); any sk_test_ key is accepted.
  static std::string secret_key();

  // Sends events to `url` from now on (empty url: stop sending). `ca_file` may be empty for an
  // https://127.0.0.1 target, whose certificate is then not verified.
  void set_webhook(const std::string& url, const std::string& secret, const std::string& ca_file);

  // POST /v1/accounts type=custom -> "acct_…".
  std::string create_account();
  // POST /v1/customers in `account` (empty: the platform) -> "cus_…".
  std::string create_customer(const std::string& account = "");
  // A real "pm_…" with the behaviour of test card `card` (e.g. "pm_card_chargeCustomerFail"),
  // attached to `customer` when it is not empty. (The pm_card_* ids themselves work with every
  // customer too.)
  std::string create_payment_method(const std::string& customer = "",
                                    const std::string& card = "pm_card_visa",
                                    const std::string& account = "");

  // The next `times` requests matching `method` and `path` (exact; a trailing '*' makes it a
  // prefix) get the fault `kind`: "500" (stored under the idempotency key, nothing executed),
  // "429", "409", "503", "lock_timeout" (none stored), "timeout" (never answered),
  // "drop_before" (connection closed, nothing executed), "drop_after" (executed and stored,
  // then the connection is closed without an answer).
  void fault(const std::string& method, const std::string& path, const std::string& kind,
             int times = 1);
  void clear_faults();
  // Matching requests wait, holding their idempotency key, until release().
  void hold(const std::string& method, const std::string& path);
  // True once at least `n` requests are held; false when `timeout` passes first.
  bool wait_held(int n, std::chrono::milliseconds timeout);
  void release();
  // The shopper completes (or fails) 3DS on a requires_action payment intent.
  void authenticate(const std::string& payment_intent_id, bool succeed);
  // Moves the server's clock (idempotency-key expiry, `created`, webhook timestamps).
  void advance_clock(int64_t seconds);
  // Clears all data, faults, holds, events and the request log; the clock and the webhook
  // endpoint go back to their start-up values.
  void reset();

  // Every payment intent / refund of every account, each with an extra "account" field (null
  // for the platform), oldest first.
  nlohmann::json payment_intents() const;
  nlohmann::json refunds() const;
  // Every /v1 request: [{method, path, account, idempotency_key, status, replayed, request_id,
  // fault?}]; status is null for a request that was never answered.
  nlohmann::json requests() const;
  // Every event, each with "delivery": {state: pending|delivered|failed|not_sent, attempts,
  // statuses}.
  nlohmann::json events() const;
  // True once at least `n` events have finished delivery (delivered or failed for good).
  bool wait_deliveries(int n, std::chrono::milliseconds timeout) const;

  // Raw access: one request to the server with Bearer secret_key(), and the Stripe-Account /
  // Idempotency-Key headers when given; a non-empty body is sent form-encoded. Returns
  // {status, body}; {0, "<error>"} when the connection failed or closed without an answer.
  std::pair<int, std::string> call(const std::string& method, const std::string& path_and_query,
                                   const std::string& form_body = "",
                                   const std::string& account = "",
                                   const std::string& idempotency_key = "") const;

  // The server's stderr so far.
  std::string log() const;

 private:
  nlohmann::json control(const std::string& method, const std::string& path,
                         const std::string& json_body = "") const;
  std::string log_tail(int lines = 20) const;

  std::unique_ptr<Child> child_;
  std::string log_path_;
  int port_ = 0;
};

}  // namespace afterglow::testing
