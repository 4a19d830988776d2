// The thank-you page's one-click offer end to end, against our real binary over HTTPS with the
// Stripe-compatible server (tests/stripe_server, delivering signed webhooks back to us) and the
// fake platform on loopback: the checkout's own payment arrives by webhook and becomes the
// stored card; /checkout/offers shows the offer; /checkout/accept charges it once, however
// often and however concurrently it is clicked; a worker appends the item to the order, paid;
// the merchant reads the ledger; 3-D Secure completes by webhook.
#include <catch2/catch.hpp>
#include <chrono>
#include <ctime>
#include <nlohmann/json.hpp>
#include <mutex>
#include <set>
#include <thread>

#include "plugin/core/crypto.h"
#include "plugin/core/jwt.h"
#include "plugin/core/oauth_query.h"
#include "tests/support/admin_session.h"
#include "tests/support/fake_platform.h"
#include "tests/support/sandbox.h"
#include "tests/support/shopify_payloads.h"
#include "tests/support/stripe_server.h"
#include "tests/support/test_db.h"

using namespace afterglow::testing;
using afterglow::CatalogProduct;
using afterglow::CatalogVariant;
using nlohmann::json;

namespace {

constexpr const char* kShop = "glow.myshopify.com";
constexpr int64_t kOrderId = 820982911946154508;
constexpr int64_t kProductId = 9001;
constexpr int64_t kVariantId = 90011;
const std::string kSecret = "shpss_" + afterglow::crypto::random_hex(16);
const std::string kEncryptionKey =
    afterglow::crypto::base64_encode(afterglow::crypto::random_bytes(32));

std::string iso_now() {
  std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

// Waits for `pred` (a condition on state another process changes), polling, up to `timeout`.
template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return pred();
}

CatalogProduct diffuser() {
  CatalogProduct p;
  p.id = kProductId;
  p.title = "Reed Diffuser";
  p.handle = "reed-diffuser";
  p.status = "active";
  p.updated_at_ms = 1'700'000'000'000;
  CatalogVariant v;
  v.id = kVariantId;
  v.title = "Cedar";
  v.position = 1;
  v.price = "20.00";
  v.inventory_quantity = 50;
  p.variants.push_back(v);
  return p;
}

FakePlatform::Options platform_options() {
  FakePlatform::Options o;
  o.client_id = kTestApiKey;
  o.client_secret = kSecret;
  return o;
}

CatalogProduct candle() {
  CatalogProduct p = diffuser();
  p.id = kProductId + 1;
  p.title = "Cedar Candle";
  p.handle = "cedar-candle";
  p.variants[0].id = kVariantId + 10;
  p.variants[0].price = "10.00";
  return p;
}

struct CheckoutApp {
  // `more` are further products in the shop's catalogue.
  explicit CheckoutApp(const std::string& card = "pm_card_visa",
                       const std::vector<CatalogProduct>& more = {})
      : platform(platform_options()),
        app({{"APP_API_KEY", kTestApiKey},
             {"APP_API_SECRET", kSecret},
             {"PLATFORM_API_BASE", platform.base_url()},
             {"PLATFORM_CA_FILE", platform.ca_file()},
             {"TOKEN_ENCRYPTION_KEY", kEncryptionKey},
             {"STRIPE_SECRET_KEY", StripeServer::secret_key()},
             {"STRIPE_API_BASE", stripe.base_url()}}) {
    stripe.set_webhook(app.server().https_url() + "/webhooks/stripe",
                       app.sandbox().stripe_webhook_secret(), app.sandbox().cert().cert_path);
    platform.set_currency(kShop, "USD");
    platform.put_product(kShop, diffuser());
    for (const CatalogProduct& p : more) platform.put_product(kShop, p);
    platform.add_order(kShop, kOrderId);
    install();
    REQUIRE(app.drain() >= 1);  // the first catalog sync
    account = stripe.create_account();
    customer = stripe.create_customer(account);
    admin = admin_session_token(kShop, kSecret);
    auto settings = app.http().send("PUT", "/api/admin/settings",
                                    json{{"stripe_account_id", account}}.dump(), bearer(admin));
    REQUIRE(settings.status == 200);
    json offer = {{"kind", "upsell"},
                  {"title", "Reed Diffuser"},
                  {"headline", "Add a diffuser for 25% off"},
                  {"product_id", kProductId},
                  {"variant_id", kVariantId},
                  {"quantity", 1},
                  {"discount", {{"type", "percent"}, {"percent", 25}}},
                  {"catch_all", true}};
    auto made = app.http().post("/api/admin/offers", offer.dump(), bearer(admin));
    INFO(made.body);
    REQUIRE(made.status == 201);
    offer_id = json::parse(made.body)["offer"]["id"].get<int64_t>();

    OrderPayload order;
    order.id = kOrderId;
    order.presentment_currency = "USD";
    order.presentment_total = order.total_price;
    order.created_at = iso_now();
    order.updated_at = order.created_at;
    ShopifyDelivery delivery{"orders/create", kShop, "order-1", "2025-07", order_json(order)};
    REQUIRE(app.http()
                .post("/webhooks/shopify", delivery.body, shopify_headers(kSecret, delivery))
                .status == 200);
    REQUIRE(app.drain() >= 1);
    pay_checkout(card);
  }

