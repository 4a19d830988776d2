// plugin/core/jwt: the shopify.md §7.4 vector, the HS256 pin, strict segments, and the claim
// checks (exp, nbf with leeway from the injected clock; aud; iss).
#include "plugin/core/jwt.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <stdexcept>
#include <string>

#include "plugin/core/crypto.h"

namespace afterglow::jwt {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

constexpr std::string_view kVectorPayload =
    R"({"iss":"https://shop-name.myshopify.com/admin","dest":"https://shop-name.myshopify.com",)"
    R"("aud":"test_key","sub":"1","exp":4102444800,"nbf":1700000000,"iat":1700000000,)"
    R"("jti":"4321","sid":"abc123"})";
constexpr std::string_view kVectorToken =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
    "eyJpc3MiOiJodHRwczovL3Nob3AtbmFtZS5teXNob3BpZnkuY29tL2FkbWluIiwiZGVzdCI6Imh0dHBzOi8vc2hvcC1u"
    "YW1lLm15c2hvcGlmeS5jb20iLCJhdWQiOiJ0ZXN0X2tleSIsInN1YiI6IjEiLCJleHAiOjQxMDI0NDQ4MDAsIm5iZiI6"
    "MTcwMDAwMDAwMCwiaWF0IjoxNzAwMDAwMDAwLCJqdGkiOiI0MzIxIiwic2lkIjoiYWJjMTIzIn0."
    "7oS0ulXEnxnDOVjPgv6egkVh3zLIbuyi6RVNAHOZKbk";

constexpr int64_t kNowS = 1'700'000'100;  // after the vector's nbf, long before its exp

// A token with any header and payload text, signed with HMAC-SHA256 over the segments: lets a test
// show that a refusal comes from the header or claims, not from a bad signature.
std::string mint_raw(std::string_view header_json, std::string_view payload_json,
                     std::string_view secret) {
  std::string input =
      crypto::base64url_encode(header_json) + "." + crypto::base64url_encode(payload_json);
  return input + "." + crypto::base64url_encode(crypto::hmac_sha256(secret, input));
}

// The error message of a refused token; fails the test if the token was accepted.
std::string refusal(std::string_view token, std::string_view secret = "hush",
                    const VerifyOptions& options = {}, int64_t now_s = kNowS) {
  ManualClock clock(now_s * 1000);
  auto r = verify(token, secret, options, clock);
  REQUIRE_FALSE(r);
  CHECK(r.error().code == ErrorCode::kUnauthenticated);
  CHECK(r.error().message.rfind("jwt: ", 0) == 0);
  return r.error().message;
}

bool accepted(std::string_view token, const VerifyOptions& options = {}, int64_t now_ms = kNowS * 1000,
              std::string_view secret = "hush") {
  ManualClock clock(now_ms);
  return verify(token, secret, options, clock).has_value();
}

TEST_CASE("jwt: the shopify 7.4 session token verifies with secret hush and yields its claims",
          "[jwt]") {
  ManualClock clock(kNowS * 1000);
  VerifyOptions options;
  options.audience = "test_key";
  options.require_exp = true;
  options.require_nbf = true;
  auto claims = verify(kVectorToken, "hush", options, clock);
  REQUIRE(claims);
  CHECK((*claims)["iss"] == "https://shop-name.myshopify.com/admin");
  CHECK((*claims)["dest"] == "https://shop-name.myshopify.com");
  CHECK((*claims)["aud"] == "test_key");
  CHECK((*claims)["sub"] == "1");
  CHECK((*claims)["exp"] == 4102444800);
  CHECK((*claims)["nbf"] == 1700000000);
  CHECK((*claims)["iat"] == 1700000000);
  CHECK((*claims)["jti"] == "4321");
  CHECK((*claims)["sid"] == "abc123");
  CHECK(claims->size() == 9);
}

TEST_CASE("jwt: sign_json_text reproduces the shopify 7.4 token byte for byte", "[jwt]") {
  auto token = sign_json_text(kVectorPayload, "hush");
  REQUIRE(token);
  CHECK(*token == kVectorToken);
}

TEST_CASE("jwt: sign_json_text refuses text that is not a JSON object", "[jwt]") {
  for (const char* bad : {"", "[1,2]", "\"s\"", "{\"a\":", "42"}) {
    INFO(bad);
    auto r = sign_json_text(bad, "hush");
    REQUIRE_FALSE(r);
    CHECK(r.error().code == ErrorCode::kInvalidArgument);
  }
}

TEST_CASE("jwt: sign mints a token that verifies and returns the same claims", "[jwt]") {
  json claims = {{"iss", "test_key"},
                 {"sub", "ref-1"},
                 {"jti", "00000000-0000-4000-8000-000000000001"},
                 {"iat", kNowS},
                 {"exp", kNowS + 300},
                 {"changes", json::array({{{"type", "add_variant"}, {"variantId", 42}}})}};
  const std::string token = sign(claims, "s3cret");
  CHECK(token.rfind(crypto::base64url_encode(kHeaderJson) + ".", 0) == 0);
  ManualClock clock(kNowS * 1000);
  auto back = verify(token, "s3cret", {}, clock);
  REQUIRE(back);
  CHECK(*back == claims);
  CHECK_THROWS_AS(sign(json::array({1}), "s3cret"), std::invalid_argument);
}

TEST_CASE("jwt: alg none is refused, with or without a signature", "[jwt]") {
  const std::string unsigned_token = crypto::base64url_encode(R"({"alg":"none","typ":"JWT"})") +
                                     "." + crypto::base64url_encode(kVectorPayload) + ".";
  refusal(unsigned_token);
  CHECK_THAT(refusal(mint_raw(R"({"alg":"none","typ":"JWT"})", kVectorPayload, "hush")),
             Catch::Contains("HS256"));
}

TEST_CASE("jwt: any algorithm but HS256 is refused even when the HMAC is right", "[jwt]") {
  for (const char* header : {R"({"alg":"HS512","typ":"JWT"})", R"({"alg":"HS384"})",
                             R"({"alg":"RS256"})", R"({"alg":"hs256"})", R"({"alg":"HS256 "})",
                             R"({"alg":["HS256"]})", R"({"alg":null})"}) {
    INFO(header);
    CHECK_THAT(refusal(mint_raw(header, kVectorPayload, "hush")),
               Catch::Contains("algorithm must be HS256"));
  }
  // The same payload and secret under the pinned header is accepted: only alg made the difference.
  CHECK(accepted(mint_raw(R"({"alg":"HS256"})", kVectorPayload, "hush")));
}

TEST_CASE("jwt: the header must be a JSON object with alg, a JWT typ and no crit", "[jwt]") {
  CHECK_THAT(refusal(mint_raw(R"({"typ":"JWT"})", kVectorPayload, "hush")),
             Catch::Contains("no alg"));
  CHECK_THAT(refusal(mint_raw(R"(["HS256"])", kVectorPayload, "hush")),
             Catch::Contains("header is not a JSON object"));
  CHECK_THAT(refusal(mint_raw(R"({"alg":"HS256")", kVectorPayload, "hush")),
             Catch::Contains("header is not a JSON object"));
  CHECK_THAT(refusal(mint_raw(R"({"alg":"HS256","typ":"JWE"})", kVectorPayload, "hush")),
             Catch::Contains("typ"));
  CHECK_THAT(
      refusal(mint_raw(R"({"alg":"HS256","crit":["b64"],"b64":false})", kVectorPayload, "hush")),
      Catch::Contains("crit"));
  CHECK(accepted(mint_raw(R"({"alg":"HS256","kid":"k1"})", kVectorPayload, "hush")));
  CHECK(accepted(mint_raw(R"({"alg":"HS256","typ":"jwt"})", kVectorPayload, "hush")));
  CHECK_THAT(refusal(mint_raw(R"({"alg":"HS256","typ":"JWS"})", kVectorPayload, "hush")),
             Catch::Contains("typ"));
  CHECK_THAT(refusal(mint_raw(R"({"alg":"HS256","typ":7})", kVectorPayload, "hush")),
             Catch::Contains("typ"));
}

TEST_CASE("jwt: a wrong secret is refused as a signature mismatch", "[jwt]") {
  CHECK_THAT(refusal(kVectorToken, "hush2"), Catch::Contains("signature does not match"));
}

TEST_CASE("jwt: an empty secret refuses every token, even one signed with the empty key",
          "[jwt]") {
  const std::string empty_key_token = sign(json{{"sub", "1"}}, "");
  CHECK_THAT(refusal(empty_key_token, ""), Catch::Contains("no secret configured"));
  CHECK_THAT(refusal(kVectorToken, ""), Catch::Contains("no secret configured"));
}

TEST_CASE("jwt: a tampered payload is refused", "[jwt]") {
  std::string payload(kVectorPayload);
  payload.replace(payload.find("\"sub\":\"1\""), 9, "\"sub\":\"2\"");
  const std::string token(kVectorToken);
  const size_t dot1 = token.find('.'), dot2 = token.rfind('.');
  const std::string tampered = token.substr(0, dot1 + 1) + crypto::base64url_encode(payload) +
                               token.substr(dot2);
  CHECK_THAT(refusal(tampered), Catch::Contains("signature does not match"));
}

TEST_CASE("jwt: a signature altered only in its unused trailing bits is refused", "[jwt]") {
  // 32 bytes take 43 base64url characters; the last one carries 2 bits that encode nothing.
  // Accepting them would make a token malleable: 'k' and 'l' differ only there.
  std::string token(kVectorToken);
  REQUIRE(token.back() == 'k');
  token.back() = 'l';
  refusal(token);
  token.back() = 'm';
  refusal(token);
}

TEST_CASE("jwt: malformed segments are refused before any claim is read", "[jwt]") {
  for (const char* bad : {"", "abc", "a.b", "a.b.c.d", "..", "a..c", ".b.c", "a.b.",
                          "eyJhbGciOiJIUzI1NiJ9.e30.", "!!!.e30.abc"}) {
    INFO(bad);
    refusal(bad);
  }
  const std::string token(kVectorToken);
  // Padding and the standard alphabet are not base64url.
  CHECK_THAT(refusal(token + "="), Catch::Contains("signature is not base64url"));
  std::string std_alphabet = token;
  std_alphabet[std_alphabet.size() - 5] = '+';
  CHECK_THAT(refusal(std_alphabet), Catch::Contains("signature is not base64url"));
  CHECK_THAT(refusal("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9=" + token.substr(token.find('.'))),
             Catch::Contains("header is not base64url"));
  // Whitespace around the token is not trimmed for the caller.
  refusal(" " + token);
  refusal(token + "\n");
}

TEST_CASE("jwt: a correctly signed payload that is not a JSON object is refused", "[jwt]") {
  CHECK_THAT(refusal(mint_raw(kHeaderJson, "[1,2,3]", "hush")),
             Catch::Contains("claims are not a JSON object"));
  CHECK_THAT(refusal(mint_raw(kHeaderJson, "{\"a\":", "hush")),
             Catch::Contains("claims are not a JSON object"));
  // A payload segment that is not base64url, signed as-is.
  const std::string header = crypto::base64url_encode(kHeaderJson);
  const std::string input = header + ".e30=";
  const std::string token =
      input + "." + crypto::base64url_encode(crypto::hmac_sha256("hush", input));
  CHECK_THAT(refusal(token), Catch::Contains("payload is not base64url"));
}

TEST_CASE("jwt: exp is enforced with the leeway read from the injected clock", "[jwt]") {
  const int64_t exp = kNowS + 60;
  const std::string token = sign(json{{"sub", "1"}, {"exp", exp}}, "hush");
  CHECK(accepted(token, {}, exp * 1000 - 1));
  CHECK(accepted(token, {}, exp * 1000));          // within the default 10 s leeway
  CHECK(accepted(token, {}, exp * 1000 + 9'999));  // still within it
  CHECK_FALSE(accepted(token, {}, exp * 1000 + 10'000));
  CHECK_THAT(refusal(token, "hush", {}, exp + 3600), Catch::Contains("expired"));

  VerifyOptions strict;
  strict.leeway = 0s;
  CHECK(accepted(token, strict, exp * 1000 - 1));
  CHECK_FALSE(accepted(token, strict, exp * 1000));
}

TEST_CASE("jwt: nbf in the future beyond the leeway is refused", "[jwt]") {
  const std::string soon = sign(json{{"sub", "1"}, {"nbf", kNowS + 10}}, "hush");
  const std::string later = sign(json{{"sub", "1"}, {"nbf", kNowS + 11}}, "hush");
  CHECK(accepted(soon));
  CHECK_THAT(refusal(later), Catch::Contains("nbf"));
  // Once the clock reaches it, the same token is fine.
  CHECK(accepted(later, {}, (kNowS + 1) * 1000));
}

TEST_CASE("jwt: exp and nbf must be numbers, and can be required", "[jwt]") {
  CHECK_THAT(refusal(sign(json{{"exp", std::to_string(kNowS + 60)}}, "hush")),
             Catch::Contains("exp claim is not a number"));
  CHECK_THAT(refusal(sign(json{{"nbf", true}}, "hush")),
             Catch::Contains("nbf claim is not a number"));
  const std::string bare = sign(json{{"iss", "shopify"}, {"sub", "ref"}}, "hush");
  CHECK(accepted(bare));  // post-purchase input tokens carry no exp
  VerifyOptions need_exp;
  need_exp.require_exp = true;
  CHECK_THAT(refusal(bare, "hush", need_exp), Catch::Contains("exp claim missing"));
  VerifyOptions need_nbf;
  need_nbf.require_nbf = true;
  CHECK_THAT(refusal(bare, "hush", need_nbf), Catch::Contains("nbf claim missing"));
}

TEST_CASE("jwt: aud must contain the expected audience when one is asked for", "[jwt]") {
  VerifyOptions options;
  options.audience = "other_key";
  CHECK_THAT(refusal(kVectorToken, "hush", options), Catch::Contains("aud"));
  options.audience = "test_key";
  CHECK(accepted(kVectorToken, options));

  const std::string listed = sign(json{{"aud", json::array({"a", "test_key"})}}, "hush");
  CHECK(accepted(listed, options));
  const std::string numeric = sign(json{{"aud", 7}}, "hush");
  CHECK_THAT(refusal(numeric, "hush", options), Catch::Contains("audience mismatch"));
  const std::string none = sign(json{{"sub", "1"}}, "hush");
  CHECK_THAT(refusal(none, "hush", options), Catch::Contains("aud claim missing"));
  CHECK(accepted(none));  // without the option, aud is not looked at
}

TEST_CASE("jwt: iss must equal the expected issuer when one is asked for", "[jwt]") {
  VerifyOptions options;
  options.issuer = "shopify";
  CHECK(accepted(sign(json{{"iss", "shopify"}}, "hush"), options));
  CHECK_THAT(refusal(sign(json{{"iss", "shopify "}}, "hush"), "hush", options),
             Catch::Contains("issuer mismatch"));
  CHECK_THAT(refusal(sign(json{{"sub", "1"}}, "hush"), "hush", options),
             Catch::Contains("iss claim missing"));
}

}  // namespace
}  // namespace afterglow::jwt
