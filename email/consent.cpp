#include "email/consent.h"

#include <algorithm>
#include <cctype>

namespace afterglow::email {
namespace {

Result<std::string> shop_salt(Tx& tx, int64_t shop_id) {
  auto row = AG_TRY(tx.query_one("SELECT hash_salt FROM shops WHERE id = ?", {shop_id}));
  if (!row) return fail(ErrorCode::kNotFound, "no shop with id " + std::to_string(shop_id));
  return row->text(0);
}

DbValue opt(const std::optional<int64_t>& v) { return v ? DbValue(*v) : DbValue(); }
DbValue opt(const std::string& v) { return v.empty() ? DbValue() : DbValue(v); }

// Sources that are the person acting on our own surfaces: newer than anything the platform
// reports, whatever its timestamps say.
bool from_the_person(std::string_view source) {
  return source == "sms_keyword" || source == "unsubscribe_link" ||
         source == "preference_centre";
}

}  // namespace

std::string_view consent_state_name(ConsentState state) {
  switch (state) {
    case ConsentState::kSubscribed: return "subscribed";
    case ConsentState::kNotSubscribed: return "not_subscribed";
    case ConsentState::kUnsubscribed: return "unsubscribed";
    case ConsentState::kPending: return "pending";
  }
  return "not_subscribed";
}

std::optional<ConsentState> parse_consent_state(std::string_view name) {
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (lower == "subscribed") return ConsentState::kSubscribed;
  if (lower == "not_subscribed") return ConsentState::kNotSubscribed;
  if (lower == "unsubscribed" || lower == "redacted" || lower == "invalid") {
    return ConsentState::kUnsubscribed;
  }
  if (lower == "pending") return ConsentState::kPending;
  return std::nullopt;
}

Result<bool> record_consent(Tx& tx, int64_t shop_id, const ConsentChange& change,
                            int64_t now_ms) {
  std::string address = normalise_address(change.channel, change.address);
  if (address.empty()) return false;
  std::string channel(channel_name(change.channel));
  std::string state(consent_state_name(change.state));

  AG_CHECK(tx.exec(
      "INSERT INTO consent_events (shop_id, channel, address, customer_id, state, source, "
      "wording, detail, at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
      {shop_id, channel, address, opt(change.customer_id), state, change.source,
       opt(change.wording), opt(change.detail), now_ms}));

  auto current = AG_TRY(find_consent(tx, shop_id, change.channel, address));
  bool changed = false;
  if (!current) {
    AG_CHECK(tx.exec(
        "INSERT INTO consents (shop_id, channel, address, customer_id, state, source, wording, "
        "opt_in_level, collected_at_ms, updated_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        {shop_id, channel, address, opt(change.customer_id), state, change.source,
         opt(change.wording), opt(change.opt_in_level), opt(change.collected_at_ms), now_ms}));
    changed = true;
  } else {
    // Platform deliveries are unordered: an older report is evidence, not the current state.
    // The person's own actions are always current.
    bool older = !from_the_person(change.source) && change.collected_at_ms &&
                 current->collected_at_ms && *change.collected_at_ms < *current->collected_at_ms;
    // A platform report never re-subscribes someone who withdrew on our own surfaces.
    bool would_undo_withdrawal = !from_the_person(change.source) &&
                                 current->state == ConsentState::kUnsubscribed &&
                                 from_the_person(current->source) &&
                                 change.state != ConsentState::kUnsubscribed;
    if (!older && !would_undo_withdrawal) {
      AG_CHECK(tx.exec(
          "UPDATE consents SET customer_id = COALESCE(?, customer_id), state = ?, source = ?, "
          "wording = COALESCE(?, wording), opt_in_level = COALESCE(?, opt_in_level), "
          "collected_at_ms = COALESCE(?, collected_at_ms), updated_at_ms = ? "
          "WHERE shop_id = ? AND channel = ? AND address = ?",
          {opt(change.customer_id), state, change.source, opt(change.wording),
           opt(change.opt_in_level), opt(change.collected_at_ms), now_ms, shop_id, channel,
           address}));
      changed = current->state != change.state || current->source != change.source;
    }
  }
  if (change.state == ConsentState::kUnsubscribed) {
    AG_CHECK(suppress_address(tx, shop_id, change.channel, address,
                              change.source == "sms_keyword" ? "sms_stop" : "unsubscribe",
                              now_ms));
  }
  return changed;
}

