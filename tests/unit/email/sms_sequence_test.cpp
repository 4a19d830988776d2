// Whole SMS flows on a ManualClock: the step runner sends through TwilioSms to the
// Twilio-compatible test server (tests/sms_server/) on loopback, and inbound texts come back
// through the real webhook routes. Quiet hours in the recipient's zone, the first-message HELP
// line, a number opted out at the provider, consent without wording, a send whose outcome is
// unknown, and a STOP between two steps.
#include <httplib.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "email/sms_webhooks.h"
#include "email/twilio_sms.h"
#include "plugin/core/http_client.h"
#include "tests/support/sms_server.h"
#include "tests/unit/email/sequence_env.h"

using namespace afterglow;
using namespace afterglow::email;
using namespace afterglow::email::testenv;
using afterglow::testing::SmsServer;

namespace {

constexpr int64_t kHourMs = 3'600'000;
// A Chicago number (area code 312); the customer's address is in Illinois too. Chicago is on
// CST (UTC-6) in early March 2026: kStart, 15:00 UTC, is 09:00 there.
constexpr const char* kPhone = "+13125550100";
constexpr int64_t kTuesday10Chicago = kStart + kHourMs;          // 16:00 UTC
constexpr int64_t kTuesday23Chicago = kStart + 14 * kHourMs;     // Wed 05:00 UTC
constexpr int64_t kWednesday10Chicago = kStart + 25 * kHourMs;   // Wed 16:00 UTC
constexpr const char* kSmsWording =
    "By checking this box I agree to receive recurring marketing texts from Glow Shop at the "
    "number provided. Consent is not a condition of purchase. Msg&data rates may apply. Reply "
    "STOP to cancel, HELP for help.";

// The real TwilioSms, with a hook that runs once after the provider answered (or gave up) and
// before the step runner records the outcome: the place where a slow answer outlives a lease.
class HookedSms final : public SmsSender {
 public:
  explicit HookedSms(std::unique_ptr<SmsSender> inner) : inner_(std::move(inner)) {}
  SmsResult send(const OutgoingSms& sms) override {
    SmsResult r = inner_->send(sms);
    if (after_send) {
      auto hook = std::move(after_send);
      after_send = nullptr;
      hook();
    }
    return r;
  }
  std::function<void()> after_send;

 private:
  std::unique_ptr<SmsSender> inner_;
};

// SequenceEnv with the SMS channel on: a Twilio-compatible server, TwilioSms pointed at it over
// plain HTTP on loopback, and helpers for SMS flows. Members are declared in the order they must
// be built (the sender refers to the HTTP client, which refers to nothing).
struct SmsFlowEnv {
  explicit SmsFlowEnv(std::chrono::milliseconds provider_timeout = std::chrono::seconds(10))
      : env(sender(provider_timeout)) {}

  std::unique_ptr<SmsSender> sender(std::chrono::milliseconds timeout) {
    TwilioSmsOptions o;
    o.api_base = sms.base_url();
    o.account_sid = SmsServer::account_sid();
    o.auth_token = SmsServer::auth_token();
    o.from = SmsServer::sender();
    o.request_timeout = timeout;
    REQUIRE(validate_twilio_sms_options(o));
    auto s = std::make_unique<HookedSms>(std::make_unique<TwilioSms>(*http, o));
    hooked = s.get();
    return s;
  }

  void sms_consent(const std::string& wording) {
    env.consent(AddressChannel::kSms, kPhone, ConsentState::kSubscribed, wording);
  }

  // A live flow for `trigger` with these steps (the admin API's JSON form).
  int64_t flow(const std::string& name, const std::string& trigger, json steps,
               json exits = json::array()) {
    json j{{"name", name},
           {"status", "live"},
           {"trigger", trigger},
           {"steps", std::move(steps)},
           {"exit_conditions", std::move(exits)},
           {"reentry_cooldown_hours", 0}};
    auto f = flow_from_json(j);
    INFO((f ? "" : f.error().message));
    REQUIRE(f);
    int64_t id = 0;
    env.write([&](Tx& tx) -> Result<void> {
      id = AG_TRY(insert_flow(tx, env.shop, *f, env.clock.now_ms())).id;
      return {};
    });
    return id;
  }

