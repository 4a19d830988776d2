// Whole flows on a ManualClock against a real SMTP server on loopback: each seed flow's timing,
// exits between steps, caps, consent withdrawn after scheduling, a crash between claim and send,
// transient and ambiguous SMTP failures. Days pass in milliseconds.
#include <catch2/catch.hpp>

#include "tests/unit/email/sequence_env.h"

using namespace afterglow;
using namespace afterglow::email;
using namespace afterglow::email::testenv;

namespace {

std::string text_part(const ParsedEntity& m) {
  for (const ParsedEntity& p : m.parts) {
    if (p.content_type() == "text/plain") {
      auto b = decode_body(p);
      REQUIRE(b);
      return *b;
    }
  }
  FAIL("no text/plain part");
  return "";
}

std::string html_part(const ParsedEntity& m) {
  for (const ParsedEntity& p : m.parts) {
    if (p.content_type() == "text/html") {
      auto b = decode_body(p);
      REQUIRE(b);
      return *b;
    }
  }
  FAIL("no text/html part");
  return "";
}

}  // namespace

TEST_CASE("post-purchase cross-sell sends at 48 h and the reminder 4 days later without a click",
          "[sequence][db]") {
  SequenceEnv env;
  int64_t flow = env.live_template("post_purchase_cross_sell");
  env.order(5001, {101}, kStart);
  auto out = env.enrol(env.event(FlowTrigger::kOrderFulfilled, 5001, {101}));
  REQUIRE(out.size() == 1);
  REQUIRE(out[0].enrolment_id);

  env.pass(47h);
  CHECK(env.smtp.messages().empty());
  env.pass(1h);
  REQUIRE(env.smtp.messages().size() == 1);

  auto mail = env.mail();
  const ParsedEntity& m = mail[0];
  CHECK(m.header("Subject") == "Something to go with your order");
  CHECK(m.content_type() == "multipart/alternative");
  CHECK(m.count("List-Unsubscribe") == 1);
  CHECK(m.header("List-Unsubscribe-Post") == "List-Unsubscribe=One-Click");
  std::string lu = m.find("List-Unsubscribe")->raw;
  CHECK(lu.find("\r\n") == std::string::npos);  // one line, never folded
  CHECK(lu.find("<https://afterglow.test/u/") != std::string::npos);
  CHECK(lu.find("<mailto:") != std::string::npos);
  std::string text = text_part(m);
  std::string html = html_part(m);
  CHECK(text.find("Hi Ada") != std::string::npos);
  CHECK(html.find("1 Market Street, Springfield") != std::string::npos);
  CHECK(text.find("1 Market Street, Springfield") != std::string::npos);
  // Two recommendations, never the product just bought, behind click-tracking links.
  CHECK(html.find("Product 102") != std::string::npos);
  CHECK(html.find("Product 103") != std::string::npos);
  CHECK(html.find("Product 101") == std::string::npos);
  CHECK(html.find("https://cdn.glow.example/103.png") != std::string::npos);
  CHECK(html.find("data:image") == std::string::npos);  // mail cannot show it: left out
  CHECK(html.find("https://afterglow.test/t/c/") != std::string::npos);
  CHECK(html.find("https://glow-shop.myshopify.com/products/") == std::string::npos);

  env.pass(95h);
  CHECK(env.smtp.messages().size() == 1);
  env.pass(1h);
  REQUIRE(env.smtp.messages().size() == 2);
  CHECK(env.mail()[1].header("Subject") == "How is your order working out?");
  CHECK(env.count("SELECT COUNT(*) FROM enrolments WHERE flow_id = ? AND state = 'completed'",
                  {flow}) == 1);
  // Every step run ran once: nothing is left pending or claimed.
  CHECK(env.count("SELECT COUNT(*) FROM step_runs WHERE state IN ('pending', 'running')") == 0);
}

TEST_CASE("a click on the first email ends the post-purchase flow's reminder branch",
          "[sequence][db]") {
  SequenceEnv env;
  env.live_template("post_purchase_cross_sell");
  env.order(5002, {101}, kStart);
  env.enrol(env.event(FlowTrigger::kOrderFulfilled, 5002, {101}));
  env.pass(48h);
  REQUIRE(env.smtp.messages().size() == 1);
  int64_t message = env.count("SELECT id FROM messages");
  testing::exec_sql(*env.db,
                    "INSERT INTO message_events (shop_id, message_id, kind, machine, link_index, "
                    "at_ms) VALUES (?, ?, 'click', 0, 0, ?)",
                    {env.shop, message, env.clock.now_ms()});
  env.pass(5 * 24h);
  CHECK(env.smtp.messages().size() == 1);
}

