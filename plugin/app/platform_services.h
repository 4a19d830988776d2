// The platform side of a process, built once from the config and shared by the install routes
// and the job workers: outbound HTTPS (libcurl; PLATFORM_CA_FILE replaces the CA bundle when
// set, verification is never off), the token cipher (TOKEN_ENCRYPTION_KEY), the OAuth client,
// the shop tokens (one per process, so its per-shop refresh mutex covers every thread), the
// Admin API client and the catalog sync.
//
// Without TOKEN_ENCRYPTION_KEY there is nowhere safe to keep tokens: ready() is false, the
// install routes answer 503 naming the key, and the catalog jobs fail (and retry) with the same
// message. A malformed key stops the process at start.
#pragma once

#include <memory>
#include <optional>

#include "plugin/core/catalog_sync.h"
#include "plugin/core/clock.h"
#include "plugin/core/config.h"
#include "plugin/core/db.h"
#include "plugin/core/http_client.h"
#include "plugin/core/platform_client.h"
#include "plugin/core/platform_oauth.h"
#include "plugin/core/shop_tokens.h"
#include "plugin/core/token_cipher.h"
#include "plugin/core/worker_pool.h"

namespace afterglow::app {

struct PlatformServices {
  std::unique_ptr<HttpClient> http;
  std::optional<TokenCipher> cipher;  // nullopt: TOKEN_ENCRYPTION_KEY is not set
  std::unique_ptr<OAuthClient> oauth;
  std::unique_ptr<ShopTokens> tokens;      // null when !cipher
  std::unique_ptr<PlatformClient> client;  // null when !cipher
  std::unique_ptr<CatalogSync> catalog;    // null when !cipher

  bool ready() const { return tokens != nullptr; }
};

inline constexpr const char* kNoEncryptionKey =
    "TOKEN_ENCRYPTION_KEY is not set: shop tokens cannot be stored (set it to the base64 of 32 "
    "random bytes, e.g. openssl rand -base64 32)";

// kInvalidArgument naming TOKEN_ENCRYPTION_KEY when it is set but malformed.
Result<std::unique_ptr<PlatformServices>> build_platform_services(const Config& config, Db& db,
                                                                  const Clock& clock);

// Registers the catalog.sync and catalog.refresh_product job kinds.
void register_platform_jobs(PlatformServices& services, JobHandlers& handlers);

}  // namespace afterglow::app
