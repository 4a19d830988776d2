// The one-click accept path against real loopback servers: the Stripe-compatible server
// (tests/stripe_server) and the fake platform, with a ManualClock so leases and reconciliation
// delays pass without waiting. What it proves: one PaymentIntent per (shop, order, offer) under
// duplicate, concurrent and retried accepts, dropped connections and crashes; every accept ends
// in a definite state; an order edit that cannot be made is refunded, never left half paid.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "checkout/charge_fulfilment.h"
#include "checkout/charge_store.h"
#include "checkout/one_click.h"
#include "checkout/order_edit_turns.h"
#include "checkout/payment_events.h"
#include "checkout/stripe_client.h"
#include "plugin/core/shop_settings.h"
#include "tests/support/stripe_server.h"
#include "tests/support/test_db.h"
#include "tests/unit/core/platform_env.h"

using namespace afterglow;
using namespace afterglow::checkout;
using afterglow::platform_testing::ClockSleeper;
using afterglow::platform_testing::kShop;
using afterglow::platform_testing::PlatformEnv;
using afterglow::platform_testing::sample_product;
using nlohmann::json;

namespace {

constexpr int64_t kOrderId = 820982911946154508;
constexpr int64_t kProductId = 7001;
constexpr int64_t kVariantId = kProductId * 10 + 1;  // sample_product's variant

struct ChargeEnv {
  explicit ChargeEnv(const std::string& payment_method = "pm_card_visa")
      : stripe_http(make_curl_http_client()),
        stripe_sleeper(env.clock),
        stripe(*stripe_http, stripe_sleeper, stripe_options()),
        one_click(*env.db, env.queue, stripe, env.clock),
        fulfilment(*env.db, env.queue, &env.client, stripe, env.clock) {
    shop_id = env.install().shop.id;
    account = server.create_account();
    customer = server.create_customer(account);
    env.fake.set_currency(kShop, "USD");
    env.fake.put_product(kShop, sample_product(kProductId, "15.00"));
    env.fake.add_order(kShop, kOrderId);
    REQUIRE(env.db->write([&](Tx& tx) -> Result<void> {
      ShopSettings s = AG_TRY(load_shop_settings(tx, shop_id));
      s.stripe_account_id = account;
      AG_CHECK(save_shop_settings(tx, shop_id, s));
      AG_CHECK(tx.exec(
          "INSERT INTO order_payments (shop_id, order_id, stripe_account, customer, "
          "payment_method, payment_intent, created_at_ms) VALUES (?, ?, ?, ?, ?, 'pi_original', ?)",
          {shop_id, kOrderId, account, customer, payment_method, env.clock.now_ms()}));
      return {};
    }));
  }

  StripeOptions stripe_options() {
    StripeOptions o;
    o.secret_key = testing::StripeServer::secret_key();
    o.api_base = server.base_url();
    o.request_timeout = std::chrono::milliseconds(2000);
    return o;
  }

  OfferTokenClaims claims(int64_t offer_id = 11, std::string token_id = "") const {
    OfferTokenClaims c;
    c.shop_id = shop_id;
    c.shop_domain = kShop;
    c.surface = "thank_you";
    c.order_key = std::to_string(kOrderId);
    c.order_id = kOrderId;
    c.customer_id = 115310627314723954;
    c.offer_id = offer_id;
    c.product_id = kProductId;
    c.variant_id = kVariantId;
    c.quantity = 1;
    c.amount_minor = 1500;
    c.currency = "USD";
    c.token_id = token_id.empty() ? "tok-" + std::to_string(offer_id) : token_id;
    c.expires_at_ms = env.clock.now_ms() + 15 * 60'000;
    return c;
  }

  // The upsell PaymentIntents Stripe holds for this shop (the original payment is not one).
  std::vector<json> upsell_intents() const {
    std::vector<json> out;
    for (const json& pi : server.payment_intents()) {
      if (pi.value("account", "") == account && pi.contains("metadata") &&
          pi["metadata"].contains("afterglow_charge")) {
        out.push_back(pi);
      }
    }
    return out;
  }

