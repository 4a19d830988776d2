// plugin/core/shop_tokens and shop_install: tokens encrypted at rest in the shops row, installs
// and reinstalls, and the single-flight refresh of rotating refresh tokens (spec/shopify.md
// §1.4–§1.6), against the fake platform over HTTPS and the database under test.
#include "plugin/core/shop_tokens.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <latch>
#include <set>
#include <thread>

#include "plugin/core/catalog_sync.h"
#include "plugin/core/platform_scopes.h"
#include "tests/unit/core/platform_env.h"

namespace afterglow {
namespace {

using namespace std::chrono_literals;
using platform_testing::kKey;
using platform_testing::kShop;
using platform_testing::PlatformEnv;

}  // namespace

TEST_CASE("an install stores both tokens encrypted; the columns never hold the token text",
          "[shop_tokens][db]") {
  PlatformEnv env;
  Installed installed = env.install();
  CHECK(installed.shop.state == "installed");
  CHECK(installed.missing_scopes.empty());
  CHECK_FALSE(installed.reinstalled);

  const std::string access = env.fake.access_token(kShop);
  const std::string refresh = env.fake.refresh_token(kShop);
  auto row = env.row(
      "SELECT access_token_enc, refresh_token_enc, access_token_expires_at_ms, "
      "refresh_token_expires_at_ms, scopes, state FROM shops WHERE domain = ?",
      {std::string(kShop)});
  REQUIRE(row);
  CHECK(row->text(0).rfind("v1.", 0) == 0);
  CHECK(row->text(0).find(access) == std::string::npos);
  CHECK(row->text(1).find(refresh) == std::string::npos);
  CHECK(row->i64(2) == platform_testing::kStartMs + 3600 * 1000);
  CHECK(row->i64(3) == platform_testing::kStartMs + 7776000LL * 1000);
  CHECK(row->text(4) == std::string(kRequiredScopes));

  // The round trip through the table gives the tokens back.
  auto stored = env.tokens.load(kShop);
  REQUIRE(stored);
  REQUIRE(*stored);
  CHECK((*stored)->access_token == access);
  CHECK((*stored)->refresh_token == refresh);
  auto token = env.tokens.access_token(kShop);
  REQUIRE(token);
  CHECK(*token == access);
  // The first catalog sync is queued with the install.
  CHECK(env.i64("SELECT COUNT(*) FROM jobs WHERE kind = ?", {std::string(kCatalogSyncJobKind)}) ==
        1);
}

TEST_CASE("a wrong TOKEN_ENCRYPTION_KEY fails loudly instead of handing out garbage",
          "[shop_tokens][db]") {
  PlatformEnv env;
  env.install();
  auto other = TokenCipher::from_base64_key(crypto::base64_encode(std::string(32, '\x01')));
  REQUIRE(other);
  ShopTokens wrong(*env.db, *other, env.oauth, env.clock);
  auto token = wrong.access_token(kShop);
  REQUIRE_FALSE(token);
  CHECK(token.error().code == ErrorCode::kInternal);
  CHECK(token.error().message.find("TOKEN_ENCRYPTION_KEY") != std::string::npos);
}

TEST_CASE("a sealed token copied to another shop or column does not open", "[shop_tokens][db]") {
  PlatformEnv env;
  env.install();
  env.install("other-shop.myshopify.com");
  // Move shop one's access token into shop two's row, and its refresh token into the access
  // column: the associated data (shop and column) no longer matches.
  env.exec(
      "UPDATE shops SET access_token_enc = (SELECT access_token_enc FROM shops WHERE domain "
      "= ?) WHERE domain = ?",
      {std::string(kShop), std::string("other-shop.myshopify.com")});
  auto moved = env.tokens.access_token("other-shop.myshopify.com");
  REQUIRE_FALSE(moved);
  CHECK(moved.error().code == ErrorCode::kInternal);
  env.exec("UPDATE shops SET access_token_enc = refresh_token_enc WHERE domain = ?",
           {std::string(kShop)});
  CHECK_FALSE(env.tokens.access_token(kShop));
}

TEST_CASE("an unknown or uninstalled shop has no token", "[shop_tokens][db]") {
  PlatformEnv env;
  auto none = env.tokens.access_token("nobody.myshopify.com");
  REQUIRE_FALSE(none);
  CHECK(none.error().code == ErrorCode::kNotFound);
  Installed installed = env.install();
  REQUIRE(env.db->write([&](Tx& tx) -> Result<void> {
    AG_CHECK(mark_shop_uninstalled(tx, installed.shop.id, env.clock.now_ms()));
    return {};
  }));
  auto gone = env.tokens.access_token(kShop);
  REQUIRE_FALSE(gone);
  CHECK(gone.error().code == ErrorCode::kNotFound);
}

TEST_CASE("reinstall after app/uninstalled and after a shop/redact tombstone works",
          "[shop_tokens][db]") {
  PlatformEnv env;
  Installed first = env.install();
  REQUIRE(env.db->write([&](Tx& tx) -> Result<void> {
    AG_CHECK(mark_shop_uninstalled(tx, first.shop.id, env.clock.now_ms()));
    return {};
  }));
  env.clock.advance(1h);
  Installed again = env.install();
  CHECK(again.reinstalled);
  CHECK(again.shop.id == first.shop.id);
  auto row = env.row(
      "SELECT state, uninstalled_at_ms, installed_at_ms, hash_salt FROM shops "
      "WHERE domain = ?",
      {std::string(kShop)});
  REQUIRE(row);
  CHECK(row->text(0) == "installed");
  CHECK(row->is_null(1));
  CHECK(row->i64(2) == env.clock.now_ms());
  const std::string salt = row->text(3);
  auto token = env.tokens.access_token(kShop);
  REQUIRE(token);
  CHECK(*token == env.fake.access_token(kShop));

  REQUIRE(env.db->write([&](Tx& tx) -> Result<void> {
    AG_CHECK(mark_shop_redacted(tx, first.shop.id));
    return {};
  }));
  CHECK_FALSE(env.tokens.access_token(kShop));
  Installed after_redact = env.install();
  CHECK(after_redact.reinstalled);
  CHECK(env.row("SELECT state FROM shops WHERE domain = ?", {std::string(kShop)})->text(0) ==
        "installed");
  // The salt that keys suppression hashes survives, so old suppressions still match.
  CHECK(env.row("SELECT hash_salt FROM shops WHERE domain = ?", {std::string(kShop)})->text(0) ==
        salt);
  CHECK(env.tokens.access_token(kShop));
  // One catalog sync per install.
  CHECK(env.i64("SELECT COUNT(*) FROM jobs WHERE kind = ?", {std::string(kCatalogSyncJobKind)}) ==
        3);
}

TEST_CASE("a token about to expire is refreshed first; both new tokens are stored",
          "[shop_tokens][db]") {
  PlatformEnv env;
  env.install();
  const std::string old_access = env.fake.access_token(kShop);
  const std::string old_refresh = env.fake.refresh_token(kShop);
  env.clock.advance(3600s - 6min);  // more than the 5-minute margin left: no refresh yet
  CHECK(*env.tokens.access_token(kShop) == old_access);
  CHECK(env.fake.count("token:refresh_token") == 0);
  env.clock.advance(2min);  // 4 minutes left
  auto token = env.tokens.access_token(kShop);
  REQUIRE(token);
  CHECK(*token != old_access);
  CHECK(*token == env.fake.access_token(kShop));
  CHECK(env.fake.count("token:refresh_token") == 1);
  auto stored = *env.tokens.load(kShop);
  REQUIRE(stored);
  CHECK(stored->refresh_token == env.fake.refresh_token(kShop));
  CHECK(stored->refresh_token != old_refresh);
  CHECK(stored->access_expires_at_ms == env.clock.now_ms() + 3600 * 1000);
}

TEST_CASE("N threads asking at once for an expiring token cause exactly one refresh",
          "[shop_tokens][db]") {
  PlatformEnv env;
  env.install();
  env.clock.advance(3600s - 1min);
  env.fake.hold_refreshes();  // the first refresh stays in flight while the others arrive
  constexpr int kThreads = 8;
  std::latch start(kThreads);
  std::vector<std::string> got(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      start.arrive_and_wait();
      auto t = env.tokens.access_token(kShop);
      got[i] = t ? *t : "error: " + t.error().message;
    });
  }
  REQUIRE(env.fake.wait_for_refresh_requests(1, 10s));
  env.fake.release_refreshes();
  for (auto& t : threads) t.join();

  CHECK(env.fake.count("token:refresh_token") == 1);
  for (const std::string& g : got) CHECK(g == env.fake.access_token(kShop));
  auto stored = *env.tokens.load(kShop);
  REQUIRE(stored);
  CHECK(stored->access_token == env.fake.access_token(kShop));
  CHECK(stored->refresh_token == env.fake.refresh_token(kShop));
}

