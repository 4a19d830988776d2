#include "plugin/app/platform_services.h"

#include "plugin/core/log.h"

namespace afterglow::app {

Result<std::unique_ptr<PlatformServices>> build_platform_services(const Config& config, Db& db,
                                                                  const Clock& clock) {
  auto s = std::make_unique<PlatformServices>();
  CurlOptions curl;
  curl.ca_file = config.platform_ca_file;
  s->http = make_curl_http_client(curl);
  PlatformEndpoints endpoints(config.platform_api_base);
  s->oauth = std::make_unique<OAuthClient>(*s->http, endpoints,
                                           OAuthCredentials{config.api_key, config.api_secret});
  if (config.token_encryption_key.empty()) return s;
  auto cipher = TokenCipher::from_base64_key(config.token_encryption_key);
  if (!cipher) return std::unexpected(cipher.error());  // names the key
  s->cipher.emplace(std::move(*cipher));
  s->tokens = std::make_unique<ShopTokens>(db, *s->cipher, *s->oauth, clock);
  s->client =
      std::make_unique<PlatformClient>(*s->http, *s->tokens, endpoints, clock, system_sleeper());
  s->catalog = std::make_unique<CatalogSync>(db, *s->client, clock);
  return s;
}

void register_platform_jobs(PlatformServices& services, JobHandlers& handlers) {
  CatalogSync* catalog = services.catalog.get();
  auto missing_key = [](const Job&) -> Result<void> {
    return fail(ErrorCode::kUnavailable, kNoEncryptionKey);
  };
  if (!catalog) {
    handlers.add(kCatalogSyncJobKind, missing_key);
    handlers.add(kCatalogRefreshJobKind, missing_key);
    return;
  }
  handlers.add(kCatalogSyncJobKind,
               [catalog](const Job& job) { return catalog->run_sync_job(job); });
  handlers.add(kCatalogRefreshJobKind,
               [catalog](const Job& job) { return catalog->run_refresh_job(job); });
}

}  // namespace afterglow::app
