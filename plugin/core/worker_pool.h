// Runs queued jobs: each worker thread claims one due job at a time, calls the handler
// registered for its kind, and completes or fails it (fenced on the lease). The HTTP path never
// runs a handler; it only enqueues.
//
// A handler returns success, an error (retried with backoff; ErrorCode::kInvalidArgument means
// the input can never succeed, so the job goes dead at once), or throws (retried like an error).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "plugin/core/job_queue.h"
#include "plugin/core/metrics.h"

namespace afterglow {

using JobHandler = std::function<Result<void>(const Job&)>;

class JobHandlers {
 public:
  void add(std::string kind, JobHandler handler) { handlers_[std::move(kind)] = std::move(handler); }
  const JobHandler* find(const std::string& kind) const {
    auto it = handlers_.find(kind);
    return it == handlers_.end() ? nullptr : &it->second;
  }

 private:
  std::map<std::string, JobHandler> handlers_;
};

struct WorkerOptions {
  int threads = 2;
  std::chrono::milliseconds lease{std::chrono::minutes(5)};
  // How long an idle worker waits before looking again (jobs from other processes, due retries).
  std::chrono::milliseconds poll_interval{std::chrono::milliseconds(500)};
  std::string name = "worker";  // prefix of lease owners, e.g. host:pid
  // When set, a listener on kJobsChannel wakes idle workers as soon as any process enqueues
  // (PostgreSQL); polling stays as the fallback.
  Db* notifications = nullptr;
  // Finished jobs older than this are pruned, every prune_interval, by this pool.
  std::chrono::milliseconds retention{std::chrono::hours(24 * 7)};
  std::chrono::milliseconds prune_interval{std::chrono::minutes(10)};
};

class WorkerPool {
 public:
  WorkerPool(JobQueue& queue, const JobHandlers& handlers, Metrics& metrics,
             WorkerOptions options);
  ~WorkerPool();

  // Starts the threads. Call once.
  void start();
  // Asks the threads to stop, lets each finish its current job, joins them.
  void stop();
  // Wakes idle workers now (after an in-process enqueue).
  void notify();

  // Runs due jobs on the calling thread until none is due; returns how many ran. For
  // `afterglow worker --drain` and tests; does not need start().
  Result<int> drain();

  // Claims and runs at most one due job on the calling thread; false when none was due.
  Result<bool> run_one(const std::string& owner);

 private:
  void loop(int index);
  void prune_if_due();

  JobQueue& queue_;
  const JobHandlers& handlers_;
  Metrics& metrics_;
  WorkerOptions options_;
  std::atomic<bool> stopping_{false};
  std::mutex mutex_;
  std::condition_variable wake_;
  uint64_t wake_generation_ = 0;  // guarded by mutex_
  std::vector<std::thread> threads_;
  std::mutex prune_mutex_;
  std::chrono::steady_clock::time_point last_prune_{};  // guarded by prune_mutex_
};

}  // namespace afterglow
