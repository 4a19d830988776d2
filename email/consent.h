// Marketing consent per channel and address, and the suppression list that overrides it.
//
// Two records, two jobs:
// - `consents` says what the person agreed to (state, source, wording, when) and keeps the
//   evidence in `consent_events` (append-only). Platform webhooks, SMS keywords, the
//   preference centre and the unsubscribe link all write through record_consent().
// - `suppressions` (plugin/core, by salted hash, so it outlives customers/redact) says "never
//   again": unsubscribe, hard bounce, complaint, SMS STOP, invalid number. A platform event
//   claiming "subscribed" never lifts a suppression; only the person does (SMS START, the
//   preference centre's "subscribe again"), through lift_suppression().
//
// Withdrawal wins: an unsubscribe recorded here takes effect for every later step at once (the
// send-time policy reads these tables for every send). Calls run in the caller's transaction
// and keep no state.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "plugin/core/db.h"
#include "plugin/core/shop_store.h"

namespace afterglow::email {

enum class ConsentState { kSubscribed, kNotSubscribed, kUnsubscribed, kPending };

std::string_view consent_state_name(ConsentState state);
// "subscribed" … ; also Shopify's names ("SUBSCRIBED", "not_subscribed", "redacted" and
// "invalid" read as unsubscribed). nullopt for anything else.
std::optional<ConsentState> parse_consent_state(std::string_view name);

struct ConsentChange {
  AddressChannel channel = AddressChannel::kEmail;
  std::string address;                  // normalised inside
  std::optional<int64_t> customer_id;
  ConsentState state = ConsentState::kNotSubscribed;
  std::string source;                   // shopify_customer | shopify_order | sms_keyword | …
  std::string wording;                  // the disclosure agreed to (SMS: required to send)
  std::string opt_in_level;             // single_opt_in | confirmed_opt_in | unknown
  std::optional<int64_t> collected_at_ms;  // when the person acted, as the source reports it
  std::string detail;                   // evidence for consent_events (inbound text, …)
};

struct ConsentRecord {
  AddressChannel channel = AddressChannel::kEmail;
  std::string address;
  std::optional<int64_t> customer_id;
  ConsentState state = ConsentState::kNotSubscribed;
  std::string source;
  std::string wording;
  std::string opt_in_level;
  std::optional<int64_t> collected_at_ms;
  std::string frequency = "normal";     // preference centre: normal | weekly | monthly
  int64_t updated_at_ms = 0;
};

// Appends the change to consent_events and updates the current record. Platform sources
// (shopify_*) arrive unordered: one whose collected_at is older than the stored record's is
// kept as evidence only. An unsubscribe also suppresses the address (reason "unsubscribe", or
// "sms_stop" from an SMS keyword). An empty address changes nothing (returns false).
// Returns whether the current record changed.
Result<bool> record_consent(Tx& tx, int64_t shop_id, const ConsentChange& change, int64_t now_ms);

Result<std::optional<ConsentRecord>> find_consent(Tx& tx, int64_t shop_id, AddressChannel channel,
                                                  std::string_view address);

// Sets the preference centre's frequency (normal | weekly | monthly) on an existing record;
// false when there is none or the value is not one of those.
Result<bool> set_consent_frequency(Tx& tx, int64_t shop_id, AddressChannel channel,
                                   std::string_view address, std::string_view frequency,
                                   int64_t now_ms);

// Adds the address to the suppression list (idempotent; the first reason is kept).
Result<void> suppress_address(Tx& tx, int64_t shop_id, AddressChannel channel,
                              std::string_view address, std::string_view reason, int64_t now_ms);

// The reason the address is suppressed, or nullopt.
Result<std::optional<std::string>> suppression_reason(Tx& tx, int64_t shop_id,
                                                      AddressChannel channel,
                                                      std::string_view address);

// Removes a suppression the person themselves can undo ("unsubscribe", "sms_stop"); hard
// bounces, complaints and invalid numbers stay. Returns whether a row was removed.
Result<bool> lift_suppression(Tx& tx, int64_t shop_id, AddressChannel channel,
                              std::string_view address);

}  // namespace afterglow::email
