// orders/create, orders/paid and orders/updated: keep our copy of an order in step with the
// platform (spec/shopify.md §2.4, §2.8).
//
// The payload is the whole order, so each event replaces the stored order and its lines, and
// upserts the order's customer. Deliveries are unordered and may repeat, so the order's
// `updated_at` decides: an event older than the stored order changes nothing (ignored, with the
// two times in the note); an equal one is applied again, which changes nothing new.
// Ids are read as 64-bit integers (they exceed 2^53); money is kept as the decimal string sent and
// as integer minor units, in the shop currency and in the presentment (buyer's) currency. Of the
// addresses only the country code is kept.
#pragma once

#include "plugin/core/clock.h"
#include "webhooks/dispatcher.h"

namespace afterglow::webhooks {

// The TopicHandler for the three order topics; runs in the dispatcher's transaction. Events for a
// shop that is uninstalled or redacted are ignored with a reason; an unknown shop is created
// (ensure_shop). Errors: kInvalidArgument when the body can never be stored (not JSON, an id that
// is not an integer, a missing id/currency/total_price/updated_at, malformed money or time),
// so the job is dead-lettered at once; database errors pass through and are retried.
Result<Outcome> sync_order(Tx& tx, const InboxEvent& event, const Clock& clock);

}  // namespace afterglow::webhooks
