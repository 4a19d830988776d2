// GET /auth/install and GET /auth/callback: installing the app on a shop (spec/shopify.md
// §1.1–§1.5).
//
// GET /auth/install?shop&timestamp&hmac[&host&embedded&id_token…], and GET / (the app URL,
// application_url, which the platform opens with the same query; without a query it redirects
// to /admin), signed with the client secret:
//   - shop not {name}.myshopify.com, malformed query, missing timestamp   -> 400
//   - hmac missing or wrong, timestamp more than 90 s from now           -> 401
//   - with id_token (an embedded load): the session token is verified locally (401 when bad or
//     for another shop), exchanged for expiring offline tokens unless the shop already has
//     usable ones, stored encrypted; 302 to /admin with the same query;
//   - otherwise the authorization-code grant starts: a random state nonce goes into a signed,
//     HttpOnly, Secure, SameSite=Lax cookie scoped to /auth/callback (5 min), and the answer is
//     302 to {shop}/admin/oauth/authorize?client_id&scope=kRequiredScopes
//     &redirect_uri={APP_URL}/auth/callback&state={nonce}.
// GET /auth/callback?code&hmac&host&shop&state&timestamp:
//   - bad shop, missing code or state                                    -> 400
//   - hmac missing or wrong, stale timestamp                             -> 401
//   - state cookie missing, expired, forged, for another shop, or state differs from it -> 403
//   - the platform refuses the code                                      -> 401
//   - the platform is unreachable or failing                             -> 503
//   - success: tokens stored encrypted, the shop (re)installed, a catalog sync enqueued, the
//     state cookie cleared; 302 into the app inside the merchant's admin (from `host`), or to
//     /admin?shop= when there is no usable host.
// Every error is JSON {"error":{"code","message"}}. Without TOKEN_ENCRYPTION_KEY both answer 503.
// Nothing here logs a code, token or secret.
#pragma once

#include <functional>
#include <memory>

#include "plugin/app/platform_services.h"
#include "plugin/core/clock.h"
#include "plugin/core/config.h"
#include "plugin/core/db.h"
#include "plugin/core/job_queue.h"
#include "plugin/core/shop_install.h"

namespace httplib {
class Server;
}

namespace afterglow::app {

class InstallRoutes {
 public:
  // `platform` may be null (no routes' dependencies: both answer 503). References must outlive
  // the server. `on_enqueued` wakes local workers after an install enqueued the catalog sync.
  InstallRoutes(const Config& config, Db& db, JobQueue& queue, const Clock& clock,
                PlatformServices* platform, std::function<void()> on_enqueued);

  void mount(httplib::Server& server);

 private:
  const Config& config_;
  const Clock& clock_;
  PlatformServices* platform_;
  std::unique_ptr<ShopInstaller> installer_;  // null when the platform is not ready
};

}  // namespace afterglow::app