  std::string state(int64_t charge_id) {
    return env.row("SELECT state FROM charges WHERE id = ?", {charge_id})->text(0);
  }
  std::vector<std::string> history(int64_t charge_id) {
    std::vector<std::string> out;
    REQUIRE(env.db->read([&](Tx& tx) -> Result<void> {
      for (const Row& r : AG_TRY(tx.query(
               "SELECT state FROM charge_events WHERE charge_id = ? ORDER BY id", {charge_id}))) {
        out.push_back(r.text(0));
      }
      return {};
    }));
    return out;
  }

  // Runs every due job of `kind` once; returns how many ran.
  int run_jobs(std::string_view kind) {
    int ran = 0;
    auto jobs = env.queue.claim("test", 50, std::chrono::minutes(5));
    REQUIRE(jobs);
    for (const Job& job : *jobs) {
      Result<void> r;
      if (job.kind == kAppendJobKind && kind == kAppendJobKind) {
        r = fulfilment.run(job);
      } else if (job.kind == kReconcileJobKind && kind == kReconcileJobKind) {
        r = one_click.reconcile(job);
      } else {
        REQUIRE(env.queue.fail(job, "not run by this test", false));
        continue;
      }
      ++ran;
      if (r) {
        REQUIRE(env.queue.complete(job));
      } else {
        UNSCOPED_INFO("job " << job.kind << " failed: " << r.error().message);
        REQUIRE(env.queue.fail(job, r.error().message, false));
      }
    }
    return ran;
  }

  PlatformEnv env;
  testing::StripeServer server;
  std::unique_ptr<HttpClient> stripe_http;
  ClockSleeper stripe_sleeper;
  StripeClient stripe;
  OneClick one_click;
  ChargeFulfilment fulfilment;
  int64_t shop_id = 0;
  std::string account, customer;
};

}  // namespace

TEST_CASE("an accepted offer is charged once and appended to the order as paid", "[db][charge]") {
  ChargeEnv e;
  auto out = e.one_click.accept(e.claims());
  REQUIRE(out);
  CHECK(out->status == "succeeded");
  CHECK(out->charged_minor == 1500);
  CHECK_FALSE(out->replayed);
  auto intents = e.upsell_intents();
  REQUIRE(intents.size() == 1);
  CHECK(intents[0]["amount"] == 1500);
  CHECK(intents[0]["currency"] == "usd");
  CHECK(intents[0]["customer"] == e.customer);
  CHECK(intents[0]["metadata"]["order_id"] == std::to_string(kOrderId));
  CHECK(intents[0]["status"] == "succeeded");

  CHECK(e.run_jobs(kAppendJobKind) == 1);
  CHECK(e.state(out->charge_id) == "appended");
  CHECK(e.history(out->charge_id) ==
        std::vector<std::string>{"pending", "succeeded", "committing", "committed", "appended"});
  auto order = e.env.fake.order(kShop, kOrderId);
  REQUIRE(order);
  REQUIRE(order->lines.size() == 1);
  CHECK(order->lines[0].variant_id == kVariantId);
  CHECK(order->financial_status == "PAID");
  CHECK(order->marked_paid == 1);
  CHECK(e.env.i64("SELECT COUNT(*) FROM offer_events WHERE kind = 'charge_succeeded'") == 1);
  CHECK(e.env.i64("SELECT COUNT(*) FROM offer_events WHERE kind = 'appended'") == 1);
}

TEST_CASE("a repeated accept returns the same result and charges nothing", "[db][charge]") {
  ChargeEnv e;
  auto first = e.one_click.accept(e.claims());
  REQUIRE(first);
  auto again = e.one_click.accept(e.claims());
  REQUIRE(again);
  CHECK(again->status == "succeeded");
  CHECK(again->replayed);
  CHECK(again->charge_id == first->charge_id);
  CHECK(e.upsell_intents().size() == 1);
  // One POST to Stripe in all.
  int posts = 0;
  for (const json& r : e.server.requests()) {
    if (r["method"] == "POST" && r["path"] == "/v1/payment_intents") ++posts;
  }
  CHECK(posts == 1);
}