  // The customer's order event, with their phone.
  void enrol(FlowTrigger trigger, int64_t order_id) {
    TriggerEvent e = env.event(trigger, order_id, {101});
    e.phone = kPhone;
    auto out = env.enrol(e);
    REQUIRE(out.size() == 1);
    REQUIRE(out[0].enrolment_id);
  }

  std::optional<std::string> suppression() {
    std::optional<std::string> out;
    env.write([&](Tx& tx) -> Result<void> {
      out = AG_TRY(suppression_reason(tx, env.shop, AddressChannel::kSms, kPhone));
      return {};
    });
    return out;
  }

  // What happened to the steps ("outcome:reason", oldest first): the send log without the
  // "entered" rows enrolment writes.
  std::vector<std::string> steps() {
    std::vector<std::string> out;
    for (std::string& line : env.log()) {
      if (!line.starts_with("entered:")) out.push_back(std::move(line));
    }
    return out;
  }

  // Bodies of the texts the provider created, oldest first.
  std::vector<std::string> texts() {
    std::vector<std::string> out;
    for (const json& m : sms.messages()) {
      CHECK(m.at("to") == kPhone);
      out.push_back(m.at("body").get<std::string>());
    }
    return out;
  }

  SmsServer sms;
  std::unique_ptr<HttpClient> http = make_curl_http_client();
  HookedSms* hooked = nullptr;
  SequenceEnv env;
};

json send_sms(const std::string& id, const std::string& body) {
  return {{"id", id}, {"type", "send_sms"}, {"body", body}};
}

json delay_days(const std::string& id, int days) {
  return {{"id", id}, {"type", "delay"}, {"duration_minutes", days * 24 * 60}};
}

// The SMS webhook routes on an in-process server on loopback, as the provider would reach them.
class WebhookHost {
 public:
  WebhookHost(Db& db, const Clock& clock) : services_{db, clock, SmsServer::auth_token(), ""} {
    mount_sms_webhooks(server_, services_);
    port_ = server_.bind_to_any_port("127.0.0.1");
    REQUIRE(port_ > 0);
    services_.app_url = "http://127.0.0.1:" + std::to_string(port_);
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    // stop() is a no-op until the accept loop runs: wait for it, bounded.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!server_.is_running() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::yield();
    }
    REQUIRE(server_.is_running());
  }
  ~WebhookHost() {
    server_.stop();
    thread_.join();
  }
  std::string url(const std::string& path) const { return services_.app_url + path; }

 private:
  SmsWebhookServices services_;
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
};

bool contains(const std::string& text, const std::string& needle) {
  return text.find(needle) != std::string::npos;
}

}  // namespace

TEST_CASE("an SMS due at 23:00 in Chicago goes out at 10:00 the next morning there",
          "[sequence][sms][db]") {
  SmsFlowEnv f;
  f.sms_consent(kSmsWording);
  f.flow("Thanks by text", "order_paid",
         {send_sms("thanks", "Thanks {{first_name}}! Order {{order_name}} is being packed.")});
  f.env.clock.set_ms(kTuesday23Chicago);
  f.enrol(FlowTrigger::kOrderPaid, 5101);

  f.env.run();
  CHECK(f.sms.requests().empty());
  CHECK(f.steps() == std::vector<std::string>{"delayed:quiet_hours"});
  auto detail = testing::query_row(
      *f.env.db, "SELECT detail FROM send_log WHERE reason = 'quiet_hours'");
  REQUIRE(detail);
  INFO(detail->text(0));
  CHECK(contains(detail->text(0), "America/Chicago"));

  // Through the night and up to 09:00 in Chicago (15:00 UTC: already 10:00 in the shop's own
  // zone, New York, which does not matter for a Chicago recipient): nothing yet.
  f.env.pass(std::chrono::milliseconds(kWednesday10Chicago - kHourMs - f.env.clock.now_ms()));
  CHECK(f.sms.requests().empty());
  f.env.pass(1h);
  auto texts = f.texts();
  REQUIRE(texts.size() == 1);
  CHECK(contains(texts[0], "Thanks Ada! Order #5101 is being packed."));
  CHECK(f.env.count("SELECT sent_at_ms FROM messages WHERE channel = 'sms' AND state = 'sent'") ==
        kWednesday10Chicago);
  CHECK(f.steps() == std::vector<std::string>{"delayed:quiet_hours", "sent:sent"});
  CHECK(f.env.count("SELECT COUNT(*) FROM enrolments WHERE state = 'completed'") == 1);
}

