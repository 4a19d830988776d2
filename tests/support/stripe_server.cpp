#include "tests/support/stripe_server.h"

#include <fcntl.h>
#include <httplib.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <vector>

#include "tests/support/process.h"

namespace afterglow::testing {
namespace {

using nlohmann::json;

constexpr auto kReadyTimeout = std::chrono::seconds(15);
constexpr auto kPollInterval = std::chrono::milliseconds(10);

// Reads from `fd` until a full line arrived, EOF (the child exited) or the deadline; returns
// what was read.
std::string read_line(int fd, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string line;
  while (line.find('\n') == std::string::npos) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd p{fd, POLLIN, 0};
    int n = poll(&p, 1, static_cast<int>(left.count()));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) continue;  // the loop re-checks the deadline
    char buf[128];
    ssize_t got = read(fd, buf, sizeof buf);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    line.append(buf, static_cast<size_t>(got));
  }
  return line;
}

std::string temp_log_path() {
  const char* dir = std::getenv("TMPDIR");
  std::string pattern = std::string(dir && *dir ? dir : "/tmp") + "/afterglow-stripe-XXXXXX.log";
  std::vector<char> buf(pattern.begin(), pattern.end());
  buf.push_back('\0');
  int fd = mkstemps(buf.data(), 4);
  if (fd < 0) throw std::runtime_error("cannot create " + pattern + ": " + std::strerror(errno));
  close(fd);
  return buf.data();
}

// One request on a fresh connection (so that any thread may call at any time).
httplib::Result send(int port, const std::string& method, const std::string& path,
                     const httplib::Headers& headers, const std::string& body,
                     const char* content_type) {
  httplib::Client cli("127.0.0.1", port);
  cli.set_connection_timeout(std::chrono::seconds(5));
  cli.set_read_timeout(std::chrono::seconds(30));
  cli.set_write_timeout(std::chrono::seconds(5));
  if (method == "GET") return cli.Get(path, headers);
  if (method == "POST") return cli.Post(path, headers, body, content_type);
  if (method == "DELETE") return cli.Delete(path, headers);
  throw std::logic_error("StripeServer: unsupported method " + method);
}

}  // namespace

StripeServer::StripeServer() : StripeServer(Options{}) {}

StripeServer::StripeServer(Options options) {
  std::string node = AFTERGLOW_NODE;
  if (node.empty()) throw std::runtime_error("StripeServer: node was not found when CMake ran");
  log_path_ = temp_log_path();
  std::vector<std::string> argv{node, AFTERGLOW_STRIPE_SERVER, "--port", "0",
                                "--host", "127.0.0.1"};
  if (!options.webhook_url.empty()) {
    argv.insert(argv.end(), {"--webhook-url", options.webhook_url});
    if (!options.webhook_secret.empty()) {
      argv.insert(argv.end(), {"--webhook-secret", options.webhook_secret});
    }
    if (!options.webhook_ca_file.empty()) {
      argv.insert(argv.end(), {"--webhook-ca", options.webhook_ca_file});
    }
  }

  int log_fd = open(log_path_.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (log_fd < 0) throw std::runtime_error("cannot open " + log_path_ + ": " + std::strerror(errno));
  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) {
    close(log_fd);
    throw std::runtime_error(std::string("pipe2: ") + std::strerror(errno));
  }
  try {
    child_ = std::make_unique<Child>(argv, Env{}, Child::Fds{out[1], log_fd, -1});
  } catch (...) {
    close(log_fd);
    close(out[0]);
    close(out[1]);
    throw;
  }
  close(log_fd);
  close(out[1]);  // only the child holds the write end now: EOF means it exited
  std::string line = read_line(out[0], kReadyTimeout);
  close(out[0]);  // the server prints nothing else on stdout
  if (std::sscanf(line.c_str(), "listening %d", &port_) != 1 || port_ <= 0) {
    child_->signal(SIGKILL);
    auto status = child_->wait_for(std::chrono::seconds(10));
    std::string tail = log_tail();
    std::remove(log_path_.c_str());
    throw std::runtime_error("stripe server did not start (stdout: '" + line + "', status " +
                             (status ? std::to_string(*status) : std::string("unknown")) +
                             "); log tail:\n" + tail);
  }
}

StripeServer::~StripeServer() {
  if (child_ && child_->running()) {
    child_->signal(SIGTERM);
    if (!child_->wait_for(std::chrono::seconds(5))) {
      child_->signal(SIGKILL);
      child_->wait_for(std::chrono::seconds(10));
    }
  }
  if (std::getenv("KEEP_TEST_DIRS")) {
    std::cerr << "stripe server log kept: " << log_path_ << "\n";
  } else {
    std::remove(log_path_.c_str());
  }
}

std::string StripeServer::base_url() const { return "http://127.0.0.1:" + std::to_string(port_); }

std::string StripeServer::secret_key() { return "sk_test_afterglow"; }

