// checkout/checkout_auth: the post-purchase input token (spec/shopify.md §3.2) and the thank-you
// session token (§4). Each check is broken alone, on an otherwise valid token, and must fail with
// kUnauthenticated naming the check and never echoing the token.
#include "checkout/checkout_auth.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "plugin/core/crypto.h"
#include "plugin/core/jwt.h"

using namespace afterglow;
using namespace afterglow::checkout;
using nlohmann::json;

namespace {

constexpr int64_t kNowS = 1'745'000'000;
constexpr const char* kApiKey = "test-api-key";
constexpr const char* kSecret = "shpss_current_secret";
constexpr const char* kPrevious = "shpss_previous_secret";
constexpr const char* kReference = "ref-7f3a";
constexpr const char* kShop = "glow-goods.myshopify.com";

struct Env {
  ManualClock clock{kNowS * 1000};
  CheckoutAuth auth{kApiKey, {kSecret, kPrevious}, clock};
};

json input_data(const std::string& reference = kReference, const std::string& shop = kShop) {
  return json{{"extensionPoint", "Checkout::PostPurchase::Render"},
              {"initialPurchase",
               {{"referenceId", reference},
                {"customerId", 115310627314723954},
                {"lineItems", json::array()}}},
              {"shop", {{"id", 954889}, {"domain", shop}}},
              {"version", "unstable"}};
}

// As Shopify signs it: iss, sub, iat, input_data; no exp, aud, jti or dest.
json post_purchase_claims() {
  return json{{"iss", "shopify"}, {"sub", kReference}, {"iat", kNowS}, {"input_data", input_data()}};
}

// As the checkout's sessionToken.get() gives it: dest is the bare host.
json session_claims() {
  return json{{"dest", kShop},      {"aud", kApiKey},      {"exp", kNowS + 300},
              {"nbf", kNowS - 1},   {"iat", kNowS - 1},    {"jti", "a1b2c3"},
              {"sub", "gid://shopify/Customer/42"}};
}

std::string b64url(std::string_view s) { return crypto::base64url_encode(s); }

std::string alg_none(const json& claims) {
  return b64url(R"({"alg":"none","typ":"JWT"})") + "." + b64url(claims.dump()) + ".";
}

std::string hs512(const json& claims, const std::string& secret) {
  std::string input = b64url(R"({"alg":"HS512","typ":"JWT"})") + "." + b64url(claims.dump());
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha512(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &len);
  return input + "." + b64url(std::string(reinterpret_cast<char*>(mac), len));
}

template <class T>
void refused(const Result<T>& r, const std::string& token, const std::string& needle) {
  REQUIRE_FALSE(r);
  INFO(r.error().message);
  CHECK(r.error().code == ErrorCode::kUnauthenticated);
  CHECK_THAT(r.error().message, Catch::Contains(needle));
  if (!token.empty()) CHECK(r.error().message.find(token) == std::string::npos);
  CHECK(r.error().message.find(kSecret) == std::string::npos);
}

}  // namespace

TEST_CASE("a post-purchase token signed as Shopify signs it names the shop and the purchase",
          "[checkout_auth]") {
  Env env;
  std::string token = jwt::sign(post_purchase_claims(), kSecret);
  auto caller = env.auth.verify_post_purchase(token, kReference);
  REQUIRE(caller);
  CHECK(caller->shop_domain == kShop);
  CHECK(caller->reference_id == kReference);
  REQUIRE(caller->input_data);
  CHECK((*caller->input_data)["initialPurchase"]["customerId"] == 115310627314723954);

  // Shopify's token never expires: an hour later it still verifies (replay is bounded by the
  // offer tokens' expiry and single use, not here).
  env.clock.advance(std::chrono::hours(1));
  CHECK(env.auth.verify_post_purchase(token, kReference));
}

TEST_CASE("a post-purchase token under the previous secret verifies during a rotation",
          "[checkout_auth]") {
  Env env;
  CHECK(env.auth.verify_post_purchase(jwt::sign(post_purchase_claims(), kPrevious), kReference));
  CheckoutAuth current_only{kApiKey, {kSecret, ""}, env.clock};
  refused(current_only.verify_post_purchase(jwt::sign(post_purchase_claims(), kPrevious),
                                            kReference),
          "", "signature does not match");
}

