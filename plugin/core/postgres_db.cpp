#include "plugin/core/postgres_db.h"

#include <libpq-fe.h>
#include <poll.h>

#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <optional>
#include <unordered_map>

#include "plugin/core/log.h"

namespace afterglow {
namespace {

// PostgreSQL type OIDs we convert (pg_type.h).
constexpr Oid kBoolOid = 16, kInt8Oid = 20, kInt2Oid = 21, kInt4Oid = 23, kFloat4Oid = 700,
              kFloat8Oid = 701, kNumericOid = 1700;

ErrorCode code_for_sqlstate(const char* state) {
  if (!state) return ErrorCode::kUnavailable;  // no server answer: the connection is gone
  std::string_view s(state);
  if (s.rfind("23", 0) == 0) return ErrorCode::kConflict;          // integrity violations
  if (s == "40001" || s == "40P01") return ErrorCode::kUnavailable;  // serialization, deadlock
  if (s.rfind("08", 0) == 0 || s.rfind("57", 0) == 0 || s.rfind("53", 0) == 0) {
    return ErrorCode::kUnavailable;  // connection, operator intervention, resources
  }
  if (s.rfind("22", 0) == 0) return ErrorCode::kInvalidArgument;   // data exceptions
  return ErrorCode::kInternal;
}

std::string first_line(const char* msg) {
  std::string m = msg ? msg : "";
  auto nl = m.find('\n');
  return nl == std::string::npos ? m : m.substr(0, nl);
}

Error result_error(PGconn* conn, PGresult* res, std::string_view what) {
  const char* state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
  ErrorCode code = code_for_sqlstate(state);
  if (PQstatus(conn) != CONNECTION_OK) code = ErrorCode::kUnavailable;
  std::string msg(what);
  msg += ": ";
  msg += first_line(res ? PQresultErrorMessage(res) : PQerrorMessage(conn));
  if (state) msg += std::string(" [") + state + "]";
  return Error{code, std::move(msg)};
}

struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using ResultPtr = std::unique_ptr<PGresult, ResultDeleter>;

class Connection {
 public:
  explicit Connection(PGconn* c) : conn_(c) {}
  ~Connection() { PQfinish(conn_); }
  PGconn* handle() const { return conn_; }
  bool broken() const { return PQstatus(conn_) != CONNECTION_OK; }

  Result<void> simple(const char* sql) {
    ResultPtr r(PQexec(conn_, sql));
    auto st = PQresultStatus(r.get());
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
      return std::unexpected(result_error(conn_, r.get(), sql));
    }
    return {};
  }

  // Prepares `sql` (already translated) once per parameter-type signature.
  Result<std::string> prepare(const std::string& sql, const std::vector<Oid>& types) {
    std::string key(reinterpret_cast<const char*>(types.data()), types.size() * sizeof(Oid));
    key += sql;
    auto it = statements_.find(key);
    if (it != statements_.end()) return it->second;
    std::string name = "ag" + std::to_string(statements_.size() + 1);
    ResultPtr r(PQprepare(conn_, name.c_str(), sql.c_str(), static_cast<int>(types.size()),
                          types.data()));
    if (PQresultStatus(r.get()) != PGRES_COMMAND_OK) {
      return std::unexpected(result_error(conn_, r.get(), "prepare"));
    }
    statements_.emplace(std::move(key), name);
    return name;
  }

  // Translation is pure; cache it per connection along with the statement.
  const std::string& translated(std::string_view sql) {
    auto it = translations_.find(std::string(sql));
    if (it != translations_.end()) return it->second;
    return translations_.emplace(std::string(sql), translate_placeholders(sql)).first->second;
  }