json StripeServer::control(const std::string& method, const std::string& path,
                           const std::string& json_body) const {
  auto res = send(port_, method, path, {}, json_body.empty() ? "{}" : json_body,
                  "application/json");
  if (!res) {
    throw std::runtime_error("stripe server " + method + " " + path + ": " +
                             httplib::to_string(res.error()));
  }
  if (res->status < 200 || res->status >= 300) {
    throw std::runtime_error("stripe server " + method + " " + path + ": HTTP " +
                             std::to_string(res->status) + " " + res->body);
  }
  return json::parse(res->body);
}

void StripeServer::set_webhook(const std::string& url, const std::string& secret,
                               const std::string& ca_file) {
  if (url.empty()) {
    control("DELETE", "/_test/webhook");
    return;
  }
  json body{{"url", url}, {"secret", secret}};
  if (!ca_file.empty()) body["ca_file"] = ca_file;
  control("POST", "/_test/webhook", body.dump());
}

std::string StripeServer::create_account() {
  auto [status, body] = call("POST", "/v1/accounts", "type=custom");
  if (status != 200) throw std::runtime_error("POST /v1/accounts: " + std::to_string(status) + " " + body);
  return json::parse(body).at("id").get<std::string>();
}

std::string StripeServer::create_customer(const std::string& account) {
  auto [status, body] = call("POST", "/v1/customers", "email=shopper%40example.com", account);
  if (status != 200) throw std::runtime_error("POST /v1/customers: " + std::to_string(status) + " " + body);
  return json::parse(body).at("id").get<std::string>();
}

std::string StripeServer::create_payment_method(const std::string& customer,
                                                const std::string& card,
                                                const std::string& account) {
  json body{{"card", card}};
  if (!customer.empty()) body["customer"] = customer;
  if (!account.empty()) body["account"] = account;
  return control("POST", "/_test/payment_methods", body.dump()).at("id").get<std::string>();
}

void StripeServer::fault(const std::string& method, const std::string& path,
                         const std::string& kind, int times) {
  control("POST", "/_test/faults",
          json{{"method", method}, {"path", path}, {"kind", kind}, {"times", times}}.dump());
}

void StripeServer::clear_faults() { control("DELETE", "/_test/faults"); }

void StripeServer::hold(const std::string& method, const std::string& path) {
  control("POST", "/_test/hold", json{{"method", method}, {"path", path}}.dump());
}

bool StripeServer::wait_held(int n, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (control("GET", "/_test/held").at("held").get<int>() >= n) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(kPollInterval);
  }
}

void StripeServer::release() { control("POST", "/_test/release"); }

void StripeServer::authenticate(const std::string& payment_intent_id, bool succeed) {
  control("POST", "/_test/payment_intents/" + payment_intent_id + "/authenticate",
          json{{"result", succeed ? "succeed" : "fail"}}.dump());
}

void StripeServer::advance_clock(int64_t seconds) {
  control("POST", "/_test/clock", json{{"advance_seconds", seconds}}.dump());
}

void StripeServer::reset() { control("POST", "/_test/reset"); }

json StripeServer::payment_intents() const {
  return control("GET", "/_test/payment_intents").at("data");
}

json StripeServer::refunds() const { return control("GET", "/_test/refunds").at("data"); }

json StripeServer::requests() const { return control("GET", "/_test/requests"); }

json StripeServer::events() const { return control("GET", "/_test/events").at("data"); }

bool StripeServer::wait_deliveries(int n, std::chrono::milliseconds timeout) const {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int finished = 0;
    for (const auto& e : events()) {
      const auto& state = e.at("delivery").at("state");
      if (state == "delivered" || state == "failed") ++finished;
    }
    if (finished >= n) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(kPollInterval);
  }
}

std::pair<int, std::string> StripeServer::call(const std::string& method,
                                               const std::string& path_and_query,
                                               const std::string& form_body,
                                               const std::string& account,
                                               const std::string& idempotency_key) const {
  httplib::Headers headers{{"Authorization", "Bearer " + secret_key()}};
  if (!account.empty()) headers.emplace("Stripe-Account", account);
  if (!idempotency_key.empty()) headers.emplace("Idempotency-Key", idempotency_key);
  auto res = send(port_, method, path_and_query, headers, form_body,
                  "application/x-www-form-urlencoded");
  if (!res) return {0, httplib::to_string(res.error())};
  return {res->status, res->body};
}

std::string StripeServer::log() const {
  std::ifstream in(log_path_, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::string StripeServer::log_tail(int lines) const {
  std::string all = log();
  size_t pos = all.size();
  if (pos > 0 && all[pos - 1] == '\n') --pos;
  for (int i = 0; i < lines && pos != std::string::npos && pos > 0; ++i) {
    pos = all.rfind('\n', pos - 1);
  }
  return pos == std::string::npos || pos == 0 ? all : all.substr(pos + 1);
}

}  // namespace afterglow::testing
