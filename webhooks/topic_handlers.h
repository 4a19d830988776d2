// The topic handlers of this module, registered on a dispatcher:
//   shopify orders/create, orders/paid, orders/updated -> upsert the order (last writer wins on
//     updated_at); app/uninstalled -> shop uninstalled, pending jobs cancelled, tokens deleted;
//   customers/data_request -> an export for the merchant; customers/redact -> erase the
//     customer's personal data (salted hashes of suppressed addresses survive);
//   shop/redact -> delete all of the shop's data;
//   products/create, products/update, products/delete -> the products cache (product_sync.h).
// Stripe's payment_intent.* events belong to the checkout module (checkout/payment_events.h);
// the shell registers its handlers on the same dispatcher (plugin/app/app_context.cpp), since
// webhooks/ never includes checkout/. Registered here alone, they are ignored as unhandled.
#pragma once

#include "plugin/core/clock.h"
#include "plugin/core/job_queue.h"
#include "webhooks/dispatcher.h"

namespace afterglow::webhooks {

void register_topic_handlers(WebhookDispatcher& dispatcher, JobQueue& queue, const Clock& clock);

}  // namespace afterglow::webhooks
