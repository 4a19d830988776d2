// The topic handlers of this module, registered on a dispatcher:
//   shopify orders/create, orders/paid, orders/updated -> upsert the order (last writer wins on
//     updated_at); app/uninstalled -> shop uninstalled, pending jobs cancelled, tokens deleted;
//   customers/data_request -> an export for the merchant; customers/redact -> erase the
//     customer's personal data (salted hashes of suppressed addresses survive);
//   shop/redact -> delete all of the shop's data;
//   products/create, products/update, products/delete -> the products cache (product_sync.h);
//   stripe payment_intent.* -> stored for the checkout module.
#pragma once

#include "plugin/core/clock.h"
#include "plugin/core/job_queue.h"
#include "webhooks/dispatcher.h"

namespace afterglow::webhooks {

void register_topic_handlers(WebhookDispatcher& dispatcher, JobQueue& queue, const Clock& clock);

}  // namespace afterglow::webhooks
