// Job queue throughput on SQLite and PostgreSQL: enqueue rate, then jobs claimed and completed
// per second with 1, 2 and 4 worker threads (claim batch 1 and 10, no-op handler), with an
// exactly-once check after every run. The queue is emptied and re-filled before each run, so
// every run starts from the same backlog.
//
// Usage: queue_bench [--jobs N] [--postgres URL] [--only sqlite|postgres]
//   --jobs N        jobs per run (default 5000: each job costs two commits, so this keeps the
//                   whole bench at a few minutes; the per-backlog line covers deeper queues)
//   --postgres URL  also run on PostgreSQL (default: $BENCH_POSTGRES_URL; skipped when empty).
//                   The run gets a schema of its own in that database, dropped at the end.
//   --only B        run one backend (e.g. under perf, to profile it alone)
// SQLite runs on a file in a fresh temporary directory (WAL, synchronous=FULL, as production).
//
// Each worker thread does what a WorkerPool thread does around a no-op handler: claim → complete,
// each a transaction of its own, so the figures are the queue's own ceiling. Threads share one
// Db (one process), as a `serve` process with WORKERS=n does.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <latch>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <unordered_set>
#include <vector>

#include "plugin/core/clock.h"
#include "plugin/core/crypto.h"
#include "plugin/core/db.h"
#include "plugin/core/job_queue.h"
#include "plugin/core/log.h"
#include "plugin/core/migrations.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_db.h"

