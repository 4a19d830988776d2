// The charges table as the checkout module writes it: one row per (shop, order, offer), moved
// between states only by fenced transitions (the row changes only if it is still in the state
// the caller saw), each recorded in charge_events with its reason. Shared by the accept path
// (one_click.h), the order append (charge_fulfilment.h) and Stripe's webhooks
// (payment_events.h). Every call runs in the caller's transaction.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "checkout/stripe_client.h"
#include "plugin/core/clock.h"
#include "plugin/core/db.h"
#include "plugin/core/job_queue.h"

namespace afterglow::checkout {

struct ChargeRow {
  int64_t id = 0;
  int64_t shop_id = 0;
  std::string shop_domain;
  int64_t order_id = 0;
  int64_t offer_id = 0;
  std::string charge_key, idempotency_key, stripe_account, customer, payment_method;
  int64_t product_id = 0, variant_id = 0, quantity = 1;
  int64_t amount_minor = 0, discount_minor = 0;
  std::string currency;
  std::string payment_intent_id, state, reason, decline_code, message, refund_id;
  std::optional<int64_t> lease_until_ms;
  std::optional<int64_t> customer_id;  // the shopper, for offer events
  // Past this, reconciliation stops sending and settles the charge (one_click.h). Rows made
  // before the column existed have none: their bound runs from created_at_ms.
  std::optional<int64_t> reconcile_deadline_ms;
  int64_t reconcile_seq = 0;  // the newest reconcile job's number; older ones do nothing
  int64_t created_at_ms = 0;
};

// The reason (prefix) of a charge reconciliation settled as never made (one_click.h), and what
// the shopper is told.
inline constexpr std::string_view kNotChargedReason = "not_charged";
inline constexpr std::string_view kNotChargedMessage =
    "We couldn't add this item to your order. You have not been charged.";

// "ag:{shop_id}:{order_id}:{offer_id}": the row's identity.
std::string charge_key(int64_t shop_id, int64_t order_id, int64_t offer_id);

Result<std::optional<ChargeRow>> load_charge(Tx& tx, int64_t charge_id);
Result<std::optional<ChargeRow>> load_charge_by_key(Tx& tx, std::string_view key);

// Inserts `row` (state pending, leased until `lease_until_ms`, with its reconcile deadline) with
// its first event. Returns the id; kConflict if the key exists.
Result<int64_t> insert_charge(Tx& tx, const ChargeRow& row, int64_t lease_until_ms,
                              int64_t now_ms);

// Numbers a new reconcile job for the charge: increments and returns charges.reconcile_seq.
Result<int64_t> next_reconcile_seq(Tx& tx, int64_t charge_id);

// Takes the lease when the charge is `pending` and nobody holds a live lease. True if taken.
Result<bool> lease_charge(Tx& tx, int64_t charge_id, int64_t lease_until_ms, int64_t now_ms);

struct Transition {
  Transition() = default;
  Transition(std::string to_state, std::string why)
      : to(std::move(to_state)), reason(std::move(why)) {}
  std::string to;
  std::string reason;
  std::optional<std::string> payment_intent_id, decline_code, message, refund_id;
};
// Moves the charge from `from` to `t.to` (and clears the lease). False when the row is no longer
// in `from` (someone else moved it first); nothing is written then.
Result<bool> transition(Tx& tx, int64_t charge_id, std::string_view from, const Transition& t,
                        int64_t now_ms);

// What a PaymentIntent's state means for the charge, applied with transition() from `from`:
// succeeded → succeeded (+ the append job), requires_action, processing, requires_payment_method
// after an attempt → declined, canceled → failed. Also records the matching offer event.
// Returns the new state ("" when the PaymentIntent says nothing final or new, e.g. still
// requires_confirmation, or the row had moved on).
Result<std::string> apply_intent(Tx& tx, const ChargeRow& charge, std::string_view from,
                                 const PaymentIntent& intent, JobQueue& queue, int64_t now_ms);

// A payment that turned up for a charge already settled as not charged (failed, not_charged):
// the shopper was told nothing was charged, so a succeeded payment is given back. Moves the
// charge to refunding with the payment and queues the append job, whose refund step returns
// the money (charge_fulfilment.h). False when the payment took no money or the charge had
// moved on.
Result<bool> refund_late_payment(Tx& tx, const ChargeRow& charge, const PaymentIntent& intent,
                                 JobQueue& queue, int64_t now_ms);

// Enqueues the order append for a succeeded charge (once per charge).
Result<void> enqueue_append(Tx& tx, JobQueue& queue, const ChargeRow& charge, int64_t now_ms);
// A further run of a charge's append at `run_at_ms` (a turn handed over, a look-again), once
// per `key_suffix` (":after:<charge>", ":wait:<time>").
Result<void> enqueue_append_run(Tx& tx, JobQueue& queue, int64_t shop_id, int64_t charge_id,
                                int64_t run_at_ms, std::string_view key_suffix);

// Records an offer event for the charge (kind: charge_succeeded, charge_declined, …).
Result<void> charge_offer_event(Tx& tx, const ChargeRow& charge, std::string_view kind,
                                std::string_view detail, int64_t now_ms);

// The PaymentIntent request a charge makes: built only from the row, so every retry and every
// reconciliation sends byte-identical parameters under the same Idempotency-Key.
CreatePaymentIntent payment_intent_request(const ChargeRow& charge);

}  // namespace afterglow::checkout
