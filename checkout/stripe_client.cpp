#include "checkout/stripe_client.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <nlohmann/json.hpp>

#include "plugin/core/log.h"

namespace afterglow::checkout {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// Header values we send must not be able to smuggle a line break (or anything curl might
// mangle) into the request.
bool printable_ascii(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](unsigned char c) { return c >= 0x20 && c <= 0x7e; });
}

// Stripe ids (pi_…, acct_…, cus_…) are letters, digits and underscores. Anything else in a path
// segment or header (a '/', "..", '?') would address something other than what was meant.
bool stripe_id_like(std::string_view s) {
  return !s.empty() && s.size() <= 255 && std::all_of(s.begin(), s.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '_';
  });
}

std::string str(const json& j, const char* key) {
  if (!j.is_object()) return "";
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// An expandable field: the id string, or the expanded object's id.
std::string id_of(const json& j, const char* key) {
  if (!j.is_object()) return "";
  auto it = j.find(key);
  if (it == j.end()) return "";
  if (it->is_string()) return it->get<std::string>();
  if (it->is_object()) return str(*it, "id");
  return "";
}

int64_t integer(const json& j, const char* key) {
  if (!j.is_object()) return 0;
  auto it = j.find(key);
  if (it == j.end()) return 0;
  if (it->is_number_integer()) return it->get<int64_t>();
  if (it->is_number_unsigned()) {
    auto v = it->get<uint64_t>();
    return v > static_cast<uint64_t>(INT64_MAX) ? 0 : static_cast<int64_t>(v);
  }
  return 0;
}

const json* object_member(const json& j, const char* key) {
  if (!j.is_object()) return nullptr;
  auto it = j.find(key);
  return it != j.end() && it->is_object() ? &*it : nullptr;
}

StripeApiError error_from(const json& e) {
  return StripeApiError{str(e, "type"), str(e, "code"), str(e, "decline_code"), str(e, "message"),
                        str(e, "param")};
}

std::optional<PaymentIntent> intent_from(const json& j) {
  if (!j.is_object() || str(j, "id").empty()) return std::nullopt;
  PaymentIntent pi;
  pi.id = str(j, "id");
  pi.status = str(j, "status");
  pi.currency = str(j, "currency");
  pi.customer = id_of(j, "customer");
  pi.payment_method = id_of(j, "payment_method");
  pi.client_secret = str(j, "client_secret");
  pi.latest_charge = id_of(j, "latest_charge");
  pi.description = str(j, "description");
  pi.amount = integer(j, "amount");
  pi.amount_received = integer(j, "amount_received");
  if (const json* md = object_member(j, "metadata")) {
    for (const auto& [k, v] : md->items()) {
      pi.metadata[k] = v.is_string() ? v.get<std::string>() : v.dump();
    }
  }
  if (const json* lpe = object_member(j, "last_payment_error")) {
    pi.last_payment_error = error_from(*lpe);
  }
  if (const json* na = object_member(j, "next_action")) {
    pi.next_action_type = str(*na, "type");
    if (const json* r = object_member(*na, "redirect_to_url")) pi.redirect_url = str(*r, "url");
  }
  return pi;
}

std::optional<Refund> refund_from(const json& j) {
  if (!j.is_object() || str(j, "id").empty()) return std::nullopt;
  Refund r;
  r.id = str(j, "id");
  r.status = str(j, "status");
  r.payment_intent = id_of(j, "payment_intent");
  r.reason = str(j, "reason");
  r.amount = integer(j, "amount");
  r.currency = str(j, "currency");
  return r;
}

json parse_json(std::string_view body) {
  // No exceptions: a proxy's HTML error page on a 502 is just "no object".
  return json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
}

// How a final answer is classified (spec §1 status table, §2).
StripeOutcome classify(int status) {
  if (status >= 200 && status < 300) return StripeOutcome::kOk;
  if (status == 402) return StripeOutcome::kCardError;
  // 409 (a concurrent request with the key is running) and 429 (rate limiter, runs before the
  // idempotency layer) leave the outcome open; so does 424, where an external dependency failed
  // at an unknown point of the request.
  if (status == 409 || status == 424 || status == 429) return StripeOutcome::kIndeterminate;
  if (status >= 400 && status < 500) return StripeOutcome::kRejected;
  // 5xx, and the 1xx/3xx Stripe never sends: nothing says whether the request ran.
  return StripeOutcome::kIndeterminate;
}

// Whether an answer is worth repeating with the same key, before Stripe-Should-Retry is read.
bool retryable_status(int status) {
  if (status == 409 || status == 429) return true;
  // A 500 is stored under the key: repeating the request would only replay it.
  return status > 500 && status < 600;
}

StripeResponse refused(std::string code, std::string message, std::string param = "") {
  StripeResponse r;
  r.outcome = StripeOutcome::kRejected;
  r.error = StripeApiError{"invalid_request_error", std::move(code), "", std::move(message),
                           std::move(param)};
  return r;
}

std::optional<StripeResponse> refuse_key(std::string_view key) {
  if (key.empty()) {
    return refused("local_idempotency_key_missing", "an Idempotency-Key is required");
  }
  if (key.size() > kMaxIdempotencyKeyLength) {
    return refused("local_idempotency_key_too_long",
                   "the Idempotency-Key is longer than 255 characters");
  }
  if (!printable_ascii(key)) {
    return refused("local_idempotency_key_invalid", "the Idempotency-Key must be printable ASCII");
  }
  return std::nullopt;
}

std::optional<StripeResponse> refuse_metadata(
    const std::vector<std::pair<std::string, std::string>>& metadata) {
  for (const auto& [k, v] : metadata) {
    // A bracket in a key would re-nest the form field (`metadata[a]b]`); Stripe forbids them.
    if (k.empty() || k.find_first_of("[]") != std::string::npos) {
      return refused("local_metadata_key_invalid",
                     "metadata keys must be non-empty and contain no '[' or ']'", "metadata");
    }
  }
  return std::nullopt;
}

void append_metadata(std::vector<std::pair<std::string, std::string>>& fields,
                     const std::vector<std::pair<std::string, std::string>>& metadata) {
  for (const auto& [k, v] : metadata) fields.emplace_back("metadata[" + k + "]", v);
}

std::string search_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  for (char c : s) {
    if (c == '\\' || c == '\'') out += '\\';
    out += c;
  }
  return out;
}

