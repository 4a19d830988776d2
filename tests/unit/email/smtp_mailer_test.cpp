// email/smtp_mailer: the libcurl SMTP client against a real SMTP server on loopback
// (tests/support/smtp_server.h): STARTTLS + AUTH delivery byte for byte, connection reuse, every
// reply class mapped to the outcome the send worker needs (spec/messaging.md §3.2, §5.4), the
// lost-reply case that must never be resent, no plaintext fallback, and no credentials in
// details. Also the SMTP configuration keys.
#include "email/smtp_mailer.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "plugin/core/config.h"
#include "tests/support/dev_cert.h"
#include "tests/support/smtp_server.h"
#include "tests/support/temp_dir.h"

namespace afterglow::email {
namespace {

using nlohmann::json;
using testing::SmtpServer;

constexpr auto kWait = std::chrono::seconds(10);
const std::string kUser = "mailer-user";
// Characters that must survive percent-encoding in SMTP_URL and never show up in a detail.
const std::string kPassword = "s3cr3t p@ss:w/rd%";

// A message as the renderer would produce it: CRLF, a UTF-8 body, lines starting with dots
// (libcurl dot-stuffs them; the server must unstuff to the same bytes), a line that is only ".".
std::string sample_message(const std::string& to = "ann@example.com") {
  return "From: Shop <shop@example.com>\r\nTo: " + to +
         "\r\n"
         "Subject: =?UTF-8?Q?Your_basket?=\r\n"
         "Message-ID: <job-42@mail.example.com>\r\n"
         "MIME-Version: 1.0\r\n"
         "Content-Type: text/plain; charset=utf-8\r\n"
         "Content-Transfer-Encoding: 8bit\r\n"
         "\r\n"
         "Hello Ann,\r\n"
         ".a line that starts with a dot\r\n"
         "..and one with two\r\n"
         ".\r\n"
         "Grüße — 10 % off\r\n";
}

OutgoingEmail email_to(const std::string& recipient) {
  return {"bounce@mail.example.com", recipient, sample_message(recipient)};
}

// Headers and body of a raw message, split at the first empty line.
std::pair<std::string, std::string> split_message(const std::string& raw) {
  size_t at = raw.find("\r\n\r\n");
  REQUIRE(at != std::string::npos);
  return {raw.substr(0, at + 2), raw.substr(at + 4)};
}

void check_no_credentials(const MailResult& r) {
  INFO(r.detail);
  CHECK(r.detail.find("s3cr3t") == std::string::npos);
  CHECK(r.detail.find(kUser) == std::string::npos);
  CHECK(r.detail.find("p@ss") == std::string::npos);
}

// A dev certificate and a server offering STARTTLS with it and requiring AUTH.
struct TlsFixture {
  testing::TempDir dir{"afterglow-smtp"};
  testing::DevCertificate cert = testing::make_dev_certificate(dir.path());
  SmtpServer server{SmtpServer::Options{cert.cert_path, cert.key_path, false, kUser, kPassword}};

