#include "plugin/core/catalog_sync.h"

#include <nlohmann/json.hpp>

#include "plugin/core/catalog.h"
#include "plugin/core/log.h"
#include "plugin/core/shop_store.h"

namespace afterglow {
namespace {

using nlohmann::json;

// A sync walks every page; a shop with more products than this many pages is cut off (and the
// sweep skipped, so nothing is wrongly marked deleted).
constexpr int kMaxPages = 2000;

struct JobArgs {
  std::string shop;
  int64_t product_id = 0;
};

Result<JobArgs> parse_args(const Job& job, bool need_product) {
  json j = json::parse(job.payload, nullptr, /*allow_exceptions=*/false);
  JobArgs a;
  if (j.is_object() && j.contains("shop") && j["shop"].is_string()) a.shop = j["shop"];
  if (j.is_object() && j.contains("product_id") && j["product_id"].is_number_integer()) {
    a.product_id = j["product_id"];
  }
  if (a.shop.empty() || (need_product && a.product_id <= 0)) {
    return fail(ErrorCode::kInvalidArgument, std::string(job.kind) + ": malformed payload");
  }
  return a;
}

}  // namespace

JobSpec catalog_sync_job(std::string_view shop, int64_t shop_id) {
  JobSpec spec;
  spec.kind = kCatalogSyncJobKind;
  spec.payload = json{{"shop", std::string(shop)}}.dump();
  spec.shop_id = shop_id;
  // No unique key: it is enqueued in the install's own transaction, once per install, and a
  // reinstall must sync again.
  return spec;
}

JobSpec catalog_refresh_job(std::string_view shop, int64_t shop_id, int64_t product_id,
                            int64_t version_ms) {
  JobSpec spec;
  spec.kind = kCatalogRefreshJobKind;
  spec.payload = json{{"shop", std::string(shop)}, {"product_id", product_id}}.dump();
  spec.shop_id = shop_id;
  spec.unique_key = "catalog.refresh:" + std::to_string(shop_id) + ":" +
                    std::to_string(product_id) + ":" + std::to_string(version_ms);
  return spec;
}

CatalogSync::CatalogSync(Db& db, PlatformClient& platform, const Clock& clock)
    : db_(db), platform_(platform), clock_(clock) {}

Result<std::optional<int64_t>> CatalogSync::installed_shop_id(std::string_view shop) {
  std::optional<int64_t> id;
  AG_CHECK(db_.read([&](Tx& tx) -> Result<void> {
    auto rec = AG_TRY(find_shop(tx, shop));
    if (rec && rec->state == kShopInstalled) id = rec->id;
    return {};
  }));
  return id;
}

Result<int> CatalogSync::sync_shop(std::string_view shop) {
  auto shop_id = AG_TRY(installed_shop_id(shop));
  if (!shop_id) return fail(ErrorCode::kNotFound, "the shop is not installed");
  const int64_t started = clock_.now_ms();
  std::optional<std::string> cursor;
  int stored = 0;
  bool complete = false;
  for (int page_no = 0; page_no < kMaxPages; ++page_no) {
    ProductPage page = AG_TRY(platform_.fetch_products(shop, cursor));
    AG_CHECK(db_.write([&](Tx& tx) -> Result<void> {
      if (!page.currency.empty()) AG_CHECK(set_shop_currency(tx, *shop_id, page.currency));
      std::optional<std::string_view> currency;
      if (!page.currency.empty()) currency = page.currency;
      for (const CatalogProduct& p : page.products) {
        AG_CHECK(upsert_product(tx, *shop_id, p, currency, clock_.now_ms(), /*force=*/true));
        ++stored;
      }
      return {};
    }));
    if (!page.next_cursor) {
      complete = true;
      break;
    }
    cursor = page.next_cursor;
  }
  int64_t swept = 0;
  if (complete) {
    AG_CHECK(db_.write([&](Tx& tx) -> Result<void> {
      swept = AG_TRY(sweep_unsynced_products(tx, *shop_id, started));
      return {};
    }));
  }
  log::info("catalog synced",
            {{"shop", shop}, {"products", stored}, {"removed", swept}, {"complete", complete}});
  return stored;
}

Result<void> CatalogSync::refresh_product(std::string_view shop, int64_t product_id) {
  auto shop_id = AG_TRY(installed_shop_id(shop));
  if (!shop_id) return fail(ErrorCode::kNotFound, "the shop is not installed");
  auto product = AG_TRY(platform_.fetch_product(shop, product_id));
  return db_.write([&](Tx& tx) -> Result<void> {
    const int64_t now = clock_.now_ms();
    if (!product) return delete_product(tx, *shop_id, product_id, now);
    auto currency = AG_TRY(shop_currency(tx, *shop_id));
    std::optional<std::string_view> cur;
    if (currency) cur = *currency;
    // Not forced: a webhook written meanwhile with a newer updated_at wins; a deleted product
    // stays deleted.
    AG_CHECK(upsert_product(tx, *shop_id, *product, cur, now, /*force=*/false));
    return {};
  });
}

Result<void> CatalogSync::run_sync_job(const Job& job) {
  JobArgs a = AG_TRY(parse_args(job, false));
  auto r = sync_shop(a.shop);
  if (!r && r.error().code == ErrorCode::kNotFound) return {};  // uninstalled meanwhile
  if (!r) return std::unexpected(r.error());
  return {};
}

Result<void> CatalogSync::run_refresh_job(const Job& job) {
  JobArgs a = AG_TRY(parse_args(job, true));
  auto r = refresh_product(a.shop, a.product_id);
  if (!r && r.error().code == ErrorCode::kNotFound) return {};
  return r;
}

}  // namespace afterglow
