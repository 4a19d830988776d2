// The merchant's API and page against the real binary over HTTPS: session-token checks, shop
// isolation, validation that names the field, CRUD round trips, the operations views, and the
// development login that exists only with DEV_MODE.
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <regex>

#include "plugin/core/crypto.h"
#include "tests/support/admin_session.h"
#include "tests/support/sandbox.h"
#include "tests/support/shopify_payloads.h"
#include "tests/support/test_db.h"

using namespace afterglow;
using namespace afterglow::testing;
using nlohmann::json;

namespace {

constexpr const char* kShopA = "shop-a.myshopify.com";
constexpr const char* kShopB = "shop-b.myshopify.com";
constexpr const char* kDemoShop = "afterglow-demo.myshopify.com";
constexpr const char* kRetryHeader = "X-Shopify-Retry-Invalid-Session-Request";

json offer_body(const std::string& title = "Matching socks") {
  return json{{"kind", "upsell"},
              {"title", title},
              {"headline", "Add a pair for 20% off"},
              {"product_id", 632910392},
              {"discount", {{"type", "percent"}, {"percent", 20}}},
              {"triggers", {{"product_ids", {111}}, {"countries", {"US"}}}}};
}

json flow_body(const std::string& name = "Thank-you cross-sell") {
  return json{{"name", name},
              {"trigger", "order_paid"},
              {"status", "live"},
              {"steps",
               {{{"type", "delay"}, {"duration_minutes", 1440}},
                {{"type", "send_email"}, {"subject", "For your order"}, {"body", "Hi"}}}},
              {"exit_conditions", {"ordered_since_start"}}};
}

json body_of(const HttpResponse& r) {
  INFO(r.status << " " << r.body << " " << r.error);
  return json::parse(r.body);
}

// An app with two installed shops and a token for each.
struct TwoShops {
  RunningApp app;
  std::string token_a, token_b;
  TwoShops() {
    seed_installed_shop(app.db(), kShopA);
    seed_installed_shop(app.db(), kShopB);
    token_a = admin_session_token(kShopA, app.sandbox().api_secret());
    token_b = admin_session_token(kShopB, app.sandbox().api_secret());
  }
  HttpResponse get(const std::string& path, const std::string& token) {
    return app.http().get(path, bearer(token));
  }
  HttpResponse post(const std::string& path, const json& body, const std::string& token) {
    return app.http().post(path, body.dump(), bearer(token));
  }
  HttpResponse put(const std::string& path, const json& body, const std::string& token) {
    return app.http().send("PUT", path, body.dump(), bearer(token));
  }
  HttpResponse del(const std::string& path, const std::string& token) {
    return app.http().send("DELETE", path, "", bearer(token));
  }
  int64_t create_offer(const std::string& token, const std::string& title = "Matching socks") {
    auto r = post("/api/admin/offers", offer_body(title), token);
    INFO(r.body);
    REQUIRE(r.status == 201);
    return body_of(r)["offer"]["id"].get<int64_t>();
  }
};

std::string b64url(std::string_view s) { return crypto::base64url_encode(s); }

std::string hs512_token(const json& claims, const std::string& secret) {
  std::string input = b64url(R"({"alg":"HS512","typ":"JWT"})") + "." + b64url(claims.dump());
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha512(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &len);
  return input + "." + b64url(std::string(reinterpret_cast<char*>(mac), len));
}

void require_401(const HttpResponse& r) {
  INFO(r.status << " " << r.body);
  CHECK(r.status == 401);
  CHECK(r.header(kRetryHeader) == "1");
  CHECK(body_of(r)["error"]["code"] == "unauthenticated");
}

// Every one-time login code the server printed, oldest first.
std::vector<std::string> login_codes(const std::string& log) {
  std::vector<std::string> out;
  std::regex re(R"(/admin\?login=([0-9a-f]+))");
  for (auto it = std::sregex_iterator(log.begin(), log.end(), re); it != std::sregex_iterator();
       ++it) {
    out.push_back((*it)[1]);
  }
  return out;
}

}  // namespace

