#include "webhooks/product_sync.h"

#include "plugin/core/catalog.h"
#include "plugin/core/catalog_sync.h"
#include "plugin/core/shop_store.h"

namespace afterglow::webhooks {

Result<Outcome> handle_product_webhook(Tx& tx, const InboxEvent& event, JobQueue& queue,
                                       const Clock& clock) {
  auto shop = AG_TRY(find_shop(tx, event.shop_domain));
  if (!shop) return Outcome::ignore("the shop is not installed here");
  if (shop->state != kShopInstalled) return Outcome::ignore("the shop is " + shop->state);
  auto r = apply_product_webhook(tx, shop->id, event.topic, event.body, event.received_at_ms);
  if (!r && r.error().code == ErrorCode::kInvalidArgument) {
    return Outcome::ignore("malformed product payload: " + r.error().message);
  }
  if (!r) return std::unexpected(r.error());
  if (!r->applied) return Outcome::ignore(r->note);
  if (r->needs_refresh) {
    AG_CHECK(queue.enqueue(
        tx, catalog_refresh_job(event.shop_domain, shop->id, r->product_id, clock.now_ms())));
    return Outcome::processed(r->note + "; collections fetched next");
  }
  return Outcome::processed(r->note);
}

}  // namespace afterglow::webhooks
