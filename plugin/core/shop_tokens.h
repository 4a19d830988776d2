// A shop's platform tokens: stored encrypted in the shops row, handed out fresh, refreshed in
// exactly one place (spec/shopify.md §1.6).
//
// At rest: access_token_enc and refresh_token_enc hold TokenCipher output whose associated data
// is "shop:{domain}:{column}", so a value copied to another shop or column does not open. A
// wrong TOKEN_ENCRYPTION_KEY fails loudly (kInternal naming the key), never as garbage. The
// expiries and scopes are not secret and stay readable (BIGINT ms, TEXT).
//
// Refresh: expiring offline tokens live an hour and each refresh replaces the refresh token
// (rotation), so two refreshes racing with the same refresh token would leave one caller with a
// retired token. Refreshing is therefore single-flight per shop: an in-process mutex per shop
// (threads of this process queue instead of piling onto the database), and inside it a write
// transaction that takes the shop row with SELECT … FOR UPDATE, re-reads the tokens, refreshes
// only if they still need it, and writes both new tokens and expiries before committing.
// Another process (PostgreSQL scale-out) blocks on the row lock and then finds the fresh token.
// The refresh call runs while the row lock is held: one round trip per shop per hour. On SQLite
// that transaction holds the database's write lock (every writer waits for the round trip), so
// the token endpoint timeout is kept short (platform_oauth.cpp). If the response is lost after
// the platform rotated, the platform keeps accepting the old refresh token until the new one is
// first used (shopify.dev changelog, 2026-08-28), so the next attempt recovers.
//
// Thread-safe. Calls take their own transactions unless they take a Tx.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "plugin/core/clock.h"
#include "plugin/core/db.h"
#include "plugin/core/platform_oauth.h"
#include "plugin/core/shop_store.h"
#include "plugin/core/token_cipher.h"

namespace afterglow {

// The decrypted tokens of a shop (tests and the platform client; never log them).
struct StoredTokens {
  int64_t shop_id = 0;
  std::string access_token;
  std::string refresh_token;  // "" for a non-expiring token
  std::optional<int64_t> access_expires_at_ms;
  std::optional<int64_t> refresh_expires_at_ms;
  std::string scopes;
};

class ShopTokens {
 public:
  struct Options {
    // Refresh when the access token has less than this left ("a few minutes before expiry").
    std::chrono::milliseconds refresh_margin{std::chrono::minutes(5)};
  };

  // Every reference must outlive this object.
  ShopTokens(Db& db, const TokenCipher& cipher, const OAuthClient& oauth, const Clock& clock,
             Options options);
  ShopTokens(Db& db, const TokenCipher& cipher, const OAuthClient& oauth, const Clock& clock)
      : ShopTokens(db, cipher, oauth, clock, Options{}) {}

  // Installs (or re-installs) `shop` with `grant`, in the caller's transaction: creates the row
  // if needed, sets state installed (from uninstalled or redacted too; installed_at is reset
  // then), clears uninstalled_at, seals both tokens, writes expiries (from the clock) and
  // scopes. Returns the shop row as it is after the write.
  Result<ShopRecord> store_grant(Tx& tx, std::string_view shop, const TokenGrant& grant);

  // An access token for `shop` with more than the refresh margin left: the stored one, or a
  // refreshed one (single-flight, see above). Errors:
  //   kNotFound        the shop is unknown, not installed, or has no token;
  //   kUnauthenticated the refresh token is expired or was refused: the merchant must open the
  //                    app again (token exchange) or reinstall;
  //   kUnavailable     the token endpoint is unreachable or failing: try later;
  //   kInternal        a stored token does not decrypt (wrong TOKEN_ENCRYPTION_KEY).
  Result<std::string> access_token(std::string_view shop);

  // The platform answered 401 to `rejected`: refreshes, unless another caller has already
  // replaced `rejected` (then returns the stored token). Same errors as access_token; a shop
  // with a non-expiring token cannot refresh and gets kUnauthenticated.
  Result<std::string> refresh_after_unauthorized(std::string_view shop, std::string_view rejected);

  // The decrypted tokens, or nullopt when the shop is unknown or has none.
  Result<std::optional<StoredTokens>> load(std::string_view shop);

 private:
  enum class Want { kFresh, kReplace };
  Result<std::string> refresh_locked(std::string_view shop, Want want, std::string_view rejected);
  Result<std::optional<StoredTokens>> read_row(Tx& tx, std::string_view shop, bool for_update);
  Result<void> write_grant(Tx& tx, int64_t shop_id, std::string_view shop, const TokenGrant& grant);
  bool fresh(const StoredTokens& t) const;
  std::shared_ptr<std::mutex> shop_mutex(std::string_view shop);

  Db& db_;
  const TokenCipher& cipher_;
  const OAuthClient& oauth_;
  const Clock& clock_;
  Options options_;
  std::mutex mutexes_mutex_;
  std::map<std::string, std::shared_ptr<std::mutex>, std::less<>>
      mutexes_;  // GUARDED_BY(mutexes_mutex_)
};

// The associated data that binds a sealed token to its shop and column.
std::string token_associated_data(std::string_view shop, std::string_view column);

}  // namespace afterglow