TEST_CASE("admin API without a session token answers 401 with the retry header", "[admin]") {
  TwoShops t;
  for (const char* path : {"/api/admin/offers", "/api/admin/flows", "/api/admin/settings",
                           "/api/admin/inbox", "/api/admin/jobs", "/api/admin/exports",
                           "/api/admin/charges", "/api/admin/charges/1",
                           "/api/admin/diagnostics", "/api/admin/analytics",
                           "/api/admin/flow-templates", "/api/admin/flows/1/report",
                           "/api/admin/customers/1/messaging"}) {
    INFO(path);
    require_401(t.app.http().get(path));
  }
  require_401(t.app.http().post("/api/admin/offers", offer_body().dump(),
                                {{"Content-Type", "application/json"}}));
  require_401(t.app.http().get("/api/admin/offers", {{"Authorization", "Basic abc"}}));
  require_401(t.app.http().get("/api/admin/offers", {{"Authorization", "Bearer not.a.jwt"}}));
}

TEST_CASE("admin API refuses session tokens that fail any check", "[admin]") {
  TwoShops t;
  const std::string& secret = t.app.sandbox().api_secret();
  int64_t now = unix_now();
  json good = admin_session_claims(kShopA, now);
  REQUIRE(t.get("/api/admin/offers", sign_admin_session(good, secret)).status == 200);

  SECTION("alg none") {
    std::string token = b64url(R"({"alg":"none","typ":"JWT"})") + "." + b64url(good.dump()) + ".";
    require_401(t.get("/api/admin/offers", token));
  }
  SECTION("HS512, even with the right secret") {
    require_401(t.get("/api/admin/offers", hs512_token(good, secret)));
  }
  SECTION("signed with another secret") {
    require_401(t.get("/api/admin/offers", sign_admin_session(good, "shpss_not_the_secret")));
  }
  SECTION("expired beyond the 10 s skew, but accepted within it") {
    json c = good;
    c["exp"] = now - 30;
    require_401(t.get("/api/admin/offers", sign_admin_session(c, secret)));
    c["exp"] = now - 3;
    CHECK(t.get("/api/admin/offers", sign_admin_session(c, secret)).status == 200);
  }
  SECTION("not valid yet") {
    json c = good;
    c["nbf"] = now + 60;
    c["exp"] = now + 120;
    require_401(t.get("/api/admin/offers", sign_admin_session(c, secret)));
  }
  SECTION("no exp") {
    json c = good;
    c.erase("exp");
    require_401(t.get("/api/admin/offers", sign_admin_session(c, secret)));
  }
  SECTION("aud is another app's key") {
    require_401(t.get("/api/admin/offers",
                      sign_admin_session(admin_session_claims(kShopA, now, "other-app"), secret)));
  }
  SECTION("host of iss differs from dest") {
    json c = good;
    c["iss"] = std::string("https://") + kShopB + "/admin";
    require_401(t.get("/api/admin/offers", sign_admin_session(c, secret)));
  }
  SECTION("dest is not a shop domain") {
    json c = good;
    c["iss"] = "https://evil.example.com/admin";
    c["dest"] = "https://evil.example.com";
    require_401(t.get("/api/admin/offers", sign_admin_session(c, secret)));
  }
  SECTION("the shop is not installed here") {
    require_401(
        t.get("/api/admin/offers", admin_session_token("never-installed.myshopify.com", secret)));
  }
}

TEST_CASE("an uninstalled shop's session token is refused", "[admin]") {
  TwoShops t;
  REQUIRE(t.get("/api/admin/settings", t.token_a).status == 200);
  exec_sql(t.app.db(), "UPDATE shops SET state = 'uninstalled' WHERE domain = ?",
           {std::string(kShopA)});
  require_401(t.get("/api/admin/settings", t.token_a));
  CHECK(t.get("/api/admin/settings", t.token_b).status == 200);
}

