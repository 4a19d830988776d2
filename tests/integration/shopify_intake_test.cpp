// POST /webhooks/shopify against the real binary over HTTPS: what is acknowledged is stored once
// and processed once; what is not authentic or not well-formed is refused and leaves no trace.
#include <catch2/catch.hpp>

#include <latch>
#include <nlohmann/json.hpp>
#include <thread>

#include "tests/support/sandbox.h"
#include "tests/support/shopify_payloads.h"
#include "tests/support/test_db.h"

using namespace afterglow::testing;
using nlohmann::json;

namespace {

constexpr const char* kShop = "example.myshopify.com";

ShopifyDelivery order_delivery(const std::string& webhook_id, const OrderPayload& order = {}) {
  ShopifyDelivery d;
  d.topic = "orders/create";
  d.shop_domain = kShop;
  d.webhook_id = webhook_id;
  d.body = order_json(order);
  return d;
}

int64_t inbox_rows(RunningApp& app) {
  return query_int(app.db(), "SELECT COUNT(*) FROM webhook_inbox");
}
int64_t job_rows(RunningApp& app) { return query_int(app.db(), "SELECT COUNT(*) FROM jobs"); }

// The {"error": {"code", "message"}} body of a refusal.
json error_of(const HttpResponse& res) {
  json j = json::parse(res.body, nullptr, false);
  REQUIRE(j.is_object());
  REQUIRE(j.contains("error"));
  return j["error"];
}

}  // namespace

TEST_CASE("a signed orders/create is acknowledged, stored, and stored as an order after a drain",
          "[shopify][intake]") {
  RunningApp app;
  OrderPayload order;
  auto res = app.post_shopify(order_delivery("wh-valid-1", order));
  REQUIRE(res.error == "");
  REQUIRE(res.status == 200);
  CHECK(json::parse(res.body) == json{{"status", "accepted"}});
  CHECK(res.header("Content-Type").rfind("application/json", 0) == 0);

  // Acknowledged means committed: the row and its job exist before any worker ran.
  auto stored = query_row(app.db(),
                          "SELECT source, shop_domain, topic, api_version, state, body "
                          "FROM webhook_inbox WHERE delivery_id = 'wh-valid-1'");
  REQUIRE(stored);
  CHECK(stored->text(0) == "shopify");
  CHECK(stored->text(1) == kShop);
  CHECK(stored->text(2) == "orders/create");
  CHECK(stored->text(3) == "2025-07");
  CHECK(stored->text(4) == "received");
  CHECK(stored->text(5) == order_json(order));  // the raw bytes, as signed
  CHECK(query_int(app.db(), "SELECT COUNT(*) FROM jobs WHERE state = 'scheduled'") == 1);

  CHECK(app.drain() == 1);

  CHECK(query_row(app.db(), "SELECT state FROM webhook_inbox WHERE delivery_id = 'wh-valid-1'")
            ->text(0) == "processed");
  CHECK(query_int(app.db(), "SELECT COUNT(*) FROM jobs WHERE state = 'done'") == 1);
  auto o = query_row(app.db(),
                     "SELECT o.order_id, o.financial_status, o.total_price_minor, "
                     "o.presentment_total_minor, o.email, o.currency, s.domain "
                     "FROM orders o JOIN shops s ON s.id = o.shop_id");
  REQUIRE(o);
  CHECK(o->i64(0) == 820982911946154508);  // above 2^53: exact only if never a double
  CHECK(o->text(1) == "paid");
  CHECK(o->i64(2) == 20900);
  CHECK(o->i64(3) == 19350);
  CHECK(o->text(4) == "jon@example.com");
  CHECK(o->text(5) == "USD");
  CHECK(o->text(6) == kShop);
  CHECK(query_int(app.db(), "SELECT COUNT(*) FROM order_lines WHERE line_item_id = ?",
                  {int64_t{866550311766439020}}) == 1);
  CHECK(query_int(app.db(), "SELECT COUNT(*) FROM customers WHERE customer_id = ?",
                  {int64_t{115310627314723954}}) == 1);
}

TEST_CASE("a body changed after signing is refused with 401 and not stored", "[shopify][auth]") {
  RunningApp app;
  ShopifyDelivery d = order_delivery("wh-tampered");
  Headers headers = shopify_headers(app.sandbox().api_secret(), d);
  std::string tampered = d.body;
  tampered.replace(tampered.find("209.00"), 6, "  1.00");
  auto res = app.http().post("/webhooks/shopify", tampered, headers);
  CHECK(res.status == 401);
  CHECK(error_of(res)["code"] == "unauthenticated");
  CHECK(inbox_rows(app) == 0);
  CHECK(job_rows(app) == 0);
}