  // Token exchange, as an embedded load does.
  void install() {
    afterglow::oauth::QueryParams q = {{"shop", kShop},
                                       {"embedded", "1"},
                                       {"id_token", platform.session_token(kShop)},
                                       {"timestamp", std::to_string(unix_now())}};
    q.emplace_back("hmac", afterglow::oauth::query_hmac(q, kSecret));
    std::string query;
    for (const auto& [k, v] : q) {
      query += (query.empty() ? "" : "&") + k + "=" + afterglow::oauth::form_encode(v);
    }
    auto res = app.http().get("/auth/install?" + query);
    INFO(res.body);
    REQUIRE(res.status == 302);
  }

  // The storefront's checkout pays with a saved card; Stripe tells us by webhook.
  void pay_checkout(const std::string& card) {
    std::string form = "amount=20900&currency=usd&confirm=true&payment_method_types[]=card"
                       "&setup_future_usage=off_session&customer=" +
                       customer + "&payment_method=" + card + "&metadata[shop]=" + kShop +
                       "&metadata[order_id]=" + std::to_string(kOrderId);
    auto [status, body] = stripe.call("POST", "/v1/payment_intents", form, account, "checkout-1");
    INFO(body);
    // A 3-D Secure card needs authentication on this first, on-session payment too.
    if (status == 200 && json::parse(body)["status"] == "requires_action") {
      stripe.authenticate(json::parse(body)["id"], true);
    } else {
      REQUIRE(status == 200);
    }
    REQUIRE(eventually([&] {
      return query_int(app.db(),
                       "SELECT COUNT(*) FROM webhook_inbox WHERE source = 'stripe' AND "
                       "topic = 'payment_intent.succeeded'") >= 1;
    }));
    app.drain();
    REQUIRE(query_int(app.db(), "SELECT COUNT(*) FROM order_payments WHERE order_id = ?",
                      {kOrderId}) == 1);
  }

  std::string session_token() const {
    int64_t now = unix_now();
    json claims = {{"dest", kShop},       {"aud", kTestApiKey}, {"iat", now},
                   {"nbf", now},          {"exp", now + 300},   {"jti", afterglow::crypto::random_hex(8)},
                   {"sub", "gid://shopify/Customer/115310627314723954"}};
    return afterglow::jwt::sign(claims, kSecret);
  }

  json offers() {
    auto res = app.http().post(
        "/checkout/offers",
        json{{"surface", "thank_you"}, {"orderId", "gid://shopify/Order/" + std::to_string(kOrderId)}}
            .dump(),
        bearer(session_token()));
    INFO(res.body);
    REQUIRE(res.status == 200);
    return json::parse(res.body)["offers"];
  }

  static json accept_body(const json& offer) {
    return json{{"surface", "thank_you"},
                {"orderId", "gid://shopify/Order/" + std::to_string(kOrderId)},
                {"offerId", offer["id"]},
                {"offerToken", offer["token"]}};
  }

  HttpResponse accept(HttpsClient& client, const json& offer) {
    return client.post("/checkout/accept", accept_body(offer).dump(), bearer(session_token()));
  }

  std::vector<json> upsell_intents() const {
    std::vector<json> out;
    for (const json& pi : stripe.payment_intents()) {
      if (pi.contains("metadata") && pi["metadata"].contains("afterglow_charge")) out.push_back(pi);
    }
    return out;
  }

  StripeServer stripe;
  FakePlatform platform;
  RunningApp app;
  std::string account, customer, admin;
  int64_t offer_id = 0;
};

}  // namespace