TEST_CASE("offers: create, read, list, update, delete", "[admin][offers]") {
  TwoShops t;
  auto created = t.post("/api/admin/offers", offer_body(), t.token_a);
  REQUIRE(created.status == 201);
  json offer = body_of(created)["offer"];
  int64_t id = offer["id"];
  CHECK(offer["title"] == "Matching socks");
  CHECK(offer["discount"]["percent"] == 20);
  CHECK(offer["priority"] == 100);  // default

  auto got = t.get("/api/admin/offers/" + std::to_string(id), t.token_a);
  REQUIRE(got.status == 200);
  CHECK(body_of(got)["offer"] == offer);

  json changed = offer;  // the client may send back what it got, ids and times included
  changed["title"] = "Two pairs";
  changed["status"] = "paused";
  changed["discount"] = {{"type", "fixed_amount"}, {"amount_minor", 500}};
  auto updated = t.put("/api/admin/offers/" + std::to_string(id), changed, t.token_a);
  REQUIRE(updated.status == 200);
  CHECK(body_of(updated)["offer"]["title"] == "Two pairs");
  CHECK(body_of(updated)["offer"]["discount"]["amount_minor"] == 500);

  auto listed = body_of(t.get("/api/admin/offers", t.token_a));
  REQUIRE(listed["offers"].size() == 1);
  CHECK(listed["offers"][0]["status"] == "paused");
  CHECK(listed["next_cursor"].is_null());

  auto deleted = t.del("/api/admin/offers/" + std::to_string(id), t.token_a);
  REQUIRE(deleted.status == 200);
  CHECK(t.get("/api/admin/offers/" + std::to_string(id), t.token_a).status == 404);
  CHECK(body_of(t.get("/api/admin/offers", t.token_a))["offers"].empty());
}

TEST_CASE("offer lists page with limit and cursor", "[admin][offers]") {
  TwoShops t;
  for (int i = 0; i < 5; ++i) t.create_offer(t.token_a, "Offer " + std::to_string(i));
  auto first = body_of(t.get("/api/admin/offers?limit=2", t.token_a));
  REQUIRE(first["offers"].size() == 2);
  REQUIRE(first["next_cursor"].is_string());
  auto second = body_of(t.get(
      "/api/admin/offers?limit=2&cursor=" + first["next_cursor"].get<std::string>(), t.token_a));
  REQUIRE(second["offers"].size() == 2);
  auto third = body_of(t.get(
      "/api/admin/offers?limit=2&cursor=" + second["next_cursor"].get<std::string>(), t.token_a));
  REQUIRE(third["offers"].size() == 1);
  CHECK(third["offers"][0]["title"] == "Offer 4");
  CHECK(third["next_cursor"].is_null());

  auto bad = t.get("/api/admin/offers?limit=500", t.token_a);
  CHECK(bad.status == 400);
  CHECK(body_of(bad)["error"]["message"] == "limit must be an integer between 1 and 200");
  CHECK(t.get("/api/admin/offers?cursor=abc", t.token_a).status == 400);
}

