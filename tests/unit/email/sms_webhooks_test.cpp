// The SMS webhooks over real loopback HTTP, called by the Twilio-compatible test server
// (tests/sms_server/), so every signature is made by Twilio's algorithm from the outside: inbound
// STOP/HELP/START act at once and answer in TwiML, delivery reports move messages forward only
// and are stored once, and unsigned, forged or malformed requests are refused with JSON errors.
#include "email/sms_webhooks.h"

#include <httplib.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>

#include "email/consent.h"
#include "email/twilio_signature.h"
#include "email/twilio_sms.h"
#include "plugin/core/http_client.h"
#include "plugin/core/migrations.h"
#include "plugin/core/shop_settings.h"
#include "tests/support/sms_server.h"
#include "tests/support/test_backend.h"
#include "tests/support/test_db.h"

using namespace afterglow;
using namespace afterglow::email;
using afterglow::testing::exec_sql;
using afterglow::testing::query_int;
using afterglow::testing::SmsServer;

namespace {

using namespace std::chrono_literals;

constexpr int64_t kNow = 1'772'550'000'000;  // Tuesday 2026-03-03 15:00 UTC
constexpr const char* kPhone = "+13125550100";
constexpr const char* kStranger = "+13125550199";
constexpr const char* kWording =
    "I agree to receive marketing texts from Glow Candles at this number. Msg&data rates may "
    "apply. Reply STOP to cancel.";
constexpr const char* kEmptyTwiml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response/>";

size_t occurrences(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t pos = text.find(needle); pos != std::string::npos;
       pos = text.find(needle, pos + needle.size())) {
    ++n;
  }
  return n;
}

struct Fixture {
  SmsServer sms;
  testing::TestDatabase tdb;
  std::unique_ptr<Db> db = tdb.open();
  ManualClock clock{kNow};
  SmsWebhookServices services{*db, clock, SmsServer::auth_token(), ""};
  httplib::Server server;
  std::thread thread;
  int port = 0;
  int64_t shop = 0;
  int64_t next_step_run = 1;

  Fixture() {
    REQUIRE(migrate(*db));
    shop = testing::seed_installed_shop(*db, "glow-candles.myshopify.com");
    ShopSettings s;
    s.sender_name = "Glow Candles Inc.";
    s.brand_name = "Glow Candles";
    s.support_contact = "help@glowcandles.example";
    write([&](Tx& tx) { return save_shop_settings(tx, shop, s); });
    mount_sms_webhooks(server, services);
    port = server.bind_to_any_port("127.0.0.1");
    REQUIRE(port > 0);
    // The provider signs the public URL it called; here that is the loopback address itself.
    services.app_url = "http://127.0.0.1:" + std::to_string(port);
    thread = std::thread([this] { server.listen_after_bind(); });
    // stop() is a no-op until the accept loop runs: wait for it, bounded.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!server.is_running() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::yield();
    }
    REQUIRE(server.is_running());
  }
  ~Fixture() {
    server.stop();
    thread.join();
  }

  std::string url(const std::string& path) const { return services.app_url + path; }

  void write(const std::function<Result<void>(Tx&)>& fn) {
    auto r = db->write(fn);
    INFO((r ? "" : r.error().message));
    REQUIRE(r);
  }

  void consent(const std::string& phone, ConsentState state, const std::string& wording) {
    ConsentChange c;
    c.channel = AddressChannel::kSms;
    c.address = phone;
    c.customer_id = 501;
    c.state = state;
    c.source = "checkout";
    c.wording = wording;
    c.opt_in_level = "single_opt_in";
    c.collected_at_ms = clock.now_ms();
    write([&](Tx& tx) -> Result<void> {
      AG_CHECK(record_consent(tx, shop, c, clock.now_ms()));
      return {};
    });
  }

  std::optional<ConsentRecord> stored_consent(const std::string& phone) {
    std::optional<ConsentRecord> out;
    write([&](Tx& tx) -> Result<void> {
      out = AG_TRY(find_consent(tx, shop, AddressChannel::kSms, phone));
      return {};
    });
    return out;
  }

  std::optional<std::string> suppression(const std::string& phone) {
    std::optional<std::string> out;
    write([&](Tx& tx) -> Result<void> {
      out = AG_TRY(suppression_reason(tx, shop, AddressChannel::kSms, phone));
      return {};
    });
    return out;
  }

  // A messages row for an SMS we sent to `phone` (provider sid `sid`), as the step runner
  // leaves it after the provider accepted it.
  int64_t message(const std::string& phone, const std::string& sid) {
    int64_t step_run = next_step_run++;
    exec_sql(*db,
             "INSERT INTO messages (shop_id, step_run_id, enrolment_id, flow_id, step_id, "
             "customer_id, person_key, channel, recipient, state, provider_id, created_at_ms, "
             "sent_at_ms, updated_at_ms) VALUES (?, ?, 1, 1, 'text_1', 501, 'customer:501', "
             "'sms', ?, 'sent', ?, ?, ?, ?)",
             {shop, step_run, phone, sid, kNow - 1000, kNow - 1000, kNow - 1000});
    return query_int(*db, "SELECT id FROM messages WHERE step_run_id = ?", {step_run});
  }

  // Sends a real text through the test server with our status callback, so the server can
  // report on it; returns the provider's sid.
  std::string send_through_provider(const std::string& phone,
                                    const std::string& callback_path = "/webhooks/sms/status") {
    auto http = make_curl_http_client();
    TwilioSmsOptions o;
    o.api_base = sms.base_url();
    o.account_sid = SmsServer::account_sid();
    o.auth_token = SmsServer::auth_token();
    o.from = SmsServer::sender();
    TwilioSms sender(*http, o);
    SmsResult r = sender.send({phone, "Glow Candles: 20% off today. Reply STOP to opt out",
                               url(callback_path)});
    INFO(r.detail);
    REQUIRE(r.outcome == SmsOutcome::kSent);
    REQUIRE_FALSE(r.sid.empty());
    return r.sid;
  }

  int64_t count(const std::string& table) {
    return query_int(*db, "SELECT COUNT(*) FROM " + table);
  }

  httplib::Client client() const {
    httplib::Client c("127.0.0.1", port);
    c.set_connection_timeout(5);
    c.set_read_timeout(5);
    return c;
  }
};

