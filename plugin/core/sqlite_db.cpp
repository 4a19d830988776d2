#include "plugin/core/sqlite_db.h"

#include <sqlite3.h>

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <unordered_map>

namespace afterglow {
namespace {

constexpr size_t kMaxConnections = 32;

Error sqlite_error(sqlite3* db, int rc, std::string_view what) {
  ErrorCode code = ErrorCode::kInternal;
  if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) code = ErrorCode::kUnavailable;
  if ((rc & 0xff) == SQLITE_CONSTRAINT) code = ErrorCode::kConflict;
  std::string msg(what);
  msg += ": ";
  msg += db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  return Error{code, std::move(msg)};
}

class Connection {
 public:
  explicit Connection(sqlite3* db) : db_(db) {}
  ~Connection() {
    for (auto& [sql, stmt] : statements_) sqlite3_finalize(stmt);
    sqlite3_close_v2(db_);
  }
  sqlite3* handle() const { return db_; }

  Result<sqlite3_stmt*> prepare(std::string_view sql) {
    auto it = statements_.find(std::string(sql));
    if (it != statements_.end()) {
      sqlite3_reset(it->second);
      sqlite3_clear_bindings(it->second);
      return it->second;
    }
    // SQLite has no row locks; a write transaction holds the whole database, so the clause
    // PostgreSQL needs for read-then-write (FOR UPDATE [SKIP LOCKED]) is dropped here.
    std::string text(sql);
    for (std::string_view clause : {" FOR UPDATE SKIP LOCKED", " FOR UPDATE"}) {
      for (size_t pos; (pos = text.find(clause)) != std::string::npos;) text.erase(pos, clause.size());
    }
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v3(db_, text.data(), static_cast<int>(text.size()),
                                SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
    if (rc != SQLITE_OK) return std::unexpected(sqlite_error(db_, rc, "prepare"));
    statements_.emplace(std::string(sql), stmt);
    return stmt;
  }

  Result<void> simple(const char* sql) {
    char* err = nullptr;
    int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &err);
    if (rc != SQLITE_OK) {
      std::string msg = err ? err : sqlite3_errstr(rc);
      sqlite3_free(err);
      Error e = sqlite_error(nullptr, rc, sql);
      e.message = std::string(sql) + ": " + msg;
      return std::unexpected(e);
    }
    return {};
  }

 private:
  sqlite3* db_;
  std::unordered_map<std::string, sqlite3_stmt*> statements_;
};

class SqliteTx final : public Tx {
 public:
  explicit SqliteTx(Connection& c) : conn_(c) {}

  Result<std::vector<Row>> query(std::string_view sql, const Params& params) override {
    std::vector<Row> rows;
    AG_CHECK(run(sql, params, &rows));
    return rows;
  }

  Result<int64_t> exec(std::string_view sql, const Params& params) override {
    AG_CHECK(run(sql, params, nullptr));
    return static_cast<int64_t>(sqlite3_changes64(conn_.handle()));
  }

 private:
  Result<void> run(std::string_view sql, const Params& params, std::vector<Row>* rows) {
    sqlite3_stmt* stmt = AG_TRY(conn_.prepare(sql));
    if (static_cast<int>(params.size()) != sqlite3_bind_parameter_count(stmt)) {
      return fail(ErrorCode::kInternal, "parameter count mismatch for: " + std::string(sql));
    }
    for (size_t i = 0; i < params.size(); ++i) {
      int idx = static_cast<int>(i + 1);
      const DbValue& v = params[i];
      if (auto p = std::get_if<int64_t>(&v)) sqlite3_bind_int64(stmt, idx, *p);
      else if (auto p = std::get_if<double>(&v)) sqlite3_bind_double(stmt, idx, *p);
      else if (auto p = std::get_if<std::string>(&v))
        sqlite3_bind_text(stmt, idx, p->data(), static_cast<int>(p->size()), SQLITE_STATIC);
      else sqlite3_bind_null(stmt, idx);
    }
    int ncols = sqlite3_column_count(stmt);
    for (;;) {
      int rc = sqlite3_step(stmt);
      if (rc == SQLITE_DONE) break;
      if (rc != SQLITE_ROW) {
        Error e = sqlite_error(conn_.handle(), rc, "step");
        sqlite3_reset(stmt);
        return std::unexpected(e);
      }
      if (!rows) continue;
      std::vector<DbValue> values;
      values.reserve(ncols);
      for (int c = 0; c < ncols; ++c) {
        switch (sqlite3_column_type(stmt, c)) {
          case SQLITE_INTEGER: values.emplace_back(int64_t{sqlite3_column_int64(stmt, c)}); break;
          case SQLITE_FLOAT: values.emplace_back(sqlite3_column_double(stmt, c)); break;
          case SQLITE_NULL: values.emplace_back(std::monostate{}); break;
          default: {
            auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt, c));
            values.emplace_back(std::string(p, sqlite3_column_bytes(stmt, c)));
          }
        }
      }
      rows->emplace_back(std::move(values));
    }
    sqlite3_reset(stmt);
    return {};
  }

  Connection& conn_;
};