namespace {

using afterglow::Db;
using afterglow::Job;
using afterglow::JobQueue;
using afterglow::JobSpec;
using afterglow::Result;
using afterglow::Tx;
using Clock = std::chrono::steady_clock;

constexpr int kEnqueueBatch = 1000;
constexpr auto kLease = std::chrono::seconds(60);
// A run that has not drained by then is reported as failed instead of hanging the bench.
constexpr auto kRunDeadline = std::chrono::seconds(300);

template <class T>
T check(Result<T> r, const char* what) {
  if (!r) throw std::runtime_error(std::string(what) + ": " + r.error().message);
  if constexpr (!std::is_void_v<T>) return std::move(*r);
}

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

JobSpec noop_job(int i) {
  JobSpec s;
  s.kind = "bench.noop";
  s.payload = "{\"n\":" + std::to_string(i) + "}";
  return s;
}

// Empties the jobs table. PostgreSQL's TRUNCATE also drops the dead row versions of the last
// run, so every run starts from a compact table and index, as SQLite's DELETE does.
void empty_queue(Db& db) {
  afterglow::testing::exec_sql(db,
                               db.dialect() == "postgres" ? "TRUNCATE jobs" : "DELETE FROM jobs");
}

// Enqueues `n` jobs, `per_tx` per transaction; returns jobs/s.
double fill(Db& db, JobQueue& queue, int n, int per_tx) {
  auto t0 = Clock::now();
  for (int done = 0; done < n;) {
    int k = std::min(per_tx, n - done);
    auto batch = [&](Tx& tx) -> Result<void> {
      for (int i = 0; i < k; ++i) AG_CHECK(queue.enqueue(tx, noop_job(done + i)));
      return {};
    };
    check(db.write(batch), "enqueue");
    done += k;
  }
  return n / seconds_since(t0);
}

struct RunResult {
  double jobs_per_s = 0;
  double claim_us = 0;        // mean wall time of one claim() call
  double complete_us = 0;     // mean wall time of one complete() call
  double claim_full_us = 0;   // mean claim() while the backlog was > 90% of the jobs
  double claim_empty_us = 0;  // mean claim() while the backlog was < 10% of the jobs
  int64_t empty_claims = 0;   // claims that returned nothing while jobs were left (SKIP LOCKED)
  bool exactly_once = false;
  std::string why;  // what the exactly-once check found, when it failed
};

struct ThreadStats {
  std::vector<int64_t> ids;
  double claim_s = 0, complete_s = 0, full_s = 0, empty_s = 0;
  int64_t claims = 0, completes = 0, full_n = 0, empty_n = 0, empty_claims = 0, lost = 0;
  std::string error;
};

RunResult run_workers(Db& db, JobQueue& queue, int n, int workers, int batch) {
  std::vector<ThreadStats> stats(workers);
  std::atomic<int64_t> claimed_total{0};
  std::atomic<bool> abort{false};
  std::latch start(workers + 1);
  auto deadline = Clock::now() + kRunDeadline;
  std::vector<std::thread> threads;
  for (int w = 0; w < workers; ++w) {
    threads.emplace_back([&, w] {
      ThreadStats& st = stats[w];
      std::string name = "bench-" + std::to_string(w);
      start.arrive_and_wait();
      try {
        while (!abort.load() && claimed_total.load() < n) {
          if (Clock::now() > deadline) throw std::runtime_error("deadline passed");
          int64_t backlog = n - claimed_total.load();
          auto t0 = Clock::now();
          auto jobs = check(queue.claim(name, batch, kLease), "claim");
          double dt = seconds_since(t0);
          st.claim_s += dt;
          ++st.claims;
          if (backlog > n * 9 / 10) {
            st.full_s += dt;
            ++st.full_n;
          }
          if (backlog < n / 10) {
            st.empty_s += dt;
            ++st.empty_n;
          }
          if (jobs.empty()) {
            // The last jobs went to another thread that has not counted them yet (or, on
            // PostgreSQL, are locked by its claim and skipped); it is done in a moment.
            ++st.empty_claims;
            std::this_thread::yield();
            continue;
          }
          claimed_total.fetch_add(static_cast<int64_t>(jobs.size()));
          for (const Job& j : jobs) {
            st.ids.push_back(j.id);  // the handler: nothing
            auto t1 = Clock::now();
            bool ok = check(queue.complete(j), "complete");
            st.complete_s += seconds_since(t1);
            ++st.completes;
            if (!ok) ++st.lost;
          }
        }
      } catch (const std::exception& e) {
        st.error = e.what();
        abort.store(true);
      }
    });
  }
  start.arrive_and_wait();
  auto t0 = Clock::now();
  for (auto& t : threads) t.join();
  double elapsed = seconds_since(t0);

  RunResult r;
  ThreadStats sum;
  std::unordered_set<int64_t> seen;
  int64_t duplicates = 0;
  for (const ThreadStats& st : stats) {
    if (!st.error.empty() && r.why.empty()) r.why = "worker error: " + st.error;
    sum.claim_s += st.claim_s;
    sum.complete_s += st.complete_s;
    sum.full_s += st.full_s;
    sum.empty_s += st.empty_s;
    sum.claims += st.claims;
    sum.completes += st.completes;
    sum.full_n += st.full_n;
    sum.empty_n += st.empty_n;
    sum.lost += st.lost;
    r.empty_claims += st.empty_claims;
    for (int64_t id : st.ids) {
      if (!seen.insert(id).second) ++duplicates;
    }
  }
  r.jobs_per_s = static_cast<double>(seen.size()) / elapsed;
  r.claim_us = sum.claims ? 1e6 * sum.claim_s / sum.claims : 0;
  r.complete_us = sum.completes ? 1e6 * sum.complete_s / sum.completes : 0;
  r.claim_full_us = sum.full_n ? 1e6 * sum.full_s / sum.full_n : 0;
  r.claim_empty_us = sum.empty_n ? 1e6 * sum.empty_s / sum.empty_n : 0;

  // Exactly once, seen from both sides: every job was handed to one worker once and its
  // completion was accepted, and the table agrees (all done, each on its first attempt).
  auto row = afterglow::testing::query_row(
      db,
      "SELECT COUNT(*), "
      "COALESCE(SUM(CASE WHEN state = 'done' AND attempt = 1 THEN 1 ELSE 0 END), 0) FROM jobs");
  int64_t rows = row->i64(0), done_once = row->i64(1);
  if (r.why.empty()) {
    if (duplicates)
      r.why = std::to_string(duplicates) + " jobs handed out twice";
    else if (sum.lost)
      r.why = std::to_string(sum.lost) + " completions refused";
    else if (static_cast<int64_t>(seen.size()) != n)
      r.why = std::to_string(seen.size()) + " jobs ran";
    else if (rows != n || done_once != n)
      r.why = std::to_string(done_once) + " of " + std::to_string(rows) + " rows done on attempt 1";
  }
  r.exactly_once = r.why.empty();
  return r;
}

// Mean wall time of one claim(batch 1) and one complete() with `depth` due jobs waiting: the
// claim statement orders every due job to pick the first, so its cost follows the backlog.
struct DepthCost {
  double claim_us = 0, complete_us = 0;
};

DepthCost cost_at_depth(Db& db, JobQueue& queue, int depth, int samples) {
  empty_queue(db);
  fill(db, queue, depth + samples, kEnqueueBatch);
  DepthCost c;
  for (int i = 0; i < samples; ++i) {
    auto t0 = Clock::now();
    auto jobs = check(queue.claim("bench-depth", 1, kLease), "claim");
    c.claim_us += 1e6 * seconds_since(t0);
    if (jobs.size() != 1) throw std::runtime_error("claim at depth found no job");
    auto t1 = Clock::now();
    if (!check(queue.complete(jobs[0]), "complete")) throw std::runtime_error("complete refused");
    c.complete_us += 1e6 * seconds_since(t1);
  }
  c.claim_us /= samples;
  c.complete_us /= samples;
  return c;
}

// A backend to run on: the Db and what to do afterwards.
struct Backend {
  std::string label;
  std::string detail;
  std::unique_ptr<Db> db;
};

bool bench_backend(Backend& b, int n) {
  Db& db = *b.db;
  check(afterglow::migrate(db), "migrate");
  JobQueue queue(db, afterglow::SystemClock::instance());

  std::printf("\n%s (%s)\n", b.label.c_str(), b.detail.c_str());
  empty_queue(db);
  int singles = std::max(1, n / 10);
  double single_rate = fill(db, queue, singles, 1);
  empty_queue(db);

  std::printf("%-6s %8s %10s %9s %11s %16s %8s   %s\n", "batch", "workers", "jobs/s", "claim us",
              "complete us", "claim us full/end", "vs 1 w", "exactly once");
  std::vector<double> fills;
  bool all_ok = true;
  for (int batch : {1, 10}) {
    double one_worker = 0;
    for (int workers : {1, 2, 4}) {
      empty_queue(db);
      fills.push_back(fill(db, queue, n, kEnqueueBatch));
      RunResult r = run_workers(db, queue, n, workers, batch);
      if (workers == 1) one_worker = r.jobs_per_s;
      char full_end[40];
      std::snprintf(full_end, sizeof full_end, "%.0f/%.0f", r.claim_full_us, r.claim_empty_us);
      std::printf("%-6d %8d %10.0f %9.0f %11.0f %16s %7.2fx   %s%s%s\n", batch, workers,
                  r.jobs_per_s, r.claim_us, r.complete_us, full_end,
                  one_worker > 0 ? r.jobs_per_s / one_worker : 0.0,
                  r.exactly_once ? "ok" : "FAILED", r.why.empty() ? "" : ": ", r.why.c_str());
      if (r.empty_claims)
        std::printf("  (%lld claims found nothing while others held the last jobs)\n",
                    static_cast<long long>(r.empty_claims));
      std::fflush(stdout);
      all_ok = all_ok && r.exactly_once;
    }
  }
  constexpr int kSamples = 50;
  std::printf("one worker, batch 1, mean of %d claims at each backlog:", kSamples);
  for (int depth : {100, 1000, 5000, 20000}) {
    DepthCost c = cost_at_depth(db, queue, depth, kSamples);
    std::printf("  %d: claim %.0f us, complete %.0f us;", depth, c.claim_us, c.complete_us);
    std::fflush(stdout);
  }
  std::printf("\n");
  std::printf(
      "enqueue: %.0f jobs/s at %d per transaction (median of %zu fills, range %.0f-%.0f); "
      "%.0f jobs/s at 1 per transaction (%d jobs)\n",
      median(fills), kEnqueueBatch, fills.size(), *std::min_element(fills.begin(), fills.end()),
      *std::max_element(fills.begin(), fills.end()), single_rate, singles);
  empty_queue(db);
  return all_ok;
}

std::string with_query_param(const std::string& url, const std::string& param) {
  return url + (url.find('?') == std::string::npos ? "?" : "&") + param;
}

bool run_sqlite(int n) {
  try {
    afterglow::testing::TempDir dir("afterglow-queue-bench");
    Backend sqlite{"SQLite", "WAL, synchronous=FULL, file on " + dir.path(),
                   afterglow::testing::open_test_db("sqlite:" + dir.file("queue.db"))};
    return bench_backend(sqlite, n);
  } catch (const std::exception& e) {
    std::printf("SQLite: FAILED: %s\n", e.what());
    return false;
  }
}

bool run_postgres(const std::string& url, int n) {
  // A schema of our own: nothing the run does touches the database's other tables, and
  // dropping it removes every trace. Connections of the run see only it (search_path).
  std::string schema = "queue_bench_" + afterglow::crypto::random_hex(4);
  std::unique_ptr<Db> admin;
  bool ok = false;
  try {
    admin = afterglow::testing::open_test_db(url);
    afterglow::testing::exec_sql(*admin, "CREATE SCHEMA " + schema);
    Backend pg{"PostgreSQL", "fsync on, schema " + schema + ", pool of 8 connections",
               afterglow::testing::open_test_db(
                   with_query_param(url, "options=-csearch_path%3D" + schema))};
    ok = bench_backend(pg, n);
  } catch (const std::exception& e) {
    std::printf("PostgreSQL: FAILED: %s\n", e.what());
  }
  if (admin) {
    try {
      afterglow::testing::exec_sql(*admin, "DROP SCHEMA " + schema + " CASCADE");
    } catch (const std::exception& e) {
      std::printf("PostgreSQL: could not drop schema %s: %s\n", schema.c_str(), e.what());
    }
  }
  return ok;
}

int usage() {
  std::fprintf(stderr, "usage: queue_bench [--jobs N] [--postgres URL] [--only sqlite|postgres]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  int n = 5000;
  const char* env_pg = std::getenv("BENCH_POSTGRES_URL");
  std::string pg_url = env_pg ? env_pg : "";
  std::string only;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--jobs" && i + 1 < argc)
      n = std::atoi(argv[++i]);
    else if (a == "--postgres" && i + 1 < argc)
      pg_url = argv[++i];
    else if (a == "--only" && i + 1 < argc)
      only = argv[++i];
    else
      return usage();
  }
  if (n < 10 || (!only.empty() && only != "sqlite" && only != "postgres")) return usage();
  if (only == "postgres" && pg_url.empty()) return usage();
  afterglow::log::set_level(afterglow::log::Level::kWarn);  // no "migration applied" chatter

  std::printf(
      "job queue, %u cores, %d no-op jobs per run (enqueued %d per transaction), "
      "claim → complete, each its own transaction; SystemClock, lease %llds\n",
      std::thread::hardware_concurrency(), n, kEnqueueBatch,
      static_cast<long long>(kLease.count()));
  std::printf(
      "columns: claim/complete us = mean wall time of one call; full/end = mean claim "
      "with the backlog above 90%% / below 10%% of the jobs\n");
  bool ok = true;
  if (only != "postgres") ok = run_sqlite(n) && ok;
  if (only != "sqlite") {
    if (pg_url.empty()) {
      std::printf("\nPostgreSQL: skipped (pass --postgres URL or set BENCH_POSTGRES_URL)\n");
    } else {
      ok = run_postgres(pg_url, n) && ok;
    }
  }
  std::printf("\nexactly once: %s\n", ok ? "ok" : "FAILED");
  return ok ? 0 : 1;
}
