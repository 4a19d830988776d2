#include "plugin/core/platform_oauth.h"

#include <nlohmann/json.hpp>

#include "plugin/core/jwt.h"
#include "plugin/core/oauth_query.h"

namespace afterglow {
namespace {

using nlohmann::json;

// The token endpoint can be slow, and a token refresh holds the shop's row lock meanwhile
// (shop_tokens.h), so give up sooner than the default.
constexpr std::chrono::seconds kTokenTimeout{8};

std::optional<int64_t> opt_int(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::nullopt;
  if (it->is_number_integer()) return it->get<int64_t>();
  if (it->is_number()) return static_cast<int64_t>(it->get<double>());
  if (it->is_string()) {
    try {
      return std::stoll(it->get<std::string>());
    } catch (...) {
      return std::nullopt;
    }
  }
  return std::nullopt;
}

std::string opt_str(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// The hostname of "https://host/path" or of "host/path".
std::string hostname_of(std::string_view url) {
  size_t scheme = url.find("://");
  if (scheme != std::string_view::npos) url.remove_prefix(scheme + 3);
  return std::string(url.substr(0, url.find('/')));
}

}  // namespace

PlatformEndpoints::PlatformEndpoints(std::string api_base) : api_base_(std::move(api_base)) {
  while (!api_base_.empty() && api_base_.back() == '/') api_base_.pop_back();
}

std::string PlatformEndpoints::shop_base(std::string_view shop) const {
  if (api_base_.empty()) return "https://" + std::string(shop);
  return api_base_ + "/" + std::string(shop);
}

std::string PlatformEndpoints::authorize_url(std::string_view shop, std::string_view client_id,
                                             std::string_view scopes, std::string_view redirect_uri,
                                             std::string_view state) const {
  return shop_base(shop) + "/admin/oauth/authorize?client_id=" + oauth::form_encode(client_id) +
         "&scope=" + oauth::form_encode(scopes) +
         "&redirect_uri=" + oauth::form_encode(redirect_uri) +
         "&state=" + oauth::form_encode(state);
}

std::string PlatformEndpoints::token_url(std::string_view shop) const {
  return shop_base(shop) + "/admin/oauth/access_token";
}

std::string PlatformEndpoints::graphql_url(std::string_view shop,
                                           std::string_view api_version) const {
  return shop_base(shop) + "/admin/api/" + std::string(api_version) + "/graphql.json";
}

OAuthClient::OAuthClient(HttpClient& http, PlatformEndpoints endpoints,
                         OAuthCredentials credentials)
    : http_(http), endpoints_(std::move(endpoints)), credentials_(std::move(credentials)) {}

Result<TokenGrant> OAuthClient::exchange_code(std::string_view shop, std::string_view code) const {
  json body = {{"client_id", credentials_.client_id},
               {"client_secret", credentials_.client_secret},
               {"code", std::string(code)},
               {"expiring", "1"}};
  return post(shop, body.dump(), "authorization code");
}

Result<TokenGrant> OAuthClient::refresh(std::string_view shop,
                                        std::string_view refresh_token) const {
  json body = {{"client_id", credentials_.client_id},
               {"client_secret", credentials_.client_secret},
               {"grant_type", "refresh_token"},
               {"refresh_token", std::string(refresh_token)}};
  return post(shop, body.dump(), "refresh token");
}

Result<TokenGrant> OAuthClient::exchange_session_token(std::string_view shop,
                                                       std::string_view session_token) const {
  json body = {{"client_id", credentials_.client_id},
               {"client_secret", credentials_.client_secret},
               {"grant_type", "urn:ietf:params:oauth:grant-type:token-exchange"},
               {"subject_token", std::string(session_token)},
               {"subject_token_type", "urn:ietf:params:oauth:token-type:id_token"},
               {"requested_token_type", "urn:shopify:params:oauth:token-type:offline-access-token"},
               {"expiring", "1"}};
  return post(shop, body.dump(), "session token");
}

Result<TokenGrant> OAuthClient::post(std::string_view shop, std::string body,
                                     const char* what) const {
  HttpRequest req;
  req.method = "POST";
  req.url = endpoints_.token_url(shop);
  req.headers = {{"Content-Type", "application/json"}, {"Accept", "application/json"}};
  req.body = std::move(body);
  req.timeout = kTokenTimeout;
  auto res = http_.send(req);
  if (!res) {
    return fail(ErrorCode::kUnavailable,
                std::string("token endpoint unreachable: ") + res.error().message);
  }
  json j = json::parse(res->body, nullptr, /*allow_exceptions=*/false);
  if (res->status == 400 || res->status == 401 || res->status == 403) {
    // {"error":"invalid_grant","error_description":"…"}: the OAuth error code is safe to show;
    // the description is not echoed (it may quote what we sent).
    std::string code = j.is_object() ? opt_str(j, "error") : "";
    return fail(ErrorCode::kUnauthenticated, std::string("the platform refused the ") + what +
                                                 " (HTTP " + std::to_string(res->status) +
                                                 (code.empty() ? "" : ", " + code) + ")");
  }
  if (res->status != 200) {
    return fail(ErrorCode::kUnavailable,
                "token endpoint answered HTTP " + std::to_string(res->status));
  }
  if (!j.is_object() || opt_str(j, "access_token").empty()) {
    return fail(ErrorCode::kUnavailable, "token endpoint answered without an access_token");
  }
  TokenGrant g;
  g.access_token = opt_str(j, "access_token");
  g.scope = opt_str(j, "scope");
  g.expires_in_s = opt_int(j, "expires_in");
  g.refresh_token = opt_str(j, "refresh_token");
  g.refresh_token_expires_in_s = opt_int(j, "refresh_token_expires_in");
  return g;
}

Result<SessionToken> verify_session_token(std::string_view token, std::string_view client_id,
                                          std::string_view client_secret,
                                          std::string_view previous_secret, const Clock& clock) {
  jwt::VerifyOptions options;
  options.require_exp = true;
  options.audience = std::string(client_id);
  auto claims = jwt::verify(token, client_secret, options, clock);
  if (!claims && !previous_secret.empty() &&
      claims.error().message == "jwt: signature does not match") {
    claims = jwt::verify(token, previous_secret, options, clock);
  }
  if (!claims) return std::unexpected(claims.error());
  const json& c = *claims;
  std::string dest = opt_str(c, "dest");
  std::string iss = opt_str(c, "iss");
  if (dest.empty() || iss.empty()) {
    return fail(ErrorCode::kUnauthenticated, "session token: iss and dest are required");
  }
  std::string dest_host = hostname_of(dest);
  if (hostname_of(iss) != dest_host) {
    return fail(ErrorCode::kUnauthenticated, "session token: iss and dest name different shops");
  }
  auto shop = oauth::sanitize_shop(dest_host);
  if (!shop) return fail(ErrorCode::kUnauthenticated, "session token: dest is not a shop");
  SessionToken out;
  out.shop = *shop;
  out.user_id = opt_str(c, "sub");
  out.session_id = opt_str(c, "sid");
  return out;
}

}  // namespace afterglow
