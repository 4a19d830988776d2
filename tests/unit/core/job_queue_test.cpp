// plugin/core/job_queue against a real database (SQLite, and PostgreSQL in that pass) and a
// ManualClock: backoff schedule, dead letters, lease fencing, unique keys, transactional enqueue,
// due times, release/retry/cancel, concurrent claims, pruning.
#include "plugin/core/job_queue.h"

#include <catch2/catch.hpp>

#include <latch>
#include <numeric>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "plugin/core/db.h"
#include "plugin/core/migrations.h"
#include "tests/support/test_backend.h"

namespace afterglow {
namespace {

using namespace std::chrono_literals;

constexpr int64_t kStartMs = 1'700'000'000'000;

// A migrated, empty database on the backend under test (tests/support/test_backend.h).
class TempDb {
 public:
  TempDb() : db_(database_.open()) { REQUIRE(migrate(*db_)); }
  Db& db() { return *db_; }
  // Another Db on the same database, with a pool of its own: what a second process would have.
  std::unique_ptr<Db> open_another() { return database_.open(); }

 private:
  testing::TestDatabase database_;  // outlives db_
  std::unique_ptr<Db> db_;
};

// What the jobs table says about one job.
struct JobRow {
  std::string state;
  int64_t attempt = 0;
  int64_t run_at_ms = 0;
  std::optional<std::string> last_error;
  std::optional<std::string> lease_owner;
  std::optional<int64_t> finished_at_ms;
};

JobRow row_of(Db& db, int64_t id) {
  JobRow out;
  bool found = false;
  REQUIRE(db.read([&](Tx& tx) -> Result<void> {
    auto r = AG_TRY(tx.query_one(
        "SELECT state, attempt, run_at_ms, last_error, lease_owner, finished_at_ms "
        "FROM jobs WHERE id = ?",
        {id}));
    if (r) {
      found = true;
      out = JobRow{r->text(0), r->i64(1), r->i64(2), r->opt_text(3), r->opt_text(4),
                   r->opt_i64(5)};
    }
    return {};
  }));
  REQUIRE(found);
  return out;
}

bool exists(Db& db, int64_t id) {
  bool found = false;
  REQUIRE(db.read([&](Tx& tx) -> Result<void> {
    found = AG_TRY(tx.query_one("SELECT 1 FROM jobs WHERE id = ?", {id})).has_value();
    return {};
  }));
  return found;
}

int64_t job_count(Db& db) {
  int64_t n = -1;
  REQUIRE(db.read([&](Tx& tx) -> Result<void> {
    n = AG_TRY(tx.query_one("SELECT COUNT(*) FROM jobs"))->i64(0);
    return {};
  }));
  return n;
}

JobSpec spec(std::string kind = "test.kind", int max_attempts = 8) {
  JobSpec s;
  s.kind = std::move(kind);
  s.payload = R"({"n":1})";
  s.max_attempts = max_attempts;
  return s;
}

int64_t enqueue_ok(JobQueue& q, const JobSpec& s) {
  auto id = q.enqueue(s);
  REQUIRE(id);
  REQUIRE(id->has_value());
  return **id;
}

Job claim_one(JobQueue& q, std::string_view worker, std::chrono::milliseconds lease = 60s,
              std::string_view queue = "default") {
  auto jobs = q.claim(worker, 1, lease, queue);
  REQUIRE(jobs);
  REQUIRE(jobs->size() == 1);
  return jobs->front();
}

size_t claim_count(JobQueue& q, std::string_view queue = "default") {
  auto jobs = q.claim("probe", 100, 60s, queue);
  REQUIRE(jobs);
  return jobs->size();
}

RetryPolicy policy(std::chrono::milliseconds base, std::chrono::milliseconds max,
                   double jitter = 0.2) {
  RetryPolicy p;
  p.base = base;
  p.max = max;
  p.jitter = jitter;
  return p;
}

// Fails the job `failures` times, each time advancing the clock to the new run_at; returns the
// delay (run_at - now) chosen after each failure.
std::vector<int64_t> retry_delays(JobQueue& q, Db& db, ManualClock& clock, int64_t id,
                                  int failures) {
  std::vector<int64_t> delays;
  for (int i = 0; i < failures; ++i) {
    Job job = claim_one(q, "w");
    REQUIRE(job.id == id);
    REQUIRE(job.attempt == i + 1);
    REQUIRE(q.fail(job, "boom").value());
    JobRow row = row_of(db, id);
    REQUIRE(row.state == "scheduled");
    delays.push_back(row.run_at_ms - clock.now_ms());
    clock.set_ms(row.run_at_ms);
  }
  return delays;
}

TEST_CASE("job queue: backoff before jitter doubles from base and is capped at max", "[jobs]") {
  TempDb t;
  ManualClock clock(kStartMs);
  JobQueue q(t.db(), clock, policy(10s, 80s), 1);
  CHECK(q.backoff_before_jitter(1) == 10s);
  CHECK(q.backoff_before_jitter(2) == 20s);
  CHECK(q.backoff_before_jitter(3) == 40s);
  CHECK(q.backoff_before_jitter(4) == 80s);
  CHECK(q.backoff_before_jitter(5) == 80s);
  CHECK(q.backoff_before_jitter(60) == 80s);
  CHECK(q.backoff_before_jitter(5000) == 80s);  // no overflow far past the cap
}

TEST_CASE("job queue: each retry waits the capped doubling delay scaled within the jitter bounds",
          "[jobs][db]") {
  TempDb t;
  ManualClock clock(kStartMs);
  JobQueue q(t.db(), clock, policy(10s, 80s, 0.2), 42);
  const int64_t id = enqueue_ok(q, spec("k", 20));
  const std::vector<int64_t> delays = retry_delays(q, t.db(), clock, id, 8);
  bool jittered = false;
  for (size_t i = 0; i < delays.size(); ++i) {
    const int64_t base = std::min<int64_t>(10'000LL << i, 80'000);
    INFO("retry " << i + 1 << " delay " << delays[i] << " base " << base);
    CHECK(delays[i] >= base * 8 / 10);
    CHECK(delays[i] <= base * 12 / 10);
    if (delays[i] != base) jittered = true;
  }
  CHECK(jittered);
  // The doubling shows through the jitter: the third delay is always longer than the first.
  CHECK(delays[2] > delays[0] * 2);
}

TEST_CASE("job queue: without jitter the delays are exactly base, 2*base, ... up to max",
          "[jobs][db]") {
  TempDb t;
  ManualClock clock(kStartMs);
  JobQueue q(t.db(), clock, policy(1s, 5s, 0.0), 7);
  const int64_t id = enqueue_ok(q, spec("k", 20));
  CHECK(retry_delays(q, t.db(), clock, id, 5) ==
        std::vector<int64_t>{1'000, 2'000, 4'000, 5'000, 5'000});
}

TEST_CASE("job queue: the same seed gives the same retry schedule", "[jobs][db]") {
  auto schedule = [](uint64_t seed) {
    TempDb t;
    ManualClock clock(kStartMs);
    JobQueue q(t.db(), clock, policy(10s, 1h, 0.2), seed);
    const int64_t id = enqueue_ok(q, spec("k", 20));
    return retry_delays(q, t.db(), clock, id, 5);
  };
  const auto a = schedule(1234), b = schedule(1234), c = schedule(99);
  CHECK(a == b);
  CHECK(a != c);
}

TEST_CASE("job queue: a job that fails max_attempts times is dead and keeps its last error",
          "[jobs][db]") {
  TempDb t;
  ManualClock clock(kStartMs);
  JobQueue q(t.db(), clock, policy(1s, 10s), 3);
  const int64_t id = enqueue_ok(q, spec("mail.send", 3));
  for (int attempt = 1; attempt <= 3; ++attempt) {
    Job job = claim_one(q, "w");
    CHECK(job.attempt == attempt);
    CHECK(job.max_attempts == 3);
    REQUIRE(q.fail(job, "smtp 451 try " + std::to_string(attempt)).value());
    clock.advance(1h);
  }
  JobRow row = row_of(t.db(), id);
  CHECK(row.state == "dead");
  CHECK(row.attempt == 3);
  CHECK(row.last_error == "smtp 451 try 3");
  CHECK(row.finished_at_ms.has_value());
  CHECK_FALSE(row.lease_owner.has_value());
  CHECK(claim_count(q) == 0);

  auto dead = q.dead_jobs(10);
  REQUIRE(dead);
  REQUIRE(dead->size() == 1);
  CHECK(dead->front().id == id);
  CHECK(dead->front().kind == "mail.send");
  CHECK(dead->front().attempt == 3);
  CHECK(dead->front().last_error == "smtp 451 try 3");
  CHECK(q.counts_by_state()->at("dead") == 1);
}

TEST_CASE("job queue: a permanent failure is dead at once", "[jobs][db]") {
  TempDb t;
  ManualClock clock(kStartMs);
  JobQueue q(t.db(), clock, {}, 3);
  const int64_t id = enqueue_ok(q, spec("k", 8));
  REQUIRE(q.fail(claim_one(q, "w"), "bad payload", /*permanent=*/true).value());
  JobRow row = row_of(t.db(), id);
  CHECK(row.state == "dead");
  CHECK(row.attempt == 1);
  CHECK(row.last_error == "bad payload");
}

TEST_CASE("job queue: after the lease expires another worker claims the job and the first "
          "worker's calls are fenced off",
          "[jobs][db]") {
  TempDb t;
  ManualClock clock(kStartMs);
  JobQueue q(t.db(), clock, {}, 3);
  const int64_t id = enqueue_ok(q, spec());
  Job first = claim_one(q, "worker-a", 30s);
  CHECK(first.lease_expires_at_ms == kStartMs + 30'000);

  clock.advance(30s);  // expired only when strictly past the lease
  CHECK(claim_count(q) == 0);
  clock.advance(1ms);
  Job second = claim_one(q, "worker-b", 30s);
  CHECK(second.id == id);
  CHECK(second.attempt == 2);
  CHECK(second.lease_owner != first.lease_owner);

  // The first worker comes back from its stall: nothing it does changes the job.
  CHECK(q.complete(first).value() == false);
  CHECK(q.fail(first, "late failure").value() == false);
  CHECK(q.release(first).value() == false);
  CHECK(q.extend_lease(first, 30s).value() == false);
  JobRow row = row_of(t.db(), id);
  CHECK(row.state == "running");
  CHECK(row.attempt == 2);
  CHECK(row.lease_owner == second.lease_owner);
  CHECK_FALSE(row.last_error.has_value());

  CHECK(q.complete(second).value() == true);
  row = row_of(t.db(), id);
  CHECK(row.state == "done");
  CHECK(row.finished_at_ms == clock.now_ms());
  CHECK(q.complete(second).value() == false);  // completing twice changes nothing
}

TEST_CASE("job queue: extending the lease keeps other workers away", "[jobs][db]") {
  TempDb t;
  ManualClock clock(kStartMs);
  JobQueue q(t.db(), clock, {}, 3);
  enqueue_ok(q, spec());
  Job job = claim_one(q, "w", 30s);
  clock.advance(20s);
  REQUIRE(q.extend_lease(job, 30s).value());
  CHECK(job.lease_expires_at_ms == kStartMs + 50'000);
  clock.advance(20s);  // past the first lease, inside the extended one
  CHECK(claim_count(q) == 0);
  CHECK(q.complete(job).value());
}

TEST_CASE("job queue: a job whose leases keep expiring goes dead after max_attempts", "[jobs][db]") {
  TempDb t;
  ManualClock clock(kStartMs);
  JobQueue q(t.db(), clock, {}, 3);
  const int64_t id = enqueue_ok(q, spec("k", 2));
  claim_one(q, "w1", 10s);
  clock.advance(11s);
  claim_one(q, "w2", 10s);
  clock.advance(11s);
  CHECK(claim_count(q) == 0);
  JobRow row = row_of(t.db(), id);
  CHECK(row.state == "dead");
  REQUIRE(row.last_error);
  CHECK_THAT(*row.last_error, Catch::Contains("lease expired"));
}

TEST_CASE("job queue: a second enqueue with the same unique key returns nullopt", "[jobs][db]") {
  TempDb t;
  ManualClock clock(kStartMs);
  JobQueue q(t.db(), clock, {}, 3);
  JobSpec s = spec();
  s.unique_key = "order:42:thanks";
  const int64_t id = enqueue_ok(q, s);
  auto again = q.enqueue(s);
  REQUIRE(again);
  CHECK_FALSE(again->has_value());
  CHECK(job_count(t.db()) == 1);

  // The key spans every state: a finished one-shot job is not scheduled again.
  REQUIRE(q.complete(claim_one(q, "w")).value());
  REQUIRE(row_of(t.db(), id).state == "done");
  CHECK_FALSE(q.enqueue(s)->has_value());

  // Jobs without a key never collide.
  CHECK(enqueue_ok(q, spec()) != enqueue_ok(q, spec()));
}

TEST_CASE("job queue: the same unique key enqueued at once through two separate pools makes one "
          "job",
          "[jobs][db]") {
  TempDb t;
  std::unique_ptr<Db> other = t.open_another();
  ManualClock clock(kStartMs);
  JobQueue q1(t.db(), clock, {}, 3), q2(*other, clock, {}, 4);
  JobSpec s = spec();
  s.unique_key = "webhook:77";
  constexpr int kThreads = 8;
  std::latch start(kThreads);
  std::vector<int> made(kThreads, 0), errors(kThreads, 0);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      JobQueue& q = i % 2 == 0 ? q1 : q2;  // half the threads on each pool
      start.arrive_and_wait();
      auto id = q.enqueue(s);
      if (!id) {
        ++errors[i];
      } else if (id->has_value()) {
        ++made[i];
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(errors == std::vector<int>(kThreads, 0));
  CHECK(std::accumulate(made.begin(), made.end(), 0) == 1);
  CHECK(job_count(t.db()) == 1);
}

TEST_CASE("job queue: an enqueue inside a rolled-back transaction leaves no job", "[jobs][db]") {
  TempDb t;
  ManualClock clock(kStartMs);
  JobQueue q(t.db(), clock, {}, 3);
  JobSpec s = spec();
  s.unique_key = "order:7";
  bool enqueued = false;
  auto r = t.db().write([&](Tx& tx) -> Result<void> {
    auto id = AG_TRY(q.enqueue(tx, s));
    enqueued = id.has_value();
    return fail(ErrorCode::kConflict, "the order write failed");
  });
  REQUIRE_FALSE(r);
  CHECK(r.error().message == "the order write failed");
  CHECK(enqueued);
  CHECK(job_count(t.db()) == 0);
  CHECK(claim_count(q) == 0);
  // Nor does it hold the unique key.
  CHECK(q.enqueue(s)->has_value());
}

TEST_CASE("job queue: a job is not claimed before the clock reaches its run_at", "[jobs][db]") {
  TempDb t;
  ManualClock clock(kStartMs);
  JobQueue q(t.db(), clock, {}, 3);
  JobSpec s = spec();
  s.run_at_ms = kStartMs + 60'000;
  const int64_t id = enqueue_ok(q, s);
  CHECK(q.next_due_ms().value() == kStartMs + 60'000);
  CHECK(claim_count(q) == 0);
  clock.advance(59'999ms);
  CHECK(claim_count(q) == 0);
  clock.advance(1ms);
  CHECK(claim_one(q, "w").id == id);
  CHECK_FALSE(q.next_due_ms().value().has_value());
}

TEST_CASE("job queue: claims respect the queue name and priority", "[jobs][db]") {
  TempDb t;
  ManualClock clock(kStartMs);
  JobQueue q(t.db(), clock, {}, 3);
  JobSpec low = spec("low");
  low.priority = 5;
  JobSpec high = spec("high");
  high.priority = -1;
  JobSpec other = spec("other");
  other.queue = "email";
  enqueue_ok(q, low);
  enqueue_ok(q, high);
  enqueue_ok(q, other);
  CHECK(claim_one(q, "w").kind == "high");
  CHECK(claim_one(q, "w").kind == "low");
  CHECK(claim_count(q) == 0);
  CHECK(claim_one(q, "w", 60s, "email").kind == "other");
}

TEST_CASE("job queue: release gives the attempt back and makes the job claimable", "[jobs][db]") {
  TempDb t;
  ManualClock clock(kStartMs);
  JobQueue q(t.db(), clock, {}, 3);
  const int64_t id = enqueue_ok(q, spec());
  Job job = claim_one(q, "w");
  REQUIRE(job.attempt == 1);
  REQUIRE(q.release(job).value());
  JobRow row = row_of(t.db(), id);
  CHECK(row.state == "scheduled");
  CHECK(row.attempt == 0);
  CHECK_FALSE(row.lease_owner.has_value());
  CHECK(q.complete(job).value() == false);  // the released lease is gone

  Job again = claim_one(q, "w");
  CHECK(again.id == id);
  CHECK(again.attempt == 1);
}

TEST_CASE("job queue: retry revives a dead job with a fresh attempt budget", "[jobs][db]") {
  TempDb t;
  ManualClock clock(kStartMs);
  JobQueue q(t.db(), clock, {}, 3);
  const int64_t id = enqueue_ok(q, spec("k", 2));
  REQUIRE(q.fail(claim_one(q, "w"), "permanent", true).value());
  REQUIRE(row_of(t.db(), id).state == "dead");

  clock.advance(1h);
  REQUIRE(q.retry(id).value());
  JobRow row = row_of(t.db(), id);
  CHECK(row.state == "scheduled");
  CHECK(row.attempt == 0);
  CHECK(row.run_at_ms == clock.now_ms());
  CHECK_FALSE(row.finished_at_ms.has_value());
  Job job = claim_one(q, "w");
  CHECK(job.id == id);
  CHECK(job.attempt == 1);
  CHECK(job.max_attempts == 2);

  CHECK(q.retry(id).value() == false);        // running, not dead
  CHECK(q.retry(id + 1000).value() == false);  // no such job
}

TEST_CASE("job queue: cancel_shop_jobs cancels only that shop's scheduled jobs", "[jobs][db]") {
  TempDb t;
  ManualClock clock(kStartMs);
  JobQueue q(t.db(), clock, {}, 3);
  auto for_shop = [](std::optional<int64_t> shop, std::string queue = "default") {
    JobSpec s = spec();
    s.shop_id = shop;
    s.queue = std::move(queue);
    return s;
  };
  const int64_t scheduled = enqueue_ok(q, for_shop(1));
  JobSpec later = for_shop(1);
  later.run_at_ms = kStartMs + 3'600'000;
  const int64_t future = enqueue_ok(q, later);
  const int64_t running = enqueue_ok(q, for_shop(1, "busy"));
  const int64_t done = enqueue_ok(q, for_shop(1, "finished"));
  const int64_t other_shop = enqueue_ok(q, for_shop(2));
  const int64_t no_shop = enqueue_ok(q, for_shop(std::nullopt));
  Job run = claim_one(q, "w", 60s, "busy");
  REQUIRE(q.complete(claim_one(q, "w", 60s, "finished")).value());

  int64_t cancelled = -1;
  REQUIRE(t.db().write([&](Tx& tx) -> Result<void> {
    cancelled = AG_TRY(q.cancel_shop_jobs(tx, 1));
    return {};
  }));
  CHECK(cancelled == 2);
  CHECK(row_of(t.db(), scheduled).state == "cancelled");
  CHECK(row_of(t.db(), future).state == "cancelled");
  CHECK(row_of(t.db(), running).state == "running");
  CHECK(row_of(t.db(), done).state == "done");
  CHECK(row_of(t.db(), other_shop).state == "scheduled");
  CHECK(row_of(t.db(), no_shop).state == "scheduled");
  CHECK(row_of(t.db(), scheduled).finished_at_ms == kStartMs);

  // The cancelled jobs are never claimed; the other shop's still are.
  clock.advance(2h);
  auto jobs = q.claim("w", 10, 60s);
  REQUIRE(jobs);
  std::set<int64_t> ids;
  for (const Job& j : *jobs) ids.insert(j.id);
  CHECK(ids == std::set<int64_t>{other_shop, no_shop});
  CHECK(q.complete(run).value());
}

TEST_CASE("job queue: concurrent claimers from 500 jobs claim each job exactly once", "[jobs][db]") {
  TempDb t;
  ManualClock clock(kStartMs);
  JobQueue q(t.db(), clock, {}, 3);
  constexpr int kJobs = 500;
  std::set<int64_t> enqueued;
  REQUIRE(t.db().write([&](Tx& tx) -> Result<void> {
    for (int i = 0; i < kJobs; ++i) {
      JobSpec s = spec();
      s.payload = "{\"i\":" + std::to_string(i) + "}";
      auto id = AG_TRY(q.enqueue(tx, s));
      enqueued.insert(*id);
    }
    return {};
  }));
  REQUIRE(enqueued.size() == kJobs);

  constexpr int kThreads = 4;
  std::vector<std::vector<int64_t>> claimed(kThreads);
  std::vector<int> errors(kThreads, 0), lost(kThreads, 0);
  std::vector<std::thread> threads;
  for (int w = 0; w < kThreads; ++w) {
    threads.emplace_back([&, w] {
      const std::string name = "worker-" + std::to_string(w);
      for (;;) {
        auto jobs = q.claim(name, 3 + w, 60s);
        if (!jobs) {
          ++errors[w];
          return;
        }
        if (jobs->empty()) return;
        for (const Job& j : *jobs) {
          claimed[w].push_back(j.id);
          auto ok = q.complete(j);
          if (!ok || !*ok) ++lost[w];
        }
      }
    });
  }
  for (auto& th : threads) th.join();

  std::multiset<int64_t> all;
  for (int w = 0; w < kThreads; ++w) {
    CHECK(errors[w] == 0);
    CHECK(lost[w] == 0);
    all.insert(claimed[w].begin(), claimed[w].end());
  }
  CHECK(all.size() == kJobs);
  CHECK(std::set<int64_t>(all.begin(), all.end()) == enqueued);  // no job twice, none missed
  auto counts = q.counts_by_state();
  REQUIRE(counts);
  CHECK(counts->at("done") == kJobs);
  CHECK(counts->at("running") == 0);
  CHECK(counts->at("scheduled") == 0);
}

TEST_CASE("job queue: prune_finished deletes done and cancelled jobs finished before the cutoff",
          "[jobs][db]") {
  TempDb t;
  ManualClock clock(kStartMs);
  JobQueue q(t.db(), clock, {}, 3);
  JobSpec keyed = spec();
  keyed.unique_key = "once";
  const int64_t done_old = enqueue_ok(q, keyed);
  REQUIRE(q.complete(claim_one(q, "w")).value());
  JobSpec shop_job = spec();
  shop_job.shop_id = 9;
  const int64_t cancelled_old = enqueue_ok(q, shop_job);
  REQUIRE(t.db().write([&](Tx& tx) -> Result<void> {
    AG_CHECK(q.cancel_shop_jobs(tx, 9));
    return {};
  }));
  const int64_t dead = enqueue_ok(q, spec());
  REQUIRE(q.fail(claim_one(q, "w"), "x", true).value());

  clock.advance(1h);
  const int64_t done_new = enqueue_ok(q, spec());
  REQUIRE(q.complete(claim_one(q, "w")).value());
  JobSpec pending = spec();
  pending.run_at_ms = kStartMs + 10 * 3'600'000LL;
  const int64_t scheduled = enqueue_ok(q, pending);

  // Cut off exactly at the newer completion time: strictly-before only.
  CHECK(q.prune_finished(clock.now_ms()).value() == 2);
  CHECK(job_count(t.db()) == 3);
  CHECK(row_of(t.db(), dead).state == "dead");  // dead jobs stay for the operator
  CHECK(row_of(t.db(), done_new).state == "done");
  CHECK(row_of(t.db(), scheduled).state == "scheduled");
  CHECK_FALSE(exists(t.db(), done_old));
  CHECK_FALSE(exists(t.db(), cancelled_old));
  // The pruned job's unique key is free again.
  CHECK(q.enqueue(keyed)->has_value());
  CHECK(q.prune_finished(clock.now_ms()).value() == 0);
}

}  // namespace
}  // namespace afterglow