std::string state_name(const std::optional<ConsentRecord>& c) {
  return c ? std::string(consent_state_name(c->state)) : std::string("none");
}

void require_json_error(const httplib::Result& res, int status) {
  REQUIRE(res);
  CHECK(res->status == status);
  CHECK(res->get_header_value("Content-Type").starts_with("application/json"));
  auto body = nlohmann::json::parse(res->body, nullptr, false);
  REQUIRE(body.is_object());
  REQUIRE(body.contains("error"));
  CHECK(body["error"]["code"].is_string());
  CHECK(body["error"]["message"].is_string());
}

}  // namespace

TEST_CASE("an inbound STOP unsubscribes and suppresses the number at once with an empty reply",
          "[sms_webhooks][db]") {
  Fixture f;
  f.consent(kPhone, ConsentState::kSubscribed, kWording);
  REQUIRE_FALSE(f.suppression(kPhone));

  auto answer = f.sms.inbound(kPhone, SmsServer::sender(), "STOP", f.url("/webhooks/sms"));
  CHECK(answer.status == 200);
  CHECK(answer.content_type.starts_with("text/xml"));
  // The provider confirms its own keywords; a second confirmation from us would be noise.
  CHECK(answer.body == kEmptyTwiml);

  auto c = f.stored_consent(kPhone);
  REQUIRE(c);
  CHECK(state_name(c) == "unsubscribed");
  CHECK(c->source == "sms_keyword");
  CHECK(f.suppression(kPhone) == std::optional<std::string>("sms_stop"));
  // The inbound text is kept as evidence of the withdrawal.
  CHECK(query_int(*f.db,
                  "SELECT COUNT(*) FROM consent_events WHERE shop_id = ? AND channel = 'sms' AND "
                  "address = ? AND state = 'unsubscribed' AND source = 'sms_keyword' AND "
                  "detail = 'STOP'",
                  {f.shop, std::string(kPhone)}) == 1);
}

TEST_CASE("a plain-language stop is suppressed and confirmed once in the reply",
          "[sms_webhooks][db]") {
  Fixture f;
  f.consent(kPhone, ConsentState::kSubscribed, kWording);

  auto answer = f.sms.inbound(kPhone, SmsServer::sender(), "please stop texting me",
                              f.url("/webhooks/sms"));
  CHECK(answer.status == 200);
  CHECK(answer.content_type.starts_with("text/xml"));
  // The provider does not recognise free text, so the one confirmation is ours.
  CHECK(occurrences(answer.body, "<Message>") == 1);
  CHECK(answer.body.find("Glow Candles: ") != std::string::npos);
  CHECK(answer.body.find("unsubscribed") != std::string::npos);
  CHECK(state_name(f.stored_consent(kPhone)) == "unsubscribed");
  CHECK(f.suppression(kPhone) == std::optional<std::string>("sms_stop"));
}

