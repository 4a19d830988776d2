#include "email/flow_store.h"

#include <nlohmann/json.hpp>

#include "plugin/core/json_fields.h"

namespace afterglow::email {
namespace {

using nlohmann::json;

constexpr const char* kColumns =
    "id, shop_id, name, status, trigger_kind, trigger_filters, steps, exit_conditions, "
    "reentry_cooldown_hours, created_at_ms, updated_at_ms";

// Stored rows were written from flow_to_json, so they are read back through the one parser;
// a row that no longer parses is a bug (or a hand edit) and is reported as kInternal.
Result<Flow> from_row(const Row& r) {
  json j{{"name", r.text(2)},
         {"status", r.text(3)},
         {"trigger", r.text(4)},
         {"trigger_filters", json::parse(r.text(5), nullptr, false)},
         {"steps", json::parse(r.text(6), nullptr, false)},
         {"exit_conditions", json::parse(r.text(7), nullptr, false)},
         {"reentry_cooldown_hours", r.i64(8)}};
  auto flow = flow_from_json(j);
  if (!flow) {
    return fail(ErrorCode::kInternal,
                "stored flow " + std::to_string(r.i64(0)) + " is invalid: " + flow.error().message);
  }
  flow->id = r.i64(0);
  flow->shop_id = r.i64(1);
  flow->created_at_ms = r.i64(9);
  flow->updated_at_ms = r.i64(10);
  return flow;
}

Params row_params(const Flow& f) {
  json j = flow_to_json(f);
  return {f.name,
          std::string(flow_status_name(f.status)),
          std::string(flow_trigger_name(f.trigger)),
          j["trigger_filters"].dump(),
          j["steps"].dump(),
          j["exit_conditions"].dump(),
          f.reentry_cooldown_hours};
}

Result<std::vector<Flow>> rows_to_flows(const std::vector<Row>& rows) {
  std::vector<Flow> out;
  out.reserve(rows.size());
  for (const Row& r : rows) out.push_back(AG_TRY(from_row(r)));
  return out;
}

}  // namespace

Result<Flow> insert_flow(Tx& tx, int64_t shop_id, Flow flow, int64_t now_ms) {
  Params p{shop_id};
  for (DbValue& v : row_params(flow)) p.push_back(std::move(v));
  p.push_back(now_ms);
  p.push_back(now_ms);
  auto row = AG_TRY(tx.query_one(
      std::string("INSERT INTO flows (shop_id, name, status, trigger_kind, trigger_filters, "
                  "steps, exit_conditions, reentry_cooldown_hours, created_at_ms, "
                  "updated_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING ") +
          kColumns,
      p));
  if (!row) return fail(ErrorCode::kInternal, "flow insert returned no row");
  return from_row(*row);
}

Result<std::optional<Flow>> find_flow(Tx& tx, int64_t shop_id, int64_t flow_id) {
  auto row = AG_TRY(
      tx.query_one(std::string("SELECT ") + kColumns + " FROM flows WHERE shop_id = ? AND id = ?",
                   {shop_id, flow_id}));
  if (!row) return std::optional<Flow>();
  return std::optional<Flow>(AG_TRY(from_row(*row)));
}

Result<std::optional<Flow>> update_flow(Tx& tx, int64_t shop_id, int64_t flow_id, Flow flow,
                                        int64_t now_ms) {
  Params p = row_params(flow);
  p.push_back(now_ms);
  p.push_back(shop_id);
  p.push_back(flow_id);
  auto row = AG_TRY(tx.query_one(
      std::string("UPDATE flows SET name = ?, status = ?, trigger_kind = ?, trigger_filters = ?, "
                  "steps = ?, exit_conditions = ?, reentry_cooldown_hours = ?, "
                  "version = version + 1, updated_at_ms = ? WHERE shop_id = ? AND id = ? "
                  "RETURNING ") +
          kColumns,
      p));
  if (!row) return std::optional<Flow>();
  return std::optional<Flow>(AG_TRY(from_row(*row)));
}

Result<bool> delete_flow(Tx& tx, int64_t shop_id, int64_t flow_id) {
  int64_t n = AG_TRY(tx.exec("DELETE FROM flows WHERE shop_id = ? AND id = ?", {shop_id, flow_id}));
  return n == 1;
}

Result<std::vector<Flow>> list_flows(Tx& tx, int64_t shop_id, int64_t after_id, int limit) {
  return rows_to_flows(AG_TRY(tx.query(std::string("SELECT ") + kColumns +
                                           " FROM flows WHERE shop_id = ? AND id > ? "
                                           "ORDER BY id LIMIT ?",
                                       {shop_id, after_id, int64_t{limit}})));
}

Result<std::vector<Flow>> live_flows(Tx& tx, int64_t shop_id, FlowTrigger trigger) {
  return rows_to_flows(AG_TRY(tx.query(std::string("SELECT ") + kColumns +
                                           " FROM flows WHERE shop_id = ? AND trigger_kind = ? "
                                           "AND status = 'live' ORDER BY id",
                                       {shop_id, std::string(flow_trigger_name(trigger))})));
}

}  // namespace afterglow::email
