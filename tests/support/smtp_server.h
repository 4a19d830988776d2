// The SMTP test server (tests/smtp_server/server.mjs, npm smtp-server; scripts/test.sh runs
// `npm ci` there) as a child process, with typed access to its control API.
//
// The constructor starts `node server.mjs --port 0` on 127.0.0.1, reads the
// `listening <smtpPort> <controlPort>` line from the child's stdout through a pipe, and returns
// once the server accepts connections; point the mailer at url(). The server's log (stderr) goes
// to a temporary file, readable through log(); it is deleted with the object unless
// KEEP_TEST_DIRS is set.
//
// Control calls throw std::runtime_error when the server answers with anything but 2xx or cannot
// be reached: they are test set-up, not behaviour under test. All methods may be called from any
// thread at the same time (each opens its own connection).
#pragma once

#include <chrono>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

namespace afterglow::testing {

class Child;

class SmtpServer {
 public:
  struct Options {
    // PEM files (tests/support/dev_cert.h makes them): the server offers STARTTLS with them, or
    // speaks TLS from the first byte when implicit_tls is set. Both empty: plaintext only, no
    // STARTTLS offered.
    std::string tls_cert, tls_key;
    bool implicit_tls = false;
    // When auth_user is set, AUTH PLAIN/LOGIN with exactly these is required (after STARTTLS
    // when TLS is configured). Empty: no AUTH offered.
    std::string auth_user, auth_password;
  };

  // One accepted message: envelope and the exact bytes the client sent (dot-unstuffed).
  struct Received {
    int id = 0;
    std::string session;  // the SMTP session it came over (equal ids: one connection)
    std::string user;     // the authenticated user, "" without AUTH
    std::string from;     // MAIL FROM
    std::vector<std::string> to;
    std::string raw;
  };

  // A plaintext server without AUTH.
  SmtpServer();
  // Throws std::runtime_error (with the log tail) when node cannot be started or does not report
  // its ports within 15 s.
  explicit SmtpServer(Options options);
  // SIGTERM, then SIGKILL if the server has not exited within 5 s.
  ~SmtpServer();
  SmtpServer(const SmtpServer&) = delete;
  SmtpServer& operator=(const SmtpServer&) = delete;

  int port() const { return port_; }
  int control_port() const { return control_port_; }
  // "smtp://127.0.0.1:<port>" ("smtps://" with implicit TLS), with "user:password@" when `user`
  // is not empty (both percent-encoded), e.g. the value for SMTP_URL.
  std::string url(const std::string& user = "", const std::string& password = "") const;

  // The raw source of every accepted message, oldest first.
  std::vector<std::string> messages() const;
  // Every accepted message with its envelope, oldest first.
  std::vector<Received> received() const;
  // True once at least `n` messages have been accepted; false when `timeout` passes first.
  // Polls every 10 ms.
  bool wait_for_messages(size_t n, std::chrono::milliseconds timeout) const;
  void clear_messages();

  // Replaces the fault set (see tests/smtp_server/server.mjs), e.g.
  // {"rcpt": {"code": 550, "match": "gone@"}}, {"data": {"code": 554}},
  // {"drop_after_data": true}, {"hang_after_data": true}, {"greeting": 421},
  // {"drop_at_mail": 1}.
  void set_faults(const nlohmann::json& faults);
  void clear_faults();
  // Closes every open SMTP connection without a reply (a server dropping idle clients); returns
  // how many there were.
  int disconnect_all();

  // The server's stderr so far.
  std::string log() const;

 private:
  nlohmann::json control(const std::string& method, const std::string& path,
                         const std::string& json_body = "") const;
  std::string log_tail(int lines = 20) const;

  std::unique_ptr<Child> child_;
  std::string log_path_;
  bool implicit_tls_ = false;
  int port_ = 0;
  int control_port_ = 0;
};

}  // namespace afterglow::testing
