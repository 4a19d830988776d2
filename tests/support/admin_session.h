// Session tokens for /api/admin, minted the way the platform's App Bridge mints them
// (spec/shopify.md §1.7), for integration tests. Claims come back as JSON so a test can break
// exactly one of them before signing.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "tests/support/https_client.h"

namespace afterglow::testing {

// The Sandbox's APP_API_KEY.
inline constexpr const char* kTestApiKey = "test-api-key";

// iss https://{shop}/admin, dest https://{shop}, aud `api_key`, sub "42", iat and nbf `now_s`,
// exp now_s + 60, jti and sid random.
nlohmann::json admin_session_claims(const std::string& shop, int64_t now_s,
                                    const std::string& api_key = kTestApiKey);
// HS256 over `claims` with `secret`.
std::string sign_admin_session(const nlohmann::json& claims, const std::string& secret);
// A valid token for `shop`, signed with `secret`, issued now.
std::string admin_session_token(const std::string& shop, const std::string& secret);
// {"Authorization": "Bearer <token>"}, plus Content-Type: application/json.
Headers bearer(const std::string& token);

}  // namespace afterglow::testing