TEST_CASE("shop A's token can neither see nor change shop B's offers and flows",
          "[admin][isolation]") {
  TwoShops t;
  int64_t b_offer = t.create_offer(t.token_b, "B's offer");
  auto b_flow = t.post("/api/admin/flows", flow_body("B's flow"), t.token_b);
  REQUIRE(b_flow.status == 201);
  int64_t b_flow_id = body_of(b_flow)["flow"]["id"];
  std::string offer_path = "/api/admin/offers/" + std::to_string(b_offer);
  std::string flow_path = "/api/admin/flows/" + std::to_string(b_flow_id);

  // Exactly the answer for an id that does not exist: nothing says the object is there.
  auto missing = t.get("/api/admin/offers/999999", t.token_a);
  auto other = t.get(offer_path, t.token_a);
  CHECK(other.status == 404);
  CHECK(body_of(other)["error"]["code"] == body_of(missing)["error"]["code"]);
  CHECK(t.put(offer_path, offer_body("stolen"), t.token_a).status == 404);
  CHECK(t.del(offer_path, t.token_a).status == 404);
  CHECK(body_of(t.get("/api/admin/offers", t.token_a))["offers"].empty());

  CHECK(t.get(flow_path, t.token_a).status == 404);
  CHECK(t.put(flow_path, flow_body("stolen"), t.token_a).status == 404);
  CHECK(t.del(flow_path, t.token_a).status == 404);
  CHECK(body_of(t.get("/api/admin/flows", t.token_a))["flows"].empty());

  // A funnel link to B's offer is refused as if it did not exist.
  json linked = offer_body("A's upsell");
  linked["funnel"] = {{"after_accept_offer_id", b_offer}};
  auto refused = t.post("/api/admin/offers", linked, t.token_a);
  CHECK(refused.status == 400);
  CHECK(body_of(refused)["error"]["field"] == "offers.funnel.after_accept_offer_id");

  // B's objects are untouched and still B's.
  auto mine = t.get(offer_path, t.token_b);
  REQUIRE(mine.status == 200);
  CHECK(body_of(mine)["offer"]["title"] == "B's offer");
  CHECK(body_of(t.get(flow_path, t.token_b))["flow"]["name"] == "B's flow");

  // Settings are per shop too.
  REQUIRE(t.put("/api/admin/settings", {{"sender_name", "Shop A"}}, t.token_a).status == 200);
  CHECK(body_of(t.get("/api/admin/settings", t.token_b))["settings"]["sender_name"] == "");
}

TEST_CASE("offer validation errors name the field", "[admin][offers][validation]") {
  TwoShops t;
  auto check_field = [&](json body, const std::string& field, const std::string& message) {
    auto r = t.post("/api/admin/offers", body, t.token_a);
    INFO(r.body);
    REQUIRE(r.status == 400);
    json e = body_of(r)["error"];
    CHECK(e["code"] == "invalid_argument");
    CHECK(e["field"] == field);
    CHECK(e["message"] == message);
  };
  json b = offer_body();
  b["discount"]["percent"] = 150;
  check_field(b, "offers.discount.percent", "offers.discount.percent must be between 0 and 100");
  b = offer_body();
  b.erase("product_id");
  check_field(b, "offers.product_id", "offers.product_id is required");
  b = offer_body();
  b["kind"] = "sidesell";
  check_field(b, "offers.kind", "offers.kind must be one of upsell, cross_sell, downsell");
  b = offer_body();
  b["ab_test"] = {{"holdout_share", 2}};
  check_field(b, "offers.ab_test.holdout_share",
              "offers.ab_test.holdout_share must be between 0 and 1");
  b = offer_body();
  b["triggers"]["countries"] = {"USA"};
  check_field(b, "offers.triggers.countries[0]",
              "offers.triggers.countries[0] must be a two-letter country code such as US");

  // Every problem is listed, so the page can mark each field at once.
  json many{
      {"kind", "upsell"}, {"quantity", 0}, {"discount", {{"type", "percent"}, {"percent", -1}}}};
  auto r = t.post("/api/admin/offers", many, t.token_a);
  REQUIRE(r.status == 400);
  json error = body_of(r)["error"];
  std::vector<std::string> fields;
  for (const json& f : error["fields"]) fields.push_back(f["field"]);
  CHECK(fields == std::vector<std::string>{"offers.title", "offers.product_id", "offers.quantity",
                                           "offers.discount.percent", "offers.triggers"});
}

TEST_CASE("a funnel that would loop or exceed three accepts is refused", "[admin][offers]") {
  TwoShops t;
  int64_t o1 = t.create_offer(t.token_a, "one");
  int64_t o2 = t.create_offer(t.token_a, "two");
  json b = offer_body("one");
  b["funnel"] = {{"after_accept_offer_id", o2}};
  REQUIRE(t.put("/api/admin/offers/" + std::to_string(o1), b, t.token_a).status == 200);
  b = offer_body("two");
  b["funnel"] = {{"after_accept_offer_id", o1}};
  auto loop = t.put("/api/admin/offers/" + std::to_string(o2), b, t.token_a);
  CHECK(loop.status == 400);
  CHECK(body_of(loop)["error"]["message"].get<std::string>().find("would form a loop") !=
        std::string::npos);
  // A linked offer cannot be deleted from under its funnel.
  CHECK(t.del("/api/admin/offers/" + std::to_string(o2), t.token_a).status == 409);
}

