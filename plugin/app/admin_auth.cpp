#include "plugin/app/admin_auth.h"

#include <cstdio>
#include <nlohmann/json.hpp>

#include "plugin/app/demo_seed.h"
#include "plugin/core/crypto.h"
#include "plugin/core/jwt.h"
#include "plugin/core/log.h"

namespace afterglow::app {
namespace {

using nlohmann::json;

constexpr std::string_view kDevAudience = "afterglow-dev-admin";
constexpr std::string_view kDevIssuer = "afterglow-dev-login";

std::unexpected<Error> unauthenticated(std::string message) {
  return fail(ErrorCode::kUnauthenticated, std::move(message));
}

// The host of an https URL: "https://a.myshopify.com/admin" -> "a.myshopify.com".
std::optional<std::string> https_host(const json& claims, const char* name) {
  auto it = claims.find(name);
  if (it == claims.end() || !it->is_string()) return std::nullopt;
  const std::string& url = it->get_ref<const std::string&>();
  constexpr std::string_view kScheme = "https://";
  if (url.compare(0, kScheme.size(), kScheme) != 0) return std::nullopt;
  std::string rest = url.substr(kScheme.size());
  std::string host = rest.substr(0, rest.find_first_of("/?#"));
  if (host.empty()) return std::nullopt;
  return host;
}

}  // namespace

bool is_shop_domain(std::string_view host) {
  constexpr std::string_view kSuffix = ".myshopify.com";
  if (host.size() <= kSuffix.size() || host.size() > 255) return false;
  if (host.substr(host.size() - kSuffix.size()) != kSuffix) return false;
  std::string_view name = host.substr(0, host.size() - kSuffix.size());
  if (name.front() == '-') return false;
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return true;
}

AdminAuth::AdminAuth(const Config& config, Db& db, const Clock& clock)
    : config_(config), db_(db), clock_(clock) {
  if (config_.dev_mode) {
    // A key of its own: a dev session token is not a platform token, and no platform token
    // (signed with the secret itself) verifies under this key.
    dev_key_ = crypto::hmac_sha256(config_.api_secret, "afterglow dev admin session v1");
    login_code_ = crypto::random_hex(16);
  }
}

std::string AdminAuth::dev_login_url() const {
  std::lock_guard<std::mutex> lock(mutex_);
  if (login_code_.empty()) return "";
  return config_.app_url + "/admin?login=" + login_code_;
}

void AdminAuth::print_dev_login_link() const {
  std::string url = dev_login_url();
  if (url.empty()) return;
  // stdout, for the person at the terminal; the JSON log only says that a link exists.
  std::printf("\nDevelopment login for the demo shop (%s), one use, DEV_MODE only:\n  %s\n\n",
              kDemoShopDomain, url.c_str());
  std::fflush(stdout);
  log::info("development login link printed to stdout", {{"shop", kDemoShopDomain}});
}

Result<DevSessionToken> AdminAuth::exchange_dev_login(std::string_view code) {
  if (!config_.dev_mode) return unauthenticated("development login is off (DEV_MODE is not set)");
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (login_code_.empty() || !crypto::constant_time_equal(code, login_code_)) {
      return unauthenticated(
          "this login link is not valid: each link works once; use the newest one "
          "`afterglow serve` printed");
    }
    login_code_ = crypto::random_hex(16);
  }
  print_dev_login_link();
  int64_t now_s = clock_.now_s();
  int64_t exp_s =
      now_s + std::chrono::duration_cast<std::chrono::seconds>(kDevSessionLifetime).count();
  std::string dest = std::string("https://") + kDemoShopDomain;
  json claims{
      {"iss", kDevIssuer}, {"aud", kDevAudience}, {"dest", dest}, {"sub", "dev"},
      {"iat", now_s},      {"nbf", now_s},        {"exp", exp_s}, {"jti", crypto::random_hex(16)}};
  return DevSessionToken{jwt::sign(claims, dev_key_), kDemoShopDomain, exp_s * 1000};
}

Result<AdminSession> AdminAuth::installed_shop(const std::string& domain, std::string user,
                                               bool development) const {
  std::optional<ShopRecord> shop;
  AG_CHECK(db_.read([&](Tx& tx) -> Result<void> {
    shop = AG_TRY(find_shop(tx, domain));
    return {};
  }));
  if (!shop || shop->state != kShopInstalled) {
    return unauthenticated("the shop in the session token is not installed");
  }
  return AdminSession{std::move(*shop), std::move(user), development};
}

Result<AdminSession> AdminAuth::authenticate(std::string_view authorization) const {
  constexpr std::string_view kBearer = "Bearer ";
  if (authorization.size() <= kBearer.size() ||
      authorization.substr(0, kBearer.size()) != kBearer) {
    return unauthenticated("a session token is required (Authorization: Bearer <token>)");
  }
  std::string_view token = authorization.substr(kBearer.size());

  jwt::VerifyOptions options;
  options.leeway = std::chrono::seconds(10);  // shopify.md §1.7: the platform library's tolerance
  options.require_exp = true;
  options.require_nbf = true;

  if (!dev_key_.empty()) {
    jwt::VerifyOptions dev = options;
    dev.audience = std::string(kDevAudience);
    dev.issuer = std::string(kDevIssuer);
    if (auto claims = jwt::verify(token, dev_key_, dev, clock_)) {
      return installed_shop(kDemoShopDomain, "dev", true);
    }
  }

  options.audience = config_.api_key;
  auto claims = jwt::verify(token, config_.api_secret, options, clock_);
  if (!claims && !config_.api_secret_previous.empty()) {
    // During a secret rotation the platform may still sign with the old secret for a while.
    if (auto old = jwt::verify(token, config_.api_secret_previous, options, clock_)) {
      claims = std::move(old);
    }
  }
  if (!claims) return unauthenticated("session token refused: " + claims.error().message);

  auto dest = https_host(*claims, "dest");
  if (!dest || !is_shop_domain(*dest)) {
    return unauthenticated("session token refused: dest is not https://{shop}.myshopify.com");
  }
  auto iss = https_host(*claims, "iss");
  if (!iss || *iss != *dest) {
    return unauthenticated("session token refused: the host of iss differs from dest");
  }
  std::string user;
  if (auto sub = claims->find("sub"); sub != claims->end() && sub->is_string()) {
    user = sub->get<std::string>();
  }
  return installed_shop(*dest, std::move(user), false);
}

}  // namespace afterglow::app
