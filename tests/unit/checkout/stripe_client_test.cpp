// The Stripe client: form encoding, search-query escaping, option checks, and the retry decision
// table (spec/stripe.md §1 "Retry guidance", §2) against a loopback server that answers scripted
// statuses over real HTTP through libcurl. Waits go through a recording Sleeper on a ManualClock.
#include "checkout/stripe_client.h"

#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <fstream>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "plugin/core/clock.h"
#include "tests/support/stripe_server.h"

using namespace afterglow;
using namespace afterglow::checkout;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

constexpr const char* kKey = "sk_test_unit_4242_do_not_log";

// Sleeps by moving a ManualClock; remembers every wait.
class RecordingSleeper final : public Sleeper {
 public:
  void sleep_for(std::chrono::milliseconds d) override {
    std::lock_guard<std::mutex> lock(mu_);
    waits_.push_back(d);
    clock_.advance(d);
  }
  std::vector<std::chrono::milliseconds> waits() const {
    std::lock_guard<std::mutex> lock(mu_);
    return waits_;
  }
  const ManualClock& clock() const { return clock_; }

 private:
  mutable std::mutex mu_;
  std::vector<std::chrono::milliseconds> waits_;
  ManualClock clock_{1'760'000'000'000};
};

struct Reply {
  int status = 200;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  bool hang = false;  // hold the answer until the test ends (the client times out)
};
Reply raw(int status, std::string body, bool hang = false) {
  return Reply{status, std::move(body), {}, hang};
}

struct Seen {
  std::string method, path, body;
  httplib::Params query;
  httplib::Headers headers;
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
  bool has(const std::string& name) const { return headers.count(name) > 0; }
  std::multimap<std::string, std::string> form() const {
    httplib::Params p;
    httplib::detail::parse_query_text(body, p);
    return {p.begin(), p.end()};
  }
};

json pi_json(std::string id = "pi_script", std::string status = "succeeded") {
  return {{"id", id},
          {"object", "payment_intent"},
          {"status", status},
          {"amount", 1500},
          {"amount_received", status == "succeeded" ? 1500 : 0},
          {"currency", "usd"},
          {"customer", "cus_1"},
          {"payment_method", "pm_1"},
          {"client_secret", id + "_secret_sensitive"},
          {"latest_charge", "ch_1"},
          {"description", "Upsell"},
          {"metadata", {{"order_id", "1001"}}}};
}

json error_json(std::string type, std::string code, std::string decline = "") {
  json e = {{"type", type}, {"code", code}, {"message", "scripted " + code}};
  if (!decline.empty()) e["decline_code"] = decline;
  return {{"error", e}};
}

// A loopback HTTP server that answers each request with the next scripted reply (200 with a
// PaymentIntent once the script runs out) and records what it received.
class ScriptServer {
 public:
  ScriptServer() {
    auto handler = [this](const httplib::Request& req, httplib::Response& res) {
      std::unique_lock<std::mutex> lock(mu_);
      seen_.push_back(Seen{req.method, req.path, req.body, req.params, req.headers});
      Reply r;
      if (!script_.empty()) {
        r = script_.front();
        script_.pop_front();
      } else {
        r.body = pi_json().dump();
      }
      if (r.hang) cv_.wait_for(lock, 30s, [this] { return released_; });
      res.status = r.status;
      bool has_id = false;
      for (const auto& [k, v] : r.headers) {
        res.set_header(k, v);
        has_id = has_id || k == "Request-Id";
      }
      if (!has_id) res.set_header("Request-Id", "req_" + std::to_string(seen_.size()));
      res.set_content(r.body, "application/json");
    };
    server_.Get(".*", handler);
    server_.Post(".*", handler);
    port_ = server_.bind_to_any_port("127.0.0.1");
    REQUIRE(port_ > 0);
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~ScriptServer() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      released_ = true;
    }
    cv_.notify_all();
    server_.stop();
    thread_.join();
  }
  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  void push(Reply r) {
    std::lock_guard<std::mutex> lock(mu_);
    script_.push_back(std::move(r));
  }
  void push(int status, const json& body, std::vector<std::pair<std::string, std::string>> h = {}) {
    push(Reply{status, body.dump(), std::move(h), false});
  }
  std::vector<Seen> seen() const {
    std::lock_guard<std::mutex> lock(mu_);
    return seen_;
  }

 private:
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Reply> script_;
  std::vector<Seen> seen_;
  bool released_ = false;
};

StripeOptions options_for(const std::string& base) {
  StripeOptions o;
  o.secret_key = kKey;
  o.api_base = base;
  o.request_timeout = 5s;
  return o;
}

struct Env {
  ScriptServer server;
  std::unique_ptr<HttpClient> http = make_curl_http_client();
  RecordingSleeper sleeper;
  StripeClient client;
  explicit Env(std::function<void(StripeOptions&)> tweak = nullptr)
      : client(*http, sleeper, tweaked(server.base_url(), tweak), 42) {}
  static StripeOptions tweaked(const std::string& base,
                               const std::function<void(StripeOptions&)>& tweak) {
    auto o = options_for(base);
    if (tweak) tweak(o);
    return o;
  }
  PaymentIntentResult create(std::string key = "upsell:shop:1001:7:pi:1",
                             std::string account = "") {
    CreatePaymentIntent p;
    p.amount = 1500;
    p.currency = "usd";
    p.customer = "cus_1";
    p.payment_method = "pm_card_visa";
    p.metadata = {{"order_id", "1001"}};
    return client.create_payment_intent(p, key, account);
  }
};

// Captures what the process writes to stderr (where log.h writes) while alive.
class StderrCapture {
 public:
  StderrCapture() {
    std::fflush(stderr);
    char path[] = "/tmp/stripe_client_test_XXXXXX";
    int fd = mkstemp(path);
    REQUIRE(fd >= 0);
    path_ = path;
    saved_ = dup(2);
    dup2(fd, 2);
    close(fd);
  }
  std::string finish() {
    std::fflush(stderr);
    dup2(saved_, 2);
    close(saved_);
    std::ifstream in(path_);
    std::stringstream ss;
    ss << in.rdbuf();
    std::remove(path_.c_str());
    return ss.str();
  }

 private:
  std::string path_;
  int saved_ = -1;
};

}  // namespace

// ---------------------------------------------------------------------------------------------
// Pure functions

