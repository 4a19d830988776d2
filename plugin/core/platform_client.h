// The platform's Admin GraphQL API, for one app and many shops (spec/shopify.md §5):
// POST {shop_base}/admin/api/{version}/graphql.json with X-Shopify-Access-Token.
//
// Every call:
//   - gets its token from ShopTokens (refreshed ahead of expiry); a 401 refreshes once and
//     retries once;
//   - respects a per-shop budget fed by extensions.cost.throttleStatus (a leaky bucket: maximum,
//     currently available, restore rate). When the bucket lacks the call's estimated cost, the
//     call waits (through the Sleeper seam, so tests never really sleep) until it would be there;
//   - retries THROTTLED (HTTP 200 with errors[].extensions.code THROTTLED, or HTTP 429) and 503,
//     honouring Retry-After, and, for queries only, other 5xx and transport failures (a mutation
//     that may have run is never repeated blindly). Attempts and total waiting are bounded;
//   - returns a typed error, never throws:
//       kUnauthenticated  token refused after a refresh, or cannot be refreshed (merchant must
//                         open the app again)
//       kForbidden        ACCESS_DENIED (a missing scope or staff permission), shop frozen (402)
//                         or locked (423), HTTP 403
//       kNotFound         shop not installed, HTTP 404, or the object does not exist
//       kConflict         the mutation's userErrors (e.g. the line item cannot be edited)
//       kUnavailable      throttled / failing beyond the retry budget, transport failure
//       kInternal         GraphQL errors that mean our query is wrong, an unparseable answer
// Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "plugin/core/catalog.h"
#include "plugin/core/clock.h"
#include "plugin/core/error.h"
#include "plugin/core/http_client.h"
#include "plugin/core/platform_oauth.h"
#include "plugin/core/shop_tokens.h"

namespace afterglow {

// The Admin API version every call names: the latest stable one when this was written. Versions
// are quarterly and each is supported for at least 12 months, so move it forward at least once a
// year (the platform answers an expired version as the oldest supported one).
inline constexpr std::string_view kAdminApiVersion = "2026-10";

// Waiting, as a seam: production sleeps; tests record the wait and advance a ManualClock.
class Sleeper {
 public:
  virtual ~Sleeper() = default;
  virtual void sleep_for(std::chrono::milliseconds d) = 0;
};
// std::this_thread::sleep_for.
Sleeper& system_sleeper();

struct PlatformClientOptions {
  std::string api_version = std::string(kAdminApiVersion);
  int max_attempts = 5;                                                // per call, all causes
  std::chrono::milliseconds max_total_wait{std::chrono::seconds(30)};  // per call
  std::chrono::milliseconds default_retry_after{1000};  // the official client's default
  std::chrono::milliseconds request_timeout{std::chrono::seconds(15)};
};

struct Money {
  std::string amount;    // decimal string as sent
  std::string currency;  // ISO 4217
};

// Either a percentage or a fixed amount off the line (OrderEditAppliedDiscountInput).
struct LineDiscount {
  std::optional<double> percent;  // 0 < percent <= 100
  std::optional<Money> fixed;     // per unit, in the order's currency
  std::string description;        // shown to the customer
};

struct OrderEditBegun {
  std::string calculated_order_id;  // gid://shopify/CalculatedOrder/…
  // What the order owed before this edit (calculatedOrder.totalOutstandingSet): the baseline an
  // append compares against, so it checks only its own line.
  Money outstanding_shop;
  Money outstanding_presentment;
};
struct VariantAdded {
  std::string calculated_line_item_id;  // gid://shopify/CalculatedLineItem/…
  Money outstanding_shop;               // calculatedOrder.totalOutstandingSet.shopMoney
  Money outstanding_presentment;        // … .presentmentMoney
};
struct DiscountApplied {
  Money outstanding_shop;
  Money outstanding_presentment;
};
struct EditCommitted {
  std::string order_id;  // gid://shopify/Order/…
};
struct MarkedPaid {
  std::string order_id;
  std::string financial_status;  // displayFinancialStatus, e.g. PAID
};

// What append_paid_line did.
struct AppendResult {
  std::string calculated_order_id;
  std::string calculated_line_item_id;
  std::string order_id;
  Money outstanding_shop;  // what orderMarkAsPaid recorded as paid
  Money outstanding_presentment;
  std::string financial_status;
};

// One page of the shop's products, with the shop's currency.
struct ProductPage {
  std::vector<CatalogProduct> products;
  std::optional<std::string> next_cursor;  // nullopt on the last page
  std::string currency;                    // shop.currencyCode
};

class PlatformClient {
 public:
  enum class Kind { kQuery, kMutation };

