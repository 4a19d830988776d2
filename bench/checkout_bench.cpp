// The thank-you page's two calls against the real binary, with a catalogue and an offer list far
// larger than a shop's: 10 000 products and 10 000 offers (most with triggers that do not match
// the order, some that do), on SQLite and, given a URL, PostgreSQL.
//
//   (a) POST /checkout/offers at a fixed rate from keep-alive HTTPS clients, open loop: request k
//       is due at start + k/rate and its latency is measured from that moment, so a server that
//       falls behind shows the queueing instead of slowing the senders down (coordinated
//       omission). Client-side p50/p90/p99/max, and the server's own time per request from its
//       access log (duration_ms: routing to response written, without TLS and socket time).
//       The requests ask for one order (--orders 1, the default) or cycle over N orders of N
//       customers: every answer records impressions, so one order asked thousands of times
//       carries a customer history that grows with the run.
//   (b) POST /checkout/accept for N distinct orders, one at a time, each charging the saved card
//       through the Stripe-compatible test server on loopback (tests/stripe_server). Our time
//       inside accept is the access log's duration minus the stripe_us that the request's
//       `checkout.charge` line reports (the Stripe call as the server timed it); sequential
//       requests pair the two lines by order.
//
// Usage: checkout_bench [--rate R] [--seconds S] [--clients C] [--orders N] [--accepts N]
//                       [--products N] [--offers N] [--postgres URL] [--only sqlite|postgres]
//   defaults: 200 req/s for 10 s from 16 clients, 200 accepts, 10 000 products and offers;
//   --postgres defaults to $BENCH_POSTGRES_URL (skipped when empty); the run gets a schema of
//   its own there, dropped at the end. SQLite runs on a file in a fresh temporary directory.
// Needs node (the Stripe test server). Not a test: it prints figures (bench/README.md).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "checkout/offer_store.h"
#include "plugin/core/catalog.h"
#include "plugin/core/clock.h"
#include "plugin/core/crypto.h"
#include "plugin/core/db.h"
#include "plugin/core/jwt.h"
#include "plugin/core/log.h"
#include "plugin/core/migrations.h"
#include "plugin/core/shop_settings.h"
#include "plugin/core/shop_store.h"
#include "plugin/core/time_format.h"
#include "tests/support/dev_cert.h"
#include "tests/support/https_client.h"
#include "tests/support/server_process.h"
#include "tests/support/stripe_server.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_db.h"
#include "webhooks/order_sync.h"

