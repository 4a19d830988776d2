// The SQLite driver for Db: WAL, busy_timeout, foreign keys, prepared statements cached per
// connection. Writers inside one process queue on a mutex before BEGIN IMMEDIATE (cheaper
// than SQLite's busy-sleep); writers in other processes meet the busy timeout.
#pragma once

#include <memory>
#include <string>

#include "plugin/core/db.h"

namespace afterglow {

// `path` is a file path, or ":memory:"-style names are refused (each connection would get its
// own database). The parent directory must exist.
Result<std::unique_ptr<Db>> open_sqlite(const std::string& path, const DbOptions& options);

}  // namespace afterglow
