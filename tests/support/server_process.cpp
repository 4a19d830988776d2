#include "tests/support/server_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>

#include "tests/support/temp_dir.h"

namespace afterglow::testing {
namespace {

// Reads the READY_FD line ("<https_port> <http_port>\n"). Returns "" on EOF (the child closed
// its end: it exited) or when the deadline passes.
std::string read_ready_line(int fd, std::chrono::milliseconds timeout, bool* timed_out) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string line;
  *timed_out = false;
  while (line.find('\n') == std::string::npos) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      *timed_out = true;
      return "";
    }
    pollfd p{fd, POLLIN, 0};
    int n = poll(&p, 1, static_cast<int>(left.count()));
    if (n < 0 && errno == EINTR) continue;
    if (n == 0) continue;  // the loop re-checks the deadline
    char buf[64];
    ssize_t got = read(fd, buf, sizeof buf);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return "";
    line.append(buf, static_cast<size_t>(got));
  }
  return line;
}

}  // namespace

ServerProcess::ServerProcess(Env env, std::string log_path,
                             std::chrono::milliseconds ready_timeout)
    : env_(std::move(env)), log_path_(std::move(log_path)), ready_timeout_(ready_timeout) {
  start();
}

ServerProcess::~ServerProcess() {
  if (running()) kill9();
}

void ServerProcess::start() {
  https_port_ = http_port_ = -1;
  int log_fd = open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) {
    throw std::runtime_error("cannot open " + log_path_ + ": " + std::strerror(errno));
  }
  int ready[2];
  if (pipe2(ready, O_CLOEXEC) != 0) {
    close(log_fd);
    throw std::runtime_error(std::string("pipe2: ") + std::strerror(errno));
  }
  Env env = env_;
  env["READY_FD"] = "3";  // Child installs extra_fd as descriptor 3
  try {
    child_ = std::make_unique<Child>(std::vector<std::string>{afterglow_binary(), "serve"}, env,
                                     Child::Fds{log_fd, log_fd, ready[1]});
  } catch (...) {
    close(log_fd);
    close(ready[0]);
    close(ready[1]);
    throw;
  }
  close(log_fd);
  close(ready[1]);  // now only the child holds the write end: EOF means it is gone
  bool timed_out = false;
  std::string line = read_ready_line(ready[0], ready_timeout_, &timed_out);
  close(ready[0]);
  if (line.empty() || std::sscanf(line.c_str(), "%d %d", &https_port_, &http_port_) != 2) {
    std::string why;
    if (timed_out) {
      why = "did not report its ports within " + std::to_string(ready_timeout_.count()) + " ms";
      child_->signal(SIGKILL);
    } else {
      why = "exited before reporting its ports";
    }
    auto status = child_->wait_for(std::chrono::seconds(10));
    throw std::runtime_error("afterglow serve " + why + " (status " +
                             (status ? std::to_string(*status) : std::string("unknown")) +
                             "); log tail:\n" + log_tail());
  }
}

std::string ServerProcess::https_url() const {
  return "https://127.0.0.1:" + std::to_string(https_port_);
}

pid_t ServerProcess::pid() const { return child_ ? child_->pid() : -1; }

bool ServerProcess::running() const { return child_ && child_->running(); }

std::optional<int> ServerProcess::stop(std::chrono::milliseconds timeout) {
  if (!child_) return std::nullopt;
  if (!running()) return child_->exit_code();
  child_->signal(SIGTERM);
  auto status = child_->wait_for(timeout);
  if (!status) {
    child_->signal(SIGKILL);
    child_->wait_for(std::chrono::seconds(10));
    return std::nullopt;
  }
  return status;
}

void ServerProcess::kill9() {
  if (!running()) return;
  child_->signal(SIGKILL);
  child_->wait_for(std::chrono::seconds(10));
}

void ServerProcess::restart() {
  if (running()) throw std::logic_error("ServerProcess::restart: the server is still running");
  start();
}

std::string ServerProcess::log() const { return read_file(log_path_); }

std::string ServerProcess::log_tail(int lines) const {
  std::string all = log();
  size_t pos = all.size();
  if (pos > 0 && all[pos - 1] == '\n') --pos;
  for (int i = 0; i < lines && pos != std::string::npos && pos > 0; ++i) {
    pos = all.rfind('\n', pos - 1);
  }
  return pos == std::string::npos || pos == 0 ? all : all.substr(pos + 1);
}

}  // namespace afterglow::testing
