// The shell's wiring of the flow triggers (email/triggers.h): which webhook topics and job kinds
// reach them. email/ knows neither the dispatcher nor checkout/, so the adapters live here.
//
// Webhook topics (shopify), each run in the dispatcher's transaction after the shop is resolved
// from the delivery's domain (ensure_shop, as webhooks/ does; a shop that is not installed is
// ignored with a note):
//   orders/paid           after webhooks' order sync on the same topic; a body the email module
//                         cannot use is ignored with a note rather than failed, so it never rolls
//                         back the order sync
//   orders/fulfilled, fulfillments/create, orders/cancelled, customers/create, customers/update,
//   customers_email_marketing_consent/update, customers_marketing_consent/update,
//   checkouts/create, checkouts/update
// Job kinds:
//   checkout::kOfferDeclinedJobKind  ("offer.declined", enqueued by checkout/ with a decline)
//   kAbandonedSweepJobKind           ("email.abandoned_sweep", below)
//
// The abandoned-checkout sweep runs as a chain of jobs on 5-minute buckets: the job for bucket
// N has unique key "email.abandoned_sweep:N" and runs at N × 5 min; after sweeping it enqueues
// bucket N+1 while open checkouts remain. Every stored checkout also enqueues the bucket that
// follows its kAbandonedAfter in its own transaction, so a chain that stopped (no open
// checkouts, or a job that went dead) restarts by itself, and nothing runs every 5 minutes on a
// database that has no open checkout. The unique keys merge chains that meet.
#pragma once

#include <cstdint>
#include <string_view>

#include "plugin/core/clock.h"
#include "plugin/core/db.h"
#include "plugin/core/job_queue.h"
#include "plugin/core/worker_pool.h"
#include "webhooks/dispatcher.h"

namespace afterglow::app {

inline constexpr std::string_view kAbandonedSweepJobKind = "email.abandoned_sweep";

// Registers the topic handlers and job handlers above. Touches none of the references while
// registering (`afterglow describe` registers on a dispatcher without a database); they must
// outlive the dispatcher and the handlers.
void register_email_triggers(Db& db, webhooks::WebhookDispatcher& dispatcher, JobQueue& queue,
                             JobHandlers& handlers, const Clock& clock);

// Enqueues the sweep of the first bucket starting at or after `now_ms` (a no-op when that bucket
// is already queued or ran). Not needed in normal operation (checkouts schedule it); for operators
// and tests, e.g. after restoring a database with open checkouts.
Result<void> start_abandoned_sweep(JobQueue& queue, int64_t now_ms);

}  // namespace afterglow::app