TEST_CASE("one click on the thank-you page charges once and adds the item to the order, paid",
          "[checkout][one-click]") {
  CheckoutApp t;
  json offers = t.offers();
  REQUIRE(offers.size() == 1);
  const json& offer = offers[0];
  CHECK(offer["productTitle"] == "Reed Diffuser");
  CHECK(offer["pricing"]["total"]["amount"] == "15.00");

  auto res = t.accept(t.app.http(), offer);
  INFO(res.body);
  REQUIRE(res.status == 200);
  json out = json::parse(res.body);
  CHECK(out["status"] == "succeeded");
  CHECK(out["charged"]["amount"] == "15.00");
  auto intents = t.upsell_intents();
  REQUIRE(intents.size() == 1);
  CHECK(intents[0]["amount"] == 1500);
  CHECK(intents[0]["account"] == t.account);
  CHECK(intents[0]["customer"] == t.customer);

  // The same click again: the same answer, nothing charged.
  auto again = t.accept(t.app.http(), offer);
  REQUIRE(again.status == 200);
  CHECK(json::parse(again.body)["status"] == "succeeded");
  CHECK(t.upsell_intents().size() == 1);

  // A worker appends the item to the platform order and marks it paid.
  CHECK(t.app.drain() >= 1);
  auto order = t.platform.order(kShop, kOrderId);
  REQUIRE(order);
  REQUIRE(order->lines.size() == 1);
  CHECK(order->lines[0].variant_id == kVariantId);
  CHECK(order->lines[0].unit_price_minor - order->lines[0].discount_minor == 1500);
  CHECK(order->financial_status == "PAID");

  // The merchant's ledger: key, PaymentIntent, amount and every state with its reason.
  auto ledger = t.app.http().get("/api/admin/charges", bearer(t.admin));
  INFO(ledger.body);
  REQUIRE(ledger.status == 200);
  json charges = json::parse(ledger.body)["charges"];
  REQUIRE(charges.size() == 1);
  CHECK(charges[0]["state"] == "appended");
  CHECK(charges[0]["payment_intent_id"] == intents[0]["id"]);
  CHECK(charges[0]["amount"] == "15.00");
  std::vector<std::string> states;
  for (const json& e : charges[0]["events"]) states.push_back(e["state"]);
  CHECK(states ==
        std::vector<std::string>{"pending", "succeeded", "committing", "committed", "appended"});

  // Shown, accepted and charged: the events the sequences read.
  CHECK(query_int(t.app.db(), "SELECT COUNT(*) FROM offer_events WHERE kind = 'accept'") == 1);
  CHECK(query_int(t.app.db(),
                  "SELECT COUNT(*) FROM offer_events WHERE kind = 'charge_succeeded'") == 1);
  // The shopper's card details and the secret key never reach the log.
  CHECK(t.app.server().log().find(StripeServer::secret_key()) == std::string::npos);
}

TEST_CASE("a hundred concurrent identical accepts make exactly one payment intent",
          "[checkout][one-click]") {
  CheckoutApp t;
  json offer = t.offers().at(0);
  constexpr int kClicks = 100;
  constexpr int kThreads = 10;
  std::vector<std::string> statuses;
  std::mutex mu;
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&] {
      auto client = t.app.new_client();
      for (int n = 0; n < kClicks / kThreads; ++n) {
        auto res = t.accept(*client, offer);
        std::string s = res.status == 200 ? json::parse(res.body)["status"].get<std::string>()
                                          : "HTTP " + std::to_string(res.status);
        std::lock_guard g(mu);
        statuses.push_back(s);
      }
    });
  }
  for (auto& th : threads) th.join();
  REQUIRE(statuses.size() == kClicks);
  for (const auto& s : statuses) CHECK(s == "succeeded");
  CHECK(t.upsell_intents().size() == 1);
  CHECK(query_int(t.app.db(), "SELECT COUNT(*) FROM charges") == 1);
}

TEST_CASE("a card that needs 3-D Secure is completed by the shopper and settled by webhook",
          "[checkout][one-click]") {
  CheckoutApp t("pm_card_authenticationRequired");
  json offer = t.offers().at(0);
  auto res = t.accept(t.app.http(), offer);
  INFO(res.body);
  REQUIRE(res.status == 200);
  json out = json::parse(res.body);
  REQUIRE(out["status"] == "requires_action");
  std::string secret = out["clientSecret"];
  CHECK(secret.find("_secret_") != std::string::npos);
  CHECK(t.app.server().log().find(secret) == std::string::npos);

  auto intents = t.upsell_intents();
  REQUIRE(intents.size() == 1);
  t.stripe.authenticate(intents[0]["id"], true);  // Stripe.js handleNextAction, in effect
  REQUIRE(eventually([&] {
    return query_int(t.app.db(),
                     "SELECT COUNT(*) FROM webhook_inbox WHERE source = 'stripe' AND "
                     "topic = 'payment_intent.succeeded'") >= 2;
  }));
  t.app.drain();  // the webhook, then the append it queued
  t.app.drain();
  CHECK(query_row(t.app.db(), "SELECT state FROM charges")->text(0) == "appended");
  auto after = t.accept(t.app.http(), offer);
  CHECK(json::parse(after.body)["status"] == "succeeded");
  CHECK(t.upsell_intents().size() == 1);
}