TEST_CASE("HELP is answered with the brand and the support contact and changes nothing",
          "[sms_webhooks][db]") {
  Fixture f;
  f.consent(kPhone, ConsentState::kSubscribed, kWording);
  int64_t events_before = f.count("consent_events");

  auto answer = f.sms.inbound(kPhone, SmsServer::sender(), "help", f.url("/webhooks/sms"));
  CHECK(answer.status == 200);
  CHECK(answer.content_type.starts_with("text/xml"));
  CHECK(occurrences(answer.body, "<Message>") == 1);
  // brand_name, not the sender name, and the support contact.
  CHECK(answer.body.find("<Message>Glow Candles: ") != std::string::npos);
  CHECK(answer.body.find("Glow Candles Inc.") == std::string::npos);
  CHECK(answer.body.find("help@glowcandles.example") != std::string::npos);
  CHECK(answer.body.find("Reply STOP") != std::string::npos);
  // "Msg&data" is escaped for XML.
  CHECK(answer.body.find("Msg&amp;data") != std::string::npos);

  CHECK(state_name(f.stored_consent(kPhone)) == "subscribed");
  CHECK_FALSE(f.suppression(kPhone));
  CHECK(f.count("consent_events") == events_before);
}

TEST_CASE("START after STOP lifts the suppression and restores the earlier consent",
          "[sms_webhooks][db]") {
  Fixture f;
  f.consent(kPhone, ConsentState::kSubscribed, kWording);
  REQUIRE(f.sms.inbound(kPhone, SmsServer::sender(), "STOP", f.url("/webhooks/sms")).status ==
          200);
  REQUIRE(f.suppression(kPhone) == std::optional<std::string>("sms_stop"));

  f.clock.advance(std::chrono::hours(30));
  auto answer = f.sms.inbound(kPhone, SmsServer::sender(), "START", f.url("/webhooks/sms"));
  CHECK(answer.status == 200);
  CHECK(answer.body == kEmptyTwiml);  // the provider confirms START itself

  CHECK_FALSE(f.suppression(kPhone));
  auto c = f.stored_consent(kPhone);
  REQUIRE(c);
  CHECK(state_name(c) == "subscribed");
  CHECK(c->source == "sms_keyword");
  // The wording the person agreed to before, and the same customer: not a new consent.
  CHECK(c->wording == kWording);
  CHECK(c->customer_id == std::optional<int64_t>(501));
  CHECK(c->opt_in_level == "single_opt_in");
  CHECK(query_int(*f.db,
                  "SELECT COUNT(*) FROM consent_events WHERE shop_id = ? AND address = ? AND "
                  "state = 'subscribed' AND source = 'sms_keyword' AND wording = ?",
                  {f.shop, std::string(kPhone), std::string(kWording)}) == 1);
}

TEST_CASE("START from a number that never consented stores nothing", "[sms_webhooks][db]") {
  Fixture f;
  // The shop did text this number (a messages row), but holds no consent for it.
  f.message(kPhone, "SM00000000000000000000000000000001");

  auto answer = f.sms.inbound(kPhone, SmsServer::sender(), "START", f.url("/webhooks/sms"));
  CHECK(answer.status == 200);
  CHECK(answer.body == kEmptyTwiml);
  CHECK_FALSE(f.stored_consent(kPhone));
  CHECK(f.count("consents") == 0);
  CHECK(f.count("consent_events") == 0);
  CHECK(f.count("suppressions") == 0);
}

TEST_CASE("a STOP from an unknown number is answered and stores nothing", "[sms_webhooks][db]") {
  Fixture f;
  f.consent(kPhone, ConsentState::kSubscribed, kWording);
  int64_t events_before = f.count("consent_events");

  auto answer = f.sms.inbound(kStranger, SmsServer::sender(), "STOP", f.url("/webhooks/sms"));
  CHECK(answer.status == 200);
  CHECK(answer.body == kEmptyTwiml);
  CHECK_FALSE(f.stored_consent(kStranger));
  CHECK(f.count("consents") == 1);
  CHECK(f.count("consent_events") == events_before);
  CHECK(f.count("suppressions") == 0);
  CHECK(state_name(f.stored_consent(kPhone)) == "subscribed");
}

TEST_CASE("a webhook without a signature is refused with 401", "[sms_webhooks][db]") {
  Fixture f;
  f.consent(kPhone, ConsentState::kSubscribed, kWording);
  auto cli = f.client();
  std::string body = "From=%2B13125550100&To=%2B15005550006&Body=STOP&MessageSid=SM1";
  require_json_error(cli.Post("/webhooks/sms", body, "application/x-www-form-urlencoded"), 401);
  require_json_error(cli.Post("/webhooks/sms/status",
                              "MessageSid=SM1&MessageStatus=delivered",
                              "application/x-www-form-urlencoded"),
                     401);
  CHECK(state_name(f.stored_consent(kPhone)) == "subscribed");
  CHECK(f.count("suppressions") == 0);
}

