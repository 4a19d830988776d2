#include "tests/support/process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <thread>

namespace afterglow::testing {
namespace {

// Descriptors are moved this high first, so that installing them as 0..3 never overwrites a
// source that still has to be copied.
constexpr int kScratchFd = 100;

int open_pidfd(pid_t pid) {
#ifdef SYS_pidfd_open
  int fd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (fd >= 0) fcntl(fd, F_SETFD, FD_CLOEXEC);
  return fd;
#else
  return -1;
#endif
}

int decode_status(int st) {
  if (WIFEXITED(st)) return WEXITSTATUS(st);
  if (WIFSIGNALED(st)) return 128 + WTERMSIG(st);
  return -1;
}

// Runs in the child between fork and exec: async-signal-safe calls only.
[[noreturn]] void exec_child(pid_t parent, char* const* argv, char* const* envp, int in_fd,
                             int out_fd, int err_fd, int extra_fd) {
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent) _exit(127);
  sigset_t all;
  sigemptyset(&all);
  sigprocmask(SIG_SETMASK, &all, nullptr);
  struct sigaction dfl;
  std::memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  // Ignored dispositions survive exec; the server must cope with the defaults on its own.
  for (int sig = 1; sig < NSIG; ++sig) sigaction(sig, &dfl, nullptr);

  int src[4] = {in_fd, out_fd, err_fd, extra_fd};
  int high[4] = {-1, -1, -1, -1};
  for (int i = 0; i < 4; ++i) {
    if (src[i] >= 0 && (high[i] = fcntl(src[i], F_DUPFD, kScratchFd + i)) < 0) _exit(127);
  }
  for (int i = 0; i < 4; ++i) {
    if (high[i] >= 0 && dup2(high[i], i) < 0) _exit(127);
  }
  close_range(4, ~0U, 0);  // everything else the test process had open (sockets, pipes)
  execve(argv[0], argv, envp);
  _exit(127);
}

void set_cloexec_pipe(int fds[2]) {
  if (pipe2(fds, O_CLOEXEC) != 0) {
    throw std::runtime_error(std::string("pipe2: ") + std::strerror(errno));
  }
}

}  // namespace

const char* afterglow_binary() { return AFTERGLOW_BINARY; }

Child::Child(const std::vector<std::string>& argv, const Env& env, Fds fds) {
  // Everything the child needs is built before fork: it may not allocate afterwards.
  std::vector<std::string> env_strings;
  for (const auto& [k, v] : env) env_strings.push_back(k + "=" + v);
  std::vector<char*> cargv, cenv;
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  for (auto& e : env_strings) cenv.push_back(e.data());
  cenv.push_back(nullptr);

  int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (devnull < 0) throw std::runtime_error("cannot open /dev/null");
  pid_t parent = getpid();
  pid_ = fork();
  if (pid_ == 0) {
    exec_child(parent, cargv.data(), cenv.data(), devnull,
               fds.stdout_fd >= 0 ? fds.stdout_fd : devnull,
               fds.stderr_fd >= 0 ? fds.stderr_fd : devnull, fds.extra_fd);
  }
  int fork_errno = errno;
  close(devnull);
  if (pid_ < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(fork_errno));
  pidfd_ = open_pidfd(pid_);
}

Child::~Child() {
  if (running()) {
    signal(SIGKILL);
    wait_for(std::chrono::seconds(10));
  }
  if (pidfd_ >= 0) close(pidfd_);
}

void Child::signal(int sig) {
  if (running()) kill(pid_, sig);
}

std::optional<int> Child::wait_for(std::chrono::milliseconds timeout) {
  if (status_ || pid_ <= 0) return status_;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    int st = 0;
    pid_t r = waitpid(pid_, &st, WNOHANG);
    if (r == pid_) {
      status_ = decode_status(st);
      return status_;
    }
    if (r < 0 && errno != EINTR) return status_;  // not our child any more: nothing to wait for
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    if (pidfd_ >= 0) {
      pollfd p{pidfd_, POLLIN, 0};
      poll(&p, 1, static_cast<int>(left.count()));  // readable once the child has exited
    } else {
      // Kernels without pidfd_open (< 5.3): short naps until the deadline.
      std::this_thread::sleep_for(std::min(left, std::chrono::milliseconds(5)));
    }
  }
}

CliResult run_cli(const std::vector<std::string>& args, const Env& env,
                  std::chrono::milliseconds timeout) {
  int out_pipe[2], err_pipe[2];
  set_cloexec_pipe(out_pipe);
  set_cloexec_pipe(err_pipe);
  std::vector<std::string> argv{afterglow_binary()};
  argv.insert(argv.end(), args.begin(), args.end());
  CliResult result;
  std::optional<Child> child;
  try {
    child.emplace(argv, env, Child::Fds{out_pipe[1], err_pipe[1], -1});
  } catch (...) {
    for (int fd : {out_pipe[0], out_pipe[1], err_pipe[0], err_pipe[1]}) close(fd);
    throw;
  }
  close(out_pipe[1]);
  close(err_pipe[1]);

  auto deadline = std::chrono::steady_clock::now() + timeout;
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  std::string* sinks[2] = {&result.out, &result.err};
  int open_count = 2;
  bool timed_out = false;
  while (open_count > 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    int n = poll(fds, 2, static_cast<int>(left.count()));
    if (n < 0 && errno == EINTR) continue;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      char buf[4096];
      ssize_t got = read(fds[i].fd, buf, sizeof buf);
      if (got > 0) {
        sinks[i]->append(buf, static_cast<size_t>(got));
      } else if (got == 0 || errno != EINTR) {
        close(fds[i].fd);
        fds[i].fd = -1;  // poll ignores negative descriptors
        --open_count;
      }
    }
  }
  for (auto& p : fds) {
    if (p.fd >= 0) close(p.fd);
  }
  if (timed_out) {
    child->signal(SIGKILL);
    child->wait_for(std::chrono::seconds(10));
    result.err += "\n[run_cli: killed after the timeout]";
    result.status = -1;
    return result;
  }
  // Both pipes closed: the child is exiting (or handed them to a grandchild, which ours never do).
  auto status = child->wait_for(std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now()) + std::chrono::seconds(1));
  if (!status) {
    child->signal(SIGKILL);
    child->wait_for(std::chrono::seconds(10));
    result.err += "\n[run_cli: killed after the timeout]";
    result.status = -1;
    return result;
  }
  result.status = *status;
  return result;
}

}  // namespace afterglow::testing