TEST_CASE("a declined card is told why and the ledger records the decline",
          "[checkout][one-click]") {
  CheckoutApp t;
  // The card paid for the order; by the time of the upsell its funds have run out.
  exec_sql(t.app.db(), "UPDATE order_payments SET payment_method = ?",
           {std::string("pm_card_chargeDeclinedInsufficientFunds")});
  json offer = t.offers().at(0);
  auto res = t.accept(t.app.http(), offer);
  INFO(res.body);
  REQUIRE(res.status == 200);
  json out = json::parse(res.body);
  CHECK(out["status"] == "declined");
  CHECK_FALSE(out.value("message", "").empty());
  CHECK(query_row(t.app.db(), "SELECT state, decline_code FROM charges")->text(0) == "declined");
  CHECK(query_row(t.app.db(), "SELECT decline_code FROM charges")->text(0) ==
        "insufficient_funds");
}

TEST_CASE("a stored 500 ends, at the offer's deadline, as not charged and is never sent again",
          "[checkout][one-click]") {
  CheckoutApp t;
  json offer = t.offers().at(0);
  t.stripe.fault("POST", "/v1/payment_intents", "500");
  auto res = t.accept(t.app.http(), offer);
  REQUIRE(res.status == 200);
  CHECK(json::parse(res.body)["status"] == "processing");
  REQUIRE(query_row(t.app.db(), "SELECT state FROM charges")->text(0) == "unknown");
  auto posts = [&] {
    int n = 0;
    for (const json& r : t.stripe.requests()) {
      if (r["method"] == "POST" && r["path"] == "/v1/payment_intents" &&
          r.value("idempotency_key", "") != "checkout-1") {
        ++n;
      }
    }
    return n;
  };
  // The server's clock is the system's: stand in for the passing window by moving the stored
  // deadline and the queued jobs' times into the past.
  auto run_reconcile_now = [&] {
    exec_sql(t.app.db(),
             "UPDATE jobs SET run_at_ms = 0 WHERE kind = 'checkout.reconcile' AND "
             "state = 'scheduled'");
    t.app.drain();
  };
  run_reconcile_now();  // within the window: sent again, the stored 500 replayed
  CHECK(posts() == 2);
  CHECK(query_row(t.app.db(), "SELECT state FROM charges")->text(0) == "unknown");

  exec_sql(t.app.db(), "UPDATE charges SET reconcile_deadline_ms = 1");
  run_reconcile_now();
  auto charge = query_row(t.app.db(), "SELECT state, reason, charge_key FROM charges");
  CHECK(charge->text(0) == "failed");
  CHECK(charge->text(1).starts_with("not_charged:"));
  CHECK(posts() == 2);

  CHECK(query_int(t.app.db(),
                  "SELECT COUNT(*) FROM offer_events WHERE kind = 'charge_failed'") == 1);

  SECTION("a day on, when Stripe has forgotten the key, nothing sends it again") {
    t.stripe.advance_clock(25 * 3600);
    run_reconcile_now();  // the after-check: one more search, no POST
    auto again = t.accept(t.app.http(), offer);
    REQUIRE(again.status == 200);
    json seen = json::parse(again.body);
    CHECK(seen["status"] == "failed");
    CHECK(seen["message"] ==
          "We couldn't add this item to your order. You have not been charged.");
    CHECK(posts() == 2);
    CHECK(t.upsell_intents().empty());
  }
  SECTION("a payment that still turns up is refunded automatically") {
    const std::string form = "amount=1500&currency=usd&confirm=true&off_session=true&customer=" +
                             t.customer + "&payment_method=pm_card_visa" +
                             "&metadata[afterglow_charge]=" + charge->text(2);
    auto [status, body] = t.stripe.call("POST", "/v1/payment_intents", form, t.account, "late");
    INFO(body);
    REQUIRE(status == 200);
    const std::string pi = json::parse(body)["id"];
    REQUIRE(eventually([&] {
      t.app.drain();
      return query_row(t.app.db(), "SELECT state FROM charges")->text(0) == "refunded";
    }));
    json refunds = t.stripe.refunds();
    REQUIRE(refunds.size() == 1);
    CHECK(refunds[0]["payment_intent"] == pi);
    CHECK(query_int(t.app.db(), "SELECT COUNT(*) FROM offer_events WHERE kind = 'refunded'") == 1);
    auto told = t.accept(t.app.http(), offer);
    CHECK(json::parse(told.body)["status"] == "refunded");
  }
}

