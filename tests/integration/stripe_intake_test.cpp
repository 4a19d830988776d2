// POST /webhooks/stripe against the real binary over HTTPS (spec/stripe.md §4): a delivery is
// accepted only with a v1 signature of "<t>.<raw body>" under the endpoint secret and a fresh
// timestamp; an event id is stored once.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "tests/support/sandbox.h"
#include "tests/support/test_db.h"

using namespace afterglow::testing;
using nlohmann::json;

namespace {

std::string event_json(const std::string& id, const std::string& type = "payment_intent.succeeded") {
  return json{{"id", id},
              {"object", "event"},
              {"api_version", "2025-02-24.acacia"},
              {"created", 1686089970},
              {"type", type},
              {"livemode", false},
              {"data",
               {{"object",
                 {{"id", "pi_3MtwBwLkdIwHu7ix28a3tqPa"},
                  {"object", "payment_intent"},
                  {"amount", 2000},
                  {"currency", "usd"},
                  {"status", "succeeded"}}}}}}
      .dump();
}

int64_t stripe_rows(RunningApp& app) {
  return query_int(app.db(), "SELECT COUNT(*) FROM webhook_inbox WHERE source = 'stripe'");
}

}  // namespace

TEST_CASE("a correctly signed Stripe event is acknowledged and stored", "[stripe]") {
  RunningApp app;
  std::string body = event_json("evt_valid_1");
  auto res = app.post_stripe(body);
  REQUIRE(res.error == "");
  REQUIRE(res.status == 200);
  CHECK(json::parse(res.body) == json{{"status", "accepted"}});

  auto row = query_row(app.db(),
                       "SELECT topic, api_version, body, state FROM webhook_inbox "
                       "WHERE source = 'stripe' AND delivery_id = 'evt_valid_1'");
  REQUIRE(row);
  CHECK(row->text(0) == "payment_intent.succeeded");
  CHECK(row->text(1) == "2025-02-24.acacia");
  CHECK(row->text(2) == body);
  CHECK(row->text(3) == "received");
  CHECK(query_int(app.db(), "SELECT COUNT(*) FROM jobs WHERE state = 'scheduled'") == 1);

  CHECK(app.drain() == 1);
  // Handled by the checkout module (checkout/payment_events.h): a payment that is neither one of
  // our charges nor a shop's checkout payment is ignored, with the reason.
  auto handled = query_row(
      app.db(), "SELECT state, note FROM webhook_inbox WHERE delivery_id = 'evt_valid_1'");
  REQUIRE(handled);
  CHECK(handled->text(0) == "ignored");
  CHECK_THAT(handled->text(1), Catch::Contains("not an Afterglow payment"));
}

TEST_CASE("a Stripe event changed after signing is refused with 401 and not stored", "[stripe]") {
  RunningApp app;
  std::string body = event_json("evt_tampered");
  Headers headers = stripe_headers(app.sandbox().stripe_webhook_secret(), body, unix_now());
  std::string tampered = body;
  tampered.replace(tampered.find("2000"), 4, "9000");
  auto res = app.http().post("/webhooks/stripe", tampered, headers);
  CHECK(res.status == 401);
  CHECK(json::parse(res.body)["error"]["code"] == "unauthenticated");
  CHECK(stripe_rows(app) == 0);
}

TEST_CASE("a Stripe event signed 400 s ago is refused with 401 as a possible replay", "[stripe]") {
  RunningApp app;
  std::string body = event_json("evt_expired");
  auto res = app.post_stripe(body, unix_now() - 400);  // a valid signature, outside 300 s
  CHECK(res.status == 401);
  CHECK(json::parse(res.body)["error"]["message"].get<std::string>().find("timestamp") !=
        std::string::npos);
  CHECK(stripe_rows(app) == 0);

  // The same body signed now is fine: only the age was wrong.
  CHECK(app.post_stripe(body).status == 200);
}

TEST_CASE("a Stripe event without Stripe-Signature is refused with 401", "[stripe]") {
  RunningApp app;
  auto res = app.http().post("/webhooks/stripe", event_json("evt_unsigned"),
                             {{"Content-Type", "application/json"}});
  CHECK(res.status == 401);
  CHECK(stripe_rows(app) == 0);
}

TEST_CASE("without STRIPE_WEBHOOK_SECRET every Stripe delivery is refused with 401", "[stripe]") {
  RunningApp app(Env{{"STRIPE_WEBHOOK_SECRET", ""}});  // removed from the environment
  std::string body = event_json("evt_unconfigured");
  // Signed with the secret the sandbox would have used, and with an empty one.
  for (const std::string& secret : {app.sandbox().stripe_webhook_secret(), std::string()}) {
    auto res = app.http().post("/webhooks/stripe", body, stripe_headers(secret, body, unix_now()));
    CHECK(res.status == 401);
    CHECK(json::parse(res.body)["error"]["message"].get<std::string>().find(
              "STRIPE_WEBHOOK_SECRET") != std::string::npos);
  }
  CHECK(stripe_rows(app) == 0);
}

TEST_CASE("a Stripe event delivered twice is stored once and answered as a duplicate",
          "[stripe][dedupe]") {
  RunningApp app;
  std::string body = event_json("evt_twice");
  auto first = app.post_stripe(body);
  // Stripe's retry carries a new timestamp and signature for the same event.
  auto second = app.post_stripe(body, unix_now() - 1);
  REQUIRE(first.status == 200);
  REQUIRE(second.status == 200);
  CHECK(json::parse(first.body)["status"] == "accepted");
  CHECK(json::parse(second.body)["status"] == "duplicate");
  CHECK(stripe_rows(app) == 1);
  CHECK(query_int(app.db(), "SELECT COUNT(*) FROM jobs") == 1);
}
