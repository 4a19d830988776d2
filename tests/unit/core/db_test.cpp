// The Db contract (plugin/core/db.h) on the backend under test: SQLite, and PostgreSQL in that
// pass. Transactions commit or roll back as a whole, exceptions propagate after a rollback,
// uniqueness errors map to kConflict, values round-trip exactly, and the one SQL dialect
// (`?` placeholders, ON CONFLICT, RETURNING, FOR UPDATE) means the same on both.
// What only one driver does is tested in sqlite_db_test.cpp and postgres_db_test.cpp.
#include "plugin/core/db.h"

#include <catch2/catch.hpp>

#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>

#include "tests/support/test_backend.h"

namespace afterglow {
namespace {

// An empty database on the backend under test (no migrations), with one table.
class TempDb {
 public:
  TempDb() : db_(database_.open()) {
    REQUIRE(db_->exec_script(
        "CREATE TABLE items (id INTEGER PRIMARY KEY, k TEXT NOT NULL UNIQUE, n BIGINT, "
        "f DOUBLE PRECISION, t TEXT);"));
  }
  Db& db() { return *db_; }
  bool postgres() const { return database_.postgres(); }

  int64_t count() {
    int64_t n = -1;
    REQUIRE(db_->read([&](Tx& tx) -> Result<void> {
      n = AG_TRY(tx.query_one("SELECT COUNT(*) FROM items"))->i64(0);
      return {};
    }));
    return n;
  }

