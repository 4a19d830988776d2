// The Stripe API client: the PaymentGateway seam (ARCHITECTURE.md) over the HttpClient seam.
// Production talks to https://api.stripe.com through libcurl; tests point `api_base` at a real
// Stripe-compatible server on loopback (tests/stripe_server/).
//
// What a call does (spec/stripe.md §1 "Retry guidance", §2):
//   - Sends form-encoded parameters with `Authorization: Bearer <key>`, the pinned
//     `Stripe-Version`, `Stripe-Account` when an account is named, and on every POST the
//     caller's `Idempotency-Key`. Every attempt of one call sends the same key and the same body,
//     so Stripe either runs the request once or replays what it stored.
//   - Retries, waiting through the Sleeper seam, on transport failures (no connection, timeout,
//     dropped connection), 409, 429 and 5xx other than 500. `Stripe-Should-Retry: true|false`
//     overrides that decision (a 2xx is always final). A 500 is stored under the key (a retry would
//     only replay it), so without that header it is not retried. Waits: 0.5 s doubling per retry,
//     capped at 5 s, times a jitter factor in [0.5, 1.0], never under the initial backoff; a
//     `Retry-After` of at most `max_backoff` lengthens a wait.
//   - Reports how the call ended as a StripeOutcome (see there). Local refusals (bad options, an
//     idempotency key that is empty, longer than 255 characters or not printable ASCII, an id or
//     account that could not be a Stripe id, a metadata key with brackets) come back as kRejected
//     with attempts == 0 and no request sent.
//   - Logs method, path (never the query string), account, status, Request-Id, attempts and
//     Idempotent-Replayed. Never the secret key, bodies (client_secret, card details) or
//     parameters.
//
// Thread-safety: a StripeClient may be used from many threads at once (the HttpClient is
// thread-safe; the jitter generator is behind a mutex). It keeps no other state between calls.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "plugin/core/error.h"
#include "plugin/core/http_client.h"
#include "plugin/core/platform_client.h"  // Sleeper

namespace afterglow::checkout {

// The Stripe-Version every call pins (stripe-node 23.1.0 pins the same; spec header). Response
// shapes follow this version, whatever the account's default is.
inline constexpr std::string_view kStripeApiVersion = "2026-10-28.endive";

// Stripe's limit on Idempotency-Key (spec §2).
inline constexpr size_t kMaxIdempotencyKeyLength = 255;

struct StripeOptions {
  std::string secret_key;  // sk_… or rk_… (never logged)
  // Scheme and host (and port) only. Plain http is accepted for loopback hosts alone
  // (127.0.0.1, localhost, [::1]), so a test base URL can never leak a key over the network.
  std::string api_base = "https://api.stripe.com";
  std::string api_version = std::string(kStripeApiVersion);
  int max_attempts = 4;  // per call, all retryable causes together
  // stripe-node: 0.5 s doubling, cap 5 s, jitter 0.5–1.0.
  std::chrono::milliseconds initial_backoff{500}, max_backoff{5000};
  std::chrono::milliseconds request_timeout{std::chrono::seconds(20)};  // per attempt
};

// kInvalidArgument naming the problem when `options` could not be used: an empty or malformed
// secret key, an api_base that is not https (or http on loopback) or carries a path, query or
// user info, an empty api_version, max_attempts < 1, non-positive backoffs or timeout.
Result<void> validate_stripe_options(const StripeOptions& options);

// Stripe's "error" object (https://docs.stripe.com/api/errors). Local refusals use type
// "invalid_request_error" and a code starting with "local_".
struct StripeApiError {
  std::string type, code, decline_code, message, param;
};

struct PaymentIntent {
  std::string id, status, currency, customer, payment_method, client_secret, latest_charge,
      description;
  int64_t amount = 0, amount_received = 0;
  std::map<std::string, std::string> metadata;
  std::optional<StripeApiError> last_payment_error;
  std::string next_action_type;  // "use_stripe_sdk", "redirect_to_url", or ""
  std::string redirect_url;      // next_action.redirect_to_url.url when present
};

struct Refund {
  std::string id, status, payment_intent, reason;
  int64_t amount = 0;
  std::string currency;
};

// How a call ended, after the client's own retries.
enum class StripeOutcome {
  kOk,             // 2xx: `body` holds the object
  kCardError,      // 402 (card_error: declined, authentication_required…): the request ran, its
                   // result is final for this key
  kRejected,       // 400/401/403/404 and other 4xx (idempotency_error included), or refused
                   // locally: our request is wrong; never retried as is
  kIndeterminate,  // a stored 500, 424, or transport failure / 409 / 429 / 5xx still failing
                   // after max_attempts (or with Stripe-Should-Retry: false): Stripe may or may
                   // not have acted; reconcile (retrieve, or search by metadata), never use a new
                   // key blindly
};

// Stable lower-case name for logs: "ok", "card_error", "rejected", "indeterminate".
const char* stripe_outcome_name(StripeOutcome outcome);

struct StripeResponse {
  StripeOutcome outcome = StripeOutcome::kIndeterminate;
  int http_status = 0;                  // 0 when the last attempt got no answer (or none was sent)
  std::string request_id;               // Request-Id of the last answer
  bool replayed = false;                // Idempotent-Replayed: true
  int attempts = 0;                     // requests sent (0 when refused locally)
  std::optional<StripeApiError> error;  // the answer's error object, or the local refusal
  std::string body;             // raw JSON of the last answer (may hold a client_secret: never log)
  std::string transport_error;  // why the last attempt got no answer ("" when it got one)
};

struct CreatePaymentIntent {
  int64_t amount = 0;    // minor units
  std::string currency;  // lower-cased on the wire
  std::string customer, payment_method;
  bool confirm = true;
  bool off_session = false;  // variant A when true (only sent with confirm)
  std::vector<std::string> payment_method_types = {"card"};  // payment_method_types[]=card
  std::string description, statement_descriptor_suffix, return_url;
  std::vector<std::pair<std::string, std::string>> metadata;  // metadata[k]=v, in order
};

// `intent`: parsed from the body on kOk, or from error.payment_intent on a 402.
struct PaymentIntentResult {
  StripeResponse response;
  std::optional<PaymentIntent> intent;
};
struct RefundResult {
  StripeResponse response;
  std::optional<Refund> refund;
};
struct SearchResult {
  StripeResponse response;
  std::vector<PaymentIntent> intents;  // the first page (up to 100), newest first
  bool has_more = false;
};

class StripeClient {
 public:
  // `http` and `sleeper` must outlive this. `jitter_seed` makes the jitter reproducible in tests;
  // 0 seeds from std::random_device (so processes do not retry in lockstep). Invalid options
  // (see validate_stripe_options) make every call a local kRejected; use create() to learn about
  // them up front.
  StripeClient(HttpClient& http, Sleeper& sleeper, StripeOptions options, uint64_t jitter_seed = 0);
  // The same, or kInvalidArgument from validate_stripe_options.
  static Result<std::unique_ptr<StripeClient>> create(HttpClient& http, Sleeper& sleeper,
                                                      StripeOptions options,
                                                      uint64_t jitter_seed = 0);

