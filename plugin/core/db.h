// The database seam. One SQL dialect for every module: `?` placeholders, ON CONFLICT, RETURNING,
// integer milliseconds for time (computed from the Clock, never by SQL time functions), TEXT for
// JSON. A driver translates what truly differs (placeholders, the identity column) in one place.
//
// Row locks: a read-then-write on one row says `SELECT … FOR UPDATE` (PostgreSQL locks the row;
// SQLite's write transaction already holds the database lock, and its driver drops the clause).
// Likewise `FOR UPDATE SKIP LOCKED` for queue claims.
//
// Work happens inside transact(): the callback gets a Tx valid only during the call; returning
// an error (or throwing) rolls back, returning success commits. Write transactions take the
// database's write lock up front (SQLite: BEGIN IMMEDIATE), so read-then-write is safe.
// A failed statement ends the transaction's usefulness: return its error. (PostgreSQL aborts the
// whole transaction at the first error; if the callback goes on and returns success anyway, the
// PostgreSQL driver rolls back and returns that first error. SQLite undoes only the statement.)
// A Db is safe to use from many threads at once.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "plugin/core/error.h"

namespace afterglow {

// A parameter or a column value. Booleans are stored as 0/1 integers.
using DbValue = std::variant<std::monostate, int64_t, double, std::string>;

class Row {
 public:
  explicit Row(std::vector<DbValue> values) : values_(std::move(values)) {}
  size_t size() const { return values_.size(); }
  bool is_null(size_t i) const { return std::holds_alternative<std::monostate>(values_.at(i)); }
  // Typed reads; a NULL reads as 0 / "" (use is_null or opt_* to tell).
  int64_t i64(size_t i) const;
  double f64(size_t i) const;
  std::string text(size_t i) const;
  std::optional<int64_t> opt_i64(size_t i) const;
  std::optional<std::string> opt_text(size_t i) const;
  const DbValue& at(size_t i) const { return values_.at(i); }

 private:
  std::vector<DbValue> values_;
};

using Params = std::vector<DbValue>;

class Tx {
 public:
  virtual ~Tx() = default;
  // Runs one statement; returns its rows (empty for statements without rows or RETURNING).
  virtual Result<std::vector<Row>> query(std::string_view sql, const Params& params = {}) = 0;
  // Runs one statement; returns the number of rows it changed.
  virtual Result<int64_t> exec(std::string_view sql, const Params& params = {}) = 0;
  // The first row, or nullopt when there is none.
  Result<std::optional<Row>> query_one(std::string_view sql, const Params& params = {});
  // Wakes listeners of `channel` when this transaction commits (PostgreSQL NOTIFY); a no-op
  // where the database has no such thing (SQLite: workers poll).
  virtual Result<void> notify(std::string_view channel) { return {}; }
};

// Waits for notifications on one channel (see Tx::notify). Owned by one thread.
class Listener {
 public:
  virtual ~Listener() = default;
  // Blocks until a notification arrives (true) or `timeout_ms` passes (false). A broken
  // connection is re-opened on the next call; meanwhile it returns false after the timeout.
  virtual bool wait(int timeout_ms) = 0;
};

enum class TxKind { kRead, kWrite };

class Db {
 public:
  virtual ~Db() = default;
  virtual Result<void> transact(TxKind kind, const std::function<Result<void>(Tx&)>& fn) = 0;
  // Like a write transaction, but may share one transaction and one commit (one fsync) with
  // writers that arrive while another commit is in flight: group commit. Each callback runs in
  // a savepoint of its own, so its error or exception rolls back only its own writes. Returns
  // after the shared commit is durable; if that commit fails, every caller in it gets the error.
  // For short, independent writes on a hot path (webhook intake).
  virtual Result<void> write_grouped(const std::function<Result<void>(Tx&)>& fn) {
    return transact(TxKind::kWrite, fn);
  }
  // Runs a multi-statement script (migrations) in one write transaction.
  virtual Result<void> exec_script(std::string_view sql) = 0;
  // "sqlite" or "postgres".
  virtual std::string_view dialect() const = 0;
  // A listener for `channel`, or nullptr where notifications do not exist (SQLite).
  virtual std::unique_ptr<Listener> listen(std::string_view channel) { return nullptr; }

  Result<void> write(const std::function<Result<void>(Tx&)>& fn) {
    return transact(TxKind::kWrite, fn);
  }
  Result<void> read(const std::function<Result<void>(Tx&)>& fn) {
    return transact(TxKind::kRead, fn);
  }
};

struct DbOptions {
  std::string sqlite_synchronous = "FULL";  // FULL or NORMAL (WAL mode either way)
  int busy_timeout_ms = 5000;
  int pool_size = 8;                        // PostgreSQL connections per process
};

// Opens `url`: `sqlite:PATH` or `postgres://…` / `postgresql://…` (a libpq URI).
Result<std::unique_ptr<Db>> open_database(const std::string& url, const DbOptions& options = {});

}  // namespace afterglow