// Retry-After in whole seconds (Stripe sends seconds); nullopt when absent or unparsable.
std::optional<milliseconds> retry_after(const HttpResponse& res) {
  std::string v = res.header("retry-after");
  int64_t seconds = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), seconds);
  if (v.empty() || ec != std::errc() || p != v.data() + v.size() || seconds < 0) {
    return std::nullopt;
  }
  return milliseconds(seconds * 1000);
}

}  // namespace

const char* stripe_outcome_name(StripeOutcome outcome) {
  switch (outcome) {
    case StripeOutcome::kOk:
      return "ok";
    case StripeOutcome::kCardError:
      return "card_error";
    case StripeOutcome::kRejected:
      return "rejected";
    case StripeOutcome::kIndeterminate:
      return "indeterminate";
  }
  return "unknown";
}

Result<void> validate_stripe_options(const StripeOptions& o) {
  if (o.secret_key.empty()) return fail(ErrorCode::kInvalidArgument, "STRIPE_SECRET_KEY is empty");
  if (!(o.secret_key.starts_with("sk_") || o.secret_key.starts_with("rk_")) ||
      !printable_ascii(o.secret_key) || o.secret_key.find(' ') != std::string::npos) {
    // The message never echoes the key.
    return fail(ErrorCode::kInvalidArgument,
                "STRIPE_SECRET_KEY must be a secret (sk_…) or restricted (rk_…) key");
  }
  if (std::string why = api_base_problem(o.api_base); !why.empty()) {
    return fail(ErrorCode::kInvalidArgument, "STRIPE_API_BASE " + why);
  }
  if (o.api_version.empty() || !printable_ascii(o.api_version)) {
    return fail(ErrorCode::kInvalidArgument, "the Stripe API version is empty or malformed");
  }
  if (o.max_attempts < 1) {
    return fail(ErrorCode::kInvalidArgument, "Stripe max_attempts must be at least 1");
  }
  if (o.initial_backoff.count() <= 0 || o.max_backoff < o.initial_backoff) {
    return fail(ErrorCode::kInvalidArgument,
                "Stripe backoff must be positive, with max_backoff >= initial_backoff");
  }
  if (o.request_timeout.count() <= 0) {
    return fail(ErrorCode::kInvalidArgument, "Stripe request_timeout must be positive");
  }
  return {};
}