TEST_CASE("form encoding keeps brackets literal and percent-encodes the rest", "[stripe]") {
  CHECK(stripe_form_encode({}) == "");
  CHECK(stripe_form_encode({{"amount", "1500"}, {"currency", "usd"}}) ==
        "amount=1500&currency=usd");
  // Nested objects and lists: brackets stay raw, as stripe-node sends them.
  CHECK(stripe_form_encode({{"payment_method_options[card][capture_method]", "manual"}}) ==
        "payment_method_options[card][capture_method]=manual");
  CHECK(stripe_form_encode(
            {{"payment_method_types[]", "card"}, {"payment_method_types[]", "link"}}) ==
        "payment_method_types[]=card&payment_method_types[]=link");
  CHECK(stripe_form_encode({{"line_items[0][price]", "price_1"}, {"expand[0]", "latest_charge"}}) ==
        "line_items[0][price]=price_1&expand[0]=latest_charge");
  // Values are fully percent-encoded (space as %20, brackets too), UTF-8 byte by byte.
  CHECK(stripe_form_encode({{"description", "Mug & Co: 50% off"}}) ==
        "description=Mug%20%26%20Co%3A%2050%25%20off");
  CHECK(stripe_form_encode({{"metadata[note]", "a+b=c/[d]~ü"}}) ==
        "metadata[note]=a%2Bb%3Dc%2F%5Bd%5D~%C3%BC");
  // Key text outside the brackets is encoded too.
  CHECK(stripe_form_encode({{"metadata[ord er&x]", "1"}}) == "metadata[ord%20er%26x]=1");
  // An empty value unsets a field (spec §1): it must still be sent.
  CHECK(stripe_form_encode({{"metadata[gone]", ""}, {"x", "1"}}) == "metadata[gone]=&x=1");

  // An independent decoder (cpp-httplib's) reads back exactly what went in.
  std::vector<std::pair<std::string, std::string>> fields = {
      {"metadata[note]", "a b=c&d;e+f%g"}, {"description", "ümlaut \"quoted\" 'single'"}};
  httplib::Params decoded;
  httplib::detail::parse_query_text(stripe_form_encode(fields), decoded);
  CHECK(decoded.find("metadata[note]")->second == "a b=c&d;e+f%g");
  CHECK(decoded.find("description")->second == "ümlaut \"quoted\" 'single'");
}

TEST_CASE("search queries escape quotes and backslashes so a value cannot widen the query",
          "[stripe]") {
  CHECK(stripe_metadata_query("order_id", "1001") == "metadata['order_id']:'1001'");
  CHECK(stripe_metadata_query("order_id", "O'Brien") == "metadata['order_id']:'O\\'Brien'");
  CHECK(stripe_metadata_query("order_id", "a\\b") == "metadata['order_id']:'a\\\\b'");
  // The classic injection stays one quoted string.
  CHECK(stripe_metadata_query("order_id", "1' OR status:'succeeded") ==
        "metadata['order_id']:'1\\' OR status:\\'succeeded'");
  CHECK(stripe_metadata_query("it's", "x") == "metadata['it\\'s']:'x'");
}

TEST_CASE("options are checked and plain http is allowed only on loopback", "[stripe]") {
  auto valid = [](std::function<void(StripeOptions&)> tweak) {
    StripeOptions o;
    o.secret_key = kKey;
    tweak(o);
    return validate_stripe_options(o).has_value();
  };
  CHECK(valid([](StripeOptions&) {}));
  CHECK(valid([](StripeOptions& o) { o.api_base = "https://api.stripe.com/"; }));
  CHECK(valid([](StripeOptions& o) { o.api_base = "http://127.0.0.1:12111"; }));
  CHECK(valid([](StripeOptions& o) { o.api_base = "http://localhost:8080"; }));
  CHECK(valid([](StripeOptions& o) { o.api_base = "http://[::1]:9"; }));
  CHECK(valid([](StripeOptions& o) { o.secret_key = "rk_test_restricted"; }));

  CHECK_FALSE(valid([](StripeOptions& o) { o.api_base = "http://api.stripe.com"; }));
  CHECK_FALSE(valid([](StripeOptions& o) { o.api_base = "http://10.0.0.1:80"; }));
  // User info would make "127.0.0.1" the user name and evil.example the host.
  CHECK_FALSE(valid([](StripeOptions& o) { o.api_base = "http://127.0.0.1@evil.example"; }));
  CHECK_FALSE(valid([](StripeOptions& o) { o.api_base = "http://127.0.0.1.evil.example"; }));
  CHECK_FALSE(valid([](StripeOptions& o) { o.api_base = "https://api.stripe.com/v1"; }));
  CHECK_FALSE(valid([](StripeOptions& o) { o.api_base = "ftp://api.stripe.com"; }));
  CHECK_FALSE(valid([](StripeOptions& o) { o.api_base = "https://"; }));
  CHECK_FALSE(valid([](StripeOptions& o) { o.secret_key = ""; }));
  CHECK_FALSE(valid([](StripeOptions& o) { o.secret_key = "pk_test_publishable"; }));
  CHECK_FALSE(valid([](StripeOptions& o) { o.secret_key = "sk_test_x\r\nX-Evil: 1"; }));
  CHECK_FALSE(valid([](StripeOptions& o) { o.api_version = ""; }));
  CHECK_FALSE(valid([](StripeOptions& o) { o.max_attempts = 0; }));
  CHECK_FALSE(valid([](StripeOptions& o) { o.initial_backoff = 0ms; }));
  CHECK_FALSE(valid([](StripeOptions& o) { o.max_backoff = 100ms; }));
  CHECK_FALSE(valid([](StripeOptions& o) { o.request_timeout = 0ms; }));

  // The message names the problem and never echoes the key.
  StripeOptions o;
  o.secret_key = "pk_live_should_not_echo";
  auto r = validate_stripe_options(o);
  REQUIRE_FALSE(r);
  CHECK(r.error().code == ErrorCode::kInvalidArgument);
  CHECK(r.error().message.find("pk_live_should_not_echo") == std::string::npos);
}

TEST_CASE("backoff doubles from 0.5 s up to 5 s with jitter and is reproducible by seed",
          "[stripe]") {
  auto http = make_curl_http_client();
  RecordingSleeper sleeper;
  StripeClient a(*http, sleeper, options_for("https://api.stripe.com"), 7);
  StripeClient b(*http, sleeper, options_for("https://api.stripe.com"), 7);
  StripeClient c(*http, sleeper, options_for("https://api.stripe.com"), 8);
  std::vector<int64_t> sa, sb, sc;
  for (int retry = 1; retry <= 8; ++retry) {
    sa.push_back(a.backoff(retry).count());
    sb.push_back(b.backoff(retry).count());
    sc.push_back(c.backoff(retry).count());
  }
  CHECK(sa == sb);
  CHECK(sa != sc);
  CHECK(sa[0] == 500);  // 0.5 s × jitter, never under 0.5 s
  CHECK((sa[1] >= 500 && sa[1] <= 1000));
  CHECK((sa[2] >= 1000 && sa[2] <= 2000));
  CHECK((sa[3] >= 2000 && sa[3] <= 4000));
  for (int i = 4; i < 8; ++i) CHECK((sa[i] >= 2500 && sa[i] <= 5000));
  CHECK((a.backoff(1000).count() >= 2500 && a.backoff(1000).count() <= 5000));
  CHECK(sleeper.waits().empty());  // computing a backoff never waits
}

