#include "plugin/app/app_context.h"

#include <unistd.h>

#include "plugin/app/test_hooks.h"
#include "plugin/core/crypto.h"
#include "plugin/core/migrations.h"
#include "webhooks/inbox.h"
#include "webhooks/topic_handlers.h"

namespace afterglow::app {

std::string process_name() {
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  return std::string(host) + ":" + std::to_string(getpid());
}

WorkerOptions worker_options(AppContext& app, int threads) {
  WorkerOptions wo;
  wo.threads = threads;
  wo.name = process_name();
  wo.lease = std::chrono::seconds(app.config.job_lease_seconds);
  wo.retention = std::chrono::hours(24) * app.config.job_retention_days;
  wo.notifications = app.db.get();
  return wo;
}

Result<std::unique_ptr<AppContext>> build_app(const Config& config, const Clock& clock,
                                              bool run_migrations) {
  auto app = std::make_unique<AppContext>(config, clock);
  DbOptions options;
  options.sqlite_synchronous = config.sqlite_synchronous;
  options.pool_size = config.database_pool_size;
  app->db = AG_TRY(open_database(config.database_url, options));
  if (run_migrations) AG_CHECK(migrate(*app->db));

  uint64_t seed = 0;
  for (char c : crypto::random_bytes(8)) seed = seed << 8 | static_cast<unsigned char>(c);
  app->queue = std::make_unique<JobQueue>(*app->db, clock, RetryPolicy{}, seed);
  app->dispatcher = std::make_unique<webhooks::WebhookDispatcher>(*app->db, clock, app->metrics);
  webhooks::register_topic_handlers(*app->dispatcher, *app->queue, clock);

  webhooks::WebhookDispatcher* dispatcher = app->dispatcher.get();
  app->handlers.add(webhooks::kProcessJobKind,
                    [dispatcher](const Job& job) { return dispatcher->process(job); });
  register_test_hooks(config, app->handlers);  // only with AFTERGLOW_TEST_HOOKS=1
  app->platform = AG_TRY(build_platform_services(config, *app->db, clock));
  register_platform_jobs(*app->platform, app->handlers);

  JobQueue* queue = app->queue.get();
  app->metrics.add_collector(
      "afterglow_jobs", "Jobs in the queue, by state (dead = failed for good).",
      [queue](const Metrics::GaugeEmitter& emit) {
        auto counts = queue->counts_by_state();
        if (!counts) return;
        for (const auto& [state, n] : *counts) {
          emit("afterglow_jobs", {{"state", state}}, static_cast<double>(n));
        }
      });
  return app;
}

}  // namespace afterglow::app
