// After a charge succeeded: append the item to the platform order, paid, or give the money back.
// The job handler for kAppendJobKind (one_click.h), run by the workers.
//
// Appends to one order run one at a time, in accept order (order_edit_turns.h): a charge whose
// order is being edited by another waits for its turn before it begins.
//
// Stages (charges.state), each committed before the next step so a crash leaves a state that
// says what is safe to do next:
//   succeeded   → orderEditBegin, AddVariant, AddLineItemDiscount (uncommitted: a failure here
//                 changes nothing on the order), check that the edit adds exactly the amount
//                 charged to an order that owed nothing before it
//   committing  → orderEditCommit. If its answer is lost we cannot know whether the line was
//                 added: the charge goes to append_unknown for the merchant to check, and is
//                 never appended twice nor refunded blindly.
//   committed   → orderMarkAsPaid (retried until it works)
//   appended    done: the order shows the line, paid
//   A permanent failure before the commit (the edit refused, the amounts differ, the shop
//   uninstalled, …) → refunding → POST /v1/refunds with its own idempotency key → refunded
//   (refund_failed if Stripe refuses), so no order is left partially paid and no shopper pays
//   for an item they do not get. Transient failures are retried by the queue with backoff.
#pragma once

#include "checkout/stripe_client.h"
#include "plugin/core/clock.h"
#include "plugin/core/db.h"
#include "plugin/core/job_queue.h"
#include "plugin/core/platform_client.h"

namespace afterglow::checkout {

class ChargeFulfilment {
 public:
  // `platform` may be null (no TOKEN_ENCRYPTION_KEY): every append then refunds. The references
  // must outlive this object.
  ChargeFulfilment(Db& db, JobQueue& queue, PlatformClient* platform, StripeClient& stripe,
                   const Clock& clock);

  Result<void> run(const Job& job);

 private:
  Db& db_;
  JobQueue& queue_;
  PlatformClient* platform_;
  StripeClient& stripe_;
  const Clock& clock_;
};

}  // namespace afterglow::checkout
