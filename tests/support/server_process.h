// `afterglow serve` as a child process, for integration tests and benchmarks.
//
// The server is told to report its ports through READY_FD (a pipe): the constructor returns as
// soon as the bound ports are known, with no sleeping and no port guessing (use PORT=0 and
// HTTP_PORT=0 in `env`). Its stdout and stderr (JSON log lines) are appended to `log_path`,
// across restarts.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "tests/support/process.h"

namespace afterglow::testing {

class ServerProcess {
 public:
  // Starts the server. Throws std::runtime_error carrying the tail of the log when the child
  // exits before reporting its ports, or reports nothing within `ready_timeout`.
  ServerProcess(Env env, std::string log_path,
                std::chrono::milliseconds ready_timeout = std::chrono::seconds(15));
  // Kills the server (SIGKILL) if it is still running.
  ~ServerProcess();
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  // Ports of the current run; -1 for a listener that is off.
  int https_port() const { return https_port_; }
  int http_port() const { return http_port_; }
  // "https://127.0.0.1:<https_port>" (the dev certificate names 127.0.0.1).
  std::string https_url() const;
  pid_t pid() const;
  bool running() const;

  // Graceful stop: SIGTERM, then waits up to `timeout` for the exit. Returns the exit status
  // (see Child::exit_code), or nullopt when the server did not exit in time (it is then killed).
  std::optional<int> stop(std::chrono::milliseconds timeout = std::chrono::seconds(15));
  // Crash: SIGKILL and reap. Nothing gets a chance to flush or clean up.
  void kill9();
  // Starts the server again with the same environment (hence the same database); the ports
  // usually change. Stops nothing: call stop() or kill9() first.
  void restart();

  const std::string& log_path() const { return log_path_; }
  // The log so far (every run).
  std::string log() const;
  // The last `lines` lines of the log, for failure messages.
  std::string log_tail(int lines = 20) const;

 private:
  void start();

  Env env_;
  std::string log_path_;
  std::chrono::milliseconds ready_timeout_;
  std::unique_ptr<Child> child_;
  int https_port_ = -1;
  int http_port_ = -1;
};

}  // namespace afterglow::testing