TEST_CASE("flows: CRUD round trip and validation naming the field", "[admin][flows]") {
  TwoShops t;
  auto created = t.post("/api/admin/flows", flow_body(), t.token_a);
  REQUIRE(created.status == 201);
  json flow = body_of(created)["flow"];
  int64_t id = flow["id"];
  CHECK(flow["steps"][0]["id"] == "s1");
  CHECK(flow["steps"][1]["id"] == "s2");
  std::string path = "/api/admin/flows/" + std::to_string(id);
  CHECK(body_of(t.get(path, t.token_a))["flow"] == flow);

  flow["status"] = "paused";
  flow["steps"][1]["subject"] = "New subject";
  auto updated = t.put(path, flow, t.token_a);
  REQUIRE(updated.status == 200);
  CHECK(body_of(updated)["flow"]["steps"][1]["subject"] == "New subject");
  CHECK(body_of(updated)["flow"]["steps"][1]["id"] == "s2");  // ids are stable across edits
  CHECK(body_of(t.get("/api/admin/flows", t.token_a))["flows"].size() == 1);

  auto field_of = [&](json body) {
    auto r = t.post("/api/admin/flows", body, t.token_a);
    INFO(r.body);
    CHECK(r.status == 400);
    return body_of(r)["error"]["field"].get<std::string>();
  };
  json b = flow_body();
  b["trigger"] = "order_shipped";
  CHECK(field_of(b) == "flows.trigger");
  b = flow_body();
  b["steps"][1].erase("subject");
  CHECK(field_of(b) == "flows.steps[1].subject");
  b = flow_body();
  b["steps"][0]["duration_minutes"] = -5;
  CHECK(field_of(b) == "flows.steps[0].duration_minutes");
  b = flow_body();
  b["exit_conditions"] = {"bored"};
  CHECK(field_of(b) == "flows.exit_conditions[0]");
  b = flow_body();
  b["steps"] = {{{"type", "delay"}, {"duration_minutes", 5}}};
  CHECK(field_of(b) == "flows.steps");  // a live flow must send something

  REQUIRE(t.del(path, t.token_a).status == 200);
  CHECK(t.get(path, t.token_a).status == 404);
}

TEST_CASE("settings: defaults, round trip, validation naming the field", "[admin][settings]") {
  TwoShops t;
  json s = body_of(t.get("/api/admin/settings", t.token_a))["settings"];
  CHECK(s["frequency_caps"]["email_hours"] == 16);
  CHECK(s["frequency_caps"]["sms_hours"] == 24);
  CHECK(s["offer_window_minutes"] == 15);

  s["sender_name"] = "Glow Goods";
  s["sender_email"] = "hello@glow.example";
  s["postal_address"] = "1 Main St, Springfield";
  s["quiet_hours"]["start_hour"] = 20;
  s["margin_floor_percent"] = 25;
  auto put = t.put("/api/admin/settings", s, t.token_a);
  REQUIRE(put.status == 200);
  json again = body_of(t.get("/api/admin/settings", t.token_a))["settings"];
  CHECK(again == s);

  auto bad = [&](json body, const std::string& field) {
    auto r = t.put("/api/admin/settings", body, t.token_a);
    INFO(r.body);
    CHECK(r.status == 400);
    CHECK(body_of(r)["error"]["field"] == field);
  };
  bad({{"sender_email", "not an email"}}, "settings.sender_email");
  bad({{"quiet_hours", {{"end_hour", 24}}}}, "settings.quiet_hours.end_hour");
  bad({{"frequency_caps", {{"sms_hours", -1}}}}, "settings.frequency_caps.sms_hours");
  bad({{"offer_window_minutes", 90}}, "settings.offer_window_minutes");
  // A refused PUT changes nothing.
  CHECK(body_of(t.get("/api/admin/settings", t.token_a))["settings"] == s);
}