  SmtpOptions options(const std::string& password = kPassword) const {
    SmtpOptions o;
    o.url = server.url(kUser, password);
    o.ca_file = cert.cert_path;
    o.timeout = kWait;
    return o;
  }
  std::unique_ptr<Mailer> mailer(const std::string& password = kPassword) const {
    auto m = make_smtp_mailer(options(password));
    REQUIRE(m);
    return std::move(*m);
  }
};

// A plaintext server without AUTH, and a mailer allowed to use plaintext (SMTP_TLS=none).
struct PlainFixture {
  SmtpServer server;
  std::unique_ptr<Mailer> mailer(std::chrono::milliseconds timeout = kWait) const {
    SmtpOptions o;
    o.url = server.url();
    o.allow_plaintext = true;
    o.timeout = timeout;
    auto m = make_smtp_mailer(o);
    REQUIRE(m);
    return std::move(*m);
  }
};

TEST_CASE("smtp mailer delivers over STARTTLS with AUTH byte for byte", "[smtp]") {
  TlsFixture f;
  auto mailer = f.mailer();
  OutgoingEmail email = email_to("ann@example.com");
  MailResult r = mailer->send(email);
  INFO(r.detail << "\n" << f.server.log());
  CHECK(r.outcome == MailOutcome::kSent);
  CHECK(r.smtp_code == 250);
  CHECK_FALSE(r.hard_bounce);
  check_no_credentials(r);

  REQUIRE(f.server.wait_for_messages(1, kWait));
  auto got = f.server.received();
  REQUIRE(got.size() == 1);
  CHECK(got[0].user == kUser);  // authenticated, which the server allows only after STARTTLS
  CHECK(got[0].from == "bounce@mail.example.com");
  CHECK(got[0].to == std::vector<std::string>{"ann@example.com"});
  auto [sent_headers, sent_body] = split_message(email.raw_message);
  auto [got_headers, got_body] = split_message(got[0].raw);
  CHECK(got_headers == sent_headers);
  CHECK(got_body == sent_body);
  CHECK(got[0].raw == email.raw_message);
}

TEST_CASE("smtp mailer reuses one connection for consecutive messages", "[smtp]") {
  TlsFixture f;
  auto mailer = f.mailer();
  CHECK(mailer->send(email_to("ann@example.com")).outcome == MailOutcome::kSent);
  CHECK(mailer->send(email_to("bob@example.com")).outcome == MailOutcome::kSent);
  REQUIRE(f.server.wait_for_messages(2, kWait));
  auto got = f.server.received();
  REQUIRE(got.size() == 2);
  CHECK(got[1].to == std::vector<std::string>{"bob@example.com"});
  CHECK(got[0].session == got[1].session);
}

TEST_CASE("smtp mailer replaces a kept connection the server closed", "[smtp]") {
  TlsFixture f;
  auto mailer = f.mailer();
  REQUIRE(mailer->send(email_to("ann@example.com")).outcome == MailOutcome::kSent);
  REQUIRE(f.server.wait_for_messages(1, kWait));
  CHECK(f.server.disconnect_all() == 1);  // the kept connection
  MailResult r = mailer->send(email_to("bob@example.com"));
  INFO(r.detail);
  CHECK(r.outcome == MailOutcome::kSent);
  REQUIRE(f.server.wait_for_messages(2, kWait));
  auto got = f.server.received();
  REQUIRE(got.size() == 2);
  CHECK(got[0].session != got[1].session);
}

TEST_CASE("smtp mailer resends once when a kept connection dies before any reply", "[smtp]") {
  TlsFixture f;
  auto mailer = f.mailer();
  REQUIRE(mailer->send(email_to("ann@example.com")).outcome == MailOutcome::kSent);
  // The kept connection is still open, so libcurl reuses it; the server drops it at MAIL FROM
  // without a word, the way a server that timed the idle client out a moment ago would.
  f.server.set_faults({{"drop_at_mail", 1}});
  MailResult r = mailer->send(email_to("bob@example.com"));
  INFO(r.detail << "\n" << f.server.log());
  CHECK(r.outcome == MailOutcome::kSent);
  REQUIRE(f.server.wait_for_messages(2, kWait));
  auto got = f.server.received();
  REQUIRE(got.size() == 2);
  CHECK(got[0].session != got[1].session);
  CHECK(f.server.log().find("dropping the connection at MAIL FROM") != std::string::npos);

  // On a new connection the same drop is not retried here (the server greeted us, so it was
  // not a stale connection): the message waits for the worker's retry.
  auto fresh = f.mailer();
  f.server.set_faults({{"drop_at_mail", 1}});
  MailResult dropped = fresh->send(email_to("carl@example.com"));
  INFO(dropped.detail);
  CHECK(dropped.outcome == MailOutcome::kRetry);
  CHECK(f.server.messages().size() == 2);
}

TEST_CASE("smtp mailer sends from several threads at once", "[smtp]") {
  TlsFixture f;
  auto mailer = f.mailer();
  constexpr int kThreads = 4, kEach = 3;
  std::vector<std::vector<MailOutcome>> outcomes(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        outcomes[t].push_back(
            mailer
                ->send(email_to("t" + std::to_string(t) + "-" + std::to_string(i) + "@example.com"))
                .outcome);
      }
    });
  }
  for (auto& th : threads) th.join();
  for (const auto& per_thread : outcomes) {
    CHECK(per_thread == std::vector<MailOutcome>(kEach, MailOutcome::kSent));
  }
  REQUIRE(f.server.wait_for_messages(kThreads * kEach, kWait));
  CHECK(f.server.messages().size() == size_t{kThreads * kEach});
}