TEST_CASE("an order placed between steps cancels the rest of the flow", "[sequence][db]") {
  SequenceEnv env;
  env.live_template("four_step_sequence");
  env.order(5003, {101}, kStart);
  env.enrol(env.event(FlowTrigger::kOrderPaid, 5003, {101}));
  env.pass(48h);
  REQUIRE(env.smtp.messages().size() == 1);
  env.order(5004, {104}, env.clock.now_ms());  // buys again a day later
  env.pass(10 * 24h);
  CHECK(env.smtp.messages().size() == 1);
  CHECK(env.count("SELECT COUNT(*) FROM enrolments WHERE state = 'exited' "
                  "AND exit_reason = 'exit_ordered'") == 1);
  CHECK(env.count("SELECT COUNT(*) FROM send_log WHERE outcome = 'exited' "
                  "AND reason = 'exit_ordered'") == 1);
}

TEST_CASE("the cart upsell skips its incentive step unless the shop configured a real one",
          "[sequence][db]") {
  for (bool incentive : {false, true}) {
    DYNAMIC_SECTION("incentive configured: " << incentive) {
      SequenceEnv env;
      if (incentive) {
        ShopSettings s = env.settings();
        s.incentive_code = "THANKS10";
        s.incentive_text = "10% off";
        env.settings(s);
      }
      env.live_template("cart_upsell");
      TriggerEvent e = env.event(FlowTrigger::kCheckoutAbandoned, 0, {101});
      e.key = "checkout:tok1";
      e.ref = "tok1";
      e.data.order_id.reset();
      e.data.value_minor = 8000;
      e.data.recovery_url = "https://glow-shop.myshopify.com/checkouts/tok1/recover";
      REQUIRE(env.enrol(e)[0].enrolment_id);
      env.pass(59min, 1min);
      CHECK(env.smtp.messages().empty());
      env.pass(1min, 1min);
      REQUIRE(env.smtp.messages().size() == 1);
      env.pass(25h);
      if (incentive) {
        REQUIRE(env.smtp.messages().size() == 2);
        CHECK(text_part(env.mail()[1]).find("THANKS10") != std::string::npos);
      } else {
        CHECK(env.smtp.messages().size() == 1);
        CHECK(env.count("SELECT COUNT(*) FROM send_log WHERE outcome = 'skipped' "
                        "AND reason = 'no_incentive_configured'") == 1);
      }
    }
  }
}

TEST_CASE("a checkout below the cart upsell's threshold enrols nobody", "[sequence][db]") {
  SequenceEnv env;
  env.live_template("cart_upsell");
  TriggerEvent e = env.event(FlowTrigger::kCheckoutAbandoned, 0, {101});
  e.key = "checkout:small";
  e.data.value_minor = 4999;
  auto out = env.enrol(e);
  REQUIRE(out.size() == 1);
  CHECK_FALSE(out[0].enrolment_id);
  CHECK(out[0].reason == "filter:order_value_minor");
}

TEST_CASE("the same event enrols once and the cooldown keeps a second order out",
          "[sequence][db]") {
  SequenceEnv env;
  env.live_template("four_step_sequence");
  auto first = env.enrol(env.event(FlowTrigger::kOrderPaid, 5005, {101}));
  auto replay = env.enrol(env.event(FlowTrigger::kOrderPaid, 5005, {101}));
  auto next = env.enrol(env.event(FlowTrigger::kOrderPaid, 5006, {102}));
  REQUIRE(first[0].enrolment_id);
  CHECK(replay[0].reason == "duplicate_event");
  CHECK(next[0].reason == "cooldown");
  CHECK(env.count("SELECT COUNT(*) FROM enrolments") == 1);
}

TEST_CASE("consent withdrawn between scheduling and sending stops the send", "[sequence][db]") {
  SequenceEnv env;
  env.live_template("browse_upsell");
  TriggerEvent e = env.event(FlowTrigger::kProductViewed, 0, {101});
  e.key = "view:101:2026-03-03";
  e.data.order_id.reset();
  REQUIRE(env.enrol(e)[0].enrolment_id);
  env.pass(2h);
  env.consent(AddressChannel::kEmail, kEmail, ConsentState::kUnsubscribed);
  env.pass(20h);
  CHECK(env.smtp.messages().empty());
  auto log = env.log();
  // The browse flow exits on unsubscribe: the enrolment ends rather than skipping step by step.
  CHECK(std::find(log.begin(), log.end(), "exited:exit_unsubscribed") != log.end());
}

TEST_CASE("the email frequency cap skips a second flow's email within 16 hours",
          "[sequence][db]") {
  SequenceEnv env;
  auto immediate = [](Flow& f) { f.steps.erase(f.steps.begin()); };  // drop the first delay
  env.live_template("browse_upsell", immediate);
  env.live_template("four_step_sequence", immediate);
  TriggerEvent view = env.event(FlowTrigger::kProductViewed, 0, {101});
  view.key = "view:101:2026-03-03";
  env.enrol(view);
  env.run();
  REQUIRE(env.smtp.messages().size() == 1);
  env.clock.advance(15h + 59min);
  env.enrol(env.event(FlowTrigger::kOrderPaid, 5007, {102}));
  env.run();
  CHECK(env.smtp.messages().size() == 1);
  auto log = env.log();
  CHECK(std::find(log.begin(), log.end(), "skipped:frequency_cap") != log.end());
}

