#include "tests/support/cluster.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>

#include "plugin/core/crypto.h"

namespace afterglow::testing {
namespace {

std::string last_lines(const std::string& text, int lines) {
  size_t pos = text.size();
  if (pos > 0 && text[pos - 1] == '\n') --pos;
  for (int i = 0; i < lines && pos != std::string::npos && pos > 0; ++i) {
    pos = text.rfind('\n', pos - 1);
  }
  return pos == std::string::npos || pos == 0 ? text : text.substr(pos + 1);
}

Env with_overrides(Env env, const Env& overrides) {
  for (const auto& [key, value] : overrides) {
    if (value.empty()) {
      env.erase(key);
    } else {
      env[key] = value;
    }
  }
  return env;
}

}  // namespace

Cluster::Cluster(std::string database_url, ClusterSpec spec)
    : dir_("afterglow-cluster"),
      cert_(make_dev_certificate(dir_.path())),
      api_secret_("shpss_" + crypto::random_hex(16)) {
  Env base{{"HOST", "127.0.0.1"},
           {"PORT", "0"},
           {"TLS_CERT", cert_.cert_path},
           {"TLS_KEY", cert_.key_path},
           {"DATABASE_URL", std::move(database_url)},
           {"APP_API_KEY", "test-api-key"},
           {"APP_API_SECRET", api_secret_},
           {"LOG_LEVEL", "info"}};
  base["WORKERS"] = std::to_string(spec.server_workers);
  server_env_ = with_overrides(base, spec.env);
  base["WORKERS"] = std::to_string(spec.worker_threads);
  Env worker_env = with_overrides(base, spec.env);

  for (int i = 0; i < spec.servers; ++i) {
    servers_.push_back(std::make_unique<ServerProcess>(
        server_env_, dir_.file("server-" + std::to_string(i) + ".log")));
  }
  for (int i = 0; i < spec.workers; ++i) start_worker(worker_env, i);
}

Cluster::~Cluster() {
  for (Worker& w : workers_) w.child.reset();  // SIGKILL and reap
  servers_.clear();                            // likewise
}

void Cluster::start_worker(const Env& env, int index) {
  Worker w;
  w.log_path = dir_.file("worker-" + std::to_string(index) + ".log");
  int log_fd = open(w.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) {
    throw std::runtime_error("cannot open " + w.log_path + ": " + std::strerror(errno));
  }
  try {
    w.child = std::make_unique<Child>(std::vector<std::string>{afterglow_binary(), "worker"}, env,
                                      Child::Fds{log_fd, log_fd, -1});
  } catch (...) {
    close(log_fd);
    throw;
  }
  close(log_fd);
  workers_.push_back(std::move(w));
}

std::unique_ptr<HttpsClient> Cluster::new_client(int i) const {
  return std::make_unique<HttpsClient>(server_url(i), cert_.cert_path);
}

int Cluster::worker_index(pid_t pid) const {
  for (size_t i = 0; i < workers_.size(); ++i) {
    if (workers_[i].child->pid() == pid) return static_cast<int>(i);
  }
  return -1;
}

void Cluster::kill9_worker(int i) {
  Child& c = *workers_.at(i).child;
  c.signal(SIGKILL);
  c.wait_for(std::chrono::seconds(10));
}

std::string Cluster::log_tails(int lines) const {
  std::string out;
  for (size_t i = 0; i < servers_.size(); ++i) {
    out += "--- server " + std::to_string(i) + " (pid " + std::to_string(servers_[i]->pid()) +
           ")\n" + servers_[i]->log_tail(lines) + "\n";
  }
  for (size_t i = 0; i < workers_.size(); ++i) {
    out += "--- worker " + std::to_string(i) + " (pid " + std::to_string(workers_[i].child->pid()) +
           ")\n" + last_lines(read_file(workers_[i].log_path), lines) + "\n";
  }
  return out;
}

}  // namespace afterglow::testing
