// Everything a serve or worker process shares: the database, the queue, metrics, and the job
// handlers of every module, registered here (the shell is the only place that knows them all).
#pragma once

#include <memory>

#include "plugin/app/platform_services.h"
#include "plugin/core/clock.h"
#include "plugin/core/config.h"
#include "plugin/core/db.h"
#include "plugin/core/job_queue.h"
#include "plugin/core/metrics.h"
#include "plugin/core/worker_pool.h"
#include "webhooks/dispatcher.h"

namespace afterglow::app {

struct AppContext {
  Config config;
  const Clock& clock;
  std::unique_ptr<Db> db;
  std::unique_ptr<JobQueue> queue;
  Metrics metrics;
  std::unique_ptr<webhooks::WebhookDispatcher> dispatcher;
  std::unique_ptr<PlatformServices> platform;  // tokens, Admin API client, catalog sync
  JobHandlers handlers;

  AppContext(Config c, const Clock& clk) : config(std::move(c)), clock(clk) {}
};

// Opens the database, applies migrations when `migrate` is set, and registers every handler
// and metric collector.
Result<std::unique_ptr<AppContext>> build_app(const Config& config, const Clock& clock,
                                              bool migrate);

// Worker settings from the config: lease, retention, NOTIFY wake-ups, `threads` threads.
WorkerOptions worker_options(AppContext& app, int threads);

// "host:pid", the prefix of this process's lease owners.
std::string process_name();

}  // namespace afterglow::app
