// What only the PostgreSQL driver does (plugin/core/postgres_db): placeholder translation, a
// bounded pool per Db, and lost connections. Connections are cut the way an operator or a
// failover does, with pg_terminate_backend from a connection of the test's own; a transaction
// caught by the cut must fail with kUnavailable and leave nothing behind, and the next one must
// find a fresh connection. Tagged [postgres]: these run only in the PostgreSQL pass.
#include "plugin/core/postgres_db.h"

#include <catch2/catch.hpp>

#include <latch>
#include <string>
#include <thread>
#include <vector>

#include "plugin/core/db.h"
#include "tests/support/test_backend.h"
#include "tests/support/test_db.h"

namespace afterglow {
namespace {

using testing::query_int;

// A fresh PostgreSQL database with one table, the Db under test (its own pool) and an admin Db
// (another pool) that cuts the first one's connections.
class PgFixture {
 public:
  explicit PgFixture(int pool_size = 4) {
    DbOptions options;
    options.pool_size = pool_size;
    db_ = database_.open(options);
    admin_ = database_.open();
    REQUIRE(db_->exec_script(
        "CREATE TABLE items (id INTEGER PRIMARY KEY, k TEXT NOT NULL UNIQUE, n BIGINT);"));
  }
  Db& db() { return *db_; }
  Db& admin() { return *admin_; }
  const testing::TestDatabase& database() const { return database_; }

  // Terminates every other connection to the database, waiting until each has exited; returns
  // how many there were.
  int64_t terminate_others() {
    return query_int(*admin_,
                     "WITH victims AS MATERIALIZED (SELECT pid FROM pg_stat_activity "
                     "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                     "AND backend_type = 'client backend') "
                     "SELECT COUNT(*) FROM victims WHERE pg_terminate_backend(pid, 5000)");
  }
  // Terminates one backend and waits until it has exited.
  void terminate(int64_t pid) {
    // pg_backend_pid() is a 32-bit integer; our parameters are 64-bit.
    REQUIRE(query_int(*admin_,
                      "SELECT CASE WHEN pg_terminate_backend(CAST(? AS INTEGER), 5000) "
                      "THEN 1 ELSE 0 END",
                      {pid}) == 1);
  }
  int64_t count() { return query_int(*db_, "SELECT COUNT(*) FROM items"); }
  // Connections to this database other than the admin's own.
  int64_t other_connections() {
    return query_int(*admin_,
                     "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() "
                     "AND pid <> pg_backend_pid() AND backend_type = 'client backend'");
  }

