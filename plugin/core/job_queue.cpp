#include "plugin/core/job_queue.h"

#include <algorithm>
#include <cmath>

#include "plugin/core/crypto.h"

namespace afterglow {
namespace {

constexpr size_t kMaxErrorLength = 2000;

std::string clip(std::string_view s) {
  return std::string(s.substr(0, std::min(s.size(), kMaxErrorLength)));
}

DbValue opt(const std::optional<int64_t>& v) {
  if (v) return *v;
  return std::monostate{};
}

// Runs one statement in a write transaction of its own; returns how many rows it changed.
Result<int64_t> write_one(Db& db, std::string_view sql, const Params& params) {
  int64_t changed = 0;
  AG_CHECK(db.write([&](Tx& tx) -> Result<void> {
    changed = AG_TRY(tx.exec(sql, params));
    return {};
  }));
  return changed;
}

// The fence every lease-holder transition shares: the row must still be running under the
// caller's lease. Appended to each such UPDATE; its two parameters go last.
constexpr std::string_view kFence = " WHERE id = ? AND lease_owner = ? AND state = 'running'";

std::string fenced(std::string_view update) { return std::string(update) + std::string(kFence); }

}  // namespace

JobQueue::JobQueue(Db& db, const Clock& clock, RetryPolicy policy, uint64_t seed)
    : db_(db), clock_(clock), policy_(policy), rng_(seed) {}

Result<std::optional<int64_t>> JobQueue::enqueue(Tx& tx, const JobSpec& spec) {
  int64_t now = clock_.now_ms();
  DbValue key = spec.unique_key.empty() ? DbValue{} : DbValue{spec.unique_key};
  auto row = AG_TRY(tx.query_one(
      "INSERT INTO jobs (kind, queue, shop_id, payload, state, priority, run_at_ms, attempt, "
      "max_attempts, unique_key, created_at_ms, updated_at_ms) "
      "VALUES (?, ?, ?, ?, 'scheduled', ?, ?, 0, ?, ?, ?, ?) "
      "ON CONFLICT DO NOTHING RETURNING id",
      {spec.kind, spec.queue, opt(spec.shop_id), spec.payload, int64_t{spec.priority},
       spec.run_at_ms ? spec.run_at_ms : now, int64_t{spec.max_attempts}, key, now, now}));
  if (!row) return std::optional<int64_t>();
  AG_CHECK(tx.notify(kJobsChannel));  // delivered at commit; wakes idle workers elsewhere
  return std::optional<int64_t>(row->i64(0));
}

Result<std::optional<int64_t>> JobQueue::enqueue(const JobSpec& spec) {
  std::optional<int64_t> id;
  AG_CHECK(db_.write([&](Tx& tx) -> Result<void> {
    id = AG_TRY(enqueue(tx, spec));
    return {};
  }));
  return id;
}

Result<std::vector<Job>> JobQueue::claim(std::string_view worker, int max_jobs,
                                         std::chrono::milliseconds lease,
                                         std::string_view queue) {
  std::vector<Job> claimed;
  int64_t now = clock_.now_ms();
  std::string owner = std::string(worker) + ":" + crypto::random_hex(6);
  int64_t expires = now + lease.count();
  AG_CHECK(db_.write([&](Tx& tx) -> Result<void> {
    claimed.clear();
    // Each statement claims: RETURNING cannot sit in a subquery, and UPDATE ... LIMIT is not
    // compiled in everywhere, hence IN (SELECT ... LIMIT n). On PostgreSQL, SKIP LOCKED lets
    // concurrent claimers pass over rows another one is taking instead of queueing behind it.
    // Two statements, not one with an OR: each reads only the head of an index in claim order
    // (jobs_lease; jobs_claim, migration 0003). With the OR the database had to read and sort
    // every job on every claim, so a claim slowed down with the backlog and with the finished
    // jobs kept for the retention period.

    // First the jobs of crashed workers (expired leases): they have waited longest.
    auto rows = AG_TRY(tx.query(
        "UPDATE jobs SET state = 'running', attempt = attempt + 1, lease_owner = ?, "
        "lease_expires_at_ms = ?, updated_at_ms = ? "
        "WHERE id IN (SELECT id FROM jobs WHERE state = 'running' AND lease_expires_at_ms < ? "
        "AND queue = ? ORDER BY lease_expires_at_ms, id LIMIT ? FOR UPDATE SKIP LOCKED) "
        "RETURNING id, kind, payload, attempt, max_attempts, shop_id",
        {owner, expires, now, now, std::string(queue), int64_t{max_jobs}}));
    if (rows.size() < static_cast<size_t>(max_jobs)) {
      auto due = AG_TRY(tx.query(
          "UPDATE jobs SET state = 'running', attempt = attempt + 1, lease_owner = ?, "
          "lease_expires_at_ms = ?, updated_at_ms = ? "
          "WHERE id IN (SELECT id FROM jobs WHERE queue = ? AND state = 'scheduled' "
          "AND run_at_ms <= ? ORDER BY priority, run_at_ms, id LIMIT ? FOR UPDATE SKIP LOCKED) "
          "RETURNING id, kind, payload, attempt, max_attempts, shop_id",
          {owner, expires, now, std::string(queue), now,
           static_cast<int64_t>(max_jobs - static_cast<int>(rows.size()))}));
      rows.insert(rows.end(), due.begin(), due.end());
    }
    for (const Row& r : rows) {
      Job j;
      j.id = r.i64(0);
      j.kind = r.text(1);
      j.payload = r.text(2);
      j.attempt = static_cast<int>(r.i64(3));
      j.max_attempts = static_cast<int>(r.i64(4));
      j.shop_id = r.opt_i64(5);
      j.lease_owner = owner;
      j.lease_expires_at_ms = expires;
      if (j.attempt > j.max_attempts) {
        // Only reachable through expired leases: the job keeps killing its workers.
        AG_CHECK(tx.exec(
            "UPDATE jobs SET state = 'dead', lease_owner = NULL, lease_expires_at_ms = NULL, "
            "last_error = COALESCE(last_error, '') || ?, finished_at_ms = ?, updated_at_ms = ? "
            "WHERE id = ?",
            {std::string(" [lease expired on every attempt]"), now, now, j.id}));
        continue;
      }
      claimed.push_back(std::move(j));
    }
    std::sort(claimed.begin(), claimed.end(), [](const Job& a, const Job& b) {
      return a.id < b.id;
    });
    return {};
  }));
  return claimed;
}

Result<bool> JobQueue::complete(const Job& job) {
  int64_t now = clock_.now_ms();
  int64_t changed = AG_TRY(write_one(
      db_,
      fenced("UPDATE jobs SET state = 'done', lease_owner = NULL, lease_expires_at_ms = NULL, "
             "finished_at_ms = ?, updated_at_ms = ?"),
      {now, now, job.id, job.lease_owner}));
  return changed == 1;
}

std::chrono::milliseconds JobQueue::backoff_before_jitter(int attempt) const {
  double factor = std::pow(2.0, std::max(0, attempt - 1));
  double ms = std::min(static_cast<double>(policy_.base.count()) * factor,
                       static_cast<double>(policy_.max.count()));
  return std::chrono::milliseconds(static_cast<int64_t>(ms));
}

int64_t JobQueue::jittered_delay_ms(int attempt) {
  double base = static_cast<double>(backoff_before_jitter(attempt).count());
  std::uniform_real_distribution<double> dist(1.0 - policy_.jitter, 1.0 + policy_.jitter);
  std::lock_guard<std::mutex> lock(rng_mutex_);
  return static_cast<int64_t>(base * dist(rng_));
}

Result<bool> JobQueue::fail(const Job& job, std::string_view error, bool permanent) {
  int64_t now = clock_.now_ms();
  bool dead = permanent || job.attempt >= job.max_attempts;
  int64_t run_at = now + (dead ? 0 : jittered_delay_ms(job.attempt));
  int64_t changed = AG_TRY(write_one(
      db_,
      fenced("UPDATE jobs SET state = ?, run_at_ms = ?, last_error = ?, lease_owner = NULL, "
             "lease_expires_at_ms = NULL, finished_at_ms = ?, updated_at_ms = ?"),
      {std::string(dead ? "dead" : "scheduled"), run_at, clip(error),
       dead ? DbValue{now} : DbValue{}, now, job.id, job.lease_owner}));
  return changed == 1;
}

Result<bool> JobQueue::release(const Job& job) {
  int64_t changed = AG_TRY(write_one(
      db_,
      fenced("UPDATE jobs SET state = 'scheduled', attempt = attempt - 1, lease_owner = NULL, "
             "lease_expires_at_ms = NULL, updated_at_ms = ?"),
      {clock_.now_ms(), job.id, job.lease_owner}));
  return changed == 1;
}

Result<bool> JobQueue::extend_lease(Job& job, std::chrono::milliseconds lease) {
  int64_t now = clock_.now_ms();
  int64_t expires = now + lease.count();
  int64_t changed = AG_TRY(
      write_one(db_, fenced("UPDATE jobs SET lease_expires_at_ms = ?, updated_at_ms = ?"),
                {expires, now, job.id, job.lease_owner}));
  if (changed == 1) job.lease_expires_at_ms = expires;
  return changed == 1;
}

Result<int64_t> JobQueue::cancel_shop_jobs(Tx& tx, int64_t shop_id) {
  int64_t now = clock_.now_ms();
  return tx.exec(
      "UPDATE jobs SET state = 'cancelled', finished_at_ms = ?, updated_at_ms = ?, "
      "last_error = 'cancelled: shop uninstalled' WHERE shop_id = ? AND state = 'scheduled'",
      {now, now, shop_id});
}

Result<std::map<std::string, int64_t>> JobQueue::counts_by_state() {
  std::map<std::string, int64_t> out;
  for (const char* s : {"scheduled", "running", "done", "dead", "cancelled"}) out[s] = 0;
  AG_CHECK(db_.read([&](Tx& tx) -> Result<void> {
    for (const Row& r :
         AG_TRY(tx.query("SELECT state, COUNT(*) FROM jobs GROUP BY state"))) {
      out[r.text(0)] = r.i64(1);
    }
    return {};
  }));
  return out;
}

Result<std::vector<DeadJob>> JobQueue::dead_jobs(int limit) {
  std::vector<DeadJob> out;
  AG_CHECK(db_.read([&](Tx& tx) -> Result<void> {
    for (const Row& r : AG_TRY(tx.query(
             "SELECT id, kind, shop_id, attempt, last_error, finished_at_ms FROM jobs "
             "WHERE state = 'dead' ORDER BY finished_at_ms DESC, id DESC LIMIT ?",
             {int64_t{limit}}))) {
      out.push_back(DeadJob{r.i64(0), r.text(1), r.opt_i64(2), static_cast<int>(r.i64(3)),
                            r.text(4), r.i64(5)});
    }
    return {};
  }));
  return out;
}

Result<bool> JobQueue::retry(int64_t job_id) {
  int64_t now = clock_.now_ms();
  int64_t changed = AG_TRY(write_one(
      db_,
      "UPDATE jobs SET state = 'scheduled', attempt = 0, run_at_ms = ?, finished_at_ms = NULL, "
      "updated_at_ms = ? WHERE id = ? AND state IN ('dead', 'cancelled')",
      {now, now, job_id}));
  return changed == 1;
}

Result<int64_t> JobQueue::prune_finished(int64_t before_ms) {
  return write_one(db_,
                   "DELETE FROM jobs WHERE state IN ('done', 'cancelled') AND finished_at_ms < ?",
                   {before_ms});
}

Result<std::optional<int64_t>> JobQueue::next_due_ms(std::string_view queue) {
  std::optional<int64_t> out;
  AG_CHECK(db_.read([&](Tx& tx) -> Result<void> {
    auto row = AG_TRY(tx.query_one(
        "SELECT MIN(run_at_ms) FROM jobs WHERE queue = ? AND state = 'scheduled'",
        {std::string(queue)}));
    if (row && !row->is_null(0)) out = row->i64(0);
    return {};
  }));
  return out;
}

}  // namespace afterglow
