#include "plugin/app/app_context.h"

#include <unistd.h>

#include "checkout/payment_events.h"
#include "plugin/app/email_triggers.h"
#include "plugin/app/test_hooks.h"
#include "plugin/core/crypto.h"
#include "plugin/core/log.h"
#include "plugin/core/migrations.h"
#include "webhooks/inbox.h"
#include "webhooks/topic_handlers.h"

namespace afterglow::app {

std::string process_name() {
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  return std::string(host) + ":" + std::to_string(getpid());
}

namespace {

// The checkout module's services, job handlers and Stripe webhook handlers.
void build_checkout(AppContext& app) {
  const Config& config = app.config;
  app.stripe_http = make_curl_http_client();
  checkout::StripeOptions stripe;
  stripe.secret_key = config.stripe_secret_key;
  stripe.api_base = config.stripe_api_base;
  if (auto valid = checkout::validate_stripe_options(stripe); !valid) {
    // Not fatal: the shop-facing parts work without payments, and each accept then says why it
    // failed. The message names the setting, never the key.
    log::warn("thank-you charges are off: every accept fails",
              {{"reason", config.stripe_secret_key.empty() ? std::string("STRIPE_SECRET_KEY is not set")
                                                           : valid.error().message}});
  }
  app.stripe = std::make_unique<checkout::StripeClient>(*app.stripe_http, system_sleeper(),
                                                        std::move(stripe));
  app.offer_cache = std::make_unique<checkout::OfferCache>();
  app.offer_events = std::make_unique<checkout::EventSink>(*app.db);
  app.one_click =
      std::make_unique<checkout::OneClick>(*app.db, *app.queue, *app.stripe, app.clock);
  // Without TOKEN_ENCRYPTION_KEY there is no platform client: every append then refunds.
  app.charge_fulfilment = std::make_unique<checkout::ChargeFulfilment>(
      *app.db, *app.queue, app.platform->client.get(), *app.stripe, app.clock);

  std::vector<std::string> secrets{config.api_secret};
  if (!config.api_secret_previous.empty()) secrets.push_back(config.api_secret_previous);
  app.checkout.reset(new checkout::CheckoutServices{config.api_key, std::move(secrets),
                                                     config.app_url, *app.db, app.clock,
                                                     *app.offer_cache, *app.offer_events,
                                                     *app.one_click, &app.metrics});

  checkout::ChargeFulfilment* fulfilment = app.charge_fulfilment.get();
  checkout::OneClick* one_click = app.one_click.get();
  app.handlers.add(std::string(checkout::kAppendJobKind),
                   [fulfilment](const Job& job) { return fulfilment->run(job); });
  app.handlers.add(std::string(checkout::kReconcileJobKind),
                   [one_click](const Job& job) { return one_click->reconcile(job); });

  JobQueue* queue = app.queue.get();
  const Clock* clock = &app.clock;
  for (std::string_view type : checkout::kPaymentEventTypes) {
    app.dispatcher->on(
        "stripe", std::string(type),
        [queue, clock](Tx& tx, const webhooks::InboxEvent& ev) -> Result<webhooks::Outcome> {
          auto r = checkout::apply_payment_event(tx, ev.body, *queue, *clock);
          if (!r) {
            // A body that is no PaymentIntent event stays one however often it is retried.
            if (r.error().code == ErrorCode::kInvalidArgument) {
              return webhooks::Outcome::ignore(r.error().message);
            }
            return std::unexpected(r.error());
          }
          return r->ignored ? webhooks::Outcome::ignore(r->note)
                            : webhooks::Outcome::processed(r->note);
        });
  }
}

}  // namespace

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
  build_checkout(*app);
  app->email = AG_TRY(build_email_services(config, *app->db, clock));
  register_email_triggers(*app->db, *app->dispatcher, *app->queue, app->handlers, clock);

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
