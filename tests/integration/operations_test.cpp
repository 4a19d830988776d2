// What operators rely on: health and metrics endpoints, request ids, start-up validation,
// graceful shutdown, logs that never carry secrets, and a server that survives rude clients.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>
#include <regex>
#include <set>

#include "tests/support/sandbox.h"
#include "tests/support/shopify_payloads.h"
#include "tests/support/test_db.h"

using namespace afterglow::testing;
using nlohmann::json;

namespace {

ShopifyDelivery order_delivery(const std::string& webhook_id) {
  ShopifyDelivery d;
  d.shop_domain = "example.myshopify.com";
  d.webhook_id = webhook_id;
  d.body = order_json({});
  return d;
}

// The value of the sample `name{labels}` in a Prometheus exposition, or -1 when absent. `labels`
// must be written exactly as rendered.
double sample(const std::string& exposition, const std::string& name_and_labels) {
  std::string prefix = name_and_labels + " ";
  size_t pos = 0;
  while ((pos = exposition.find(prefix, pos)) != std::string::npos) {
    if (pos == 0 || exposition[pos - 1] == '\n') {
      return std::strtod(exposition.c_str() + pos + prefix.size(), nullptr);
    }
    pos += prefix.size();
  }
  return -1;
}

}  // namespace

TEST_CASE("/healthz and /readyz answer 200 once the server is up", "[ops]") {
  RunningApp app;
  auto health = app.http().get("/healthz");
  CHECK(health.status == 200);
  CHECK(json::parse(health.body)["status"] == "ok");
  auto ready = app.http().get("/readyz");
  CHECK(ready.status == 200);
  CHECK(json::parse(ready.body)["status"] == "ready");
  // Both over one kept-alive TLS connection.
  CHECK(app.http().connections_opened() == 1);
}

TEST_CASE("/metrics counts accepted, duplicate and rejected webhooks and reports jobs by state",
          "[ops][metrics]") {
  RunningApp app;
  ShopifyDelivery d = order_delivery("wh-metrics");
  REQUIRE(app.post_shopify(d).status == 200);
  REQUIRE(app.post_shopify(d).status == 200);
  REQUIRE(app.post_shopify(d).status == 200);
  ShopifyDelivery forged = order_delivery("wh-forged");
  REQUIRE(app.http()
              .post("/webhooks/shopify", forged.body, shopify_headers("shpss_wrong", forged))
              .status == 401);

  auto res = app.http().get("/metrics");
  REQUIRE(res.status == 200);
  CHECK(res.header("Content-Type").find("text/plain") == 0);
  const std::string& m = res.body;
  INFO(m);
  CHECK(m.find("# TYPE afterglow_webhooks_received_total counter") != std::string::npos);
  CHECK(sample(m, R"(afterglow_webhooks_received_total{source="shopify",topic="orders/create",result="accepted"})") == 1);
  CHECK(sample(m, R"(afterglow_webhooks_received_total{source="shopify",topic="orders/create",result="duplicate"})") == 2);
  CHECK(sample(m, R"(afterglow_webhooks_received_total{source="shopify",topic="unknown",result="rejected"})") == 1);
  CHECK(m.find("# TYPE afterglow_jobs gauge") != std::string::npos);
  CHECK(sample(m, R"(afterglow_jobs{state="scheduled"})") == 1);
  CHECK(sample(m, R"(afterglow_jobs{state="done"})") == 0);

  // The gauge reads the database at scrape time, so work done by another process shows.
  REQUIRE(app.drain() == 1);
  std::string after = app.http().get("/metrics").body;
  CHECK(sample(after, R"(afterglow_jobs{state="scheduled"})") == 0);
  CHECK(sample(after, R"(afterglow_jobs{state="done"})") == 1);
}

TEST_CASE("every response carries a fresh X-Request-Id", "[ops]") {
  RunningApp app;
  ShopifyDelivery d = order_delivery("wh-request-id");
  Headers signed_headers = shopify_headers(app.sandbox().api_secret(), d);
  std::vector<std::pair<std::string, HttpResponse>> responses;
  responses.emplace_back("healthz", app.http().get("/healthz"));
  responses.emplace_back("readyz", app.http().get("/readyz"));
  responses.emplace_back("metrics", app.http().get("/metrics"));
  responses.emplace_back("404", app.http().get("/no/such/route"));
  responses.emplace_back("accepted", app.http().post("/webhooks/shopify", d.body, signed_headers));
  responses.emplace_back("duplicate", app.http().post("/webhooks/shopify", d.body, signed_headers));
  responses.emplace_back("401", app.http().post("/webhooks/shopify", d.body, {}));
  responses.emplace_back(
      "400", app.http().post("/webhooks/shopify", d.body,
                             without_header(signed_headers, "X-Shopify-Topic")));
  responses.emplace_back("stripe 401", app.http().post("/webhooks/stripe", "{}", {}));
  responses.emplace_back("chunked", app.new_client()->post_chunked("/webhooks/shopify", d.body,
                                                                   signed_headers));
  responses.emplace_back(
      "413", app.http().send_raw("POST /webhooks/shopify HTTP/1.1\r\nHost: x\r\n"
                                 "Content-Length: 5000000\r\n\r\n"));
  responses.emplace_back(
      "411", app.http().send_raw("POST /webhooks/shopify HTTP/1.1\r\nHost: x\r\n"
                                 "Connection: close\r\n\r\n"));

  std::set<std::string> ids;
  std::set<long> statuses;
  for (const auto& [what, res] : responses) {
    INFO(what << ": status " << res.status << " " << res.error);
    REQUIRE(res.status != 0);
    std::string id = res.header("X-Request-Id");
    CHECK(std::regex_match(id, std::regex("[0-9a-f]{16}")));
    ids.insert(id);
    statuses.insert(res.status);
  }
  CHECK(ids.size() == responses.size());  // one id per request
  CHECK(statuses == std::set<long>{200, 400, 401, 404, 411, 413});
}

