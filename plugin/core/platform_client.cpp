#include "plugin/core/platform_client.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <thread>

#include "plugin/core/log.h"
#include "plugin/core/money.h"
#include "plugin/core/time_format.h"

namespace afterglow {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;

// Costs the budget must hold before a call (the platform's calculated cost: 1 per object, 2 per
// connection plus `first` × its nodes, 10 per mutation). Kept under the 1000-point query cap.
// One product is 218: itself and its media chain (4), collections (2 + 10), variants (2 + 50 ×
// (variant, image, inventoryItem, unitCost)). A page of 4 is 2 + 4 × 218 = 874.
constexpr int kMutationCost = 10;
constexpr int kProductsPerPage = 4;
constexpr int kProductPageCost = 880;
constexpr int kProductCost = 220;

// inventoryItem.unitCost (MoneyV2, shop currency; null when no cost was entered) feeds the
// offer engine's margin floor.
constexpr const char* kProductFields = R"(
      id title handle status tags updatedAt
      featuredMedia { preview { image { url } } }
      collections(first: 10) { nodes { id title } }
      variants(first: 50) {
        nodes { id title sku position price compareAtPrice inventoryQuantity availableForSale
                image { url } inventoryItem { unitCost { amount } } }
      })";

constexpr const char* kOutstanding =
    "totalOutstandingSet { shopMoney { amount currencyCode } "
    "presentmentMoney { amount currencyCode } }";

class SystemSleeper final : public Sleeper {
 public:
  void sleep_for(milliseconds d) override { std::this_thread::sleep_for(d); }
};