TEST_CASE("a webhook with a wrong signature is refused with 401", "[sms_webhooks][db]") {
  Fixture f;
  f.consent(kPhone, ConsentState::kSubscribed, kWording);

  // Signed under another token (a forgery), by the provider stand-in.
  auto forged = f.sms.inbound(kPhone, SmsServer::sender(), "STOP", f.url("/webhooks/sms"),
                              "not-the-auth-token");
  CHECK(forged.status == 401);
  CHECK(forged.content_type.starts_with("application/json"));

  // A real signature over other parameters than the ones posted.
  FormParams signed_params = {{"From", kPhone}, {"Body", "HELP"}};
  std::string signature =
      twilio_signature(SmsServer::auth_token(), f.url("/webhooks/sms"), signed_params);
  auto cli = f.client();
  httplib::Headers headers{{"X-Twilio-Signature", signature}};
  require_json_error(cli.Post("/webhooks/sms", headers, "From=%2B13125550100&Body=STOP",
                              "application/x-www-form-urlencoded"),
                     401);
  // The right parameters signed for another URL.
  FormParams stop = {{"From", kPhone}, {"Body", "STOP"}};
  headers = {{"X-Twilio-Signature",
              twilio_signature(SmsServer::auth_token(), f.url("/webhooks/other"), stop)}};
  require_json_error(cli.Post("/webhooks/sms", headers, "From=%2B13125550100&Body=STOP",
                              "application/x-www-form-urlencoded"),
                     401);

  CHECK(state_name(f.stored_consent(kPhone)) == "subscribed");
  CHECK(f.count("suppressions") == 0);

  // The same request correctly signed goes through (the refusals above were the signature).
  headers = {{"X-Twilio-Signature",
              twilio_signature(SmsServer::auth_token(), f.url("/webhooks/sms"), stop)}};
  auto ok = cli.Post("/webhooks/sms", headers, "From=%2B13125550100&Body=STOP",
                     "application/x-www-form-urlencoded");
  REQUIRE(ok);
  CHECK(ok->status == 200);
  CHECK(f.suppression(kPhone) == std::optional<std::string>("sms_stop"));
}

TEST_CASE("a malformed webhook form is refused with 400", "[sms_webhooks][db]") {
  Fixture f;
  auto cli = f.client();
  httplib::Headers headers{{"X-Twilio-Signature", "c29tZXRoaW5n"}};
  for (const char* path : {"/webhooks/sms", "/webhooks/sms/status"}) {
    INFO(path);
    require_json_error(cli.Post(path, headers, "%zz", "application/x-www-form-urlencoded"), 400);
  }
  CHECK(f.count("consent_events") == 0);
}

TEST_CASE("a delivery report marks the message delivered and a late sent does not undo it",
          "[sms_webhooks][db]") {
  Fixture f;
  std::string sid = f.send_through_provider(kPhone);
  int64_t id = f.message(kPhone, sid);

  auto answer = f.sms.deliver(sid, "delivered");
  CHECK(answer.status == 200);
  CHECK(answer.content_type.starts_with("text/xml"));
  CHECK(query_int(*f.db, "SELECT COUNT(*) FROM messages WHERE id = ? AND state = 'delivered'",
                  {id}) == 1);

  // Reports arrive out of order: "sent" after "delivered" is recorded but changes nothing.
  f.clock.advance(std::chrono::minutes(1));
  CHECK(f.sms.deliver(sid, "sent").status == 200);
  CHECK(query_int(*f.db, "SELECT COUNT(*) FROM messages WHERE id = ? AND state = 'delivered'",
                  {id}) == 1);
  CHECK(query_int(*f.db, "SELECT COUNT(*) FROM message_events WHERE message_id = ?", {id}) == 2);
  CHECK_FALSE(f.suppression(kPhone));
}

