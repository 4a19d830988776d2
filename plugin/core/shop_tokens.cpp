#include "plugin/core/shop_tokens.h"

#include "plugin/core/crypto.h"
#include "plugin/core/log.h"

namespace afterglow {
namespace {

constexpr std::string_view kAccessColumn = "access_token_enc";
constexpr std::string_view kRefreshColumn = "refresh_token_enc";

}  // namespace

std::string token_associated_data(std::string_view shop, std::string_view column) {
  return "shop:" + std::string(shop) + ":" + std::string(column);
}

ShopTokens::ShopTokens(Db& db, const TokenCipher& cipher, const OAuthClient& oauth,
                       const Clock& clock, Options options)
    : db_(db), cipher_(cipher), oauth_(oauth), clock_(clock), options_(options) {}

std::shared_ptr<std::mutex> ShopTokens::shop_mutex(std::string_view shop) {
  std::lock_guard<std::mutex> lock(mutexes_mutex_);
  auto it = mutexes_.find(shop);
  if (it == mutexes_.end()) {
    it = mutexes_.emplace(std::string(shop), std::make_shared<std::mutex>()).first;
  }
  return it->second;
}

bool ShopTokens::fresh(const StoredTokens& t) const {
  if (!t.access_expires_at_ms) return true;  // a non-expiring token never needs a refresh
  return *t.access_expires_at_ms - clock_.now_ms() > options_.refresh_margin.count();
}

Result<std::optional<StoredTokens>> ShopTokens::read_row(Tx& tx, std::string_view shop,
                                                         bool for_update) {
  std::string sql =
      "SELECT id, state, access_token_enc, refresh_token_enc, access_token_expires_at_ms, "
      "refresh_token_expires_at_ms, scopes FROM shops WHERE domain = ?";
  if (for_update) sql += " FOR UPDATE";
  auto row = AG_TRY(tx.query_one(sql, {std::string(shop)}));
  if (!row || row->text(1) != kShopInstalled || row->is_null(2)) {
    return std::optional<StoredTokens>();
  }
  StoredTokens t;
  t.shop_id = row->i64(0);
  t.access_token = AG_TRY(cipher_.open(row->text(2), token_associated_data(shop, kAccessColumn)));
  if (!row->is_null(3)) {
    t.refresh_token =
        AG_TRY(cipher_.open(row->text(3), token_associated_data(shop, kRefreshColumn)));
  }
  t.access_expires_at_ms = row->opt_i64(4);
  t.refresh_expires_at_ms = row->opt_i64(5);
  t.scopes = row->text(6);
  return std::optional<StoredTokens>(std::move(t));
}

Result<void> ShopTokens::write_grant(Tx& tx, int64_t shop_id, std::string_view shop,
                                     const TokenGrant& grant) {
  const int64_t now = clock_.now_ms();
  DbValue refresh_enc, access_exp, refresh_exp;
  if (!grant.refresh_token.empty()) {
    refresh_enc = cipher_.seal(grant.refresh_token, token_associated_data(shop, kRefreshColumn));
  }
  if (grant.expires_in_s) access_exp = now + *grant.expires_in_s * 1000;
  if (grant.refresh_token_expires_in_s)
    refresh_exp = now + *grant.refresh_token_expires_in_s * 1000;
  AG_CHECK(tx.exec(
      "UPDATE shops SET access_token_enc = ?, refresh_token_enc = ?, "
      "access_token_expires_at_ms = ?, refresh_token_expires_at_ms = ?, scopes = ? WHERE id = ?",
      {cipher_.seal(grant.access_token, token_associated_data(shop, kAccessColumn)), refresh_enc,
       access_exp, refresh_exp, grant.scope, shop_id}));
  return {};
}

Result<ShopRecord> ShopTokens::store_grant(Tx& tx, std::string_view shop, const TokenGrant& grant) {
  const int64_t now = clock_.now_ms();
  ShopRecord rec = AG_TRY(ensure_shop(tx, shop, now));
  // Lock the row: a concurrent refresh must not interleave with an install.
  AG_CHECK(tx.query_one("SELECT id FROM shops WHERE id = ? FOR UPDATE", {rec.id}));
  AG_CHECK(tx.exec(
      "UPDATE shops SET installed_at_ms = CASE WHEN state = 'installed' THEN installed_at_ms "
      "ELSE ? END, state = 'installed', uninstalled_at_ms = NULL WHERE id = ?",
      {now, rec.id}));
  AG_CHECK(write_grant(tx, rec.id, shop, grant));
  rec.state = std::string(kShopInstalled);
  return rec;
}

Result<std::optional<StoredTokens>> ShopTokens::load(std::string_view shop) {
  std::optional<StoredTokens> out;
  AG_CHECK(db_.read([&](Tx& tx) -> Result<void> {
    out = AG_TRY(read_row(tx, shop, /*for_update=*/false));
    return {};
  }));
  return out;
}

Result<std::string> ShopTokens::access_token(std::string_view shop) {
  auto current = AG_TRY(load(shop));
  if (!current) return fail(ErrorCode::kNotFound, "the shop is not installed (no access token)");
  if (fresh(*current)) return std::move(current->access_token);
  return refresh_locked(shop, Want::kFresh, {});
}

Result<std::string> ShopTokens::refresh_after_unauthorized(std::string_view shop,
                                                           std::string_view rejected) {
  return refresh_locked(shop, Want::kReplace, rejected);
}

Result<std::string> ShopTokens::refresh_locked(std::string_view shop, Want want,
                                               std::string_view rejected) {
  auto mutex = shop_mutex(shop);
  std::lock_guard<std::mutex> lock(*mutex);
  std::string token;
  AG_CHECK(db_.write([&](Tx& tx) -> Result<void> {
    auto current = AG_TRY(read_row(tx, shop, /*for_update=*/true));
    if (!current) return fail(ErrorCode::kNotFound, "the shop is not installed (no access token)");
    // Someone (a thread before us, another process) may have refreshed while we waited.
    bool done = want == Want::kFresh
                    ? fresh(*current)
                    : !crypto::constant_time_equal(current->access_token, rejected);
    if (done) {
      token = std::move(current->access_token);
      return {};
    }
    if (current->refresh_token.empty()) {
      return fail(ErrorCode::kUnauthenticated,
                  "the shop's token was refused and cannot be refreshed (non-expiring token); "
                  "the merchant must open the app again");
    }
    if (current->refresh_expires_at_ms && *current->refresh_expires_at_ms <= clock_.now_ms()) {
      return fail(ErrorCode::kUnauthenticated,
                  "the shop's refresh token has expired; the merchant must open the app again");
    }
    TokenGrant grant = AG_TRY(oauth_.refresh(shop, current->refresh_token));
    AG_CHECK(write_grant(tx, current->shop_id, shop, grant));
    log::info("shop token refreshed",
              {{"shop", shop}, {"reason", want == Want::kFresh ? "expiring" : "unauthorized"}});
    token = std::move(grant.access_token);
    return {};
  }));
  return token;
}

}  // namespace afterglow