class SqliteDb final : public Db {
 public:
  SqliteDb(std::string path, DbOptions options)
      : path_(std::move(path)), options_(std::move(options)) {}

  Result<void> init() {
    auto c = AG_TRY(open_connection());
    // WAL is a property of the file; set once so every later connection sees it.
    AG_CHECK(c->simple("PRAGMA journal_mode=WAL"));
    {
      std::lock_guard<std::mutex> lock(pool_mutex_);
      ++open_count_;  // this connection joins the pool and counts against its size
    }
    release(std::move(c));
    return {};
  }

  std::string_view dialect() const override { return "sqlite"; }

  Result<void> transact(TxKind kind, const std::function<Result<void>(Tx&)>& fn) override {
    std::unique_lock<std::mutex> write_lock(write_mutex_, std::defer_lock);
    if (kind == TxKind::kWrite) write_lock.lock();
    auto conn = AG_TRY(acquire());
    Result<void> result;
    try {
      result = run_in_tx(*conn, kind, fn);
    } catch (...) {
      // run_in_tx rolled back; the connection goes back to the pool, or its slot would be lost
      // for good and, once every slot is, the next transaction would wait forever.
      release(std::move(conn));
      throw;
    }
    release(std::move(conn));
    return result;
  }

  Result<void> write_grouped(const std::function<Result<void>(Tx&)>& fn) override {
    PendingWrite mine{&fn};
    std::unique_lock<std::mutex> lock(group_mutex_);
    group_queue_.push_back(&mine);
    while (!mine.done) {
      if (group_leader_active_) {
        group_cv_.wait(lock);
        continue;
      }
      // Lead: take everything queued so far (ours included) and commit it as one transaction.
      group_leader_active_ = true;
      std::vector<PendingWrite*> batch;
      size_t n = std::min(group_queue_.size(), kMaxGroup);
      batch.assign(group_queue_.begin(), group_queue_.begin() + n);
      group_queue_.erase(group_queue_.begin(), group_queue_.begin() + n);
      lock.unlock();
      run_group(batch);
      lock.lock();
      for (PendingWrite* p : batch) p->done = true;
      group_leader_active_ = false;
      group_cv_.notify_all();
    }
    return mine.result;
  }

  Result<void> exec_script(std::string_view sql) override {
    std::lock_guard<std::mutex> write_lock(write_mutex_);
    auto conn = AG_TRY(acquire());
    std::string script = "BEGIN IMMEDIATE;\n" + std::string(sql) + "\nCOMMIT;";
    auto r = conn->simple(script.c_str());
    if (!r) (void)conn->simple("ROLLBACK");
    release(std::move(conn));
    return r;
  }

 private:
  struct PendingWrite {
    const std::function<Result<void>(Tx&)>* fn;
    Result<void> result{};
    bool done = false;
  };
  static constexpr size_t kMaxGroup = 256;

