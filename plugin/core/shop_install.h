// Installing a shop once its request has been verified: trade what the platform handed us (an
// authorization code, or an App Bridge session token) for expiring offline tokens, store them
// encrypted (ShopTokens::store_grant), and enqueue the first catalog sync, all in one
// transaction. Works for a first install, a reinstall after app/uninstalled, and a reinstall
// after a shop/redact tombstone. Thread-safe.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "plugin/core/clock.h"
#include "plugin/core/db.h"
#include "plugin/core/job_queue.h"
#include "plugin/core/platform_oauth.h"
#include "plugin/core/shop_store.h"
#include "plugin/core/shop_tokens.h"

namespace afterglow {

struct Installed {
  ShopRecord shop;
  std::vector<std::string> missing_scopes;  // required (kRequiredScopes) but not granted
  bool reinstalled = false;                 // the shop was uninstalled or redacted before
};

class ShopInstaller {
 public:
  // `on_enqueued` (may be empty) runs after a commit that enqueued work (wakes local workers).
  ShopInstaller(Db& db, JobQueue& queue, ShopTokens& tokens, const OAuthClient& oauth,
                const Clock& clock, std::function<void()> on_enqueued = {});

  // Authorization-code grant for `shop` (already sanitized). Errors as OAuthClient's
  // (kUnauthenticated: the code was refused; kUnavailable), or the database's.
  Result<Installed> install_with_code(std::string_view shop, std::string_view code);

  // Token exchange for an already verified session token of `shop` (verify_session_token).
  // Skips the exchange when the shop is installed and holds a usable token (one whose refresh
  // token has not expired).
  Result<Installed> install_with_session_token(std::string_view shop,
                                               std::string_view session_token);

 private:
  Result<Installed> store(std::string_view shop, const TokenGrant& grant);

  Db& db_;
  JobQueue& queue_;
  ShopTokens& tokens_;
  const OAuthClient& oauth_;
  const Clock& clock_;
  std::function<void()> on_enqueued_;
};

// The scopes of `required` (comma-separated) that `granted` does not cover; write_X covers
// read_X, as on the platform.
std::vector<std::string> missing_scopes(std::string_view granted, std::string_view required);

}  // namespace afterglow