TEST_CASE("PaymentIntents and refunds are parsed defensively", "[stripe]") {
  json j = pi_json("pi_a", "requires_action");
  j["latest_charge"] = {{"id", "ch_expanded"}, {"object", "charge"}};
  j["metadata"] = {{"order_id", "1001"}, {"weird", 5}};
  j["next_action"] = {
      {"type", "redirect_to_url"},
      {"redirect_to_url",
       {{"url", "https://hooks.example/3ds"}, {"return_url", "https://shop.example/ty"}}}};
  j["last_payment_error"] = {{"type", "card_error"},
                             {"code", "authentication_required"},
                             {"decline_code", "authentication_required"},
                             {"param", nullptr}};
  j["amount"] = "not a number";
  auto pi = parse_payment_intent(j.dump());
  REQUIRE(pi);
  CHECK(pi->id == "pi_a");
  CHECK(pi->status == "requires_action");
  CHECK(pi->latest_charge == "ch_expanded");
  CHECK(pi->metadata.at("order_id") == "1001");
  CHECK(pi->metadata.at("weird") == "5");
  CHECK(pi->next_action_type == "redirect_to_url");
  CHECK(pi->redirect_url == "https://hooks.example/3ds");
  REQUIRE(pi->last_payment_error);
  CHECK(pi->last_payment_error->code == "authentication_required");
  CHECK(pi->last_payment_error->param == "");
  CHECK(pi->amount == 0);  // mistyped: left at the default
  CHECK(pi->client_secret == "pi_a_secret_sensitive");

  CHECK_FALSE(parse_payment_intent("<html>502 Bad Gateway</html>"));
  CHECK_FALSE(parse_payment_intent("[]"));
  CHECK_FALSE(parse_payment_intent(R"({"object":"payment_intent"})"));
  CHECK_FALSE(parse_payment_intent(""));

  auto re = parse_refund(
      R"({"id":"re_1","object":"refund","status":"succeeded","amount":700,"currency":"eur",
          "payment_intent":{"id":"pi_x"},"reason":"requested_by_customer"})");
  REQUIRE(re);
  CHECK(re->payment_intent == "pi_x");
  CHECK(re->amount == 700);
  CHECK(re->currency == "eur");
  CHECK(re->reason == "requested_by_customer");
}

// ---------------------------------------------------------------------------------------------
// Against a scripted loopback server

TEST_CASE("a create sends the documented headers and form body once on success", "[stripe]") {
  Env env;
  CreatePaymentIntent p;
  p.amount = 1500;
  p.currency = "USD";
  p.customer = "cus_1";
  p.payment_method = "pm_card_visa";
  p.off_session = true;
  p.description = "Upsell: Mug & Co";
  p.statement_descriptor_suffix = "MUG";
  p.metadata = {{"shop", "glow.myshopify.com"}, {"order_id", "1001"}, {"note", "a b=c&d"}};
  env.server.push(200, pi_json("pi_ok"), {{"Request-Id", "req_abc"}});
  auto r = env.client.create_payment_intent(p, "upsell:glow:1001:7:pi:1", "acct_123");

  CHECK(r.response.outcome == StripeOutcome::kOk);
  CHECK(r.response.http_status == 200);
  CHECK(r.response.attempts == 1);
  CHECK(r.response.request_id == "req_abc");
  CHECK_FALSE(r.response.replayed);
  CHECK_FALSE(r.response.error);
  REQUIRE(r.intent);
  CHECK(r.intent->id == "pi_ok");
  CHECK(r.intent->status == "succeeded");
  CHECK(r.intent->amount_received == 1500);
  CHECK(env.sleeper.waits().empty());

  auto seen = env.server.seen();
  REQUIRE(seen.size() == 1);
  const Seen& s = seen[0];
  CHECK(s.method == "POST");
  CHECK(s.path == "/v1/payment_intents");
  CHECK(s.header("Authorization") == std::string("Bearer ") + kKey);
  CHECK(s.header("Content-Type") == "application/x-www-form-urlencoded");
  CHECK(s.header("Stripe-Version") == std::string(kStripeApiVersion));
  CHECK(s.header("Idempotency-Key") == "upsell:glow:1001:7:pi:1");
  CHECK(s.header("Stripe-Account") == "acct_123");
  CHECK(s.body ==
        "amount=1500&currency=usd&customer=cus_1&payment_method=pm_card_visa&confirm=true"
        "&off_session=true&payment_method_types[]=card&description=Upsell%3A%20Mug%20%26%20Co"
        "&statement_descriptor_suffix=MUG&metadata[shop]=glow.myshopify.com"
        "&metadata[order_id]=1001&metadata[note]=a%20b%3Dc%26d");
  auto form = s.form();
  CHECK(form.find("metadata[note]")->second == "a b=c&d");
  CHECK(form.find("description")->second == "Upsell: Mug & Co");
}

TEST_CASE("off_session is only sent with confirm and Stripe-Account only when named", "[stripe]") {
  Env env;
  CreatePaymentIntent p;
  p.amount = 990;
  p.currency = "eur";
  p.confirm = false;
  p.off_session = true;
  p.payment_method_types = {};
  p.return_url = "https://shop.example/thanks?x=1";
  auto r = env.client.create_payment_intent(p, "k1", "");
  CHECK(r.response.outcome == StripeOutcome::kOk);
  auto seen = env.server.seen();
  REQUIRE(seen.size() == 1);
  CHECK(seen[0].body ==
        "amount=990&currency=eur&confirm=false&return_url=https%3A%2F%2Fshop.example%2Fthanks"
        "%3Fx%3D1");
  CHECK_FALSE(seen[0].has("Stripe-Account"));
}