namespace {

using afterglow::Db;
using afterglow::Result;
using afterglow::Tx;
using nlohmann::json;
using Steady = std::chrono::steady_clock;
namespace checkout = afterglow::checkout;
namespace testing = afterglow::testing;

constexpr const char* kShop = "bench-shop.myshopify.com";
constexpr const char* kApiKey = "bench-api-key";
constexpr int64_t kOrderedProduct = 1;            // every bench order holds this product
constexpr int64_t kLoadOrderId = 900000000;       // the orders (a) asks offers for: from here
constexpr int64_t kFirstAcceptOrder = 950000000;  // (b)'s orders

struct Options {
  int rate = 200;
  int seconds = 10;
  int clients = 16;
  int orders = 1;  // (a) cycles over this many orders
  int accepts = 200;
  int products = 10000;
  int offers = 10000;
  std::string postgres_url;
  std::string only;
};

template <class T>
T check(Result<T> r, const char* what) {
  if (!r) throw std::runtime_error(std::string(what) + ": " + r.error().message);
  if constexpr (!std::is_void_v<T>) return std::move(*r);
}

double ms_since(Steady::time_point t0) {
  return std::chrono::duration<double, std::milli>(Steady::now() - t0).count();
}

struct Summary {
  size_t n = 0;
  double p50 = 0, p90 = 0, p99 = 0, max = 0;
};

Summary summarise(std::vector<double> v) {
  Summary s;
  s.n = v.size();
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  auto at = [&](double q) { return v[std::min(v.size() - 1, static_cast<size_t>(q * v.size()))]; };
  s.p50 = at(0.50);
  s.p90 = at(0.90);
  s.p99 = at(0.99);
  s.max = v.back();
  return s;
}

std::string row(const char* what, const Summary& s) {
  char buf[200];
  std::snprintf(buf, sizeof buf, "  %-44s %6zu %9.2f %9.2f %9.2f %9.2f\n", what, s.n, s.p50, s.p90,
                s.p99, s.max);
  return buf;
}

// ---- seeding ----------------------------------------------------------------------------------

std::string price_of(int64_t product_id) {
  int64_t cents = 500 + (product_id * 37) % 9500;  // 5.00 .. 99.99
  char buf[32];
  std::snprintf(buf, sizeof buf, "%lld.%02lld", static_cast<long long>(cents / 100),
                static_cast<long long>(cents % 100));
  return buf;
}

afterglow::CatalogProduct bench_product(int64_t id, int64_t now) {
  afterglow::CatalogProduct p;
  p.id = id;
  p.title = "Product " + std::to_string(id);
  p.handle = "product-" + std::to_string(id);
  p.status = "active";
  p.tags = {"tag" + std::to_string(id % 50)};
  p.updated_at_ms = now;
  afterglow::CatalogVariant v;
  v.id = 1000000 + id;
  v.title = "Default Title";
  v.position = 1;
  v.price = price_of(id);
  v.inventory_quantity = 1000;
  p.variants.push_back(v);
  return p;
}

// Offer i: one in a hundred matches the bench orders (they hold product 1); the others miss on
// one trigger kind or another, so the engine has to look at each of them.
checkout::Offer bench_offer(int i, int products) {
  checkout::Offer o;
  o.kind = i % 3 == 0 ? checkout::OfferKind::kCrossSell : checkout::OfferKind::kUpsell;
  o.title = "Offer " + std::to_string(i);
  o.headline = "Bench offer " + std::to_string(i);
  o.product_id = 2 + i % (products - 1);  // never the ordered product
  o.discount = {checkout::DiscountType::kPercent, 500 + (i % 20) * 100, 0};
  o.priority = i % 1000;
  switch (i % 100 == 0 ? 9 : i % 4) {
    case 9:
      o.triggers.product_ids = {kOrderedProduct};
      break;
    case 0:
      o.triggers.product_ids = {2 + (i * 7) % (products - 1)};
      break;
    case 1:
      o.triggers.countries = {"DE", "FR"};
      break;
    case 2:
      o.triggers.min_order_value_minor = 10'000'000;
      break;
    default:
      o.triggers.tags = {"no-such-tag-" + std::to_string(i % 13)};
      break;
  }
  return o;
}

std::string order_json(int64_t order_id, int64_t customer_id, int64_t now) {
  std::string at = afterglow::format_iso8601_utc(now);
  std::string price = price_of(kOrderedProduct);
  json money = {{"shop_money", {{"amount", price}, {"currency_code", "USD"}}},
                {"presentment_money", {{"amount", price}, {"currency_code", "USD"}}}};
  return json{
      {"id", order_id},
      {"name", "#B" + std::to_string(order_id)},
      {"email", "c" + std::to_string(customer_id) + "@example.com"},
      {"currency", "USD"},
      {"presentment_currency", "USD"},
      {"total_price", price},
      {"subtotal_price", price},
      {"total_price_set", money},
      {"financial_status", "paid"},
      {"created_at", at},
      {"updated_at", at},
      {"customer",
       {{"id", customer_id}, {"email", "c" + std::to_string(customer_id) + "@example.com"}}},
      {"line_items", json::array({{{"id", order_id * 10},
                                   {"product_id", kOrderedProduct},
                                   {"variant_id", 1000000 + kOrderedProduct},
                                   {"title", "Product 1"},
                                   {"quantity", 1},
                                   {"price", price},
                                   {"price_set", money}}})},
      {"shipping_address", {{"country_code", "US"}}}}
      .dump();
}

struct Seeded {
  double seconds = 0;
  int matching_offers = 0;
};

Seeded seed(Db& db, const Options& o, const std::string& stripe_account,
            const std::string& stripe_customer) {
  auto t0 = Steady::now();
  const afterglow::Clock& clock = afterglow::SystemClock::instance();
  const int64_t now = clock.now_ms();
  check(afterglow::migrate(db), "migrate");
  int64_t shop_id = 0;
  check(db.write([&](Tx& tx) -> Result<void> {
    afterglow::ShopRecord shop = AG_TRY(afterglow::ensure_shop(tx, kShop, now));
    shop_id = shop.id;
    AG_CHECK(afterglow::set_shop_currency(tx, shop_id, "USD"));
    afterglow::ShopSettings settings = AG_TRY(afterglow::load_shop_settings(tx, shop_id));
    settings.stripe_account_id = stripe_account;
    return afterglow::save_shop_settings(tx, shop_id, settings);
  }),
        "shop");
  constexpr int kPerTx = 500;
  for (int first = 1; first <= o.products; first += kPerTx) {
    check(db.write([&](Tx& tx) -> Result<void> {
      for (int id = first; id < first + kPerTx && id <= o.products; ++id) {
        AG_CHECK(afterglow::upsert_product(tx, shop_id, bench_product(id, now), "USD", now, true));
      }
      return {};
    }),
          "products");
  }
  Seeded s;
  for (int first = 0; first < o.offers; first += kPerTx) {
    check(db.write([&](Tx& tx) -> Result<void> {
      for (int i = first; i < first + kPerTx && i < o.offers; ++i) {
        AG_CHECK(checkout::insert_offer(tx, shop_id, bench_offer(i, o.products), now));
      }
      return {};
    }),
          "offers");
  }
  for (int i = 0; i < o.offers; ++i) s.matching_offers += i % 100 == 0;
  // Orders go through the orders/create handler, as a delivered webhook would store them; each
  // accept order has its own customer (an item a customer accepted is never offered to them
  // again), and each order the card it was paid with (order_payments).
  check(db.write([&](Tx& tx) -> Result<void> {
    for (int k = -o.orders; k < o.accepts; ++k) {
      int64_t order_id = k < 0 ? kLoadOrderId + o.orders + k : kFirstAcceptOrder + k;
      afterglow::webhooks::InboxEvent ev;
      ev.source = "shopify";
      ev.shop_domain = kShop;
      ev.topic = "orders/create";
      ev.delivery_id = "bench-" + std::to_string(order_id);
      ev.body = order_json(order_id, 1000000 + o.orders + k, now);  // a customer per order
      ev.received_at_ms = now;
      AG_CHECK(afterglow::webhooks::sync_order(tx, ev, clock));
      AG_CHECK(
          tx.exec("INSERT INTO order_payments (shop_id, order_id, stripe_account, customer, "
                  "payment_method, payment_intent, amount_minor, currency, created_at_ms) "
                  "VALUES (?, ?, ?, ?, 'pm_card_visa', ?, 1000, 'usd', ?)",
                  {shop_id, order_id, stripe_account, stripe_customer,
                   "pi_checkout_" + std::to_string(order_id), now}));
    }
    return {};
  }),
        "orders");
  s.seconds = ms_since(t0) / 1000;
  return s;
}

// The server writes its access-log line after the response: wait (briefly) until `n` lines of
// `route` are in the log after `from`.
std::string settled_log(testing::ServerProcess& server, size_t from, const std::string& route,
                        size_t n) {
  const std::string needle = "\"route\":\"" + route + "\"";
  auto deadline = Steady::now() + std::chrono::seconds(5);
  for (;;) {
    std::string log = server.log();
    size_t count = 0;
    for (size_t at = log.find(needle, from); at != std::string::npos;
         at = log.find(needle, at + 1)) {
      ++count;
    }
    if (count >= n || Steady::now() > deadline) return log;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

// ---- the server ---------------------------------------------------------------------------------

// A Thank-you session token for the bench shop, as the platform would sign it (spec §4).
std::string session_token(const std::string& secret) {
  int64_t now = afterglow::SystemClock::instance().now_s();
  return afterglow::jwt::sign(json{{"dest", kShop},
                                   {"aud", kApiKey},
                                   {"exp", now + 3600},
                                   {"nbf", now - 5},
                                   {"iat", now},
                                   {"jti", afterglow::crypto::random_hex(8)}},
                              secret);
}

std::string gid(int64_t order_id) { return "gid://shopify/Order/" + std::to_string(order_id); }

// The access log's duration_ms of every `route` request, and every checkout.charge stripe_us
// paired with the /checkout/accept request that follows it, from `log` starting at `from`.
struct ServerTimes {
  std::vector<double> duration_ms;
  std::vector<double> stripe_ms, ours_ms, accept_ms;  // paired accepts
};

ServerTimes server_times(const std::string& log, size_t from, const std::string& route) {
  ServerTimes t;
  std::istringstream in(log.substr(std::min(from, log.size())));
  std::string line;
  double pending_stripe = -1;
  while (std::getline(in, line)) {
    json j = json::parse(line, nullptr, false);
    if (!j.is_object()) continue;
    std::string msg = j.value("msg", "");
    if (msg == "checkout.charge") {
      pending_stripe = std::stod(j.value("stripe_us", "0")) / 1000.0;
    } else if (msg == "request" && j.value("route", "") == route) {
      double d = j.value("duration_ms", 0.0);
      t.duration_ms.push_back(d);
      if (route == "/checkout/accept" && pending_stripe >= 0) {
        t.accept_ms.push_back(d);
        t.stripe_ms.push_back(pending_stripe);
        t.ours_ms.push_back(d - pending_stripe);
        pending_stripe = -1;
      }
    }
  }
  return t;
}

struct OffersRun {
  Summary client, server;
  int errors = 0, empty = 0, sent = 0;
  double achieved_rate = 0;
  std::string first_error;
};

// (a): open loop at `rate` for `seconds`.
// `earlier`: /checkout/offers requests already made (the warm-up), whose log lines must not be
// counted as the run's.
OffersRun offers_load(testing::ServerProcess& server, const std::string& ca, const Options& o,
                      const std::string& token, size_t earlier) {
  const int total = o.rate * o.seconds;
  std::vector<std::string> bodies;
  for (int j = 0; j < o.orders; ++j) {
    bodies.push_back(json{{"surface", "thank_you"}, {"orderId", gid(kLoadOrderId + j)}}.dump());
  }
  const testing::Headers headers = {{"Authorization", "Bearer " + token},
                                    {"Content-Type", "application/json"}};
  std::vector<std::unique_ptr<testing::HttpsClient>> clients;
  for (int c = 0; c < o.clients; ++c) {
    clients.push_back(std::make_unique<testing::HttpsClient>(server.https_url(), ca));
    clients.back()->post("/checkout/offers", bodies[c % o.orders], headers);  // connect, TLS
  }
  size_t log_from = settled_log(server, 0, "/checkout/offers", earlier + o.clients).size();
  std::vector<double> latency(total, -1);
  std::atomic<int> next{0}, errors{0}, empty{0};
  std::string first_error;
  std::mutex error_mu;
  const auto start = Steady::now() + std::chrono::milliseconds(50);
  const auto interval = std::chrono::duration<double>(1.0 / o.rate);
  std::vector<std::thread> threads;
  for (int c = 0; c < o.clients; ++c) {
    threads.emplace_back([&, c] {
      for (int k = next++; k < total; k = next++) {
        auto due = start + std::chrono::duration_cast<Steady::duration>(interval * k);
        std::this_thread::sleep_until(due);
        testing::HttpResponse r =
            clients[c]->post("/checkout/offers", bodies[k % o.orders], headers);
        latency[k] = std::chrono::duration<double, std::milli>(Steady::now() - due).count();
        if (r.status != 200) {
          ++errors;
          std::lock_guard<std::mutex> lock(error_mu);
          if (first_error.empty()) first_error = std::to_string(r.status) + " " + r.error + r.body;
        } else if (r.body.find("\"offers\":[]") != std::string::npos) {
          ++empty;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  double wall = ms_since(start) / 1000;
  OffersRun run;
  run.sent = total;
  run.errors = errors;
  run.empty = empty;
  run.first_error = first_error;
  run.achieved_rate = total / wall;
  run.client = summarise(latency);
  // The clients' connections stay open until they are destroyed: the log is complete once the
  // responses were read, as the server logs before it writes.
  std::string log = settled_log(server, log_from, "/checkout/offers", total);
  run.server = summarise(server_times(log, log_from, "/checkout/offers").duration_ms);
  return run;
}

struct AcceptRun {
  Summary client, server, stripe, ours;
  int succeeded = 0, other = 0;
  std::string first_other;
};

// (b): for each accept order, ask for its offers and accept the first, one at a time.
AcceptRun accepts(testing::ServerProcess& server, const std::string& ca, const Options& o,
                  const std::string& token) {
  testing::HttpsClient http(server.https_url(), ca, std::chrono::seconds(30));
  const testing::Headers headers = {{"Authorization", "Bearer " + token},
                                    {"Content-Type", "application/json"}};
  size_t log_from = server.log().size();
  std::vector<double> client;
  AcceptRun run;
  for (int k = 0; k < o.accepts; ++k) {
    std::string order = gid(kFirstAcceptOrder + k);
    auto offers = http.post("/checkout/offers",
                            json{{"surface", "thank_you"}, {"orderId", order}}.dump(), headers);
    json list = json::parse(offers.body, nullptr, false);
    if (offers.status != 200 || !list.is_object() || list["offers"].empty()) {
      ++run.other;
      if (run.first_other.empty()) run.first_other = "offers: " + offers.body;
      continue;
    }
    const json& offer = list["offers"][0];
    std::string body = json{
        {"surface", "thank_you"},
        {"orderId", order},
        {"offerId", offer["id"]},
        {"offerToken",
         offer["token"]}}.dump();
    auto t0 = Steady::now();
    auto r = http.post("/checkout/accept", body, headers);
    client.push_back(ms_since(t0));
    json answer = json::parse(r.body, nullptr, false);
    if (r.status == 200 && answer.is_object() && answer.value("status", "") == "succeeded") {
      ++run.succeeded;
    } else {
      ++run.other;
      if (run.first_other.empty()) run.first_other = std::to_string(r.status) + " " + r.body;
    }
  }
  std::string log = settled_log(server, log_from, "/checkout/accept", client.size());
  ServerTimes t = server_times(log, log_from, "/checkout/accept");
  run.client = summarise(client);
  run.server = summarise(t.accept_ms);
  run.stripe = summarise(t.stripe_ms);
  run.ours = summarise(t.ours_ms);
  return run;
}

// ---- one backend --------------------------------------------------------------------------------

bool bench_backend(const std::string& name, const std::string& database_url, const Options& o) {
  testing::TempDir dir("afterglow-checkout-bench");
  testing::DevCertificate cert = testing::make_dev_certificate(dir.path());
  testing::StripeServer stripe;
  std::string account = stripe.create_account();
  std::string customer = stripe.create_customer(account);
  std::string secret = "shpss_" + afterglow::crypto::random_hex(16);

  std::printf("\n== %s ==\n", name.c_str());
  std::fflush(stdout);
  Seeded seeded;
  {
    auto db = testing::open_test_db(database_url);
    seeded = seed(*db, o, account, customer);
  }
  std::printf("seeded %d products, %d offers (%d match the orders), %d orders in %.1f s\n",
              o.products, o.offers, seeded.matching_offers, o.orders + o.accepts, seeded.seconds);
  std::fflush(stdout);

  testing::Env env = {{"HOST", "127.0.0.1"},
                      {"PORT", "0"},
                      {"TLS_CERT", cert.cert_path},
                      {"TLS_KEY", cert.key_path},
                      {"DATABASE_URL", database_url},
                      {"APP_API_KEY", kApiKey},
                      {"APP_API_SECRET", secret},
                      {"STRIPE_API_BASE", stripe.base_url()},
                      {"STRIPE_SECRET_KEY", testing::StripeServer::secret_key()},
                      {"HTTP_THREADS", std::to_string(std::max(16, o.clients + 4))},
                      {"WORKERS", "0"},  // the order appends would go to a platform we do not run
                      {"LOG_LEVEL", "info"}};
  testing::ServerProcess server(env, dir.file("server.log"));
  std::string token = session_token(secret);

  // Warm-up: the first request loads the offer cache (10 000 offers) and the catalogue pages.
  {
    testing::HttpsClient http(server.https_url(), cert.cert_path, std::chrono::seconds(30));
    auto t0 = Steady::now();
    auto r = http.post(
        "/checkout/offers", json{{"surface", "thank_you"}, {"orderId", gid(kLoadOrderId)}}.dump(),
        {{"Authorization", "Bearer " + token}, {"Content-Type", "application/json"}});
    if (r.status != 200)
      throw std::runtime_error("warm-up: " + std::to_string(r.status) + " " + r.body);
    json j = json::parse(r.body);
    std::printf("first /checkout/offers (cold cache): %.1f ms, %zu offer(s) shown\n", ms_since(t0),
                j["offers"].size());
    for (int i = 0; i < 50; ++i) {  // spread like the run: one order's history stays small
      http.post(
          "/checkout/offers",
          json{{"surface", "thank_you"}, {"orderId", gid(kLoadOrderId + i % o.orders)}}.dump(),
          {{"Authorization", "Bearer " + token}, {"Content-Type", "application/json"}});
    }
  }

  OffersRun a = offers_load(server, cert.cert_path, o, token, /*warm-up*/ 51);
  AcceptRun b = accepts(server, cert.cert_path, o, token);
  server.stop();

  std::printf(
      "\n(a) POST /checkout/offers, open loop: %d req/s for %d s from %d keep-alive "
      "clients over %d order(s) (achieved %.0f req/s); %d errors, %d empty answers\n",
      o.rate, o.seconds, o.clients, o.orders, a.achieved_rate, a.errors, a.empty);
  if (!a.first_error.empty()) std::printf("    first error: %.300s\n", a.first_error.c_str());
  std::printf("  %-44s %6s %9s %9s %9s %9s\n", "ms", "n", "p50", "p90", "p99", "max");
  std::fputs(row("client, from the scheduled send time", a.client).c_str(), stdout);
  std::fputs(row("server (access log duration_ms)", a.server).c_str(), stdout);
  std::printf("\n(b) POST /checkout/accept, %d orders one at a time: %d succeeded, %d other\n",
              o.accepts, b.succeeded, b.other);
  if (!b.first_other.empty()) std::printf("    first other: %.300s\n", b.first_other.c_str());
  std::printf("  %-44s %6s %9s %9s %9s %9s\n", "ms", "n", "p50", "p90", "p99", "max");
  std::fputs(row("client", b.client).c_str(), stdout);
  std::fputs(row("server (access log duration_ms)", b.server).c_str(), stdout);
  std::fputs(row("  of which Stripe (checkout.charge stripe_us)", b.stripe).c_str(), stdout);
  std::fputs(row("  ours (server minus Stripe)", b.ours).c_str(), stdout);
  std::fflush(stdout);
  return a.errors == 0 && b.other == 0;
}

std::string with_query_param(const std::string& url, const std::string& param) {
  return url + (url.find('?') == std::string::npos ? "?" : "&") + param;
}

int usage() {
  std::fprintf(stderr,
               "usage: checkout_bench [--rate R] [--seconds S] [--clients C] [--orders N] "
               "[--accepts N] [--products N] [--offers N] [--postgres URL] "
               "[--only sqlite|postgres]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  afterglow::log::set_level(afterglow::log::Level::kWarn);  // no migration lines between figures
  Options o;
  if (const char* url = std::getenv("BENCH_POSTGRES_URL")) o.postgres_url = url;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (i + 1 >= argc) return usage();
    std::string v = argv[++i];
    auto number = [&](int* out) {
      *out = std::atoi(v.c_str());
      return *out > 0;
    };
    bool ok = true;
    if (a == "--rate")
      ok = number(&o.rate);
    else if (a == "--seconds")
      ok = number(&o.seconds);
    else if (a == "--clients")
      ok = number(&o.clients);
    else if (a == "--accepts")
      ok = number(&o.accepts);
    else if (a == "--orders")
      ok = number(&o.orders);
    else if (a == "--products")
      ok = number(&o.products) && o.products >= 2;
    else if (a == "--offers")
      ok = number(&o.offers);
    else if (a == "--postgres")
      o.postgres_url = v;
    else if (a == "--only")
      o.only = v;
    else
      ok = false;
    if (!ok) return usage();
  }
  if (!o.only.empty() && o.only != "sqlite" && o.only != "postgres") return usage();
  bool ok = true;
  if (o.only != "postgres") {
    try {
      testing::TempDir dir("afterglow-checkout-bench-db");
      ok = bench_backend("SQLite (WAL, synchronous=FULL)", "sqlite:" + dir.file("bench.db"), o) &&
           ok;
    } catch (const std::exception& e) {
      std::printf("SQLite: FAILED: %s\n", e.what());
      ok = false;
    }
  }
  if (o.only != "sqlite") {
    if (o.postgres_url.empty()) {
      std::printf("\nPostgreSQL: skipped (pass --postgres URL or set BENCH_POSTGRES_URL)\n");
    } else {
      // A schema of our own, dropped at the end; the server's connections see only it.
      std::string schema = "checkout_bench_" + afterglow::crypto::random_hex(4);
      std::unique_ptr<Db> admin;
      try {
        admin = testing::open_test_db(o.postgres_url);
        testing::exec_sql(*admin, "CREATE SCHEMA " + schema);
        ok = bench_backend("PostgreSQL (schema " + schema + ")",
                           with_query_param(o.postgres_url, "options=-csearch_path%3D" + schema),
                           o) &&
             ok;
      } catch (const std::exception& e) {
        std::printf("PostgreSQL: FAILED: %s\n", e.what());
        ok = false;
      }
      if (admin) {
        try {
          testing::exec_sql(*admin, "DROP SCHEMA " + schema + " CASCADE");
        } catch (const std::exception& e) {
          std::printf("PostgreSQL: could not drop schema %s: %s\n", schema.c_str(), e.what());
        }
      }
    }
  }
  return ok ? 0 : 1;
}
