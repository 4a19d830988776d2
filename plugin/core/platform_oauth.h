// The platform's OAuth token endpoint and the session tokens that feed it (spec/shopify.md
// §1.4–§1.7):
//   - PlatformEndpoints: where a shop's OAuth and Admin API endpoints live;
//   - OAuthClient: authorization code → tokens, refresh token → tokens (rotating), session token
//     → offline tokens (token exchange); every grant asks for expiring offline tokens;
//   - verify_session_token: the App Bridge ID token, checked locally before it is exchanged.
// Tokens, codes and the client secret are never logged and never put in an error message.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "plugin/core/clock.h"
#include "plugin/core/error.h"
#include "plugin/core/http_client.h"

namespace afterglow {

// Where a shop's endpoints live. In production that is https://{shop}. With PLATFORM_API_BASE set
// (tests, a recording proxy) it is {base}/{shop}: the shop stays in the path, so one fake server
// can tell shops apart, and nothing but the base changes.
class PlatformEndpoints {
 public:
  // `api_base` is PLATFORM_API_BASE ("" in production), without a trailing slash.
  explicit PlatformEndpoints(std::string api_base = "");

  // "https://{shop}" or "{base}/{shop}".
  std::string shop_base(std::string_view shop) const;
  // The merchant's consent page: {shop_base}/admin/oauth/authorize?client_id&scope&redirect_uri
  // &state (no grant_options: offline access).
  std::string authorize_url(std::string_view shop, std::string_view client_id,
                            std::string_view scopes, std::string_view redirect_uri,
                            std::string_view state) const;
  std::string token_url(std::string_view shop) const;  // {shop_base}/admin/oauth/access_token
  std::string graphql_url(std::string_view shop, std::string_view api_version) const;

 private:
  std::string api_base_;
};

// What the token endpoint grants. Expiring offline tokens carry every field; a legacy
// non-expiring token has neither expiry nor refresh token.
struct TokenGrant {
  std::string access_token;
  std::string scope;                    // as granted, comma-separated
  std::optional<int64_t> expires_in_s;  // access token lifetime (3600)
  std::string refresh_token;            // "" when none
  std::optional<int64_t> refresh_token_expires_in_s;
};

struct OAuthCredentials {
  std::string client_id;      // APP_API_KEY
  std::string client_secret;  // APP_API_SECRET
};

// Calls the token endpoint. Thread-safe (as the HttpClient is). Errors:
//   kUnauthenticated  the platform refused the grant (HTTP 400/401/403: a used or expired code,
//                     a retired or expired refresh token, a bad session token); asking again
//                     with the same input will not help;
//   kUnavailable      transport failure, 429 or 5xx, or a 200 without an access_token: try later.
class OAuthClient {
 public:
  OAuthClient(HttpClient& http, PlatformEndpoints endpoints, OAuthCredentials credentials);

  // Authorization-code grant, expiring offline token (expiring=1).
  Result<TokenGrant> exchange_code(std::string_view shop, std::string_view code) const;
  // Refresh-token grant. The platform replaces the refresh token on every use: store the whole
  // returned grant (both tokens) atomically.
  Result<TokenGrant> refresh(std::string_view shop, std::string_view refresh_token) const;
  // Token exchange: a verified session (ID) token for an expiring offline token.
  Result<TokenGrant> exchange_session_token(std::string_view shop,
                                            std::string_view session_token) const;

  const PlatformEndpoints& endpoints() const { return endpoints_; }

 private:
  Result<TokenGrant> post(std::string_view shop, std::string body, const char* what) const;

  HttpClient& http_;
  PlatformEndpoints endpoints_;
  OAuthCredentials credentials_;
};

// The claims of an admin session token that the app uses.
struct SessionToken {
  std::string shop;        // from `dest`, sanitized
  std::string user_id;     // `sub` ("" when absent)
  std::string session_id;  // `sid` ("" when absent)
};

// Verifies an App Bridge session (ID) token (§1.7): HS256 under `client_secret` (or, during a
// rotation, `previous_secret`), exp/nbf with 10 s leeway on `clock`, aud == `client_id`, and
// hostname(iss) == hostname(dest) == a valid shop. kUnauthenticated otherwise; the message
// names the check, never the token.
Result<SessionToken> verify_session_token(std::string_view token, std::string_view client_id,
                                          std::string_view client_secret,
                                          std::string_view previous_secret, const Clock& clock);

}  // namespace afterglow