std::string stripe_form_encode(const std::vector<std::pair<std::string, std::string>>& fields) {
  std::string out;
  for (const auto& [k, v] : fields) {
    if (!out.empty()) out += '&';
    // Encode the key piecewise so brackets stay literal, as stripe-node sends them.
    size_t start = 0;
    while (start <= k.size()) {
      size_t b = k.find_first_of("[]", start);
      if (b == std::string::npos) {
        out += url_encode(std::string_view(k).substr(start));
        break;
      }
      out += url_encode(std::string_view(k).substr(start, b - start));
      out += k[b];
      start = b + 1;
    }
    out += '=';
    out += url_encode(v);
  }
  return out;
}

std::string stripe_metadata_query(std::string_view key, std::string_view value) {
  return "metadata['" + search_escape(key) + "']:'" + search_escape(value) + "'";
}

std::optional<PaymentIntent> parse_payment_intent(std::string_view body) {
  return intent_from(parse_json(body));
}

std::optional<Refund> parse_refund(std::string_view body) { return refund_from(parse_json(body)); }

StripeClient::StripeClient(HttpClient& http, Sleeper& sleeper, StripeOptions options,
                           uint64_t jitter_seed)
    : http_(http), sleeper_(sleeper), options_(std::move(options)) {
  if (auto ok = validate_stripe_options(options_); !ok) config_error_ = ok.error().message;
  base_ = options_.api_base;
  while (base_.ends_with('/')) base_.pop_back();
  if (jitter_seed == 0) {
    std::random_device rd;
    jitter_seed = (static_cast<uint64_t>(rd()) << 32) ^ rd();
  }
  rng_.seed(jitter_seed);
}

Result<std::unique_ptr<StripeClient>> StripeClient::create(HttpClient& http, Sleeper& sleeper,
                                                           StripeOptions options,
                                                           uint64_t jitter_seed) {
  AG_CHECK(validate_stripe_options(options));
  return std::make_unique<StripeClient>(http, sleeper, std::move(options), jitter_seed);
}

milliseconds StripeClient::backoff(int retry) {
  // stripe-node's _getSleepTimeInMS: min(initial · 2^(n−1), max) · U[0.5, 1], at least initial.
  double base = static_cast<double>(options_.initial_backoff.count());
  const double cap = static_cast<double>(options_.max_backoff.count());
  for (int i = 1; i < retry && base < cap; ++i) base *= 2;
  base = std::min(base, cap);
  double factor;
  {
    std::lock_guard<std::mutex> lock(rng_mutex_);
    factor = std::uniform_real_distribution<double>(0.5, 1.0)(rng_);
  }
  auto ms = static_cast<int64_t>(base * factor);
  return milliseconds(std::max<int64_t>(ms, options_.initial_backoff.count()));
}

std::optional<StripeResponse> StripeClient::precheck(std::string_view account) const {
  if (!config_error_.empty()) {
    return refused("local_configuration_invalid", config_error_);
  }
  if (!account.empty() && (!account.starts_with("acct_") || !stripe_id_like(account))) {
    return refused("local_account_invalid", "Stripe-Account must be an acct_… id");
  }
  return std::nullopt;
}

