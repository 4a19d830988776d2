// Everything needed to run the real binary hermetically, and a running server on top of it.
//
//   Sandbox     a temp directory with a dev certificate, a fresh database on the backend under
//               test (a SQLite file in the directory, or with AFTERGLOW_TEST_BACKEND=postgres a
//               new PostgreSQL database, see test_backend.h) and fresh random secrets; env() is
//               the environment for `afterglow serve|worker|jobs`.
//   RunningApp  a Sandbox plus `afterglow serve` on free ports, with the helpers tests reach for:
//               signed deliveries, `worker --drain`, `jobs`, and the database.
//
// Single-threaded: use RunningApp from the thread that made it; give other threads their own
// HttpsClient from new_client().
#pragma once

#include <memory>
#include <string>

#include "plugin/core/db.h"
#include "tests/support/dev_cert.h"
#include "tests/support/https_client.h"
#include "tests/support/process.h"
#include "tests/support/server_process.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_backend.h"
#include "tests/support/webhook_signing.h"

namespace afterglow::testing {

class Sandbox {
 public:
  Sandbox();

  const TempDir& dir() const { return dir_; }
  const DevCertificate& cert() const { return cert_; }
  // DATABASE_URL: "sqlite:<dir>/afterglow.db", or the PostgreSQL database's URL.
  const std::string& database_url() const { return database_url_; }
  std::string log_path() const { return dir_.file("server.log"); }
  const std::string& api_secret() const { return api_secret_; }
  const std::string& stripe_webhook_secret() const { return stripe_secret_; }

  // HOST=127.0.0.1, PORT=0, TLS_CERT/TLS_KEY, DATABASE_URL, APP_API_KEY, APP_API_SECRET,
  // STRIPE_WEBHOOK_SECRET, WORKERS=0 (jobs run only when a test drains them), LOG_LEVEL=info.
  Env env() const;

 private:
  TempDir dir_;
  std::unique_ptr<TestPostgresDatabase> postgres_;  // when testing_postgres()
  std::string database_url_;
  DevCertificate cert_;
  std::string api_secret_;
  std::string stripe_secret_;
};

class RunningApp {
 public:
  // Starts `afterglow serve` with sandbox().env() changed by `overrides`: a key with a value
  // sets it, a key with an empty value removes it. Throws if the server does not come up.
  explicit RunningApp(const Env& overrides = {});

  Sandbox& sandbox() { return sandbox_; }
  ServerProcess& server() { return *server_; }
  // The environment the server runs with (also right for `worker --drain` and `jobs`).
  const Env& env() const { return env_; }

  // A client of this app's thread; rebuilt after a restart changed the port.
  HttpsClient& http();
  // A new client for another thread.
  std::unique_ptr<HttpsClient> new_client() const;

  // Signed with the sandbox's secret and posted to /webhooks/shopify.
  HttpResponse post_shopify(const ShopifyDelivery& delivery);
  // Signed at `unix_seconds` (default: now) with the sandbox's secret, to /webhooks/stripe.
  HttpResponse post_stripe(const std::string& body, int64_t unix_seconds = 0);

  // Graceful stop (SIGTERM) after closing http()'s connection: an idle kept-alive connection
  // holds a server thread, and so the shutdown, for up to the keep-alive timeout (5 s).
  // Returns the exit status, as ServerProcess::stop.
  std::optional<int> stop();

  // `afterglow worker --drain` against the same database; returns how many jobs it ran.
  // Throws with its stderr if it fails.
  int drain();
  // `afterglow <args>` with the app's environment.
  CliResult cli(const std::vector<std::string>& args) const;

  // The app's database, opened by this process (lazily, once).
  Db& db();

 private:
  Sandbox sandbox_;
  Env env_;
  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<HttpsClient> http_;
  std::unique_ptr<Db> db_;
};

}  // namespace afterglow::testing
