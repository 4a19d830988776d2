#include "plugin/core/shop_store.h"

#include "plugin/core/crypto.h"

namespace afterglow {
namespace {

constexpr const char* kSelectShop =
    "SELECT id, domain, platform_shop_id, state, hash_salt FROM shops WHERE domain = ?";

ShopRecord to_shop(const Row& r) {
  ShopRecord s;
  s.id = r.i64(0);
  s.domain = r.text(1);
  s.platform_shop_id = r.opt_i64(2);
  s.state = r.text(3);
  s.hash_salt = r.text(4);
  return s;
}

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

}  // namespace

Result<std::optional<ShopRecord>> find_shop(Tx& tx, std::string_view domain) {
  auto row = AG_TRY(tx.query_one(kSelectShop, {std::string(domain)}));
  if (!row) return std::optional<ShopRecord>();
  return std::optional<ShopRecord>(to_shop(*row));
}

Result<ShopRecord> ensure_shop(Tx& tx, std::string_view domain, int64_t now_ms,
                               std::optional<int64_t> platform_shop_id) {
  auto found = AG_TRY(find_shop(tx, domain));
  if (!found) {
    // DO NOTHING rather than DO UPDATE: a row another process inserted meanwhile keeps its salt.
    AG_CHECK(
        tx.exec("INSERT INTO shops (domain, platform_shop_id, state, installed_at_ms, hash_salt) "
                "VALUES (?, ?, 'installed', ?, ?) ON CONFLICT (domain) DO NOTHING",
                {std::string(domain), platform_shop_id ? DbValue{*platform_shop_id} : DbValue{},
                 now_ms, crypto::random_hex(16)}));
    found = AG_TRY(find_shop(tx, domain));
    if (!found) return fail(ErrorCode::kInternal, "shop row missing after insert");
  }
  if (platform_shop_id && !found->platform_shop_id) {
    AG_CHECK(tx.exec("UPDATE shops SET platform_shop_id = ? WHERE id = ?",
                     {*platform_shop_id, found->id}));
    found->platform_shop_id = platform_shop_id;
  }
  return std::move(*found);
}

Result<bool> mark_shop_uninstalled(Tx& tx, int64_t shop_id, int64_t now_ms) {
  int64_t changed = AG_TRY(tx.exec(
      "UPDATE shops SET state = CASE WHEN state = 'redacted' THEN state ELSE 'uninstalled' END, "
      "uninstalled_at_ms = ?, access_token_enc = NULL, refresh_token_enc = NULL, "
      "access_token_expires_at_ms = NULL, refresh_token_expires_at_ms = NULL WHERE id = ?",
      {now_ms, shop_id}));
  return changed == 1;
}

Result<bool> mark_shop_redacted(Tx& tx, int64_t shop_id) {
  int64_t changed = AG_TRY(tx.exec(
      "UPDATE shops SET state = 'redacted', access_token_enc = NULL, refresh_token_enc = NULL, "
      "access_token_expires_at_ms = NULL, refresh_token_expires_at_ms = NULL, scopes = NULL, "
      "settings = '{}' WHERE id = ?",
      {shop_id}));
  return changed == 1;
}

std::string_view channel_name(AddressChannel channel) {
  return channel == AddressChannel::kEmail ? "email" : "sms";
}

std::string normalise_address(AddressChannel channel, std::string_view address) {
  std::string out;
  if (channel == AddressChannel::kEmail) {
    size_t b = 0, e = address.size();
    while (b < e && is_space(address[b])) ++b;
    while (e > b && is_space(address[e - 1])) --e;
    out.assign(address.substr(b, e - b));
    for (char& c : out) {
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
  } else {
    for (char c : address) {
      if ((c >= '0' && c <= '9') || c == '+') out.push_back(c);
    }
  }
  return out;
}

std::string address_hash(std::string_view salt, AddressChannel channel, std::string_view address) {
  return crypto::to_hex(crypto::hmac_sha256(salt, normalise_address(channel, address)));
}

}  // namespace afterglow
