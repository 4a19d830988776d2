#include "tests/support/test_db.h"

#include <chrono>
#include <stdexcept>

#include "plugin/core/crypto.h"

namespace afterglow::testing {
namespace {

template <class T>
T check(Result<T> r, std::string_view what) {
  if (!r) throw std::runtime_error(std::string(what) + ": " + r.error().message);
  if constexpr (!std::is_void_v<T>) return std::move(*r);
}

// Double quotes an SQL identifier.
std::string quote_ident(std::string_view name) {
  std::string out = "\"";
  for (char c : name) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

}  // namespace

std::unique_ptr<Db> open_test_db(const std::string& url) {
  return check(open_database(url), "open " + url);
}

std::vector<Row> query_rows(Db& db, std::string_view sql, const Params& params) {
  std::vector<Row> rows;
  check(db.read([&](Tx& tx) -> Result<void> {
          rows = AG_TRY(tx.query(sql, params));
          return {};
        }),
        sql);
  return rows;
}

std::optional<Row> query_row(Db& db, std::string_view sql, const Params& params) {
  auto rows = query_rows(db, sql, params);
  if (rows.empty()) return std::nullopt;
  return rows.front();
}

int64_t query_int(Db& db, std::string_view sql, const Params& params) {
  auto row = query_row(db, sql, params);
  if (!row) throw std::runtime_error("no row: " + std::string(sql));
  return row->i64(0);
}

int64_t exec_sql(Db& db, std::string_view sql, const Params& params) {
  int64_t changed = 0;
  check(db.write([&](Tx& tx) -> Result<void> {
          changed = AG_TRY(tx.exec(sql, params));
          return {};
        }),
        sql);
  return changed;
}

std::string Trace::describe() const {
  return table + "." + column + " (id " + std::to_string(id) + ")";
}

std::vector<std::string> table_names(Db& db) {
  const char* sql =
      db.dialect() == "postgres"
          ? "SELECT table_name FROM information_schema.tables WHERE table_schema = "
            "current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name"
          : "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
            "ORDER BY name";
  std::vector<std::string> out;
  for (const Row& r : query_rows(db, sql)) out.push_back(r.text(0));
  return out;
}

std::vector<std::string> column_names(Db& db, const std::string& table) {
  const char* sql = db.dialect() == "postgres"
                        ? "SELECT column_name FROM information_schema.columns WHERE table_schema "
                          "= current_schema() AND table_name = ? ORDER BY ordinal_position"
                        : "SELECT name FROM pragma_table_info(?) ORDER BY cid";
  std::vector<std::string> out;
  for (const Row& r : query_rows(db, sql, {table})) out.push_back(r.text(0));
  return out;
}

namespace {

std::vector<Trace> find_everywhere_sqlite(Db& db, std::string_view needle) {
  std::vector<Trace> hits;
  for (const std::string& table : table_names(db)) {
    for (const std::string& column : column_names(db, table)) {
      // instr() on CAST(... AS BLOB) is byte-exact and case-sensitive; numbers are cast too.
      std::string sql = "SELECT rowid FROM " + quote_ident(table) + " WHERE instr(CAST(" +
                        quote_ident(column) + " AS BLOB), CAST(? AS BLOB)) > 0";
      for (const Row& r : query_rows(db, sql, {std::string(needle)})) {
        hits.push_back({table, column, r.i64(0)});
      }
    }
  }
  return hits;
}

std::vector<Trace> find_everywhere_postgres(Db& db, std::string_view needle) {
  std::vector<Trace> hits;
  // PostgreSQL has no rowid: report the id column where the table has one.
  std::vector<Row> columns = query_rows(
      db,
      "SELECT c.table_name, c.column_name, EXISTS (SELECT 1 FROM information_schema.columns i "
      "WHERE i.table_schema = c.table_schema AND i.table_name = c.table_name AND "
      "i.column_name = 'id') FROM information_schema.columns c JOIN information_schema.tables t "
      "ON t.table_schema = c.table_schema AND t.table_name = c.table_name "
      "WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE' AND "
      "c.data_type IN ('text', 'character varying', 'character', 'json', 'jsonb') "
      "ORDER BY c.table_name, c.ordinal_position");
  for (const Row& c : columns) {
    std::string table = c.text(0), column = c.text(1);
    std::string id = c.i64(2) != 0 ? "id" : "0";
    // strpos() is byte-exact and case-sensitive, like instr() on SQLite.
    std::string sql = "SELECT " + id + " FROM " + quote_ident(table) + " WHERE strpos(" +
                      quote_ident(column) + "::text, ?) > 0";
    for (const Row& r : query_rows(db, sql, {std::string(needle)})) {
      hits.push_back({table, column, r.i64(0)});
    }
  }
  return hits;
}

}  // namespace

std::vector<Trace> find_everywhere(Db& db, std::string_view needle) {
  return db.dialect() == "postgres" ? find_everywhere_postgres(db, needle)
                                    : find_everywhere_sqlite(db, needle);
}

int64_t seed_installed_shop(Db& db, const std::string& domain) {
  int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  exec_sql(db,
           "INSERT INTO shops (domain, platform_shop_id, state, installed_at_ms, "
           "access_token_enc, refresh_token_enc, access_token_expires_at_ms, scopes, hash_salt) "
           "VALUES (?, ?, 'installed', ?, ?, ?, ?, ?, ?)",
           {domain, int64_t{954889}, now, std::string("enc:v1:access-token-ciphertext"),
            std::string("enc:v1:refresh-token-ciphertext"), now + 3600 * 1000,
            std::string("read_orders,read_customers"), crypto::random_hex(16)});
  return query_int(db, "SELECT id FROM shops WHERE domain = ?", {domain});
}

}  // namespace afterglow::testing