TEST_CASE("smtp mailer maps 451 at RCPT to retry", "[smtp]") {
  TlsFixture f;
  auto mailer = f.mailer();
  f.server.set_faults({{"rcpt", {{"code", 451}, {"match", "tempfail@"}}}});
  MailResult r = mailer->send(email_to("tempfail@example.com"));
  INFO(r.detail);
  CHECK(r.outcome == MailOutcome::kRetry);
  CHECK(r.smtp_code == 451);
  CHECK_FALSE(r.hard_bounce);
  CHECK_THAT(r.detail, Catch::Contains("RCPT TO answered 451"));
  check_no_credentials(r);
  // The failed transaction does not poison the mailer: the next recipient goes through.
  CHECK(mailer->send(email_to("ann@example.com")).outcome == MailOutcome::kSent);
  REQUIRE(f.server.wait_for_messages(1, kWait));
  CHECK(f.server.received().at(0).to == std::vector<std::string>{"ann@example.com"});
}

TEST_CASE("smtp mailer maps 550 at RCPT to a rejected hard bounce", "[smtp]") {
  TlsFixture f;
  auto mailer = f.mailer();
  f.server.set_faults({{"rcpt", {{"code", 550}}}});
  MailResult r = mailer->send(email_to("gone@example.com"));
  INFO(r.detail);
  CHECK(r.outcome == MailOutcome::kRejected);
  CHECK(r.smtp_code == 550);
  CHECK(r.hard_bounce);
  CHECK_THAT(r.detail, Catch::Contains("5.1.1"));
  check_no_credentials(r);
  CHECK(f.server.messages().empty());
}

TEST_CASE("smtp mailer does not call a 5.7.x policy refusal at RCPT a hard bounce", "[smtp]") {
  PlainFixture f;
  auto mailer = f.mailer();
  f.server.set_faults(
      {{"rcpt", {{"code", 550}, {"message", "5.7.1 Client host blocked using a blocklist"}}}});
  MailResult r = mailer->send(email_to("ann@example.com"));
  INFO(r.detail);
  CHECK(r.outcome == MailOutcome::kRejected);
  CHECK(r.smtp_code == 550);
  CHECK_FALSE(r.hard_bounce);
}

TEST_CASE("smtp mailer maps 554 after DATA to rejected", "[smtp]") {
  TlsFixture f;
  auto mailer = f.mailer();
  f.server.set_faults({{"data", {{"code", 554}}}});
  MailResult r = mailer->send(email_to("ann@example.com"));
  INFO(r.detail);
  CHECK(r.outcome == MailOutcome::kRejected);
  CHECK(r.smtp_code == 554);
  CHECK_FALSE(r.hard_bounce);
  CHECK_THAT(r.detail, Catch::Contains("end of message answered 554"));
  CHECK(f.server.messages().empty());

  // A 5.1.1 that only comes after the message (a server checking recipients late) is a bounce.
  f.server.set_faults({{"data", {{"code", 550}, {"message", "5.1.1 No such user here"}}}});
  MailResult late = mailer->send(email_to("ann@example.com"));
  CHECK(late.outcome == MailOutcome::kRejected);
  CHECK(late.hard_bounce);
}

