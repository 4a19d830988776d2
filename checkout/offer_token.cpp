#include "checkout/offer_token.h"

#include <nlohmann/json.hpp>

#include "plugin/core/crypto.h"
#include "plugin/core/jwt.h"

namespace afterglow::checkout {
namespace {

using nlohmann::json;

constexpr std::string_view kKeyLabel = "afterglow offer token v1";

std::string derived_key(std::string_view app_secret) {
  return crypto::hmac_sha256(app_secret, kKeyLabel);
}

template <class T>
std::optional<T> member(const json& claims, const char* name) {
  auto it = claims.find(name);
  if (it == claims.end() || it->is_null()) return std::nullopt;
  if constexpr (std::is_same_v<T, int64_t>) {
    if (!it->is_number_integer()) return std::nullopt;
  } else {
    if (!it->is_string()) return std::nullopt;
  }
  return it->get<T>();
}

Result<OfferTokenClaims> from_claims(const json& c) {
  auto bad = [](const char* what) {
    return fail(ErrorCode::kUnauthenticated, std::string("offer token: ") + what);
  };
  if (member<std::string>(c, "typ") != "offer") return bad("not an offer token");
  OfferTokenClaims o;
  auto shop_id = member<int64_t>(c, "sid");
  auto offer_id = member<int64_t>(c, "oid");
  auto variant = member<int64_t>(c, "var");
  auto amount = member<int64_t>(c, "amt");
  auto exp = member<int64_t>(c, "exp_ms");
  auto jti = member<std::string>(c, "jti");
  if (!shop_id || !offer_id || !variant || !amount || !exp || !jti) {
    return bad("a required claim is missing");
  }
  o.shop_id = *shop_id;
  o.shop_domain = member<std::string>(c, "shop").value_or("");
  o.surface = member<std::string>(c, "srf").value_or("");
  o.order_key = member<std::string>(c, "ord").value_or("");
  o.order_id = member<int64_t>(c, "oidn");
  o.customer_id = member<int64_t>(c, "cus");
  o.offer_id = *offer_id;
  o.arm = member<std::string>(c, "arm").value_or("");
  o.product_id = member<int64_t>(c, "prd").value_or(0);
  o.variant_id = *variant;
  o.quantity = member<int64_t>(c, "qty").value_or(1);
  o.amount_minor = *amount;
  o.discount_minor = member<int64_t>(c, "dsc").value_or(0);
  o.currency = member<std::string>(c, "cur").value_or("");
  o.token_id = *jti;
  o.issued_at_ms = member<int64_t>(c, "iat_ms").value_or(0);
  o.expires_at_ms = *exp;
  if (o.shop_domain.empty() || o.order_key.empty() || o.currency.empty() || o.quantity < 1 ||
      o.amount_minor < 0) {
    return bad("a claim is malformed");
  }
  return o;
}

}  // namespace

std::string mint_offer_token(OfferTokenClaims o, std::string_view app_secret) {
  if (o.token_id.empty()) o.token_id = crypto::random_hex(16);
  json c = {{"typ", "offer"},         {"sid", o.shop_id},         {"shop", o.shop_domain},
            {"srf", o.surface},       {"ord", o.order_key},       {"oid", o.offer_id},
            {"arm", o.arm},           {"prd", o.product_id},      {"var", o.variant_id},
            {"qty", o.quantity},      {"amt", o.amount_minor},    {"dsc", o.discount_minor},
            {"cur", o.currency},      {"jti", o.token_id},        {"iat_ms", o.issued_at_ms},
            {"exp_ms", o.expires_at_ms}};
  if (o.order_id) c["oidn"] = *o.order_id;
  if (o.customer_id) c["cus"] = *o.customer_id;
  return jwt::sign(c, derived_key(app_secret));
}

Result<OfferTokenClaims> verify_offer_token(std::string_view token,
                                            const std::vector<std::string>& app_secrets,
                                            const Clock& clock, bool allow_expired) {
  std::optional<Error> first_error;
  for (const std::string& secret : app_secrets) {
    if (secret.empty()) continue;
    // Expiry is ours (exp_ms, no leeway): the offer window is a promise to the merchant.
    auto claims = jwt::verify(token, derived_key(secret), jwt::VerifyOptions{}, clock);
    if (!claims) {
      if (!first_error) first_error = claims.error();
      continue;
    }
    OfferTokenClaims o = AG_TRY(from_claims(*claims));
    if (!allow_expired && clock.now_ms() >= o.expires_at_ms) {
      return fail(ErrorCode::kForbidden, "offer token: the offer has expired");
    }
    return o;
  }
  if (first_error) return std::unexpected(*first_error);
  return fail(ErrorCode::kUnauthenticated, "offer token: no app secret is configured");
}

}  // namespace afterglow::checkout
