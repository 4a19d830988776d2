// The HTTPS (and optional plain-HTTP) server: limits, request ids, JSON access log, health and
// metrics routes, and every module's routes. One instance per `afterglow serve`.
#pragma once

#include <functional>
#include <memory>

#include "plugin/core/clock.h"
#include "plugin/core/config.h"
#include "plugin/core/db.h"
#include "plugin/core/job_queue.h"
#include "plugin/core/metrics.h"

namespace afterglow::checkout {
struct CheckoutServices;
}

namespace afterglow::app {

struct PlatformServices;
struct EmailServices;

class Server {
 public:
  // `on_accepted_work` is called after a request enqueued work (wakes local workers).
  Server(const Config& config, Db& db, JobQueue& queue, const Clock& clock, Metrics& metrics,
         std::function<void()> on_accepted_work);
  ~Server();

  // The platform services the install routes (/auth/install, /auth/callback) use; call before
  // bind(). Without it those routes answer 503.
  void set_platform(PlatformServices* platform);
  // The services the /checkout routes use; call before bind(). Without it those routes are not
  // mounted (404).
  void set_checkout(checkout::CheckoutServices* checkout);
  // The services of the email routes (tracking, unsubscribe, SMS webhooks, storefront events);
  // call before bind(). Without it those routes are not mounted (404).
  void set_email(EmailServices* email);
  // Binds the listeners; returns the bound ports (https, http; -1 for one that is off).
  Result<std::pair<int, int>> bind();
  // Serves until stop(); blocks. Call after bind().
  void run();
  // Stops accepting, lets in-flight requests finish, then run() returns. Thread-safe.
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace afterglow::app
