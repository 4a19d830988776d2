// JSON Web Tokens signed with HS256 (RFC 7519 / RFC 7515 compact form), the one JWT algorithm the
// app speaks: Shopify admin session tokens, Shopify post-purchase input tokens, and the tokens we
// mint ourselves (changesets, offers). See ../shared/spec/shopify.md §1.7, §3.2, §3.3, §7.4.
//
// The algorithm is pinned: a token whose header names anything but HS256 ("none", "HS512",
// "RS256", …) is refused before any signature work, so a token can never choose how it is
// checked. The signature is compared in constant time; every segment must be strict base64url
// (no padding, no '+' or '/', no stray bits); the header must be a JSON object with
// "alg":"HS256" (a "typ", if present, must be "JWT" in any case; a "crit" is refused); the claims must be a
// JSON object. Claims are parsed only after the signature has been checked.
//
// Claims travel as nlohmann::json (forward-declared here; include <nlohmann/json.hpp> to use the
// value). sign_json_text() signs claims given as JSON text byte for byte, for callers that need
// an exact token (the §7.4 vector) or already hold the text.
//
// Every failure is an Error with ErrorCode::kUnauthenticated and a message beginning "jwt: " that
// names the check that failed; the message never contains the token or the secret.
// All functions are thread-safe and keep no state.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "plugin/core/clock.h"
#include "plugin/core/error.h"

namespace afterglow::jwt {

// The header every token we sign carries, as compact JSON text.
inline constexpr std::string_view kHeaderJson = R"({"alg":"HS256","typ":"JWT"})";

struct VerifyOptions {
  // Clock skew tolerated on exp and nbf (Shopify's library uses 10 s).
  std::chrono::seconds leeway{10};
  // exp and nbf are always checked when present; these make their absence an error too.
  // (Shopify's post-purchase input token has no exp, so exp is not required by default.)
  bool require_exp = false;
  bool require_nbf = false;
  // When set, the "aud" claim (a string, or an array of strings) must contain this value.
  std::optional<std::string> audience;
  // When set, the "iss" claim must equal this value.
  std::optional<std::string> issuer;
};

// Checks `token` against `secret` (the raw key bytes, e.g. the app's client secret) and, on
// success, returns its claims (a JSON object). An empty secret refuses every token. Time checks read `clock`: the token is refused
// when now >= exp + leeway, or when now < nbf - leeway. exp and nbf must be numbers when present.
Result<nlohmann::json> verify(std::string_view token, std::string_view secret,
                              const VerifyOptions& options, const Clock& clock);

// Mints a token: header kHeaderJson, `claims` serialised compactly (nlohmann::json orders object
// keys alphabetically). `claims` must be a JSON object; anything else is a programming error and
// throws std::invalid_argument.
std::string sign(const nlohmann::json& claims, std::string_view secret);

// Mints a token whose payload segment is exactly `claims_json` (base64url of those bytes), so the
// caller controls key order and spacing. Fails with kInvalidArgument unless the text is a JSON
// object.
Result<std::string> sign_json_text(std::string_view claims_json, std::string_view secret);

}  // namespace afterglow::jwt