TEST_CASE("the retry decision table", "[stripe]") {
  struct Row {
    std::vector<Reply> replies;
    StripeOutcome outcome;
    int attempts;
    int final_status;
  };
  auto st = [](int status, std::vector<std::pair<std::string, std::string>> h = {}) {
    json body = status < 300 ? pi_json() : error_json("api_error", "scripted");
    return Reply{status, body.dump(), std::move(h), false};
  };
  json declined = error_json("card_error", "card_declined", "generic_decline");
  declined["error"]["payment_intent"] = pi_json("pi_declined", "requires_payment_method");
  auto decline = raw(402, declined.dump());
  auto idem = raw(400, error_json("idempotency_error", "").dump());
  std::vector<std::pair<std::string, Row>> table = {
      {"200", {{st(200)}, StripeOutcome::kOk, 1, 200}},
      {"201", {{st(201)}, StripeOutcome::kOk, 1, 201}},
      {"402 decline", {{decline}, StripeOutcome::kCardError, 1, 402}},
      {"400", {{st(400)}, StripeOutcome::kRejected, 1, 400}},
      {"400 idempotency_error", {{idem}, StripeOutcome::kRejected, 1, 400}},
      {"401", {{st(401)}, StripeOutcome::kRejected, 1, 401}},
      {"403", {{st(403)}, StripeOutcome::kRejected, 1, 403}},
      {"404", {{st(404)}, StripeOutcome::kRejected, 1, 404}},
      {"stored 500 is not retried", {{st(500)}, StripeOutcome::kIndeterminate, 1, 500}},
      {"424 is indeterminate", {{st(424)}, StripeOutcome::kIndeterminate, 1, 424}},
      {"409 then 200", {{st(409), st(200)}, StripeOutcome::kOk, 2, 200}},
      {"429 then 200", {{st(429), st(200)}, StripeOutcome::kOk, 2, 200}},
      {"502 then 200", {{st(502), st(200)}, StripeOutcome::kOk, 2, 200}},
      {"503 then 200", {{st(503), st(200)}, StripeOutcome::kOk, 2, 200}},
      {"504 then 200", {{st(504), st(200)}, StripeOutcome::kOk, 2, 200}},
      {"503 then 402", {{st(503), decline}, StripeOutcome::kCardError, 2, 402}},
      {"429 four times",
       {{st(429), st(429), st(429), st(429)}, StripeOutcome::kIndeterminate, 4, 429}},
      {"409 four times",
       {{st(409), st(409), st(409), st(409)}, StripeOutcome::kIndeterminate, 4, 409}},
      {"non-JSON 502 four times",
       {{raw(502, "<html>bad gateway</html>"), raw(502, "<html>bad gateway</html>"),
         raw(502, "<html>bad gateway</html>"), raw(502, "<html>bad gateway</html>")},
        StripeOutcome::kIndeterminate,
        4,
        502}},
      {"Should-Retry true overrides a 500",
       {{st(500, {{"Stripe-Should-Retry", "true"}}), st(200)}, StripeOutcome::kOk, 2, 200}},
      {"Should-Retry true overrides a 400",
       {{st(400, {{"Stripe-Should-Retry", "true"}}), st(200)}, StripeOutcome::kOk, 2, 200}},
      {"Should-Retry true on a 200 is still final",
       {{st(200, {{"Stripe-Should-Retry", "true"}})}, StripeOutcome::kOk, 1, 200}},
      {"Should-Retry false overrides a 503",
       {{st(503, {{"Stripe-Should-Retry", "false"}})}, StripeOutcome::kIndeterminate, 1, 503}},
      {"Should-Retry false overrides a 429",
       {{st(429, {{"Stripe-Should-Retry", "false"}})}, StripeOutcome::kIndeterminate, 1, 429}},
  };
  for (const auto& [name, row] : table) {
    SECTION(name) {
      Env env;
      for (const auto& r : row.replies) env.server.push(r);
      auto r = env.create("key-" + name.substr(0, 3));
      CHECK(r.response.outcome == row.outcome);
      CHECK(r.response.attempts == row.attempts);
      CHECK(r.response.http_status == row.final_status);
      CHECK(r.response.request_id == "req_" + std::to_string(row.attempts));
      CHECK(env.sleeper.waits().size() == static_cast<size_t>(row.attempts - 1));
      auto seen = env.server.seen();
      REQUIRE(seen.size() == static_cast<size_t>(row.attempts));
      // Every attempt of one call carries the same key and the same body.
      for (const auto& s : seen) {
        CHECK(s.header("Idempotency-Key") == seen[0].header("Idempotency-Key"));
        CHECK(s.body == seen[0].body);
      }
      CHECK(r.intent.has_value() ==
            (row.outcome == StripeOutcome::kOk || row.outcome == StripeOutcome::kCardError));
      if (row.final_status == 502) CHECK_FALSE(r.response.error);
      if (row.final_status >= 400 && row.final_status != 502) {
        REQUIRE(r.response.error);
        CHECK_FALSE(r.response.error->type.empty());
      }
    }
  }
}

TEST_CASE("a decline carries the error and the intent from error.payment_intent", "[stripe]") {
  Env env;
  json body = error_json("card_error", "card_declined", "insufficient_funds");
  json pi = pi_json("pi_declined", "requires_payment_method");
  pi["last_payment_error"] = body["error"];
  body["error"]["payment_intent"] = pi;
  env.server.push(402, body, {{"Idempotent-Replayed", "true"}});
  auto r = env.create();
  CHECK(r.response.outcome == StripeOutcome::kCardError);
  CHECK(r.response.replayed);
  REQUIRE(r.response.error);
  CHECK(r.response.error->type == "card_error");
  CHECK(r.response.error->code == "card_declined");
  CHECK(r.response.error->decline_code == "insufficient_funds");
  CHECK(r.response.error->message == "scripted card_declined");
  REQUIRE(r.intent);
  CHECK(r.intent->id == "pi_declined");
  CHECK(r.intent->status == "requires_payment_method");
  REQUIRE(r.intent->last_payment_error);
  CHECK(r.intent->last_payment_error->decline_code == "insufficient_funds");
}

TEST_CASE("retries wait with growing backoff and honour a short Retry-After", "[stripe]") {
  Env env;
  json busy = error_json("rate_limit_error", "rate_limit");
  env.server.push(429, busy);
  env.server.push(429, busy, {{"Retry-After", "3"}});   // longer than the backoff: honoured
  env.server.push(429, busy, {{"Retry-After", "60"}});  // beyond max_backoff: ignored
  auto r = env.create();
  CHECK(r.response.outcome == StripeOutcome::kOk);
  CHECK(r.response.attempts == 4);
  auto waits = env.sleeper.waits();
  REQUIRE(waits.size() == 3);
  CHECK(waits[0] == 500ms);
  CHECK(waits[1] == 3000ms);
  CHECK((waits[2] >= 1000ms && waits[2] <= 2000ms));
  CHECK(env.sleeper.clock().now_ms() ==
        1'760'000'000'000 + (waits[0] + waits[1] + waits[2]).count());
}

TEST_CASE("a timeout is retried with the same key and the waits go through the sleeper",
          "[stripe]") {
  Env env([](StripeOptions& o) { o.request_timeout = 300ms; });
  env.server.push(raw(200, pi_json().dump(), true));
  env.server.push(raw(200, pi_json().dump(), true));
  auto r = env.create("timeout-key");
  CHECK(r.response.outcome == StripeOutcome::kOk);
  CHECK(r.response.attempts == 3);
  CHECK(r.response.transport_error.empty());
  auto waits = env.sleeper.waits();
  REQUIRE(waits.size() == 2);
  CHECK(waits[0] == 500ms);
  CHECK((waits[1] >= 500ms && waits[1] <= 1000ms));
  auto seen = env.server.seen();
  REQUIRE(seen.size() == 3);
  for (const auto& s : seen) CHECK(s.header("Idempotency-Key") == "timeout-key");
}