TEST_CASE("malformed JSON is a 400 and an oversized body a 413", "[admin]") {
  TwoShops t;
  auto r = t.app.http().post("/api/admin/offers", "{\"title\": ", bearer(t.token_a));
  CHECK(r.status == 400);
  CHECK(
      body_of(r)["error"]["message"].get<std::string>().starts_with("the body is not valid JSON"));
  r = t.app.http().post("/api/admin/offers", "[1,2]", bearer(t.token_a));
  CHECK(r.status == 400);
  r = t.app.http().send("PUT", "/api/admin/settings", "", bearer(t.token_a));
  CHECK(r.status == 400);

  json huge = offer_body();
  huge["headline"] = std::string(2 * 1024 * 1024, 'x');
  r = t.app.new_client()->post("/api/admin/offers", huge.dump(), bearer(t.token_a));
  CHECK(r.status == 413);
  CHECK(body_of(t.get("/api/admin/offers", t.token_a))["offers"].empty());
}

TEST_CASE("inbox, dead jobs and exports show only the shop's own", "[admin][operations]") {
  TwoShops t;
  ShopifyDelivery d;
  d.shop_domain = kShopA;
  d.webhook_id = "wh-admin-1";
  d.body = order_json({});
  REQUIRE(t.app.post_shopify(d).status == 200);

  auto inbox = body_of(t.get("/api/admin/inbox", t.token_a));
  REQUIRE(inbox["deliveries"].size() == 1);
  CHECK(inbox["deliveries"][0]["topic"] == "orders/create");
  CHECK(inbox["deliveries"][0]["state"] == "received");
  CHECK(inbox["deliveries"][0]["delivery_id"] == "wh-admin-1");
  CHECK(body_of(t.get("/api/admin/inbox", t.token_b))["deliveries"].empty());
  CHECK(body_of(t.get("/api/admin/inbox?state=processed", t.token_a))["deliveries"].empty());
  CHECK(t.get("/api/admin/inbox?state=bogus", t.token_a).status == 400);

  // A dead job of shop A (as a handler that failed every attempt leaves it).
  int64_t shop_a =
      query_int(t.app.db(), "SELECT id FROM shops WHERE domain = ?", {std::string(kShopA)});
  exec_sql(t.app.db(),
           "INSERT INTO jobs (kind, shop_id, payload, state, run_at_ms, attempt, max_attempts, "
           "last_error, created_at_ms, updated_at_ms, finished_at_ms) "
           "VALUES ('test.broken', ?, '{}', 'dead', 0, 8, 8, 'platform said 500', 1, 2, 2)",
           {shop_a});
  int64_t job = query_int(t.app.db(), "SELECT id FROM jobs WHERE kind = 'test.broken'");
  auto jobs = body_of(t.get("/api/admin/jobs", t.token_a));
  REQUIRE(jobs["jobs"].size() == 1);
  CHECK(jobs["jobs"][0]["last_error"] == "platform said 500");
  CHECK(body_of(t.get("/api/admin/jobs", t.token_b))["jobs"].empty());
  std::string retry = "/api/admin/jobs/" + std::to_string(job) + "/retry";
  CHECK(t.post(retry, json::object(), t.token_b).status == 404);
  auto retried = t.post(retry, json::object(), t.token_a);
  REQUIRE(retried.status == 200);
  CHECK(body_of(retried)["job"]["state"] == "scheduled");
  CHECK(t.post(retry, json::object(), t.token_a).status == 409);  // no longer dead
  CHECK(body_of(t.get("/api/admin/jobs", t.token_a))["jobs"].empty());

  exec_sql(
      t.app.db(),
      "INSERT INTO data_exports (shop_id, customer_id, data_request_id, created_at_ms, content) "
      "VALUES (?, 191167, 9999, 5, ?)",
      {shop_a, std::string(R"({"customer":{"id":191167,"email":"john@example.com"}})")});
  auto exports = body_of(t.get("/api/admin/exports", t.token_a));
  REQUIRE(exports["exports"].size() == 1);
  int64_t export_id = exports["exports"][0]["id"];
  CHECK(exports["exports"][0]["data_request_id"] == 9999);
  CHECK(body_of(t.get("/api/admin/exports", t.token_b))["exports"].empty());
  std::string export_path = "/api/admin/exports/" + std::to_string(export_id);
  CHECK(body_of(t.get(export_path, t.token_a))["export"]["content"]["customer"]["id"] == 191167);
  CHECK(t.get(export_path, t.token_b).status == 404);
}

