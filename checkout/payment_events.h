// Stripe's payment_intent.* webhooks, as the checkout module reads them (registered on the
// webhook dispatcher by the shell, so they run inside the transaction that marks the inbox row
// processed: exactly once per delivery).
//
// Two kinds of PaymentIntent arrive:
//   - our own upsell charges (metadata "afterglow_charge" = the charge key): the final state of
//     a charge that needed 3-D Secure, was processing or was indeterminate is applied to the
//     ledger (succeeded queues the order append);
//   - the storefront's original checkout payment (README "Payments"): metadata "shop"
//     (x.myshopify.com) and "order_id" or "checkout_token", with customer and payment_method
//     set. Stored in order_payments as the card the one-click offer charges. The event must come
//     from the shop's own Stripe account (event.account == the shop's stripe_account_id);
//     anything else is ignored with a reason, so one merchant's account cannot plant a payment
//     method on another shop's order.
#pragma once

#include <string>
#include <string_view>

#include "plugin/core/clock.h"
#include "plugin/core/db.h"
#include "plugin/core/job_queue.h"

namespace afterglow::checkout {

struct PaymentEventResult {
  bool ignored = false;
  std::string note;  // what was done, or why it was ignored
};

// The event types handled here.
inline constexpr std::string_view kPaymentEventTypes[] = {
    "payment_intent.succeeded", "payment_intent.payment_failed",
    "payment_intent.requires_action", "payment_intent.canceled", "payment_intent.processing",
    "payment_intent.amount_capturable_updated"};

// Applies one event (`body` is the Stripe event JSON). kInvalidArgument for a body that is not
// an event with a PaymentIntent.
Result<PaymentEventResult> apply_payment_event(Tx& tx, std::string_view body, JobQueue& queue,
                                               const Clock& clock);

}  // namespace afterglow::checkout