TEST_CASE("a delivery signed with another secret is refused with 401", "[shopify][auth]") {
  RunningApp app;
  ShopifyDelivery d = order_delivery("wh-other-secret");
  auto res = app.http().post("/webhooks/shopify", d.body,
                             shopify_headers("shpss_not_our_secret", d));
  CHECK(res.status == 401);
  CHECK(inbox_rows(app) == 0);
}

TEST_CASE("a delivery without X-Shopify-Hmac-Sha256 is refused with 401", "[shopify][auth]") {
  RunningApp app;
  ShopifyDelivery d = order_delivery("wh-no-hmac");
  Headers headers =
      without_header(shopify_headers(app.sandbox().api_secret(), d), "X-Shopify-Hmac-Sha256");
  auto res = app.http().post("/webhooks/shopify", d.body, headers);
  CHECK(res.status == 401);
  CHECK(error_of(res)["message"].get<std::string>().find("X-Shopify-Hmac-Sha256") !=
        std::string::npos);
  CHECK(inbox_rows(app) == 0);
}

TEST_CASE("each missing required Shopify header is refused with 400 naming it",
          "[shopify][validation]") {
  RunningApp app;
  for (const char* header : {"X-Shopify-Topic", "X-Shopify-Shop-Domain", "X-Shopify-Webhook-Id",
                             "X-Shopify-API-Version"}) {
    {
      INFO("without " << header);
      ShopifyDelivery d = order_delivery(std::string("wh-missing-") + header);
      Headers headers = without_header(shopify_headers(app.sandbox().api_secret(), d), header);
      auto res = app.http().post("/webhooks/shopify", d.body, headers);
      CHECK(res.status == 400);
      json error = error_of(res);
      CHECK(error["code"] == "invalid_argument");
      CHECK(error["message"].get<std::string>().find(header) != std::string::npos);
      CHECK(inbox_rows(app) == 0);
    }
  }
}

TEST_CASE("a shop domain that is not {name}.myshopify.com is refused with 400",
          "[shopify][validation]") {
  RunningApp app;
  for (const char* domain : {"shop.example.com", "evil.myshopify.com.attacker.io",
                             "bad_name.myshopify.com", ".myshopify.com"}) {
    {
      INFO("domain " << domain);
      ShopifyDelivery d = order_delivery(std::string("wh-domain-") + domain);
      d.shop_domain = domain;
      auto res = app.post_shopify(d);
      CHECK(res.status == 400);
      CHECK(error_of(res)["message"].get<std::string>().find("X-Shopify-Shop-Domain") !=
            std::string::npos);
      CHECK(inbox_rows(app) == 0);
    }
  }
}

TEST_CASE("a correctly signed body that is not JSON is refused with a 400 JSON error",
          "[shopify][validation]") {
  RunningApp app;
  ShopifyDelivery d = order_delivery("wh-not-json");
  d.body = "id=820982911946154508&total_price=209.00";
  auto res = app.post_shopify(d);
  CHECK(res.status == 400);
  CHECK(res.header("Content-Type").rfind("application/json", 0) == 0);
  json error = error_of(res);
  CHECK(error["code"] == "invalid_argument");
  CHECK(error["message"].get<std::string>().find("JSON") != std::string::npos);
  CHECK(inbox_rows(app) == 0);
}

TEST_CASE("a signed 2 MiB delivery is refused with 413 and not stored", "[shopify][limits]") {
  RunningApp app;
  OrderPayload big;
  big.note = std::string(2 * 1024 * 1024, 'x');
  ShopifyDelivery d = order_delivery("wh-too-big", big);
  Headers headers = shopify_headers(app.sandbox().api_secret(), d);

  SECTION("sent whole") {
    auto res = app.http().post("/webhooks/shopify", d.body, headers);
    // The server answers from the headers; it may close before all of the body is sent.
    INFO("transport: " << res.error);
    CHECK(res.status == 413);
    if (res.status == 413) CHECK(error_of(res)["code"] == "payload_too_large");
    // The unread body must not be parsed as this connection's next request: the server tells
    // the client to drop the connection.
    CHECK(res.header("Connection") == "close");
  }
  SECTION("refused from Content-Length alone, before any body byte arrives") {
    std::string request = "POST /webhooks/shopify HTTP/1.1\r\nHost: 127.0.0.1\r\n";
    for (const auto& [name, value] : headers) request += name + ": " + value + "\r\n";
    request += "Content-Length: " + std::to_string(d.body.size()) + "\r\n\r\n";
    auto res = app.http().send_raw(request);  // the body is never sent
    REQUIRE(res.error == "");
    CHECK(res.status == 413);
    CHECK(res.has_header("X-Request-Id"));
  }
  CHECK(inbox_rows(app) == 0);
  CHECK(job_rows(app) == 0);
  CHECK(app.http().get("/healthz").status == 200);  // and the server is still serving
}