  void run_group(const std::vector<PendingWrite*>& batch) {
    std::lock_guard<std::mutex> write_lock(write_mutex_);
    auto conn = acquire();
    if (!conn) {
      for (PendingWrite* p : batch) p->result = std::unexpected(conn.error());
      return;
    }
    Result<void> begin = (*conn)->simple("BEGIN IMMEDIATE");
    if (!begin) {
      for (PendingWrite* p : batch) p->result = begin;
      release(std::move(*conn));
      return;
    }
    SqliteTx tx(**conn);
    for (PendingWrite* p : batch) {
      auto sp = (*conn)->simple("SAVEPOINT grouped");
      if (!sp) {
        p->result = sp;
        continue;
      }
      try {
        p->result = (*p->fn)(tx);
      } catch (const std::exception& e) {
        p->result = fail(ErrorCode::kInternal, std::string("write threw: ") + e.what());
      } catch (...) {
        p->result = fail(ErrorCode::kInternal, "write threw");
      }
      if (!p->result) (void)(*conn)->simple("ROLLBACK TO grouped");
      (void)(*conn)->simple("RELEASE grouped");
    }
    auto commit = (*conn)->simple("COMMIT");
    if (!commit) {
      (void)(*conn)->simple("ROLLBACK");
      for (PendingWrite* p : batch) {
        if (p->result) p->result = commit;
      }
    }
    release(std::move(*conn));
  }

  Result<void> run_in_tx(Connection& conn, TxKind kind,
                         const std::function<Result<void>(Tx&)>& fn) {
    AG_CHECK(conn.simple(kind == TxKind::kWrite ? "BEGIN IMMEDIATE" : "BEGIN"));
    SqliteTx tx(conn);
    Result<void> r;
    try {
      r = fn(tx);
    } catch (...) {
      (void)conn.simple("ROLLBACK");
      throw;
    }
    if (!r) {
      (void)conn.simple("ROLLBACK");
      return r;
    }
    auto c = conn.simple("COMMIT");
    if (!c) (void)conn.simple("ROLLBACK");
    return c;
  }

  Result<std::unique_ptr<Connection>> open_connection() {
    sqlite3* raw = nullptr;
    int rc = sqlite3_open_v2(path_.c_str(), &raw,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                             nullptr);
    auto conn = std::make_unique<Connection>(raw);
    if (rc != SQLITE_OK) {
      return fail(ErrorCode::kUnavailable,
                  "cannot open sqlite database " + path_ + ": " + sqlite3_errmsg(raw));
    }
    sqlite3_busy_timeout(raw, options_.busy_timeout_ms);
    sqlite3_extended_result_codes(raw, 1);
    AG_CHECK(conn->simple("PRAGMA foreign_keys=ON"));
    // Debian builds SQLite with WAL defaulting to synchronous=FULL; state it either way.
    std::string sync = "PRAGMA synchronous=" + options_.sqlite_synchronous;
    AG_CHECK(conn->simple(sync.c_str()));
    return conn;
  }

  Result<std::unique_ptr<Connection>> acquire() {
    {
      std::unique_lock<std::mutex> lock(pool_mutex_);
      pool_cv_.wait(lock, [&] { return !idle_.empty() || open_count_ < kMaxConnections; });
      if (!idle_.empty()) {
        auto c = std::move(idle_.back());
        idle_.pop_back();
        return c;
      }
      ++open_count_;
    }
    auto c = open_connection();
    if (!c) {
      std::lock_guard<std::mutex> lock(pool_mutex_);
      --open_count_;
      pool_cv_.notify_one();
    }
    return c;
  }

  void release(std::unique_ptr<Connection> c) {
    std::lock_guard<std::mutex> lock(pool_mutex_);
    idle_.push_back(std::move(c));
    pool_cv_.notify_one();
  }

  std::string path_;
  DbOptions options_;
  std::mutex write_mutex_;  // in-process writers queue here, not in SQLite's busy handler
  std::mutex group_mutex_;
  std::condition_variable group_cv_;
  std::vector<PendingWrite*> group_queue_;  // guarded by group_mutex_
  bool group_leader_active_ = false;        // guarded by group_mutex_
  std::mutex pool_mutex_;
  std::condition_variable pool_cv_;
  std::vector<std::unique_ptr<Connection>> idle_;
  size_t open_count_ = 0;
};

}  // namespace

Result<std::unique_ptr<Db>> open_sqlite(const std::string& path, const DbOptions& options) {
  if (path.empty() || path == ":memory:") {
    return fail(ErrorCode::kInvalidArgument, "DATABASE_URL: sqlite needs a file path");
  }
  auto db = std::make_unique<SqliteDb>(path, options);
  AG_CHECK(db->init());
  return std::unique_ptr<Db>(std::move(db));
}

}  // namespace afterglow