  // Every reference must outlive this object.
  PlatformClient(HttpClient& http, ShopTokens& tokens, PlatformEndpoints endpoints,
                 const Clock& clock, Sleeper& sleeper, PlatformClientOptions options);
  PlatformClient(HttpClient& http, ShopTokens& tokens, PlatformEndpoints endpoints,
                 const Clock& clock, Sleeper& sleeper)
      : PlatformClient(http, tokens, std::move(endpoints), clock, sleeper, {}) {}

  // Runs `query` with `variables` (a JSON object) for `shop` and returns `data`.
  // `estimated_cost` is what the budget must hold before sending (the platform's requested cost
  // for this query; roughly 1 per object, 10 per mutation).
  Result<nlohmann::json> graphql(std::string_view shop, std::string_view query,
                                 const nlohmann::json& variables, Kind kind, int estimated_cost);

  // Products: one page (up to 25 products, 100 variants and 25 collections each) from `cursor`,
  // and one product by id (nullopt when it does not exist).
  Result<ProductPage> fetch_products(std::string_view shop,
                                     const std::optional<std::string>& cursor);
  Result<std::optional<CatalogProduct>> fetch_product(std::string_view shop, int64_t product_id);

  // Order editing (§5.1), one mutation each. userErrors come back as kConflict naming the
  // mutation and the platform's messages.
  Result<OrderEditBegun> order_edit_begin(std::string_view shop, std::string_view order_gid);
  Result<VariantAdded> order_edit_add_variant(std::string_view shop,
                                              std::string_view calculated_order_id,
                                              std::string_view variant_gid, int quantity,
                                              bool allow_duplicates = false);
  Result<DiscountApplied> order_edit_add_line_item_discount(
      std::string_view shop, std::string_view calculated_order_id,
      std::string_view calculated_line_item_id, const LineDiscount& discount);
  Result<EditCommitted> order_edit_commit(std::string_view shop,
                                          std::string_view calculated_order_id,
                                          bool notify_customer, std::string_view staff_note);
  Result<MarkedPaid> order_mark_as_paid(std::string_view shop, std::string_view order_gid);

  // Appends `quantity` of `variant_gid` to the order, paid elsewhere (Stripe): begin, add the
  // variant, apply `discount` when given, check the outstanding amount, commit (customer not
  // notified, `staff_note` recorded), then orderMarkAsPaid for the outstanding amount.
  // When `expected_outstanding` is given, the edit is not committed unless the calculated
  // order's outstanding amount (in that currency: shop or presentment) equals it exactly, so the
  // order is never marked paid for more than was charged (kConflict; the uncommitted edit is
  // simply abandoned). Not idempotent: a retry after a failure appends again. A failure after the
  // commit returns an error whose message starts "committed:"; recover with order_mark_as_paid
  // alone, never by appending again.
  Result<AppendResult> append_paid_line(std::string_view shop, std::string_view order_gid,
                                        std::string_view variant_gid, int quantity,
                                        const std::optional<LineDiscount>& discount,
                                        std::string_view staff_note,
                                        const std::optional<Money>& expected_outstanding = {});

 private:
  struct Bucket {
    double maximum = 0, available = 0, restore_rate = 0;
    int64_t observed_at_ms = 0;
  };
  Result<void> wait_for_budget(std::string_view shop, int cost, std::chrono::milliseconds& waited);
  void observe_bucket(std::string_view shop, const nlohmann::json& body);
  Result<void> pause(std::chrono::milliseconds d, std::chrono::milliseconds& waited,
                     std::string_view why);

  HttpClient& http_;
  ShopTokens& tokens_;
  PlatformEndpoints endpoints_;
  const Clock& clock_;
  Sleeper& sleeper_;
  PlatformClientOptions options_;
  std::mutex buckets_mutex_;
  std::map<std::string, Bucket, std::less<>> buckets_;  // GUARDED_BY(buckets_mutex_)
};

}  // namespace afterglow