 private:
  PGconn* conn_;
  std::unordered_map<std::string, std::string> statements_;
  std::unordered_map<std::string, std::string> translations_;
};

DbValue convert(PGresult* r, int row, int col) {
  if (PQgetisnull(r, row, col)) return std::monostate{};
  const char* v = PQgetvalue(r, row, col);
  switch (PQftype(r, col)) {
    case kInt8Oid:
    case kInt2Oid:
    case kInt4Oid: return int64_t{std::strtoll(v, nullptr, 10)};
    case kFloat4Oid:
    case kFloat8Oid: return std::strtod(v, nullptr);
    case kNumericOid: {
      // SUM(bigint) is numeric: keep whole numbers exact.
      std::string_view s(v);
      if (s.find_first_of(".eE") == std::string_view::npos) return int64_t{std::strtoll(v, nullptr, 10)};
      return std::strtod(v, nullptr);
    }
    case kBoolOid: return int64_t{v[0] == 't' ? 1 : 0};
    default: return std::string(v, PQgetlength(r, row, col));
  }
}

class PgTx final : public Tx {
 public:
  explicit PgTx(Connection& c) : conn_(c) {}

  Result<std::vector<Row>> query(std::string_view sql, const Params& params) override {
    std::vector<Row> rows;
    AG_CHECK(run(sql, params, &rows, nullptr));
    return rows;
  }

  Result<int64_t> exec(std::string_view sql, const Params& params) override {
    int64_t changed = 0;
    AG_CHECK(run(sql, params, nullptr, &changed));
    return changed;
  }

  Result<void> notify(std::string_view channel) override {
    AG_CHECK(run("SELECT pg_notify(?, '')", {std::string(channel)}, nullptr, nullptr));
    return {};
  }

  // The first statement error of this transaction, if any.
  const std::optional<Error>& first_error() const { return first_error_; }

 private:
  Result<void> run(std::string_view sql, const Params& params, std::vector<Row>* rows,
                   int64_t* changed) {
    auto r = run_once(sql, params, rows, changed);
    if (!r && !first_error_) first_error_ = r.error();
    return r;
  }

  Result<void> run_once(std::string_view sql, const Params& params, std::vector<Row>* rows,
                        int64_t* changed) {
    std::vector<Oid> types(params.size(), 0);
    std::vector<std::string> texts(params.size());
    std::vector<const char*> values(params.size(), nullptr);
    for (size_t i = 0; i < params.size(); ++i) {
      const DbValue& v = params[i];
      if (auto p = std::get_if<int64_t>(&v)) {
        types[i] = kInt8Oid;
        texts[i] = std::to_string(*p);
        values[i] = texts[i].c_str();
      } else if (auto p = std::get_if<double>(&v)) {
        types[i] = kFloat8Oid;
        char buf[64];
        std::snprintf(buf, sizeof buf, "%.17g", *p);
        texts[i] = buf;
        values[i] = texts[i].c_str();
      } else if (auto p = std::get_if<std::string>(&v)) {
        values[i] = p->c_str();  // untyped: the server types it from context
      }
    }
    const std::string& translated = conn_.translated(sql);
    std::string name = AG_TRY(conn_.prepare(translated, types));
    ResultPtr r(PQexecPrepared(conn_.handle(), name.c_str(), static_cast<int>(params.size()),
                               values.data(), nullptr, nullptr, 0));
    auto st = PQresultStatus(r.get());
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
      return std::unexpected(result_error(conn_.handle(), r.get(), "statement"));
    }
    if (changed) {
      const char* n = PQcmdTuples(r.get());
      *changed = (n && *n) ? std::strtoll(n, nullptr, 10) : 0;
    }
    if (rows && st == PGRES_TUPLES_OK) {
      int nrows = PQntuples(r.get()), ncols = PQnfields(r.get());
      rows->reserve(nrows);
      for (int i = 0; i < nrows; ++i) {
        std::vector<DbValue> vals;
        vals.reserve(ncols);
        for (int c = 0; c < ncols; ++c) vals.push_back(convert(r.get(), i, c));
        rows->emplace_back(std::move(vals));
      }
    }
    return {};
  }

  Connection& conn_;
  std::optional<Error> first_error_;
};

