// One-click accept and decline on the thank-you page: the shopper's stored card is charged
// through Stripe, in the shop's own Stripe account, exactly once per (shop, order, offer), and
// the item is then appended to the platform order by a durable job (charge_fulfilment.h).
//
// Exactly once (ARCHITECTURE.md "Invariants"):
//   - The charge row is unique per (shop, order, offer); its charge_key is Stripe's
//     Idempotency-Key, reused by every retry, every repeated accept and every reconciliation.
//   - Concurrent identical accepts in one process queue on a per-charge mutex; across processes
//     a lease on the row lets one request talk to Stripe while the others answer "processing".
//   - An answer Stripe did not give (stored 500, network failure after the client's retries, a
//     crash mid-call) leaves the row `unknown`/`pending` and enqueues a reconciliation job that
//     looks the PaymentIntent up by its metadata, or repeats the call with the same key; it never
//     uses a new key.
// Reconciliation is bounded and single (spec/stripe.md §2): a charge has one reconcile loop
// (each job carries charges.reconcile_seq and only the newest acts), retrying with backoff until
// the charge's deadline: the offer's window, at most `reconcile_bound` (1 h) after the accept.
// Stripe keeps an Idempotency-Key for 24 h, so an unbounded loop would one day charge a card
// under a key Stripe forgot. At the deadline, with no PaymentIntent found, the charge becomes
// `failed` with reason "not_charged: …" and is never sent again; one more search later (Stripe's
// search lags) or a payment_intent.succeeded webhook that still finds a payment refunds it.
// Charge states (charges.state; every change is a charge_events row with its reason):
//   pending          row made; Stripe call not answered yet (lease_until_ms while in flight)
//   succeeded        PaymentIntent succeeded; the append job is queued
//   requires_action  the bank wants 3-D Secure; the page completes it with Stripe.js and the
//                    final state arrives by webhook (payment_events.h)
//   processing       Stripe is still processing; final state by webhook
//   declined         card declined (402); message is safe to show
//   failed           Stripe refused the request (4xx) or the PaymentIntent was cancelled
//   unknown          Stripe's answer is indeterminate; reconciliation runs
//   committing, committed, appended, append_unknown, refunding, refunded, refund_failed:
//                    the order-append stages, see charge_fulfilment.h
// Thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "checkout/offer_token.h"
#include "checkout/stripe_client.h"
#include "plugin/core/clock.h"
#include "plugin/core/db.h"
#include "plugin/core/job_queue.h"

namespace afterglow::checkout {

// Job kinds registered by the shell (plugin/app/app_context.cpp).
inline constexpr std::string_view kAppendJobKind = "checkout.append";        // {"charge_id"}
// {"charge_id", "seq", "after_check"?}: see reconcile().
inline constexpr std::string_view kReconcileJobKind = "checkout.reconcile";
// Enqueued with a fresh decline of an offer on a known order, in the decline's transaction:
// {"shop_id", "order_id", "offer_id", "customer_id"?}, unique per (shop, order, offer). The
// email module's offer-declined flows start from it (its handler is registered by the shell).
inline constexpr std::string_view kOfferDeclinedJobKind = "offer.declined";

struct AcceptOutcome {
  // succeeded | requires_action | processing | declined | failed | refunded
  std::string status;
  std::string message;        // safe to show the shopper ("" when none)
  std::string client_secret;  // requires_action only; never stored or logged
  std::string payment_intent_id;
  int64_t charged_minor = 0;  // succeeded: what was charged
  std::string currency;
  int64_t charge_id = 0;
  bool replayed = false;      // this accept repeated an earlier one: nothing new was charged
};

struct OneClickOptions {
  // The lease a request holds on a charge row while it talks to Stripe; a crashed request's
  // charge is picked up by reconciliation after it.
  std::chrono::milliseconds lease{std::chrono::seconds(90)};
  // The first reconcile waits this long; each later one twice as long, up to the maximum.
  std::chrono::milliseconds reconcile_delay{std::chrono::seconds(30)};
  std::chrono::milliseconds reconcile_max_delay{std::chrono::minutes(10)};
  // The longest a charge is reconciled by sending it again (when the offer's window is longer,
  // or unknown). Must stay well inside Stripe's 24 h idempotency-key lifetime.
  std::chrono::milliseconds reconcile_bound{std::chrono::hours(1)};
  // After a charge was settled as not charged: when Stripe is searched once more, and how many
  // times at most when the search itself fails.
  std::chrono::milliseconds after_check_delay{std::chrono::minutes(10)};
  int after_checks = 6;
};

class OneClick {
 public:
  // The references must outlive this object.
  OneClick(Db& db, JobQueue& queue, StripeClient& stripe, const Clock& clock,
           OneClickOptions options = {});

  // Accepts the offer `claims` names (a verified thank-you offer token). Errors:
  //   kForbidden  the offer was already answered differently on this order (declined, or
  //               accepted with another token): nothing is charged
  //   kConflict   no stored payment method for the order, or the shop has no Stripe account:
  //               nothing is charged (the decision should not have shown the offer)
  //   kNotFound   the shop is not installed
  //   kUnavailable / kInternal  the database failed
  // Card declines, 3-D Secure and indeterminate answers are outcomes, not errors.
  Result<AcceptOutcome> accept(const OfferTokenClaims& claims);

  // Records a decline of the offer (idempotent for the same token). kForbidden when the offer
  // was already accepted on this order.
  Result<void> decline(const OfferTokenClaims& claims);

  // Records that a changeset was signed for the offer (post-purchase page: the platform charges,
  // we only sign). Idempotent for the same token; kForbidden when the offer was already
  // answered otherwise on this order.
  Result<void> record_signed(const OfferTokenClaims& claims);

  // Job handler for kReconcileJobKind: settles a pending/unknown charge from Stripe's state.
  // A job whose seq is not the charge's newest does nothing. Within the deadline it searches
  // Stripe by metadata, else sends again under the same key, and schedules the next job; past
  // it, it fails the charge as not_charged. An after_check job searches a not_charged charge
  // once more and refunds a payment that turned up.
  Result<void> reconcile(const Job& job);

  // The outcome of an accept already made with this offer token, for a shopper re-checking
  // after the token expired (the charge may still be settling). nullopt when the token was not
  // used to accept.
  Result<std::optional<AcceptOutcome>> accepted_outcome(const OfferTokenClaims& claims);

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace afterglow::checkout
