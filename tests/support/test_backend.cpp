#include "tests/support/test_backend.h"

#include <libpq-fe.h>

#include <cstdlib>
#include <stdexcept>

#include "plugin/core/crypto.h"
#include "tests/support/temp_dir.h"

namespace afterglow::testing {
namespace {

void admin_exec(const std::string& url, const std::string& sql) {
  PGconn* conn = PQconnectdb(url.c_str());
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string msg = PQerrorMessage(conn);
    PQfinish(conn);
    throw std::runtime_error("cannot reach the test PostgreSQL (AFTERGLOW_TEST_POSTGRES_URL): " +
                             msg);
  }
  PQsetNoticeProcessor(conn, [](void*, const char*) {}, nullptr);
  // CREATE/DROP DATABASE cannot run inside a transaction block, hence plain libpq here.
  PGresult* r = PQexec(conn, sql.c_str());
  bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
  std::string msg = ok ? "" : PQresultErrorMessage(r);
  PQclear(r);
  PQfinish(conn);
  if (!ok) throw std::runtime_error(sql + ": " + msg);
}

}  // namespace

bool testing_postgres() {
  const char* b = std::getenv("AFTERGLOW_TEST_BACKEND");
  return b && std::string(b) == "postgres";
}

std::string with_database_name(const std::string& url, const std::string& name) {
  size_t query = url.find('?');
  std::string head = url.substr(0, query);
  std::string tail = query == std::string::npos ? "" : url.substr(query);
  size_t scheme = head.find("://");
  size_t slash = head.find('/', scheme == std::string::npos ? 0 : scheme + 3);
  if (slash == std::string::npos) return head + "/" + name + tail;
  return head.substr(0, slash + 1) + name + tail;
}

TestPostgresDatabase::TestPostgresDatabase() {
  const char* url = std::getenv("AFTERGLOW_TEST_POSTGRES_URL");
  if (!url || !*url) {
    throw std::runtime_error(
        "AFTERGLOW_TEST_POSTGRES_URL is not set: run the tests with scripts/test.sh, which "
        "starts a throwaway PostgreSQL server");
  }
  admin_url_ = url;
  name_ = "t_" + crypto::random_hex(8);
  admin_exec(admin_url_, "CREATE DATABASE " + name_);
  url_ = with_database_name(admin_url_, name_);
}

TestPostgresDatabase::~TestPostgresDatabase() {
  try {
    admin_exec(admin_url_, "DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
  } catch (...) {
    // A leftover database in a throwaway server is harmless; never throw from a destructor.
  }
}

TestDatabase::TestDatabase() {
  if (testing_postgres()) {
    postgres_ = std::make_unique<TestPostgresDatabase>();
    url_ = postgres_->url();
  } else {
    dir_ = std::make_unique<TempDir>("afterglow-db");
    url_ = "sqlite:" + dir_->file("test.db");
  }
}

TestDatabase::~TestDatabase() = default;

std::unique_ptr<Db> TestDatabase::open(const DbOptions& options) const {
  auto db = open_database(url_, options);
  if (!db) throw std::runtime_error("open " + url_ + ": " + db.error().message);
  return std::move(*db);
}

}  // namespace afterglow::testing
