// POST /webhooks/shopify and POST /webhooks/stripe: verify the signature over the raw body,
// validate headers and JSON, store and enqueue in one transaction, answer 200 after commit.
//   bad or missing signature -> 401; missing header, bad shop domain, non-JSON body -> 400;
//   a redelivery -> 200 {"status":"duplicate"} and nothing new.
// Bodies over the server's limit are refused with 413 before routing (see the server).
#pragma once

#include <functional>
#include <string>

#include "plugin/core/clock.h"
#include "plugin/core/db.h"
#include "plugin/core/job_queue.h"
#include "plugin/core/metrics.h"

namespace httplib {
class Server;
}

namespace afterglow::webhooks {

struct WebhookRoutesConfig {
  std::string api_secret;
  std::string api_secret_previous;
  std::string stripe_webhook_secret;  // empty: Stripe deliveries are refused with 401
};

// Registers the routes on `server`. The references must outlive the server. `on_accepted` runs
// after a new delivery committed (wakes in-process workers); may be empty.
void mount_webhook_routes(httplib::Server& server, const WebhookRoutesConfig& config, Db& db,
                          JobQueue& queue, const Clock& clock, Metrics& metrics,
                          std::function<void()> on_accepted);

}  // namespace afterglow::webhooks
