#include "checkout/checkout_auth.h"

#include <charconv>
#include <nlohmann/json.hpp>

#include "plugin/core/jwt.h"

namespace afterglow::checkout {
namespace {

using nlohmann::json;

constexpr size_t kMaxReferenceId = 255;
constexpr std::string_view kCustomerGid = "gid://shopify/Customer/";

std::unexpected<Error> refused(std::string what) {
  return fail(ErrorCode::kUnauthenticated, std::move(what));
}

const json* member(const json& object, const char* name) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(name);
  return it == object.end() ? nullptr : &*it;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

bool is_myshopify_domain(std::string_view host) {
  constexpr std::string_view kSuffix = ".myshopify.com";
  if (host.size() <= kSuffix.size() || host.size() > 255) return false;
  if (!host.ends_with(kSuffix)) return false;
  std::string_view name = host.substr(0, host.size() - kSuffix.size());
  if (name.front() == '-') return false;
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return true;
}

CheckoutAuth::CheckoutAuth(std::string api_key, std::vector<std::string> secrets,
                           const Clock& clock)
    : api_key_(std::move(api_key)), clock_(clock) {
  for (std::string& s : secrets) {
    if (!s.empty()) secrets_.push_back(std::move(s));
  }
}

namespace {

// The claims under the first secret that verifies. Otherwise the current secret's error, unless
// the signature matched under the previous one: then that secret's error says what is wrong
// (expired, wrong aud, …) where the current one could only say "signature does not match".
Result<json> verify_any(std::string_view token, const std::vector<std::string>& secrets,
                        const jwt::VerifyOptions& options, const Clock& clock) {
  if (secrets.empty()) return refused("no app secret is configured");
  Result<json> first = jwt::verify(token, secrets.front(), options, clock);
  if (first) return first;
  auto bad_signature = [](const Error& e) {
    return e.message.find("signature does not match") != std::string::npos;
  };
  for (size_t i = 1; i < secrets.size(); ++i) {
    auto claims = jwt::verify(token, secrets[i], options, clock);
    if (claims || (bad_signature(first.error()) && !bad_signature(claims.error()))) return claims;
  }
  return first;
}

}  // namespace

Result<PostPurchaseCaller> CheckoutAuth::verify_post_purchase(
    std::string_view token, std::string_view reference_id) const {
  if (token.empty()) return refused("the post-purchase token (inputData.token) is required");
  if (reference_id.empty() || reference_id.size() > kMaxReferenceId) {
    return refused("referenceId is required (at most 255 characters)");
  }
  jwt::VerifyOptions options;
  options.leeway = kCheckoutTokenLeeway;
  options.issuer = "shopify";  // spec §3.2; exp is checked when present but Shopify sends none
  auto claims = verify_any(token, secrets_, options, clock_);
  if (!claims) return refused("post-purchase token refused: " + claims.error().message);

  const json* sub = member(*claims, "sub");
  if (!sub || !sub->is_string() || sub->get_ref<const std::string&>() != reference_id) {
    return refused("post-purchase token refused: sub is not the request's referenceId");
  }
  const json* input = member(*claims, "input_data");
  if (!input || !input->is_object()) {
    return refused("post-purchase token refused: input_data is missing");
  }
  const json* purchase = member(*input, "initialPurchase");
  const json* ref = purchase ? member(*purchase, "referenceId") : nullptr;
  if (!ref || !ref->is_string() || ref->get_ref<const std::string&>() != reference_id) {
    return refused(
        "post-purchase token refused: input_data.initialPurchase.referenceId is not the "
        "request's referenceId");
  }
  const json* shop = member(*input, "shop");
  const json* domain = shop ? member(*shop, "domain") : nullptr;
  if (!domain || !domain->is_string()) {
    return refused("post-purchase token refused: input_data.shop.domain is missing");
  }
  std::string host = lower(domain->get_ref<const std::string&>());
  if (!is_myshopify_domain(host)) {
    return refused("post-purchase token refused: input_data.shop.domain is not {shop}.myshopify.com");
  }
  return PostPurchaseCaller{std::move(host), std::string(reference_id),
                            std::make_shared<const json>(std::move(*input))};
}

Result<ThankYouCaller> CheckoutAuth::verify_thank_you(std::string_view authorization) const {
  constexpr std::string_view kBearer = "Bearer ";
  if (authorization.size() <= kBearer.size() || !authorization.starts_with(kBearer)) {
    return refused("a session token is required (Authorization: Bearer <token>)");
  }
  std::string_view token = authorization.substr(kBearer.size());
  jwt::VerifyOptions options;
  options.leeway = kCheckoutTokenLeeway;
  options.require_exp = true;  // spec §4: 5-minute tokens; without exp one would live forever
  options.require_nbf = true;
  options.audience = api_key_;
  if (api_key_.empty()) return refused("no app API key is configured");
  auto claims = verify_any(token, secrets_, options, clock_);
  if (!claims) return refused("session token refused: " + claims.error().message);

  // dest is the bare host here (spec §4), unlike the admin token's https URL: requiring exactly
  // that keeps an admin session token from standing in for a checkout one.
  const json* dest = member(*claims, "dest");
  if (!dest || !dest->is_string() || !is_myshopify_domain(dest->get_ref<const std::string&>())) {
    return refused("session token refused: dest is not a bare {shop}.myshopify.com host");
  }
  ThankYouCaller caller;
  caller.shop_domain = dest->get<std::string>();
  if (const json* sub = member(*claims, "sub"); sub && sub->is_string()) {
    std::string_view s = sub->get_ref<const std::string&>();
    if (s.starts_with(kCustomerGid)) {
      std::string_view digits = s.substr(kCustomerGid.size());
      int64_t id = 0;
      auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), id);
      if (ec == std::errc() && end == digits.data() + digits.size() && id > 0) {
        caller.customer_id = id;
      }
    }
  }
  return caller;
}

}  // namespace afterglow::checkout
