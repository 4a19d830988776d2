// When an SMS may go out: the recipient's local time against the shop's quiet hours, the US
// federal 8:00–21:00 floor (47 CFR 64.1200(c)(1)) and stricter state rules
// (shared/spec/messaging.md §2.2, competitors.md §2.6). The send worker asks
// next_send_time() before sending and reschedules the step to the answer; the reason goes to
// the send log.
//
// Where the recipient is comes from the best hint available (locate_recipient): the zone on
// their profile, their address (US state / Canadian province), their phone's area code (US and
// Canadian numbers), their country (address or E.164 prefix), and finally the shop's own zone.
// A place that spans several zones yields all of them, and sending must then be allowed in
// every one (the intersection the spec asks for when an area code spans two zones).
//
// Everything here is pure: instants are passed in (UTC milliseconds since the Unix epoch), no
// clock is read, and zones come from email/time_zone.h's process-wide cache. All functions are
// thread-safe. Minute granularity: an instant is judged by the local minute it falls in.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "plugin/core/shop_settings.h"

namespace afterglow::email {

// What we know about where a recipient is. Empty strings are unknown.
struct LocationHints {
  std::string profile_time_zone;  // IANA zone from their profile ("America/Chicago")
  std::string country_code;       // address country, ISO 3166-1 alpha-2 ("US", "gb")
  std::string province_code;      // address state/province ("FL" or "US-FL"; "ON")
  // The SMS number: E.164 ("+13055550123") preferred; a bare 10-digit or 1+10-digit number is
  // read as North American.
  std::string phone;
  std::string shop_time_zone;  // ShopSettings::time_zone
};

struct RecipientLocation {
  // IANA zones the recipient may be in; never empty ("UTC" when even the shop's zone is
  // unusable). Every name resolves through time_zone() at the time it was located.
  std::vector<std::string> zones;
  // Whose laws apply: "US-FL", "CA-ON" (ISO 3166-2) when known from the address or the area
  // code, else the country ("US", "GB", "CA" for a code spanning provinces), else "".
  std::string region;
  // Where `zones` came from: "profile", "address", "area_code", "country" or "shop".
  std::string source;
};

// Picks zones (first usable of: profile zone, US/Canadian address subdivision, North American
// area code, country from the address or the phone's E.164 prefix, shop zone) and the region
// (address subdivision, else area code, else country). Unknown or malformed hints are skipped.
RecipientLocation locate_recipient(const LocationHints& hints);

inline constexpr int kMinutesPerDay = 24 * 60;

// Sending allowed from open_minute up to (not including) close_minute, minutes after local
// midnight (10:00–20:00 is {600, 1200}).
struct SendWindow {
  int open_minute = 0;
  int close_minute = kMinutesPerDay;
};

// Allowed windows for each local weekday (index 0 = Sunday); sorted, disjoint, non-empty
// windows. A day with no windows allows no sending.
using WeeklyWindows = std::array<std::vector<SendWindow>, 7>;

// One rule in force for a recipient.
struct SendRule {
  std::string name;  // for the send log: "shop quiet hours", "US federal rule", "US-TX state rule"
  WeeklyWindows allowed;
};

// The rules in force: the shop's quiet hours when `quiet.enabled` (quiet from start_hour to
// end_hour, wrapping past midnight when start > end; a window starting on a day in `days` runs
// into the next morning; `no_send_days` allow nothing; unknown day names are ignored), the
// federal floor when the region is in the US (territories included), and the state's own rule
// when it has one.
std::vector<SendRule> send_rules(const RecipientLocation& where, const QuietHours& quiet);

// The windows every rule allows (all day, every day when there are no rules).
WeeklyWindows allowed_windows(const std::vector<SendRule>& rules);

// Whether `utc_ms` is inside the allowed windows in every zone of `where`. A zone that no longer
// resolves is skipped; with none left, nothing is allowed (fail closed).
bool send_allowed_at(int64_t utc_ms, const RecipientLocation& where, const QuietHours& quiet);

// The first instant ≥ `utc_ms` allowed in every zone of `where` (utc_ms itself when allowed
// now); window openings fall on whole local minutes. std::nullopt when no such instant comes
// within 14 days (e.g. every day closed) or no zone resolves.
std::optional<int64_t> next_send_time(int64_t utc_ms, const RecipientLocation& where,
                                      const QuietHours& quiet);

// Why `utc_ms` is blocked, for the send log ("21:40 Tue in America/Chicago is outside
// 10:00–20:00 (shop quiet hours)"; "11:00 Sun in America/New_York allows no sending (shop
// quiet hours)"); "" when sending is allowed.
std::string describe_block(int64_t utc_ms, const RecipientLocation& where, const QuietHours& quiet);

// Self-check of the built-in location tables (area codes, subdivisions, countries): every zone
// they name loads, no area code is listed twice. Empty when all is well; for start-up
// diagnostics and tests.
std::vector<std::string> location_table_problems();

}  // namespace afterglow::email
