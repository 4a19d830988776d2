// The events that start and stop flows, applied to the store: each handler records what the
// event says (consents, checkouts, product views), cancels the enrolments it makes pointless,
// and enrols the person (email/enrolment.h) in the shop's live flows for its trigger.
//
// Who calls what:
//   - The shell (plugin/app/email_triggers.cpp) adapts the webhook handlers below to the
//     webhook dispatcher: each runs in the dispatcher's transaction, after the shop was resolved
//     from the delivery's domain. orders/paid also stores the order (webhooks/order_sync.h) in
//     the same transaction, before this module's handler.
//   - sweep_abandoned_checkouts() runs from a periodic job; handle_offer_declined() from the job
//     the checkout module enqueues when a thank-you offer is declined; record_product_view() from
//     POST /events/viewed (email/storefront_events.h).
//
// Every call runs in the caller's transaction (so the enrolment commits with the event that
// caused it, or not at all) and keeps no state. A body that can never be used fails with
// kInvalidArgument; a shop that is not installed is ignored with a note; database errors pass
// through (the job is retried). Replays are harmless: enrolment keys are unique per flow, consents
// keep the newest report, checkouts keep the newest update.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "plugin/core/db.h"

namespace afterglow::email {

// What a handler did, for the webhook inbox note (the shell maps it onto webhooks::Outcome).
struct TriggerOutcome {
  bool ignored = false;
  std::string note;
  static TriggerOutcome processed(std::string note = {}) { return {false, std::move(note)}; }
  static TriggerOutcome ignore(std::string reason) { return {true, std::move(reason)}; }
};

// A checkout is abandoned once its last update is this old. Buyers pause inside checkout (a
// card fetched from another room, a shipping rate compared); ten quiet minutes is long enough
// that the abandoned-cart flow's own first delay (an hour in the seed flow) measures from a real
// pause, and short enough that the sweep never makes that delay late.
inline constexpr std::chrono::minutes kAbandonedAfter{10};
// Older than this when first swept (the job was down, the event came late): marked abandoned
// without enrolling, because a reminder about a week-old cart is noise, not service.
inline constexpr std::chrono::hours kAbandonedTooStale{24 * 7};

// orders/paid: records the consents the order carries; the checkouts with the order's checkout
// token or cart token are marked completed and their checkout-abandoned enrolments cancelled
// (pending step runs with them); enrols the order-paid flows with key "order:ID".
Result<TriggerOutcome> handle_order_paid(Tx& tx, int64_t shop_id, std::string_view body,
                                         int64_t now_ms);

// orders/fulfilled: records the consents; enrols the order-fulfilled flows with key "fulfil:ID".
Result<TriggerOutcome> handle_order_fulfilled(Tx& tx, int64_t shop_id, std::string_view body,
                                              int64_t now_ms);

// fulfillments/create: the same enrolment as orders/fulfilled (same key, so the two topics enrol
// once), built from the stored order. A fulfilment in state cancelled, error or failure is
// ignored. When the order is not stored yet (orders/create still on its way) this fails with
// kUnavailable, so the delivery is retried rather than lost.
Result<TriggerOutcome> handle_fulfillment_created(Tx& tx, int64_t shop_id, std::string_view body,
                                                  int64_t now_ms);

// orders/cancelled: cancels every active enrolment whose ref is the order ("order:ID"): the
// order's follow-ups, its fulfilment flows and its declined-offer flows.
Result<TriggerOutcome> handle_order_cancelled(Tx& tx, int64_t shop_id, std::string_view body,
                                              int64_t now_ms);

// customers/create, customers/update and the two consent topics
// (customers_email_marketing_consent/update, customers_marketing_consent/update): records the
// consents. Ignored (with the reason) when the payload carries none.
Result<TriggerOutcome> handle_customer_update(Tx& tx, int64_t shop_id, std::string_view body,
                                              int64_t now_ms);

// checkouts/create and checkouts/update: upserts the checkouts row (an update older than the
// stored one by updated_at changes nothing) and records the consents it carries. A completed
// checkout, or one whose order is already stored (the order arrived first), is marked
// completed and its checkout-abandoned enrolments cancelled. The buyer now has a cart, so their
// product-viewed enrolments (ref "browse:PERSON") are cancelled.
Result<TriggerOutcome> handle_checkout_update(Tx& tx, int64_t shop_id, std::string_view body,
                                              int64_t now_ms);

// Up to `limit` open checkouts (not completed, not yet abandoned) of any installed shop whose
// last update is at least kAbandonedAfter old, oldest first: each with an email or phone is
// enrolled in the checkout-abandoned flows (key "checkout:TOKEN", ref the token; data carries
// the cart token, the recovery URL, the value and the items) and marked abandoned. One whose
// order is stored is marked completed instead; one older than kAbandonedTooStale, or of a shop
// that is no longer installed, is marked abandoned without enrolling. Value thresholds are the
// flows' trigger filters. Returns how many checkouts it marked (== limit: there may be more).
Result<int> sweep_abandoned_checkouts(Tx& tx, int64_t now_ms, int limit);

// Whether any checkout is still open (the sweep job uses it to decide whether to run again).
Result<bool> open_checkouts_remain(Tx& tx);

// A storefront product view by a known person (`customer_id`, else `email`): stores a
// product_views row and enrols the product-viewed flows with key
// "view:PRODUCT:YYYY-MM-DD:PERSON" (one per product, person and UTC day) and ref
// "browse:PERSON". The stored customer supplies the email, phone, names and tags a logged-in
// view does not carry. A second view of the same product by the same customer within 30
// minutes (a reload) is ignored. kInvalidArgument when neither customer nor email is given.
Result<TriggerOutcome> record_product_view(Tx& tx, int64_t shop_id,
                                           std::optional<int64_t> customer_id,
                                           std::string_view email, int64_t product_id,
                                           std::optional<int64_t> variant_id, int64_t now_ms);

// The job payload the checkout module enqueues when a thank-you offer is declined:
// {"shop_id", "order_id", "offer_id", "customer_id"?}. Builds the event from the stored order
// (key "decline:ORDER:OFFER", ref "order:ORDER", data.offer_id, data.product_ids and
// variant_ids = the declined offer's item, read from the offers table) and enrols the
// offer-declined flows. kUnavailable while the order is not stored yet (retried);
// kInvalidArgument for a payload that is not of that shape.
Result<TriggerOutcome> handle_offer_declined(Tx& tx, const std::string& payload_json,
                                             int64_t now_ms);

}  // namespace afterglow::email