TEST_CASE("a crash between claim and send sends the step once", "[sequence][db]") {
  SequenceEnv env;
  env.live_template("browse_upsell", [](Flow& f) { f.steps.erase(f.steps.begin()); });
  TriggerEvent view = env.event(FlowTrigger::kProductViewed, 0, {101});
  view.key = "view:101:2026-03-03";
  env.enrol(view);

  SECTION("the worker dies after claiming, before anything was written") {
    auto claimed = env.runner->claim("doomed-worker", 10);
    REQUIRE(claimed);
    REQUIRE(claimed->size() == 1);
    env.run();  // the lease is still held: nothing to do
    CHECK(env.smtp.messages().empty());
    env.clock.advance(3min);  // the lease (2 min) expires
    env.run();
    CHECK(env.smtp.messages().size() == 1);
    CHECK(env.count("SELECT attempt FROM step_runs") == 2);
  }
  SECTION("the worker dies after recording the send, before hearing back") {
    auto claimed = env.runner->claim("doomed-worker", 10);
    REQUIRE(claimed);
    REQUIRE(claimed->size() == 1);
    // What prepare() commits before calling the channel: the message row in 'sending'.
    testing::exec_sql(*env.db,
                      "INSERT INTO messages (shop_id, step_run_id, enrolment_id, flow_id, "
                      "step_id, person_key, channel, recipient, state, created_at_ms, "
                      "updated_at_ms) SELECT shop_id, id, enrolment_id, 0, step_id, 'p', "
                      "'email', ?, 'sending', ?, ? FROM step_runs",
                      {std::string(kEmail), kStart, kStart});
    env.clock.advance(3min);
    env.run();
    env.pass(24h);
    CHECK(env.smtp.messages().empty());  // maybe sent before the crash: never again
    CHECK(env.count("SELECT COUNT(*) FROM messages WHERE state = 'unknown'") == 1);
    auto log = env.log();
    CHECK(std::find(log.begin(), log.end(), "unknown:interrupted_send") != log.end());
  }
}

TEST_CASE("a 4xx from the mail server retries later and sends once", "[sequence][db]") {
  SequenceEnv env;
  env.live_template("browse_upsell", [](Flow& f) { f.steps.erase(f.steps.begin()); });
  TriggerEvent view = env.event(FlowTrigger::kProductViewed, 0, {101});
  view.key = "view:101:2026-03-03";
  env.smtp.set_faults({{"rcpt", {{"code", 451}, {"match", "ada@"}}}});
  env.enrol(view);
  env.run();
  CHECK(env.smtp.messages().empty());
  CHECK(env.count("SELECT COUNT(*) FROM messages WHERE state = 'retry'") == 1);
  env.smtp.clear_faults();
  env.pass(4min, 1min);
  CHECK(env.smtp.messages().empty());  // the first retry waits 5 minutes
  env.pass(1min, 1min);
  CHECK(env.smtp.messages().size() == 1);
  CHECK(env.count("SELECT COUNT(*) FROM messages WHERE state = 'sent'") == 1);
}

TEST_CASE("a connection lost after the message was handed over is unknown and not resent",
          "[sequence][db]") {
  SequenceEnv env;
  env.live_template("browse_upsell", [](Flow& f) { f.steps.erase(f.steps.begin()); });
  TriggerEvent view = env.event(FlowTrigger::kProductViewed, 0, {101});
  view.key = "view:101:2026-03-03";
  env.smtp.set_faults({{"drop_after_data", true}});
  env.enrol(view);
  env.run();
  env.smtp.clear_faults();
  env.pass(48h);
  // The server kept the one it received; we never sent a second.
  CHECK(env.smtp.messages().size() == 1);
  CHECK(env.count("SELECT COUNT(*) FROM messages WHERE state = 'unknown'") == 1);
}

TEST_CASE("a hard bounce suppresses the address for every later step", "[sequence][db]") {
  SequenceEnv env;
  env.live_template("four_step_sequence");
  env.smtp.set_faults({{"rcpt", {{"code", 550}, {"match", "ada@"}}}});
  env.enrol(env.event(FlowTrigger::kOrderPaid, 5008, {101}));
  env.pass(48h);
  env.smtp.clear_faults();
  env.pass(10 * 24h);
  CHECK(env.smtp.messages().empty());
  CHECK(env.count("SELECT COUNT(*) FROM suppressions WHERE reason = 'hard_bounce'") == 1);
  CHECK(env.count("SELECT COUNT(*) FROM messages") == 1);
}
