// Who is calling /api/admin/…: a merchant's session token from the platform (App Bridge "ID
// token", spec/shopify.md §1.7), or, in development only, a session minted by the one-time login
// link that `afterglow serve` prints.
//
// A platform session token is a JWT, HS256 only (any other "alg" is refused before signature
// work), signed with the app secret (or, during a rotation, the previous one); exp and nbf are
// required and checked with 10 s of skew; aud must be the API key; the host of iss must equal the
// host of dest; dest names a shop ({name}.myshopify.com) that is installed here. The shop in the
// token is the only shop the request can see.
//
// Development login (DEV_MODE=1 only, which only the run command sets): at start a random
// one-time code is printed as https://…/admin?login=CODE. The page exchanges it once for a dev
// session token (a JWT signed with a key derived from the app secret, so it can never pass as a
// platform token and a platform token can never pass as one) for the demo shop, valid for
// kDevSessionLifetime. Using a code prints the next link, so the terminal always shows one that
// works. Without DEV_MODE there is no code, the exchange route does not exist, and dev session
// tokens are refused.
//
// Thread-safe.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "plugin/core/clock.h"
#include "plugin/core/config.h"
#include "plugin/core/db.h"
#include "plugin/core/shop_store.h"

namespace afterglow::app {

inline constexpr std::chrono::hours kDevSessionLifetime{4};
// Sent with every 401 from /api/admin: App Bridge then fetches a fresh token and retries once.
inline constexpr const char* kRetryInvalidSessionHeader = "X-Shopify-Retry-Invalid-Session-Request";

struct AdminSession {
  ShopRecord shop;
  std::string user;          // the token's sub (staff user id), or "dev"
  bool development = false;  // a dev login session
};

struct DevSessionToken {
  std::string token;
  std::string shop_domain;
  int64_t expires_at_ms = 0;
};

class AdminAuth {
 public:
  AdminAuth(const Config& config, Db& db, const Clock& clock);

  // Checks an Authorization header value ("Bearer <token>"). kUnauthenticated with a message
  // naming the failed check (never the token) when the caller must not get in.
  Result<AdminSession> authenticate(std::string_view authorization) const;

  // DEV_MODE only: the URL to print (with the current one-time code); "" otherwise.
  std::string dev_login_url() const;
  // DEV_MODE only: trades the current code for a dev session of the demo shop and makes a new
  // code (printed to stdout). kUnauthenticated when the code is wrong or used, or DEV_MODE is off.
  Result<DevSessionToken> exchange_dev_login(std::string_view code);

  // Prints the current login link to stdout (DEV_MODE only; a no-op otherwise).
  void print_dev_login_link() const;

  bool dev_mode() const { return config_.dev_mode; }

 private:
  Result<AdminSession> installed_shop(const std::string& domain, std::string user,
                                      bool development) const;

  const Config& config_;
  Db& db_;
  const Clock& clock_;
  std::string dev_key_;  // HMAC key for dev session tokens; empty without DEV_MODE
  mutable std::mutex mutex_;
  std::string login_code_;  // GUARDED_BY(mutex_); empty without DEV_MODE
};

// True for "{name}.myshopify.com" with a lower-case name of letters, digits and hyphens.
bool is_shop_domain(std::string_view host);

}  // namespace afterglow::app