TEST_CASE("two processes sharing the database refresh once (row lock), not twice",
          "[shop_tokens][db]") {
  PlatformEnv env;
  env.install();
  env.clock.advance(3600s - 1min);
  // A second "process": its own connection pool, cipher, client and token store (own mutexes).
  auto db2 = env.database.open();
  auto http2 = make_curl_http_client(CurlOptions{env.fake.ca_file()});
  OAuthClient oauth2(*http2, PlatformEndpoints(env.fake.base_url()),
                     OAuthCredentials{"test-api-key", platform_testing::kSecret});
  auto cipher2 = TokenCipher::from_base64_key(kKey);
  REQUIRE(cipher2);
  ShopTokens tokens2(*db2, *cipher2, oauth2, env.clock);

  env.fake.hold_refreshes();
  std::latch start(6);
  std::vector<std::string> got(6);
  std::vector<std::thread> threads;
  for (int i = 0; i < 6; ++i) {
    threads.emplace_back([&, i] {
      ShopTokens& store = i % 2 == 0 ? env.tokens : tokens2;
      start.arrive_and_wait();
      auto t = store.access_token(kShop);
      got[i] = t ? *t : "error: " + t.error().message;
    });
  }
  REQUIRE(env.fake.wait_for_refresh_requests(1, 10s));
  env.fake.release_refreshes();
  for (auto& t : threads) t.join();
  CHECK(env.fake.count("token:refresh_token") == 1);
  for (const std::string& g : got) CHECK(g == env.fake.access_token(kShop));
}

