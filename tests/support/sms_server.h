// The Twilio-compatible test server (tests/sms_server/server.mjs, README.md there) as a child
// process, with typed access to its control API.
//
// The constructor starts `node server.mjs --port 0` on 127.0.0.1 with account_sid() and
// auth_token() (the token passed through the environment, never argv), reads the
// `listening <port>` line from the child's stdout, and returns once the server accepts
// connections; point the code under test at it with SMS_API_BASE=base_url(),
// SMS_ACCOUNT_SID=account_sid(), SMS_AUTH_TOKEN=auth_token(), SMS_FROM=sender(). The server's
// per-request log (stderr) goes to a temporary file, readable through log(); it is deleted with
// the object unless KEEP_TEST_DIRS is set.
//
// Control calls throw std::runtime_error when the server answers with anything but 2xx or cannot
// be reached: they are test set-up, not behaviour under test. All methods may be called from any
// thread at the same time (each opens its own connection).
#pragma once

#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>

namespace afterglow::testing {

class Child;

class SmsServer {
 public:
  // Throws std::runtime_error (with the log tail) when node cannot be started or does not report
  // its port within 15 s.
  SmsServer();
  // SIGTERM, then SIGKILL if the server has not exited within 5 s.
  ~SmsServer();
  SmsServer(const SmsServer&) = delete;
  SmsServer& operator=(const SmsServer&) = delete;

  // "http://127.0.0.1:<port>" (the value for SMS_API_BASE).
  std::string base_url() const;
  int port() const { return port_; }
  // The account the server serves ("AC" + 32 hex) and its auth token.
  static std::string account_sid();
  static std::string auth_token();
  // Twilio's magic valid sender, "+15005550006" (any From is accepted).
  static std::string sender();

  // Every created message, oldest first, as Twilio shows it plus "status_callback", "statuses"
  // (what deliver() reported) and "params" (the form fields received, [[name, value], …] in
  // arrival order).
  nlohmann::json messages() const;
  // Every Messages API request: [{method, path, status (null: never answered), fault, params,
  // created (the sid or null)}].
  nlohmann::json requests() const;
  // Forgets messages, requests and callbacks (faults and opt-outs stay).
  void clear_messages();
  // Forgets everything: messages, requests, callbacks, faults, opt-outs.
  void reset();

  // Sends to `number` fail with 400 code 21610 from now on (as after a STOP); opt_in undoes it.
  void opt_out(const std::string& number);
  void opt_in(const std::string& number);

  // The next `times` valid sends get `status` (429, 500, 502, 503 or 504) and create nothing, or,
  // with `create`, create the message and then answer `status`.
  void fault_status(int status, int times = 1, bool create = false);
  // The next send creates the message and never answers (the client times out).
  void fault_timeout();
  // The next send creates the message and closes the connection without an answer.
  void fault_drop_after();
  void clear_faults();

  // What a signed webhook POST got back from its target.
  struct WebhookAnswer {
    int status = 0;
    std::string content_type;
    std::string body;
  };
  // Reports `status` (delivered, undelivered, failed, sent…) for message `sid` with a signed
  // POST to its StatusCallback (ErrorCode when error_code != 0) and returns the callback's
  // answer. `sign_with`: another token, to forge the signature.
  WebhookAnswer deliver(const std::string& sid, const std::string& status, int error_code = 0,
                        const std::string& sign_with = "") const;
  // Posts Twilio's incoming-message webhook (From, To, Body, MessageSid, NumMedia…), signed, to
  // `url` and returns our app's answer (a TwiML reply, for instance).
  WebhookAnswer inbound(const std::string& from, const std::string& to, const std::string& body,
                        const std::string& url, const std::string& sign_with = "") const;

  // The server's stderr so far.
  std::string log() const;

 private:
  nlohmann::json control(const std::string& method, const std::string& path,
                         const std::string& json_body = "") const;
  WebhookAnswer webhook(const std::string& path, const nlohmann::json& body) const;
  std::string log_tail(int lines = 20) const;

  std::unique_ptr<Child> child_;
  std::string log_path_;
  int port_ = 0;
};

}  // namespace afterglow::testing
