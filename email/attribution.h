// Which message an order is credited to (spec/messaging.md §4, "Attribution").
//
// Last touch, clicks only: the person's latest human click (message_events kind 'click',
// machine = 0) in the shop's attribution window (ShopSettings::attribution_days, default 5) up
// to the order's time wins. Opens never count (Apple Mail Privacy Protection makes them
// meaningless), nor do clicks flagged as machine (link scanners). The window is the same for
// email and SMS clicks.
//
// The person is matched by messages.customer_id when the order has a customer, or by the
// message's recipient being the order's normalised email (an email message); either match
// counts, so a guest's click on an abandoned-checkout email still credits the order they place
// after creating an account.
//
// One attributions row per order (UNIQUE (shop_id, order_id)): the first call decides, later
// calls for the same order change nothing and return what was decided. Runs in the caller's
// transaction; keeps no state.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "plugin/core/db.h"

namespace afterglow::email {

// Credits the order (revenue in minor units of `currency`, placed at `ordered_at_ms`) to the
// message of the person's last human click in the window, and returns that message's id;
// nullopt (and nothing written) when there is no such click. An order already attributed
// returns its existing message id. Errors: database errors; kNotFound for an unknown shop.
Result<std::optional<int64_t>> attribute_order(Tx& tx, int64_t shop_id, int64_t order_id,
                                               std::optional<int64_t> customer_id,
                                               std::string_view email, int64_t revenue_minor,
                                               std::string_view currency, int64_t ordered_at_ms);

}  // namespace afterglow::email