Result<std::unique_ptr<Connection>> connect(const std::string& url) {
  auto conn = std::make_unique<Connection>(PQconnectdb(url.c_str()));
  if (conn->broken()) {
    return fail(ErrorCode::kUnavailable,
                "cannot connect to PostgreSQL: " + first_line(PQerrorMessage(conn->handle())));
  }
  // NOTICEs ("relation already exists, skipping") are expected chatter, not log lines.
  PQsetNoticeProcessor(conn->handle(), [](void*, const char*) {}, nullptr);
  // Every time we store is an integer from the Clock; keep the session neutral anyway.
  AG_CHECK(conn->simple("SET TIME ZONE 'UTC'"));
  return conn;
}

class PgListener final : public Listener {
 public:
  PgListener(std::string url, std::string channel)
      : url_(std::move(url)), channel_(std::move(channel)) {}

  bool wait(int timeout_ms) override {
    if (!conn_ || conn_->broken()) {
      conn_.reset();
      auto c = connect(url_);
      if (c) {
        std::string sql = "LISTEN \"" + channel_ + "\"";
        if ((*c)->simple(sql.c_str())) conn_ = std::move(*c);
      }
      if (!conn_) {
        poll(nullptr, 0, timeout_ms);  // the database is away: wait out the interval, retry later
        return false;
      }
    }
    if (drain()) return true;
    pollfd pfd{PQsocket(conn_->handle()), POLLIN, 0};
    if (poll(&pfd, 1, timeout_ms) <= 0) return false;
    if (!PQconsumeInput(conn_->handle())) return false;  // broken: reconnect next call
    return drain();
  }

 private:
  bool drain() {
    bool any = false;
    while (PGnotify* n = PQnotifies(conn_->handle())) {
      any = true;
      PQfreemem(n);
    }
    return any;
  }

  std::string url_, channel_;
  std::unique_ptr<Connection> conn_;
};

class PostgresDb final : public Db {
 public:
  PostgresDb(std::string url, DbOptions options)
      : url_(std::move(url)), options_(std::move(options)) {}

  Result<void> init() {
    auto c = AG_TRY(connect(url_));
    std::lock_guard<std::mutex> lock(pool_mutex_);
    ++open_count_;
    idle_.push_back(std::move(c));
    return {};
  }

  std::string_view dialect() const override { return "postgres"; }

  std::unique_ptr<Listener> listen(std::string_view channel) override {
    return std::make_unique<PgListener>(url_, std::string(channel));
  }

  Result<void> transact(TxKind kind, const std::function<Result<void>(Tx&)>& fn) override {
    auto conn = AG_TRY(acquire());
    auto begin = conn->simple(kind == TxKind::kWrite ? "BEGIN" : "BEGIN READ ONLY");
    // Found dead before anything ran (server restart, idle timeout, terminated backends): trying
    // again is safe. After a restart every idle connection of the pool is dead, so keep going
    // until they are all replaced; the last try gets a freshly opened connection.
    for (int tries = 0; !begin && conn->broken() && tries < options_.pool_size; ++tries) {
      discard(std::move(conn));
      conn = AG_TRY(acquire());
      begin = conn->simple(kind == TxKind::kWrite ? "BEGIN" : "BEGIN READ ONLY");
    }
    if (!begin) {
      finish(std::move(conn));
      return begin;
    }
    PgTx tx(*conn);
    Result<void> r;
    try {
      r = fn(tx);
    } catch (...) {
      (void)conn->simple("ROLLBACK");
      finish(std::move(conn));
      throw;
    }
    if (!r) {
      (void)conn->simple("ROLLBACK");
    } else if (PQtransactionStatus(conn->handle()) == PQTRANS_INERROR) {
      // The callback went on after a failed statement. PostgreSQL aborted the transaction there,
      // and COMMIT would quietly answer ROLLBACK: report the failure, not a success that
      // committed nothing. (SQLite undoes only the failed statement; code must not rely on it.)
      (void)conn->simple("ROLLBACK");
      r = std::unexpected(tx.first_error().value_or(
          Error{ErrorCode::kInternal, "transaction aborted by an earlier statement"}));
    } else {
      r = conn->simple("COMMIT");
    }
    finish(std::move(conn));
    return r;
  }

