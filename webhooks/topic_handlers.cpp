#include "webhooks/topic_handlers.h"

#include "webhooks/compliance.h"
#include "webhooks/order_sync.h"
#include "webhooks/product_sync.h"
#include "webhooks/shop_lifecycle.h"

namespace afterglow::webhooks {

void register_topic_handlers(WebhookDispatcher& dispatcher, JobQueue& queue, const Clock& clock) {
  const Clock* c = &clock;
  JobQueue* q = &queue;

  for (const char* topic : {"orders/create", "orders/paid", "orders/updated"}) {
    dispatcher.on("shopify", topic,
                  [c](Tx& tx, const InboxEvent& ev) { return sync_order(tx, ev, *c); });
  }
  for (const char* topic : {"products/create", "products/update", "products/delete"}) {
    dispatcher.on("shopify", topic, [c, q](Tx& tx, const InboxEvent& ev) {
      return handle_product_webhook(tx, ev, *q, *c);
    });
  }
  dispatcher.on("shopify", "app/uninstalled", [c, q](Tx& tx, const InboxEvent& ev) {
    return handle_app_uninstalled(tx, ev, *q, *c);
  });
  dispatcher.on("shopify", "customers/data_request", [c](Tx& tx, const InboxEvent& ev) {
    return handle_customers_data_request(tx, ev, *c);
  });
  dispatcher.on("shopify", "customers/redact",
                [c](Tx& tx, const InboxEvent& ev) { return handle_customers_redact(tx, ev, *c); });
  dispatcher.on("shopify", "shop/redact",
                [c](Tx& tx, const InboxEvent& ev) { return handle_shop_redact(tx, ev, *c); });

  // Every other topic has no handler: the dispatcher stores it and marks it ignored with the
  // reason "no handler for <source> topic <topic>".
}

}  // namespace afterglow::webhooks
