// Running our binary (or any program) as a child process from a test or a benchmark.
//
// Children get exactly the environment they are given (nothing is inherited, so a developer's
// AFTERGLOW_CONFIG or DATABASE_URL cannot leak in), stdin from /dev/null, default signal
// dispositions (as under a shell or systemd), no file descriptors beyond the ones named here, and
// are killed if the thread that started them exits (PR_SET_PDEATHSIG) — so a crashed test run
// leaves no server behind. Start children from a thread that outlives them (normally the main
// thread).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace afterglow::testing {

using Env = std::map<std::string, std::string>;

// Path of the afterglow binary this library was built against.
const char* afterglow_binary();

// One started child. Destroying a Child that is still running kills it (SIGKILL) and reaps it.
class Child {
 public:
  struct Fds {
    int stdout_fd = -1;  // -1: /dev/null
    int stderr_fd = -1;  // -1: /dev/null
    int extra_fd = -1;   // when >= 0, passed to the child as descriptor 3
  };
  // Forks and execs `argv[0]` (a path) with `env`. Throws std::runtime_error if fork fails; an
  // exec failure shows up as exit status 127.
  Child(const std::vector<std::string>& argv, const Env& env, Fds fds);
  ~Child();
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  pid_t pid() const { return pid_; }
  bool running() const { return pid_ > 0 && !status_; }
  // Sends `sig` (no-op once reaped).
  void signal(int sig);
  // Waits up to `timeout` for the child to exit; returns its status (see exit_code) or nullopt
  // if it is still running. Blocks on a pidfd, so it costs no polling.
  std::optional<int> wait_for(std::chrono::milliseconds timeout);
  // The status once reaped: the exit code for a normal exit, 128 + signal number when killed by
  // a signal (the shell's convention).
  std::optional<int> exit_code() const { return status_; }

 private:
  pid_t pid_ = -1;
  int pidfd_ = -1;
  std::optional<int> status_;
};

struct CliResult {
  int status = -1;  // as Child::exit_code; -1 when it timed out (and was killed)
  std::string out;  // everything written to stdout
  std::string err;  // everything written to stderr
};

// Runs `afterglow <args...>` with `env` to completion and captures its output, e.g.
// run_cli({"worker", "--drain"}, env). A child still running after `timeout` is killed.
CliResult run_cli(const std::vector<std::string>& args, const Env& env,
                  std::chrono::milliseconds timeout = std::chrono::seconds(30));

}  // namespace afterglow::testing
