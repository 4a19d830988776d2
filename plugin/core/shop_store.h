// The shops table: one row per shop domain, read by every module. A shop is `installed`,
// `uninstalled` (app/uninstalled arrived: tokens gone, data kept until shop/redact) or
// `redacted` (shop/redact arrived: a tombstone holding only the domain, so a late event is
// ignored instead of re-creating the shop).
//
// Every call runs inside the caller's transaction, so it commits or rolls back with the work
// that needed it. Functions are thread-safe in the sense that they hold no state of their own.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "plugin/core/db.h"

namespace afterglow {

inline constexpr std::string_view kShopInstalled = "installed";
inline constexpr std::string_view kShopUninstalled = "uninstalled";
inline constexpr std::string_view kShopRedacted = "redacted";

struct ShopRecord {
  int64_t id = 0;
  std::string domain;
  std::optional<int64_t> platform_shop_id;
  std::string state;      // installed | uninstalled | redacted
  std::string hash_salt;  // keys address_hash for this shop
};

// The shop with `domain` ({name}.myshopify.com, lower case), or nullopt.
Result<std::optional<ShopRecord>> find_shop(Tx& tx, std::string_view domain);

// The shop with `domain`, created as `installed` with a fresh random hash_salt when unknown.
// Verified webhooks may name a shop before the install flow has stored it, and their data must
// land somewhere. `platform_shop_id`, when given, fills the column if it is still empty. An
// existing row is returned as it is, whatever its state (callers decide what a state means).
Result<ShopRecord> ensure_shop(Tx& tx, std::string_view domain, int64_t now_ms,
                               std::optional<int64_t> platform_shop_id = std::nullopt);

// Marks the shop uninstalled at `now_ms` and deletes its tokens (every token column NULL). A
// redacted shop keeps state `redacted`. Returns false when no shop has that id.
Result<bool> mark_shop_uninstalled(Tx& tx, int64_t shop_id, int64_t now_ms);

// Turns the shop row into a tombstone: state `redacted`, tokens and scopes NULL, settings "{}".
// Deleting the shop's other data is the caller's job. Returns false when no shop has that id.
Result<bool> mark_shop_redacted(Tx& tx, int64_t shop_id);

enum class AddressChannel { kEmail, kSms };

// The stable name of a channel as stored in suppressions.channel: "email" or "sms".
std::string_view channel_name(AddressChannel channel);

// The form addresses are compared and hashed in: an email trimmed of surrounding white space and
// lower-cased (ASCII); a phone number reduced to its digits and '+'.
std::string normalise_address(AddressChannel channel, std::string_view address);

// Lower-case hex HMAC-SHA256 keyed with the shop's `salt` over the normalised address. This is
// what suppressions.address_hash holds: it lets us recognise an address again without keeping it.
std::string address_hash(std::string_view salt, AddressChannel channel, std::string_view address);

}  // namespace afterglow