TEST_CASE("the funnel's next offer accepted during the first append is added after it, paid",
          "[checkout][one-click]") {
  CheckoutApp t("pm_card_visa", {candle()});
  json second = {{"kind", "cross_sell"},
                 {"title", "Cedar Candle"},
                 {"headline", "A candle to match"},
                 {"product_id", candle().id},
                 {"variant_id", candle().variants[0].id},
                 {"quantity", 1},
                 {"catch_all", true}};
  auto made = t.app.http().post("/api/admin/offers", second.dump(), bearer(t.admin));
  INFO(made.body);
  REQUIRE(made.status == 201);
  json offers = t.offers();
  REQUIRE(offers.size() == 2);

  auto first = t.accept(t.app.http(), offers[0]);
  REQUIRE(first.status == 200);
  REQUIRE(json::parse(first.body)["status"] == "succeeded");
  // The first append's commit is held by the platform, its edit open on the order.
  t.platform.hold_operation("orderEditCommit");
  CliResult first_drain;
  std::thread worker([&] { first_drain = run_cli({"worker", "--drain"}, t.app.env()); });
  REQUIRE(t.platform.wait_for_held_requests(1, std::chrono::seconds(30)));

  auto next = t.accept(t.app.http(), offers[1]);
  INFO(next.body);
  REQUIRE(next.status == 200);
  REQUIRE(json::parse(next.body)["status"] == "succeeded");
  t.app.drain();  // a second worker: the second append waits for its turn
  CHECK(t.platform.count("graphql:orderEditBegin") == 1);

  t.platform.release_operation();
  worker.join();
  CHECK(first_drain.status == 0);
  t.app.drain();
  auto states = query_rows(t.app.db(), "SELECT state FROM charges ORDER BY id");
  REQUIRE(states.size() == 2);
  CHECK(states[0].text(0) == "appended");
  CHECK(states[1].text(0) == "appended");
  auto order = t.platform.order(kShop, kOrderId);
  REQUIRE(order);
  CHECK(order->lines.size() == 2);
  CHECK(order->marked_paid == 2);
  CHECK(order->financial_status == "PAID");
  CHECK(t.stripe.refunds().empty());
}

TEST_CASE("dropped connections and Stripe errors never produce a second charge",
          "[checkout][one-click]") {
  CheckoutApp t;
  json offer = t.offers().at(0);
  SECTION("the connection drops after Stripe charged") {
    t.stripe.fault("POST", "/v1/payment_intents", "drop_after");
    auto res = t.accept(t.app.http(), offer);
    REQUIRE(res.status == 200);
    CHECK(json::parse(res.body)["status"] == "succeeded");
  }
  SECTION("rate limited twice, then through") {
    t.stripe.fault("POST", "/v1/payment_intents", "429", 2);
    auto res = t.accept(t.app.http(), offer);
    REQUIRE(res.status == 200);
    CHECK(json::parse(res.body)["status"] == "succeeded");
  }
  SECTION("a stored 500 stays indeterminate and is reconciled, not re-sent under a new key") {
    t.stripe.fault("POST", "/v1/payment_intents", "500");
    auto res = t.accept(t.app.http(), offer);
    REQUIRE(res.status == 200);
    CHECK(json::parse(res.body)["status"] == "processing");
    CHECK(query_row(t.app.db(), "SELECT state FROM charges")->text(0) == "unknown");
    CHECK(t.upsell_intents().empty());
    CHECK(query_int(t.app.db(),
                    "SELECT COUNT(*) FROM jobs WHERE kind = 'checkout.reconcile'") >= 1);
  }
  CHECK(t.upsell_intents().size() <= 1);
  std::set<std::string> keys;
  for (const json& r : t.stripe.requests()) {
    if (r["method"] == "POST" && r["path"] == "/v1/payment_intents" &&
        r.value("idempotency_key", "") != "checkout-1") {
      keys.insert(r.value("idempotency_key", ""));
    }
  }
  CHECK(keys.size() == 1);
}