TEST_CASE("only the first SMS to a number carries the HELP line and every SMS carries STOP",
          "[sequence][sms][db]") {
  SmsFlowEnv f;
  f.sms_consent(kSmsWording);
  f.flow("Thanks by text", "order_paid", {send_sms("thanks", "Thanks for your order!")});
  f.flow("Shipped by text", "order_fulfilled", {send_sms("shipped", "Your order has shipped.")});
  f.env.clock.set_ms(kTuesday10Chicago);
  f.enrol(FlowTrigger::kOrderPaid, 5201);
  f.env.run();
  auto texts = f.texts();
  REQUIRE(texts.size() == 1);
  INFO(texts[0]);
  CHECK(texts[0].starts_with("Glow Shop: Thanks for your order!"));
  CHECK(contains(texts[0], "Reply STOP"));
  CHECK(contains(texts[0], "Reply HELP"));

  // The next day (past the 24 h SMS cap), another flow texts the same number.
  f.env.pass(25h);
  f.enrol(FlowTrigger::kOrderFulfilled, 5201);
  f.env.run();
  texts = f.texts();
  REQUIRE(texts.size() == 2);
  INFO(texts[1]);
  CHECK(texts[1].starts_with("Glow Shop: Your order has shipped."));
  CHECK(contains(texts[1], "Reply STOP"));
  CHECK_FALSE(contains(texts[1], "Reply HELP"));
  CHECK(f.steps() == std::vector<std::string>{"sent:sent", "sent:sent"});
}

TEST_CASE("a number opted out at the provider is suppressed and its later steps are skipped",
          "[sequence][sms][db]") {
  SmsFlowEnv f;
  f.sms_consent(kSmsWording);
  f.sms.opt_out(kPhone);  // the person texted STOP to our sender, and only the provider knows
  f.flow("Two texts", "order_paid",
         {send_sms("first", "Thanks for your order!"), delay_days("wait", 2),
          send_sms("second", "How is it going?")});
  f.env.clock.set_ms(kTuesday10Chicago);
  f.enrol(FlowTrigger::kOrderPaid, 5301);
  f.env.run();

  CHECK(f.sms.messages().empty());
  CHECK(f.sms.requests().size() == 1);
  CHECK(f.env.count("SELECT COUNT(*) FROM messages WHERE step_id = 'first' AND state = 'failed' "
                    "AND error LIKE '%21610%'") == 1);
  CHECK(f.suppression() == std::optional<std::string>("sms_stop"));
  CHECK(f.steps() == std::vector<std::string>{"failed:sms_opted_out"});

  f.env.pass(2 * 24h);
  CHECK(f.sms.requests().size() == 1);  // the second step never reached the provider
  CHECK(f.steps() == std::vector<std::string>{"failed:sms_opted_out", "skipped:suppressed"});
  CHECK(f.env.count("SELECT COUNT(*) FROM messages WHERE step_id = 'second'") == 0);
  CHECK(f.env.count("SELECT COUNT(*) FROM enrolments WHERE state = 'completed'") == 1);
}

TEST_CASE("an SMS consent without its wording sends nothing", "[sequence][sms][db]") {
  SmsFlowEnv f;
  f.sms_consent("");
  f.flow("Thanks by text", "order_paid", {send_sms("thanks", "Thanks for your order!")});
  f.env.clock.set_ms(kTuesday10Chicago);
  f.enrol(FlowTrigger::kOrderPaid, 5401);
  f.env.run();
  CHECK(f.sms.requests().empty());
  CHECK(f.env.count("SELECT COUNT(*) FROM messages") == 0);
  CHECK(f.steps() == std::vector<std::string>{"skipped:no_express_sms_consent"});
}

