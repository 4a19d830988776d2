// Filling the products cache (catalog.h) from the Admin API, as jobs:
//   catalog.sync             {"shop": domain}                  every product page, then the
//                            products not seen are marked deleted; learns the shop's currency.
//                            Enqueued by the install flow.
//   catalog.refresh_product  {"shop": domain, "product_id": N} one product (with its
//                            collections); enqueued by the products/* webhook handler for a
//                            product we did not know.
// The HTTP calls run outside any transaction; each page is written in a transaction of its own.
// Thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "plugin/core/clock.h"
#include "plugin/core/db.h"
#include "plugin/core/job_queue.h"
#include "plugin/core/platform_client.h"

namespace afterglow {

inline constexpr const char* kCatalogSyncJobKind = "catalog.sync";
inline constexpr const char* kCatalogRefreshJobKind = "catalog.refresh_product";

// The job specs. A refresh job is unique per shop, product and product version.
JobSpec catalog_sync_job(std::string_view shop, int64_t shop_id);
JobSpec catalog_refresh_job(std::string_view shop, int64_t shop_id, int64_t product_id,
                            int64_t version_ms);

class CatalogSync {
 public:
  CatalogSync(Db& db, PlatformClient& platform, const Clock& clock);

  // Fetches every product of `shop` and stores it; returns how many were stored. kNotFound when
  // the shop is unknown.
  Result<int> sync_shop(std::string_view shop);
  // Fetches one product and stores it (or marks it deleted when the platform no longer has it).
  Result<void> refresh_product(std::string_view shop, int64_t product_id);

  // Job handlers for the two kinds above. A shop that is no longer installed completes the job
  // without calling the platform.
  Result<void> run_sync_job(const Job& job);
  Result<void> run_refresh_job(const Job& job);

 private:
  Result<std::optional<int64_t>> installed_shop_id(std::string_view shop);

  Db& db_;
  PlatformClient& platform_;
  const Clock& clock_;
};

}  // namespace afterglow
