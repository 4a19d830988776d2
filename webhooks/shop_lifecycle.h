// app/uninstalled (spec/shopify.md §2.6): the shop's access token is dead from this moment, so
// the shop is marked uninstalled, its tokens are deleted and its scheduled work is cancelled.
// Its data stays until shop/redact (about 48 hours later), which compliance.h handles.
#pragma once

#include "plugin/core/clock.h"
#include "plugin/core/job_queue.h"
#include "webhooks/dispatcher.h"

namespace afterglow::webhooks {

// The TopicHandler for app/uninstalled; runs in the dispatcher's transaction. An unknown shop is
// recorded (as uninstalled) so later order events for it are ignored; a redacted shop stays a
// tombstone and the event is ignored. Only jobs carrying the shop's id are cancelled: the
// webhook.process jobs carry none on purpose, so a compliance webhook that arrives after the
// uninstall is still processed. Errors are database errors (retried).
Result<Outcome> handle_app_uninstalled(Tx& tx, const InboxEvent& event, JobQueue& queue,
                                       const Clock& clock);

}  // namespace afterglow::webhooks
