#include "webhooks/topic_handlers.h"

namespace afterglow::webhooks {

// Placeholder until the handlers land; every topic is stored and marked ignored meanwhile.
void register_topic_handlers(WebhookDispatcher&, JobQueue&, const Clock&) {}

}  // namespace afterglow::webhooks
