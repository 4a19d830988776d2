// Which database the tests run against, and a fresh PostgreSQL database per test.
//
// scripts/test.sh starts a throwaway PostgreSQL server and exports AFTERGLOW_TEST_POSTGRES_URL
// (a libpq URI of its maintenance database). ctest runs each test executable once as is
// (SQLite) and once with AFTERGLOW_TEST_BACKEND=postgres.
#pragma once

#include <string>

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

// `url` with its database name replaced by `name` (postgres:///OLD?… → postgres:///NAME?…).
std::string with_database_name(const std::string& url, const std::string& name);

}  // namespace afterglow::testing