 private:
  testing::TestDatabase database_;  // outlives both Dbs
  std::unique_ptr<Db> db_;
  std::unique_ptr<Db> admin_;
};

int64_t backend_pid(Tx& tx) {
  auto row = tx.query_one("SELECT pg_backend_pid()");
  REQUIRE(row);
  REQUIRE(row->has_value());
  return (*row)->i64(0);
}

// Opens `n` pooled connections at once: n transactions that all wait until all n have begun.
void open_connections(Db& db, int n) {
  std::latch all_in(n);
  std::vector<std::thread> threads;
  for (int i = 0; i < n; ++i) {
    threads.emplace_back([&] {
      auto r = db.read([&](Tx& tx) -> Result<void> {
        AG_CHECK(tx.query("SELECT 1"));
        all_in.arrive_and_wait();
        return {};
      });
      CHECK(r);
    });
  }
  for (auto& t : threads) t.join();
}

TEST_CASE("postgres: ? becomes $n outside literals, quoted identifiers and comments", "[placeholders]") {
  CHECK(translate_placeholders("SELECT ? , ?") == "SELECT $1 , $2");
  CHECK(translate_placeholders("SELECT '?', ? -- ?\nWHERE \"a?\" = ?") ==
        "SELECT '?', $1 -- ?\nWHERE \"a?\" = $2");
  CHECK(translate_placeholders("SELECT 'it''s ?', ? /* ? */, ?") ==
        "SELECT 'it''s ?', $1 /* ? */, $2");
  CHECK(translate_placeholders("SELECT \"x\"\"?\", ?") == "SELECT \"x\"\"?\", $1");
  CHECK(translate_placeholders("-- only a comment ?") == "-- only a comment ?");
  CHECK(translate_placeholders("SELECT '?") == "SELECT '?");  // unterminated stays as it is
  std::string many = "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
  CHECK(translate_placeholders(many) == "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)");
}

TEST_CASE("postgres: INTEGER PRIMARY KEY in a script becomes a 64-bit identity", "[postgres]") {
  PgFixture f;
  CHECK(query_int(f.admin(),
                  "SELECT COUNT(*) FROM information_schema.columns WHERE table_name = 'items' "
                  "AND column_name = 'id' AND data_type = 'bigint' AND column_default LIKE "
                  "'nextval(%'") == 1);
  int64_t id = 0;
  REQUIRE(f.db().write([&](Tx& tx) -> Result<void> {
    AG_CHECK(tx.exec("INSERT INTO items (id, k) VALUES (?, 'big')", {int64_t{1} << 40}));
    id = AG_TRY(tx.query_one("SELECT id FROM items WHERE k = 'big'"))->i64(0);
    return {};
  }));
  CHECK(id == int64_t{1} << 40);
}

TEST_CASE("postgres: a pool never holds more connections than its size", "[postgres]") {
  PgFixture f(2);
  std::vector<std::thread> threads;
  std::vector<int> failures(8, 0);
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20; ++i) {
        auto r = f.db().write([&](Tx& tx) -> Result<void> {
          AG_CHECK(tx.exec("INSERT INTO items (k, n) VALUES (?, ?)",
                           {"t" + std::to_string(t) + "-" + std::to_string(i), int64_t{i}}));
          return {};
        });
        if (!r) ++failures[t];
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(failures == std::vector<int>(8, 0));
  CHECK(f.count() == 160);
  CHECK(f.other_connections() <= 2);
}

TEST_CASE("postgres: after every pooled connection is terminated the next transaction reconnects "
          "and succeeds",
          "[postgres]") {
  PgFixture f(4);
  open_connections(f.db(), 4);
  int64_t old_pid = 0;
  REQUIRE(f.db().read([&](Tx& tx) -> Result<void> {
    old_pid = backend_pid(tx);
    return {};
  }));
  REQUIRE(f.terminate_others() == 4);

  // Every idle connection in the pool is now dead; the transaction must not be the one to notice.
  int64_t new_pid = 0;
  auto r = f.db().write([&](Tx& tx) -> Result<void> {
    new_pid = backend_pid(tx);
    AG_CHECK(tx.exec("INSERT INTO items (k) VALUES ('after-cut')"));
    return {};
  });
  REQUIRE(r);
  CHECK(new_pid != old_pid);
  CHECK(f.count() == 1);
  // A read after the cut works as well, and the pool is back in shape for concurrent use.
  open_connections(f.db(), 4);
}

TEST_CASE("postgres: a transaction whose connection is cut between two statements fails with "
          "kUnavailable and applies neither",
          "[postgres]") {
  PgFixture f;
  int statements_run = 0;
  auto r = f.db().write([&](Tx& tx) -> Result<void> {
    AG_CHECK(tx.exec("INSERT INTO items (k) VALUES ('first')"));
    ++statements_run;
    f.terminate(backend_pid(tx));
    AG_CHECK(tx.exec("INSERT INTO items (k) VALUES ('second')"));
    ++statements_run;
    return {};
  });
  REQUIRE_FALSE(r);
  CHECK(statements_run == 1);
  CHECK(r.error().code == ErrorCode::kUnavailable);
  CHECK(f.count() == 0);
  // The broken connection left the pool: the next transaction runs normally.
  REQUIRE(f.db().write([&](Tx& tx) -> Result<void> {
    AG_CHECK(tx.exec("INSERT INTO items (k) VALUES ('retry')"));
    return {};
  }));
  CHECK(f.count() == 1);
}

TEST_CASE("postgres: a callback that ignores the failed statement after a cut still gets "
          "kUnavailable and nothing is committed",
          "[postgres]") {
  PgFixture f;
  auto r = f.db().write([&](Tx& tx) -> Result<void> {
    AG_CHECK(tx.exec("INSERT INTO items (k) VALUES ('first')"));
    f.terminate(backend_pid(tx));
    auto lost = tx.exec("INSERT INTO items (k) VALUES ('second')");
    CHECK_FALSE(lost);
    return {};  // careless code: the commit must still fail
  });
  REQUIRE_FALSE(r);
  CHECK(r.error().code == ErrorCode::kUnavailable);
  CHECK(f.count() == 0);
}

TEST_CASE("postgres: a callback that ignores a failed statement cannot commit the statements "
          "before it",
          "[postgres]") {
  PgFixture f;
  auto r = f.db().write([&](Tx& tx) -> Result<void> {
    AG_CHECK(tx.exec("INSERT INTO items (k) VALUES ('first')"));
    auto bad = tx.exec("INSERT INTO items (k) VALUES ('first')");  // unique violation
    CHECK_FALSE(bad);
    return {};  // careless code: PostgreSQL has aborted the transaction, the commit must fail
  });
  REQUIRE_FALSE(r);
  CHECK(f.count() == 0);
  REQUIRE(f.db().write([&](Tx& tx) -> Result<void> {
    AG_CHECK(tx.exec("INSERT INTO items (k) VALUES ('first')"));
    return {};
  }));
  CHECK(f.count() == 1);
}

TEST_CASE("postgres: a listener whose connection is cut listens again and gets the next "
          "notification",
          "[postgres]") {
  PgFixture f;
  auto listener = f.db().listen("jobs_test");
  REQUIRE(listener);
  auto notify = [&] {
    REQUIRE(f.db().write([&](Tx& tx) { return tx.notify("jobs_test"); }));
  };
  CHECK_FALSE(listener->wait(0));  // connects and listens; nothing sent yet
  notify();
  CHECK(listener->wait(5000));

  REQUIRE(f.terminate_others() >= 1);
  // Without waiting: the calls that read the server's goodbye, see the socket closed and open a
  // new connection. Notifications sent meanwhile are lost (workers poll as well), so each of
  // these says nothing arrived.
  for (int i = 0; i < 4; ++i) CHECK_FALSE(listener->wait(0));
  notify();
  CHECK(listener->wait(5000));
}

TEST_CASE("postgres: open_database reports an unreachable server as kUnavailable", "[postgres]") {
  auto db = open_database("postgres:///x?host=/nonexistent-afterglow-socket-dir&user=postgres");
  REQUIRE_FALSE(db);
  CHECK(db.error().code == ErrorCode::kUnavailable);
  CHECK_THAT(db.error().message, Catch::Contains("PostgreSQL"));
}

}  // namespace
}  // namespace afterglow