std::string str(const json& j, const char* key) {
  if (!j.is_object()) return "";
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

const json* child(const json& j, const char* key) {
  if (!j.is_object()) return nullptr;
  auto it = j.find(key);
  return it == j.end() || it->is_null() ? nullptr : &*it;
}

Money money_of(const json* set, const char* which) {
  Money m;
  if (!set) return m;
  const json* bag = child(*set, which);
  if (!bag) return m;
  m.amount = str(*bag, "amount");
  m.currency = str(*bag, "currencyCode");
  return m;
}

bool same_money(const Money& a, const Money& b) {
  if (a.currency.empty() || a.currency != b.currency) return false;
  auto x = parse_money(a.amount, a.currency);
  auto y = parse_money(b.amount, b.currency);
  return x && y && *x == *y;
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// A GraphQL product node in the catalog's shape.
Result<CatalogProduct> product_from(const json& node) {
  CatalogProduct p;
  auto id = gid_number(str(node, "id"));
  if (!id) return fail(ErrorCode::kInternal, "product without a Product id in the answer");
  p.id = *id;
  p.title = str(node, "title");
  p.handle = str(node, "handle");
  p.status = lower(str(node, "status"));
  if (const json* tags = child(node, "tags"); tags && tags->is_array()) {
    for (const json& t : *tags) {
      if (t.is_string()) p.tags.push_back(t.get<std::string>());
    }
  }
  std::string updated = str(node, "updatedAt");
  if (!updated.empty()) p.updated_at_ms = AG_TRY(parse_iso8601_ms(updated));
  if (const json* media = child(node, "featuredMedia")) {
    if (const json* preview = child(*media, "preview")) {
      if (const json* image = child(*preview, "image")) p.image_url = str(*image, "url");
    }
  }
  if (const json* cols = child(node, "collections")) {
    if (const json* nodes = child(*cols, "nodes"); nodes && nodes->is_array()) {
      for (const json& c : *nodes) {
        if (auto cid = gid_number(str(c, "id"))) p.collections.push_back({*cid, str(c, "title")});
      }
    }
  }
  if (const json* vars = child(node, "variants")) {
    if (const json* nodes = child(*vars, "nodes"); nodes && nodes->is_array()) {
      for (const json& v : *nodes) {
        auto vid = gid_number(str(v, "id"));
        if (!vid) continue;
        CatalogVariant cv;
        cv.id = *vid;
        cv.title = str(v, "title");
        cv.sku = str(v, "sku");
        if (const json* pos = child(v, "position"); pos && pos->is_number_integer()) {
          cv.position = pos->get<int>();
        }
        cv.price = str(v, "price");
        std::string compare = str(v, "compareAtPrice");
        if (!compare.empty()) cv.compare_at_price = compare;
        if (const json* q = child(v, "inventoryQuantity"); q && q->is_number_integer()) {
          cv.inventory_quantity = q->get<int64_t>();
        }
        if (const json* a = child(v, "availableForSale"); a && a->is_boolean()) {
          cv.available = a->get<bool>();
        }
        if (const json* image = child(v, "image")) cv.image_url = str(*image, "url");
        if (const json* item = child(v, "inventoryItem")) {
          if (const json* cost = child(*item, "unitCost")) {
            std::string amount = str(*cost, "amount");
            if (!amount.empty()) cv.unit_cost = amount;
          }
        }
        p.variants.push_back(std::move(cv));
      }
    }
  }
  return p;
}

// The mutation payload `name` in `data`, or kConflict listing its userErrors.
Result<json> mutation_payload(const json& data, const char* name) {
  const json* payload = child(data, name);
  if (!payload || !payload->is_object()) {
    return fail(ErrorCode::kInternal, std::string(name) + ": no payload in the answer");
  }
  if (const json* errors = child(*payload, "userErrors");
      errors && errors->is_array() && !errors->empty()) {
    std::string msg = std::string(name) + " refused:";
    for (const json& e : *errors) {
      msg += " ";
      if (const json* field = child(e, "field"); field && field->is_array() && !field->empty()) {
        std::string path;
        for (const json& f : *field) {
          if (!path.empty()) path += ".";
          path += f.is_string() ? f.get<std::string>() : f.dump();
        }
        msg += path + ": ";
      }
      msg += str(e, "message") + ";";
    }
    return fail(ErrorCode::kConflict, msg);
  }
  return *payload;
}

// Seconds from a Retry-After header ("2" or "1.5"); nullopt when absent or not a number (HTTP
// dates are not worth supporting: the platform sends seconds).
std::optional<milliseconds> retry_after(const HttpResponse& res) {
  std::string v = res.header("Retry-After");
  if (v.empty()) return std::nullopt;
  char* end = nullptr;
  double s = std::strtod(v.c_str(), &end);
  if (end == v.c_str() || *end != '\0' || !(s >= 0) || s > 3600) return std::nullopt;
  return milliseconds(static_cast<int64_t>(std::ceil(s * 1000)));
}

bool is_throttled(const json& body) {
  const json* errors = child(body, "errors");
  if (!errors || !errors->is_array()) return false;
  for (const json& e : *errors) {
    const json* ext = child(e, "extensions");
    if (ext && str(*ext, "code") == "THROTTLED") return true;
    if (str(e, "message") == "Throttled") return true;
  }
  return false;
}

// How long until the bucket holds the cost the throttled request asked for.
std::optional<milliseconds> throttle_delay(const json& body) {
  const json* ext = child(body, "extensions");
  const json* cost = ext ? child(*ext, "cost") : nullptr;
  const json* status = cost ? child(*cost, "throttleStatus") : nullptr;
  if (!status) return std::nullopt;
  const json* req = child(*cost, "requestedQueryCost");
  const json* avail = child(*status, "currentlyAvailable");
  const json* rate = child(*status, "restoreRate");
  if (!req || !avail || !rate || !req->is_number() || !avail->is_number() || !rate->is_number()) {
    return std::nullopt;
  }
  double r = rate->get<double>();
  if (r <= 0) return std::nullopt;
  double missing = req->get<double>() - avail->get<double>();
  return milliseconds(static_cast<int64_t>(std::ceil(std::max(missing, 0.0) / r * 1000)));
}

Error classify_graphql_errors(const json& errors) {
  std::string first;
  ErrorCode code = ErrorCode::kInternal;
  for (const json& e : errors) {
    if (first.empty()) first = str(e, "message");
    const json* ext = child(e, "extensions");
    std::string c = ext ? str(*ext, "code") : "";
    if (c == "ACCESS_DENIED" || c == "SHOP_INACTIVE") code = ErrorCode::kForbidden;
    if (c == "INTERNAL_SERVER_ERROR") code = ErrorCode::kUnavailable;
  }
  if (first.size() > 200) first.resize(200);
  return Error{code, "GraphQL error: " + first};
}

}  // namespace

Sleeper& system_sleeper() {
  static SystemSleeper instance;
  return instance;
}

PlatformClient::PlatformClient(HttpClient& http, ShopTokens& tokens, PlatformEndpoints endpoints,
                               const Clock& clock, Sleeper& sleeper, PlatformClientOptions options)
    : http_(http),
      tokens_(tokens),
      endpoints_(std::move(endpoints)),
      clock_(clock),
      sleeper_(sleeper),
      options_(std::move(options)) {}

Result<void> PlatformClient::pause(milliseconds d, milliseconds& waited, std::string_view why) {
  if (d.count() <= 0) return {};
  if (waited + d > options_.max_total_wait) {
    return fail(ErrorCode::kUnavailable, std::string(why) + ": the platform asks us to wait " +
                                             std::to_string(d.count()) +
                                             " ms more, beyond this call's budget");
  }
  sleeper_.sleep_for(d);
  waited += d;
  return {};
}

Result<void> PlatformClient::wait_for_budget(std::string_view shop, int cost,
                                             milliseconds& waited) {
  for (int round = 0; round < 4; ++round) {
    milliseconds need{0};
    {
      std::lock_guard<std::mutex> lock(buckets_mutex_);
      auto it = buckets_.find(shop);
      if (it == buckets_.end() || it->second.restore_rate <= 0) return {};  // nothing known yet
      Bucket& b = it->second;
      const int64_t now = clock_.now_ms();
      double available = std::min(
          b.maximum,
          b.available + b.restore_rate * static_cast<double>(now - b.observed_at_ms) / 1000.0);
      if (available >= cost || cost > b.maximum) {
        b.available = available - cost;  // reserve, so concurrent callers share the budget
        b.observed_at_ms = now;
        return {};
      }
      need = milliseconds(
          static_cast<int64_t>(std::ceil((cost - available) / b.restore_rate * 1000.0)));
    }
    AG_CHECK(pause(need, waited, "throttled"));
  }
  return {};
}

void PlatformClient::observe_bucket(std::string_view shop, const json& body) {
  const json* ext = child(body, "extensions");
  const json* cost = ext ? child(*ext, "cost") : nullptr;
  const json* status = cost ? child(*cost, "throttleStatus") : nullptr;
  if (!status) return;
  const json* max = child(*status, "maximumAvailable");
  const json* avail = child(*status, "currentlyAvailable");
  const json* rate = child(*status, "restoreRate");
  if (!max || !avail || !rate || !max->is_number() || !avail->is_number() || !rate->is_number()) {
    return;
  }
  std::lock_guard<std::mutex> lock(buckets_mutex_);
  Bucket& b = buckets_[std::string(shop)];
  b.maximum = max->get<double>();
  b.available = avail->get<double>();
  b.restore_rate = rate->get<double>();
  b.observed_at_ms = clock_.now_ms();
}

Result<json> PlatformClient::graphql(std::string_view shop, std::string_view query,
                                     const json& variables, Kind kind, int estimated_cost) {
  milliseconds waited{0};
  bool refreshed = false;
  std::string token = AG_TRY(tokens_.access_token(shop));
  json request = {{"query", std::string(query)}, {"variables", variables}};
  const std::string body = request.dump();
  std::string last = "no attempt made";
  // A retry waits before its attempt, so the last failure is not followed by a useless wait.
  milliseconds retry_delay{0};
  std::string retry_why;
  for (int attempt = 1; attempt <= options_.max_attempts; ++attempt) {
    AG_CHECK(pause(retry_delay, waited, retry_why));
    retry_delay = milliseconds(0);
    AG_CHECK(wait_for_budget(shop, estimated_cost, waited));
    HttpRequest req;
    req.method = "POST";
    req.url = endpoints_.graphql_url(shop, options_.api_version);
    req.headers = {{"Content-Type", "application/json"},
                   {"Accept", "application/json"},
                   {"X-Shopify-Access-Token", token}};
    req.body = body;
    req.timeout = options_.request_timeout;
    auto res = http_.send(req);
    const milliseconds backoff = options_.default_retry_after * (1 << std::min(attempt - 1, 4));
    if (!res) {
      if (kind == Kind::kMutation) {
        // The request may have reached the platform: repeating a mutation could apply it twice.
        return fail(ErrorCode::kUnavailable,
                    "mutation outcome unknown (" + res.error().message + ")");
      }
      last = res.error().message;
      retry_delay = backoff;
      retry_why = "platform unreachable";
      continue;
    }
    const int status = res->status;
    if (status == 401) {
      if (refreshed) {
        return fail(ErrorCode::kUnauthenticated,
                    "the platform refused the shop's access token even after a refresh");
      }
      token = AG_TRY(tokens_.refresh_after_unauthorized(shop, token));
      refreshed = true;
      last = "HTTP 401";
      continue;
    }
    if (status == 402) return fail(ErrorCode::kForbidden, "the shop is frozen (HTTP 402)");
    if (status == 423) return fail(ErrorCode::kForbidden, "the shop is locked (HTTP 423)");
    if (status == 403) return fail(ErrorCode::kForbidden, "the platform answered HTTP 403");
    if (status == 404) return fail(ErrorCode::kNotFound, "the platform answered HTTP 404");
    json j = json::parse(res->body, nullptr, /*allow_exceptions=*/false);
    if (j.is_object()) observe_bucket(shop, j);
    if (status == 429 || status == 503 || (status == 200 && j.is_object() && is_throttled(j))) {
      // Wait until the bucket holds what the request asked for; the client library's default
      // when the answer does not say; never less than Retry-After.
      milliseconds delay = options_.default_retry_after;
      auto computed = j.is_object() ? throttle_delay(j) : std::nullopt;
      if (computed && computed->count() > 0) delay = *computed;
      if (auto ra = retry_after(*res)) delay = std::max(delay, *ra);
      last = status == 200 ? "THROTTLED" : "HTTP " + std::to_string(status);
      log::info("platform throttled",
                {{"shop", shop}, {"status", status}, {"wait_ms", int64_t{delay.count()}}});
      retry_delay = delay;
      retry_why = "throttled";
      continue;
    }
    if (status >= 500) {
      if (kind == Kind::kMutation) {
        return fail(ErrorCode::kUnavailable,
                    "mutation outcome unknown (HTTP " + std::to_string(status) + ")");
      }
      last = "HTTP " + std::to_string(status);
      retry_delay = backoff;
      retry_why = "platform failing";
      continue;
    }
    if (status != 200) {
      return fail(ErrorCode::kInternal, "the platform answered HTTP " + std::to_string(status));
    }
    if (!j.is_object()) return fail(ErrorCode::kUnavailable, "unparseable GraphQL answer");
    if (const json* errors = child(j, "errors"); errors && errors->is_array() && !errors->empty()) {
      return std::unexpected(classify_graphql_errors(*errors));
    }
    const json* data = child(j, "data");
    if (!data || !data->is_object())
      return fail(ErrorCode::kInternal, "GraphQL answer without data");
    return *data;
  }
  return fail(ErrorCode::kUnavailable, "gave up after " + std::to_string(options_.max_attempts) +
                                           " attempts (last: " + last + ")");
}

Result<ProductPage> PlatformClient::fetch_products(std::string_view shop,
                                                   const std::optional<std::string>& cursor) {
  std::string q = std::string(
                      "query Products($cursor: String) { shop { currencyCode } "
                      "products(first: " + std::to_string(kProductsPerPage) +
                      ", after: $cursor) { "
                      "pageInfo { hasNextPage endCursor } nodes {") +
                  kProductFields + " } } }";
  json vars = {{"cursor", cursor ? json(*cursor) : json(nullptr)}};
  json data = AG_TRY(graphql(shop, q, vars, Kind::kQuery, kProductPageCost));
  ProductPage page;
  if (const json* s = child(data, "shop")) page.currency = str(*s, "currencyCode");
  const json* products = child(data, "products");
  if (!products) return fail(ErrorCode::kInternal, "products missing from the answer");
  if (const json* nodes = child(*products, "nodes"); nodes && nodes->is_array()) {
    for (const json& n : *nodes) page.products.push_back(AG_TRY(product_from(n)));
  }
  if (const json* info = child(*products, "pageInfo")) {
    const json* more = child(*info, "hasNextPage");
    if (more && more->is_boolean() && more->get<bool>()) {
      std::string end = str(*info, "endCursor");
      if (!end.empty()) page.next_cursor = end;
    }
  }
  return page;
}

Result<std::optional<CatalogProduct>> PlatformClient::fetch_product(std::string_view shop,
                                                                    int64_t product_id) {
  std::string q =
      std::string("query Product($id: ID!) { shop { currencyCode } product(id: $id) {") +
      kProductFields + " } }";
  json data =
      AG_TRY(graphql(shop, q, {{"id", product_gid(product_id)}}, Kind::kQuery, kProductCost));
  const json* node = child(data, "product");
  if (!node) return std::optional<CatalogProduct>();
  return std::optional<CatalogProduct>(AG_TRY(product_from(*node)));
}

Result<OrderEditBegun> PlatformClient::order_edit_begin(std::string_view shop,
                                                        std::string_view order_gid) {
  std::string q = std::string(
                      "mutation Begin($id: ID!) { orderEditBegin(id: $id) { calculatedOrder { id ") +
                  kOutstanding + " } userErrors { field message } } }";
  json data = AG_TRY(
      graphql(shop, q, {{"id", std::string(order_gid)}}, Kind::kMutation, kMutationCost));
  json payload = AG_TRY(mutation_payload(data, "orderEditBegin"));
  const json* calc = child(payload, "calculatedOrder");
  OrderEditBegun out;
  out.calculated_order_id = calc ? str(*calc, "id") : "";
  if (out.calculated_order_id.empty()) {
    return fail(ErrorCode::kInternal, "orderEditBegin: no calculated order in the answer");
  }
  const json* set = child(*calc, "totalOutstandingSet");
  out.outstanding_shop = money_of(set, "shopMoney");
  out.outstanding_presentment = money_of(set, "presentmentMoney");
  return out;
}

Result<VariantAdded> PlatformClient::order_edit_add_variant(std::string_view shop,
                                                            std::string_view calculated_order_id,
                                                            std::string_view variant, int quantity,
                                                            bool allow_duplicates) {
  if (quantity <= 0) return fail(ErrorCode::kInvalidArgument, "quantity must be positive");
  std::string q = std::string(
                      "mutation AddVariant($id: ID!, $variantId: ID!, $quantity: Int!, "
                      "$allowDuplicates: Boolean) { orderEditAddVariant(id: $id, variantId: "
                      "$variantId, quantity: $quantity, allowDuplicates: $allowDuplicates) { "
                      "calculatedLineItem { id } calculatedOrder { id ") +
                  kOutstanding + " } userErrors { field message } } }";
  json vars = {{"id", std::string(calculated_order_id)},
               {"variantId", std::string(variant)},
               {"quantity", quantity},
               {"allowDuplicates", allow_duplicates}};
  json data = AG_TRY(graphql(shop, q, vars, Kind::kMutation, kMutationCost));
  json payload = AG_TRY(mutation_payload(data, "orderEditAddVariant"));
  VariantAdded out;
  if (const json* li = child(payload, "calculatedLineItem")) {
    out.calculated_line_item_id = str(*li, "id");
  }
  if (out.calculated_line_item_id.empty()) {
    return fail(ErrorCode::kInternal, "orderEditAddVariant: no line item in the answer");
  }
  const json* calc = child(payload, "calculatedOrder");
  const json* set = calc ? child(*calc, "totalOutstandingSet") : nullptr;
  out.outstanding_shop = money_of(set, "shopMoney");
  out.outstanding_presentment = money_of(set, "presentmentMoney");
  return out;
}

Result<DiscountApplied> PlatformClient::order_edit_add_line_item_discount(
    std::string_view shop, std::string_view calculated_order_id,
    std::string_view calculated_line_item_id, const LineDiscount& discount) {
  json input = {{"description", discount.description}};
  if (discount.percent && !discount.fixed) {
    if (!(*discount.percent > 0 && *discount.percent <= 100)) {
      return fail(ErrorCode::kInvalidArgument, "discount percent must be in (0, 100]");
    }
    input["percentValue"] = *discount.percent;
  } else if (discount.fixed && !discount.percent) {
    input["fixedValue"] = {{"amount", discount.fixed->amount},
                           {"currencyCode", discount.fixed->currency}};
  } else {
    return fail(ErrorCode::kInvalidArgument, "a discount is either a percentage or a fixed amount");
  }
  std::string q = std::string(
                      "mutation Discount($id: ID!, $lineItemId: ID!, $discount: "
                      "OrderEditAppliedDiscountInput!) { orderEditAddLineItemDiscount(id: $id, "
                      "lineItemId: $lineItemId, discount: $discount) { calculatedOrder { id ") +
                  kOutstanding + " } userErrors { field message } } }";
  json vars = {{"id", std::string(calculated_order_id)},
               {"lineItemId", std::string(calculated_line_item_id)},
               {"discount", input}};
  json data = AG_TRY(graphql(shop, q, vars, Kind::kMutation, kMutationCost));
  json payload = AG_TRY(mutation_payload(data, "orderEditAddLineItemDiscount"));
  const json* calc = child(payload, "calculatedOrder");
  const json* set = calc ? child(*calc, "totalOutstandingSet") : nullptr;
  return DiscountApplied{money_of(set, "shopMoney"), money_of(set, "presentmentMoney")};
}

Result<EditCommitted> PlatformClient::order_edit_commit(std::string_view shop,
                                                        std::string_view calculated_order_id,
                                                        bool notify_customer,
                                                        std::string_view staff_note) {
  static constexpr const char* kQuery =
      "mutation Commit($id: ID!, $notifyCustomer: Boolean, $staffNote: String) { "
      "orderEditCommit(id: $id, notifyCustomer: $notifyCustomer, staffNote: $staffNote) { "
      "order { id } userErrors { field message } } }";
  json vars = {{"id", std::string(calculated_order_id)},
               {"notifyCustomer", notify_customer},
               {"staffNote", std::string(staff_note)}};
  json data = AG_TRY(graphql(shop, kQuery, vars, Kind::kMutation, kMutationCost));
  json payload = AG_TRY(mutation_payload(data, "orderEditCommit"));
  const json* order = child(payload, "order");
  EditCommitted out{order ? str(*order, "id") : ""};
  if (out.order_id.empty()) return fail(ErrorCode::kInternal, "orderEditCommit: no order");
  return out;
}

Result<MarkedPaid> PlatformClient::order_mark_as_paid(std::string_view shop,
                                                      std::string_view order_gid) {
  static constexpr const char* kQuery =
      "mutation MarkPaid($input: OrderMarkAsPaidInput!) { orderMarkAsPaid(input: $input) { "
      "order { id displayFinancialStatus } userErrors { field message } } }";
  json data = AG_TRY(graphql(shop, kQuery, {{"input", {{"id", std::string(order_gid)}}}},
                             Kind::kMutation, kMutationCost));
  json payload = AG_TRY(mutation_payload(data, "orderMarkAsPaid"));
  const json* order = child(payload, "order");
  MarkedPaid out;
  out.order_id = order ? str(*order, "id") : "";
  out.financial_status = order ? str(*order, "displayFinancialStatus") : "";
  if (out.order_id.empty()) return fail(ErrorCode::kInternal, "orderMarkAsPaid: no order");
  return out;
}

Result<AppendResult> PlatformClient::append_paid_line(
    std::string_view shop, std::string_view order_gid, std::string_view variant, int quantity,
    const std::optional<LineDiscount>& discount, std::string_view staff_note,
    const std::optional<Money>& expected_outstanding) {
  AppendResult out;
  out.calculated_order_id = AG_TRY(order_edit_begin(shop, order_gid)).calculated_order_id;
  VariantAdded added =
      AG_TRY(order_edit_add_variant(shop, out.calculated_order_id, variant, quantity));
  out.calculated_line_item_id = added.calculated_line_item_id;
  out.outstanding_shop = added.outstanding_shop;
  out.outstanding_presentment = added.outstanding_presentment;
  if (discount) {
    DiscountApplied d = AG_TRY(order_edit_add_line_item_discount(
        shop, out.calculated_order_id, out.calculated_line_item_id, *discount));
    out.outstanding_shop = d.outstanding_shop;
    out.outstanding_presentment = d.outstanding_presentment;
  }
  if (expected_outstanding && !same_money(*expected_outstanding, out.outstanding_shop) &&
      !same_money(*expected_outstanding, out.outstanding_presentment)) {
    return fail(ErrorCode::kConflict,
                "the edited order would owe " + out.outstanding_presentment.amount + " " +
                    out.outstanding_presentment.currency + ", not the " +
                    expected_outstanding->amount + " " + expected_outstanding->currency +
                    " charged; the edit was not committed");
  }
  out.order_id = AG_TRY(order_edit_commit(shop, out.calculated_order_id, /*notify_customer=*/false,
                                          staff_note))
                     .order_id;
  auto paid = order_mark_as_paid(shop, out.order_id);
  if (!paid) {
    return fail(paid.error().code, "committed: the line was added but orderMarkAsPaid failed: " +
                                       paid.error().message);
  }
  out.financial_status = paid->financial_status;
  return out;
}

}  // namespace afterglow