TEST_CASE("a post-purchase token failing any one check is refused", "[checkout_auth]") {
  Env env;
  json claims = post_purchase_claims();
  std::string token;
  std::string reference = kReference;
  std::string needle;

  SECTION("alg none") {
    token = alg_none(claims);
    needle = "empty segment";  // no signature at all
  }
  SECTION("alg none with something in the signature segment") {
    token = alg_none(claims) + b64url("anything");
    needle = "HS256";
  }
  SECTION("HS512 with the right secret") {
    token = hs512(claims, kSecret);
    needle = "HS256";
  }
  SECTION("signed with another secret") {
    token = jwt::sign(claims, "shpss_attacker_guess");
    needle = "signature does not match";
  }
  SECTION("a claim changed after signing") {
    std::string good = jwt::sign(claims, kSecret);
    json changed = claims;
    changed["input_data"]["shop"]["domain"] = "other-shop.myshopify.com";
    std::string signature = good.substr(good.rfind('.'));
    token = good.substr(0, good.find('.')) + "." + b64url(changed.dump()) + signature;
    needle = "signature does not match";
  }
  SECTION("iss is not shopify") {
    claims["iss"] = kApiKey;
    token = jwt::sign(claims, kSecret);
    needle = "iss";
  }
  SECTION("iss is missing") {
    claims.erase("iss");
    token = jwt::sign(claims, kSecret);
    needle = "iss";
  }
  SECTION("sub is another referenceId") {
    claims["sub"] = "ref-other";
    token = jwt::sign(claims, kSecret);
    needle = "sub";
  }
  SECTION("the request names another referenceId than the token") {
    token = jwt::sign(claims, kSecret);
    reference = "ref-other";
    needle = "sub";
  }
  SECTION("input_data names another purchase") {
    claims["input_data"]["initialPurchase"]["referenceId"] = "ref-other";
    token = jwt::sign(claims, kSecret);
    needle = "initialPurchase.referenceId";
  }
  SECTION("input_data is missing") {
    claims.erase("input_data");
    token = jwt::sign(claims, kSecret);
    needle = "input_data";
  }
  SECTION("the shop domain is missing") {
    claims["input_data"]["shop"].erase("domain");
    token = jwt::sign(claims, kSecret);
    needle = "shop.domain";
  }
  SECTION("the shop domain is not a myshopify.com host") {
    claims["input_data"]["shop"]["domain"] = "glow-goods.example.com";
    token = jwt::sign(claims, kSecret);
    needle = "shop.domain";
  }
  SECTION("an exp that has passed is still honoured") {
    claims["exp"] = kNowS - 60;
    token = jwt::sign(claims, kSecret);
    needle = "expired";
  }
  SECTION("no token at all") {
    token = "";
    needle = "required";
  }
  refused(env.auth.verify_post_purchase(token, reference), token, needle);
}

TEST_CASE("a post-purchase domain in upper case is read as the lower-case shop", "[checkout_auth]") {
  Env env;
  json claims = post_purchase_claims();
  claims["input_data"]["shop"]["domain"] = "Glow-Goods.myshopify.com";
  auto caller = env.auth.verify_post_purchase(jwt::sign(claims, kSecret), kReference);
  REQUIRE(caller);
  CHECK(caller->shop_domain == kShop);
}

TEST_CASE("a thank-you session token names the shop from dest and the logged-in customer",
          "[checkout_auth]") {
  Env env;
  auto caller = env.auth.verify_thank_you("Bearer " + jwt::sign(session_claims(), kSecret));
  REQUIRE(caller);
  CHECK(caller->shop_domain == kShop);
  CHECK(caller->customer_id == 42);

  json guest = session_claims();
  guest.erase("sub");
  caller = env.auth.verify_thank_you("Bearer " + jwt::sign(guest, kPrevious));
  REQUIRE(caller);
  CHECK(caller->shop_domain == kShop);
  CHECK_FALSE(caller->customer_id);
}

