#include "plugin/core/db.h"

#include "plugin/core/postgres_db.h"
#include "plugin/core/sqlite_db.h"

namespace afterglow {

int64_t Row::i64(size_t i) const {
  const DbValue& v = values_.at(i);
  if (auto p = std::get_if<int64_t>(&v)) return *p;
  if (auto p = std::get_if<double>(&v)) return static_cast<int64_t>(*p);
  if (auto p = std::get_if<std::string>(&v)) return std::stoll(*p);
  return 0;
}

double Row::f64(size_t i) const {
  const DbValue& v = values_.at(i);
  if (auto p = std::get_if<double>(&v)) return *p;
  if (auto p = std::get_if<int64_t>(&v)) return static_cast<double>(*p);
  if (auto p = std::get_if<std::string>(&v)) return std::stod(*p);
  return 0;
}

std::string Row::text(size_t i) const {
  const DbValue& v = values_.at(i);
  if (auto p = std::get_if<std::string>(&v)) return *p;
  if (auto p = std::get_if<int64_t>(&v)) return std::to_string(*p);
  if (auto p = std::get_if<double>(&v)) return std::to_string(*p);
  return {};
}

std::optional<int64_t> Row::opt_i64(size_t i) const {
  if (is_null(i)) return std::nullopt;
  return i64(i);
}

std::optional<std::string> Row::opt_text(size_t i) const {
  if (is_null(i)) return std::nullopt;
  return text(i);
}

Result<std::optional<Row>> Tx::query_one(std::string_view sql, const Params& params) {
  auto rows = AG_TRY(query(sql, params));
  if (rows.empty()) return std::optional<Row>();
  return std::optional<Row>(std::move(rows.front()));
}

Result<std::unique_ptr<Db>> open_database(const std::string& url, const DbOptions& options) {
  if (url.rfind("sqlite:", 0) == 0) return open_sqlite(url.substr(7), options);
  if (url.rfind("postgres://", 0) == 0 || url.rfind("postgresql://", 0) == 0) {
    return open_postgres(url, options);
  }
  return fail(ErrorCode::kInvalidArgument, "DATABASE_URL must start with sqlite: or postgres://");
}

}  // namespace afterglow