TEST_CASE("a request the server cannot parse still gets an X-Request-Id of its own", "[ops]") {
  RunningApp app;
  // Alone on a fresh connection, and after a good request on the same connection (the server
  // thread then still remembers the previous request).
  auto alone = app.http().send_raw("NOT-HTTP\r\n\r\n");
  auto pair = app.http().send_raw_sequence(
      {"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", "NOT-HTTP\r\n\r\n"});
  REQUIRE(alone.status == 400);
  REQUIRE(pair.size() == 2);
  REQUIRE(pair[0].status == 200);
  INFO(pair[1].error);
  REQUIRE(pair[1].status == 400);
  std::regex id("[0-9a-f]{16}");
  CHECK(std::regex_match(alone.header("X-Request-Id"), id));
  CHECK(std::regex_match(pair[1].header("X-Request-Id"), id));
  CHECK(pair[1].header("X-Request-Id") != pair[0].header("X-Request-Id"));
  CHECK(json::parse(pair[1].body)["error"]["code"] == "invalid_argument");
}

TEST_CASE("SIGTERM stops the server gracefully with exit status 0", "[ops]") {
  RunningApp app;
  REQUIRE(app.http().get("/healthz").status == 200);
  CHECK(app.stop() == 0);
  CHECK(app.server().log().find(R"("msg":"stopped")") != std::string::npos);
}

TEST_CASE("serve without APP_API_SECRET refuses to start and names the key", "[ops][config]") {
  Sandbox sandbox;
  Env env = sandbox.env();
  env.erase("APP_API_SECRET");
  CliResult r = run_cli({"serve"}, env, std::chrono::seconds(10));
  CHECK(r.status != 0);
  CHECK(r.status != -1);  // it exited on its own rather than serving until killed
  CHECK(r.err.find("APP_API_SECRET") != std::string::npos);

  // Started as a server, the failure surfaces at once with the reason, not as a timeout.
  CHECK_THROWS_WITH(ServerProcess(env, sandbox.log_path()),
                    Catch::Contains("exited before reporting its ports") &&
                        Catch::Contains("APP_API_SECRET is required"));
}

TEST_CASE("the secrets and signature values never appear in the server's log",
          "[ops][security]") {
  RunningApp app(Env{{"LOG_LEVEL", "debug"}, {"APP_API_SECRET_PREVIOUS", "shpss_previous_secret_1"}});
  const std::string& secret = app.sandbox().api_secret();
  const std::string& stripe_secret = app.sandbox().stripe_webhook_secret();

  ShopifyDelivery good = order_delivery("wh-log-good");
  Headers good_headers = shopify_headers(secret, good);
  ShopifyDelivery bad = order_delivery("wh-log-bad");
  Headers bad_headers = shopify_headers("shpss_attacker_guess", bad);
  std::string stripe_body = R"({"id":"evt_log_1","type":"payment_intent.succeeded","object":"event"})";
  Headers stripe_good = stripe_headers(stripe_secret, stripe_body, unix_now());
  Headers stripe_bad = stripe_headers("whsec_attacker_guess", stripe_body, unix_now());

  REQUIRE(app.http().post("/webhooks/shopify", good.body, good_headers).status == 200);
  REQUIRE(app.http().post("/webhooks/shopify", bad.body, bad_headers).status == 401);
  REQUIRE(app.http().post("/webhooks/stripe", stripe_body, stripe_good).status == 200);
  REQUIRE(app.http().post("/webhooks/stripe", stripe_body, stripe_bad).status == 401);
  REQUIRE(app.stop() == 0);  // everything is flushed

  std::string log = app.server().log();
  REQUIRE(log.find(R"("msg":"request")") != std::string::npos);  // the log did record requests
  auto header = [](const Headers& h, const char* name) {
    for (const auto& [k, v] : h) {
      if (k == name) return v;
    }
    return std::string();
  };
  for (const std::string& needle :
       {secret, std::string("shpss_previous_secret_1"), stripe_secret,
        header(good_headers, "X-Shopify-Hmac-Sha256"), header(bad_headers, "X-Shopify-Hmac-Sha256"),
        header(stripe_good, "Stripe-Signature"), header(stripe_bad, "Stripe-Signature"),
        header(stripe_good, "Stripe-Signature").substr(header(stripe_good, "Stripe-Signature").find("v1=") + 3)}) {
    INFO("looking for " << needle);
    CHECK(log.find(needle) == std::string::npos);
  }
}

TEST_CASE("a client that hangs up before reading its responses does not take the server down",
          "[ops][robustness]") {
  RunningApp app;
  std::string pipelined;
  for (int i = 0; i < 50; ++i) pipelined += "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
  for (int i = 0; i < 3; ++i) CHECK(app.http().send_and_hang_up(pipelined) == "");
  auto res = app.new_client()->get("/healthz");
  INFO("log tail:\n" << app.server().log_tail());
  CHECK(res.status == 200);
  CHECK(app.server().running());
}
