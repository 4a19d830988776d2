// The PostgreSQL driver for Db, on libpq. Selected by DATABASE_URL=postgres://… (any libpq
// connection URI, e.g. postgres:///afterglow?host=/run/postgresql).
//
// What differs from SQLite is translated here, in one place:
//   - `?` placeholders become $1, $2, … (outside quotes and comments);
//   - in migration scripts, `INTEGER PRIMARY KEY` becomes `BIGSERIAL PRIMARY KEY`;
//   - int64 parameters are sent as int8, doubles as float8, text as untyped literals that the
//     server types from context.
// A pool of `pool_size` connections per process; a connection that breaks is discarded and the
// transaction that was caught by it fails with ErrorCode::kUnavailable (the caller retries: a
// job is retried, a webhook is not acknowledged). Nothing is half-applied: every statement runs
// inside a transaction.
#pragma once

#include <memory>
#include <string>

#include "plugin/core/db.h"

namespace afterglow {

Result<std::unique_ptr<Db>> open_postgres(const std::string& url, const DbOptions& options);

// `?` → `$n` outside string literals, quoted identifiers and comments. Exposed for tests.
std::string translate_placeholders(std::string_view sql);

}  // namespace afterglow
