// The flows table (email/migrations/0301_flows.sql). Every call is scoped to one shop: a flow of
// another shop is treated exactly like one that does not exist. Calls run inside the caller's
// transaction and keep no state.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "email/flow_model.h"
#include "plugin/core/db.h"

namespace afterglow::email {

// Stores a new flow for `shop_id`; returns it with id and times set.
Result<Flow> insert_flow(Tx& tx, int64_t shop_id, Flow flow, int64_t now_ms);

// The flow, or nullopt when the shop has no flow with that id.
Result<std::optional<Flow>> find_flow(Tx& tx, int64_t shop_id, int64_t flow_id);

// Replaces the flow's fields (its version goes up by one); nullopt when the shop has no flow
// with that id.
Result<std::optional<Flow>> update_flow(Tx& tx, int64_t shop_id, int64_t flow_id, Flow flow,
                                        int64_t now_ms);

// Deletes the flow; false when the shop has no flow with that id.
Result<bool> delete_flow(Tx& tx, int64_t shop_id, int64_t flow_id);

// Up to `limit` flows of the shop with id > `after_id`, in id order.
Result<std::vector<Flow>> list_flows(Tx& tx, int64_t shop_id, int64_t after_id, int limit);

// The shop's live flows started by `trigger`, in id order.
Result<std::vector<Flow>> live_flows(Tx& tx, int64_t shop_id, FlowTrigger trigger);

}  // namespace afterglow::email
