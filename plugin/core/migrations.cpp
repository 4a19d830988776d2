#include "plugin/core/migrations.h"

#include <set>

#include "plugin/core/clock.h"
#include "plugin/core/log.h"

namespace afterglow {
namespace {

Result<void> ensure_table(Db& db) {
  return db.exec_script(
      "CREATE TABLE IF NOT EXISTS schema_migrations ("
      "version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at_ms BIGINT NOT NULL);");
}

Result<std::set<int>> applied_versions(Db& db) {
  std::set<int> out;
  AG_CHECK(db.read([&](Tx& tx) -> Result<void> {
    for (const Row& r : AG_TRY(tx.query("SELECT version FROM schema_migrations"))) {
      out.insert(static_cast<int>(r.i64(0)));
    }
    return {};
  }));
  return out;
}

}  // namespace

Result<int> migrate(Db& db) {
  AG_CHECK(ensure_table(db));
  std::set<int> seen;
  for (const Migration& m : embedded_migrations()) {
    if (!seen.insert(m.version).second) {
      return fail(ErrorCode::kInternal,
                  "two migrations share number " + std::to_string(m.version));
    }
  }
  int applied = 0;
  // Read once; a migrator racing us is caught below, when its version row refuses ours.
  auto done = AG_TRY(applied_versions(db));
  for (const Migration& m : embedded_migrations()) {
    if (done.count(m.version)) continue;
    // The version row goes in with the schema change, so a concurrent migrator that lost the
    // race fails on the primary key and rolls its copy back.
    std::string script = std::string(m.sql) +
                         "\nINSERT INTO schema_migrations(version, name, applied_at_ms) VALUES (" +
                         std::to_string(m.version) + ", '" + m.name + "', " +
                         std::to_string(SystemClock::instance().now_ms()) + ");";
    auto r = db.exec_script(script);
    if (!r) {
      done = AG_TRY(applied_versions(db));
      if (done.count(m.version)) continue;  // another process applied it first
      return fail(r.error().code, std::string("migration ") + m.name + ": " + r.error().message);
    }
    log::info("migration applied", {{"version", m.version}, {"name", m.name}});
    ++applied;
  }
  return applied;
}

Result<bool> migrations_current(Db& db) {
  auto r = applied_versions(db);
  if (!r) return false;  // no schema_migrations table yet
  for (const Migration& m : embedded_migrations()) {
    if (!r->count(m.version)) return false;
  }
  return true;
}

}  // namespace afterglow
