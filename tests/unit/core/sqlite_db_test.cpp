// What only the SQLite driver does (plugin/core/sqlite_db): it refuses in-memory databases, keeps
// text byte for byte, checks the parameter count itself, and drops the row-lock clauses SQLite
// has no use for. The Db contract both drivers keep is tested in db_test.cpp.
#include "plugin/core/db.h"

#include <catch2/catch.hpp>

#include <stdlib.h>

#include <cstdint>
#include <filesystem>
#include <string>

namespace afterglow {
namespace {

// An empty SQLite database (no migrations) in a fresh temporary directory, with one table.
class TempDb {
 public:
  TempDb() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "ag-sqlite-XXXXXX").string();
    REQUIRE(mkdtemp(tmpl.data()) != nullptr);
    dir_ = tmpl;
    auto db = open_database("sqlite:" + (dir_ / "test.db").string());
    REQUIRE(db);
    db_ = std::move(*db);
    REQUIRE(db_->exec_script(
        "CREATE TABLE items (id INTEGER PRIMARY KEY, k TEXT NOT NULL UNIQUE, n BIGINT, "
        "f DOUBLE PRECISION, t TEXT);"));
  }
  ~TempDb() {
    db_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  Db& db() { return *db_; }

 private:
  std::filesystem::path dir_;
  std::unique_ptr<Db> db_;
};

Result<void> insert(Tx& tx, const std::string& key, DbValue n = std::monostate{}) {
  AG_CHECK(tx.exec("INSERT INTO items (k, n) VALUES (?, ?)", {key, n}));
  return {};
}

TEST_CASE("sqlite: text with NUL bytes and invalid UTF-8 round-trips byte for byte", "[sqlite]") {
  TempDb t;
  const std::string binaryish("a\0b\xff", 4);
  REQUIRE(t.db().write([&](Tx& tx) -> Result<void> {
    AG_CHECK(tx.exec("INSERT INTO items (k, n, f, t) VALUES ('x', ?, ?, ?)",
                     {std::monostate{}, 0.1, binaryish}));
    return {};
  }));
  REQUIRE(t.db().read([&](Tx& tx) -> Result<void> {
    auto row = AG_TRY(tx.query_one("SELECT n, f, t FROM items WHERE k = 'x'"));
    REQUIRE(row);
    CHECK(row->is_null(0));
    CHECK_FALSE(row->opt_i64(0).has_value());
    CHECK(row->f64(1) == 0.1);
    CHECK(row->text(2) == binaryish);
    auto none = AG_TRY(tx.query_one("SELECT n FROM items WHERE k = 'missing'"));
    CHECK_FALSE(none.has_value());
    return {};
  }));
}

TEST_CASE("sqlite: a parameter count mismatch is refused before the statement runs",
          "[sqlite]") {
  TempDb t;
  auto params = t.db().read([&](Tx& tx) -> Result<void> {
    AG_CHECK(tx.query("SELECT * FROM items WHERE k = ?", {}));
    return {};
  });
  REQUIRE_FALSE(params);
  CHECK_THAT(params.error().message, Catch::Contains("parameter count"));
}

TEST_CASE("sqlite: FOR UPDATE and FOR UPDATE SKIP LOCKED are dropped, not refused",
          "[sqlite]") {
  TempDb t;
  REQUIRE(t.db().write([&](Tx& tx) -> Result<void> {
    AG_CHECK(insert(tx, "a", int64_t{1}));
    AG_CHECK(insert(tx, "b", int64_t{2}));
    return {};
  }));
  REQUIRE(t.db().write([&](Tx& tx) -> Result<void> {
    auto locked = AG_TRY(tx.query("SELECT k FROM items WHERE n = ? FOR UPDATE", {int64_t{1}}));
    REQUIRE(locked.size() == 1);
    CHECK(locked[0].text(0) == "a");
    auto claimed = AG_TRY(tx.query(
        "UPDATE items SET n = n + 10 WHERE id IN (SELECT id FROM items ORDER BY id LIMIT 1 "
        "FOR UPDATE SKIP LOCKED) RETURNING k, n"));
    REQUIRE(claimed.size() == 1);
    CHECK(claimed[0].text(0) == "a");
    CHECK(claimed[0].i64(1) == 11);
    return {};
  }));
}

TEST_CASE("sqlite: open_database refuses in-memory and unknown URLs", "[sqlite]") {
  CHECK_FALSE(open_database("sqlite::memory:"));
  CHECK_FALSE(open_database("sqlite:"));
  auto unknown = open_database("mysql://localhost/x");
  REQUIRE_FALSE(unknown);
  CHECK_THAT(unknown.error().message, Catch::Contains("DATABASE_URL"));
  auto missing_dir = open_database("sqlite:/nonexistent-dir-for-afterglow/x.db");
  REQUIRE_FALSE(missing_dir);
  CHECK(missing_dir.error().code == ErrorCode::kUnavailable);
}

}  // namespace
}  // namespace afterglow
