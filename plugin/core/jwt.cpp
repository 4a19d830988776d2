#include "plugin/core/jwt.h"

#include <nlohmann/json.hpp>

#include <stdexcept>

#include "plugin/core/crypto.h"

namespace afterglow::jwt {
namespace {

using nlohmann::json;

// A real header is a few dozen bytes. The header is parsed before the signature is checked, so
// this bounds what an anonymous caller can make us parse.
constexpr size_t kMaxHeaderSegment = 1024;
constexpr size_t kSignatureBytes = 32;  // HMAC-SHA256

std::unexpected<Error> refuse(std::string what) {
  return fail(ErrorCode::kUnauthenticated, "jwt: " + std::move(what));
}

std::string signing_input(std::string_view header_json, std::string_view claims_json) {
  std::string out = crypto::base64url_encode(header_json);
  out += '.';
  out += crypto::base64url_encode(claims_json);
  return out;
}

std::string finish(std::string input, std::string_view secret) {
  std::string sig = crypto::base64url_encode(crypto::hmac_sha256(secret, input));
  input += '.';
  input += sig;
  return input;
}

// Reads a NumericDate claim in milliseconds. nullopt when absent; an error when present but not a
// number (a string "exp" must not silently disable the check).
Result<std::optional<double>> numeric_date_ms(const json& claims, const char* name) {
  auto it = claims.find(name);
  if (it == claims.end()) return std::optional<double>();
  if (!it->is_number()) return refuse(std::string(name) + " claim is not a number");
  return std::optional<double>(it->get<double>() * 1000.0);
}

// RFC 7519 §5.1: "typ" is a media type name, compared without regard to ASCII case.
bool is_jwt_type(const std::string& typ) {
  return typ.size() == 3 && (typ[0] | 0x20) == 'j' && (typ[1] | 0x20) == 'w' &&
         (typ[2] | 0x20) == 't';
}

bool audience_contains(const json& aud, const std::string& expected) {
  if (aud.is_string()) return aud.get_ref<const std::string&>() == expected;
  if (!aud.is_array()) return false;
  for (const json& a : aud) {
    if (a.is_string() && a.get_ref<const std::string&>() == expected) return true;
  }
  return false;
}

}  // namespace

Result<json> verify(std::string_view token, std::string_view secret,
                    const VerifyOptions& options, const Clock& clock) {
  // An empty key is a configuration mistake, and anyone can mint tokens under it.
  if (secret.empty()) return refuse("no secret configured");
  size_t dot1 = token.find('.');
  size_t dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos) {
    return refuse("malformed token (expected three dot-separated segments)");
  }
  std::string_view header_b64 = token.substr(0, dot1);
  std::string_view payload_b64 = token.substr(dot1 + 1, dot2 - dot1 - 1);
  std::string_view signature_b64 = token.substr(dot2 + 1);
  if (header_b64.empty() || payload_b64.empty() || signature_b64.empty()) {
    return refuse("malformed token (empty segment)");
  }

  // The header decides nothing: it must name exactly the algorithm we pinned.
  if (header_b64.size() > kMaxHeaderSegment) return refuse("header too large");
  auto header_text = crypto::base64url_decode(header_b64);
  if (!header_text) return refuse("header is not base64url");
  json header = json::parse(*header_text, nullptr, /*allow_exceptions=*/false);
  if (!header.is_object()) return refuse("header is not a JSON object");
  auto alg = header.find("alg");
  if (alg == header.end()) return refuse("header has no alg");
  if (!alg->is_string() || alg->get_ref<const std::string&>() != "HS256") {
    return refuse("algorithm must be HS256");
  }
  if (auto typ = header.find("typ"); typ != header.end()) {
    if (!typ->is_string() || !is_jwt_type(typ->get_ref<const std::string&>())) {
      return refuse("typ must be JWT");
    }
  }
  // RFC 7515 §4.1.11: an extension we do not understand must be refused, not ignored.
  if (header.contains("crit")) return refuse("crit header is not supported");

  auto signature = crypto::base64url_decode(signature_b64);
  if (!signature) return refuse("signature is not base64url");
  std::string expected = crypto::hmac_sha256(secret, token.substr(0, dot2));
  if (signature->size() != kSignatureBytes || !crypto::constant_time_equal(*signature, expected)) {
    return refuse("signature does not match");
  }

  auto payload_text = crypto::base64url_decode(payload_b64);
  if (!payload_text) return refuse("payload is not base64url");
  json claims = json::parse(*payload_text, nullptr, /*allow_exceptions=*/false);
  if (!claims.is_object()) return refuse("claims are not a JSON object");

  const double now_ms = static_cast<double>(clock.now_ms());
  const double leeway_ms = static_cast<double>(options.leeway.count()) * 1000.0;
  auto exp_ms = AG_TRY(numeric_date_ms(claims, "exp"));
  if (!exp_ms && options.require_exp) return refuse("exp claim missing");
  if (exp_ms && now_ms >= *exp_ms + leeway_ms) return refuse("token expired (exp)");
  auto nbf_ms = AG_TRY(numeric_date_ms(claims, "nbf"));
  if (!nbf_ms && options.require_nbf) return refuse("nbf claim missing");
  if (nbf_ms && now_ms < *nbf_ms - leeway_ms) return refuse("token not yet valid (nbf)");

  if (options.audience) {
    auto aud = claims.find("aud");
    if (aud == claims.end()) return refuse("aud claim missing");
    if (!audience_contains(*aud, *options.audience)) return refuse("audience mismatch (aud)");
  }
  if (options.issuer) {
    auto iss = claims.find("iss");
    if (iss == claims.end()) return refuse("iss claim missing");
    if (!iss->is_string() || iss->get_ref<const std::string&>() != *options.issuer) {
      return refuse("issuer mismatch (iss)");
    }
  }
  return claims;
}

std::string sign(const json& claims, std::string_view secret) {
  if (!claims.is_object()) throw std::invalid_argument("jwt::sign: claims must be a JSON object");
  return finish(signing_input(kHeaderJson, claims.dump()), secret);
}

Result<std::string> sign_json_text(std::string_view claims_json, std::string_view secret) {
  if (!json::parse(claims_json, nullptr, /*allow_exceptions=*/false).is_object()) {
    return fail(ErrorCode::kInvalidArgument, "jwt: claims text is not a JSON object");
  }
  return finish(signing_input(kHeaderJson, claims_json), secret);
}

}  // namespace afterglow::jwt
