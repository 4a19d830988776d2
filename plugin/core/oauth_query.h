// What the platform sends to the app in a browser redirect, and how we know it is genuine
// (spec/shopify.md §1.1–§1.4, §7.1):
//   - the signed query string of the install / app-load request and of the OAuth callback
//     (`hmac` = hex HMAC-SHA256 under the client secret), and its `timestamp`;
//   - the `shop` and `host` values in it;
//   - the state cookie of the authorization-code grant: a random nonce we send to the authorize
//     page as `state` and keep in a cookie signed with the client secret, so the callback can
//     prove it answers a redirect this browser started (CSRF).
// Pure functions; thread-safe. Nothing here logs, and no error message echoes a parameter value.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "plugin/core/clock.h"
#include "plugin/core/error.h"

namespace afterglow::oauth {

// Query parameters, decoded, in the order they arrived (a key may repeat).
using QueryParams = std::vector<std::pair<std::string, std::string>>;

// Decodes a raw query string ("a=1&b=x%20y", no leading '?'): '+' is a space, %XX escapes are
// decoded, a pair without '=' has an empty value, empty pairs are skipped. Fails with
// kInvalidArgument on a malformed escape.
Result<QueryParams> parse_query(std::string_view raw);

// The first value of `key`, or nullopt.
std::optional<std::string> find_param(const QueryParams& params, std::string_view key);

// The text the platform signs: every pair except `hmac` and `signature`, repeated keys joined
// into one value with ',', sorted by key (byte order), each key and value form-encoded the way
// the platform's own library does (URLSearchParams: ASCII letters, digits and "*-._" kept, every
// other byte %XX) with spaces as %20 (never '+'), joined as key=value with '&'.
std::string signed_message(const QueryParams& params);

// Lower-case hex HMAC-SHA256 of signed_message(params) under `secret`.
std::string query_hmac(const QueryParams& params, std::string_view secret);

// Checks the `hmac` parameter against `secret` and, when not empty, `previous_secret` (during a
// rotation), in constant time. kUnauthenticated when it is missing or matches neither. Does not
// look at the timestamp: see check_timestamp.
Result<void> verify_query_hmac(const QueryParams& params, std::string_view secret,
                               std::string_view previous_secret = {});

// How far the `timestamp` of a signed query may be from our clock, either way. The platform
// documents no bound; its own library uses 90 s, and so do we (a replay bound).
inline constexpr std::chrono::seconds kTimestampTolerance{90};

// Checks the `timestamp` parameter (Unix seconds) against `clock`: kInvalidArgument when it is
// missing or not an integer, kUnauthenticated when it is more than `tolerance` away from now.
// Separate from verify_query_hmac so the published vectors (signed in 2012) stay testable.
Result<void> check_timestamp(const QueryParams& params, const Clock& clock,
                             std::chrono::seconds tolerance = kTimestampTolerance);

// The shop's canonical domain, lower-cased, when `shop` is "{name}.myshopify.com" with a name of
// ASCII letters, digits and hyphens that starts with a letter or digit (at most 255 characters
// in all); nullopt otherwise. The platform's docs rule (§1.3); wider forms such as
// admin.shopify.com/store/{name} are refused, because the install and callback requests always
// carry the myshopify domain.
std::optional<std::string> sanitize_shop(std::string_view shop);

// The `host` parameter decoded: base64 of "admin.shopify.com/store/{name}" or of
// "{name}.myshopify.com/admin". Returns the decoded text when `host` is strict base64 and the
// host name in it is admin.shopify.com or a myshopify.com domain; nullopt otherwise.
std::optional<std::string> decode_host(std::string_view host);

// The state cookie. Path-scoped to the callback, HttpOnly, Secure, SameSite=Lax (the callback
// is a top-level GET navigation from the platform, which Lax allows).
inline constexpr std::string_view kStateCookieName = "afterglow_oauth_state";
inline constexpr std::string_view kCallbackPath = "/auth/callback";
// Long enough for a merchant to read the consent screen; the platform's library uses 60 s.
inline constexpr std::chrono::seconds kStateLifetime{300};

// 32 random bytes as 64 hex characters.
std::string new_state_nonce();

// The cookie value "<nonce>.<expires_at_s>.<hex HMAC>", the HMAC (under `secret`) binding the
// nonce to `shop` and to the expiry.
std::string sign_state_cookie(std::string_view secret, std::string_view shop,
                              std::string_view nonce, int64_t expires_at_s);

// The nonce in `value` when it is a cookie signed by sign_state_cookie for `shop` (under
// `secret`) that has not expired by `clock`; kForbidden otherwise.
Result<std::string> open_state_cookie(std::string_view secret, std::string_view shop,
                                      std::string_view value, const Clock& clock);

// Set-Cookie header values: the state cookie for `lifetime`, and its deletion.
std::string state_set_cookie(std::string_view value, std::chrono::seconds lifetime);
std::string state_clear_cookie();

// The value of cookie `name` in a Cookie request header ("a=1; b=2"), or nullopt.
std::optional<std::string> cookie_value(std::string_view cookie_header, std::string_view name);

// Form-encodes one component as the signed message does (exposed for tests and URL building).
std::string form_encode(std::string_view s);

}  // namespace afterglow::oauth
