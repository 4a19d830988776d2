#include "tests/support/sms_server.h"

#include <fcntl.h>
#include <httplib.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <vector>

#include "tests/support/process.h"

namespace afterglow::testing {
namespace {

using nlohmann::json;

constexpr auto kReadyTimeout = std::chrono::seconds(15);

// Reads from `fd` until a full line arrived, EOF (the child exited) or the deadline. (The same
// start-up handshake as stripe_server.cpp.)
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
  std::string pattern = std::string(dir && *dir ? dir : "/tmp") + "/afterglow-sms-XXXXXX.log";
  std::vector<char> buf(pattern.begin(), pattern.end());
  buf.push_back('\0');
  int fd = mkstemps(buf.data(), 4);
  if (fd < 0) throw std::runtime_error("cannot create " + pattern + ": " + std::strerror(errno));
  close(fd);
  return buf.data();
}

}  // namespace

SmsServer::SmsServer() {
  std::string node = AFTERGLOW_NODE;
  if (node.empty()) throw std::runtime_error("SmsServer: node was not found when CMake ran");
  log_path_ = temp_log_path();
  std::vector<std::string> argv{node,
                                AFTERGLOW_SMS_SERVER,
                                "--port",
                                "0",
                                "--host",
                                "127.0.0.1",
                                "--account-sid",
                                account_sid(),
                                "--auth-token-env",
                                "AG_SMS_AUTH_TOKEN"};

  int log_fd = open(log_path_.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (log_fd < 0)
    throw std::runtime_error("cannot open " + log_path_ + ": " + std::strerror(errno));
  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) {
    close(log_fd);
    throw std::runtime_error(std::string("pipe2: ") + std::strerror(errno));
  }
  try {
    child_ = std::make_unique<Child>(argv, Env{{"AG_SMS_AUTH_TOKEN", auth_token()}},
                                     Child::Fds{out[1], log_fd, -1});
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
    throw std::runtime_error("sms server did not start (stdout: '" + line + "', status " +
                             (status ? std::to_string(*status) : std::string("unknown")) +
                             "); log tail:\n" + tail);
  }
}

SmsServer::~SmsServer() {
  if (child_ && child_->running()) {
    child_->signal(SIGTERM);
    if (!child_->wait_for(std::chrono::seconds(5))) {
      child_->signal(SIGKILL);
      child_->wait_for(std::chrono::seconds(10));
    }
  }
  if (std::getenv("KEEP_TEST_DIRS")) {
    std::cerr << "sms server log kept: " << log_path_ << "\n";
  } else {
    std::remove(log_path_.c_str());
  }
}

std::string SmsServer::base_url() const { return "http://127.0.0.1:" + std::to_string(port_); }

std::string SmsServer::account_sid() { return "AC0123456789abcdef0123456789abcdef"; }

std::string SmsServer::auth_token() { return "afterglow-test-auth-token"; }

std::string SmsServer::sender() { return "+15005550006"; }

json SmsServer::control(const std::string& method, const std::string& path,
                        const std::string& json_body) const {
  httplib::Client cli("127.0.0.1", port_);
  cli.set_connection_timeout(std::chrono::seconds(5));
  // deliver/inbound wait for the target's answer, which the server gives up on after 10 s.
  cli.set_read_timeout(std::chrono::seconds(30));
  cli.set_write_timeout(std::chrono::seconds(5));
  auto send = [&]() -> httplib::Result {
    if (method == "GET") return cli.Get(path);
    if (method == "POST") {
      return cli.Post(path, json_body.empty() ? "{}" : json_body, "application/json");
    }
    if (method == "DELETE") return cli.Delete(path);
    throw std::logic_error("SmsServer: unsupported method " + method);
  };
  httplib::Result res = send();
  if (!res) {
    throw std::runtime_error("sms server " + method + " " + path + ": " +
                             httplib::to_string(res.error()));
  }
  if (res->status < 200 || res->status >= 300) {
    throw std::runtime_error("sms server " + method + " " + path + ": HTTP " +
                             std::to_string(res->status) + " " + res->body);
  }
  return json::parse(res->body);
}

json SmsServer::messages() const { return control("GET", "/_test/messages").at("messages"); }

json SmsServer::requests() const { return control("GET", "/_test/requests").at("requests"); }

void SmsServer::clear_messages() { control("DELETE", "/_test/messages"); }

void SmsServer::reset() { control("POST", "/_test/reset"); }

void SmsServer::opt_out(const std::string& number) {
  control("POST", "/_test/optout", json{{"number", number}}.dump());
}

void SmsServer::opt_in(const std::string& number) {
  control("POST", "/_test/optin", json{{"number", number}}.dump());
}

void SmsServer::fault_status(int status, int times, bool create) {
  control("POST", "/_test/faults",
          json{{"status", status}, {"times", times}, {"create", create}}.dump());
}

void SmsServer::fault_timeout() {
  control("POST", "/_test/faults", json{{"timeout", true}}.dump());
}

void SmsServer::fault_drop_after() {
  control("POST", "/_test/faults", json{{"drop_after", true}}.dump());
}

void SmsServer::clear_faults() { control("DELETE", "/_test/faults"); }

SmsServer::WebhookAnswer SmsServer::webhook(const std::string& path, const json& body) const {
  json j = control("POST", path, body.dump());
  WebhookAnswer a;
  a.status = j.at("status").get<int>();
  if (j.contains("content_type") && j["content_type"].is_string()) {
    a.content_type = j["content_type"].get<std::string>();
  }
  a.body = j.value("body", "");
  return a;
}

SmsServer::WebhookAnswer SmsServer::deliver(const std::string& sid, const std::string& status,
                                            int error_code, const std::string& sign_with) const {
  json body{{"sid", sid}, {"status", status}};
  if (error_code != 0) body["error_code"] = error_code;
  if (!sign_with.empty()) body["sign_with"] = sign_with;
  return webhook("/_test/deliver", body);
}

SmsServer::WebhookAnswer SmsServer::inbound(const std::string& from, const std::string& to,
                                            const std::string& text, const std::string& url,
                                            const std::string& sign_with) const {
  json body{{"from", from}, {"to", to}, {"body", text}, {"url", url}};
  if (!sign_with.empty()) body["sign_with"] = sign_with;
  return webhook("/_test/inbound", body);
}

std::string SmsServer::log() const {
  std::ifstream in(log_path_, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::string SmsServer::log_tail(int lines) const {
  std::string all = log();
  size_t pos = all.size();
  if (pos > 0 && all[pos - 1] == '\n') --pos;
  for (int i = 0; i < lines && pos != std::string::npos && pos > 0; ++i) {
    pos = all.rfind('\n', pos - 1);
  }
  return pos == std::string::npos || pos == 0 ? all : all.substr(pos + 1);
}

}  // namespace afterglow::testing