TEST_CASE("after a 401 the token is refreshed once, unless someone already replaced it",
          "[shop_tokens][db]") {
  PlatformEnv env;
  env.install();
  const std::string rejected = *env.tokens.access_token(kShop);
  auto fresh = env.tokens.refresh_after_unauthorized(kShop, rejected);
  REQUIRE(fresh);
  CHECK(*fresh != rejected);
  // A second caller that saw the same 401 gets the replacement without another refresh.
  auto second = env.tokens.refresh_after_unauthorized(kShop, rejected);
  REQUIRE(second);
  CHECK(*second == *fresh);
  CHECK(env.fake.count("token:refresh_token") == 1);
}

TEST_CASE("an expired or refused refresh token means the merchant must open the app again",
          "[shop_tokens][db]") {
  PlatformEnv env;
  env.install();
  env.clock.advance(std::chrono::seconds(7776000));
  auto expired = env.tokens.access_token(kShop);
  REQUIRE_FALSE(expired);
  CHECK(expired.error().code == ErrorCode::kUnauthenticated);
  CHECK(expired.error().message.find("open the app") != std::string::npos);
  CHECK(env.fake.count("token:refresh_token") == 0);

  PlatformEnv env2;
  env2.install();
  // Rotate the refresh token behind our back twice, so ours is retired.
  OAuthClient& oauth = env2.oauth;
  auto r1 = oauth.refresh(kShop, env2.fake.refresh_token(kShop));
  REQUIRE(r1);
  REQUIRE(oauth.refresh(kShop, r1->refresh_token));
  env2.clock.advance(3600s);
  auto refused = env2.tokens.access_token(kShop);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().code == ErrorCode::kUnauthenticated);
  // Nothing was written: the stored (now useless) pair is untouched, not half-replaced.
  CHECK(env2.tokens.load(kShop)->has_value());

  PlatformEnv env3;
  env3.install();
  env3.clock.advance(3600s);
  env3.fake.fail_token_endpoint(503);
  auto down = env3.tokens.access_token(kShop);
  REQUIRE_FALSE(down);
  CHECK(down.error().code == ErrorCode::kUnavailable);
}

TEST_CASE("embedded load: a session token installs the shop through token exchange",
          "[shop_tokens][db]") {
  PlatformEnv env;
  auto installed = env.installer.install_with_session_token(kShop, env.fake.session_token(kShop));
  REQUIRE(installed);
  CHECK(env.fake.count("token:token_exchange") == 1);
  CHECK(*env.tokens.access_token(kShop) == env.fake.access_token(kShop));
  // The next load finds usable tokens and does not exchange again.
  REQUIRE(env.installer.install_with_session_token(kShop, env.fake.session_token(kShop)));
  CHECK(env.fake.count("token:token_exchange") == 1);
  // Once the refresh token has run out, a load exchanges anew.
  env.clock.advance(std::chrono::seconds(7776000));
  REQUIRE(env.installer.install_with_session_token(kShop, env.fake.session_token(kShop)));
  CHECK(env.fake.count("token:token_exchange") == 2);
}

TEST_CASE("scopes: write_X covers read_X; what is missing is named", "[shop_tokens]") {
  CHECK(missing_scopes(kRequiredScopes, kRequiredScopes).empty());
  CHECK(
      missing_scopes(
          "write_orders,write_order_edits,read_products,read_customers,read_fulfillments",
          kRequiredScopes)
          .empty());
  CHECK(missing_scopes("read_orders", "read_orders,read_products") ==
        std::vector<std::string>{"read_products"});
}

}  // namespace afterglow
