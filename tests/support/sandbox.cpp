#include "tests/support/sandbox.h"

#include <cstdio>
#include <stdexcept>

#include "plugin/core/crypto.h"
#include "tests/support/test_db.h"

namespace afterglow::testing {

Sandbox::Sandbox()
    : postgres_(testing_postgres() ? std::make_unique<TestPostgresDatabase>() : nullptr),
      database_url_(postgres_ ? postgres_->url() : "sqlite:" + dir_.file("afterglow.db")),
      cert_(make_dev_certificate(dir_.path())),
      api_secret_("shpss_" + crypto::random_hex(16)),
      stripe_secret_("whsec_" + crypto::random_hex(16)) {}

Env Sandbox::env() const {
  return {{"HOST", "127.0.0.1"},
          {"PORT", "0"},
          {"TLS_CERT", cert_.cert_path},
          {"TLS_KEY", cert_.key_path},
          {"DATABASE_URL", database_url()},
          {"APP_API_KEY", "test-api-key"},
          {"APP_API_SECRET", api_secret_},
          {"STRIPE_WEBHOOK_SECRET", stripe_secret_},
          {"WORKERS", "0"},
          {"LOG_LEVEL", "info"}};
}

RunningApp::RunningApp(const Env& overrides) : env_(sandbox_.env()) {
  for (const auto& [key, value] : overrides) {
    if (value.empty()) {
      env_.erase(key);
    } else {
      env_[key] = value;
    }
  }
  server_ = std::make_unique<ServerProcess>(env_, sandbox_.log_path());
}

HttpsClient& RunningApp::http() {
  if (!http_ || http_->base_url() != server_->https_url()) http_ = new_client();
  return *http_;
}

std::unique_ptr<HttpsClient> RunningApp::new_client() const {
  return std::make_unique<HttpsClient>(server_->https_url(), sandbox_.cert().cert_path);
}

HttpResponse RunningApp::post_shopify(const ShopifyDelivery& delivery) {
  return http().post("/webhooks/shopify", delivery.body,
                     shopify_headers(sandbox_.api_secret(), delivery));
}

HttpResponse RunningApp::post_stripe(const std::string& body, int64_t unix_seconds) {
  int64_t t = unix_seconds != 0 ? unix_seconds : unix_now();
  return http().post("/webhooks/stripe", body,
                     stripe_headers(sandbox_.stripe_webhook_secret(), body, t));
}

std::optional<int> RunningApp::stop() {
  http_.reset();
  return server_->stop();
}

int RunningApp::drain() {
  CliResult r = cli({"worker", "--drain"});
  int n = -1;
  if (r.status != 0 || std::sscanf(r.out.c_str(), "ran %d job", &n) != 1) {
    throw std::runtime_error("afterglow worker --drain failed (status " +
                             std::to_string(r.status) + "): " + r.out + r.err);
  }
  return n;
}

CliResult RunningApp::cli(const std::vector<std::string>& args) const {
  return run_cli(args, env_);
}

Db& RunningApp::db() {
  if (!db_) db_ = open_test_db(sandbox_.database_url());
  return *db_;
}

}  // namespace afterglow::testing
