// plugin/core/worker_pool: drain() on the calling thread with a ManualClock. Handler outcomes
// decide done / retry / dead; retries become due only when the test moves the clock.
#include "plugin/core/worker_pool.h"

#include <catch2/catch.hpp>

#include <stdexcept>
#include <string>
#include <vector>

#include "plugin/core/db.h"
#include "plugin/core/metrics.h"
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

 private:
  testing::TestDatabase database_;  // outlives db_
  std::unique_ptr<Db> db_;
};

// Everything a pool needs, wired to one temporary database and a clock that moves on request.
struct Fixture {
  Fixture() : clock(kStartMs), queue(db.db(), clock, retry_policy(), 11) {}
  static RetryPolicy retry_policy() {
    RetryPolicy p;
    p.base = 1s;
    p.max = 4s;
    p.jitter = 0.2;
    return p;
  }
  WorkerPool pool() {
    WorkerOptions options;
    options.name = "test";
    options.threads = 1;
    return WorkerPool(queue, handlers, metrics, options);
  }
  int64_t enqueue(const std::string& kind, int max_attempts = 8, std::string payload = "{}") {
    JobSpec s;
    s.kind = kind;
    s.payload = std::move(payload);
    s.max_attempts = max_attempts;
    auto id = queue.enqueue(s);
    REQUIRE(id);
    REQUIRE(id->has_value());
    return **id;
  }
  std::pair<std::string, std::string> state_and_error(int64_t id) {
    std::pair<std::string, std::string> out;
    REQUIRE(db.db().read([&](Tx& tx) -> Result<void> {
      auto r = AG_TRY(tx.query_one("SELECT state, last_error FROM jobs WHERE id = ?", {id}));
      if (r) out = {r->text(0), r->text(1)};
      return {};
    }));
    return out;
  }
  double runs(const std::string& kind, const std::string& outcome) {
    return metrics.counter_value("afterglow_jobs_run_total", {{"kind", kind}, {"outcome", outcome}});
  }

  TempDb db;
  ManualClock clock;
  JobQueue queue;
  JobHandlers handlers;
  Metrics metrics;
};

int drained(WorkerPool& pool) {
  auto n = pool.drain();
  REQUIRE(n);
  return *n;
}

TEST_CASE("worker pool: drain runs every due job once and returns how many ran", "[workers][db]") {
  Fixture f;
  std::vector<std::string> seen;
  f.handlers.add("echo", [&](const Job& job) -> Result<void> {
    seen.push_back(job.payload);
    return {};
  });
  std::vector<int64_t> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(f.enqueue("echo", 8, "{\"i\":" + std::to_string(i) + "}"));
  JobSpec later;
  later.kind = "echo";
  later.payload = "{\"later\":true}";
  later.run_at_ms = kStartMs + 60'000;
  REQUIRE(f.queue.enqueue(later));

  WorkerPool pool = f.pool();
  CHECK(drained(pool) == 5);
  CHECK(seen == std::vector<std::string>{R"({"i":0})", R"({"i":1})", R"({"i":2})", R"({"i":3})",
                                         R"({"i":4})"});
  for (int64_t id : ids) CHECK(f.state_and_error(id).first == "done");
  CHECK(f.runs("echo", "done") == 5);
  CHECK(drained(pool) == 0);  // the future job is not due

  f.clock.advance(60s);
  CHECK(drained(pool) == 1);
  CHECK(seen.back() == R"({"later":true})");
}

TEST_CASE("worker pool: a throwing handler is retried with backoff, then dead", "[workers][db]") {
  Fixture f;
  int calls = 0;
  f.handlers.add("flaky", [&](const Job& job) -> Result<void> {
    ++calls;
    CHECK(job.attempt == calls);
    throw std::runtime_error("provider exploded");
  });
  const int64_t id = f.enqueue("flaky", 3);
  WorkerPool pool = f.pool();

  CHECK(drained(pool) == 1);
  CHECK(f.state_and_error(id).first == "scheduled");
  CHECK(drained(pool) == 0);  // the retry is not due until the clock moves
  CHECK(calls == 1);

  f.clock.advance(5s);  // beyond the longest possible delay (max 4 s + 20 %)
  CHECK(drained(pool) == 1);
  CHECK(f.state_and_error(id).first == "scheduled");
  f.clock.advance(5s);
  CHECK(drained(pool) == 1);
  CHECK(calls == 3);

  auto [state, error] = f.state_and_error(id);
  CHECK(state == "dead");
  CHECK_THAT(error, Catch::Contains("provider exploded"));
  f.clock.advance(1h);
  CHECK(drained(pool) == 0);
  CHECK(calls == 3);
  CHECK(f.runs("flaky", "retry") == 2);
  CHECK(f.runs("flaky", "dead") == 1);
}

TEST_CASE("worker pool: an error result other than invalid argument is retried", "[workers][db]") {
  Fixture f;
  int calls = 0;
  f.handlers.add("later", [&](const Job&) -> Result<void> {
    if (++calls == 1) return fail(ErrorCode::kUnavailable, "smtp down");
    return {};
  });
  const int64_t id = f.enqueue("later", 3);
  WorkerPool pool = f.pool();
  CHECK(drained(pool) == 1);
  CHECK(f.state_and_error(id) == std::pair<std::string, std::string>{"scheduled", "smtp down"});
  f.clock.advance(5s);
  CHECK(drained(pool) == 1);
  CHECK(f.state_and_error(id).first == "done");
  CHECK(calls == 2);
}

TEST_CASE("worker pool: a kInvalidArgument result goes dead at once", "[workers][db]") {
  Fixture f;
  int calls = 0;
  f.handlers.add("strict", [&](const Job&) -> Result<void> {
    ++calls;
    return fail(ErrorCode::kInvalidArgument, "payload has no order id");
  });
  const int64_t id = f.enqueue("strict", 8);
  WorkerPool pool = f.pool();
  CHECK(drained(pool) == 1);
  CHECK(f.state_and_error(id) ==
        std::pair<std::string, std::string>{"dead", "payload has no order id"});
  f.clock.advance(1h);
  CHECK(drained(pool) == 0);
  CHECK(calls == 1);
  CHECK(f.runs("strict", "dead") == 1);
}

TEST_CASE("worker pool: a job of an unknown kind goes dead at once", "[workers][db]") {
  Fixture f;
  const int64_t id = f.enqueue("nobody.handles.this", 8);
  WorkerPool pool = f.pool();
  CHECK(drained(pool) == 1);
  auto [state, error] = f.state_and_error(id);
  CHECK(state == "dead");
  CHECK_THAT(error, Catch::Contains("no handler") && Catch::Contains("nobody.handles.this"));
  f.clock.advance(1h);
  CHECK(drained(pool) == 0);
}

TEST_CASE("worker pool: the job-duration histogram counts every run", "[workers][db]") {
  Fixture f;
  f.handlers.add("ok", [](const Job&) -> Result<void> { return {}; });
  f.enqueue("ok");
  f.enqueue("ok");
  WorkerPool pool = f.pool();
  CHECK(drained(pool) == 2);
  CHECK_THAT(f.metrics.render(),
             Catch::Contains("afterglow_job_run_seconds_count{kind=\"ok\"} 2\n"));
}

}  // namespace
}  // namespace afterglow
