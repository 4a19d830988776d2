#include "webhooks/dispatcher.h"

#include <nlohmann/json.hpp>

#include "plugin/core/log.h"

namespace afterglow::webhooks {

WebhookDispatcher::WebhookDispatcher(Db& db, const Clock& clock, Metrics& metrics)
    : db_(db), clock_(clock), metrics_(metrics) {
  metrics_.describe("afterglow_webhooks_processed_total", Metrics::Type::kCounter,
                    "Stored webhooks processed, by source, topic and outcome.");
}

void WebhookDispatcher::on(const std::string& source, const std::string& topic,
                           TopicHandler handler) {
  handlers_[{source, topic}].push_back(std::move(handler));
}

bool WebhookDispatcher::handles(const std::string& source, const std::string& topic) const {
  return handlers_.count({source, topic}) > 0;
}

std::vector<std::string> WebhookDispatcher::topics(const std::string& source) const {
  std::vector<std::string> out;
  for (const auto& [key, handler] : handlers_) {
    if (key.first == source) out.push_back(key.second);
  }
  return out;  // the map is ordered by (source, topic), so this is sorted
}

Result<void> WebhookDispatcher::record_failure(int64_t inbox_id, const std::string& error,
                                               bool final) {
  return db_.write([&](Tx& tx) -> Result<void> {
    AG_CHECK(tx.exec(
        "UPDATE webhook_inbox SET note = ?, state = CASE WHEN ? = 1 THEN 'failed' ELSE state END "
        "WHERE id = ? AND state = 'received'",
        {error.substr(0, 2000), int64_t{final ? 1 : 0}, inbox_id}));
    return {};
  });
}

Result<void> WebhookDispatcher::process(const Job& job) {
  int64_t inbox_id = 0;
  try {
    inbox_id = nlohmann::json::parse(job.payload).at("inbox_id").get<int64_t>();
  } catch (const std::exception& e) {
    return fail(ErrorCode::kInvalidArgument, "bad webhook.process payload");
  }

  std::string source, topic, outcome_name;
  // FOR UPDATE: when a lease expired while the first worker was still running, the second one
  // waits on the row lock and then sees the row processed (PostgreSQL, READ COMMITTED).
  auto run = [&](Tx& tx) -> Result<void> {
    auto row = AG_TRY(tx.query_one(
        "SELECT source, shop_domain, topic, delivery_id, api_version, body, received_at_ms, "
        "state FROM webhook_inbox WHERE id = ? FOR UPDATE",
        {inbox_id}));
    if (!row) {
      outcome_name = "missing";  // erased by shop/redact before it ran
      return {};
    }
    InboxEvent ev;
    ev.inbox_id = inbox_id;
    ev.source = source = row->text(0);
    ev.shop_domain = row->text(1);
    ev.topic = topic = row->text(2);
    ev.delivery_id = row->text(3);
    ev.api_version = row->text(4);
    ev.body = row->text(5);
    ev.received_at_ms = row->i64(6);
    if (row->text(7) != "received" && row->text(7) != "failed") {
      outcome_name = "already_done";  // a re-run after a crash: the effect is already committed
      return {};
    }
    Outcome outcome;
    auto it = handlers_.find({ev.source, ev.topic});
    if (it == handlers_.end()) {
      outcome = Outcome::ignore("no handler for " + ev.source + " topic " + ev.topic);
    } else {
      outcome.ignored = true;
      for (const TopicHandler& handler : it->second) {
        Outcome one = AG_TRY(handler(tx, ev));  // an error returns here: everything rolls back
        outcome.ignored = outcome.ignored && one.ignored;
        if (one.note.empty()) continue;
        if (!outcome.note.empty()) outcome.note += "; ";
        outcome.note += one.note;
      }
    }
    outcome_name = outcome.ignored ? "ignored" : "processed";
    // The handler may have erased this row (shop/redact); then there is nothing to mark.
    AG_CHECK(tx.exec(
        "UPDATE webhook_inbox SET state = ?, note = ?, processed_at_ms = ? WHERE id = ? "
        "AND state IN ('received', 'failed')",
        {std::string(outcome.ignored ? "ignored" : "processed"),
         outcome.note.empty() ? DbValue{} : DbValue{outcome.note}, clock_.now_ms(), inbox_id}));
    return {};
  };

  Result<void> r;
  try {
    r = db_.write(run);
  } catch (const std::exception& e) {
    r = fail(ErrorCode::kInternal, std::string("handler threw: ") + e.what());
  }
  if (!r) {
    bool final = r.error().code == ErrorCode::kInvalidArgument || job.attempt >= job.max_attempts;
    (void)record_failure(inbox_id, r.error().message, final);
    metrics_.inc("afterglow_webhooks_processed_total",
                 {{"source", source}, {"topic", topic}, {"outcome", "error"}});
    return r;
  }
  metrics_.inc("afterglow_webhooks_processed_total",
               {{"source", source}, {"topic", topic}, {"outcome", outcome_name}});
  return {};
}

}  // namespace afterglow::webhooks
