// Everything a serve or worker process shares: the database, the queue, metrics, and the job
// handlers of every module, registered here (the shell is the only place that knows them all).
#pragma once

#include <memory>

#include "checkout/charge_fulfilment.h"
#include "checkout/checkout_routes.h"
#include "checkout/offer_cache.h"
#include "checkout/offer_events.h"
#include "checkout/one_click.h"
#include "checkout/stripe_client.h"

#include "plugin/app/email_services.h"
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

  // Checkout. Declared after the database, so destroyed before it: the EventSink writes what is
  // still queued when it is destroyed.
  std::unique_ptr<HttpClient> stripe_http;
  // Always present. Without STRIPE_SECRET_KEY its options are invalid, so every call is refused
  // locally and a thank-you accept ends as `failed` with that reason (nothing is sent).
  std::unique_ptr<checkout::StripeClient> stripe;
  std::unique_ptr<checkout::OfferCache> offer_cache;
  std::unique_ptr<checkout::EventSink> offer_events;
  std::unique_ptr<checkout::OneClick> one_click;
  std::unique_ptr<checkout::ChargeFulfilment> charge_fulfilment;
  std::unique_ptr<checkout::CheckoutServices> checkout;  // what the /checkout routes use
  // Sequences: channels, the step runner, the services of the tracking and SMS routes.
  std::unique_ptr<EmailServices> email;

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
