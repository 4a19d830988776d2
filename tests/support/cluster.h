// A scale-out deployment in miniature: N `afterglow serve` and M `afterglow worker` processes
// sharing one database (PostgreSQL in practice: that is what scale-out runs on), the same app
// secrets and the same TLS certificate, each on its own free port and with its own log file.
//
// Servers start first, one after another (each constructor returns once its ports are known),
// so the first one applies the migrations; workers start after them. Workers report no
// readiness: a test waits for what they do (jobs finished), not for them to be up.
//
// Single-threaded: use a Cluster from the thread that made it (its children are tied to that
// thread, see process.h); give other threads their own clients from new_client().
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "tests/support/dev_cert.h"
#include "tests/support/https_client.h"
#include "tests/support/process.h"
#include "tests/support/server_process.h"
#include "tests/support/temp_dir.h"

namespace afterglow::testing {

struct ClusterSpec {
  int servers = 3;         // `afterglow serve` processes
  int workers = 3;         // `afterglow worker` processes
  int server_workers = 0;  // WORKERS of each server: in-process job threads (0 = none)
  int worker_threads = 2;  // WORKERS of each worker process
  // Applied last to every process's environment: a key with a value sets it, a key with an
  // empty value removes it (e.g. {{"JOB_LEASE_SECONDS", "2"}, {"AFTERGLOW_TEST_HOOKS", "1"}}).
  Env env;
};

class Cluster {
 public:
  // Starts the processes against `database_url`. Throws std::runtime_error (with the log tail)
  // when a server does not come up.
  Cluster(std::string database_url, ClusterSpec spec = {});
  // Kills every process still running (SIGKILL).
  ~Cluster();
  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;

  int servers() const { return static_cast<int>(servers_.size()); }
  int workers() const { return static_cast<int>(workers_.size()); }

  ServerProcess& server(int i) { return *servers_.at(i); }
  // "https://127.0.0.1:<port>" of server `i`.
  std::string server_url(int i) const { return servers_.at(i)->https_url(); }
  // A client of server `i` that trusts the cluster's certificate; one per thread.
  std::unique_ptr<HttpsClient> new_client(int i) const;

  pid_t worker_pid(int i) const { return workers_.at(i).child->pid(); }
  bool worker_running(int i) const { return workers_.at(i).child->running(); }
  // The index of the worker process with `pid`, or -1.
  int worker_index(pid_t pid) const;
  // Crash: SIGKILL worker `i` and reap it. Its claimed jobs keep their leases until they expire.
  void kill9_worker(int i);

  // The secret deliveries must be signed with (APP_API_SECRET of every process).
  const std::string& api_secret() const { return api_secret_; }
  const std::string& ca_file() const { return cert_.cert_path; }
  // The environment of the servers (workers differ only in WORKERS).
  const Env& server_env() const { return server_env_; }
  // The last lines of every process's log, labelled, for failure messages.
  std::string log_tails(int lines = 10) const;

 private:
  struct Worker {
    std::string log_path;
    std::unique_ptr<Child> child;
  };

  void start_worker(const Env& env, int index);

  TempDir dir_;
  DevCertificate cert_;
  std::string api_secret_;
  Env server_env_;
  std::vector<std::unique_ptr<ServerProcess>> servers_;
  std::vector<Worker> workers_;
};

}  // namespace afterglow::testing