TEST_CASE("smtp mailer maps a refused sender to rejected without a bounce", "[smtp]") {
  PlainFixture f;
  auto mailer = f.mailer();
  f.server.set_faults({{"mail", {{"code", 553}}}});
  MailResult r = mailer->send(email_to("ann@example.com"));
  INFO(r.detail);
  CHECK(r.outcome == MailOutcome::kRejected);
  CHECK(r.smtp_code == 553);
  CHECK_FALSE(r.hard_bounce);
  CHECK_THAT(r.detail, Catch::Contains("MAIL FROM"));
}

TEST_CASE("smtp mailer reports unknown when the connection drops after the message", "[smtp]") {
  TlsFixture f;
  auto mailer = f.mailer();
  f.server.set_faults({{"drop_after_data", true}});
  MailResult r = mailer->send(email_to("ann@example.com"));
  INFO(r.detail);
  CHECK(r.outcome == MailOutcome::kUnknown);
  CHECK_FALSE(r.hard_bounce);
  check_no_credentials(r);
  // The server has the message although we never heard back: resending would duplicate it.
  REQUIRE(f.server.wait_for_messages(1, kWait));
  CHECK(f.server.messages().at(0) == email_to("ann@example.com").raw_message);
}

TEST_CASE("smtp mailer reports unknown when the final reply times out", "[smtp]") {
  PlainFixture f;
  auto mailer = f.mailer(std::chrono::milliseconds(1500));
  f.server.set_faults({{"hang_after_data", true}});
  MailResult r = mailer->send(email_to("ann@example.com"));
  INFO(r.detail);
  CHECK(r.outcome == MailOutcome::kUnknown);
  REQUIRE(f.server.wait_for_messages(1, kWait));
}

