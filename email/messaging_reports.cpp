#include "email/messaging_reports.h"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <tuple>
#include <utility>

#include "email/consent.h"
#include "email/flow_model.h"
#include "email/flow_store.h"
#include "plugin/core/shop_store.h"

namespace afterglow::email {
namespace {

using nlohmann::json;

constexpr int kMaxSendLogRows = 1000;

// The counters of one (step, channel) row, in the order the API lists them.
constexpr const char* kCounters[] = {
    "sent",          "delivered",    "bounced",          "failed",         "unknown",
    "pending",       "clicks",       "clicked_messages", "machine_clicks", "opens",
    "machine_opens", "unsubscribes", "attributed_orders"};

json zero_counters() {
  json j = json::object();
  for (const char* c : kCounters) j[c] = 0;
  return j;
}

// Step ids in the order the flow runs them (depth first: a split's branches in order).
void collect_step_order(const std::vector<FlowStep>& steps, std::vector<std::string>& out) {
  for (const FlowStep& s : steps) {
    out.push_back(s.id);
    collect_step_order(s.yes, out);
    collect_step_order(s.no, out);
    for (const RandomBranch& b : s.branches) collect_step_order(b.steps, out);
  }
}

}  // namespace

Result<json> flow_report(Tx& tx, int64_t shop_id, int64_t flow_id) {
  auto flow = AG_TRY(find_flow(tx, shop_id, flow_id));
  if (!flow) return fail(ErrorCode::kNotFound, "no flow " + std::to_string(flow_id));

  // ---- enrolments ----
  json enrolments{{"total", 0},     {"active", 0}, {"completed", 0},
                  {"cancelled", 0}, {"exited", 0}, {"exit_reasons", json::object()}};
  for (const Row& r : AG_TRY(tx.query(
           "SELECT state, exit_reason, COUNT(*) FROM enrolments WHERE shop_id = ? AND flow_id = ? "
           "GROUP BY state, exit_reason",
           {shop_id, flow_id}))) {
    std::string state = r.text(0);
    int64_t n = r.i64(2);
    enrolments["total"] = enrolments["total"].get<int64_t>() + n;
    if (enrolments.contains(state) && state != "exit_reasons" && state != "total") {
      enrolments[state] = enrolments[state].get<int64_t>() + n;
    }
    if (state == "exited") {
      std::string reason = r.is_null(1) ? "unknown" : r.text(1);
      json& reasons = enrolments["exit_reasons"];
      reasons[reason] = reasons.value(reason, int64_t{0}) + n;
    }
  }

  // ---- per step and channel ----
  std::map<std::pair<std::string, std::string>, json> rows;
  auto row = [&](const std::string& step, const std::string& channel) -> json& {
    auto [it, inserted] = rows.try_emplace({step, channel});
    if (inserted) it->second = zero_counters();
    return it->second;
  };
  auto add = [](json& j, const char* key, int64_t n) { j[key] = j[key].get<int64_t>() + n; };

  for (const Row& r : AG_TRY(
           tx.query("SELECT step_id, channel, state, COUNT(*) FROM messages WHERE shop_id = ? AND "
                    "flow_id = ? GROUP BY step_id, channel, state",
                    {shop_id, flow_id}))) {
    json& j = row(r.text(0), r.text(1));
    std::string state = r.text(2);
    int64_t n = r.i64(3);
    if (state == "sent" || state == "delivered" || state == "undelivered" || state == "bounced") {
      add(j, "sent", n);
    }
    if (state == "delivered") add(j, "delivered", n);
    if (state == "bounced" || state == "undelivered") add(j, "bounced", n);
    if (state == "failed") add(j, "failed", n);
    if (state == "unknown") add(j, "unknown", n);
    if (state == "sending" || state == "retry") add(j, "pending", n);
  }

  for (const Row& r : AG_TRY(tx.query(
           "SELECT m.step_id, m.channel, e.kind, e.machine, COUNT(*), COUNT(DISTINCT e.message_id) "
           "FROM message_events e JOIN messages m ON m.id = e.message_id "
           "WHERE m.shop_id = ? AND m.flow_id = ? AND e.kind IN ('click', 'open', 'unsubscribe') "
           "GROUP BY m.step_id, m.channel, e.kind, e.machine",
           {shop_id, flow_id}))) {
    json& j = row(r.text(0), r.text(1));
    std::string kind = r.text(2);
    bool machine = r.i64(3) != 0;
    int64_t n = r.i64(4);
    if (kind == "click") {
      add(j, machine ? "machine_clicks" : "clicks", n);
      if (!machine) add(j, "clicked_messages", r.i64(5));
    } else if (kind == "open") {
      add(j, machine ? "machine_opens" : "opens", n);
    } else {
      add(j, "unsubscribes", n);
    }
  }

  json revenue = json::array();
  int64_t attributed = 0;
  for (const Row& r : AG_TRY(
           tx.query("SELECT m.step_id, m.channel, COUNT(*) FROM attributions a "
                    "JOIN messages m ON m.id = a.message_id WHERE a.shop_id = ? AND a.flow_id = ? "
                    "GROUP BY m.step_id, m.channel",
                    {shop_id, flow_id}))) {
    add(row(r.text(0), r.text(1)), "attributed_orders", r.i64(2));
  }
  for (const Row& r : AG_TRY(
           tx.query("SELECT currency, COUNT(*), COALESCE(SUM(revenue_minor), 0) FROM attributions "
                    "WHERE shop_id = ? AND flow_id = ? GROUP BY currency ORDER BY currency",
                    {shop_id, flow_id}))) {
    attributed += r.i64(1);
    revenue.push_back(
        json{{"currency", r.text(0)}, {"amount_minor", r.i64(2)}, {"orders", r.i64(1)}});
  }

  // The flow's order first; steps no longer in the flow (edited since) after, by id.
  std::vector<std::string> order;
  collect_step_order(flow->steps, order);
  std::map<std::string, size_t> rank;
  for (size_t i = 0; i < order.size(); ++i) rank.emplace(order[i], i);
  std::vector<std::pair<std::pair<std::string, std::string>, json*>> sorted;
  for (auto& [key, j] : rows) sorted.emplace_back(key, &j);
  std::stable_sort(sorted.begin(), sorted.end(), [&](const auto& a, const auto& b) {
    auto ra = rank.count(a.first.first) ? rank[a.first.first] : order.size();
    auto rb = rank.count(b.first.first) ? rank[b.first.first] : order.size();
    return std::tie(ra, a.first) < std::tie(rb, b.first);
  });
  json steps = json::array();
  json totals = zero_counters();
  for (auto& [key, j] : sorted) {
    json step{{"step_id", key.first}, {"channel", key.second}};
    for (const char* c : kCounters) {
      step[c] = (*j)[c];
      add(totals, c, (*j)[c].get<int64_t>());
    }
    steps.push_back(std::move(step));
  }

  json skipped = json::object();
  for (const Row& r : AG_TRY(tx.query(
           "SELECT s.reason, COUNT(*) FROM send_log s JOIN enrolments e ON e.id = s.enrolment_id "
           "WHERE s.shop_id = ? AND e.flow_id = ? AND s.outcome IN ('skipped', 'delayed') "
           "GROUP BY s.reason ORDER BY s.reason",
           {shop_id, flow_id}))) {
    skipped[r.text(0)] = r.i64(1);
  }

  return json{{"flow",
               {{"id", flow->id},
                {"name", flow->name},
                {"status", std::string(flow_status_name(flow->status))}}},
              {"enrolments", std::move(enrolments)},
              {"steps", std::move(steps)},
              {"totals", std::move(totals)},
              {"skipped", std::move(skipped)},
              {"attribution", {{"orders", attributed}, {"revenue", std::move(revenue)}}}};
}

Result<json> customer_messaging(Tx& tx, int64_t shop_id, int64_t customer_id) {
  json log = json::array();
  auto rows = AG_TRY(tx.query(
      "SELECT s.id, e.flow_id, f.name, s.step_id, s.channel, s.outcome, s.reason, s.detail, "
      "s.at_ms FROM send_log s "
      "LEFT JOIN enrolments e ON e.id = s.enrolment_id "
      "LEFT JOIN flows f ON f.id = e.flow_id "
      "WHERE s.shop_id = ? AND s.customer_id = ? ORDER BY s.at_ms DESC, s.id DESC LIMIT ?",
      {shop_id, customer_id, int64_t{kMaxSendLogRows + 1}}));
  bool truncated = rows.size() > kMaxSendLogRows;
  if (truncated) rows.erase(rows.begin() + kMaxSendLogRows, rows.end());
  for (const Row& r : rows) {
    log.push_back(json{{"id", r.i64(0)},
                       {"flow_id", r.is_null(1) ? json(nullptr) : json(r.i64(1))},
                       {"flow_name", r.is_null(2) ? json(nullptr) : json(r.text(2))},
                       {"step_id", r.text(3)},
                       {"channel", r.is_null(4) ? json(nullptr) : json(r.text(4))},
                       {"outcome", r.text(5)},
                       {"reason", r.text(6)},
                       {"detail", r.is_null(7) ? json(nullptr) : json(r.text(7))},
                       {"at_ms", r.i64(8)}});
  }

  // Every address known for the person, for the suppression lookups.
  std::set<std::pair<std::string, std::string>> addresses;
  auto remember = [&](const std::string& channel, const std::optional<std::string>& address) {
    if (!address || address->empty()) return;
    AddressChannel c = channel == "sms" ? AddressChannel::kSms : AddressChannel::kEmail;
    std::string normalised = normalise_address(c, *address);
    if (!normalised.empty()) addresses.emplace(channel, std::move(normalised));
  };

  json consents = json::array();
  for (const Row& r : AG_TRY(tx.query(
           "SELECT channel, address, state, source, wording, opt_in_level, frequency, "
           "collected_at_ms, updated_at_ms FROM consents WHERE shop_id = ? AND customer_id = ? "
           "ORDER BY channel, address",
           {shop_id, customer_id}))) {
    remember(r.text(0), r.text(1));
    consents.push_back(json{{"channel", r.text(0)},
                            {"address", r.text(1)},
                            {"state", r.text(2)},
                            {"source", r.text(3)},
                            {"wording", r.is_null(4) ? json(nullptr) : json(r.text(4))},
                            {"opt_in_level", r.is_null(5) ? json(nullptr) : json(r.text(5))},
                            {"frequency", r.text(6)},
                            {"collected_at_ms", r.is_null(7) ? json(nullptr) : json(r.i64(7))},
                            {"updated_at_ms", r.i64(8)}});
  }
  if (auto c = AG_TRY(
          tx.query_one("SELECT email, phone FROM customers WHERE shop_id = ? AND customer_id = ?",
                       {shop_id, customer_id}))) {
    remember("email", c->opt_text(0));
    remember("sms", c->opt_text(1));
  }
  for (const Row& r : AG_TRY(tx.query(
           "SELECT DISTINCT channel, recipient FROM messages WHERE shop_id = ? AND customer_id = ?",
           {shop_id, customer_id}))) {
    remember(r.text(0), r.text(1));
  }

  std::set<std::pair<std::string, std::string>> reasons;
  for (const auto& [channel, address] : addresses) {
    AddressChannel c = channel == "sms" ? AddressChannel::kSms : AddressChannel::kEmail;
    if (auto reason = AG_TRY(suppression_reason(tx, shop_id, c, address))) {
      reasons.emplace(channel, *reason);
    }
  }
  json suppressions = json::array();
  for (const auto& [channel, reason] : reasons) {
    suppressions.push_back(json{{"channel", channel}, {"reason", reason}});
  }

  json out{{"customer_id", customer_id},
           {"send_log", std::move(log)},
           {"consents", std::move(consents)},
           {"suppressions", std::move(suppressions)}};
  if (truncated) out["truncated"] = true;
  return out;
}

}  // namespace afterglow::email
