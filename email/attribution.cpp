#include "email/attribution.h"

#include <string>

#include "plugin/core/shop_settings.h"
#include "plugin/core/shop_store.h"

namespace afterglow::email {

Result<std::optional<int64_t>> attribute_order(Tx& tx, int64_t shop_id, int64_t order_id,
                                               std::optional<int64_t> customer_id,
                                               std::string_view email, int64_t revenue_minor,
                                               std::string_view currency, int64_t ordered_at_ms) {
  auto existing =
      AG_TRY(tx.query_one("SELECT message_id FROM attributions WHERE shop_id = ? AND order_id = ?",
                          {shop_id, order_id}));
  if (existing) return std::optional<int64_t>(existing->i64(0));

  ShopSettings settings = AG_TRY(load_shop_settings(tx, shop_id));
  const int64_t window_ms = int64_t{settings.attribution_days} * 24 * 3600 * 1000;
  std::string address = normalise_address(AddressChannel::kEmail, email);
  if (!customer_id && address.empty()) return std::optional<int64_t>();

  // -1 never matches a platform customer id, so one statement covers "no customer" too.
  auto click = AG_TRY(tx.query_one(
      "SELECT m.id, m.flow_id, e.at_ms FROM message_events e "
      "JOIN messages m ON m.id = e.message_id "
      "WHERE e.shop_id = ? AND m.shop_id = ? AND e.kind = 'click' AND e.machine = 0 "
      "AND e.at_ms <= ? AND e.at_ms >= ? "
      "AND (m.customer_id = ? OR (m.channel = 'email' AND m.recipient = ? AND m.recipient <> '')) "
      "ORDER BY e.at_ms DESC, e.id DESC LIMIT 1",
      {shop_id, shop_id, ordered_at_ms, ordered_at_ms - window_ms, customer_id.value_or(-1),
       address}));
  if (!click) return std::optional<int64_t>();

  int64_t message_id = click->i64(0);
  auto inserted = AG_TRY(tx.query(
      "INSERT INTO attributions (shop_id, order_id, message_id, flow_id, revenue_minor, currency, "
      "clicked_at_ms, at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
      "ON CONFLICT (shop_id, order_id) DO NOTHING RETURNING message_id",
      {shop_id, order_id, message_id, click->i64(1), revenue_minor, std::string(currency),
       click->i64(2), ordered_at_ms}));
  if (inserted.empty()) {
    // Another transaction attributed the order first (PostgreSQL); its answer stands.
    auto row = AG_TRY(
        tx.query_one("SELECT message_id FROM attributions WHERE shop_id = ? AND order_id = ?",
                     {shop_id, order_id}));
    if (row) return std::optional<int64_t>(row->i64(0));
  }
  return std::optional<int64_t>(message_id);
}

}  // namespace afterglow::email