TEST_CASE("concurrent identical accepts make exactly one payment intent", "[db][charge]") {
  ChargeEnv e;
  constexpr int kThreads = 24;
  std::vector<std::string> statuses(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      auto r = e.one_click.accept(e.claims());
      statuses[i] = r ? r->status : "error: " + r.error().message;
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& s : statuses) CHECK(s == "succeeded");
  CHECK(e.upsell_intents().size() == 1);
  CHECK(e.env.i64("SELECT COUNT(*) FROM charges") == 1);
}

TEST_CASE("a declined card ends declined with a message safe to show", "[db][charge]") {
  ChargeEnv e("pm_card_chargeDeclinedInsufficientFunds");
  auto out = e.one_click.accept(e.claims());
  REQUIRE(out);
  CHECK(out->status == "declined");
  CHECK_FALSE(out->message.empty());
  auto row = e.env.row("SELECT state, decline_code, payment_intent_id FROM charges");
  CHECK(row->text(0) == "declined");
  CHECK(row->text(1) == "insufficient_funds");
  CHECK(row->text(2).rfind("pi_", 0) == 0);
  CHECK(e.run_jobs(kAppendJobKind) == 0);  // nothing to append
  CHECK(e.env.i64("SELECT COUNT(*) FROM offer_events WHERE kind = 'charge_declined'") == 1);
}

TEST_CASE("3-D Secure hands back the client secret and the webhook settles the charge",
          "[db][charge]") {
  ChargeEnv e("pm_card_authenticationRequired");
  auto out = e.one_click.accept(e.claims());
  REQUIRE(out);
  CHECK(out->status == "requires_action");
  CHECK(out->client_secret.rfind(out->payment_intent_id + "_secret_", 0) == 0);
  // The client secret is never stored.
  CHECK(testing::find_everywhere(*e.env.db, out->client_secret).empty());
  // Asking again returns it again (fetched from Stripe), still one payment.
  auto again = e.one_click.accept(e.claims());
  REQUIRE(again);
  CHECK(again->status == "requires_action");
  CHECK(again->client_secret == out->client_secret);

  e.server.authenticate(out->payment_intent_id, true);
  auto [status, body] =
      e.server.call("GET", "/v1/payment_intents/" + out->payment_intent_id, "", e.account);
  REQUIRE(status == 200);
  json event = {{"id", "evt_1"},
                {"object", "event"},
                {"type", "payment_intent.succeeded"},
                {"account", e.account},
                {"data", {{"object", json::parse(body)}}}};
  REQUIRE(e.env.db->write([&](Tx& tx) -> Result<void> {
    auto r = AG_TRY(apply_payment_event(tx, event.dump(), e.env.queue, e.env.clock));
    CHECK_FALSE(r.ignored);
    return {};
  }));
  CHECK(e.state(out->charge_id) == "succeeded");
  CHECK(e.run_jobs(kAppendJobKind) == 1);
  CHECK(e.state(out->charge_id) == "appended");
  CHECK(e.upsell_intents().size() == 1);
}

TEST_CASE("a connection dropped after the charge is retried with the same key", "[db][charge]") {
  ChargeEnv e;
  e.server.fault("POST", "/v1/payment_intents", "drop_after");
  auto out = e.one_click.accept(e.claims());
  REQUIRE(out);
  CHECK(out->status == "succeeded");
  CHECK(e.upsell_intents().size() == 1);
  std::set<std::string> keys;
  int posts = 0;
  for (const json& r : e.server.requests()) {
    if (r["method"] == "POST" && r["path"] == "/v1/payment_intents") {
      ++posts;
      keys.insert(r.value("idempotency_key", ""));
    }
  }
  CHECK(posts == 2);
  CHECK(keys.size() == 1);
}