 private:
  testing::TestDatabase database_;  // outlives db_
  std::unique_ptr<Db> db_;
};

Result<void> insert(Tx& tx, const std::string& key, DbValue n = std::monostate{}) {
  AG_CHECK(tx.exec("INSERT INTO items (k, n) VALUES (?, ?)", {key, n}));
  return {};
}

TEST_CASE("db: a successful callback commits every statement", "[db]") {
  TempDb t;
  REQUIRE(t.db().write([&](Tx& tx) -> Result<void> {
    AG_CHECK(insert(tx, "a"));
    AG_CHECK(insert(tx, "b"));
    auto changed = AG_TRY(tx.exec("UPDATE items SET n = 5"));
    if (changed != 2) return fail(ErrorCode::kInternal, "expected two rows changed");
    return {};
  }));
  CHECK(t.count() == 2);
  CHECK(t.db().dialect() == (t.postgres() ? "postgres" : "sqlite"));
}

TEST_CASE("db: a callback error rolls back the whole transaction and is returned", "[db]") {
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

TEST_CASE("db: a thrown exception rolls back and propagates to the caller", "[db]") {
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

TEST_CASE("db: many thrown exceptions do not use up the connection pool", "[db]") {
  TempDb t;
  // More throws than either pool holds connections: each must give its connection back.
  for (int i = 0; i < 40; ++i) {
    CHECK_THROWS_AS(t.db().write([&](Tx&) -> Result<void> { throw std::logic_error("bug"); }),
                    std::logic_error);
    CHECK_THROWS_AS(t.db().read([&](Tx&) -> Result<void> { throw std::logic_error("bug"); }),
                    std::logic_error);
  }
  REQUIRE(t.db().write([&](Tx& tx) { return insert(tx, "after"); }));
  CHECK(t.count() == 1);
}

TEST_CASE("db: many failed statements do not use up the connection pool or leak into the next "
          "transaction",
          "[db]") {
  TempDb t;
  for (int i = 0; i < 40; ++i) {
    auto r = t.db().write([&](Tx& tx) -> Result<void> {
      AG_CHECK(insert(tx, "kept-out-" + std::to_string(i)));
      AG_CHECK(tx.exec("INSERT INTO nowhere VALUES (1)"));
      return {};
    });
    REQUIRE_FALSE(r);
  }
  // A fresh transaction starts clean: no aborted state, no rows of the failed ones.
  REQUIRE(t.db().write([&](Tx& tx) { return insert(tx, "after"); }));
  CHECK(t.count() == 1);
}

TEST_CASE("db: a unique violation maps to kConflict and rolls back", "[db]") {
  TempDb t;
  REQUIRE(t.db().write([&](Tx& tx) { return insert(tx, "dup"); }));
  auto r = t.db().write([&](Tx& tx) -> Result<void> {
    AG_CHECK(insert(tx, "other"));
    return insert(tx, "dup");
  });
  REQUIRE_FALSE(r);
  CHECK(r.error().code == ErrorCode::kConflict);
  CHECK_THAT(r.error().message, Catch::Contains("unique", Catch::CaseSensitive::No));
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

TEST_CASE("db: ON CONFLICT DO NOTHING RETURNING gives a row for a new key and none for a taken one",
          "[db]") {
  TempDb t;
  const char* sql = "INSERT INTO items (k, n) VALUES (?, ?) ON CONFLICT (k) DO NOTHING RETURNING id";
  int64_t first = 0;
  REQUIRE(t.db().write([&](Tx& tx) -> Result<void> {
    auto row = AG_TRY(tx.query_one(sql, {std::string("key"), int64_t{1}}));
    REQUIRE(row);
    first = row->i64(0);
    // The same key again, in the same transaction: no row, no error, and the transaction goes on.
    auto again = AG_TRY(tx.query_one(sql, {std::string("key"), int64_t{2}}));
    CHECK_FALSE(again.has_value());
    AG_CHECK(insert(tx, "next"));
    return {};
  }));
  CHECK(first > 0);
  CHECK(t.count() == 2);
  REQUIRE(t.db().read([&](Tx& tx) -> Result<void> {
    CHECK(AG_TRY(tx.query_one("SELECT n FROM items WHERE k = 'key'"))->i64(0) == 1);
    return {};
  }));
}

TEST_CASE("db: int64 values at the edges of the range round-trip exactly", "[db]") {
  TempDb t;
  const int64_t values[] = {std::numeric_limits<int64_t>::max(),
                            std::numeric_limits<int64_t>::max() - 1,
                            std::numeric_limits<int64_t>::min(),
                            std::numeric_limits<int64_t>::min() + 1,
                            (int64_t{1} << 53) + 1,  // not representable as a double
                            -((int64_t{1} << 53) + 1),
                            int64_t{1} << 31,        // past a 32-bit integer
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
    auto near_max = AG_TRY(tx.query_one("SELECT k FROM items WHERE n = ?",
                                        {std::numeric_limits<int64_t>::max() - 1}));
    REQUIRE(near_max);
    CHECK(near_max->text(0) == "v1");
    // Arithmetic on a parameter is 64-bit, not 32-bit.
    auto sum = AG_TRY(tx.query_one("SELECT n + ? FROM items WHERE k = 'v6'", {int64_t{1} << 31}));
    REQUIRE(sum);
    CHECK(sum->i64(0) == int64_t{1} << 32);
    return {};
  }));
}

TEST_CASE("db: NULL, doubles and UTF-8 text round-trip", "[db]") {
  TempDb t;
  const std::string text = "Jonquil Doevsky \xc3\xa9\xe2\x82\xac 'quoted' ? \"x\"";
  REQUIRE(t.db().write([&](Tx& tx) -> Result<void> {
    AG_CHECK(tx.exec("INSERT INTO items (k, n, f, t) VALUES ('x', ?, ?, ?)",
                     {std::monostate{}, 0.1, text}));
    AG_CHECK(tx.exec("INSERT INTO items (k, n, f, t) VALUES ('y', ?, ?, ?)",
                     {int64_t{7}, std::monostate{}, std::monostate{}}));
    return {};
  }));
  REQUIRE(t.db().read([&](Tx& tx) -> Result<void> {
    auto row = AG_TRY(tx.query_one("SELECT n, f, t FROM items WHERE k = 'x'"));
    REQUIRE(row);
    CHECK(row->is_null(0));
    CHECK_FALSE(row->opt_i64(0).has_value());
    CHECK(row->f64(1) == 0.1);
    CHECK(row->text(2) == text);
    auto y = AG_TRY(tx.query_one("SELECT n, f, t FROM items WHERE k = 'y'"));
    REQUIRE(y);
    CHECK(y->i64(0) == 7);
    CHECK(y->is_null(1));
    CHECK_FALSE(y->opt_text(2).has_value());
    auto none = AG_TRY(tx.query_one("SELECT n FROM items WHERE k = 'missing'"));
    CHECK_FALSE(none.has_value());
    // NULL bound for a comparison matches nothing, as in SQL everywhere.
    auto null_match = AG_TRY(tx.query("SELECT k FROM items WHERE n = ?", {std::monostate{}}));
    CHECK(null_match.empty());
    return {};
  }));
}

TEST_CASE("db: COUNT, SUM and comparisons read back as integers", "[db]") {
  TempDb t;
  REQUIRE(t.db().write([&](Tx& tx) -> Result<void> {
    AG_CHECK(insert(tx, "a", int64_t{4'000'000'000}));
    AG_CHECK(insert(tx, "b", int64_t{5'000'000'000}));
    return {};
  }));
  REQUIRE(t.db().read([&](Tx& tx) -> Result<void> {
    auto row = AG_TRY(tx.query_one(
        "SELECT COUNT(*), SUM(n), MAX(n), MIN(n) = 4000000000, MAX(n) IS NULL FROM items"));
    REQUIRE(row);
    CHECK(std::get<int64_t>(row->at(0)) == 2);
    CHECK(std::get<int64_t>(row->at(1)) == 9'000'000'000);
    CHECK(std::get<int64_t>(row->at(2)) == 5'000'000'000);
    CHECK(std::get<int64_t>(row->at(3)) == 1);  // a boolean reads as 1/0 on both backends
    CHECK(std::get<int64_t>(row->at(4)) == 0);
    return {};
  }));
}

TEST_CASE("db: a ? inside a string literal, a quoted identifier or a comment is not a placeholder",
          "[db]") {
  TempDb t;
  REQUIRE(t.db().write([&](Tx& tx) -> Result<void> {
    AG_CHECK(tx.exec(
        "INSERT INTO items (k, t) -- which ? goes where\n"
        "VALUES (?, 'it''s ? or ?;') /* a ? in a block comment */",
        {std::string("lit")}));
    return {};
  }));
  REQUIRE(t.db().read([&](Tx& tx) -> Result<void> {
    auto row = AG_TRY(tx.query_one(
        "SELECT t, ? AS \"what?\", k FROM items /* ? */ WHERE k = ? -- ?",
        {std::string("first"), std::string("lit")}));
    REQUIRE(row);
    CHECK(row->text(0) == "it's ? or ?;");
    CHECK(row->text(1) == "first");
    CHECK(row->text(2) == "lit");
    return {};
  }));
}

TEST_CASE("db: LIKE with an ESCAPE character matches % and _ literally", "[db]") {
  TempDb t;
  REQUIRE(t.db().write([&](Tx& tx) -> Result<void> {
    AG_CHECK(tx.exec("INSERT INTO items (k, t) VALUES ('pct', '50% off'), ('plain', '50x off')"));
    return {};
  }));
  REQUIRE(t.db().read([&](Tx& tx) -> Result<void> {
    auto rows = AG_TRY(tx.query("SELECT k FROM items WHERE t LIKE ? ESCAPE '!'",
                                {std::string("%50!% off%")}));
    REQUIRE(rows.size() == 1);
    CHECK(rows[0].text(0) == "pct");
    return {};
  }));
}

TEST_CASE("db: SELECT ... FOR UPDATE reads the row inside a write transaction", "[db]") {
  TempDb t;
  REQUIRE(t.db().write([&](Tx& tx) { return insert(tx, "row", int64_t{1}); }));
  REQUIRE(t.db().write([&](Tx& tx) -> Result<void> {
    auto row = AG_TRY(tx.query_one("SELECT n FROM items WHERE k = ? FOR UPDATE",
                                   {std::string("row")}));
    REQUIRE(row);
    AG_CHECK(tx.exec("UPDATE items SET n = ? WHERE k = 'row'", {row->i64(0) + 1}));
    return {};
  }));
  REQUIRE(t.db().read([&](Tx& tx) -> Result<void> {
    CHECK(AG_TRY(tx.query_one("SELECT n FROM items WHERE k = 'row'"))->i64(0) == 2);
    return {};
  }));
}

TEST_CASE("db: a grouped write's error rolls back only its own writes", "[db]") {
  TempDb t;
  REQUIRE(t.db().write_grouped([&](Tx& tx) { return insert(tx, "kept"); }));
  auto bad = t.db().write_grouped([&](Tx& tx) -> Result<void> {
    AG_CHECK(insert(tx, "dropped"));
    return insert(tx, "kept");  // unique violation
  });
  REQUIRE_FALSE(bad);
  CHECK(bad.error().code == ErrorCode::kConflict);
  REQUIRE(t.db().write_grouped([&](Tx& tx) { return insert(tx, "also-kept"); }));
  CHECK(t.count() == 2);
}

TEST_CASE("db: a statement error is returned, not thrown, and names the problem", "[db]") {
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
  CHECK(params.error().code != ErrorCode::kConflict);
}

}  // namespace
}  // namespace afterglow
