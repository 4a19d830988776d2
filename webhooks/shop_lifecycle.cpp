#include "webhooks/shop_lifecycle.h"

#include <string>

#include "plugin/core/shop_store.h"

namespace afterglow::webhooks {

Result<Outcome> handle_app_uninstalled(Tx& tx, const InboxEvent& event, JobQueue& queue,
                                       const Clock& clock) {
  // The payload (the shop object) adds nothing we need: the verified domain header names the
  // shop, and acting on it alone means a trimmed or odd body cannot keep a dead token alive.
  const int64_t now = clock.now_ms();
  ShopRecord shop = AG_TRY(ensure_shop(tx, event.shop_domain, now));
  AG_CHECK(mark_shop_uninstalled(tx, shop.id, now));
  int64_t cancelled = AG_TRY(queue.cancel_shop_jobs(tx, shop.id));
  if (shop.state == kShopRedacted) {
    return Outcome::ignore("shop data was already redacted (shop/redact)");
  }
  return Outcome::processed("shop uninstalled; tokens deleted; " + std::to_string(cancelled) +
                            " scheduled job(s) cancelled");
}

}  // namespace afterglow::webhooks
