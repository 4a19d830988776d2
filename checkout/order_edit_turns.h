// One order edit at a time on each order. Two edits open on one order at once each see the
// other's line in what the order owes (orderEditBegin starts from the order as committed so
// far), so a second accept made while the first append is running would be refunded as "the
// order would owe 35.40, not 15.00", or mark the first one's line paid and leave the first
// retrying "Order cannot be marked as paid". The appends of one order therefore take turns,
// in accept order (charge id), kept in order_edit_locks:
//
//   take_edit_turn   before orderEditBegin: the turn is the charge's when nobody else holds a
//                    live lease on the order and no earlier accept of it is waiting to append
//   hold_edit_turn   while the charge retries orderMarkAsPaid: the lease stays its own
//   pass_edit_turn   when the charge's edit is over (appended, refunding, append_unknown): the
//                    turn is released and the next waiting charge's append is queued
//
// A charge that must wait completes its job after queuing a look-again at the time its wait
// would end if nobody handed the turn over (the holder's lease, or how long an earlier accept
// is waited for): a holder whose process died holds up the order for one lease, not forever.
// Every call runs in the caller's write transaction.
#pragma once

#include <cstdint>

#include "checkout/charge_store.h"
#include "plugin/core/db.h"
#include "plugin/core/job_queue.h"

namespace afterglow::checkout {

// How long a turn is held without news, and how long an earlier accept that is waiting to
// append is waited for. Long enough for an edit and its mark-paid retries; short enough that a
// lost turn delays an order's later appends by hours, not days.
inline constexpr int64_t kEditTurnLeaseMs = 2LL * 60 * 60 * 1000;

struct EditTurn {
  bool ours = false;
  // When not ours: who is ahead (the holder, or the earlier accept waiting) and when to look
  // again if nobody hands the turn over before then.
  int64_t ahead_charge_id = 0;
  int64_t look_again_at_ms = 0;
};

Result<EditTurn> take_edit_turn(Tx& tx, const ChargeRow& charge, int64_t now_ms);

// Renews the charge's lease on its order's turn (no-op when it does not hold it).
Result<void> hold_edit_turn(Tx& tx, const ChargeRow& charge, int64_t now_ms);

// Releases the charge's turn and, if it held it, queues the append of the order's earliest
// charge still waiting (state succeeded). No-op when it does not hold the turn.
Result<void> pass_edit_turn(Tx& tx, JobQueue& queue, const ChargeRow& charge, int64_t now_ms);

// Queues the waiting charge's look-again append at `turn.look_again_at_ms`.
Result<void> wait_for_edit_turn(Tx& tx, JobQueue& queue, const ChargeRow& charge,
                                const EditTurn& turn);

}  // namespace afterglow::checkout
