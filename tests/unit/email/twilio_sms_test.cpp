// email/twilio_sms: one send against the Twilio-compatible test server (tests/sms_server/) over
// real HTTP, and how every kind of answer (or its absence) maps to an SmsOutcome, plus the
// SMS_* configuration keys.
#include "email/twilio_sms.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "plugin/core/config.h"
#include "plugin/core/crypto.h"
#include "plugin/core/http_client.h"
#include "tests/support/sms_server.h"

namespace afterglow::email {
namespace {

using nlohmann::json;
using testing::SmsServer;
using namespace std::chrono_literals;

constexpr const char* kTo = "+15558675310";

TwilioSmsOptions options_for(const SmsServer& server) {
  TwilioSmsOptions o;
  o.api_base = server.base_url();
  o.account_sid = SmsServer::account_sid();
  o.auth_token = SmsServer::auth_token();
  o.from = SmsServer::sender();
  o.request_timeout = 5s;
  return o;
}

// A loopback port with nothing listening: bound once to learn a free number, then closed.
int closed_port() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  socklen_t len = sizeof addr;
  REQUIRE(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  close(fd);
  return ntohs(addr.sin_port);
}

TEST_CASE("a text is sent and the server records exactly its form fields", "[sms]") {
  SmsServer server;
  auto http = make_curl_http_client();
  TwilioSms sms(*http, options_for(server));
  const std::string callback = "https://app.example.com/webhooks/sms/status?shop=demo";

  SmsResult r = sms.send({kTo, "Acme: 10% off today. Reply STOP to opt out.", callback});
  INFO(r.detail);
  CHECK(r.outcome == SmsOutcome::kSent);
  CHECK(r.http_status == 201);
  CHECK(r.sid.size() == 34);
  CHECK(r.sid.starts_with("SM"));
  CHECK(r.status == "queued");
  CHECK(r.segments == 1);
  CHECK(r.error_code == 0);

  json messages = server.messages();
  REQUIRE(messages.size() == 1);
  CHECK(messages[0]["sid"] == r.sid);
  CHECK(messages[0]["params"] ==
        json::array({json::array({"To", kTo}), json::array({"From", SmsServer::sender()}),
                     json::array({"Body",
                                  "Acme: 10% off today. Reply "
                                  "STOP to opt out."}),
                     json::array({"StatusCallback", callback})}));
  CHECK(sms.messages_url() ==
        server.base_url() + "/2010-04-01/Accounts/" + SmsServer::account_sid() + "/Messages.json");
}

TEST_CASE("a long or non-GSM text reports the segments it was billed", "[sms]") {
  SmsServer server;
  auto http = make_curl_http_client();
  TwilioSms sms(*http, options_for(server));
  CHECK(sms.send({kTo, std::string(200, 'x'), ""}).segments == 2);
  // A curly apostrophe forces UCS-2: 71 characters no longer fit one 70-character segment.
  std::string curly;
  for (int i = 0; i < 71; ++i) curly += "\u2019";
  CHECK(sms.send({kTo, curly, ""}).segments == 2);
  CHECK(server.messages()[1]["params"][2][1] == curly);  // UTF-8 arrives intact
}

TEST_CASE("a messaging service sender goes out as MessagingServiceSid", "[sms]") {
  SmsServer server;
  auto http = make_curl_http_client();
  TwilioSmsOptions o = options_for(server);
  o.from = "MG0123456789abcdef0123456789abcdef";
  TwilioSms sms(*http, o);
  SmsResult r = sms.send({kTo, "Hi", ""});
  CHECK(r.outcome == SmsOutcome::kSent);
  CHECK(r.status == "accepted");
  CHECK(r.segments == 0);  // not known until Twilio picks a sender
  CHECK(server.messages()[0]["params"] ==
        json::array({json::array({"To", kTo}), json::array({"MessagingServiceSid", o.from}),
                     json::array({"Body", "Hi"})}));
}

TEST_CASE("a recipient who replied STOP comes back as opted out", "[sms]") {
  SmsServer server;
  auto http = make_curl_http_client();
  TwilioSms sms(*http, options_for(server));
  server.opt_out(kTo);
  SmsResult r = sms.send({kTo, "Hi", ""});
  CHECK(r.outcome == SmsOutcome::kOptedOut);
  CHECK(r.http_status == 400);
  CHECK(r.error_code == 21610);
  CHECK(server.messages().empty());
  // Twilio's magic test number behaves the same.
  CHECK(sms.send({"+15005550004", "Hi", ""}).outcome == SmsOutcome::kOptedOut);
}

TEST_CASE("an invalid number or bad credentials are rejected for good", "[sms]") {
  SmsServer server;
  auto http = make_curl_http_client();
  TwilioSms sms(*http, options_for(server));

  SmsResult invalid = sms.send({"+15005550001", "Hi", ""});  // Twilio's magic invalid number
  CHECK(invalid.outcome == SmsOutcome::kRejected);
  CHECK(invalid.http_status == 400);
  CHECK(invalid.error_code == 21211);

  SmsResult landline = sms.send({"+15005550009", "Hi", ""});
  CHECK(landline.outcome == SmsOutcome::kRejected);
  CHECK(landline.error_code == 21614);

  TwilioSmsOptions o = options_for(server);
  o.auth_token = "not-the-token";
  TwilioSms wrong(*http, o);
  SmsResult unauth = wrong.send({kTo, "Hi", ""});
  CHECK(unauth.outcome == SmsOutcome::kRejected);
  CHECK(unauth.http_status == 401);
  CHECK(unauth.error_code == 20003);
  CHECK(unauth.detail.find("not-the-token") == std::string::npos);
  CHECK(server.messages().empty());
}

TEST_CASE("a text that could not be valid is refused without a request", "[sms]") {
  SmsServer server;
  auto http = make_curl_http_client();
  TwilioSms sms(*http, options_for(server));
  for (const OutgoingSms& bad :
       {OutgoingSms{"5558675310", "Hi", ""}, OutgoingSms{"+05558675310", "Hi", ""},
        OutgoingSms{kTo, "", ""}, OutgoingSms{kTo, "Hi", "ftp://example.com/cb"}}) {
    SmsResult r = sms.send(bad);
    CHECK(r.outcome == SmsOutcome::kRejected);
    CHECK(r.http_status == 0);
  }
  // So are sends through options that validate_twilio_sms_options refuses.
  TwilioSmsOptions o = options_for(server);
  o.api_base = "http://api.example.com";  // plain http off loopback would expose the token
  CHECK_FALSE(validate_twilio_sms_options(o));
  CHECK(TwilioSms(*http, o).send({kTo, "Hi", ""}).outcome == SmsOutcome::kRejected);
  CHECK(server.requests().empty());
}

TEST_CASE("a rate-limited send is retried and created nothing", "[sms]") {
  SmsServer server;
  auto http = make_curl_http_client();
  TwilioSms sms(*http, options_for(server));
  server.fault_status(429);
  SmsResult r = sms.send({kTo, "Hi", ""});
  CHECK(r.outcome == SmsOutcome::kRetry);
  CHECK(r.http_status == 429);
  CHECK(r.error_code == 20429);
  CHECK(server.messages().empty());
  CHECK(sms.send({kTo, "Hi", ""}).outcome == SmsOutcome::kSent);
}

TEST_CASE("a 5xx answer is unknown because the message may exist", "[sms]") {
  SmsServer server;
  auto http = make_curl_http_client();
  TwilioSms sms(*http, options_for(server));
  // Twilio failed after creating the message: a resend would text the shopper twice.
  server.fault_status(503, 1, /*create=*/true);
  SmsResult r = sms.send({kTo, "Hi", ""});
  CHECK(r.outcome == SmsOutcome::kUnknown);
  CHECK(r.http_status == 503);
  CHECK(server.messages().size() == 1);
  // A 500 that created nothing looks the same from here, so it is unknown too.
  server.fault_status(500);
  CHECK(sms.send({kTo, "Hi", ""}).outcome == SmsOutcome::kUnknown);
}

TEST_CASE("a timeout is unknown and the server shows the message was created", "[sms]") {
  SmsServer server;
  auto http = make_curl_http_client();
  TwilioSmsOptions o = options_for(server);
  o.request_timeout = 500ms;
  TwilioSms sms(*http, o);
  server.fault_timeout();
  SmsResult r = sms.send({kTo, "Hi", ""});
  INFO(r.detail);
  CHECK(r.outcome == SmsOutcome::kUnknown);
  CHECK(r.http_status == 0);
  CHECK(r.sid.empty());
  // Why kUnknown must not be resent: Twilio created the message although we never heard back.
  json messages = server.messages();
  REQUIRE(messages.size() == 1);
  CHECK(messages[0]["to"] == kTo);
  json requests = server.requests();
  REQUIRE(requests.size() == 1);
  CHECK(requests[0]["status"].is_null());
  CHECK(requests[0]["created"] == messages[0]["sid"]);
}

TEST_CASE("a connection dropped after the request is unknown", "[sms]") {
  SmsServer server;
  auto http = make_curl_http_client();
  TwilioSms sms(*http, options_for(server));
  server.fault_drop_after();
  SmsResult r = sms.send({kTo, "Hi", ""});
  INFO(r.detail);
  CHECK(r.outcome == SmsOutcome::kUnknown);
  CHECK(r.http_status == 0);
  CHECK(server.messages().size() == 1);
}

TEST_CASE("a refused connection is retried because nothing was sent", "[sms]") {
  auto http = make_curl_http_client();
  TwilioSmsOptions o;
  o.api_base = "http://127.0.0.1:" + std::to_string(closed_port());
  o.account_sid = SmsServer::account_sid();
  o.auth_token = SmsServer::auth_token();
  o.from = SmsServer::sender();
  TwilioSms sms(*http, o);
  SmsResult r = sms.send({kTo, "Hi", ""});
  INFO(r.detail);
  CHECK(r.outcome == SmsOutcome::kRetry);
  CHECK(r.http_status == 0);
}

TEST_CASE("the http client tells a request never sent from one that may have arrived", "[sms]") {
  auto http = make_curl_http_client();
  HttpRequest refused;
  refused.method = "POST";
  refused.url = "http://127.0.0.1:" + std::to_string(closed_port()) + "/x";
  auto r = http->send(refused);
  REQUIRE_FALSE(r);
  CHECK(r.error().code == ErrorCode::kUnavailable);
  CHECK(http_request_not_sent(r.error()));

  SmsServer server;
  server.fault_timeout();
  HttpRequest held;
  held.method = "POST";
  held.url =
      server.base_url() + "/2010-04-01/Accounts/" + SmsServer::account_sid() + "/Messages.json";
  held.headers = {
      {"Authorization",
       "Basic " + crypto::base64_encode(SmsServer::account_sid() + ":" + SmsServer::auth_token())},
      {"Content-Type", "application/x-www-form-urlencoded"}};
  held.body = "To=%2B15558675310&From=%2B15005550006&Body=Hi";
  held.timeout = 300ms;
  auto t = http->send(held);
  REQUIRE_FALSE(t);
  CHECK(t.error().code == ErrorCode::kUnavailable);
  CHECK_FALSE(http_request_not_sent(t.error()));
  CHECK(server.messages().size() == 1);

  CHECK_FALSE(http_request_not_sent(Error{ErrorCode::kUnavailable, "database is down"}));
  CHECK_FALSE(http_request_not_sent(Error{ErrorCode::kInternal, "HTTP GET not sent: x"}));
}

TEST_CASE("the SMS channel is configured from the SMS_ keys and off without an account", "[sms]") {
  using Env = std::map<std::string, std::string>;
  Env env{{"APP_API_KEY", "k"}, {"APP_API_SECRET", "s"}, {"HTTP_PORT", "0"}};
  auto off = load_config(env, "", ConfigPurpose::kServe);
  REQUIRE(off);
  CHECK(off->sms_api_base == "https://api.twilio.com");
  CHECK_FALSE(twilio_sms_options(*off));

  env["SMS_ACCOUNT_SID"] = SmsServer::account_sid();
  env["SMS_AUTH_TOKEN"] = "sms-t0ken-s3cr3t";
  env["SMS_FROM"] = "+15005550006";
  auto on = load_config(env, "", ConfigPurpose::kServe);
  REQUIRE(on);
  auto o = twilio_sms_options(*on);
  REQUIRE(o);
  CHECK(o->api_base == "https://api.twilio.com");
  CHECK(o->account_sid == SmsServer::account_sid());
  CHECK(o->auth_token == "sms-t0ken-s3cr3t");
  CHECK(o->from == "+15005550006");
  CHECK(validate_twilio_sms_options(*o));
  CHECK(on->describe().find("s3cr3t") == std::string::npos);
  CHECK_THAT(on->describe(), Catch::Contains("SMS_AUTH_TOKEN=set"));

  Env no_token = env;
  no_token.erase("SMS_AUTH_TOKEN");
  auto bad = load_config(no_token, "", ConfigPurpose::kServe);
  REQUIRE_FALSE(bad);
  CHECK_THAT(bad.error().message, Catch::Contains("SMS_AUTH_TOKEN"));
  Env no_from = env;
  no_from.erase("SMS_FROM");
  CHECK_FALSE(load_config(no_from, "", ConfigPurpose::kServe));
  Env bad_sid = env;
  bad_sid["SMS_ACCOUNT_SID"] = "SK123";
  CHECK_FALSE(load_config(bad_sid, "", ConfigPurpose::kServe));
  Env bad_base = env;
  bad_base["SMS_API_BASE"] = "api.twilio.com";
  CHECK_FALSE(load_config(bad_base, "", ConfigPurpose::kServe));
}

}  // namespace
}  // namespace afterglow::email
