#include "plugin/app/email_triggers.h"

#include <string>

#include "checkout/one_click.h"
#include "email/triggers.h"
#include "plugin/core/log.h"
#include "plugin/core/shop_store.h"

namespace afterglow::app {
namespace {

constexpr int64_t kBucketMs = 5 * 60 * 1000;
// One sweep transaction handles this many checkouts; a job runs at most kSweepRounds of them
// and leaves the rest to the next bucket, so one job never holds the writer for long.
constexpr int kSweepBatch = 200;
constexpr int kSweepRounds = 20;

using TriggerHandler = Result<email::TriggerOutcome> (*)(Tx&, int64_t, std::string_view, int64_t);

// The sweep of bucket N runs at N × 5 min; `run_after_ms` picks the first bucket starting at or
// after it.
JobSpec sweep_job(int64_t run_after_ms) {
  int64_t bucket = (run_after_ms + kBucketMs - 1) / kBucketMs;
  JobSpec spec;
  spec.kind = std::string(kAbandonedSweepJobKind);
  spec.payload = "{}";
  spec.run_at_ms = bucket * kBucketMs;
  spec.unique_key = std::string(kAbandonedSweepJobKind) + ":" + std::to_string(bucket);
  return spec;
}

webhooks::TopicHandler adapt(TriggerHandler handler, const Clock* clock, JobQueue* queue,
                             bool shares_topic, bool schedules_sweep) {
  return [=](Tx& tx, const webhooks::InboxEvent& ev) -> Result<webhooks::Outcome> {
    const int64_t now = clock->now_ms();
    ShopRecord shop = AG_TRY(ensure_shop(tx, ev.shop_domain, now));
    if (shop.state != kShopInstalled) {
      return webhooks::Outcome::ignore("email: shop is " + shop.state);
    }
    auto r = handler(tx, shop.id, ev.body, now);
    if (!r) {
      // On a topic another module also handles, a body only email/ cannot use must not undo
      // what the other handler stored (the dispatcher rolls back on the first error).
      if (shares_topic && r.error().code == ErrorCode::kInvalidArgument) {
        return webhooks::Outcome::ignore("email: " + r.error().message);
      }
      return std::unexpected(r.error());
    }
    if (schedules_sweep && !r->ignored) {
      AG_CHECK(queue->enqueue(
          tx, sweep_job(now + std::chrono::milliseconds(email::kAbandonedAfter).count())));
    }
    return r->ignored ? webhooks::Outcome::ignore("email: " + r->note)
                      : webhooks::Outcome::processed("email: " + r->note);
  };
}

}  // namespace

Result<void> start_abandoned_sweep(JobQueue& queue, int64_t now_ms) {
  AG_CHECK(queue.enqueue(sweep_job(now_ms)));
  return {};
}

void register_email_triggers(Db& db, webhooks::WebhookDispatcher& dispatcher, JobQueue& queue,
                             JobHandlers& handlers, const Clock& clock) {
  const Clock* c = &clock;
  JobQueue* q = &queue;
  Db* d = &db;
  struct Topic {
    const char* name;
    TriggerHandler handler;
    bool shares_topic = false;
    bool schedules_sweep = false;
  };
  const Topic topics[] = {
      {"orders/paid", &email::handle_order_paid, /*shares_topic=*/true},
      {"orders/fulfilled", &email::handle_order_fulfilled},
      {"fulfillments/create", &email::handle_fulfillment_created},
      {"orders/cancelled", &email::handle_order_cancelled},
      {"customers/create", &email::handle_customer_update},
      {"customers/update", &email::handle_customer_update},
      {"customers_email_marketing_consent/update", &email::handle_customer_update},
      {"customers_marketing_consent/update", &email::handle_customer_update},
      {"checkouts/create", &email::handle_checkout_update, false, /*schedules_sweep=*/true},
      {"checkouts/update", &email::handle_checkout_update, false, /*schedules_sweep=*/true},
  };
  for (const Topic& t : topics) {
    dispatcher.on("shopify", t.name, adapt(t.handler, c, q, t.shares_topic, t.schedules_sweep));
  }

  handlers.add(std::string(checkout::kOfferDeclinedJobKind), [d, c](const Job& job) {
    return d->write([&](Tx& tx) -> Result<void> {
      auto outcome = AG_TRY(email::handle_offer_declined(tx, job.payload, c->now_ms()));
      log::info("offer declined", {{"job", job.id}, {"note", outcome.note}});
      return {};
    });
  });

  handlers.add(std::string(kAbandonedSweepJobKind), [d, c, q](const Job& job) -> Result<void> {
    const int64_t now = c->now_ms();
    int swept = 0;
    bool more = false;
    for (int round = 0; round < kSweepRounds; ++round) {
      int n = 0;
      AG_CHECK(d->write([&](Tx& tx) -> Result<void> {
        n = AG_TRY(email::sweep_abandoned_checkouts(tx, now, kSweepBatch));
        more = AG_TRY(email::open_checkouts_remain(tx));
        return {};
      }));
      swept += n;
      if (n < kSweepBatch) break;
    }
    // The next link, only while there is something left to watch; checkouts stored later
    // schedule their own sweep (see the header).
    if (more) AG_CHECK(q->enqueue(sweep_job(now + 1)));
    if (swept > 0) log::info("abandoned checkouts swept", {{"job", job.id}, {"checkouts", swept}});
    return {};
  });
}

}  // namespace afterglow::app