TEST_CASE("the merchant page and its files are served", "[admin][page]") {
  RunningApp app;
  auto page = app.http().get("/admin");
  REQUIRE(page.status == 200);
  CHECK(page.header("Content-Type").starts_with("text/html"));
  CHECK(page.body.find("<title>Afterglow</title>") != std::string::npos);
  CHECK(page.body.find("app-bridge.js") == std::string::npos);  // not embedded: no App Bridge
  CHECK(page.header("Content-Security-Policy").find("frame-ancestors 'none'") != std::string::npos);

  auto embedded = app.http().get("/admin?embedded=1&shop=shop-a.myshopify.com&host=abc");
  CHECK(embedded.body.find("https://cdn.shopify.com/shopifycloud/app-bridge.js") !=
        std::string::npos);
  CHECK(embedded.body.find(R"(<meta name="shopify-api-key" content="test-api-key">)") !=
        std::string::npos);
  CHECK(embedded.header("Content-Security-Policy")
            .find("frame-ancestors https://shop-a.myshopify.com https://admin.shopify.com") !=
        std::string::npos);

  CHECK(app.http().get("/admin/admin.js").header("Content-Type").starts_with("text/javascript"));
  CHECK(app.http().get("/admin/admin.css").header("Content-Type").starts_with("text/css"));
  CHECK(app.http().get("/admin/nope.js").status == 404);
}

TEST_CASE("development login: the printed link works once, then the next one does",
          "[admin][dev-login]") {
  RunningApp app(Env{{"DEV_MODE", "1"}});
  seed_installed_shop(app.db(), kDemoShop);
  auto codes = login_codes(app.server().log());
  REQUIRE(codes.size() == 1);

  json body{{"code", codes[0]}};
  auto first =
      app.http().post("/api/admin/dev-login", body.dump(), {{"Content-Type", "application/json"}});
  REQUIRE(first.status == 200);
  json session = body_of(first);
  CHECK(session["shop"] == kDemoShop);
  CHECK(session["expires_at_ms"].get<int64_t>() > unix_now() * 1000);

  auto me = app.http().get("/api/admin/session", bearer(session["token"]));
  REQUIRE(me.status == 200);
  CHECK(body_of(me)["shop"] == kDemoShop);
  CHECK(body_of(me)["development"] == true);
  CHECK(
      app.http().post("/api/admin/offers", offer_body().dump(), bearer(session["token"])).status ==
      201);

  // Single use: the same code again is refused.
  auto again =
      app.http().post("/api/admin/dev-login", body.dump(), {{"Content-Type", "application/json"}});
  require_401(again);
  // A new link was printed, and it works once too.
  codes = login_codes(app.server().log());
  REQUIRE(codes.size() == 2);
  CHECK(codes[1] != codes[0]);
  CHECK(app.http()
            .post("/api/admin/dev-login", json{{"code", codes[1]}}.dump(),
                  {{"Content-Type", "application/json"}})
            .status == 200);
  require_401(app.http().post("/api/admin/dev-login", json{{"code", "0123"}}.dump(),
                              {{"Content-Type", "application/json"}}));
}