  // POST /v1/payment_intents. `account`: "" for the platform account, else "acct_…" sent as
  // Stripe-Account. `idempotency_key` (1–255 printable ASCII characters) is sent on every attempt
  // of the call unchanged, with the body unchanged.
  PaymentIntentResult create_payment_intent(const CreatePaymentIntent& params,
                                            std::string_view idempotency_key,
                                            std::string_view account);
  // GET /v1/payment_intents/{id}. An id of another account (or none) is a 404: kRejected.
  PaymentIntentResult retrieve_payment_intent(std::string_view id, std::string_view account);
  // GET /v1/payment_intents/search?query=metadata['key']:'value'&limit=100. Quotes and
  // backslashes in key and value are escaped per Stripe's search syntax, so a value cannot widen
  // the query. Stripe's search index lags writes (up to about a minute in live mode): an empty
  // result right after an indeterminate create is not proof that nothing was created.
  SearchResult search_payment_intents_by_metadata(std::string_view key, std::string_view value,
                                                  std::string_view account);
  // POST /v1/refunds payment_intent=… [amount=…] [reason=…] metadata[k]=v, with its own key.
  // `amount` nullopt refunds what remains.
  RefundResult create_refund(std::string_view payment_intent_id, std::optional<int64_t> amount,
                             std::string_view reason,
                             const std::vector<std::pair<std::string, std::string>>& metadata,
                             std::string_view idempotency_key, std::string_view account);

  const StripeOptions& options() const { return options_; }

  // The wait before retry number `retry` (1 = the first retry), jitter included. Exposed for
  // tests; advances the jitter generator.
  std::chrono::milliseconds backoff(int retry);

 private:
  struct Call {
    std::string op;      // "create_payment_intent" (logs)
    std::string method;  // "GET" | "POST"
    std::string path;    // "/v1/payment_intents" (logged)
    std::string query;   // "" or "query=…" (never logged)
    std::string body;    // form-encoded
    std::string idempotency_key;
    std::string account;
  };
  StripeResponse execute(const Call& call);
  // A local refusal (bad options or account), or nullopt when the call may go out.
  std::optional<StripeResponse> precheck(std::string_view account) const;

  HttpClient& http_;
  Sleeper& sleeper_;
  StripeOptions options_;
  std::string config_error_;  // "" when the options are valid
  std::string base_;          // api_base without a trailing '/'
  std::mutex rng_mutex_;
  std::mt19937_64 rng_;  // guarded by rng_mutex_
};

// application/x-www-form-urlencoded with Stripe's bracket rules: keys are percent-encoded except
// '[' and ']', which stay literal (`metadata[order_id]`, `payment_method_types[]`); values are
// percent-encoded (RFC 3986 unreserved characters kept, space as %20). Pairs keep their order.
std::string stripe_form_encode(const std::vector<std::pair<std::string, std::string>>& fields);

// `metadata['key']:'value'` with `\` and `'` escaped by a backslash (Stripe's search syntax).
std::string stripe_metadata_query(std::string_view key, std::string_view value);

// Parsers for Stripe objects, defensive: a missing or mistyped field is left at its default.
// nullopt when `json` is not a JSON object with a string "id". Exposed for tests and webhooks.
std::optional<PaymentIntent> parse_payment_intent(std::string_view json);
std::optional<Refund> parse_refund(std::string_view json);

}  // namespace afterglow::checkout
