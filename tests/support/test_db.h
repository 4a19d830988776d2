// Reading (and seeding) the server's database from outside the server, the way an operator with
// a database shell would; SQLite and PostgreSQL alike. Calls throw std::runtime_error on a database error: in a test that is a
// set-up failure, not a result.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "plugin/core/db.h"

namespace afterglow::testing {

// Opens `url` (e.g. "sqlite:/tmp/…/afterglow.db" or a postgres:// URL). Safe while a server has
// the database open (SQLite: WAL).
std::unique_ptr<Db> open_test_db(const std::string& url);

// Every row of `sql`.
std::vector<Row> query_rows(Db& db, std::string_view sql, const Params& params = {});
// The first row, or nullopt.
std::optional<Row> query_row(Db& db, std::string_view sql, const Params& params = {});
// The first column of the first row as an integer (e.g. a COUNT(*)); throws if there is no row.
int64_t query_int(Db& db, std::string_view sql, const Params& params = {});
// Runs a statement in a write transaction; returns the rows changed.
int64_t exec_sql(Db& db, std::string_view sql, const Params& params = {});

// One place a value was found: table, column and the row's id.
struct Trace {
  std::string table;
  std::string column;
  int64_t id = 0;            // SQLite: the rowid (our `id` columns alias it); PostgreSQL: `id`
  std::string describe() const;  // "table.column (id N)"
};
// Every cell that contains `needle` (byte-exact, case-sensitive), in every table. SQLite: every
// column, numbers included (as their text); PostgreSQL: the text-like columns (text, varchar,
// char, json), and a table without an `id` column reports id 0. For "is this customer's email
// gone from the whole database" checks.
std::vector<Trace> find_everywhere(Db& db, std::string_view needle);

// The tables of the database, in name order (migration bookkeeping included).
std::vector<std::string> table_names(Db& db);
// The columns of `table`, in their order (the order of `SELECT *`).
std::vector<std::string> column_names(Db& db, const std::string& table);

// Inserts an installed shop with (fake) encrypted tokens, as the install flow would; returns its
// shops.id. Integration tests use it because no webhook installs a shop.
int64_t seed_installed_shop(Db& db, const std::string& domain);

}  // namespace afterglow::testing