TEST_CASE("without DEV_MODE there is no login link, no exchange and no dev session",
          "[admin][dev-login]") {
  RunningApp app;
  seed_installed_shop(app.db(), kDemoShop);
  CHECK(login_codes(app.server().log()).empty());
  auto r = app.http().post("/api/admin/dev-login", R"({"code":"0123456789abcdef"})",
                           {{"Content-Type", "application/json"}});
  CHECK(r.status == 404);

  // A token made exactly like a dev session (the key derived from the app secret) is refused.
  std::string dev_key =
      crypto::hmac_sha256(app.sandbox().api_secret(), "afterglow dev admin session v1");
  int64_t now = unix_now();
  json claims{{"iss", "afterglow-dev-login"},
              {"aud", "afterglow-dev-admin"},
              {"dest", std::string("https://") + kDemoShop},
              {"sub", "dev"},
              {"iat", now},
              {"nbf", now},
              {"exp", now + 600},
              {"jti", "x"}};
  require_401(app.http().get("/api/admin/session", bearer(sign_admin_session(claims, dev_key))));
}

TEST_CASE("a shop's charge ledger is invisible to another shop", "[admin][charges]") {
  TwoShops t;
  int64_t shop_a = query_int(t.app.db(), "SELECT id FROM shops WHERE domain = ?",
                             {std::string(kShopA)});
  exec_sql(t.app.db(),
           "INSERT INTO charges (shop_id, order_id, offer_id, charge_key, idempotency_key, "
           "stripe_account, customer, payment_method, product_id, variant_id, quantity, "
           "amount_minor, discount_minor, currency, state, created_at_ms, updated_at_ms) VALUES "
           "(?, 1001, 7, 'ag:a:1001:7', 'ag:a:1001:7:pi', 'acct_A1b2C3', 'cus_a', 'pm_a', 1, 11, 1, "
           "1500, 0, 'USD', 'appended', 1, 1)",
           {shop_a});
  int64_t id = query_int(t.app.db(), "SELECT id FROM charges");
  auto mine = t.get("/api/admin/charges/" + std::to_string(id), t.token_a);
  INFO(mine.body);
  REQUIRE(mine.status == 200);
  CHECK(body_of(mine)["charge"]["amount"] == "15.00");
  CHECK(body_of(t.get("/api/admin/charges", t.token_a))["charges"].size() == 1);
  CHECK(t.get("/api/admin/charges/" + std::to_string(id), t.token_b).status == 404);
  CHECK(body_of(t.get("/api/admin/charges", t.token_b))["charges"].empty());
  CHECK(t.get("/api/admin/charges/not-a-number", t.token_a).status == 404);
}

TEST_CASE("a seed flow is switched on from its template and stays the shop's own",
          "[admin][flows]") {
  TwoShops t;
  auto listed = body_of(t.get("/api/admin/flow-templates", t.token_a));
  REQUIRE(listed["templates"].size() == 4);
  CHECK(listed["templates"][0]["key"] == "post_purchase_cross_sell");
  CHECK(listed["templates"][1]["flow"]["trigger"] == "checkout_abandoned");

  auto made = t.post("/api/admin/flow-templates/cart_upsell", json{{"status", "live"}}, t.token_a);
  REQUIRE(made.status == 201);
  json flow = body_of(made)["flow"];
  CHECK(flow["status"] == "live");
  CHECK(flow["name"] == "Cart upsell");
  int64_t id = flow["id"].get<int64_t>();
  CHECK(body_of(t.get("/api/admin/flows", t.token_a))["flows"].size() == 1);
  CHECK(body_of(t.get("/api/admin/flows", t.token_b))["flows"].empty());

  // Default draft: the merchant reviews before anything is sent.
  auto draft = t.post("/api/admin/flow-templates/browse_upsell", json::object(), t.token_a);
  REQUIRE(draft.status == 201);
  CHECK(body_of(draft)["flow"]["status"] == "draft");

  CHECK(t.post("/api/admin/flow-templates/cart_upsell", json{{"status", "paused!"}}, t.token_a)
            .status == 400);
  CHECK(t.post("/api/admin/flow-templates/no_such_template", json::object(), t.token_a).status ==
        404);
  auto report = t.get("/api/admin/flows/" + std::to_string(id) + "/report", t.token_a);
  CHECK(report.status == 200);
  CHECK(t.get("/api/admin/flows/" + std::to_string(id) + "/report", t.token_b).status == 404);
  CHECK(t.get("/api/admin/customers/42/messaging", t.token_a).status == 200);
}