TEST_CASE("no answer at all ends indeterminate after max_attempts", "[stripe]") {
  // A bound socket that never listens: every connection is refused at once.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  socklen_t len = sizeof addr;
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  const std::string base = "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port));

  auto http = make_curl_http_client();
  RecordingSleeper sleeper;
  auto opts = options_for(base);
  opts.max_attempts = 3;
  StripeClient client(*http, sleeper, opts, 1);
  CreatePaymentIntent p;
  p.amount = 100;
  p.currency = "usd";
  auto r = client.create_payment_intent(p, "refused-key", "");
  ::close(fd);
  CHECK(r.response.outcome == StripeOutcome::kIndeterminate);
  CHECK(r.response.attempts == 3);
  CHECK(r.response.http_status == 0);
  CHECK_FALSE(r.response.transport_error.empty());
  CHECK_FALSE(r.intent);
  CHECK(sleeper.waits().size() == 2);

  // GETs are retried the same way.
  auto g = client.retrieve_payment_intent("pi_123", "");
  CHECK(g.response.outcome == StripeOutcome::kIndeterminate);
  CHECK(g.response.attempts == 3);
  CHECK(sleeper.waits().size() == 4);
}

TEST_CASE("retrieve and search are GETs without an idempotency key", "[stripe]") {
  Env env;
  env.server.push(503, error_json("api_error", "unavailable"));
  env.server.push(200, pi_json("pi_get", "requires_action"));
  auto g = env.client.retrieve_payment_intent("pi_get", "acct_9");
  CHECK(g.response.outcome == StripeOutcome::kOk);
  CHECK(g.response.attempts == 2);
  REQUIRE(g.intent);
  CHECK(g.intent->id == "pi_get");

  json page = {{"object", "search_result"},
               {"data", {pi_json("pi_s1"), pi_json("pi_s2"), {{"no_id", true}}}},
               {"has_more", true},
               {"next_page", "page_2"}};
  env.server.push(200, page);
  auto s = env.client.search_payment_intents_by_metadata("order_id", "O'Brien 1001", "acct_9");
  CHECK(s.response.outcome == StripeOutcome::kOk);
  REQUIRE(s.intents.size() == 2);
  CHECK(s.intents[0].id == "pi_s1");
  CHECK(s.intents[1].id == "pi_s2");
  CHECK(s.has_more);

  auto seen = env.server.seen();
  REQUIRE(seen.size() == 3);
  CHECK(seen[0].method == "GET");
  CHECK(seen[0].path == "/v1/payment_intents/pi_get");
  CHECK(seen[1].path == "/v1/payment_intents/pi_get");
  CHECK(seen[2].method == "GET");
  CHECK(seen[2].path == "/v1/payment_intents/search");
  REQUIRE(seen[2].query.count("query") == 1);
  CHECK(seen[2].query.find("query")->second == "metadata['order_id']:'O\\'Brien 1001'");
  CHECK(seen[2].query.find("limit")->second == "100");
  for (const auto& r : seen) {
    CHECK_FALSE(r.has("Idempotency-Key"));
    CHECK(r.header("Stripe-Account") == "acct_9");
    CHECK(r.header("Stripe-Version") == std::string(kStripeApiVersion));
    CHECK(r.header("Authorization") == std::string("Bearer ") + kKey);
  }
}

TEST_CASE("a refund names the payment intent and sends its own key", "[stripe]") {
  Env env;
  env.server.push(200, json{{"id", "re_1"},
                            {"object", "refund"},
                            {"status", "succeeded"},
                            {"amount", 1500},
                            {"currency", "usd"},
                            {"payment_intent", "pi_1"},
                            {"reason", "requested_by_customer"}});
  auto r = env.client.create_refund("pi_1", std::nullopt, "requested_by_customer",
                                    {{"order_id", "1001"}, {"why", "order_edit_failed"}},
                                    "upsell:glow:1001:7:refund:1", "");
  CHECK(r.response.outcome == StripeOutcome::kOk);
  REQUIRE(r.refund);
  CHECK(r.refund->id == "re_1");
  CHECK(r.refund->status == "succeeded");
  CHECK(r.refund->amount == 1500);

  auto partial = env.client.create_refund("pi_1", 500, "", {}, "upsell:glow:1001:7:refund:2", "");
  CHECK(partial.response.outcome == StripeOutcome::kOk);

  auto seen = env.server.seen();
  REQUIRE(seen.size() == 2);
  CHECK(seen[0].path == "/v1/refunds");
  CHECK(seen[0].body ==
        "payment_intent=pi_1&reason=requested_by_customer&metadata[order_id]=1001"
        "&metadata[why]=order_edit_failed");
  CHECK(seen[0].header("Idempotency-Key") == "upsell:glow:1001:7:refund:1");
  CHECK(seen[1].body == "payment_intent=pi_1&amount=500");
  CHECK(seen[1].header("Idempotency-Key") == "upsell:glow:1001:7:refund:2");
}

TEST_CASE("bad keys ids accounts and options are refused without a request", "[stripe]") {
  Env env;
  auto refused = [&](const StripeResponse& r, std::string code) {
    CHECK(r.outcome == StripeOutcome::kRejected);
    CHECK(r.attempts == 0);
    CHECK(r.http_status == 0);
    REQUIRE(r.error);
    CHECK(r.error->code == code);
  };
  refused(env.create("").response, "local_idempotency_key_missing");
  refused(env.create(std::string(256, 'k')).response, "local_idempotency_key_too_long");
  refused(env.create("key\r\nX-Injected: 1").response, "local_idempotency_key_invalid");
  refused(env.create("k", "acct_1/../x").response, "local_account_invalid");
  refused(env.create("k", "cus_notanaccount").response, "local_account_invalid");
  refused(env.client.retrieve_payment_intent("../v1/refunds", "").response, "local_id_invalid");
  refused(env.client.retrieve_payment_intent("", "").response, "local_id_invalid");
  refused(env.client.create_refund("pi_1?x=1", std::nullopt, "", {}, "k", "").response,
          "local_id_invalid");
  refused(env.client.create_refund("pi_1", std::nullopt, "", {}, "", "").response,
          "local_idempotency_key_missing");
  refused(env.client.create_refund("pi_1", std::nullopt, "", {{"a]b", "1"}}, "k", "").response,
          "local_metadata_key_invalid");
  refused(env.client.search_payment_intents_by_metadata("a[b", "1", "").response,
          "local_metadata_key_invalid");
  CreatePaymentIntent p;
  p.metadata = {{"order[id]", "1"}};
  refused(env.client.create_payment_intent(p, "k", "").response, "local_metadata_key_invalid");
  // Exactly 255 characters is allowed.
  CHECK(env.create(std::string(255, 'k')).response.outcome == StripeOutcome::kOk);
  CHECK(env.server.seen().size() == 1);

  // A client built with bad options refuses every call; create() reports them up front.
  StripeOptions bad = options_for("http://stripe.example");
  CHECK_FALSE(StripeClient::create(*env.http, env.sleeper, bad));
  StripeClient misconfigured(*env.http, env.sleeper, bad, 1);
  refused(misconfigured.retrieve_payment_intent("pi_1", "").response,
          "local_configuration_invalid");
  auto good = StripeClient::create(*env.http, env.sleeper, options_for(env.server.base_url()));
  REQUIRE(good);
  CHECK((*good)->retrieve_payment_intent("pi_1", "").response.outcome == StripeOutcome::kOk);
  CHECK(env.server.seen().size() == 2);
}

