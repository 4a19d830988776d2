#include "webhooks/inbox.h"

namespace afterglow::webhooks {

Result<IntakeResult> Inbox::record(const Delivery& d) {
  IntakeResult result = IntakeResult::kDuplicate;
  int64_t now = clock_.now_ms();
  auto opt_text = [](const std::string& s) -> DbValue {
    if (s.empty()) return std::monostate{};
    return s;
  };
  // Intake is the hot path: concurrent deliveries share one commit (group commit).
  AG_CHECK(db_.write_grouped([&](Tx& tx) -> Result<void> {
    auto row = AG_TRY(tx.query_one(
        "INSERT INTO webhook_inbox (source, shop_domain, delivery_id, topic, api_version, "
        "event_id, triggered_at, subject_customer_id, body, state, received_at_ms) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'received', ?) "
        "ON CONFLICT (source, shop_domain, delivery_id) DO NOTHING RETURNING id",
        {d.source, d.shop_domain, d.delivery_id, d.topic, opt_text(d.api_version),
         opt_text(d.event_id), opt_text(d.triggered_at),
         d.subject_customer_id ? DbValue{*d.subject_customer_id} : DbValue{}, d.body, now}));
    if (!row) {
      result = IntakeResult::kDuplicate;
      return {};
    }
    int64_t inbox_id = row->i64(0);
    JobSpec spec;
    spec.kind = kProcessJobKind;
    spec.payload = "{\"inbox_id\":" + std::to_string(inbox_id) + "}";
    spec.unique_key = "webhook:" + std::to_string(inbox_id);
    AG_CHECK(queue_.enqueue(tx, spec));
    result = IntakeResult::kAccepted;
    return {};
  }));
  return result;
}

}  // namespace afterglow::webhooks