TEST_CASE("a stored 500 leaves the charge unknown and reconciliation never uses a new key",
          "[db][charge]") {
  ChargeEnv e;
  e.server.fault("POST", "/v1/payment_intents", "500");
  auto out = e.one_click.accept(e.claims());
  REQUIRE(out);
  CHECK(out->status == "processing");
  CHECK(e.state(out->charge_id) == "unknown");

  e.env.clock.advance(std::chrono::minutes(1));
  CHECK(e.run_jobs(kReconcileJobKind) == 1);
  // Stripe replays the stored 500 under the same key: still unknown, still nothing charged.
  CHECK(e.state(out->charge_id) == "unknown");
  CHECK(e.upsell_intents().empty());
  std::set<std::string> keys;
  for (const json& r : e.server.requests()) {
    if (r["method"] == "POST" && r["path"] == "/v1/payment_intents") {
      keys.insert(r.value("idempotency_key", ""));
    }
  }
  CHECK(keys.size() == 1);
}

namespace {

// POSTs of upsell PaymentIntents Stripe received (the checkout's own payment is not one).
int upsell_posts(const ChargeEnv& e) {
  int n = 0;
  for (const json& r : e.server.requests()) {
    if (r["method"] == "POST" && r["path"] == "/v1/payment_intents") ++n;
  }
  return n;
}

// Reconcile jobs still to run that would act: scheduled, and carrying the charge's newest seq.
int64_t live_reconcile_jobs(ChargeEnv& e, int64_t charge_id) {
  int64_t seq = e.env.i64("SELECT reconcile_seq FROM charges WHERE id = ?", {charge_id});
  int64_t n = 0;
  REQUIRE(e.env.db->read([&](Tx& tx) -> Result<void> {
    for (const Row& r : AG_TRY(tx.query(
             "SELECT payload FROM jobs WHERE kind = ? AND state = 'scheduled'",
             {std::string(kReconcileJobKind)}))) {
      json p = json::parse(r.text(0));
      if (p["charge_id"] == charge_id && p.value("seq", int64_t{-1}) == seq) ++n;
    }
    return {};
  }));
  return n;
}

// A stored 500 on a 15-minute offer, reconciled (minute by minute of the clock) until the
// charge is settled as not charged.
int64_t settle_stored_500(ChargeEnv& e) {
  e.server.fault("POST", "/v1/payment_intents", "500");
  OfferTokenClaims c = e.claims();
  c.issued_at_ms = e.env.clock.now_ms();
  c.expires_at_ms = c.issued_at_ms + 15 * 60'000;
  auto out = e.one_click.accept(c);
  REQUIRE(out);
  REQUIRE(e.state(out->charge_id) == "unknown");
  for (int minute = 1; minute <= 16; ++minute) {
    // One loop: exactly one job that acts, however many were ever scheduled.
    CHECK(live_reconcile_jobs(e, out->charge_id) == 1);
    e.env.clock.advance(std::chrono::minutes(1));
    e.run_jobs(kReconcileJobKind);
  }
  return out->charge_id;
}

}  // namespace

TEST_CASE("a stored 500 is reconciled in one loop until the offer's window ends, then never sent",
          "[db][charge]") {
  ChargeEnv e;
  int64_t id = settle_stored_500(e);
  CHECK(e.state(id) == "failed");
  auto row = e.env.row("SELECT reason, message FROM charges WHERE id = ?", {id});
  CHECK(row->text(0).starts_with("not_charged: no payment found at Stripe within 15 min"));
  CHECK(row->text(1) == kNotChargedMessage);
  CHECK(e.history(id).back() == "failed");
  CHECK(e.env.i64("SELECT COUNT(*) FROM offer_events WHERE kind = 'charge_failed'") == 1);
  // The accept and a re-send per backoff step (30 s, 1, 2, 4, 8 min): never one per minute.
  const int posts = upsell_posts(e);
  CHECK(posts >= 4);
  CHECK(posts <= 6);

  // A day later Stripe has forgotten the key; nothing (a re-click, a late job) sends it again.
  e.server.advance_clock(25 * 3600);
  e.env.clock.advance(std::chrono::hours(25));
  e.run_jobs(kReconcileJobKind);
  auto again = e.one_click.accept(e.claims());
  REQUIRE(again);
  CHECK(again->status == "failed");
  CHECK(again->message == kNotChargedMessage);
  CHECK(upsell_posts(e) == posts);
  CHECK(e.upsell_intents().empty());
  CHECK(live_reconcile_jobs(e, id) == 0);

  // The shopper's re-check once the token expired still gets the outcome; a token never used
  // to accept gets none (the route then answers offer_expired).
  auto late = e.one_click.accepted_outcome(e.claims());
  REQUIRE(late);
  REQUIRE(late->has_value());
  CHECK((*late)->status == "failed");
  CHECK((*late)->message == kNotChargedMessage);
  auto unused = e.one_click.accepted_outcome(e.claims(11, "tok-never-used"));
  REQUIRE(unused);
  CHECK_FALSE(unused->has_value());
}