StripeResponse StripeClient::execute(const Call& call) {
  HttpRequest req;
  req.method = call.method;
  req.url = base_ + call.path + (call.query.empty() ? "" : "?" + call.query);
  req.timeout = options_.request_timeout;
  req.body = call.body;
  req.headers = {{"Authorization", "Bearer " + options_.secret_key},
                 {"Content-Type", "application/x-www-form-urlencoded"},
                 {"Accept", "application/json"},
                 {"Stripe-Version", options_.api_version}};
  if (!call.idempotency_key.empty())
    req.headers.emplace_back("Idempotency-Key", call.idempotency_key);
  if (!call.account.empty()) req.headers.emplace_back("Stripe-Account", call.account);

  StripeResponse out;
  milliseconds wait{0};
  for (int attempt = 1; attempt <= options_.max_attempts; ++attempt) {
    if (attempt > 1) sleeper_.sleep_for(wait);
    out = StripeResponse{};
    out.attempts = attempt;
    auto sent = http_.send(req);
    bool retry = false;
    std::optional<milliseconds> asked;
    if (!sent) {
      // No answer: the request may or may not have reached Stripe. The same key makes the
      // repeat safe (spec §2).
      out.outcome = StripeOutcome::kIndeterminate;
      out.transport_error = sent.error().message;
      retry = true;
    } else {
      const HttpResponse& res = *sent;
      out.http_status = res.status;
      out.request_id = res.header("request-id");
      out.replayed = res.header("idempotent-replayed") == "true";
      out.body = res.body;
      out.outcome = classify(res.status);
      json parsed = parse_json(res.body);
      if (const json* e = object_member(parsed, "error")) out.error = error_from(*e);
      std::string should = lower(res.header("stripe-should-retry"));
      retry = should == "true" ? true : should == "false" ? false : retryable_status(res.status);
      // A success is final whatever the header says: repeating it could only replay it.
      if (out.outcome == StripeOutcome::kOk) retry = false;
      asked = retry_after(res);
    }
    const bool last = attempt == options_.max_attempts;
    if (!retry || last) break;
    wait = backoff(attempt);
    if (asked && *asked > wait && *asked <= options_.max_backoff) wait = *asked;
    log::warn("stripe call retrying", {{"op", call.op},
                                       {"method", call.method},
                                       {"path", call.path},
                                       {"account", call.account},
                                       {"idempotency_key", call.idempotency_key},
                                       {"attempt", attempt},
                                       {"status", out.http_status},
                                       {"request_id", out.request_id},
                                       {"transport_error", out.transport_error},
                                       {"wait_ms", static_cast<int64_t>(wait.count())}});
  }
  auto level = out.outcome == StripeOutcome::kOk || out.outcome == StripeOutcome::kCardError
                   ? log::Level::kInfo
                   : log::Level::kWarn;
  log::write(level, "stripe call",
             {{"op", call.op},
              {"method", call.method},
              {"path", call.path},
              {"account", call.account},
              {"idempotency_key", call.idempotency_key},
              {"outcome", stripe_outcome_name(out.outcome)},
              {"status", out.http_status},
              {"request_id", out.request_id},
              {"attempts", out.attempts},
              {"replayed", out.replayed},
              {"error_code", out.error ? out.error->code : std::string()},
              {"decline_code", out.error ? out.error->decline_code : std::string()},
              {"transport_error", out.transport_error}});
  return out;
}

PaymentIntentResult StripeClient::create_payment_intent(const CreatePaymentIntent& p,
                                                        std::string_view idempotency_key,
                                                        std::string_view account) {
  PaymentIntentResult result;
  if (auto r = precheck(account)) return {*r, std::nullopt};
  if (auto r = refuse_key(idempotency_key)) return {*r, std::nullopt};
  if (auto r = refuse_metadata(p.metadata)) return {*r, std::nullopt};

  std::vector<std::pair<std::string, std::string>> f;
  f.emplace_back("amount", std::to_string(p.amount));
  f.emplace_back("currency", lower(p.currency));
  if (!p.customer.empty()) f.emplace_back("customer", p.customer);
  if (!p.payment_method.empty()) f.emplace_back("payment_method", p.payment_method);
  f.emplace_back("confirm", p.confirm ? "true" : "false");
  // Stripe accepts off_session only together with confirm=true (spec §3a).
  if (p.confirm && p.off_session) f.emplace_back("off_session", "true");
  for (const auto& t : p.payment_method_types) f.emplace_back("payment_method_types[]", t);
  if (!p.description.empty()) f.emplace_back("description", p.description);
  if (!p.statement_descriptor_suffix.empty()) {
    f.emplace_back("statement_descriptor_suffix", p.statement_descriptor_suffix);
  }
  if (!p.return_url.empty()) f.emplace_back("return_url", p.return_url);
  append_metadata(f, p.metadata);

  result.response =
      execute(Call{"create_payment_intent", "POST", "/v1/payment_intents", "",
                   stripe_form_encode(f), std::string(idempotency_key), std::string(account)});
  json body = parse_json(result.response.body);
  if (result.response.outcome == StripeOutcome::kOk) {
    result.intent = intent_from(body);
  } else if (result.response.outcome == StripeOutcome::kCardError) {
    if (const json* e = object_member(body, "error")) {
      if (const json* pi = object_member(*e, "payment_intent")) result.intent = intent_from(*pi);
    }
  }
  return result;
}