TEST_CASE("logs carry request ids and never the key or a client_secret", "[stripe]") {
  Env env;
  env.server.push(429, error_json("rate_limit_error", "rate_limit"), {{"Request-Id", "req_first"}});
  json body = error_json("card_error", "card_declined", "stolen_card");
  body["error"]["payment_intent"] = pi_json("pi_log", "requires_payment_method");
  env.server.push(402, body, {{"Request-Id", "req_second"}});
  StderrCapture capture;
  auto r = env.create("log-key");
  std::string logged = capture.finish();
  CHECK(r.response.outcome == StripeOutcome::kCardError);
  REQUIRE(r.intent);
  CHECK(r.intent->client_secret == "pi_log_secret_sensitive");  // it is in the body…
  CHECK(logged.find("req_first") != std::string::npos);         // …but the log has ids only
  CHECK(logged.find("req_second") != std::string::npos);
  CHECK(logged.find("stolen_card") != std::string::npos);
  CHECK(logged.find(kKey) == std::string::npos);
  CHECK(logged.find("secret_sensitive") == std::string::npos);
  CHECK(logged.find("pm_card_visa") == std::string::npos);  // parameters are not logged
}

// ---------------------------------------------------------------------------------------------
// Against the Stripe-compatible server (tests/stripe_server/), through libcurl

namespace {

struct Live {
  testing::StripeServer server;
  std::unique_ptr<HttpClient> http = make_curl_http_client();
  RecordingSleeper sleeper;
  StripeClient client;
  explicit Live(std::function<void(StripeOptions&)> tweak = nullptr)
      : client(*http, sleeper, options(server, tweak), 2026) {}
  static StripeOptions options(const testing::StripeServer& s,
                               const std::function<void(StripeOptions&)>& tweak) {
    StripeOptions o;
    o.secret_key = testing::StripeServer::secret_key();
    o.api_base = s.base_url();
    o.request_timeout = 10s;
    if (tweak) tweak(o);
    return o;
  }
  CreatePaymentIntent upsell(std::string customer, std::string card, bool off_session = false,
                             std::string order = "1001") {
    CreatePaymentIntent p;
    p.amount = 1500;
    p.currency = "USD";
    p.customer = std::move(customer);
    p.payment_method = std::move(card);
    p.off_session = off_session;
    p.description = "Upsell: Mug & Co";
    p.metadata = {{"shop", "glow.myshopify.com"}, {"order_id", order}, {"offer_id", "7"}};
    return p;
  }
  // The /v1 requests the server saw with idempotency key `key`.
  std::vector<json> requests_with(const std::string& key) const {
    std::vector<json> out;
    for (const auto& r : server.requests()) {
      if (r["idempotency_key"].is_string() && r["idempotency_key"] == key) out.push_back(r);
    }
    return out;
  }
};

}  // namespace

TEST_CASE("live a saved visa card is charged once", "[stripe][stripe_server]") {
  Live live;
  std::string cus = live.server.create_customer();
  auto r = live.client.create_payment_intent(live.upsell(cus, "pm_card_visa"), "ok:1", "");
  REQUIRE(r.response.outcome == StripeOutcome::kOk);
  CHECK(r.response.http_status == 200);
  CHECK(r.response.attempts == 1);
  CHECK_FALSE(r.response.replayed);
  CHECK(r.response.request_id.starts_with("req_"));
  REQUIRE(r.intent);
  CHECK(r.intent->id.starts_with("pi_"));
  CHECK(r.intent->status == "succeeded");
  CHECK(r.intent->amount == 1500);
  CHECK(r.intent->amount_received == 1500);
  CHECK(r.intent->currency == "usd");
  CHECK(r.intent->customer == cus);
  CHECK(r.intent->description == "Upsell: Mug & Co");
  CHECK(r.intent->metadata.at("order_id") == "1001");
  CHECK(r.intent->latest_charge.starts_with("ch_"));

  auto all = live.server.payment_intents();
  REQUIRE(all.size() == 1);
  CHECK(all[0]["id"] == r.intent->id);
  auto seen = live.requests_with("ok:1");
  REQUIRE(seen.size() == 1);
  CHECK(seen[0]["status"] == 200);

  auto got = live.client.retrieve_payment_intent(r.intent->id, "");
  CHECK(got.response.outcome == StripeOutcome::kOk);
  REQUIRE(got.intent);
  CHECK(got.intent->status == "succeeded");
}

TEST_CASE("live a decline is a card error with the intent from the error",
          "[stripe][stripe_server]") {
  Live live;
  std::string cus = live.server.create_customer();
  auto r = live.client.create_payment_intent(
      live.upsell(cus, "pm_card_visa_chargeDeclinedInsufficientFunds", true), "decline:1", "");
  CHECK(r.response.outcome == StripeOutcome::kCardError);
  CHECK(r.response.http_status == 402);
  CHECK(r.response.attempts == 1);
  REQUIRE(r.response.error);
  CHECK(r.response.error->type == "card_error");
  CHECK(r.response.error->code == "card_declined");
  CHECK(r.response.error->decline_code == "insufficient_funds");
  CHECK_FALSE(r.response.error->message.empty());
  REQUIRE(r.intent);
  CHECK(r.intent->status == "requires_payment_method");
  REQUIRE(r.intent->last_payment_error);
  CHECK(r.intent->last_payment_error->decline_code == "insufficient_funds");

  // The decline is stored under the key: asking again replays it, nothing new is charged.
  auto again = live.client.create_payment_intent(
      live.upsell(cus, "pm_card_visa_chargeDeclinedInsufficientFunds", true), "decline:1", "");
  CHECK(again.response.outcome == StripeOutcome::kCardError);
  CHECK(again.response.replayed);
  REQUIRE(again.intent);
  CHECK(again.intent->id == r.intent->id);
  CHECK(live.server.payment_intents().size() == 1);
}

