#include "plugin/core/worker_pool.h"

#include <chrono>
#include <exception>

#include "plugin/core/log.h"

namespace afterglow {

WorkerPool::WorkerPool(JobQueue& queue, const JobHandlers& handlers, Metrics& metrics,
                       WorkerOptions options)
    : queue_(queue), handlers_(handlers), metrics_(metrics), options_(std::move(options)) {
  metrics_.describe("afterglow_jobs_run_total", Metrics::Type::kCounter,
                    "Jobs run, by kind and outcome (done, retry, dead, lease_lost).");
  metrics_.describe("afterglow_job_run_seconds", Metrics::Type::kHistogram,
                    "Time a job handler took, by kind.");
}

WorkerPool::~WorkerPool() { stop(); }

void WorkerPool::start() {
  for (int i = 0; i < options_.threads; ++i) threads_.emplace_back([this, i] { loop(i); });
  if (options_.notifications && options_.threads > 0) {
    if (auto listener = options_.notifications->listen(kJobsChannel)) {
      threads_.emplace_back(
          [this, l = std::shared_ptr<Listener>(std::move(listener))]() mutable {
            while (!stopping_.load()) {
              if (l->wait(static_cast<int>(options_.poll_interval.count()))) notify();
            }
          });
    }
  }
}

void WorkerPool::prune_if_due() {
  {
    std::lock_guard<std::mutex> lock(prune_mutex_);
    auto now = std::chrono::steady_clock::now();
    if (last_prune_ != std::chrono::steady_clock::time_point{} &&
        now - last_prune_ < options_.prune_interval) {
      return;
    }
    last_prune_ = now;
  }
  auto pruned = queue_.prune_finished(queue_.now_ms() - options_.retention.count());
  if (!pruned) {
    log::warn("pruning finished jobs failed", {{"error", pruned.error().message}});
  } else if (*pruned > 0) {
    log::info("pruned finished jobs", {{"count", *pruned}});
  }
}

void WorkerPool::stop() {
  stopping_.store(true);
  notify();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

void WorkerPool::notify() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    ++wake_generation_;
  }
  wake_.notify_all();
}

Result<bool> WorkerPool::run_one(const std::string& owner) {
  auto jobs = AG_TRY(queue_.claim(owner, 1, options_.lease));
  if (jobs.empty()) return false;
  const Job& job = jobs.front();
  const JobHandler* handler = handlers_.find(job.kind);
  auto started = std::chrono::steady_clock::now();
  Result<void> outcome;
  if (!handler) {
    outcome = fail(ErrorCode::kInvalidArgument, "no handler for job kind " + job.kind);
  } else {
    try {
      outcome = (*handler)(job);
    } catch (const std::exception& e) {
      outcome = fail(ErrorCode::kInternal, std::string("handler threw: ") + e.what());
    } catch (...) {
      outcome = fail(ErrorCode::kInternal, "handler threw a non-standard exception");
    }
  }
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  metrics_.observe("afterglow_job_run_seconds", {{"kind", job.kind}}, seconds);

  std::string result;
  if (outcome) {
    result = AG_TRY(queue_.complete(job)) ? "done" : "lease_lost";
  } else {
    bool permanent = outcome.error().code == ErrorCode::kInvalidArgument;
    bool dead = permanent || job.attempt >= job.max_attempts;
    bool kept = AG_TRY(queue_.fail(job, outcome.error().message, permanent));
    result = !kept ? "lease_lost" : dead ? "dead" : "retry";
    log::Level level = dead ? log::Level::kError : log::Level::kWarn;
    log::write(level, "job failed",
               {{"job_id", job.id}, {"kind", job.kind}, {"attempt", job.attempt},
                {"outcome", result}, {"error", outcome.error().message}});
  }
  metrics_.inc("afterglow_jobs_run_total", {{"kind", job.kind}, {"outcome", result}});
  return true;
}

Result<int> WorkerPool::drain() {
  int n = 0;
  std::string owner = options_.name + ":drain";
  while (AG_TRY(run_one(owner))) ++n;
  return n;
}

void WorkerPool::loop(int index) {
  std::string owner = options_.name + ":" + std::to_string(index);
  while (!stopping_.load()) {
    uint64_t seen;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      seen = wake_generation_;
    }
    if (index == 0) prune_if_due();
    auto ran = run_one(owner);
    if (!ran) {
      log::warn("worker could not claim", {{"error", ran.error().message}});
    } else if (*ran) {
      continue;  // there may be more due work
    }
    std::unique_lock<std::mutex> lock(mutex_);
    wake_.wait_for(lock, options_.poll_interval,
                   [&] { return stopping_.load() || wake_generation_ != seen; });
  }
}

}  // namespace afterglow