PaymentIntentResult StripeClient::retrieve_payment_intent(std::string_view id,
                                                          std::string_view account) {
  PaymentIntentResult result;
  if (auto r = precheck(account)) return {*r, std::nullopt};
  if (!stripe_id_like(id)) {
    return {refused("local_id_invalid", "not a PaymentIntent id", "id"), std::nullopt};
  }
  result.response =
      execute(Call{"retrieve_payment_intent", "GET", "/v1/payment_intents/" + std::string(id), "",
                   "", "", std::string(account)});
  if (result.response.outcome == StripeOutcome::kOk) {
    result.intent = intent_from(parse_json(result.response.body));
  }
  return result;
}

SearchResult StripeClient::search_payment_intents_by_metadata(std::string_view key,
                                                              std::string_view value,
                                                              std::string_view account) {
  SearchResult result;
  if (auto r = precheck(account)) return {*r, {}, false};
  if (key.empty() || key.find_first_of("[]") != std::string_view::npos) {
    return {refused("local_metadata_key_invalid",
                    "metadata keys must be non-empty and contain no '[' or ']'", "query"),
            {},
            false};
  }
  std::string query = "query=" + url_encode(stripe_metadata_query(key, value)) + "&limit=100";
  result.response = execute(Call{"search_payment_intents", "GET", "/v1/payment_intents/search",
                                 std::move(query), "", "", std::string(account)});
  if (result.response.outcome == StripeOutcome::kOk) {
    json body = parse_json(result.response.body);
    if (body.is_object()) {
      auto data = body.find("data");
      if (data != body.end() && data->is_array()) {
        for (const json& item : *data) {
          if (auto pi = intent_from(item)) result.intents.push_back(std::move(*pi));
        }
      }
      auto more = body.find("has_more");
      result.has_more = more != body.end() && more->is_boolean() && more->get<bool>();
    }
  }
  return result;
}

RefundResult StripeClient::create_refund(
    std::string_view payment_intent_id, std::optional<int64_t> amount, std::string_view reason,
    const std::vector<std::pair<std::string, std::string>>& metadata,
    std::string_view idempotency_key, std::string_view account) {
  RefundResult result;
  if (auto r = precheck(account)) return {*r, std::nullopt};
  if (auto r = refuse_key(idempotency_key)) return {*r, std::nullopt};
  if (!stripe_id_like(payment_intent_id)) {
    return {refused("local_id_invalid", "not a PaymentIntent id", "payment_intent"), std::nullopt};
  }
  if (auto r = refuse_metadata(metadata)) return {*r, std::nullopt};

  std::vector<std::pair<std::string, std::string>> f;
  f.emplace_back("payment_intent", std::string(payment_intent_id));
  if (amount) f.emplace_back("amount", std::to_string(*amount));
  if (!reason.empty()) f.emplace_back("reason", std::string(reason));
  append_metadata(f, metadata);
  result.response = execute(Call{"create_refund", "POST", "/v1/refunds", "", stripe_form_encode(f),
                                 std::string(idempotency_key), std::string(account)});
  if (result.response.outcome == StripeOutcome::kOk) {
    result.refund = refund_from(parse_json(result.response.body));
  }
  return result;
}

}  // namespace afterglow::checkout
