// plugin/core/migrations on the backend under test: a fresh database gets every embedded
// migration once, a second run applies nothing, and processes that start together (several
// `serve` and `worker` processes of a scale-out deployment) all come up with the schema applied
// once.
#include "plugin/core/migrations.h"

#include <catch2/catch.hpp>

#include <latch>
#include <thread>
#include <vector>

#include "tests/support/test_backend.h"
#include "tests/support/test_db.h"

namespace afterglow {
namespace {

using testing::query_int;

TEST_CASE("migrations: a fresh database gets every migration once and a second run applies none",
          "[migrations][db]") {
  testing::TestDatabase database;
  auto db = database.open();
  auto first = migrate(*db);
  REQUIRE(first);
  CHECK(*first == static_cast<int>(embedded_migrations().size()));
  auto second = migrate(*db);
  REQUIRE(second);
  CHECK(*second == 0);
  CHECK(migrations_current(*db).value_or(false));
  CHECK(query_int(*db, "SELECT COUNT(*) FROM schema_migrations") ==
        static_cast<int64_t>(embedded_migrations().size()));
}

TEST_CASE("migrations: processes migrating one fresh database at once all succeed and apply "
          "each migration once",
          "[migrations][db]") {
  testing::TestDatabase database;
  constexpr int kProcesses = 4;
  std::vector<std::unique_ptr<Db>> dbs;  // one pool each, as separate processes have
  for (int i = 0; i < kProcesses; ++i) dbs.push_back(database.open());

  std::latch start(kProcesses);
  std::vector<Result<int>> results(kProcesses, 0);
  std::vector<std::thread> threads;
  for (int i = 0; i < kProcesses; ++i) {
    threads.emplace_back([&, i] {
      start.arrive_and_wait();
      results[i] = migrate(*dbs[i]);
    });
  }
  for (auto& t : threads) t.join();

  int applied = 0;
  for (int i = 0; i < kProcesses; ++i) {
    INFO("process " << i << ": " << (results[i] ? "ok" : results[i].error().message));
    REQUIRE(results[i]);
    applied += *results[i];
  }
  CHECK(applied == static_cast<int>(embedded_migrations().size()));
  CHECK(query_int(*dbs[0], "SELECT COUNT(*) FROM schema_migrations") ==
        static_cast<int64_t>(embedded_migrations().size()));
  CHECK(migrations_current(*dbs[0]).value_or(false));
}

}  // namespace
}  // namespace afterglow