TEST_CASE("smtp mailer maps a refused connection to retry", "[smtp]") {
  // A bound socket that does not listen: connecting to its port is refused, and holding it keeps
  // another process from taking the port meanwhile.
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  socklen_t len = sizeof addr;
  REQUIRE(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  SmtpOptions o;
  o.url = "smtp://" + kUser + ":" + "s3cr3t@127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
  o.timeout = kWait;
  auto mailer = make_smtp_mailer(o);
  REQUIRE(mailer);
  MailResult r = (*mailer)->send(email_to("ann@example.com"));
  close(fd);
  INFO(r.detail);
  CHECK(r.outcome == MailOutcome::kRetry);
  CHECK(r.smtp_code == 0);
  CHECK_FALSE(r.detail.empty());
  check_no_credentials(r);
}

TEST_CASE("smtp mailer never falls back to plaintext when STARTTLS is missing", "[smtp]") {
  // The server would accept AUTH and mail in plaintext; the mailer must send neither.
  SmtpServer server{SmtpServer::Options{"", "", false, kUser, kPassword}};
  SmtpOptions o;
  o.url = server.url(kUser, kPassword);
  o.timeout = kWait;
  auto mailer = make_smtp_mailer(o);
  REQUIRE(mailer);
  MailResult r = (*mailer)->send(email_to("ann@example.com"));
  INFO(r.detail);
  CHECK(r.outcome == MailOutcome::kRetry);
  CHECK_THAT(r.detail, Catch::Contains("STARTTLS"));
  CHECK_THAT(r.detail, Catch::Contains("plaintext"));
  check_no_credentials(r);
  CHECK(server.messages().empty());
  // Credentials were never offered.
  CHECK(server.log().find("auth ok") == std::string::npos);
  CHECK(server.log().find("auth failed") == std::string::npos);

  // SMTP_TLS=none is the explicit opt-in for such a server.
  o.allow_plaintext = true;
  auto plain = make_smtp_mailer(o);
  REQUIRE(plain);
  CHECK((*plain)->send(email_to("ann@example.com")).outcome == MailOutcome::kSent);
  REQUIRE(server.wait_for_messages(1, kWait));
  CHECK(server.received().at(0).user == kUser);
}

TEST_CASE("smtp mailer treats a rejected password as retry without leaking it", "[smtp]") {
  TlsFixture f;
  auto mailer = f.mailer("s3cr3t-wrong-password");
  MailResult r = mailer->send(email_to("ann@example.com"));
  INFO(r.detail);
  // 535 is our configuration, not the message: it waits until SMTP_URL is fixed.
  CHECK(r.outcome == MailOutcome::kRetry);
  CHECK(r.smtp_code == 535);
  CHECK_FALSE(r.hard_bounce);
  CHECK_THAT(r.detail, Catch::Contains("authentication failed"));
  check_no_credentials(r);
  CHECK(r.detail.find("wrong-password") == std::string::npos);
  CHECK(f.server.messages().empty());
}

TEST_CASE("smtp mailer maps a 421 greeting to retry", "[smtp]") {
  PlainFixture f;
  f.server.set_faults({{"greeting", 421}});
  MailResult r = f.mailer()->send(email_to("ann@example.com"));
  INFO(r.detail);
  CHECK(r.outcome == MailOutcome::kRetry);
  CHECK(r.smtp_code == 421);
}

TEST_CASE("smtp mailer refuses a certificate it cannot verify", "[smtp]") {
  TlsFixture f;
  SmtpOptions o = f.options();
  o.ca_file.clear();  // the system CAs do not know the dev certificate
  auto mailer = make_smtp_mailer(o);
  REQUIRE(mailer);
  MailResult r = (*mailer)->send(email_to("ann@example.com"));
  INFO(r.detail);
  CHECK(r.outcome == MailOutcome::kRetry);
  check_no_credentials(r);
  CHECK(f.server.messages().empty());
}

TEST_CASE("smtp mailer speaks implicit TLS for smtps URLs", "[smtp]") {
  testing::TempDir dir{"afterglow-smtps"};
  auto cert = testing::make_dev_certificate(dir.path());
  SmtpServer server{SmtpServer::Options{cert.cert_path, cert.key_path, true, kUser, kPassword}};
  REQUIRE(server.url().rfind("smtps://", 0) == 0);
  SmtpOptions o;
  o.url = server.url(kUser, kPassword);
  o.ca_file = cert.cert_path;
  o.timeout = kWait;
  auto mailer = make_smtp_mailer(o);
  REQUIRE(mailer);
  MailResult r = (*mailer)->send(email_to("ann@example.com"));
  INFO(r.detail);
  CHECK(r.outcome == MailOutcome::kSent);
  REQUIRE(server.wait_for_messages(1, kWait));
  CHECK(server.messages().at(0) == email_to("ann@example.com").raw_message);
}

TEST_CASE("smtp mailer refuses envelope addresses that could inject commands", "[smtp]") {
  PlainFixture f;
  auto mailer = f.mailer();
  OutgoingEmail bad = email_to("ann@example.com");
  bad.recipient = "ann@example.com>\r\nRCPT TO:<eve@example.com";
  MailResult r = mailer->send(bad);
  CHECK(r.outcome == MailOutcome::kRejected);
  OutgoingEmail bad_from = email_to("ann@example.com");
  bad_from.envelope_from = "bounce@example.com\r\nRSET";
  CHECK(mailer->send(bad_from).outcome == MailOutcome::kRejected);
  CHECK(f.server.log().find("connect ") == std::string::npos);  // never connected
}

TEST_CASE("smtp mailer rejects malformed options", "[smtp]") {
  SmtpOptions o;
  o.url = "http://mail.example.com";
  CHECK_FALSE(make_smtp_mailer(o));
  o.url = "smtp://";
  CHECK_FALSE(make_smtp_mailer(o));
  o.url = "smtps://mail.example.com";
  o.allow_plaintext = true;
  CHECK_FALSE(make_smtp_mailer(o));
  o.allow_plaintext = false;
  CHECK(make_smtp_mailer(o));
}

TEST_CASE("smtp URLs are logged without credentials", "[smtp]") {
  CHECK(redact_smtp_url("smtp://user:s3cr3t@mail.example.com:587/shop.example.com") ==
        "smtp://***@mail.example.com:587/shop.example.com");
  CHECK(redact_smtp_url("smtps://mail.example.com") == "smtps://mail.example.com/");
  CHECK(redact_smtp_url("::not a url") == "<invalid SMTP URL>");
}

TEST_CASE("smtp configuration keys are read and validated", "[smtp]") {
  std::map<std::string, std::string> env{{"SMTP_URL", "smtp://u:p@mail.example.com:587"},
                                         {"MAIL_FROM", "Shop <bounce@shop.example.com>"},
                                         {"SMTP_TLS", "none"},
                                         {"SMTP_CA_FILE", "/etc/ssl/extra.pem"},
                                         {"SMTP_TIMEOUT_SECONDS", "20"}};
  auto c = load_config(env, "", ConfigPurpose::kWorker);
  REQUIRE(c);
  CHECK(c->mail_from_address == "bounce@shop.example.com");
  auto o = smtp_options_from_config(*c);
  REQUIRE(o);
  CHECK(o->url == "smtp://u:p@mail.example.com:587");
  CHECK(o->allow_plaintext);
  CHECK(o->ca_file == "/etc/ssl/extra.pem");
  CHECK(o->timeout == std::chrono::seconds(20));
  CHECK(o->connect_timeout <= o->timeout);

  auto bare = env;
  bare["MAIL_FROM"] = "bounce@shop.example.com";
  bare.erase("SMTP_TLS");
  auto b = load_config(bare, "", ConfigPurpose::kWorker);
  REQUIRE(b);
  CHECK(b->mail_from_address == "bounce@shop.example.com");
  CHECK(b->smtp_tls == "required");
  CHECK_FALSE(smtp_options_from_config(*b)->allow_plaintext);

  auto error_with = [&](const std::string& key, const std::string& value) {
    auto e = env;
    e[key] = value;
    auto r = load_config(e, "", ConfigPurpose::kWorker);
    REQUIRE_FALSE(r);
    return r.error().message;
  };
  CHECK_THAT(error_with("SMTP_TLS", "maybe"), Catch::Contains("SMTP_TLS"));
  CHECK_THAT(error_with("SMTP_URL", "https://mail.example.com"), Catch::Contains("SMTP_URL"));
  CHECK_THAT(error_with("SMTP_URL", "smtps://mail.example.com"), Catch::Contains("SMTP_TLS"));
  CHECK_THAT(error_with("MAIL_FROM", "no-at-sign"), Catch::Contains("MAIL_FROM"));
  CHECK_THAT(error_with("MAIL_FROM", "a@b.com\r\nBcc: eve@x.com"), Catch::Contains("MAIL_FROM"));
  CHECK_THAT(error_with("MAIL_FROM", "Shop <not an address>"), Catch::Contains("MAIL_FROM"));
  CHECK_THAT(error_with("SMTP_TIMEOUT_SECONDS", "0"), Catch::Contains("SMTP_TIMEOUT_SECONDS"));

  // The channel is off without SMTP_URL, and cannot run without an envelope sender.
  auto off = load_config({}, "", ConfigPurpose::kWorker);
  REQUIRE(off);
  CHECK_FALSE(smtp_options_from_config(*off));
  auto no_from = env;
  no_from.erase("MAIL_FROM");
  auto nf = load_config(no_from, "", ConfigPurpose::kWorker);
  REQUIRE(nf);
  auto nfo = smtp_options_from_config(*nf);
  REQUIRE_FALSE(nfo);
  CHECK_THAT(nfo.error().message, Catch::Contains("MAIL_FROM"));
}

}  // namespace
}  // namespace afterglow::email
