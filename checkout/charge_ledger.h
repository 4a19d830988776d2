// The charge ledger as the merchant reads it (/api/admin/charges): every charge of the shop with
// its key, PaymentIntent, amount, currency, state and every state change with its time and
// reason. Reads only; the writers are one_click.h and charge_fulfilment.h. Runs in the
// caller's transaction.
#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>

#include "plugin/core/db.h"

namespace afterglow::checkout {

// Newest first, up to `limit` charges with id < `before_id` (0: from the newest). Each:
// {id, charge_key, order_id, offer_id, product_id, variant_id, quantity, amount_minor, amount,
//  currency, discount_minor, payment_intent_id, state, reason, decline_code, refund_id,
//  created_at_ms, updated_at_ms, events: [{state, reason, at_ms}]}
Result<nlohmann::json> list_charges(Tx& tx, int64_t shop_id, int limit, int64_t before_id);
// One charge of the shop in the same form, or nullopt (another shop's charge is not found).
Result<std::optional<nlohmann::json>> charge_detail(Tx& tx, int64_t shop_id, int64_t charge_id);

}  // namespace afterglow::checkout
