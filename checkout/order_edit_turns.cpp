#include "checkout/order_edit_turns.h"

#include <string>

namespace afterglow::checkout {

Result<EditTurn> take_edit_turn(Tx& tx, const ChargeRow& c, int64_t now_ms) {
  EditTurn turn;
  auto lock = AG_TRY(tx.query_one(
      "SELECT charge_id, lease_until_ms FROM order_edit_locks WHERE shop_id = ? AND order_id = ? "
      "FOR UPDATE",
      {c.shop_id, c.order_id}));
  const bool mine = lock && lock->i64(0) == c.id;
  if (lock && !mine && lock->i64(1) > now_ms) {
    turn.ahead_charge_id = lock->i64(0);
    turn.look_again_at_ms = lock->i64(1);
    return turn;
  }
  if (!mine) {
    // Accept order: an earlier accept of this order that is ready to append goes first (it is
    // handed the turn by whoever releases it). One that has been waiting longer than a lease is
    // presumed stuck and no longer holds up the order.
    auto earlier = AG_TRY(tx.query_one(
        "SELECT id, updated_at_ms FROM charges WHERE shop_id = ? AND order_id = ? AND id < ? "
        "AND state = 'succeeded' AND updated_at_ms > ? ORDER BY id LIMIT 1",
        {c.shop_id, c.order_id, c.id, now_ms - kEditTurnLeaseMs}));
    if (earlier) {
      turn.ahead_charge_id = earlier->i64(0);
      turn.look_again_at_ms = earlier->i64(1) + kEditTurnLeaseMs;
      return turn;
    }
  }
  // Conditional on the row as it is at write time: on PostgreSQL a concurrent taker that
  // inserted first makes this a no-op (0 rows) instead of a second holder.
  int64_t n = AG_TRY(tx.exec(
      "INSERT INTO order_edit_locks (shop_id, order_id, charge_id, lease_until_ms) "
      "VALUES (?, ?, ?, ?) ON CONFLICT (shop_id, order_id) DO UPDATE SET "
      "charge_id = excluded.charge_id, lease_until_ms = excluded.lease_until_ms "
      "WHERE order_edit_locks.charge_id = excluded.charge_id "
      "OR order_edit_locks.lease_until_ms <= ?",
      {c.shop_id, c.order_id, c.id, now_ms + kEditTurnLeaseMs, now_ms}));
  if (n == 1) {
    turn.ours = true;
    return turn;
  }
  turn.look_again_at_ms = now_ms + kEditTurnLeaseMs;
  return turn;
}

Result<void> hold_edit_turn(Tx& tx, const ChargeRow& c, int64_t now_ms) {
  AG_CHECK(tx.exec(
      "UPDATE order_edit_locks SET lease_until_ms = ? WHERE shop_id = ? AND order_id = ? AND "
      "charge_id = ?",
      {now_ms + kEditTurnLeaseMs, c.shop_id, c.order_id, c.id}));
  return {};
}

Result<void> pass_edit_turn(Tx& tx, JobQueue& queue, const ChargeRow& c, int64_t now_ms) {
  int64_t n = AG_TRY(
      tx.exec("DELETE FROM order_edit_locks WHERE shop_id = ? AND order_id = ? AND charge_id = ?",
              {c.shop_id, c.order_id, c.id}));
  if (n == 0) return {};
  auto next = AG_TRY(tx.query_one(
      "SELECT id FROM charges WHERE shop_id = ? AND order_id = ? AND id <> ? AND "
      "state = 'succeeded' ORDER BY id LIMIT 1",
      {c.shop_id, c.order_id, c.id}));
  if (!next) return {};
  return enqueue_append_run(tx, queue, c.shop_id, next->i64(0), now_ms,
                            ":after:" + std::to_string(c.id));
}

Result<void> wait_for_edit_turn(Tx& tx, JobQueue& queue, const ChargeRow& c,
                                const EditTurn& turn) {
  return enqueue_append_run(tx, queue, c.shop_id, c.id, turn.look_again_at_ms,
                            ":wait:" + std::to_string(turn.look_again_at_ms));
}

}  // namespace afterglow::checkout
