#include "plugin/core/shop_install.h"

#include <set>

#include "plugin/core/catalog_sync.h"
#include "plugin/core/log.h"
#include "plugin/core/platform_scopes.h"

namespace afterglow {
namespace {

std::vector<std::string> split_scopes(std::string_view s) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos <= s.size()) {
    size_t comma = s.find(',', pos);
    if (comma == std::string_view::npos) comma = s.size();
    std::string_view part = s.substr(pos, comma - pos);
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    while (!part.empty() && part.back() == ' ') part.remove_suffix(1);
    if (!part.empty()) out.emplace_back(part);
    pos = comma + 1;
  }
  return out;
}

}  // namespace

std::vector<std::string> missing_scopes(std::string_view granted, std::string_view required) {
  std::set<std::string> have;
  for (const std::string& g : split_scopes(granted)) {
    have.insert(g);
    if (g.rfind("write_", 0) == 0) have.insert("read_" + g.substr(6));
  }
  std::vector<std::string> missing;
  for (const std::string& r : split_scopes(required)) {
    if (!have.count(r)) missing.push_back(r);
  }
  return missing;
}

ShopInstaller::ShopInstaller(Db& db, JobQueue& queue, ShopTokens& tokens, const OAuthClient& oauth,
                             const Clock& clock, std::function<void()> on_enqueued)
    : db_(db),
      queue_(queue),
      tokens_(tokens),
      oauth_(oauth),
      clock_(clock),
      on_enqueued_(std::move(on_enqueued)) {}

Result<Installed> ShopInstaller::install_with_code(std::string_view shop, std::string_view code) {
  TokenGrant grant = AG_TRY(oauth_.exchange_code(shop, code));
  return store(shop, grant);
}

Result<Installed> ShopInstaller::install_with_session_token(std::string_view shop,
                                                            std::string_view session_token) {
  auto current = tokens_.load(shop);
  // A shop whose refresh token has run out can only get going again this way: exchange anew.
  bool usable =
      current && *current &&
      (!(*current)->refresh_expires_at_ms || *(*current)->refresh_expires_at_ms > clock_.now_ms());
  if (usable) {
    Installed out;
    AG_CHECK(db_.read([&](Tx& tx) -> Result<void> {
      auto rec = AG_TRY(find_shop(tx, shop));
      if (rec) out.shop = *rec;
      return {};
    }));
    out.missing_scopes = missing_scopes((*current)->scopes, kRequiredScopes);
    return out;
  }
  // A token that does not decrypt (wrong key) is not papered over with a new install.
  if (!current) return std::unexpected(current.error());
  TokenGrant grant = AG_TRY(oauth_.exchange_session_token(shop, session_token));
  return store(shop, grant);
}

Result<Installed> ShopInstaller::store(std::string_view shop, const TokenGrant& grant) {
  Installed out;
  out.missing_scopes = missing_scopes(grant.scope, kRequiredScopes);
  bool enqueued = false;
  AG_CHECK(db_.write([&](Tx& tx) -> Result<void> {
    auto before = AG_TRY(find_shop(tx, shop));
    out.reinstalled = before && before->state != kShopInstalled;
    out.shop = AG_TRY(tokens_.store_grant(tx, shop, grant));
    auto id = AG_TRY(queue_.enqueue(tx, catalog_sync_job(shop, out.shop.id)));
    enqueued = id.has_value();
    return {};
  }));
  if (enqueued && on_enqueued_) on_enqueued_();
  std::string missing;
  for (const std::string& m : out.missing_scopes) missing += (missing.empty() ? "" : ",") + m;
  log::info("shop installed", {{"shop", shop},
                               {"reinstall", out.reinstalled},
                               {"expiring_token", grant.expires_in_s.has_value()},
                               {"missing_scopes", missing}});
  if (!out.missing_scopes.empty()) {
    log::warn("shop granted fewer scopes than required", {{"shop", shop}, {"missing", missing}});
  }
  return out;
}

}  // namespace afterglow
