#include "tests/support/admin_session.h"

#include "plugin/core/crypto.h"
#include "plugin/core/jwt.h"
#include "tests/support/webhook_signing.h"

namespace afterglow::testing {

nlohmann::json admin_session_claims(const std::string& shop, int64_t now_s,
                                    const std::string& api_key) {
  return nlohmann::json{{"iss", "https://" + shop + "/admin"},
                        {"dest", "https://" + shop},
                        {"aud", api_key},
                        {"sub", "42"},
                        {"exp", now_s + 60},
                        {"nbf", now_s},
                        {"iat", now_s},
                        {"jti", crypto::random_hex(16)},
                        {"sid", crypto::random_hex(16)}};
}

std::string sign_admin_session(const nlohmann::json& claims, const std::string& secret) {
  return jwt::sign(claims, secret);
}

std::string admin_session_token(const std::string& shop, const std::string& secret) {
  return sign_admin_session(admin_session_claims(shop, unix_now()), secret);
}

Headers bearer(const std::string& token) {
  return {{"Authorization", "Bearer " + token}, {"Content-Type", "application/json"}};
}

}  // namespace afterglow::testing