TEST_CASE("a payment that turns up after a charge was settled as not charged is refunded",
          "[db][charge]") {
  ChargeEnv e;
  int64_t id = settle_stored_500(e);
  REQUIRE(e.state(id) == "failed");
  // It cannot under the charge's key; a payment made some other way with its metadata can.
  std::optional<ChargeRow> row;
  REQUIRE(e.env.db->read([&](Tx& tx) -> Result<void> {
    row = AG_TRY(load_charge(tx, id));
    return {};
  }));
  auto made = e.stripe.create_payment_intent(payment_intent_request(*row), "elsewhere", e.account);
  REQUIRE(made.response.outcome == StripeOutcome::kOk);
  REQUIRE(made.intent->status == "succeeded");

  SECTION("found by the search once more after the settlement") {
    e.env.clock.advance(std::chrono::minutes(10));
    CHECK(e.run_jobs(kReconcileJobKind) == 1);
  }
  SECTION("reported by Stripe's webhook") {
    json event = {{"id", "evt_late"},
                  {"object", "event"},
                  {"type", "payment_intent.succeeded"},
                  {"account", e.account},
                  {"data", {{"object", json::parse(made.response.body)}}}};
    REQUIRE(e.env.db->write([&](Tx& tx) -> Result<void> {
      auto r = AG_TRY(apply_payment_event(tx, event.dump(), e.env.queue, e.env.clock));
      CHECK_FALSE(r.ignored);
      return {};
    }));
  }
  CHECK(e.state(id) == "refunding");
  CHECK(e.run_jobs(kAppendJobKind) == 1);
  CHECK(e.state(id) == "refunded");
  auto refunds = e.server.refunds();
  REQUIRE(refunds.size() == 1);
  CHECK(refunds[0]["payment_intent"] == made.intent->id);
  CHECK(refunds[0]["amount"] == 1500);
  CHECK(e.env.i64("SELECT COUNT(*) FROM offer_events WHERE kind = 'refunded'") == 1);
  CHECK(e.env.fake.order(kShop, kOrderId)->lines.empty());
  auto seen = e.one_click.accept(e.claims());
  REQUIRE(seen);
  CHECK(seen->status == "refunded");
}