Result<std::optional<ConsentRecord>> find_consent(Tx& tx, int64_t shop_id, AddressChannel channel,
                                                  std::string_view address) {
  std::string normalised = normalise_address(channel, address);
  auto row = AG_TRY(tx.query_one(
      "SELECT customer_id, state, source, wording, opt_in_level, collected_at_ms, frequency, "
      "updated_at_ms FROM consents WHERE shop_id = ? AND channel = ? AND address = ?",
      {shop_id, std::string(channel_name(channel)), normalised}));
  if (!row) return std::optional<ConsentRecord>();
  ConsentRecord r;
  r.channel = channel;
  r.address = normalised;
  r.customer_id = row->opt_i64(0);
  r.state = parse_consent_state(row->text(1)).value_or(ConsentState::kNotSubscribed);
  r.source = row->text(2);
  r.wording = row->text(3);
  r.opt_in_level = row->text(4);
  r.collected_at_ms = row->opt_i64(5);
  r.frequency = row->text(6);
  r.updated_at_ms = row->i64(7);
  return std::optional<ConsentRecord>(std::move(r));
}

Result<bool> set_consent_frequency(Tx& tx, int64_t shop_id, AddressChannel channel,
                                   std::string_view address, std::string_view frequency,
                                   int64_t now_ms) {
  if (frequency != "normal" && frequency != "weekly" && frequency != "monthly") return false;
  int64_t n = AG_TRY(tx.exec(
      "UPDATE consents SET frequency = ?, updated_at_ms = ? "
      "WHERE shop_id = ? AND channel = ? AND address = ?",
      {std::string(frequency), now_ms, shop_id, std::string(channel_name(channel)),
       normalise_address(channel, address)}));
  return n > 0;
}

Result<void> suppress_address(Tx& tx, int64_t shop_id, AddressChannel channel,
                              std::string_view address, std::string_view reason, int64_t now_ms) {
  std::string salt = AG_TRY(shop_salt(tx, shop_id));
  AG_CHECK(tx.exec(
      "INSERT INTO suppressions (shop_id, channel, address_hash, reason, created_at_ms) "
      "VALUES (?, ?, ?, ?, ?) ON CONFLICT (shop_id, channel, address_hash) DO NOTHING",
      {shop_id, std::string(channel_name(channel)), address_hash(salt, channel, address),
       std::string(reason), now_ms}));
  return {};
}

Result<std::optional<std::string>> suppression_reason(Tx& tx, int64_t shop_id,
                                                      AddressChannel channel,
                                                      std::string_view address) {
  std::string salt = AG_TRY(shop_salt(tx, shop_id));
  auto row = AG_TRY(tx.query_one(
      "SELECT reason FROM suppressions WHERE shop_id = ? AND channel = ? AND address_hash = ?",
      {shop_id, std::string(channel_name(channel)), address_hash(salt, channel, address)}));
  if (!row) return std::optional<std::string>();
  return std::optional<std::string>(row->text(0));
}

Result<bool> lift_suppression(Tx& tx, int64_t shop_id, AddressChannel channel,
                              std::string_view address) {
  std::string salt = AG_TRY(shop_salt(tx, shop_id));
  int64_t n = AG_TRY(tx.exec(
      "DELETE FROM suppressions WHERE shop_id = ? AND channel = ? AND address_hash = ? "
      "AND reason IN ('unsubscribe', 'sms_stop')",
      {shop_id, std::string(channel_name(channel)), address_hash(salt, channel, address)}));
  return n > 0;
}

}  // namespace afterglow::email