TEST_CASE("a delivery report that outruns the send's own answer finds its message by the "
          "callback URL",
          "[sms_webhooks][db]") {
  Fixture f;
  // What the step runner has stored while it waits for the provider's answer: no sid yet.
  exec_sql(*f.db,
           "INSERT INTO messages (shop_id, step_run_id, enrolment_id, flow_id, step_id, "
           "person_key, channel, recipient, state, created_at_ms, updated_at_ms) "
           "VALUES (?, 777, 1, 1, 'text_1', 'customer:501', 'sms', ?, 'sending', ?, ?)",
           {f.shop, std::string(kPhone), kNow, kNow});
  int64_t id = query_int(*f.db, "SELECT id FROM messages WHERE step_run_id = 777");
  std::string sid = f.send_through_provider(kPhone, "/webhooks/sms/status?m=" + std::to_string(id));

  CHECK(f.sms.deliver(sid, "delivered").status == 200);
  CHECK(query_int(*f.db,
                  "SELECT COUNT(*) FROM messages WHERE id = ? AND state = 'delivered' "
                  "AND provider_id = ?",
                  {id, sid}) == 1);
  // Another message's id in the URL does not let a report rewrite it.
  int64_t other = f.message(kPhone, "SMotherother");
  std::string sid2 =
      f.send_through_provider(kPhone, "/webhooks/sms/status?m=" + std::to_string(other));
  CHECK(f.sms.deliver(sid2, "failed").status == 200);
  CHECK(query_int(*f.db, "SELECT COUNT(*) FROM messages WHERE id = ? AND state = 'sent'",
                  {other}) == 1);
}

TEST_CASE("the same delivery report twice is stored once", "[sms_webhooks][db]") {
  Fixture f;
  std::string sid = f.send_through_provider(kPhone);
  int64_t id = f.message(kPhone, sid);

  CHECK(f.sms.deliver(sid, "delivered").status == 200);
  f.clock.advance(std::chrono::minutes(5));
  CHECK(f.sms.deliver(sid, "delivered").status == 200);  // the provider retried
  CHECK(query_int(*f.db,
                  "SELECT COUNT(*) FROM message_events WHERE message_id = ? AND kind = 'delivered'",
                  {id}) == 1);
  CHECK(query_int(*f.db, "SELECT COUNT(*) FROM message_events WHERE message_id = ?", {id}) == 1);
  CHECK(query_int(*f.db, "SELECT updated_at_ms FROM messages WHERE id = ?", {id}) == kNow);
}

TEST_CASE("an undelivered report with error 30006 suppresses the number as invalid",
          "[sms_webhooks][db]") {
  Fixture f;
  std::string sid = f.send_through_provider(kPhone);
  int64_t id = f.message(kPhone, sid);
  // Another number's report without an error code suppresses nothing.
  std::string other_sid = f.send_through_provider(kStranger);
  f.message(kStranger, other_sid);

  CHECK(f.sms.deliver(sid, "undelivered", 30006).status == 200);
  CHECK(f.sms.deliver(other_sid, "undelivered").status == 200);

  CHECK(query_int(*f.db, "SELECT COUNT(*) FROM messages WHERE id = ? AND state = 'undelivered'",
                  {id}) == 1);
  CHECK(query_int(*f.db,
                  "SELECT COUNT(*) FROM messages WHERE id = ? AND error LIKE '%30006%'", {id}) ==
        1);
  CHECK(f.suppression(kPhone) == std::optional<std::string>("invalid_number"));
  CHECK_FALSE(f.suppression(kStranger));
  // START cannot lift an invalid number: it is not the person's own choice.
  f.consent(kPhone, ConsentState::kSubscribed, kWording);
  CHECK(f.sms.inbound(kPhone, SmsServer::sender(), "START", f.url("/webhooks/sms")).status ==
        200);
  CHECK(f.suppression(kPhone) == std::optional<std::string>("invalid_number"));
}

TEST_CASE("a long non-ASCII opt-out is recorded with its evidence cut on a character boundary",
          "[sms_webhooks][db]") {
  Fixture f;
  f.consent(kPhone, ConsentState::kSubscribed, kWording);
  // 159 ASCII bytes, then two-byte letters: the 160-byte evidence limit falls inside the first.
  std::string text = "No mas mensajes por favor, gracias. ";
  text += std::string(159 - text.size(), 'x');
  text += "\xC3\xA9\xC3\xA9\xC3\xA9 adios";  // "ééé adiós" without the accent on the last word
  REQUIRE(text.size() > 160);
  REQUIRE((static_cast<unsigned char>(text[160]) & 0xC0) == 0x80);

  auto answer = f.sms.inbound(kPhone, SmsServer::sender(), text, f.url("/webhooks/sms"));
  CHECK(answer.status == 200);
  CHECK(f.suppression(kPhone) == std::optional<std::string>("sms_stop"));
  auto detail = testing::query_row(
      *f.db, "SELECT detail FROM consent_events WHERE source = 'sms_keyword'");
  REQUIRE(detail);
  CHECK(detail->text(0) == text.substr(0, 159));
}
