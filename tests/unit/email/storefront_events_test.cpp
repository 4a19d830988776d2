// POST|GET /events/viewed over real HTTP on loopback: the app proxy's signature (checked against
// the platform's published example), the storefront key of headless shops, and the refusals.
#include "email/storefront_events.h"

#include <httplib.h>

#include <catch2/catch.hpp>
#include <thread>

#include "plugin/core/crypto.h"
#include "plugin/core/oauth_query.h"
#include "tests/unit/email/trigger_env.h"

using namespace afterglow;
using namespace afterglow::email;
using namespace afterglow::email::trigger_testing;

namespace {

constexpr const char* kSecret = "storefront-test-secret";
constexpr const char* kOldSecret = "storefront-old-secret";

// spec/shopify.md §7.2: the platform's documented app proxy example.
oauth::QueryParams documented_query(const std::string& customer_part) {
  auto params = oauth::parse_query("extra=1&extra=2&shop=shop-name.myshopify.com" + customer_part +
                                   "&path_prefix=%2Fapps%2Fawesome_reviews&timestamp=1317327555");
  REQUIRE(params);
  return *params;
}

// The route mounted on a loopback server, over a TriggerEnv database.
class Storefront {
 public:
  Storefront() : services_{env.db(), env.clock, {kSecret, kOldSecret}} {
    mount_storefront_events(server_, services_);
    port_ = server_.bind_to_any_port("127.0.0.1");
    REQUIRE(port_ > 0);
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~Storefront() {
    server_.stop();
    thread_.join();
  }

  httplib::Result get(const std::string& path_and_query) {
    httplib::Client cli("127.0.0.1", port_);
    return cli.Get(path_and_query);
  }
  httplib::Result post(const std::string& path_and_query, const std::string& body,
                       const httplib::Headers& headers = {}) {
    httplib::Client cli("127.0.0.1", port_);
    return cli.Post(path_and_query, headers, body, "application/json");
  }

  // A proxy query as the platform forwards it, signed with `secret`.
  std::string proxy_query(const std::string& customer, int64_t timestamp_s,
                          const std::string& secret = kSecret) {
    oauth::QueryParams p{{"product_id", std::to_string(kProduct)},
                         {"shop", kShop},
                         {"logged_in_customer_id", customer},
                         {"path_prefix", "/apps/afterglow"},
                         {"timestamp", std::to_string(timestamp_s)}};
    std::string q;
    for (const auto& [k, v] : p) q += (q.empty() ? "" : "&") + k + "=" + oauth::form_encode(v);
    return "/events/viewed?" + q + "&signature=" + app_proxy_signature(p, secret);
  }

  // A headless request signed with the shop's storefront key.
  httplib::Result headless(const json& body, const std::string& key_shop = kShop,
                           const std::string& secret = kSecret) {
    const std::string text = body.dump();
    std::string signature =
        crypto::to_hex(crypto::hmac_sha256(storefront_key(secret, key_shop), text));
    return post("/events/viewed", text, {{"X-Afterglow-Storefront-Signature", signature}});
  }

  TriggerEnv env;

 private:
  StorefrontServices services_;
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
};

std::string error_code(const httplib::Result& r) {
  json j = json::parse(r->body, nullptr, false);
  if (!j.is_object() || !j.contains("error")) return "<not a JSON error>";
  return j["error"].value("code", "");
}

int64_t now_s(const Storefront& s) { return s.env.clock.now_ms() / 1000; }

}  // namespace

TEST_CASE("the app proxy signature matches the platform's documented examples", "[triggers]") {
  auto logged_in = documented_query("&logged_in_customer_id=1");
  CHECK(app_proxy_message(logged_in) ==
        "extra=1,2logged_in_customer_id=1path_prefix=/apps/awesome_reviews"
        "shop=shop-name.myshopify.comtimestamp=1317327555");
  CHECK(app_proxy_signature(logged_in, "hush") ==
        "4c68c8624d737112c91818c11017d24d334b524cb5c2b8ba08daa056f7395ddb");
  CHECK(app_proxy_signature(documented_query("&logged_in_customer_id="), "hush") ==
        "e072b6d7e6622d85912a5214b860d3100dc1e73d9bc29f43796ac8c9ff8093cb");
  CHECK(app_proxy_signature(documented_query(""), "hush") ==
        "a9718877bea71c2484f91608a7eaea1532bdf71f5c56825065fa4ccabe549ef3");
  // The signature parameter itself is never part of the message.
  logged_in.emplace_back("signature", "4c68c862");
  CHECK(app_proxy_signature(logged_in, "hush") ==
        "4c68c8624d737112c91818c11017d24d334b524cb5c2b8ba08daa056f7395ddb");
}

TEST_CASE("a storefront key is per shop and per secret", "[triggers]") {
  std::string key = storefront_key(kSecret, kShop);
  CHECK(key.size() == 64);
  CHECK(key.find_first_not_of("0123456789abcdef") == std::string::npos);
  CHECK(key == storefront_key(kSecret, kShop));
  CHECK(key != storefront_key(kSecret, "other-shop.myshopify.com"));
  CHECK(key != storefront_key(kOldSecret, kShop));
}

TEST_CASE("an app proxy view with a valid signature is stored and enrols", "[triggers][db]") {
  Storefront s;
  s.env.live_flow("product_viewed");
  s.env.store_order();  // the customer row: a logged-in view carries only the id
  auto r = s.get(s.proxy_query(std::to_string(kCustomerId), now_s(s)));
  REQUIRE(r);
  CHECK(r->status == 202);
  CHECK(r->body == R"({"status":"accepted"})");
  auto view = s.env.row("SELECT customer_id, product_id FROM product_views");
  REQUIRE(view);
  CHECK(view->i64(0) == static_cast<int64_t>(kCustomerId));
  CHECK(view->i64(1) == kProduct);
  CHECK(s.env.enrolments("product_viewed") == 1);

  // POST through the proxy works the same, and the previous app secret still verifies.
  s.env.clock.advance(1h);
  auto old = s.post(s.proxy_query(std::to_string(kCustomerId), now_s(s), kOldSecret), "");
  REQUIRE(old);
  CHECK(old->status == 202);
  CHECK(s.env.i64("SELECT COUNT(*) FROM product_views") == 2);
}

TEST_CASE("an app proxy request with a wrong signature or a stale timestamp is refused",
          "[triggers][db]") {
  Storefront s;
  auto forged = s.get(s.proxy_query("42", now_s(s), "not-the-secret"));
  REQUIRE(forged);
  CHECK(forged->status == 401);
  CHECK(error_code(forged) == "unauthenticated");

  std::string tampered = s.proxy_query("42", now_s(s));
  tampered.replace(tampered.find("logged_in_customer_id=42"), 24, "logged_in_customer_id=43");
  auto other_customer = s.get(tampered);
  REQUIRE(other_customer);
  CHECK(other_customer->status == 401);

  // The platform's own library allows 90 s either way.
  auto stale = s.get(s.proxy_query("42", now_s(s) - 91));
  REQUIRE(stale);
  CHECK(stale->status == 401);
  auto future = s.get(s.proxy_query("42", now_s(s) + 91));
  REQUIRE(future);
  CHECK(future->status == 401);
  auto recent = s.get(s.proxy_query("42", now_s(s) - 60));
  REQUIRE(recent);
  CHECK(recent->status == 202);
  CHECK(s.env.i64("SELECT COUNT(*) FROM product_views") == 1);
}

TEST_CASE("a guest through the app proxy is answered 204 and nothing is stored", "[triggers][db]") {
  Storefront s;
  auto r = s.get(s.proxy_query("", now_s(s)));
  REQUIRE(r);
  CHECK(r->status == 204);
  CHECK(s.env.i64("SELECT COUNT(*) FROM product_views") == 0);
}

TEST_CASE("a headless view signed with the storefront key is accepted", "[triggers][db]") {
  Storefront s;
  s.env.live_flow("product_viewed");
  auto by_id = s.headless({{"shop", kShop},
                           {"customer_id", std::to_string(kCustomerId)},  // a string survives JS
                           {"product_id", kProduct},
                           {"variant_id", kVariant}});
  REQUIRE(by_id);
  CHECK(by_id->status == 202);
  auto by_email =
      s.headless({{"shop", kShop}, {"email", "Guest@Example.com"}, {"product_id", kProduct}});
  REQUIRE(by_email);
  CHECK(by_email->status == 202);
  CHECK(s.env.i64("SELECT COUNT(*) FROM product_views") == 2);
  CHECK(s.env.i64("SELECT COUNT(*) FROM product_views WHERE email = 'guest@example.com'") == 1);
  CHECK(s.env.i64("SELECT COUNT(*) FROM enrolments WHERE trigger_ref LIKE 'browse:email:%'") == 1);
  // The previous app secret's key keeps working during a rotation.
  auto rotated = s.headless({{"shop", kShop}, {"customer_id", 5}, {"product_id", kProduct}}, kShop,
                            kOldSecret);
  REQUIRE(rotated);
  CHECK(rotated->status == 202);
}

TEST_CASE("storefront requests that are unsigned, malformed or too large are refused",
          "[triggers][db]") {
  Storefront s;
  const json view = {{"shop", kShop}, {"customer_id", 5}, {"product_id", kProduct}};

  auto unsigned_request = s.post("/events/viewed", view.dump());
  REQUIRE(unsigned_request);
  CHECK(unsigned_request->status == 401);
  CHECK(error_code(unsigned_request) == "unauthenticated");

  auto wrong = s.post("/events/viewed", view.dump(),
                      {{"X-Afterglow-Storefront-Signature", std::string(64, 'a')}});
  REQUIRE(wrong);
  CHECK(wrong->status == 401);

  auto other_shops_key = s.headless(view, "other-shop.myshopify.com");
  REQUIRE(other_shops_key);
  CHECK(other_shops_key->status == 401);

  auto not_json =
      s.post("/events/viewed", "{\"shop\":", {{"X-Afterglow-Storefront-Signature", "00"}});
  REQUIRE(not_json);
  CHECK(not_json->status == 400);
  CHECK(error_code(not_json) == "invalid_argument");

  auto no_product = s.headless({{"shop", kShop}, {"customer_id", 5}});
  REQUIRE(no_product);
  CHECK(no_product->status == 400);
  auto nobody = s.headless({{"shop", kShop}, {"product_id", kProduct}});
  REQUIRE(nobody);
  CHECK(nobody->status == 400);
  auto bad_id = s.headless({{"shop", kShop}, {"customer_id", 5}, {"product_id", "12ab"}});
  REQUIRE(bad_id);
  CHECK(bad_id->status == 400);

  json big = view;
  big["padding"] = std::string(kStorefrontMaxBody, 'x');
  auto too_large = s.headless(big);
  REQUIRE(too_large);
  CHECK(too_large->status == 413);
  CHECK(error_code(too_large) == "payload_too_large");

  // Correctly signed for a shop we do not have: the caller holds the key, so say what is wrong.
  auto unknown = s.headless(
      {{"shop", "unknown-shop.myshopify.com"}, {"customer_id", 5}, {"product_id", kProduct}},
      "unknown-shop.myshopify.com");
  REQUIRE(unknown);
  CHECK(unknown->status == 404);
  afterglow::testing::exec_sql(s.env.db(), "UPDATE shops SET state = 'uninstalled'");
  auto uninstalled = s.headless(view);
  REQUIRE(uninstalled);
  CHECK(uninstalled->status == 404);

  CHECK(s.env.i64("SELECT COUNT(*) FROM product_views") == 0);
}
