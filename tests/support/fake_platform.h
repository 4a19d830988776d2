// A fake of the platform's OAuth and Admin GraphQL endpoints for tests: a real HTTPS server on
// 127.0.0.1 (cpp-httplib, port 0, its own dev certificate) speaking the real wire format, so the
// code under test runs unchanged with PLATFORM_API_BASE=base_url() and
// PLATFORM_CA_FILE=ca_file(). Every path starts with the shop: {base}/{shop}/admin/...
//
//   GET  /{shop}/admin/oauth/authorize      the consent page, approved at once: 302 to
//                                           redirect_uri?code&hmac&host&shop&state&timestamp,
//                                           signed with the client secret
//   POST /{shop}/admin/oauth/access_token   JSON (or form) body:
//        code + expiring=1      -> access_token, scope, expires_in, refresh_token,
//                                  refresh_token_expires_in (codes are single use)
//        grant_type=refresh_token -> a new pair. Refresh tokens rotate as the platform documents
//                                  (changelog 2026-08-28): a used refresh token keeps working
//                                  until its replacement is first used, then it is retired and
//                                  refused (400 invalid_grant); reusing it before that issues a
//                                  new pair and retires the replacement it had produced.
//        grant_type=urn:ietf:params:oauth:grant-type:token-exchange -> a pair for a valid
//                                  session token of that shop (400 otherwise)
//   POST /{shop}/admin/api/{version}/graphql.json   X-Shopify-Access-Token required (401
//        otherwise); answers shop{currencyCode}, products(first, after), product(id), and the
//        mutations orderEditBegin, orderEditAddVariant, orderEditAddLineItemDiscount,
//        orderEditCommit, orderMarkAsPaid with their payload shapes, userErrors and
//        extensions.cost.throttleStatus from a per-shop leaky bucket on the fake's clock.
//
// Faults are queued per GraphQL request: THROTTLED with HTTP 200, any status (429 with
// Retry-After, 401, 5xx). Every request is recorded (kind, shop, token, status) for assertions.
// Thread-safe; the server runs until the object is destroyed.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "plugin/core/catalog.h"
#include "plugin/core/clock.h"

namespace afterglow::testing {

struct RecordedRequest {
  std::string method;
  std::string shop;
  // "authorize", "token:authorization_code", "token:refresh_token", "token:token_exchange",
  // "token:invalid", "graphql:<root field>" (e.g. "graphql:orderEditBegin", "graphql:products"),
  // "other".
  std::string kind;
  std::string access_token;  // X-Shopify-Access-Token, for GraphQL
  std::string body;
  int status = 0;  // what the fake answered
};

struct FakeOrderLine {
  int64_t variant_id = 0;
  int quantity = 0;
  int64_t unit_price_minor = 0;
  int64_t discount_minor = 0;  // for the whole line
};

struct FakeOrder {
  int64_t id = 0;
  std::vector<FakeOrderLine> lines;  // lines added by committed edits
  int64_t outstanding_minor = 0;
  std::string financial_status = "PAID";  // PAID | PARTIALLY_PAID
  std::vector<std::string> staff_notes;
  int commits = 0;
  int marked_paid = 0;
};

class FakePlatform {
 public:
  struct Options {
    std::string client_id = "test-api-key";
    std::string client_secret;     // signs callbacks and session tokens; checked on grants
    const Clock* clock = nullptr;  // token expiry, bucket refill; nullptr: system clock
    int64_t access_token_ttl_s = 3600;
    int64_t refresh_token_ttl_s = 7776000;
    std::string scope =
        "read_orders,write_orders,write_order_edits,read_products,read_customers,read_fulfillments";
    double bucket_maximum = 2000;
    double bucket_restore_rate = 100;
  };

  // Starts the server. Throws std::runtime_error if it cannot listen.
  explicit FakePlatform(Options options);
  ~FakePlatform();
  FakePlatform(const FakePlatform&) = delete;
  FakePlatform& operator=(const FakePlatform&) = delete;

  // "https://127.0.0.1:<port>": the value for PLATFORM_API_BASE.
  std::string base_url() const;
  // The PEM its certificate chains to: the value for PLATFORM_CA_FILE.
  std::string ca_file() const;

  // --- OAuth ---
  // An authorization code for `shop`, as the consent page would hand out.
  std::string issue_code(std::string_view shop);
  // A signed callback query (code, hmac, host, shop, state, timestamp) for `shop` and `state`,
  // timestamped now by the fake's clock: what the consent page redirects to.
  std::string signed_callback_query(std::string_view shop, std::string_view state);
  // A session (ID) token for `shop`, signed with the client secret, valid for a minute from now.
  std::string session_token(std::string_view shop);
  // The shop's newest tokens ("" when none).
  std::string access_token(std::string_view shop) const;
  std::string refresh_token(std::string_view shop) const;
  // Makes every access token of `shop` invalid (401), as if expired.
  void revoke_access_tokens(std::string_view shop);
  // Accepts `token` as a non-expiring access token of `shop`, as if a grant had issued it (the
  // development platform: the demo shop's token is stored by `afterglow seed-demo`).
  void add_access_token(std::string_view shop, std::string token);
  // The token endpoint answers `status` to the next `times` grant requests.
  void fail_token_endpoint(int status, int times = 1);
  // While held, refresh-token grants wait before answering; release() lets them through.
  void hold_refreshes();
  void release_refreshes();
  // Blocks until at least `n` refresh-token grants have arrived (or `timeout`); true if they did.
  bool wait_for_refresh_requests(int n, std::chrono::milliseconds timeout);

  // While held, GraphQL requests for `operation` (a root field, e.g. "orderEditCommit") wait
  // before they are answered; release_operation() lets them through. wait_for_held_requests
  // blocks until `n` such requests have arrived in all (or `timeout`); true if they did.
  void hold_operation(std::string operation);
  void release_operation();
  bool wait_for_held_requests(int n, std::chrono::milliseconds timeout);

  // --- GraphQL faults (each consumes one GraphQL request, in order) ---
  void throttle_next(int times = 1);  // 200 with errors[THROTTLED]
  // `operation` (a root field, e.g. "orderMarkAsPaid") limits the fault to that operation.
  void fail_next(int status, int times = 1, std::optional<int> retry_after_s = std::nullopt,
                 std::string operation = "");
  // Sets what is left in the shop's bucket now.
  void set_bucket_available(std::string_view shop, double available);

  // --- Data ---
  void set_currency(std::string_view shop, std::string currency);
  void put_product(std::string_view shop, const CatalogProduct& product);
  void remove_product(std::string_view shop, int64_t product_id);
  // An order that owes nothing; edits append to it.
  void add_order(std::string_view shop, int64_t order_id);
  std::optional<FakeOrder> order(std::string_view shop, int64_t order_id) const;

  // --- Inspection ---
  std::vector<RecordedRequest> requests() const;
  int count(std::string_view kind) const;
  void clear_requests();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace afterglow::testing