TEST_CASE("a crash after Stripe charged is settled by reconciliation without a second charge",
          "[db][charge]") {
  ChargeEnv e;
  // A request that died right after Stripe charged: the row is pending and leased, and Stripe
  // holds a PaymentIntent made with the row's key and parameters.
  ChargeRow row;
  row.shop_id = e.shop_id;
  row.shop_domain = kShop;
  row.order_id = kOrderId;
  row.offer_id = 11;
  row.charge_key = charge_key(e.shop_id, kOrderId, 11);
  row.idempotency_key = row.charge_key + ":pi";
  row.stripe_account = e.account;
  row.customer = e.customer;
  row.payment_method = "pm_card_visa";
  row.product_id = kProductId;
  row.variant_id = kVariantId;
  row.amount_minor = 1500;
  row.currency = "USD";
  row.reason = "accepted by the shopper";
  REQUIRE(e.env.db->write([&](Tx& tx) -> Result<void> {
    row.id = AG_TRY(insert_charge(tx, row, e.env.clock.now_ms() + 90'000, e.env.clock.now_ms()));
    return {};
  }));
  auto made = e.stripe.create_payment_intent(payment_intent_request(row), row.idempotency_key,
                                             e.account);
  REQUIRE(made.response.outcome == StripeOutcome::kOk);
  REQUIRE(e.upsell_intents().size() == 1);

  SECTION("the shopper clicks again after the lease ran out") {
    e.env.clock.advance(std::chrono::minutes(2));
    auto out = e.one_click.accept(e.claims());
    REQUIRE(out);
    CHECK(out->status == "succeeded");
  }
  SECTION("the reconciliation job finds the payment by its metadata") {
    REQUIRE(e.env.queue.enqueue(JobSpec{std::string(kReconcileJobKind),
                                        json{{"charge_id", row.id}}.dump()}));
    e.env.clock.advance(std::chrono::minutes(2));
    CHECK(e.run_jobs(kReconcileJobKind) == 1);
    CHECK(e.state(row.id) == "succeeded");
  }
  CHECK(e.upsell_intents().size() == 1);
}

TEST_CASE("no answer at all from Stripe is settled by sending once more with the same key",
          "[db][charge]") {
  ChargeEnv e;
  e.server.fault("POST", "/v1/payment_intents", "drop_before", 4);  // every client attempt
  auto out = e.one_click.accept(e.claims());
  REQUIRE(out);
  CHECK(out->status == "processing");
  CHECK(e.state(out->charge_id) == "unknown");
  CHECK(e.upsell_intents().empty());
  e.server.clear_faults();
  e.env.clock.advance(std::chrono::minutes(1));
  CHECK(e.run_jobs(kReconcileJobKind) == 1);
  CHECK(e.state(out->charge_id) == "succeeded");
  CHECK(e.upsell_intents().size() == 1);
}

TEST_CASE("an order that cannot be edited gets the charge refunded", "[db][charge]") {
  ChargeEnv e;
  OfferTokenClaims c = e.claims();
  SECTION("the order does not exist on the platform") {
    c.order_id = kOrderId + 1;
    c.order_key = std::to_string(kOrderId + 1);
    REQUIRE(e.env.db->write([&](Tx& tx) -> Result<void> {
      AG_CHECK(tx.exec("UPDATE order_payments SET order_id = ?", {kOrderId + 1}));
      return {};
    }));
  }
  SECTION("the edited order would owe more than was charged") {
    c.amount_minor = 1400;  // the platform prices the variant at 15.00
  }
  auto out = e.one_click.accept(c);
  REQUIRE(out);
  REQUIRE(out->status == "succeeded");
  CHECK(e.run_jobs(kAppendJobKind) == 1);
  CHECK(e.state(out->charge_id) == "refunded");
  auto refunds = e.server.refunds();
  REQUIRE(refunds.size() == 1);
  CHECK(refunds[0]["payment_intent"] == out->payment_intent_id);
  CHECK(refunds[0]["amount"] == c.amount_minor);
  CHECK(e.env.fake.order(kShop, kOrderId)->commits == 0);
  auto again = e.one_click.accept(c);
  REQUIRE(again);
  CHECK(again->status == "refunded");
}

TEST_CASE("a commit without an answer is left for the merchant, never repeated or refunded",
          "[db][charge]") {
  ChargeEnv e;
  auto out = e.one_click.accept(e.claims());
  REQUIRE(out);
  // A 500 on a mutation is not retried: it may have run.
  e.env.fake.fail_next(500, 1, std::nullopt, "orderEditCommit");
  CHECK(e.run_jobs(kAppendJobKind) == 1);
  CHECK(e.state(out->charge_id) == "append_unknown");
  CHECK(e.server.refunds().empty());
}

TEST_CASE("a second accept during the first append waits its turn and both lines are paid",
          "[db][charge]") {
  ChargeEnv e;
  auto a = e.one_click.accept(e.claims(11));
  REQUIRE(a);
  REQUIRE(a->status == "succeeded");
  auto jobs = e.env.queue.claim("test", 10, std::chrono::minutes(5));
  REQUIRE(jobs);
  std::optional<Job> append;
  for (const Job& j : *jobs) {
    if (j.kind == kAppendJobKind) {
      append = j;
    } else {
      REQUIRE(e.env.queue.release(j));
    }
  }
  REQUIRE(append);
  const Job a_job = *append;

  // A's append stops at the commit, its edit open on the order, as a slow platform would.
  e.env.fake.hold_operation("orderEditCommit");
  Result<void> a_result;
  std::thread a_append([&] { a_result = e.fulfilment.run(a_job); });
  REQUIRE(e.env.fake.wait_for_held_requests(1, std::chrono::seconds(20)));

  // The shopper accepts the funnel's next offer meanwhile.
  auto b = e.one_click.accept(e.claims(12));
  REQUIRE(b);
  REQUIRE(b->status == "succeeded");
  CHECK(e.run_jobs(kAppendJobKind) == 1);  // B's append: not its turn
  CHECK(e.state(b->charge_id) == "succeeded");
  CHECK(e.env.fake.count("graphql:orderEditBegin") == 1);

  e.env.fake.release_operation();
  a_append.join();
  REQUIRE(a_result);
  REQUIRE(e.env.queue.complete(a_job));
  CHECK(e.state(a->charge_id) == "appended");

  // A handed the turn to B.
  CHECK(e.run_jobs(kAppendJobKind) == 1);
  CHECK(e.state(b->charge_id) == "appended");
  CHECK(e.history(b->charge_id) ==
        std::vector<std::string>{"pending", "succeeded", "committing", "committed", "appended"});
  auto order = e.env.fake.order(kShop, kOrderId);
  REQUIRE(order);
  CHECK(order->lines.size() == 2);
  CHECK(order->commits == 2);
  CHECK(order->marked_paid == 2);
  CHECK(order->financial_status == "PAID");
  CHECK(order->outstanding_minor == 0);
  CHECK(e.server.refunds().empty());
  CHECK(e.env.i64("SELECT COUNT(*) FROM order_edit_locks") == 0);

  // B's own look-again, due when A's lease would have run out, finds nothing left to do.
  e.env.clock.advance(std::chrono::milliseconds(kEditTurnLeaseMs));
  CHECK(e.run_jobs(kAppendJobKind) == 1);
  CHECK(e.env.fake.count("graphql:orderEditBegin") == 2);
}

TEST_CASE("an order's turn held by an append that went silent is taken when its lease ends",
          "[db][charge]") {
  ChargeEnv e;
  // Another worker took the order's turn and died.
  REQUIRE(e.env.db->write([&](Tx& tx) -> Result<void> {
    AG_CHECK(tx.exec("INSERT INTO order_edit_locks (shop_id, order_id, charge_id, "
                     "lease_until_ms) VALUES (?, ?, 999999, ?)",
                     {e.shop_id, kOrderId, e.env.clock.now_ms() + kEditTurnLeaseMs}));
    return {};
  }));
  auto out = e.one_click.accept(e.claims());
  REQUIRE(out);
  CHECK(e.run_jobs(kAppendJobKind) == 1);
  CHECK(e.state(out->charge_id) == "succeeded");
  CHECK(e.env.fake.count("graphql:orderEditBegin") == 0);
  e.env.clock.advance(std::chrono::milliseconds(kEditTurnLeaseMs));
  CHECK(e.run_jobs(kAppendJobKind) == 1);
  CHECK(e.state(out->charge_id) == "appended");
  CHECK(e.env.i64("SELECT COUNT(*) FROM order_edit_locks") == 0);
}

TEST_CASE("an offer answered one way cannot be answered another way", "[db][charge]") {
  ChargeEnv e;
  SECTION("decline, then accept") {
    REQUIRE(e.one_click.decline(e.claims()));
    REQUIRE(e.one_click.decline(e.claims()));  // the same answer again is fine
    auto r = e.one_click.accept(e.claims());
    REQUIRE_FALSE(r);
    CHECK(r.error().code == ErrorCode::kForbidden);
  }
  SECTION("accept, then decline") {
    REQUIRE(e.one_click.accept(e.claims()));
    auto r = e.one_click.decline(e.claims());
    REQUIRE_FALSE(r);
    CHECK(r.error().code == ErrorCode::kForbidden);
  }
  SECTION("a second token for the same offer and order") {
    REQUIRE(e.one_click.accept(e.claims(11, "first")));
    auto r = e.one_click.accept(e.claims(11, "second"));
    REQUIRE_FALSE(r);
    CHECK(r.error().code == ErrorCode::kForbidden);
  }
  CHECK(e.upsell_intents().size() <= 1);
}

TEST_CASE("a decline enqueues one offer.declined job for the email flows", "[db][charge]") {
  ChargeEnv e;
  REQUIRE(e.one_click.decline(e.claims()));
  REQUIRE(e.one_click.decline(e.claims()));  // a repeated answer adds nothing
  CHECK(e.env.i64("SELECT COUNT(*) FROM jobs WHERE kind = ?",
                  {std::string(kOfferDeclinedJobKind)}) == 1);
  auto job = e.env.row("SELECT payload, unique_key, shop_id FROM jobs WHERE kind = ?",
                       {std::string(kOfferDeclinedJobKind)});
  REQUIRE(job);
  auto payload = nlohmann::json::parse(job->text(0));
  CHECK(payload["shop_id"] == e.shop_id);
  CHECK(payload["order_id"] == kOrderId);
  CHECK(payload["offer_id"] == 11);
  CHECK(payload["customer_id"] == 115310627314723954);
  CHECK(job->text(1) == "offer.declined:" + std::to_string(e.shop_id) + ":" +
                            std::to_string(kOrderId) + ":11");
  CHECK(job->i64(2) == e.shop_id);
}

TEST_CASE("no stored card or no Stripe account means nothing is charged", "[db][charge]") {
  ChargeEnv e;
  SECTION("no stored card") {
    e.env.exec("DELETE FROM order_payments");
  }
  SECTION("no Stripe account") {
    REQUIRE(e.env.db->write([&](Tx& tx) -> Result<void> {
      ShopSettings s = AG_TRY(load_shop_settings(tx, e.shop_id));
      s.stripe_account_id.clear();
      return save_shop_settings(tx, e.shop_id, s);
    }));
  }
  auto r = e.one_click.accept(e.claims());
  REQUIRE_FALSE(r);
  CHECK(r.error().code == ErrorCode::kConflict);
  CHECK(e.upsell_intents().empty());
  CHECK(e.env.i64("SELECT COUNT(*) FROM charges") == 0);
}

TEST_CASE("the checkout's payment is stored only from the shop's own Stripe account",
          "[db][charge]") {
  ChargeEnv e;
  auto event = [&](const std::string& account) {
    json pi = {{"id", "pi_checkout_1"},
               {"object", "payment_intent"},
               {"status", "succeeded"},
               {"amount", 20900},
               {"currency", "usd"},
               {"customer", "cus_x"},
               {"payment_method", "pm_x"},
               {"metadata", {{"shop", kShop}, {"order_id", "1002"}}}};
    json ev = {{"id", "evt_2"}, {"object", "event"}, {"type", "payment_intent.succeeded"},
               {"data", {{"object", pi}}}};
    if (!account.empty()) ev["account"] = account;
    return ev.dump();
  };
  auto apply = [&](const std::string& body) {
    PaymentEventResult out;
    REQUIRE(e.env.db->write([&](Tx& tx) -> Result<void> {
      out = AG_TRY(apply_payment_event(tx, body, e.env.queue, e.env.clock));
      return {};
    }));
    return out;
  };
  CHECK(apply(event("acct_someoneelse")).ignored);
  CHECK(apply(event("")).ignored);
  CHECK(e.env.i64("SELECT COUNT(*) FROM order_payments WHERE order_id = 1002") == 0);
  auto stored = apply(event(e.account));
  CHECK_FALSE(stored.ignored);
  CHECK(e.env.i64("SELECT COUNT(*) FROM order_payments WHERE order_id = 1002 AND "
                  "customer = 'cus_x' AND payment_method = 'pm_x'") == 1);
  apply(event(e.account));  // a redelivery changes nothing
  CHECK(e.env.i64("SELECT COUNT(*) FROM order_payments WHERE order_id = 1002") == 1);
}
