#include "plugin/app/admin_views.h"

#include <limits>

#include "webhooks/inbox.h"

namespace afterglow::app {
namespace {

int64_t before_or_max(int64_t before_id) {
  return before_id > 0 ? before_id : std::numeric_limits<int64_t>::max();
}

// A job belongs to the shop when it carries the shop's id, or when it is the processing job of
// one of the shop's deliveries: the inbox names that job "webhook:<inbox id>" (webhooks/inbox.cpp).
// The CASE keeps PostgreSQL from casting keys of other job kinds.
constexpr const char* kShopJobFilter =
    "(j.shop_id = ? OR (j.shop_id IS NULL AND j.kind = ? AND EXISTS (SELECT 1 FROM webhook_inbox w "
    "WHERE w.shop_domain = ? AND w.id = CASE WHEN j.unique_key LIKE 'webhook:%' "
    "THEN CAST(substr(j.unique_key, 9) AS BIGINT) END)))";

}  // namespace

Result<std::vector<InboxEntry>> list_inbox(Tx& tx, const std::string& shop_domain,
                                           const std::string& state, int64_t before_id, int limit) {
  std::string sql =
      "SELECT id, source, topic, delivery_id, state, note, received_at_ms, processed_at_ms "
      "FROM webhook_inbox WHERE shop_domain = ? AND id < ?";
  Params p{shop_domain, before_or_max(before_id)};
  if (!state.empty()) {
    sql += " AND state = ?";
    p.push_back(state);
  }
  sql += " ORDER BY id DESC LIMIT ?";
  p.push_back(int64_t{limit});
  auto rows = AG_TRY(tx.query(sql, p));
  std::vector<InboxEntry> out;
  for (const Row& r : rows) {
    out.push_back(InboxEntry{r.i64(0), r.text(1), r.text(2), r.text(3), r.text(4), r.text(5),
                             r.i64(6), r.opt_i64(7)});
  }
  return out;
}

Result<std::vector<DeadJobEntry>> list_dead_jobs(Tx& tx, int64_t shop_id,
                                                 const std::string& shop_domain, int64_t before_id,
                                                 int limit) {
  auto rows = AG_TRY(tx.query(
      std::string("SELECT j.id, j.kind, j.attempt, j.max_attempts, j.last_error, j.created_at_ms, "
                  "j.finished_at_ms FROM jobs j WHERE j.state = 'dead' AND j.id < ? AND ") +
          kShopJobFilter + " ORDER BY j.id DESC LIMIT ?",
      {before_or_max(before_id), shop_id, std::string(webhooks::kProcessJobKind), shop_domain,
       int64_t{limit}}));
  std::vector<DeadJobEntry> out;
  for (const Row& r : rows) {
    out.push_back(
        DeadJobEntry{r.i64(0), r.text(1), r.i64(2), r.i64(3), r.text(4), r.i64(5), r.opt_i64(6)});
  }
  return out;
}

Result<std::optional<std::string>> shop_job_state(Tx& tx, int64_t shop_id,
                                                  const std::string& shop_domain, int64_t job_id) {
  auto row = AG_TRY(
      tx.query_one(std::string("SELECT j.state FROM jobs j WHERE j.id = ? AND ") + kShopJobFilter,
                   {job_id, shop_id, std::string(webhooks::kProcessJobKind), shop_domain}));
  if (!row) return std::optional<std::string>();
  return std::optional<std::string>(row->text(0));
}

Result<std::vector<ExportEntry>> list_exports(Tx& tx, int64_t shop_id, int64_t before_id,
                                              int limit) {
  auto rows = AG_TRY(tx.query(
      "SELECT id, customer_id, data_request_id, created_at_ms, LENGTH(content) FROM data_exports "
      "WHERE shop_id = ? AND id < ? ORDER BY id DESC LIMIT ?",
      {shop_id, before_or_max(before_id), int64_t{limit}}));
  std::vector<ExportEntry> out;
  for (const Row& r : rows) {
    ExportEntry e;
    e.id = r.i64(0);
    e.customer_id = r.opt_i64(1);
    e.data_request_id = r.opt_i64(2);
    e.created_at_ms = r.i64(3);
    e.size_bytes = r.i64(4);
    out.push_back(std::move(e));
  }
  return out;
}

Result<std::optional<ExportEntry>> find_export(Tx& tx, int64_t shop_id, int64_t export_id) {
  auto row = AG_TRY(tx.query_one(
      "SELECT id, customer_id, data_request_id, created_at_ms, content FROM data_exports "
      "WHERE shop_id = ? AND id = ?",
      {shop_id, export_id}));
  if (!row) return std::optional<ExportEntry>();
  ExportEntry e;
  e.id = row->i64(0);
  e.customer_id = row->opt_i64(1);
  e.data_request_id = row->opt_i64(2);
  e.created_at_ms = row->i64(3);
  e.content = row->text(4);
  e.size_bytes = static_cast<int64_t>(e.content.size());
  return std::optional<ExportEntry>(std::move(e));
}

}  // namespace afterglow::app