TEST_CASE("live 3DS is requires_action on-session and authentication_required off-session",
          "[stripe][stripe_server]") {
  Live live;
  std::string cus = live.server.create_customer();
  auto on = live.client.create_payment_intent(
      live.upsell(cus, "pm_card_authenticationRequired", false), "3ds:on", "");
  REQUIRE(on.response.outcome == StripeOutcome::kOk);
  REQUIRE(on.intent);
  CHECK(on.intent->status == "requires_action");
  CHECK(on.intent->client_secret.starts_with(on.intent->id + "_secret_"));
  CHECK_FALSE(on.intent->next_action_type.empty());
  CHECK(on.intent->amount_received == 0);

  // The shopper completes the challenge; the intent then reads succeeded.
  live.server.authenticate(on.intent->id, true);
  auto after = live.client.retrieve_payment_intent(on.intent->id, "");
  REQUIRE(after.intent);
  CHECK(after.intent->status == "succeeded");

  auto off = live.client.create_payment_intent(
      live.upsell(cus, "pm_card_authenticationRequired", true), "3ds:off", "");
  CHECK(off.response.outcome == StripeOutcome::kCardError);
  CHECK(off.response.http_status == 402);
  REQUIRE(off.response.error);
  CHECK(off.response.error->code == "authentication_required");
  REQUIRE(off.intent);
  CHECK(off.intent->status == "requires_payment_method");
  CHECK_FALSE(off.intent->client_secret.empty());  // for an on-session retry by the page
}

TEST_CASE("live the same key twice is replayed and makes one intent", "[stripe][stripe_server]") {
  Live live;
  std::string cus = live.server.create_customer();
  auto first = live.client.create_payment_intent(live.upsell(cus, "pm_card_visa"), "twice", "");
  auto second = live.client.create_payment_intent(live.upsell(cus, "pm_card_visa"), "twice", "");
  REQUIRE(first.intent);
  REQUIRE(second.intent);
  CHECK(first.response.outcome == StripeOutcome::kOk);
  CHECK(second.response.outcome == StripeOutcome::kOk);
  CHECK_FALSE(first.response.replayed);
  CHECK(second.response.replayed);
  CHECK(second.intent->id == first.intent->id);
  CHECK(live.server.payment_intents().size() == 1);

  // The same key with other parameters is our mistake: rejected at once, never retried.
  auto changed = live.upsell(cus, "pm_card_visa");
  changed.amount = 2500;
  auto wrong = live.client.create_payment_intent(changed, "twice", "");
  CHECK(wrong.response.outcome == StripeOutcome::kRejected);
  CHECK(wrong.response.http_status == 400);
  CHECK(wrong.response.attempts == 1);
  REQUIRE(wrong.response.error);
  CHECK(wrong.response.error->type == "idempotency_error");
  CHECK(live.server.payment_intents().size() == 1);
}

TEST_CASE("live a connection dropped after the charge is retried into the replayed success",
          "[stripe][stripe_server]") {
  Live live;
  std::string cus = live.server.create_customer();
  live.server.fault("POST", "/v1/payment_intents", "drop_after");
  auto r = live.client.create_payment_intent(live.upsell(cus, "pm_card_visa"), "drop:1", "");
  CHECK(r.response.outcome == StripeOutcome::kOk);
  CHECK(r.response.attempts == 2);
  CHECK(r.response.replayed);
  REQUIRE(r.intent);
  CHECK(r.intent->status == "succeeded");
  CHECK(live.sleeper.waits() == std::vector<std::chrono::milliseconds>{500ms});

  auto all = live.server.payment_intents();
  REQUIRE(all.size() == 1);
  CHECK(all[0]["id"] == r.intent->id);
  auto seen = live.requests_with("drop:1");
  REQUIRE(seen.size() == 2);
  CHECK(seen[0]["fault"] == "drop_after");
  CHECK(seen[1]["replayed"] == true);
}

TEST_CASE("live a stored 500 is indeterminate after one attempt and search reconciles",
          "[stripe][stripe_server]") {
  Live live;
  std::string cus = live.server.create_customer();
  live.server.fault("POST", "/v1/payment_intents", "500");
  auto r = live.client.create_payment_intent(live.upsell(cus, "pm_card_visa", false, "2002"),
                                             "stored500", "");
  CHECK(r.response.outcome == StripeOutcome::kIndeterminate);
  CHECK(r.response.http_status == 500);
  CHECK(r.response.attempts == 1);
  CHECK_FALSE(r.intent);
  CHECK(live.sleeper.waits().empty());
  REQUIRE(r.response.error);
  CHECK(r.response.error->type == "api_error");

  // Nothing was made under that key: the search finds nothing for the order.
  auto none = live.client.search_payment_intents_by_metadata("order_id", "2002", "");
  CHECK(none.response.outcome == StripeOutcome::kOk);
  CHECK(none.intents.empty());
  // The 500 is stored: the same key replays it.
  auto replay = live.client.create_payment_intent(live.upsell(cus, "pm_card_visa", false, "2002"),
                                                  "stored500", "");
  CHECK(replay.response.outcome == StripeOutcome::kIndeterminate);
  CHECK(replay.response.replayed);
  CHECK(replay.response.attempts == 1);
  CHECK(live.server.payment_intents().empty());

  // A charge that ran but whose answer was lost (one attempt allowed) is found by the search.
  StripeClient once(*live.http, live.sleeper,
                    Live::options(live.server, [](StripeOptions& o) { o.max_attempts = 1; }), 3);
  live.server.fault("POST", "/v1/payment_intents", "drop_after");
  auto lost = once.create_payment_intent(live.upsell(cus, "pm_card_visa", false, "O'Brien 3003"),
                                         "lost:1", "");
  CHECK(lost.response.outcome == StripeOutcome::kIndeterminate);
  CHECK(lost.response.http_status == 0);
  CHECK(lost.response.attempts == 1);
  auto found = live.client.search_payment_intents_by_metadata("order_id", "O'Brien 3003", "");
  CHECK(found.response.outcome == StripeOutcome::kOk);
  REQUIRE(found.intents.size() == 1);
  CHECK(found.intents[0].status == "succeeded");
  CHECK(found.intents[0].metadata.at("order_id") == "O'Brien 3003");
  // The escaped quote kept the value one string: a look-alike order is not matched.
  auto other = live.client.search_payment_intents_by_metadata("order_id", "O'Brien", "");
  CHECK(other.response.outcome == StripeOutcome::kOk);
  CHECK(other.intents.empty());
}

TEST_CASE("live 429 twice then success takes three attempts and one intent",
          "[stripe][stripe_server]") {
  Live live;
  std::string cus = live.server.create_customer();
  live.server.fault("POST", "/v1/payment_intents", "429", 2);
  auto r = live.client.create_payment_intent(live.upsell(cus, "pm_card_visa"), "busy:1", "");
  CHECK(r.response.outcome == StripeOutcome::kOk);
  CHECK(r.response.attempts == 3);
  CHECK_FALSE(r.response.replayed);  // 429s are not stored: the third attempt ran it
  auto waits = live.sleeper.waits();
  REQUIRE(waits.size() == 2);
  CHECK(waits[0] == 500ms);
  CHECK((waits[1] >= 500ms && waits[1] <= 1000ms));
  CHECK(live.server.payment_intents().size() == 1);
  auto seen = live.requests_with("busy:1");
  REQUIRE(seen.size() == 3);
  CHECK(seen[0]["status"] == 429);
  CHECK(seen[1]["status"] == 429);
  CHECK(seen[2]["status"] == 200);
}

