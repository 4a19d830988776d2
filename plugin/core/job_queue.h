// The durable job queue, kept in the database so a job enqueued in the same transaction as the
// state that caused it can never be lost or run without that state.
//
// Lifecycle: scheduled --claim--> running --complete--> done
//                                   |--fail--> scheduled (run_at = now + backoff) | dead
//                                   |--lease expires--> claimable again (a crashed worker)
// Completion and failure are fenced on the lease owner: a worker whose lease expired and was
// claimed by another changes nothing (the call returns false) and must drop its result.
// All times come from the Clock. Thread-safe; several processes may share one database.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "plugin/core/clock.h"
#include "plugin/core/db.h"

namespace afterglow {

// The notification channel an enqueue signals (PostgreSQL LISTEN/NOTIFY).
inline constexpr const char* kJobsChannel = "afterglow_jobs";

struct JobSpec {
  std::string kind;                 // names the handler, e.g. "webhook.process"
  std::string payload;              // JSON text
  int64_t run_at_ms = 0;            // 0 = now
  std::string unique_key;           // optional; a second enqueue with the same key is a no-op
  std::optional<int64_t> shop_id;   // lets uninstall cancel a shop's pending work
  int max_attempts = 8;
  std::string queue = "default";
  int priority = 0;                 // lower runs first
};

struct Job {
  int64_t id = 0;
  std::string kind;
  std::string payload;
  int attempt = 0;                  // 1 on the first run
  int max_attempts = 0;
  std::optional<int64_t> shop_id;
  std::string lease_owner;          // unique per claim; the fence for complete/fail
  int64_t lease_expires_at_ms = 0;
};

struct RetryPolicy {
  std::chrono::milliseconds base{std::chrono::seconds(10)};  // first retry after ~base
  std::chrono::milliseconds max{std::chrono::hours(6)};      // cap of one delay
  double jitter = 0.2;              // each delay is scaled by a random factor in [1-j, 1+j]
};

struct DeadJob {
  int64_t id;
  std::string kind;
  std::optional<int64_t> shop_id;
  int attempt;
  std::string last_error;
  int64_t finished_at_ms;
};

class JobQueue {
 public:
  // `seed` fixes the jitter sequence (tests); production passes a random one.
  JobQueue(Db& db, const Clock& clock, RetryPolicy policy = {}, uint64_t seed = 0);

  // Adds a job inside the caller's transaction. Returns its id, or nullopt when a job with the
  // same unique_key already exists (in any state).
  Result<std::optional<int64_t>> enqueue(Tx& tx, const JobSpec& spec);
  // The same in a transaction of its own.
  Result<std::optional<int64_t>> enqueue(const JobSpec& spec);

  // Claims up to `max_jobs` due jobs of `queue` (scheduled and due, or running with an expired
  // lease) for `worker`, each with a lease of `lease`. A job whose attempts are exhausted by
  // expired leases is marked dead instead of returned.
  Result<std::vector<Job>> claim(std::string_view worker, int max_jobs,
                                 std::chrono::milliseconds lease,
                                 std::string_view queue = "default");

  // Fenced transitions; each returns false when the lease was lost (nothing changed).
  Result<bool> complete(const Job& job);
  // Records `error`; reschedules with backoff, or marks dead after max_attempts. When
  // `permanent`, the job goes dead at once.
  Result<bool> fail(const Job& job, std::string_view error, bool permanent = false);
  // Gives the job back untouched (the attempt is not counted), e.g. at shutdown.
  Result<bool> release(const Job& job);
  Result<bool> extend_lease(Job& job, std::chrono::milliseconds lease);

  // The delay before retry number `attempt` (1-based), before jitter: base * 2^(attempt-1),
  // capped at policy.max.
  std::chrono::milliseconds backoff_before_jitter(int attempt) const;

  // Cancels the shop's scheduled jobs (e.g. on uninstall); returns how many.
  Result<int64_t> cancel_shop_jobs(Tx& tx, int64_t shop_id);

  // Operator views.
  Result<std::map<std::string, int64_t>> counts_by_state();
  Result<std::vector<DeadJob>> dead_jobs(int limit);
  // Puts a dead (or cancelled) job back to scheduled with a fresh attempt budget; false if the
  // job does not exist or is not dead/cancelled.
  Result<bool> retry(int64_t job_id);
  // Deletes done/cancelled jobs finished before `before_ms` (unique keys of those are released).
  Result<int64_t> prune_finished(int64_t before_ms);
  // The queue's clock reading (ms since the epoch).
  int64_t now_ms() const { return clock_.now_ms(); }
  // Earliest run_at of a scheduled job, if any (lets idle workers sleep until then).
  Result<std::optional<int64_t>> next_due_ms(std::string_view queue = "default");

 private:
  int64_t jittered_delay_ms(int attempt);

  Db& db_;
  const Clock& clock_;
  RetryPolicy policy_;
  std::mutex rng_mutex_;
  std::mt19937_64 rng_;
};

}  // namespace afterglow