TEST_CASE("an SMS whose provider call timed out is unknown and never sent again",
          "[sequence][sms][db]") {
  SmsFlowEnv f(std::chrono::seconds(1));
  f.sms_consent(kSmsWording);
  f.flow("Thanks by text", "order_paid", {send_sms("thanks", "Thanks for your order!")});
  f.env.clock.set_ms(kTuesday10Chicago);
  f.enrol(FlowTrigger::kOrderPaid, 5501);
  f.sms.fault_timeout();  // the provider creates the message and never answers
  f.env.run();

  // The provider did create it: a resend would be a duplicate.
  CHECK(f.sms.messages().size() == 1);
  CHECK(f.sms.requests().size() == 1);
  CHECK(f.env.count("SELECT COUNT(*) FROM messages WHERE state = 'unknown'") == 1);
  CHECK(f.steps() == std::vector<std::string>{"unknown:sms_outcome_unknown"});

  // Leases expire and days pass: nothing claims it again.
  f.env.pass(3 * 24h);
  CHECK(f.sms.requests().size() == 1);
  CHECK(f.env.count("SELECT COUNT(*) FROM messages WHERE state = 'unknown'") == 1);
  CHECK(f.env.count("SELECT COUNT(*) FROM step_runs WHERE state IN ('pending', 'running')") == 0);
  CHECK(f.steps() == std::vector<std::string>{"unknown:sms_outcome_unknown"});
}

TEST_CASE("an SMS whose lease ran out during a timed-out send is not sent by the next worker",
          "[sequence][sms][db]") {
  SmsFlowEnv f(std::chrono::seconds(1));
  f.sms_consent(kSmsWording);
  f.flow("Thanks by text", "order_paid", {send_sms("thanks", "Thanks for your order!")});
  f.env.clock.set_ms(kTuesday10Chicago);
  f.enrol(FlowTrigger::kOrderPaid, 5601);
  f.sms.fault_timeout();
  // The answer takes longer than the lease: meanwhile another worker claims the run.
  std::optional<int> second;
  std::string second_error;
  f.hooked->after_send = [&] {
    f.env.clock.advance(std::chrono::minutes(3));
    auto ran = f.env.runner->run_due("second-worker", 10);
    if (ran) second = *ran;
    else second_error = ran.error().message;
  };
  f.env.run();

  INFO(second_error);
  REQUIRE(second);
  CHECK(*second == 1);  // it claimed the expired run …
  CHECK(f.sms.requests().size() == 1);  // … and did not send it again
  CHECK(f.env.count("SELECT COUNT(*) FROM messages") == 1);
  CHECK(f.env.count("SELECT COUNT(*) FROM messages WHERE state = 'unknown'") == 1);
  // The second worker resolved the run; the first, no longer its owner, logged nothing more.
  CHECK(f.steps() == std::vector<std::string>{"unknown:interrupted_send"});

  f.env.pass(3 * 24h);
  CHECK(f.sms.requests().size() == 1);
  CHECK(f.env.count("SELECT COUNT(*) FROM step_runs WHERE state IN ('pending', 'running')") == 0);
}

TEST_CASE("a STOP texted between two steps stops the second one", "[sequence][sms][db]") {
  for (bool exits_on_unsubscribe : {false, true}) {
    DYNAMIC_SECTION("flow exits on unsubscribe " << exits_on_unsubscribe) {
      SmsFlowEnv f;
      WebhookHost host(*f.env.db, f.env.clock);
      f.sms_consent(kSmsWording);
      f.flow("Two texts", "order_paid",
             {send_sms("first", "Thanks for your order!"), delay_days("wait", 2),
              send_sms("second", "How is it going?")},
             exits_on_unsubscribe ? json::array({"unsubscribed"}) : json::array());
      f.env.clock.set_ms(kTuesday10Chicago);
      f.enrol(FlowTrigger::kOrderPaid, 5701);
      f.env.run();
      REQUIRE(f.texts().size() == 1);

      f.env.pass(6h);
      auto answer = f.sms.inbound(kPhone, SmsServer::sender(), "STOP", host.url("/webhooks/sms"));
      CHECK(answer.status == 200);
      CHECK(f.suppression() == std::optional<std::string>("sms_stop"));

      f.env.pass(2 * 24h);
      CHECK(f.texts().size() == 1);
      CHECK(f.env.count("SELECT COUNT(*) FROM messages WHERE step_id = 'second'") == 0);
      // The withdrawn consent is seen first (send policy rule 3), before the suppression.
      if (exits_on_unsubscribe) {
        CHECK(f.steps() == std::vector<std::string>{"sent:sent", "exited:exit_unsubscribed"});
        CHECK(f.env.count("SELECT COUNT(*) FROM enrolments WHERE state = 'exited'") == 1);
      } else {
        CHECK(f.steps() ==
              std::vector<std::string>{"sent:sent", "skipped:no_express_sms_consent"});
        CHECK(f.env.count("SELECT COUNT(*) FROM enrolments WHERE state = 'completed'") == 1);
      }
    }
  }
}
