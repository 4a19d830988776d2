// Which database the tests run against, and a fresh database per test.
//
// scripts/test.sh starts a throwaway PostgreSQL server and exports AFTERGLOW_TEST_POSTGRES_URL
// (a libpq URI of its maintenance database). ctest runs the database tests once as they are
// (SQLite) and once more with AFTERGLOW_TEST_BACKEND=postgres (see tests/CMakeLists.txt).
#pragma once

#include <memory>
#include <string>

#include "plugin/core/db.h"

namespace afterglow::testing {

// True when AFTERGLOW_TEST_BACKEND=postgres.
bool testing_postgres();

// A new, empty database on the test PostgreSQL server, dropped (connections forced off) when
// this object dies. Throws std::runtime_error naming AFTERGLOW_TEST_POSTGRES_URL when the
// server is not configured or not reachable: a PostgreSQL run never silently falls back.
class TestPostgresDatabase {
 public:
  TestPostgresDatabase();
  ~TestPostgresDatabase();
  TestPostgresDatabase(const TestPostgresDatabase&) = delete;
  TestPostgresDatabase& operator=(const TestPostgresDatabase&) = delete;

  // DATABASE_URL for the new database.
  const std::string& url() const { return url_; }
  const std::string& name() const { return name_; }

 private:
  std::string admin_url_;
  std::string name_;
  std::string url_;
};

class TempDir;

// A fresh, empty database on the backend under test: a SQLite file in a temporary directory of
// its own, or (testing_postgres()) a new TestPostgresDatabase. Both go when this object dies, so
// close every Db opened on it first (declare it before them). Throws std::runtime_error when the
// database cannot be made.
class TestDatabase {
 public:
  TestDatabase();
  ~TestDatabase();
  TestDatabase(const TestDatabase&) = delete;
  TestDatabase& operator=(const TestDatabase&) = delete;

  // DATABASE_URL: "sqlite:/tmp/…/test.db" or "postgres:///t_…?host=…".
  const std::string& url() const { return url_; }
  bool postgres() const { return postgres_ != nullptr; }
  // A new Db (its own pool) on url(); throws std::runtime_error on failure.
  std::unique_ptr<Db> open(const DbOptions& options = {}) const;

 private:
  std::unique_ptr<TempDir> dir_;
  std::unique_ptr<TestPostgresDatabase> postgres_;
  std::string url_;
};

// `url` with its database name replaced by `name` (postgres:///OLD?… → postgres:///NAME?…).
std::string with_database_name(const std::string& url, const std::string& name);

}  // namespace afterglow::testing
