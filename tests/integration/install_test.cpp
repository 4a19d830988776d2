// Installing the app, against the real binary over HTTPS with PLATFORM_API_BASE pointing at the
// fake platform (tests/support/fake_platform.h): the install redirect and its state cookie, the
// callback's checks (HMAC, timestamp, state), tokens stored encrypted, the first catalog sync,
// reinstall after app/uninstalled, the embedded token exchange, and no secret in the log.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "plugin/core/crypto.h"
#include "tests/support/fake_platform.h"
#include "tests/support/sandbox.h"
#include "tests/support/test_db.h"

using namespace afterglow::testing;
using afterglow::CatalogProduct;
using afterglow::CatalogVariant;
using nlohmann::json;

namespace {

constexpr const char* kShop = "glow.myshopify.com";
constexpr const char* kAppUrl = "https://app.example.test";
const std::string kSecret = "shpss_" + afterglow::crypto::random_hex(16);
const std::string kEncryptionKey =
    afterglow::crypto::base64_encode(afterglow::crypto::random_bytes(32));

// Encodes a query component the way the platform does (letters, digits and *-._ kept).
std::string enc(const std::string& s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '*' || c == '-' || c == '.' || c == '_') {
      out.push_back(static_cast<char>(c));
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

// A query string signed as the platform signs the app-load request: pairs sorted by key,
// `hmac` = hex HMAC-SHA256 over "k=v&k=v" under the client secret.
std::string signed_query(std::map<std::string, std::string> params,
                         const std::string& secret = kSecret) {
  std::string message;
  for (const auto& [k, v] : params) message += (message.empty() ? "" : "&") + enc(k) + "=" + enc(v);
  std::string hmac = afterglow::crypto::to_hex(afterglow::crypto::hmac_sha256(secret, message));
  return message + "&hmac=" + hmac;
}

json error_of(const HttpResponse& res) {
  json j = json::parse(res.body, nullptr, false);
  REQUIRE(j.is_object());
  REQUIRE(j.contains("error"));
  return j["error"];
}

// The value of the `name=` cookie in a Set-Cookie header ("" when absent).
std::string set_cookie_value(const HttpResponse& res, const std::string& name) {
  std::string h = res.header("Set-Cookie");
  if (h.rfind(name + "=", 0) != 0) return "";
  return h.substr(name.size() + 1, h.find(';') - name.size() - 1);
}

// The value of query parameter `key` in a URL (undecoded; nonces and codes are plain hex).
std::string param_of(const std::string& url, const std::string& key) {
  size_t q = url.find('?');
  if (q == std::string::npos) return "";
  std::string query = "&" + url.substr(q + 1);
  size_t at = query.find("&" + key + "=");
  if (at == std::string::npos) return "";
  size_t start = at + key.size() + 2;
  return query.substr(start, query.find('&', start) - start);
}

CatalogProduct candle() {
  CatalogProduct p;
  p.id = 632910392;
  p.title = "Glow Candle";
  p.status = "active";
  p.tags = {"candle"};
  p.collections = {{482865238, "Home"}};
  p.updated_at_ms = 1'700'000'000'000;
  CatalogVariant v;
  v.id = 808950810;
  v.title = "Small";
  v.price = "25.00";
  v.inventory_quantity = 4;
  p.variants.push_back(v);
  return p;
}

struct InstallEnv {
  InstallEnv()
      : fake(options()),
        app({{"APP_API_KEY", "test-api-key"},
             {"APP_API_SECRET", kSecret},
             {"APP_URL", kAppUrl},
             {"PLATFORM_API_BASE", fake.base_url()},
             {"PLATFORM_CA_FILE", fake.ca_file()},
             {"TOKEN_ENCRYPTION_KEY", kEncryptionKey}}),
        platform_browser(fake.base_url(), fake.ca_file()) {}

  static FakePlatform::Options options() {
    FakePlatform::Options o;
    o.client_id = "test-api-key";
    o.client_secret = kSecret;
    return o;
  }

  HttpResponse install_request(const std::string& shop = kShop) {
    return app.http().get(
        "/auth/install?" +
        signed_query({{"shop", shop}, {"timestamp", std::to_string(unix_now())}}));
  }

  // The whole browser dance: install -> consent page (approved at once) -> callback with the
  // state cookie. Returns the callback's answer.
  HttpResponse full_install() {
    HttpResponse start = install_request();
    REQUIRE(start.status == 302);
    std::string cookie = set_cookie_value(start, "afterglow_oauth_state");
    REQUIRE_FALSE(cookie.empty());
    std::string authorize = start.header("Location");
    REQUIRE(authorize.rfind(fake.base_url(), 0) == 0);
    HttpResponse consent = platform_browser.get(authorize.substr(fake.base_url().size()));
    REQUIRE(consent.status == 302);
    std::string callback = consent.header("Location");
    REQUIRE(callback.rfind(std::string(kAppUrl) + "/auth/callback?", 0) == 0);
    return app.http().get(callback.substr(std::string(kAppUrl).size()),
                          {{"Cookie", "afterglow_oauth_state=" + cookie}});
  }

  FakePlatform fake;
  RunningApp app;
  HttpsClient platform_browser;
};

}  // namespace

TEST_CASE("GET /auth/install with a valid HMAC redirects to the consent page with a state cookie",
          "[install][db]") {
  InstallEnv env;
  HttpResponse res = env.install_request();
  REQUIRE(res.status == 302);
  std::string location = res.header("Location");
  std::string expected_prefix = env.fake.base_url() + "/" + kShop +
                                "/admin/oauth/authorize?client_id=test-api-key&scope=read_orders%"
                                "2Cwrite_orders%2Cwrite_order_edits%2Cread_products%2Cread_"
                                "customers%2Cread_fulfillments&redirect_uri=https%3A%2F%2Fapp."
                                "example.test%2Fauth%"
                                "2Fcallback&state=";
  CHECK(location.rfind(expected_prefix, 0) == 0);
  std::string state = param_of(location, "state");
  CHECK(state.size() == 64);

  std::string cookie = res.header("Set-Cookie");
  INFO(cookie);
  CHECK(cookie.rfind("afterglow_oauth_state=" + state + ".", 0) == 0);
  CHECK(cookie.find("; HttpOnly") != std::string::npos);
  CHECK(cookie.find("; Secure") != std::string::npos);
  CHECK(cookie.find("; SameSite=Lax") != std::string::npos);
  CHECK(cookie.find("; Path=/auth/callback") != std::string::npos);
  // A second install request gets a different nonce.
  CHECK(param_of(env.install_request().header("Location"), "state") != state);

  // The app URL (the bare origin) answers the platform's signed load the same way, and sends a
  // person without a query to the merchant page.
  auto app_url = env.app.http().get(
      "/?" + signed_query({{"shop", kShop}, {"timestamp", std::to_string(unix_now())}}));
  CHECK(app_url.status == 302);
  CHECK(app_url.header("Location").rfind(expected_prefix, 0) == 0);
  auto bare = env.app.http().get("/");
  CHECK(bare.status == 302);
  CHECK(bare.header("Location") == "/admin");
  CHECK(env.app.http().get("/?shop=" + std::string(kShop)).status == 401);
}

TEST_CASE("install requests with bad input get 400, bad signatures and stale timestamps 401",
          "[install][db]") {
  InstallEnv env;
  const std::string now = std::to_string(unix_now());
  auto bad_shop = env.app.http().get(
      "/auth/install?" + signed_query({{"shop", "evil.example.com"}, {"timestamp", now}}));
  CHECK(bad_shop.status == 400);
  CHECK(error_of(bad_shop)["code"] == "invalid_argument");
  CHECK(error_of(bad_shop)["message"].get<std::string>().find("shop") != std::string::npos);
  CHECK(env.app.http().get("/auth/install?timestamp=" + now).status == 400);
  CHECK(env.app.http().get("/auth/install?shop=a%zz").status == 400);

  auto no_timestamp = env.app.http().get("/auth/install?" + signed_query({{"shop", kShop}}));
  CHECK(no_timestamp.status == 400);
  CHECK(error_of(no_timestamp)["message"].get<std::string>().find("timestamp") !=
        std::string::npos);

  auto unsigned_req =
      env.app.http().get(std::string("/auth/install?shop=") + kShop + "&timestamp=" + now);
  CHECK(unsigned_req.status == 401);
  CHECK(error_of(unsigned_req)["code"] == "unauthenticated");
  auto wrong_secret = env.app.http().get(
      "/auth/install?" + signed_query({{"shop", kShop}, {"timestamp", now}}, "not-the-secret"));
  CHECK(wrong_secret.status == 401);

  auto stale = env.app.http().get(
      "/auth/install?" +
      signed_query({{"shop", kShop}, {"timestamp", std::to_string(unix_now() - 300)}}));
  CHECK(stale.status == 401);
  CHECK(error_of(stale)["message"].get<std::string>().find("timestamp") != std::string::npos);
  CHECK_FALSE(stale.has_header("Set-Cookie"));
  CHECK(env.fake.requests().empty());
}

TEST_CASE("a valid callback stores the tokens encrypted, installs the shop and syncs the catalog",
          "[install][db]") {
  InstallEnv env;
  env.fake.put_product(kShop, candle());
  HttpResponse done = env.full_install();
  INFO(done.body);
  REQUIRE(done.status == 302);
  // Back into the app inside the merchant's admin (host names admin.shopify.com/store/glow).
  CHECK(done.header("Location") == "https://admin.shopify.com/store/glow/apps/test-api-key");
  CHECK(done.header("Set-Cookie").find("Max-Age=0") != std::string::npos);
  CHECK(env.fake.count("token:authorization_code") == 1);

  const std::string access = env.fake.access_token(kShop);
  const std::string refresh = env.fake.refresh_token(kShop);
  REQUIRE_FALSE(access.empty());
  REQUIRE_FALSE(refresh.empty());
  auto row = query_row(env.app.db(),
                       "SELECT state, access_token_enc, refresh_token_enc, "
                       "access_token_expires_at_ms, scopes FROM shops WHERE domain = ?",
                       {std::string(kShop)});
  REQUIRE(row);
  CHECK(row->text(0) == "installed");
  CHECK(row->text(1).rfind("v1.", 0) == 0);
  CHECK(row->text(1).find(access) == std::string::npos);
  CHECK(row->text(2).find(refresh) == std::string::npos);
  CHECK(row->i64(3) > unix_now() * 1000);
  // Nowhere in the database does either token appear as text.
  CHECK(find_everywhere(env.app.db(), access).empty());
  CHECK(find_everywhere(env.app.db(), refresh).empty());

  // The install enqueued the first catalog sync; a worker runs it against the platform.
  CHECK(query_int(env.app.db(), "SELECT COUNT(*) FROM jobs WHERE kind = 'catalog.sync'") == 1);
  auto drain = env.app.cli({"worker", "--drain"});
  INFO(drain.err);
  REQUIRE(drain.status == 0);
  CHECK(query_int(env.app.db(),
                  "SELECT COUNT(*) FROM catalog_variants WHERE variant_id = 808950810 "
                  "AND price = '25.00'") == 1);
  CHECK(query_int(env.app.db(),
                  "SELECT COUNT(*) FROM catalog_product_collections WHERE "
                  "collection_id = 482865238") == 1);
  CHECK(env.fake.count("graphql:products") == 1);

  // No token, code or secret reaches the logs (server and worker).
  std::string log = env.app.server().log() + drain.out + drain.err;
  CHECK(log.find(access) == std::string::npos);
  CHECK(log.find(refresh) == std::string::npos);
  CHECK(log.find(kSecret) == std::string::npos);
  CHECK(log.find(kEncryptionKey) == std::string::npos);
  for (const auto& r : env.fake.requests()) {
    if (r.kind == "token:authorization_code") {
      std::string code = json::parse(r.body)["code"];
      CHECK(log.find(code) == std::string::npos);
    }
  }
  CHECK(log.find("shop installed") != std::string::npos);
}

TEST_CASE("a callback with a bad HMAC is 401; with a state that does not match the cookie 403",
          "[install][db]") {
  InstallEnv env;
  HttpResponse start = env.install_request();
  REQUIRE(start.status == 302);
  std::string cookie = "afterglow_oauth_state=" + set_cookie_value(start, "afterglow_oauth_state");
  std::string state = param_of(start.header("Location"), "state");

  std::string good = env.fake.signed_callback_query(kShop, state);
  std::string tampered = good;
  size_t h = tampered.find("hmac=") + 5;
  tampered[h] = tampered[h] == '0' ? '1' : '0';
  auto bad_hmac = env.app.http().get("/auth/callback?" + tampered, {{"Cookie", cookie}});
  CHECK(bad_hmac.status == 401);
  CHECK(error_of(bad_hmac)["code"] == "unauthenticated");

  auto other_state = env.app.http().get(
      "/auth/callback?" + env.fake.signed_callback_query(kShop, std::string(64, 'a')),
      {{"Cookie", cookie}});
  CHECK(other_state.status == 403);
  CHECK(error_of(other_state)["code"] == "forbidden");
  auto no_cookie = env.app.http().get("/auth/callback?" + good);
  CHECK(no_cookie.status == 403);
  // The cookie is bound to its shop: another shop's callback cannot use it.
  auto other_shop = env.app.http().get(
      "/auth/callback?" + env.fake.signed_callback_query("other.myshopify.com", state),
      {{"Cookie", cookie}});
  CHECK(other_shop.status == 403);
  CHECK(env.fake.count("token:authorization_code") == 0);
  CHECK(query_int(env.app.db(), "SELECT COUNT(*) FROM shops") == 0);

  // The genuine one installs; replaying its code is refused by the platform (401).
  auto ok = env.app.http().get("/auth/callback?" + good, {{"Cookie", cookie}});
  CHECK(ok.status == 302);
  auto replay = env.app.http().get("/auth/callback?" + good, {{"Cookie", cookie}});
  CHECK(replay.status == 401);
  CHECK(error_of(replay)["message"].get<std::string>().find("refused") != std::string::npos);
}

TEST_CASE("the shop can be installed again after app/uninstalled deleted its tokens",
          "[install][db]") {
  InstallEnv env;
  REQUIRE(env.full_install().status == 302);
  const std::string first_access = env.fake.access_token(kShop);

  ShopifyDelivery uninstall;
  uninstall.topic = "app/uninstalled";
  uninstall.shop_domain = kShop;
  uninstall.body = R"({"id":548380009,"domain":"glow.myshopify.com"})";
  auto ack =
      env.app.http().post("/webhooks/shopify", uninstall.body, shopify_headers(kSecret, uninstall));
  REQUIRE(ack.status == 200);
  env.app.drain();
  auto gone = query_row(
      env.app.db(), "SELECT state, access_token_enc, refresh_token_enc FROM shops WHERE domain = ?",
      {std::string(kShop)});
  REQUIRE(gone);
  CHECK(gone->text(0) == "uninstalled");
  CHECK(gone->is_null(1));
  CHECK(gone->is_null(2));

  REQUIRE(env.full_install().status == 302);
  auto back = query_row(
      env.app.db(), "SELECT state, access_token_enc, uninstalled_at_ms FROM shops WHERE domain = ?",
      {std::string(kShop)});
  REQUIRE(back);
  CHECK(back->text(0) == "installed");
  CHECK_FALSE(back->is_null(1));
  CHECK(back->is_null(2));
  CHECK(env.fake.access_token(kShop) != first_access);
  CHECK(env.fake.count("token:authorization_code") == 2);
}

TEST_CASE("an embedded load with a session token installs through token exchange",
          "[install][db]") {
  InstallEnv env;
  std::string id_token = env.fake.session_token(kShop);
  auto res = env.app.http().get("/auth/install?" +
                                signed_query({{"shop", kShop},
                                              {"embedded", "1"},
                                              {"id_token", id_token},
                                              {"timestamp", std::to_string(unix_now())}}));
  INFO(res.body);
  REQUIRE(res.status == 302);
  CHECK(res.header("Location").rfind("/admin?", 0) == 0);
  CHECK(env.fake.count("token:token_exchange") == 1);
  CHECK(query_row(env.app.db(), "SELECT state FROM shops WHERE domain = ?", {std::string(kShop)})
            ->text(0) == "installed");

  // A session token signed with another secret is refused before the platform is asked.
  std::string forged = env.fake.session_token(kShop);
  forged.back() = forged.back() == 'A' ? 'B' : 'A';
  auto refused = env.app.http().get("/auth/install?" +
                                    signed_query({{"shop", kShop},
                                                  {"embedded", "1"},
                                                  {"id_token", forged},
                                                  {"timestamp", std::to_string(unix_now())}}));
  CHECK(refused.status == 401);
  // A valid session token of another shop does not install this one.
  auto other = env.app.http().get(
      "/auth/install?" + signed_query({{"shop", kShop},
                                       {"id_token", env.fake.session_token("other.myshopify.com")},
                                       {"timestamp", std::to_string(unix_now())}}));
  CHECK(other.status == 401);
  CHECK(env.fake.count("token:token_exchange") == 1);
  CHECK(env.app.server().log().find(id_token) == std::string::npos);
}

TEST_CASE(
    "without TOKEN_ENCRYPTION_KEY the install routes answer 503 naming it; a bad key stops "
    "the start",
    "[install][db]") {
  RunningApp app({{"APP_API_SECRET", kSecret}, {"TOKEN_ENCRYPTION_KEY", ""}});
  auto res =
      app.http().get("/auth/install?" +
                     signed_query({{"shop", kShop}, {"timestamp", std::to_string(unix_now())}}));
  CHECK(res.status == 503);
  CHECK(error_of(res)["message"].get<std::string>().find("TOKEN_ENCRYPTION_KEY") !=
        std::string::npos);

  try {
    RunningApp bad(Env{{"TOKEN_ENCRYPTION_KEY", "dG9vIHNob3J0"}});
    FAIL("the server started with a 9-byte TOKEN_ENCRYPTION_KEY");
  } catch (const std::runtime_error& e) {
    CHECK(std::string(e.what()).find("TOKEN_ENCRYPTION_KEY") != std::string::npos);
  }
}
