// plugin/core/platform_oauth: where a shop's endpoints live, the token endpoint (code, rotating
// refresh, token exchange) against the fake platform over HTTPS, and session-token checks
// (spec/shopify.md §1.4–§1.7, §7.4).
#include "plugin/core/platform_oauth.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "plugin/core/jwt.h"
#include "tests/unit/core/platform_env.h"

namespace afterglow {
namespace {

using namespace std::chrono_literals;
using platform_testing::kSecret;
using platform_testing::kShop;

constexpr const char* kVectorToken =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJodHRwczovL3Nob3AtbmFtZS5teXNob3BpZnkuY29tL2"
    "FkbWluIiwiZGVzdCI6Imh0dHBzOi8vc2hvcC1uYW1lLm15c2hvcGlmeS5jb20iLCJhdWQiOiJ0ZXN0X2tleSIsInN1"
    "YiI6IjEiLCJleHAiOjQxMDI0NDQ4MDAsIm5iZiI6MTcwMDAwMDAwMCwiaWF0IjoxNzAwMDAwMDAwLCJqdGkiOiI0Mz"
    "IxIiwic2lkIjoiYWJjMTIzIn0.7oS0ulXEnxnDOVjPgv6egkVh3zLIbuyi6RVNAHOZKbk";

// The platform's OAuth client against a fresh fake (no database needed).
struct OAuthEnv {
  OAuthEnv()
      : clock(platform_testing::kStartMs),
        fake(platform_testing::fake_options(clock)),
        http(make_curl_http_client(CurlOptions{fake.ca_file()})),
        oauth(*http, PlatformEndpoints(fake.base_url()),
              OAuthCredentials{"test-api-key", kSecret}) {}
  ManualClock clock;
  testing::FakePlatform fake;
  std::unique_ptr<HttpClient> http;
  OAuthClient oauth;
};

}  // namespace

TEST_CASE("endpoints: https://{shop} in production, {base}/{shop} with PLATFORM_API_BASE",
          "[platform_oauth]") {
  PlatformEndpoints prod;
  CHECK(prod.token_url("a.myshopify.com") == "https://a.myshopify.com/admin/oauth/access_token");
  CHECK(prod.graphql_url("a.myshopify.com", "2025-10") ==
        "https://a.myshopify.com/admin/api/2025-10/graphql.json");
  PlatformEndpoints test("https://127.0.0.1:9999/");
  CHECK(test.token_url("a.myshopify.com") ==
        "https://127.0.0.1:9999/a.myshopify.com/admin/oauth/access_token");
  CHECK(prod.authorize_url("a.myshopify.com", "key", "read_orders,write_orders",
                           "https://app.example.com/auth/callback", "n0nce") ==
        "https://a.myshopify.com/admin/oauth/authorize?client_id=key&scope=read_orders%2Cwrite_"
        "orders&redirect_uri=https%3A%2F%2Fapp.example.com%2Fauth%2Fcallback&state=n0nce");
}

TEST_CASE("the §7.4 session token verifies and names its shop, user and session",
          "[platform_oauth]") {
  ManualClock clock(1'700'000'100'000);
  auto s = verify_session_token(kVectorToken, "test_key", "hush", "", clock);
  REQUIRE(s);
  CHECK(s->shop == "shop-name.myshopify.com");
  CHECK(s->user_id == "1");
  CHECK(s->session_id == "abc123");
  // Signed with the previous secret during a rotation.
  CHECK(verify_session_token(kVectorToken, "test_key", "new-secret", "hush", clock));

  auto wrong_aud = verify_session_token(kVectorToken, "other_key", "hush", "", clock);
  REQUIRE_FALSE(wrong_aud);
  CHECK(wrong_aud.error().code == ErrorCode::kUnauthenticated);
  CHECK_FALSE(verify_session_token(kVectorToken, "test_key", "wrong", "", clock));
  ManualClock before_nbf(1'699'999'000'000);
  CHECK_FALSE(verify_session_token(kVectorToken, "test_key", "hush", "", before_nbf));
}

TEST_CASE("a session token whose iss and dest differ, or whose dest is no shop, is refused",
          "[platform_oauth]") {
  ManualClock clock(1'700'000'100'000);
  auto token = [](const std::string& iss, const std::string& dest) {
    return jwt::sign(
        {{"iss", iss}, {"dest", dest}, {"aud", "k"}, {"exp", 4102444800LL}, {"nbf", 1700000000}},
        "s");
  };
  CHECK(verify_session_token(token("https://a.myshopify.com/admin", "https://a.myshopify.com"), "k",
                             "s", "", clock));
  auto mixed = verify_session_token(
      token("https://a.myshopify.com/admin", "https://b.myshopify.com"), "k", "s", "", clock);
  REQUIRE_FALSE(mixed);
  CHECK(mixed.error().message.find("different shops") != std::string::npos);
  CHECK_FALSE(verify_session_token(token("https://evil.com/admin", "https://evil.com"), "k", "s",
                                   "", clock));
  auto no_exp = jwt::sign(
      {{"iss", "https://a.myshopify.com/admin"}, {"dest", "https://a.myshopify.com"}, {"aud", "k"}},
      "s");
  CHECK_FALSE(verify_session_token(no_exp, "k", "s", "", clock));
}

TEST_CASE("an authorization code gives expiring offline tokens once", "[platform_oauth]") {
  OAuthEnv env;
  std::string code = env.fake.issue_code(kShop);
  auto grant = env.oauth.exchange_code(kShop, code);
  REQUIRE(grant);
  CHECK(grant->access_token == env.fake.access_token(kShop));
  CHECK(grant->refresh_token == env.fake.refresh_token(kShop));
  CHECK(grant->expires_in_s == 3600);
  CHECK(grant->refresh_token_expires_in_s == 7776000);
  CHECK(grant->scope.find("write_order_edits") != std::string::npos);
  // What reached the platform: JSON with expiring=1.
  auto reqs = env.fake.requests();
  REQUIRE(reqs.size() == 1);
  auto body = nlohmann::json::parse(reqs[0].body);
  CHECK(body["expiring"] == "1");
  CHECK(body["code"] == code);
  CHECK(body["client_id"] == "test-api-key");

  auto again = env.oauth.exchange_code(kShop, code);
  REQUIRE_FALSE(again);
  CHECK(again.error().code == ErrorCode::kUnauthenticated);
  CHECK(again.error().message.find(code) == std::string::npos);
}

TEST_CASE("refresh tokens rotate: a used one works until its replacement is used, then never",
          "[platform_oauth]") {
  OAuthEnv env;
  auto first = env.oauth.exchange_code(kShop, env.fake.issue_code(kShop));
  REQUIRE(first);
  auto second = env.oauth.refresh(kShop, first->refresh_token);
  REQUIRE(second);
  CHECK(second->refresh_token != first->refresh_token);
  CHECK(second->access_token != first->access_token);
  // A lost response: the old refresh token still works while its replacement is unused
  // (shopify.dev changelog 2026-08-28), and the replacement it had produced is retired.
  auto recovered = env.oauth.refresh(kShop, first->refresh_token);
  REQUIRE(recovered);
  CHECK_FALSE(env.oauth.refresh(kShop, second->refresh_token));
  // Using the replacement retires its predecessor for good.
  auto third = env.oauth.refresh(kShop, recovered->refresh_token);
  REQUIRE(third);
  auto old = env.oauth.refresh(kShop, first->refresh_token);
  REQUIRE_FALSE(old);
  CHECK(old.error().code == ErrorCode::kUnauthenticated);
  CHECK(old.error().message.find("invalid_grant") != std::string::npos);
  CHECK(old.error().message.find(first->refresh_token) == std::string::npos);
  CHECK(env.fake.count("token:refresh_token") == 5);
}

TEST_CASE("token endpoint failures are typed: refusal 401-class, outage unavailable",
          "[platform_oauth]") {
  OAuthEnv env;
  env.fake.fail_token_endpoint(502);
  auto down = env.oauth.exchange_code(kShop, env.fake.issue_code(kShop));
  REQUIRE_FALSE(down);
  CHECK(down.error().code == ErrorCode::kUnavailable);

  OAuthClient wrong_secret(*env.http, PlatformEndpoints(env.fake.base_url()),
                           OAuthCredentials{"test-api-key", "not-the-secret"});
  auto refused = wrong_secret.exchange_code(kShop, env.fake.issue_code(kShop));
  REQUIRE_FALSE(refused);
  CHECK(refused.error().code == ErrorCode::kUnauthenticated);

  // Nothing listens on a closed port: a transport failure.
  OAuthClient nowhere(*env.http, PlatformEndpoints("https://127.0.0.1:1"),
                      OAuthCredentials{"test-api-key", kSecret});
  auto unreachable = nowhere.exchange_code(kShop, "c");
  REQUIRE_FALSE(unreachable);
  CHECK(unreachable.error().code == ErrorCode::kUnavailable);
}

TEST_CASE("token exchange trades a session token for offline tokens; a forged one is refused",
          "[platform_oauth]") {
  OAuthEnv env;
  auto grant = env.oauth.exchange_session_token(kShop, env.fake.session_token(kShop));
  REQUIRE(grant);
  CHECK(grant->expires_in_s == 3600);
  CHECK_FALSE(grant->refresh_token.empty());
  auto body = nlohmann::json::parse(env.fake.requests().back().body);
  CHECK(body["grant_type"] == "urn:ietf:params:oauth:grant-type:token-exchange");
  CHECK(body["subject_token_type"] == "urn:ietf:params:oauth:token-type:id_token");
  CHECK(body["requested_token_type"] == "urn:shopify:params:oauth:token-type:offline-access-token");
  CHECK(body["expiring"] == "1");

  std::string forged = jwt::sign(
      {{"dest", "https://" + std::string(kShop)}, {"aud", "test-api-key"}, {"exp", 4102444800LL}},
      "not-the-secret");
  auto refused = env.oauth.exchange_session_token(kShop, forged);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().code == ErrorCode::kUnauthenticated);
  // A token for another shop does not buy this shop's tokens.
  CHECK_FALSE(
      env.oauth.exchange_session_token(kShop, env.fake.session_token("other.myshopify.com")));
}

}  // namespace afterglow
