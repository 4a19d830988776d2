// Numbered schema migrations. Each module keeps its own SQL files in its `migrations/` folder
// (NNNN_name.sql, numbers unique across the project); the build embeds them all. migrate()
// applies, in order, those not yet recorded in schema_migrations, each in one transaction.
#pragma once

#include <string>
#include <vector>

#include "plugin/core/db.h"

namespace afterglow {

struct Migration {
  int version;
  const char* name;
  const char* sql;
};

// Every migration compiled into this binary, sorted by version.
const std::vector<Migration>& embedded_migrations();

// Applies the pending migrations; returns how many were applied. Safe to run concurrently from
// several processes: each migration is applied once.
Result<int> migrate(Db& db);

// True when every embedded migration is recorded as applied.
Result<bool> migrations_current(Db& db);

}  // namespace afterglow
