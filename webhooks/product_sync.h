// products/create, products/update, products/delete: keep the products cache (plugin/core/
// catalog.h) current. The REST payload carries the product and its variants (price, compare-at,
// inventory, images, tags) but not its collections, so a product we did not know yet also gets
// a catalog.refresh_product job that fetches it over the Admin API (collections included).
// Out-of-order deliveries are settled by the product's updated_at; a deleted product stays
// deleted.
#pragma once

#include "plugin/core/clock.h"
#include "plugin/core/job_queue.h"
#include "webhooks/dispatcher.h"

namespace afterglow::webhooks {

// The TopicHandler for the three topics; runs in the dispatcher's transaction. A shop that is not
// installed (unknown, uninstalled, redacted) is ignored with a reason, as is a body without a
// numeric id or updated_at (redelivering it would not help). Errors are database errors.
Result<Outcome> handle_product_webhook(Tx& tx, const InboxEvent& event, JobQueue& queue,
                                       const Clock& clock);

}  // namespace afterglow::webhooks
