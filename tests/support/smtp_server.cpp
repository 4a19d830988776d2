#include "tests/support/smtp_server.h"

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

#include "plugin/core/crypto.h"
#include "plugin/core/http_client.h"
#include "tests/support/process.h"

namespace afterglow::testing {
namespace {

using nlohmann::json;

constexpr auto kReadyTimeout = std::chrono::seconds(15);
constexpr auto kPollInterval = std::chrono::milliseconds(10);

// Reads from `fd` until a full line arrived, EOF (the child exited) or the deadline; returns what
// was read. (The same as in stripe_server.cpp; each wrapper stays a self-contained library.)
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
  std::string pattern = std::string(dir && *dir ? dir : "/tmp") + "/afterglow-smtp-XXXXXX.log";
  std::vector<char> buf(pattern.begin(), pattern.end());
  buf.push_back('\0');
  int fd = mkstemps(buf.data(), 4);
  if (fd < 0) throw std::runtime_error("cannot create " + pattern + ": " + std::strerror(errno));
  close(fd);
  return buf.data();
}

}  // namespace

SmtpServer::SmtpServer() : SmtpServer(Options{}) {}

SmtpServer::SmtpServer(Options options) : implicit_tls_(options.implicit_tls) {
  std::string node = AFTERGLOW_NODE;
  if (node.empty()) throw std::runtime_error("SmtpServer: node was not found when CMake ran");
  log_path_ = temp_log_path();
  std::vector<std::string> argv{node, AFTERGLOW_SMTP_SERVER, "--port", "0", "--host", "127.0.0.1"};
  if (!options.tls_cert.empty() || !options.tls_key.empty()) {
    argv.insert(argv.end(), {"--tls-key", options.tls_key, "--tls-cert", options.tls_cert});
  }
  if (options.implicit_tls) argv.push_back("--implicit-tls");
  if (!options.auth_user.empty()) {
    argv.insert(argv.end(), {"--auth", options.auth_user + ":" + options.auth_password});
  }

  int log_fd = open(log_path_.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (log_fd < 0)
    throw std::runtime_error("cannot open " + log_path_ + ": " + std::strerror(errno));
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
  if (std::sscanf(line.c_str(), "listening %d %d", &port_, &control_port_) != 2 || port_ <= 0 ||
      control_port_ <= 0) {
    child_->signal(SIGKILL);
    auto status = child_->wait_for(std::chrono::seconds(10));
    std::string tail = log_tail();
    std::remove(log_path_.c_str());
    throw std::runtime_error("smtp server did not start (stdout: '" + line + "', status " +
                             (status ? std::to_string(*status) : std::string("unknown")) +
                             "; did `npm ci` run in tests/smtp_server?); log tail:\n" + tail);
  }
}

SmtpServer::~SmtpServer() {
  if (child_ && child_->running()) {
    child_->signal(SIGTERM);
    if (!child_->wait_for(std::chrono::seconds(5))) {
      child_->signal(SIGKILL);
      child_->wait_for(std::chrono::seconds(10));
    }
  }
  if (std::getenv("KEEP_TEST_DIRS")) {
    std::cerr << "smtp server log kept: " << log_path_ << "\n";
  } else {
    std::remove(log_path_.c_str());
  }
}

std::string SmtpServer::url(const std::string& user, const std::string& password) const {
  std::string userinfo;
  if (!user.empty()) userinfo = url_encode(user) + ":" + url_encode(password) + "@";
  return std::string(implicit_tls_ ? "smtps://" : "smtp://") + userinfo +
         "127.0.0.1:" + std::to_string(port_);
}

json SmtpServer::control(const std::string& method, const std::string& path,
                         const std::string& json_body) const {
  httplib::Client cli("127.0.0.1", control_port_);
  cli.set_connection_timeout(std::chrono::seconds(5));
  cli.set_read_timeout(std::chrono::seconds(10));
  cli.set_write_timeout(std::chrono::seconds(5));
  auto res = [&] {
    if (method == "GET") return cli.Get(path);
    if (method == "POST")
      return cli.Post(path, json_body.empty() ? "{}" : json_body, "application/json");
    if (method == "DELETE") return cli.Delete(path);
    throw std::logic_error("SmtpServer: unsupported method " + method);
  }();
  if (!res) {
    throw std::runtime_error("smtp server " + method + " " + path + ": " +
                             httplib::to_string(res.error()));
  }
  if (res->status < 200 || res->status >= 300) {
    throw std::runtime_error("smtp server " + method + " " + path + ": HTTP " +
                             std::to_string(res->status) + " " + res->body);
  }
  return json::parse(res->body);
}

std::vector<SmtpServer::Received> SmtpServer::received() const {
  std::vector<Received> out;
  for (const auto& m : control("GET", "/_test/messages")) {
    Received r;
    r.id = m.at("id").get<int>();
    r.session = m.at("session").get<std::string>();
    if (m.at("user").is_string()) r.user = m.at("user").get<std::string>();
    r.from = m.at("from").get<std::string>();
    r.to = m.at("to").get<std::vector<std::string>>();
    // The base64 copy carries the exact bytes, whatever their encoding.
    auto raw = crypto::base64_decode(m.at("raw_base64").get<std::string>());
    if (!raw) throw std::runtime_error("smtp server: raw_base64 does not decode");
    r.raw = std::move(*raw);
    out.push_back(std::move(r));
  }
  return out;
}

std::vector<std::string> SmtpServer::messages() const {
  std::vector<std::string> out;
  for (auto& r : received()) out.push_back(std::move(r.raw));
  return out;
}

bool SmtpServer::wait_for_messages(size_t n, std::chrono::milliseconds timeout) const {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (control("GET", "/_test/messages").size() >= n) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(kPollInterval);
  }
}

void SmtpServer::clear_messages() { control("DELETE", "/_test/messages"); }

void SmtpServer::set_faults(const json& faults) { control("POST", "/_test/faults", faults.dump()); }

void SmtpServer::clear_faults() { control("DELETE", "/_test/faults"); }

int SmtpServer::disconnect_all() {
  return control("POST", "/_test/disconnect").at("disconnected").get<int>();
}

std::string SmtpServer::log() const {
  std::ifstream in(log_path_, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::string SmtpServer::log_tail(int lines) const {
  std::string all = log();
  size_t pos = all.size();
  if (pos > 0 && all[pos - 1] == '\n') --pos;
  for (int i = 0; i < lines && pos != std::string::npos && pos > 0; ++i) {
    pos = all.rfind('\n', pos - 1);
  }
  return pos == std::string::npos || pos == 0 ? all : all.substr(pos + 1);
}

}  // namespace afterglow::testing