TEST_CASE("a thank-you session token failing any one check is refused", "[checkout_auth]") {
  Env env;
  json claims = session_claims();
  std::string header;
  std::string needle;
  auto bearer = [](const std::string& t) { return "Bearer " + t; };

  SECTION("no Authorization header") {
    header = "";
    needle = "Authorization";
  }
  SECTION("not a bearer token") {
    header = "Basic " + jwt::sign(claims, kSecret);
    needle = "Authorization";
  }
  SECTION("alg none") {
    header = bearer(alg_none(claims));
    needle = "empty segment";
  }
  SECTION("HS512 with the right secret") {
    header = bearer(hs512(claims, kSecret));
    needle = "HS256";
  }
  SECTION("signed with another secret") {
    header = bearer(jwt::sign(claims, "shpss_attacker_guess"));
    needle = "signature does not match";
  }
  SECTION("aud is another app") {
    claims["aud"] = "another-app";
    header = bearer(jwt::sign(claims, kSecret));
    needle = "aud";
  }
  SECTION("aud is missing") {
    claims.erase("aud");
    header = bearer(jwt::sign(claims, kSecret));
    needle = "aud";
  }
  SECTION("exp is missing") {
    claims.erase("exp");
    header = bearer(jwt::sign(claims, kSecret));
    needle = "exp";
  }
  SECTION("exp has passed (beyond the 10 s leeway)") {
    claims["exp"] = kNowS - 11;
    header = bearer(jwt::sign(claims, kSecret));
    needle = "expired";
  }
  SECTION("expired under the previous secret: the reason is the expiry") {
    claims["exp"] = kNowS - 11;
    header = bearer(jwt::sign(claims, kPrevious));
    needle = "expired";
  }
  SECTION("nbf is missing") {
    claims.erase("nbf");
    header = bearer(jwt::sign(claims, kSecret));
    needle = "nbf";
  }
  SECTION("nbf is in the future") {
    claims["nbf"] = kNowS + 60;
    header = bearer(jwt::sign(claims, kSecret));
    needle = "nbf";
  }
  SECTION("dest is missing") {
    claims.erase("dest");
    header = bearer(jwt::sign(claims, kSecret));
    needle = "dest";
  }
  SECTION("dest is a URL, as in an admin session token") {
    claims["dest"] = std::string("https://") + kShop;
    header = bearer(jwt::sign(claims, kSecret));
    needle = "dest";
  }
  SECTION("dest is not a myshopify.com host") {
    claims["dest"] = "glow-goods.example.com";
    header = bearer(jwt::sign(claims, kSecret));
    needle = "dest";
  }
  SECTION("a post-purchase token is not a session token") {
    header = bearer(jwt::sign(post_purchase_claims(), kSecret));
    needle = "exp";  // the first check it fails: it never expires
  }
  std::string token = header.size() > 7 ? header.substr(header.find(' ') + 1) : "";
  refused(env.auth.verify_thank_you(header), token, needle);
}

TEST_CASE("a session token is not accepted as a post-purchase token", "[checkout_auth]") {
  Env env;
  json claims = session_claims();
  claims["sub"] = kReference;
  refused(env.auth.verify_post_purchase(jwt::sign(claims, kSecret), kReference), "", "iss");
}

TEST_CASE("without an app secret every token is refused", "[checkout_auth]") {
  ManualClock clock{kNowS * 1000};
  CheckoutAuth auth{kApiKey, {"", ""}, clock};
  refused(auth.verify_post_purchase(jwt::sign(post_purchase_claims(), ""), kReference), "",
          "no app secret");
  refused(auth.verify_thank_you("Bearer " + jwt::sign(session_claims(), "")), "",
          "no app secret");
}

TEST_CASE("shop hosts are myshopify.com names in lower case", "[checkout_auth]") {
  CHECK(is_myshopify_domain("glow-goods.myshopify.com"));
  CHECK(is_myshopify_domain("a1.myshopify.com"));
  CHECK_FALSE(is_myshopify_domain(".myshopify.com"));
  CHECK_FALSE(is_myshopify_domain("-x.myshopify.com"));
  CHECK_FALSE(is_myshopify_domain("Glow.myshopify.com"));
  CHECK_FALSE(is_myshopify_domain("glow.myshopify.com.evil.com"));
  CHECK_FALSE(is_myshopify_domain("a.b.myshopify.com"));
  CHECK_FALSE(is_myshopify_domain("https://glow.myshopify.com"));
}