TEST_CASE("a chunked delivery is refused and not stored", "[shopify][limits]") {
  RunningApp app;
  ShopifyDelivery d = order_delivery("wh-chunked");
  Headers headers = shopify_headers(app.sandbox().api_secret(), d);

  SECTION("Transfer-Encoding: chunked") {
    auto res = app.http().post_chunked("/webhooks/shopify", d.body, headers);
    INFO("transport: " << res.error << " body: " << res.body);
    CHECK((res.status == 400 || res.status == 411));
    CHECK(res.header("Connection") == "close");
  }
  SECTION("no Content-Length and no Transfer-Encoding") {
    std::string request = "POST /webhooks/shopify HTTP/1.1\r\nHost: 127.0.0.1\r\n";
    for (const auto& [name, value] : headers) request += name + ": " + value + "\r\n";
    request += "Connection: close\r\n\r\n" + d.body;
    auto res = app.http().send_raw(request);
    REQUIRE(res.error == "");
    CHECK(res.status == 411);
  }
  CHECK(inbox_rows(app) == 0);
  CHECK(job_rows(app) == 0);
}

TEST_CASE("the same delivery sent 20 times at once is stored once, queued once, processed once",
          "[shopify][dedupe]") {
  RunningApp app;
  const ShopifyDelivery d = order_delivery("wh-concurrent");
  const Headers headers = shopify_headers(app.sandbox().api_secret(), d);
  constexpr int kSenders = 20;
  std::vector<HttpResponse> results(kSenders);
  std::vector<std::unique_ptr<HttpsClient>> clients;
  for (int i = 0; i < kSenders; ++i) clients.push_back(app.new_client());
  std::latch go(kSenders);
  std::vector<std::thread> threads;
  for (int i = 0; i < kSenders; ++i) {
    threads.emplace_back([&, i] {
      go.arrive_and_wait();  // all threads fire together
      results[i] = clients[i]->post("/webhooks/shopify", d.body, headers);
      clients[i].reset();  // closes the connection, freeing the server thread it pinned
    });
  }
  for (auto& t : threads) t.join();

  int accepted = 0, duplicate = 0;
  for (const HttpResponse& r : results) {
    INFO("status " << r.status << " error " << r.error << " body " << r.body);
    REQUIRE(r.status == 200);
    std::string status = json::parse(r.body)["status"];
    accepted += status == "accepted";
    duplicate += status == "duplicate";
  }
  CHECK(accepted == 1);
  CHECK(duplicate == kSenders - 1);
  CHECK(inbox_rows(app) == 1);
  CHECK(job_rows(app) == 1);

  CHECK(app.drain() == 1);
  CHECK(app.drain() == 0);
  CHECK(query_int(app.db(), "SELECT COUNT(*) FROM webhook_inbox WHERE state = 'processed'") == 1);
  CHECK(query_int(app.db(), "SELECT COUNT(*) FROM orders") == 1);
}

TEST_CASE("a delivery acknowledged just before kill -9 survives the restart and is processed once",
          "[shopify][durability]") {
  RunningApp app;
  ShopifyDelivery d = order_delivery("wh-crash");
  REQUIRE(app.post_shopify(d).status == 200);
  app.server().kill9();
  REQUIRE_FALSE(app.server().running());

  app.server().restart();
  // The restarted server knows the delivery: a redelivery by the platform is a duplicate.
  auto again = app.post_shopify(d);
  REQUIRE(again.status == 200);
  CHECK(json::parse(again.body)["status"] == "duplicate");
  CHECK(query_row(app.db(), "SELECT state FROM webhook_inbox WHERE delivery_id = 'wh-crash'")
            ->text(0) == "received");

  CHECK(app.drain() == 1);
  CHECK(app.drain() == 0);
  CHECK(query_row(app.db(), "SELECT state FROM webhook_inbox WHERE delivery_id = 'wh-crash'")
            ->text(0) == "processed");
  CHECK(query_int(app.db(), "SELECT COUNT(*) FROM jobs") == 1);
  CHECK(query_int(app.db(), "SELECT COUNT(*) FROM orders") == 1);
  CHECK(app.stop() == 0);
}