TEST_CASE("live a request that times out is retried after recorded backoff waits",
          "[stripe][stripe_server]") {
  Live live([](StripeOptions& o) { o.request_timeout = 300ms; });
  std::string cus = live.server.create_customer();
  live.server.fault("POST", "/v1/payment_intents", "timeout", 2);
  auto r = live.client.create_payment_intent(live.upsell(cus, "pm_card_visa"), "slow:1", "");
  CHECK(r.response.outcome == StripeOutcome::kOk);
  CHECK(r.response.attempts == 3);
  auto waits = live.sleeper.waits();
  REQUIRE(waits.size() == 2);
  CHECK(waits[0] == 500ms);
  CHECK((waits[1] >= 500ms && waits[1] <= 1000ms));
  CHECK(live.sleeper.clock().now_ms() == 1'760'000'000'000 + (waits[0] + waits[1]).count());
  CHECK(live.server.payment_intents().size() == 1);
  auto seen = live.requests_with("slow:1");
  REQUIRE(seen.size() == 3);
  CHECK(seen[0]["status"].is_null());
  CHECK(seen[1]["status"].is_null());
}

TEST_CASE("live a concurrent call with the same key waits out the first and never charges twice",
          "[stripe][stripe_server]") {
  Live live;
  std::string cus = live.server.create_customer();
  live.server.hold("POST", "/v1/payment_intents");
  PaymentIntentResult first;
  std::thread t([&] {
    first = live.client.create_payment_intent(live.upsell(cus, "pm_card_visa"), "race:1", "");
  });
  REQUIRE(live.server.wait_held(1, 10s));
  // The key is in use: 409 idempotency_key_in_use (Should-Retry: true) on every attempt.
  auto second = live.client.create_payment_intent(live.upsell(cus, "pm_card_visa"), "race:1", "");
  live.server.release();
  t.join();
  CHECK(second.response.outcome == StripeOutcome::kIndeterminate);
  CHECK(second.response.http_status == 409);
  CHECK(second.response.attempts == 4);
  REQUIRE(second.response.error);
  CHECK(second.response.error->code == "idempotency_key_in_use");
  CHECK(first.response.outcome == StripeOutcome::kOk);
  REQUIRE(first.intent);
  auto third = live.client.create_payment_intent(live.upsell(cus, "pm_card_visa"), "race:1", "");
  CHECK(third.response.replayed);
  REQUIRE(third.intent);
  CHECK(third.intent->id == first.intent->id);
  CHECK(live.server.payment_intents().size() == 1);
}

TEST_CASE("live Stripe-Account keeps each intent inside its own account",
          "[stripe][stripe_server]") {
  Live live;
  std::string a = live.server.create_account();
  std::string b = live.server.create_account();
  std::string cus = live.server.create_customer(a);
  auto r = live.client.create_payment_intent(live.upsell(cus, "pm_card_visa", false, "4004"),
                                             "acct:1", a);
  REQUIRE(r.response.outcome == StripeOutcome::kOk);
  REQUIRE(r.intent);

  auto in_a = live.client.retrieve_payment_intent(r.intent->id, a);
  CHECK(in_a.response.outcome == StripeOutcome::kOk);
  auto in_b = live.client.retrieve_payment_intent(r.intent->id, b);
  CHECK(in_b.response.outcome == StripeOutcome::kRejected);
  CHECK(in_b.response.http_status == 404);
  CHECK(in_b.response.attempts == 1);
  REQUIRE(in_b.response.error);
  CHECK(in_b.response.error->code == "resource_missing");
  auto on_platform = live.client.retrieve_payment_intent(r.intent->id, "");
  CHECK(on_platform.response.outcome == StripeOutcome::kRejected);

  CHECK(live.client.search_payment_intents_by_metadata("order_id", "4004", a).intents.size() == 1);
  CHECK(live.client.search_payment_intents_by_metadata("order_id", "4004", b).intents.empty());

  // An account the key cannot reach is refused (403), not retried.
  auto unknown = live.client.retrieve_payment_intent(r.intent->id, "acct_doesnotexist");
  CHECK(unknown.response.outcome == StripeOutcome::kRejected);
  CHECK(unknown.response.http_status == 403);

  auto all = live.server.payment_intents();
  REQUIRE(all.size() == 1);
  CHECK(all[0]["account"] == a);
  auto seen = live.requests_with("acct:1");
  REQUIRE(seen.size() == 1);
  CHECK(seen[0]["account"] == a);
}

TEST_CASE("live a refund by payment intent has its own key and is replay safe",
          "[stripe][stripe_server]") {
  Live live;
  std::string acct = live.server.create_account();
  std::string cus = live.server.create_customer(acct);
  auto pi = live.client.create_payment_intent(live.upsell(cus, "pm_card_visa"), "pi:1", acct);
  REQUIRE(pi.intent);
  std::vector<std::pair<std::string, std::string>> md = {{"order_id", "1001"},
                                                         {"why", "order_edit_failed"}};
  live.server.fault("POST", "/v1/refunds", "drop_after");
  auto r = live.client.create_refund(pi.intent->id, std::nullopt, "requested_by_customer", md,
                                     "refund:1", acct);
  CHECK(r.response.outcome == StripeOutcome::kOk);
  CHECK(r.response.attempts == 2);
  CHECK(r.response.replayed);
  REQUIRE(r.refund);
  CHECK(r.refund->id.starts_with("re_"));
  CHECK(r.refund->payment_intent == pi.intent->id);
  CHECK(r.refund->amount == 1500);
  CHECK(r.refund->currency == "usd");
  CHECK(r.refund->reason == "requested_by_customer");

  auto again = live.client.create_refund(pi.intent->id, std::nullopt, "requested_by_customer", md,
                                         "refund:1", acct);
  CHECK(again.response.outcome == StripeOutcome::kOk);
  CHECK(again.response.replayed);
  REQUIRE(again.refund);
  CHECK(again.refund->id == r.refund->id);
  auto refunds = live.server.refunds();
  REQUIRE(refunds.size() == 1);
  CHECK(refunds[0]["account"] == acct);

  // A second refund with a new key finds nothing left to refund: Stripe's answer, not a retry.
  auto more =
      live.client.create_refund(pi.intent->id, 100, "requested_by_customer", md, "refund:2", acct);
  CHECK(more.response.outcome == StripeOutcome::kRejected);
  CHECK(more.response.attempts == 1);
  CHECK(live.server.refunds().size() == 1);
}