  Result<void> exec_script(std::string_view sql) override {
    std::string script(sql);
    // The one DDL difference our migrations have: SQLite's rowid alias vs a 64-bit sequence.
    const std::string from = "INTEGER PRIMARY KEY", to = "BIGSERIAL PRIMARY KEY";
    for (size_t pos = 0; (pos = script.find(from, pos)) != std::string::npos; pos += to.size()) {
      script.replace(pos, from.size(), to);
    }
    auto conn = AG_TRY(acquire());
    // Scripts are migrations: processes starting together (several serve and worker) take
    // turns on a transaction-scoped advisory lock, so a second one sees the first's tables
    // instead of failing on a half-created catalog entry.
    auto r = conn->simple(
        ("BEGIN;\nSELECT pg_advisory_xact_lock(7437011);\n" + script + "\nCOMMIT;").c_str());
    if (!r) (void)conn->simple("ROLLBACK");
    finish(std::move(conn));
    return r;
  }

 private:
  Result<std::unique_ptr<Connection>> acquire() {
    {
      std::unique_lock<std::mutex> lock(pool_mutex_);
      pool_cv_.wait(lock, [&] {
        return !idle_.empty() || open_count_ < static_cast<size_t>(options_.pool_size);
      });
      if (!idle_.empty()) {
        auto c = std::move(idle_.back());
        idle_.pop_back();
        return c;
      }
      ++open_count_;
    }
    auto c = connect(url_);
    if (!c) {
      std::lock_guard<std::mutex> lock(pool_mutex_);
      --open_count_;
      pool_cv_.notify_one();
    }
    return c;
  }

  // Returns a healthy connection to the pool; drops a broken one so the next acquire reconnects.
  void finish(std::unique_ptr<Connection> c) {
    if (c->broken() || PQtransactionStatus(c->handle()) != PQTRANS_IDLE) {
      discard(std::move(c));
      return;
    }
    std::lock_guard<std::mutex> lock(pool_mutex_);
    idle_.push_back(std::move(c));
    pool_cv_.notify_one();
  }

  void discard(std::unique_ptr<Connection> c) {
    log::warn("postgres connection dropped",
              {{"reason", first_line(PQerrorMessage(c->handle()))}});
    c.reset();
    std::lock_guard<std::mutex> lock(pool_mutex_);
    --open_count_;
    pool_cv_.notify_one();
  }

  std::string url_;
  DbOptions options_;
  std::mutex pool_mutex_;
  std::condition_variable pool_cv_;
  std::vector<std::unique_ptr<Connection>> idle_;  // guarded by pool_mutex_
  size_t open_count_ = 0;                           // guarded by pool_mutex_
};

}  // namespace

std::string translate_placeholders(std::string_view sql) {
  std::string out;
  out.reserve(sql.size() + 16);
  int n = 0;
  for (size_t i = 0; i < sql.size(); ++i) {
    char c = sql[i];
    if (c == '\'' || c == '"') {  // literal or quoted identifier; doubled quotes stay inside
      size_t end = i + 1;
      while (end < sql.size()) {
        if (sql[end] == c) {
          if (end + 1 < sql.size() && sql[end + 1] == c) {
            end += 2;
            continue;
          }
          break;
        }
        ++end;
      }
      out.append(sql.substr(i, end - i + 1));
      i = end;
    } else if (c == '-' && i + 1 < sql.size() && sql[i + 1] == '-') {
      size_t end = sql.find('\n', i);
      if (end == std::string_view::npos) end = sql.size() - 1;
      out.append(sql.substr(i, end - i + 1));
      i = end;
    } else if (c == '/' && i + 1 < sql.size() && sql[i + 1] == '*') {
      size_t end = sql.find("*/", i + 2);
      end = end == std::string_view::npos ? sql.size() - 1 : end + 1;
      out.append(sql.substr(i, end - i + 1));
      i = end;
    } else if (c == '?') {
      out += '$';
      out += std::to_string(++n);
    } else {
      out += c;
    }
  }
  return out;
}

Result<std::unique_ptr<Db>> open_postgres(const std::string& url, const DbOptions& options) {
  auto db = std::make_unique<PostgresDb>(url, options);
  AG_CHECK(db->init());
  return std::unique_ptr<Db>(std::move(db));
}

}  // namespace afterglow
