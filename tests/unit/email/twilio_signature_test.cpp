// email/twilio_signature: Twilio's documented vector, the sort rule, constant-time verification
// with the port variants Twilio's libraries accept, form parsing, and real signed webhooks from
// the Twilio-compatible test server received by a loopback HTTP server.
#include "email/twilio_signature.h"

#include <httplib.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "plugin/core/crypto.h"
#include "plugin/core/http_client.h"
#include "plugin/core/oauth_query.h"
#include "tests/support/sms_server.h"

namespace afterglow::email {
namespace {

using testing::SmsServer;

const std::string kDocUrl = "https://mycompany.com/myapp.php?foo=1&bar=2";
const FormParams kDocParams{{"CallSid", "CA1234567890ABCDE"},
                            {"Caller", "+12349013030"},
                            {"Digits", "1234"},
                            {"From", "+12349013030"},
                            {"To", "+18005551212"}};
constexpr const char* kDocSignature = "0/KCTR6DLpKmkAf8muzZqo1nDgQ=";

TEST_CASE("twilio signature matches the documented vector", "[sms]") {
  CHECK(twilio_signature("12345", kDocUrl, kDocParams) == kDocSignature);
  FormParams reversed(kDocParams.rbegin(), kDocParams.rend());
  CHECK(twilio_signature("12345", kDocUrl, reversed) == kDocSignature);
  CHECK(verify_twilio_signature("12345", kDocUrl, kDocParams, kDocSignature));
}

TEST_CASE("twilio signature sorts by name then value in byte order", "[sms]") {
  // 'B' (0x42) sorts before 'a' (0x61); a repeated name contributes each value, sorted.
  FormParams params{{"a", "1"}, {"B", "2"}, {"a", "0"}, {"Z", ""}};
  std::string expected = crypto::base64_encode(crypto::hmac_sha1("tok", "https://h/pB2Za0a1"));
  CHECK(twilio_signature("tok", "https://h/p", params) == expected);
  // No separators: only the concatenation is signed.
  CHECK(twilio_signature("tok", "https://h/p", {}) ==
        crypto::base64_encode(crypto::hmac_sha1("tok", "https://h/p")));
}

TEST_CASE("a tampered parameter url token or header fails verification", "[sms]") {
  FormParams tampered = kDocParams;
  tampered[2].second = "1235";
  CHECK_FALSE(verify_twilio_signature("12345", kDocUrl, tampered, kDocSignature));
  FormParams extra = kDocParams;
  extra.emplace_back("Extra", "");
  CHECK_FALSE(verify_twilio_signature("12345", kDocUrl, extra, kDocSignature));
  CHECK_FALSE(verify_twilio_signature("12345", kDocUrl + "&baz=3", kDocParams, kDocSignature));
  CHECK_FALSE(verify_twilio_signature("12345", "http://mycompany.com/myapp.php?foo=1&bar=2",
                                      kDocParams, kDocSignature));
  CHECK_FALSE(verify_twilio_signature("54321", kDocUrl, kDocParams, kDocSignature));
  CHECK_FALSE(verify_twilio_signature("12345", kDocUrl, kDocParams, ""));
  CHECK_FALSE(verify_twilio_signature("", kDocUrl, kDocParams, kDocSignature));
  CHECK_FALSE(verify_twilio_signature("12345", kDocUrl, kDocParams, "0/KCTR6DLpKmkAf8muzZqo1nDgQ"));
}

TEST_CASE("verification accepts the url with or without its default port", "[sms]") {
  // Twilio's helper libraries accept both because Twilio signs either form.
  CHECK(verify_twilio_signature("12345", "https://mycompany.com:443/myapp.php?foo=1&bar=2",
                                kDocParams, kDocSignature));
  std::string with_port = "https://mycompany.com:443/myapp.php?foo=1&bar=2";
  CHECK(verify_twilio_signature("12345", kDocUrl, kDocParams,
                                twilio_signature("12345", with_port, kDocParams)));
  // The host and path still count.
  CHECK_FALSE(verify_twilio_signature("12345", "https://mycompany.com:443/other.php?foo=1&bar=2",
                                      kDocParams, kDocSignature));
}

TEST_CASE("verified_twilio_form parses the body and checks its signature", "[sms]") {
  const std::string url = "https://app.example.com/webhooks/sms";
  const std::string body = "From=%2B15558675310&Body=Stop+texting+me%21&To=%2B15005550006";
  FormParams expected{
      {"From", "+15558675310"}, {"Body", "Stop texting me!"}, {"To", "+15005550006"}};
  std::string signature = twilio_signature("tok", url, expected);

  auto ok = verified_twilio_form("tok", url, body, signature);
  REQUIRE(ok);
  CHECK(*ok == expected);

  auto wrong = verified_twilio_form("tok", url, body, twilio_signature("other", url, expected));
  REQUIRE_FALSE(wrong);
  CHECK(wrong.error().code == ErrorCode::kUnauthenticated);
  auto missing = verified_twilio_form("tok", url, body, "");
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code == ErrorCode::kUnauthenticated);
  auto malformed = verified_twilio_form("tok", url, "Body=%zz", signature);
  REQUIRE_FALSE(malformed);
  CHECK(malformed.error().code == ErrorCode::kInvalidArgument);
}

// A loopback HTTP server that records each POST and answers with a fixed reply.
class Receiver {
 public:
  struct Seen {
    std::string path_and_query, body, signature;
  };
  explicit Receiver(std::string reply_type = "text/plain", std::string reply = "") {
    server_.Post(
        ".*", [this, reply_type, reply](const httplib::Request& req, httplib::Response& res) {
          std::string target = req.target;  // path and query exactly as requested
          {
            std::lock_guard<std::mutex> lock(mu_);
            seen_.push_back({target, req.body, req.get_header_value("X-Twilio-Signature")});
          }
          res.status = 200;
          res.set_content(reply, reply_type.c_str());
        });
    port_ = server_.bind_to_any_port("127.0.0.1");
    REQUIRE(port_ > 0);
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~Receiver() {
    server_.stop();
    thread_.join();
  }
  std::string url(const std::string& path_and_query) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path_and_query;
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
  std::vector<Seen> seen_;
};

std::string value_of(const FormParams& params, const std::string& name) {
  auto v = oauth::find_param(params, name);
  return v ? *v : std::string("<missing>");
}

TEST_CASE("a status callback from the test server verifies against the exact url", "[sms]") {
  SmsServer server;
  Receiver receiver;
  const std::string callback = receiver.url("/webhooks/sms/status?shop=demo&m=7");
  // Create the message the way the sender would, with the StatusCallback.
  auto [status, sid] = [&] {
    httplib::Client cli("127.0.0.1", server.port());
    cli.set_basic_auth(SmsServer::account_sid(), SmsServer::auth_token());
    auto res = cli.Post(
        "/2010-04-01/Accounts/" + SmsServer::account_sid() + "/Messages.json",
        "To=%2B15558675310&From=%2B15005550006&Body=Hi&StatusCallback=" + url_encode(callback),
        "application/x-www-form-urlencoded");
    REQUIRE(res);
    return std::pair{res->status, nlohmann::json::parse(res->body).value("sid", "")};
  }();
  REQUIRE(status == 201);
  REQUIRE(server.messages()[0]["status_callback"] == callback);

  auto answer = server.deliver(sid, "undelivered", 30003);
  CHECK(answer.status == 200);
  auto seen = receiver.seen();
  REQUIRE(seen.size() == 1);
  CHECK(seen[0].path_and_query == "/webhooks/sms/status?shop=demo&m=7");

  auto params =
      verified_twilio_form(SmsServer::auth_token(), callback, seen[0].body, seen[0].signature);
  REQUIRE(params);
  CHECK(value_of(*params, "MessageSid") == sid);
  CHECK(value_of(*params, "MessageStatus") == "undelivered");
  CHECK(value_of(*params, "ErrorCode") == "30003");
  CHECK(value_of(*params, "AccountSid") == SmsServer::account_sid());
  CHECK(value_of(*params, "To") == "+15558675310");

  // Any change to what was signed breaks it: a parameter, the query string, the token.
  FormParams tampered = *params;
  for (auto& [k, v] : tampered) {
    if (k == "MessageStatus") v = "delivered";
  }
  CHECK_FALSE(
      verify_twilio_signature(SmsServer::auth_token(), callback, tampered, seen[0].signature));
  CHECK_FALSE(verify_twilio_signature(SmsServer::auth_token(),
                                      receiver.url("/webhooks/sms/status?shop=demo"), *params,
                                      seen[0].signature));
  CHECK_FALSE(verified_twilio_form("another-token", callback, seen[0].body, seen[0].signature));

  // A forged callback (signed under another token) is refused.
  server.deliver(sid, "delivered", 0, "forged-token");
  seen = receiver.seen();
  REQUIRE(seen.size() == 2);
  CHECK_FALSE(
      verified_twilio_form(SmsServer::auth_token(), callback, seen[1].body, seen[1].signature));
}

TEST_CASE("an inbound message webhook verifies and its reply comes back", "[sms]") {
  SmsServer server;
  const std::string twiml =
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Message>Acme: you are "
      "unsubscribed.</Message></Response>";
  Receiver receiver("text/xml", twiml);
  const std::string url = receiver.url("/webhooks/sms");
  auto answer = server.inbound("+15558675310", SmsServer::sender(), "Stop texting me, thanks", url);
  CHECK(answer.status == 200);
  CHECK(answer.content_type == "text/xml");
  CHECK(answer.body == twiml);
  auto seen = receiver.seen();
  REQUIRE(seen.size() == 1);
  auto params = verified_twilio_form(SmsServer::auth_token(), url, seen[0].body, seen[0].signature);
  REQUIRE(params);
  CHECK(value_of(*params, "Body") == "Stop texting me, thanks");
  CHECK(value_of(*params, "From") == "+15558675310");
  CHECK(value_of(*params, "NumMedia") == "0");
}

}  // namespace
}  // namespace afterglow::email
