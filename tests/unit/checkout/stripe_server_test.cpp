// The C++ wrapper of the Stripe-compatible test server: it starts the server, talks to it with
// and without a connected account, and drives faults and held requests. The protocol itself is
// covered by tests/stripe_server/server.test.mjs.
#include "tests/support/stripe_server.h"

#include <catch2/catch.hpp>
#include <future>
#include <nlohmann/json.hpp>

namespace afterglow {
namespace {

using nlohmann::json;

std::string upsell_form(const std::string& customer) {
  return "amount=1500&currency=usd&customer=" + customer +
         "&payment_method=pm_card_visa&confirm=true&off_session=true&metadata%5Border_id%5D=1001";
}

TEST_CASE("stripe server wrapper creates a payment intent in a connected account",
          "[stripe_server]") {
  testing::StripeServer server;
  REQUIRE(server.base_url().rfind("http://127.0.0.1:", 0) == 0);
  std::string account = server.create_account();
  REQUIRE(account.rfind("acct_", 0) == 0);
  std::string customer = server.create_customer(account);
  REQUIRE(customer.rfind("cus_", 0) == 0);

  auto [status, body] =
      server.call("POST", "/v1/payment_intents", upsell_form(customer), account, "order-1001");
  REQUIRE(status == 200);
  json pi = json::parse(body);
  CHECK(pi["status"] == "succeeded");
  CHECK(pi["metadata"]["order_id"] == "1001");

  json all = server.payment_intents();
  REQUIRE(all.size() == 1);
  CHECK(all[0]["id"] == pi["id"]);
  CHECK(all[0]["account"] == account);

  // The customer lives in the connected account only.
  CHECK(server.call("POST", "/v1/payment_intents", upsell_form(customer)).first == 400);
  CHECK(server.payment_intents().size() == 1);
}

TEST_CASE("stripe server wrapper injects a stored 500", "[stripe_server]") {
  testing::StripeServer server;
  std::string customer = server.create_customer();
  server.fault("POST", "/v1/payment_intents", "500");
  auto first = server.call("POST", "/v1/payment_intents", upsell_form(customer), "", "k-500");
  CHECK(first.first == 500);
  auto retry = server.call("POST", "/v1/payment_intents", upsell_form(customer), "", "k-500");
  CHECK(retry.first == 500);
  CHECK(retry.second == first.second);
  CHECK(server.payment_intents().empty());

  json requests = server.requests();
  REQUIRE(requests.size() == 3);  // the customer, then the two payment intent attempts
  CHECK(requests[1]["replayed"] == false);
  CHECK(requests[2]["replayed"] == true);
  CHECK(requests[2]["status"] == 500);
}

TEST_CASE("stripe server wrapper holds a request while its key is in use", "[stripe_server]") {
  testing::StripeServer server;
  std::string customer = server.create_customer();
  server.hold("POST", "/v1/payment_intents");
  auto held = std::async(std::launch::async, [&] {
    return server.call("POST", "/v1/payment_intents", upsell_form(customer), "", "k-held");
  });
  REQUIRE(server.wait_held(1, std::chrono::seconds(10)));
  auto concurrent = server.call("POST", "/v1/payment_intents", upsell_form(customer), "", "k-held");
  CHECK(concurrent.first == 409);
  CHECK(json::parse(concurrent.second)["error"]["code"] == "idempotency_key_in_use");
  server.release();
  auto [status, body] = held.get();
  CHECK(status == 200);
  CHECK(server.payment_intents().size() == 1);
}

TEST_CASE("stripe server wrapper reports a dropped connection as status 0", "[stripe_server]") {
  testing::StripeServer server;
  std::string customer = server.create_customer();
  server.fault("POST", "/v1/payment_intents", "drop_after");
  auto dropped = server.call("POST", "/v1/payment_intents", upsell_form(customer), "", "k-drop");
  CHECK(dropped.first == 0);
  REQUIRE(server.payment_intents().size() == 1);  // executed before the connection was closed
  auto retry = server.call("POST", "/v1/payment_intents", upsell_form(customer), "", "k-drop");
  CHECK(retry.first == 200);
  CHECK(json::parse(retry.second)["id"] == server.payment_intents()[0]["id"]);
}

}  // namespace
}  // namespace afterglow
