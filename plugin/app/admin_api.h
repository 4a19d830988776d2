// The merchant's API and page. Every /api/admin route authenticates with AdminAuth and sees only
// the shop in the session; another shop's object answers 404 exactly like a missing one.
//
//   GET    /api/admin/session                  {"shop", "development"}
//   GET    /api/admin/offers?limit&cursor      {"offers": [...], "next_cursor": "…"|null}
//   POST   /api/admin/offers                   201 {"offer": {...}}
//   GET    /api/admin/offers/{id}              {"offer": {...}}
//   PUT    /api/admin/offers/{id}              {"offer": {...}}     (the whole offer)
//   DELETE /api/admin/offers/{id}              {"deleted": id}      409 when a funnel links to it
//   …      /api/admin/flows[/{id}]             the same for flows ({"flows"}, {"flow"})
//   GET    /api/admin/flows/{id}/report        {"report": {...}}: enrolled, exits by reason, sends
//                                              by channel and step, human clicks, opens (human
//                                              and machine), unsubscribes, attributed revenue
//   GET    /api/admin/flow-templates           {"templates": [{key, title, description, flow}]}
//   POST   /api/admin/flow-templates/{key}     201 {"flow"}: the seed flow made a flow of the shop;
//                                              body {"status": "live"|"draft"} (default draft)
//   GET    /api/admin/customers/{id}/messaging {"messaging": {...}}: every send, skip and delay
//                                              with its reason, consents, suppression reasons
//   GET    /api/admin/settings                 {"settings": {...}}
//   PUT    /api/admin/settings                 {"settings": {...}}  (absent keys take defaults)
//   GET    /api/admin/inbox?limit&cursor&state recent webhook deliveries, newest first
//   GET    /api/admin/jobs?limit&cursor        dead jobs with their last error, newest first
//   POST   /api/admin/jobs/{id}/retry          requeues a dead job: {"job": {"id", "state"}}
//   GET    /api/admin/exports?limit&cursor     customer data exports (customers/data_request)
//   GET    /api/admin/exports/{id}             one export with its JSON document
//   GET    /api/admin/charges?limit&cursor     one-click charges, newest first, each with its
//                                              state history (checkout/charge_ledger.h)
//   GET    /api/admin/charges/{id}             {"charge": {...}}
//   GET    /api/admin/diagnostics?order=ID     {"order", "decisions": [...]}: every offer decision
//                                              for the order (its id, GID, name "#1001", or the
//                                              post-purchase referenceId), oldest first, with why
//                                              nothing was shown
//   GET    /api/admin/diagnostics?limit&cursor {"decisions", "next_cursor"}: recent, newest first
//   GET    /api/admin/analytics                {"offers": [...]}: per offer and A/B arm,
//                                              impressions, accepts, declines, holdouts, revenue
//   POST   /api/admin/dev-login                DEV_MODE only: {"code"} -> {"token", ...}
//   GET    /admin, /admin/{file}               the merchant page (plugin/app/admin_page/)
//
// Lists take limit (1..200, default 50) and the opaque cursor from the previous page's
// next_cursor. Errors are {"error": {"code", "message"}}; a validation error (400) adds "field"
// (the first bad field, e.g. "offers.discount.percent") and "fields": [{"field", "message"}] with
// every problem found. A 401 carries X-Shopify-Retry-Invalid-Session-Request: 1.
#pragma once

#include <memory>

#include "plugin/core/clock.h"
#include "plugin/core/config.h"
#include "plugin/core/db.h"
#include "plugin/core/job_queue.h"

namespace httplib {
class Server;
}

namespace afterglow::app {

class AdminAuth;

class AdminRoutes {
 public:
  // In DEV_MODE, prints the one-time login link to stdout. The references must outlive this.
  AdminRoutes(const Config& config, Db& db, JobQueue& queue, const Clock& clock);
  ~AdminRoutes();

  // Registers the routes on `server` (call once per listener).
  void mount(httplib::Server& server);

 private:
  const Config& config_;
  Db& db_;
  JobQueue& queue_;
  const Clock& clock_;
  std::unique_ptr<AdminAuth> auth_;
};

}  // namespace afterglow::app
