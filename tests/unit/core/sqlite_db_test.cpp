// plugin/core/sqlite_db through the Db interface: transactions commit or roll back as a whole,
// exceptions propagate after a rollback, constraint errors map to kConflict, values round-trip.
#include "plugin/core/db.h"

#include <catch2/catch.hpp>

#include <stdlib.h>

#include <cstdint>
#include <filesystem>
#include <limits>
#include <stdexcept>
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
  std::filesystem::path dir() const { return dir_; }

  int64_t count() {
    int64_t n = -1;
    REQUIRE(db_->read([&](Tx& tx) -> Result<void> {
      n = AG_TRY(tx.query_one("SELECT COUNT(*) FROM items"))->i64(0);
      return {};
    }));
    return n;
  }

 private:
  std::filesystem::path dir_;
  std::unique_ptr<Db> db_;
};

Result<void> insert(Tx& tx, const std::string& key, DbValue n = std::monostate{}) {
  AG_CHECK(tx.exec("INSERT INTO items (k, n) VALUES (?, ?)", {key, n}));
  return {};
}

TEST_CASE("sqlite: a successful callback commits every statement", "[sqlite]") {
  TempDb t;
  REQUIRE(t.db().write([&](Tx& tx) -> Result<void> {
    AG_CHECK(insert(tx, "a"));
    AG_CHECK(insert(tx, "b"));
    auto changed = AG_TRY(tx.exec("UPDATE items SET n = 5"));
    if (changed != 2) return fail(ErrorCode::kInternal, "expected two rows changed");
    return {};
  }));
  CHECK(t.count() == 2);
  CHECK(t.db().dialect() == "sqlite");
}

TEST_CASE("sqlite: a callback error rolls back the whole transaction and is returned", "[sqlite]") {
  TempDb t;
  auto r = t.db().write([&](Tx& tx) -> Result<void> {
    AG_CHECK(insert(tx, "a"));
    AG_CHECK(insert(tx, "b"));
    return fail(ErrorCode::kForbidden, "not allowed after all");
  });
  REQUIRE_FALSE(r);
  CHECK(r.error().code == ErrorCode::kForbidden);
  CHECK(r.error().message == "not allowed after all");
  CHECK(t.count() == 0);
}

TEST_CASE("sqlite: a thrown exception rolls back and propagates to the caller", "[sqlite]") {
  TempDb t;
  CHECK_THROWS_WITH(t.db().write([&](Tx& tx) -> Result<void> {
    AG_CHECK(insert(tx, "a"));
    throw std::runtime_error("handler bug");
  }),
                    "handler bug");
  CHECK(t.count() == 0);
  // The database is still usable, and the key the aborted write used is free.
  REQUIRE(t.db().write([&](Tx& tx) { return insert(tx, "a"); }));
  CHECK(t.count() == 1);
}

TEST_CASE("sqlite: many thrown exceptions do not use up the connection pool", "[sqlite]") {
  TempDb t;
  // More throws than the pool holds connections: each must give its connection back.
  for (int i = 0; i < 40; ++i) {
    CHECK_THROWS_AS(t.db().write([&](Tx&) -> Result<void> { throw std::logic_error("bug"); }),
                    std::logic_error);
    CHECK_THROWS_AS(t.db().read([&](Tx&) -> Result<void> { throw std::logic_error("bug"); }),
                    std::logic_error);
  }
  REQUIRE(t.db().write([&](Tx& tx) { return insert(tx, "after"); }));
  CHECK(t.count() == 1);
}

TEST_CASE("sqlite: a unique violation maps to kConflict and rolls back", "[sqlite]") {
  TempDb t;
  REQUIRE(t.db().write([&](Tx& tx) { return insert(tx, "dup"); }));
  auto r = t.db().write([&](Tx& tx) -> Result<void> {
    AG_CHECK(insert(tx, "other"));
    return insert(tx, "dup");
  });
  REQUIRE_FALSE(r);
  CHECK(r.error().code == ErrorCode::kConflict);
  CHECK_THAT(r.error().message, Catch::Contains("UNIQUE"));
  CHECK(t.count() == 1);  // "other" went with the rollback

  // Primary keys are unique constraints too.
  auto pk = t.db().write([&](Tx& tx) -> Result<void> {
    AG_CHECK(tx.exec("INSERT INTO items (id, k) VALUES (1000, 'x')"));
    AG_CHECK(tx.exec("INSERT INTO items (id, k) VALUES (1000, 'y')"));
    return {};
  });
  REQUIRE_FALSE(pk);
  CHECK(pk.error().code == ErrorCode::kConflict);
}

TEST_CASE("sqlite: int64 values at the edges of the range round-trip exactly", "[sqlite]") {
  TempDb t;
  const int64_t values[] = {std::numeric_limits<int64_t>::max(),
                            std::numeric_limits<int64_t>::max() - 1,
                            std::numeric_limits<int64_t>::min(),
                            std::numeric_limits<int64_t>::min() + 1,
                            (int64_t{1} << 53) + 1,  // not representable as a double
                            -((int64_t{1} << 53) + 1),
                            820982911946154508,      // a Shopify id
                            0};
  REQUIRE(t.db().write([&](Tx& tx) -> Result<void> {
    int i = 0;
    for (int64_t v : values) AG_CHECK(insert(tx, "v" + std::to_string(i++), v));
    return {};
  }));
  REQUIRE(t.db().read([&](Tx& tx) -> Result<void> {
    int i = 0;
    for (int64_t v : values) {
      auto row = AG_TRY(tx.query_one("SELECT n FROM items WHERE k = ?",
                                     {"v" + std::to_string(i++)}));
      REQUIRE(row);
      INFO(v);
      CHECK(std::holds_alternative<int64_t>(row->at(0)));
      CHECK(row->i64(0) == v);
      CHECK(row->opt_i64(0) == v);
    }
    // Bound as a parameter and compared inside SQL, the value stays exact too.
    auto max_row = AG_TRY(tx.query_one("SELECT k FROM items WHERE n = ?",
                                       {std::numeric_limits<int64_t>::max()}));
    REQUIRE(max_row);
    CHECK(max_row->text(0) == "v0");
    return {};
  }));
}

TEST_CASE("sqlite: NULL, doubles and text with NUL bytes round-trip", "[sqlite]") {
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

TEST_CASE("sqlite: a statement error is returned, not thrown, and names the problem", "[sqlite]") {
  TempDb t;
  auto r = t.db().read([&](Tx& tx) -> Result<void> {
    AG_CHECK(tx.query("SELECT nope FROM items"));
    return {};
  });
  REQUIRE_FALSE(r);
  CHECK_THAT(r.error().message, Catch::Contains("nope"));
  auto params = t.db().read([&](Tx& tx) -> Result<void> {
    AG_CHECK(tx.query("SELECT * FROM items WHERE k = ?", {}));
    return {};
  });
  REQUIRE_FALSE(params);
  CHECK_THAT(params.error().message, Catch::Contains("parameter count"));
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
