// What the merchant reads about the sequences: one flow's funnel, and everything messaging did
// (or decided not to do) for one customer. Read-only; runs in the caller's transaction and keeps
// no state. JSON shapes are the admin API's (GET /api/admin/flows/{id}/report,
// GET /api/admin/customers/{id}/messaging); times are *_ms integers like the rest of the API.
#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>

#include "plugin/core/db.h"

namespace afterglow::email {

// The funnel of flow `flow_id` (kNotFound when the shop has no such flow):
//   {"flow": {"id", "name", "status"},
//    "enrolments": {"total", "active", "completed", "cancelled", "exited",
//                   "exit_reasons": {"<reason>": n, …}},
//    "steps": [{"step_id", "channel",
//               "sent", "delivered", "bounced", "failed", "unknown", "pending",
//               "clicks", "clicked_messages", "machine_clicks", "opens", "machine_opens",
//               "unsubscribes", "attributed_orders"}, …]   (in the flow's step order),
//    "totals": {the same counters over every step},
//    "skipped": {"<reason>": n, …}                  (send_log: skipped and delayed decisions),
//    "attribution": {"orders": n, "revenue": [{"currency", "amount_minor", "orders"}, …]}}
// "sent" counts every message that left us (sent, delivered, undelivered, bounced); "bounced"
// includes undelivered SMS; "pending" is sending or retry. "clicks"/"opens" are human
// (machine = 0); the machine ones are reported apart and never drive anything.
Result<nlohmann::json> flow_report(Tx& tx, int64_t shop_id, int64_t flow_id);

// One customer (platform customer id) as messaging sees them:
//   {"customer_id",
//    "send_log": [{"id", "flow_id", "flow_name", "step_id", "channel", "outcome", "reason",
//                  "detail", "at_ms"}, …]   newest first (at most 1000; "truncated": true when
//                                            there were more),
//    "consents": [{"channel", "address", "state", "source", "wording", "opt_in_level",
//                  "frequency", "collected_at_ms", "updated_at_ms"}, …],
//    "suppressions": [{"channel", "reason"}, …]}
// Suppressions are looked up for every address known for the customer (customers row,
// consents, messages) and reported as reasons only: the list is keyed by hash and outlives the
// addresses. An unknown customer gives empty lists.
Result<nlohmann::json> customer_messaging(Tx& tx, int64_t shop_id, int64_t customer_id);

}  // namespace afterglow::email
