// Time zones from the system TZif database and SMS send windows in the recipient's local time:
// DST edges, far-future footer rules, location precedence, shop/federal/state rule intersection.
#include "email/quiet_hours.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "email/time_zone.h"
#include "plugin/core/time_format.h"

using namespace afterglow;
using namespace afterglow::email;

namespace {

int64_t ms(const char* iso) {
  auto r = parse_iso8601_ms(iso);
  REQUIRE(r.has_value());
  return *r;
}

TimeZone zone(const char* name) {
  auto z = time_zone(name);
  REQUIRE(z.has_value());
  return *z;
}

std::string zoneinfo_bytes(const char* name) {
  std::ifstream in(std::string("/usr/share/zoneinfo/") + name, std::ios::binary);
  REQUIRE(in.good());
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

RecipientLocation in_zones(std::vector<std::string> zones, std::string region = "") {
  return RecipientLocation{std::move(zones), std::move(region), "test"};
}

QuietHours quiet_hours_off() {
  QuietHours q;
  q.enabled = false;
  return q;
}

QuietHours every_day_10_to_20() {
  QuietHours q;  // defaults: quiet 20 → 10 every day
  q.no_send_days = {};
  return q;
}

}  // namespace

TEST_CASE("New York offsets switch at the 2026 DST transitions", "[quiet_hours]") {
  const TimeZone ny = zone("America/New_York");
  CHECK(ny.name() == "America/New_York");
  CHECK(ny.offset_seconds_at(ms("2026-03-08T06:59:59Z")) == -5 * 3600);
  CHECK(ny.offset_seconds_at(ms("2026-03-08T07:00:00Z")) == -4 * 3600);
  CHECK(ny.offset_seconds_at(ms("2026-11-01T05:59:59Z")) == -4 * 3600);
  CHECK(ny.offset_seconds_at(ms("2026-11-01T06:00:00Z")) == -5 * 3600);

  const LocalTime before = ny.to_local(ms("2026-03-08T06:59:59Z"));
  CHECK(before.year == 2026);
  CHECK(before.month == 3);
  CHECK(before.day == 8);
  CHECK(before.hour == 1);
  CHECK(before.minute == 59);
  CHECK(before.second == 59);
  CHECK(before.weekday == 0);  // Sunday
  const LocalTime after = ny.to_local(ms("2026-03-08T07:00:00Z"));
  CHECK(after.hour == 3);
  CHECK(after.minute == 0);
  CHECK(after.offset_seconds == -4 * 3600);
}

TEST_CASE("London Lord Howe and Kolkata offsets", "[quiet_hours]") {
  const TimeZone london = zone("Europe/London");
  CHECK(london.offset_seconds_at(ms("2026-03-29T00:59:59Z")) == 0);
  CHECK(london.offset_seconds_at(ms("2026-03-29T01:00:00Z")) == 3600);
  CHECK(london.offset_seconds_at(ms("2026-10-25T00:59:59Z")) == 3600);
  CHECK(london.offset_seconds_at(ms("2026-10-25T01:00:00Z")) == 0);

  // Lord Howe Island: +10:30 standard, +11:00 in summer (a half-hour DST shift).
  const TimeZone lord_howe = zone("Australia/Lord_Howe");
  CHECK(lord_howe.offset_seconds_at(ms("2026-04-04T14:59:59Z")) == 39600);
  CHECK(lord_howe.offset_seconds_at(ms("2026-04-04T15:00:00Z")) == 37800);
  CHECK(lord_howe.offset_seconds_at(ms("2026-10-03T15:29:59Z")) == 37800);
  CHECK(lord_howe.offset_seconds_at(ms("2026-10-03T15:30:00Z")) == 39600);
  const LocalTime lh = lord_howe.to_local(ms("2026-07-01T00:00:00Z"));
  CHECK(lh.hour == 10);
  CHECK(lh.minute == 30);

  const TimeZone kolkata = zone("Asia/Kolkata");
  CHECK(kolkata.offset_seconds_at(ms("2026-01-15T12:00:00Z")) == 19800);
  CHECK(kolkata.offset_seconds_at(ms("2026-07-15T12:00:00Z")) == 19800);
  const LocalTime k = kolkata.to_local(ms("2026-07-15T20:00:00Z"));
  CHECK(k.day == 16);
  CHECK(k.hour == 1);
  CHECK(k.minute == 30);
  CHECK(k.weekday == 4);  // Thursday
}

TEST_CASE("from_local resolves a spring-forward gap and a fall-back overlap", "[quiet_hours]") {
  const TimeZone ny = zone("America/New_York");
  CHECK(ny.from_local(2026, 7, 1, 12, 0) == ms("2026-07-01T16:00:00Z"));
  CHECK(ny.from_local(2026, 1, 15, 9, 30) == ms("2026-01-15T14:30:00Z"));
  // 02:30 on 8 March never shows: the first instant after the gap is 03:00 EDT.
  CHECK(ny.from_local(2026, 3, 8, 2, 30) == ms("2026-03-08T07:00:00Z"));
  CHECK(ny.from_local(2026, 3, 8, 3, 0) == ms("2026-03-08T07:00:00Z"));
  CHECK(ny.from_local(2026, 3, 8, 1, 59) == ms("2026-03-08T06:59:00Z"));
  // 01:30 on 1 November shows twice: the earlier is 01:30 EDT.
  CHECK(ny.from_local(2026, 11, 1, 1, 30) == ms("2026-11-01T05:30:00Z"));
  CHECK(ny.from_local(2026, 11, 1, 2, 0) == ms("2026-11-01T07:00:00Z"));
  // Fields carry over: 32 January is 1 February, minute 600 is 10:00.
  CHECK(ny.from_local(2026, 1, 32, 0, 600) == ms("2026-02-01T15:00:00Z"));
  CHECK(ny.from_local(2026, 13, 1, 0, 0) == ms("2027-01-01T05:00:00Z"));

  const TimeZone lord_howe = zone("Australia/Lord_Howe");
  // 2026-10-04 02:00 → 02:30: a half-hour gap.
  CHECK(lord_howe.from_local(2026, 10, 4, 2, 15) == ms("2026-10-03T15:30:00Z"));
}

TEST_CASE("far-future instants follow the footer rule", "[quiet_hours]") {
  const TimeZone ny = zone("America/New_York");
  CHECK(ny.offset_seconds_at(ms("2090-01-15T12:00:00Z")) == -5 * 3600);
  CHECK(ny.offset_seconds_at(ms("2090-03-12T06:59:59Z")) == -5 * 3600);
  CHECK(ny.offset_seconds_at(ms("2090-03-12T07:00:00Z")) == -4 * 3600);
  CHECK(ny.offset_seconds_at(ms("2090-11-05T05:59:59Z")) == -4 * 3600);
  CHECK(ny.offset_seconds_at(ms("2090-11-05T06:00:00Z")) == -5 * 3600);
  CHECK(ny.from_local(2090, 3, 12, 2, 30) == ms("2090-03-12T07:00:00Z"));
  CHECK(ny.from_local(2090, 11, 5, 1, 30) == ms("2090-11-05T05:30:00Z"));

  const TimeZone lord_howe = zone("Australia/Lord_Howe");  // southern hemisphere footer
  CHECK(lord_howe.offset_seconds_at(ms("2090-01-15T00:00:00Z")) == 39600);
  CHECK(lord_howe.offset_seconds_at(ms("2090-07-01T00:00:00Z")) == 37800);
}

TEST_CASE("POSIX rules in every date form", "[quiet_hours]") {
  auto us = TimeZone::from_posix_rule("EST5EDT,M3.2.0,M11.1.0");
  REQUIRE(us.has_value());
  CHECK(us->offset_seconds_at(ms("2026-03-08T06:59:59Z")) == -18000);
  CHECK(us->offset_seconds_at(ms("2026-03-08T07:00:00Z")) == -14400);

  // Jn counts 1..365 skipping 29 February: J60 is 1 March even in a leap year.
  auto julian = TimeZone::from_posix_rule("AAA0BBB-1,J60/0,J300/0");
  REQUIRE(julian.has_value());
  CHECK(julian->offset_seconds_at(ms("2028-02-29T23:59:59Z")) == 0);
  CHECK(julian->offset_seconds_at(ms("2028-03-01T00:00:00Z")) == 3600);
  // n counts 0..365 including 29 February: day 59 is 29 February in a leap year.
  auto zero_based = TimeZone::from_posix_rule("AAA0BBB-1,59/0,299/0");
  REQUIRE(zero_based.has_value());
  CHECK(zero_based->offset_seconds_at(ms("2028-02-28T23:59:59Z")) == 0);
  CHECK(zero_based->offset_seconds_at(ms("2028-02-29T00:00:00Z")) == 3600);

  // Permanent DST written the RFC 8536 way (starts Jan 1 00:00, ends Dec 31 25:00).
  auto all_year = TimeZone::from_posix_rule("EST5EDT,0/0,J365/25");
  REQUIRE(all_year.has_value());
  CHECK(all_year->offset_seconds_at(ms("2026-01-01T05:00:00Z")) == -14400);
  CHECK(all_year->offset_seconds_at(ms("2026-07-01T00:00:00Z")) == -14400);
  CHECK(all_year->offset_seconds_at(ms("2026-12-31T23:00:00Z")) == -14400);

  auto fixed = TimeZone::from_posix_rule("<+0530>-5:30");
  REQUIRE(fixed.has_value());
  CHECK(fixed->offset_seconds_at(0) == 19800);

  CHECK_FALSE(TimeZone::from_posix_rule("EST").has_value());
  CHECK_FALSE(TimeZone::from_posix_rule("EST5EDT,M13.1.0,M11.1.0").has_value());
  CHECK_FALSE(TimeZone::from_posix_rule("EST5EDT,M3.2.0").has_value());
}

TEST_CASE("offsets agree with the C library across 1970 to 2100", "[quiet_hours]") {
  const char* saved = std::getenv("TZ");
  const std::optional<std::string> old_tz =
      saved ? std::optional<std::string>(saved) : std::nullopt;
  for (const char* name : {"America/New_York", "Europe/London", "Australia/Lord_Howe",
                           "Asia/Kolkata", "America/Sao_Paulo", "Pacific/Chatham"}) {
    const TimeZone z = zone(name);
    ::setenv("TZ", (std::string(":") + name).c_str(), 1);
    ::tzset();
    int mismatches = 0;
    // Step 7 h 13 min so instants drift across every hour of the day over the years.
    for (int64_t t = 0; t < int64_t{4102444800}; t += 7 * 3600 + 13 * 60) {
      const time_t tt = static_cast<time_t>(t);
      std::tm tm{};
      ::localtime_r(&tt, &tm);
      if (tm.tm_gmtoff != z.offset_seconds_at(t * 1000)) ++mismatches;
    }
    INFO(name);
    CHECK(mismatches == 0);
  }
  if (old_tz) {
    ::setenv("TZ", old_tz->c_str(), 1);
  } else {
    ::unsetenv("TZ");
  }
  ::tzset();
}

TEST_CASE("zone names that could escape the database or do not exist are refused",
          "[quiet_hours]") {
  for (const char* bad : {"../etc/passwd", "/etc/passwd", "America/../../etc/passwd",
                          "America/New York", "", "America/New_York\n", "zone1970.tab"}) {
    INFO(bad);
    auto z = TimeZone::load(bad);
    REQUIRE_FALSE(z.has_value());
    CHECK(z.error().code == ErrorCode::kInvalidArgument);
    CHECK_FALSE(time_zone(bad).has_value());
  }
  for (const char* missing : {"Nowhere/Special", "America"}) {
    INFO(missing);
    auto z = TimeZone::load(missing);
    REQUIRE_FALSE(z.has_value());
    CHECK(z.error().code == ErrorCode::kNotFound);
  }
  CHECK(time_zone("UTC").has_value());
}

TEST_CASE("TZif bytes are checked and version 1 files are read", "[quiet_hours]") {
  const std::string bytes = zoneinfo_bytes("America/New_York");
  auto truncated = TimeZone::from_tzif("Truncated", bytes.substr(0, bytes.size() / 2));
  REQUIRE_FALSE(truncated.has_value());
  CHECK(truncated.error().code == ErrorCode::kInvalidArgument);
  CHECK_FALSE(TimeZone::from_tzif("Junk", "not a zone file at all, just text").has_value());

  // The same file cut to its version 1 (32-bit) part still tells 2026's offsets.
  auto be32 = [&](size_t at) {
    uint32_t v = 0;
    for (size_t i = 0; i < 4; ++i) v = (v << 8) | static_cast<uint8_t>(bytes[at + i]);
    return size_t{v};
  };
  const size_t isut = be32(20), isstd = be32(24), leap = be32(28), timecnt = be32(32),
               typecnt = be32(36), charcnt = be32(40);
  const size_t v1_size = 44 + timecnt * 5 + typecnt * 6 + charcnt + leap * 8 + isstd + isut;
  std::string v1 = bytes.substr(0, v1_size);
  v1[4] = '\0';
  auto old = TimeZone::from_tzif("Old/New_York", v1);
  REQUIRE(old.has_value());
  if (timecnt > 0) {  // a "slim" file keeps no 32-bit data
    CHECK(old->offset_seconds_at(ms("2026-07-01T12:00:00Z")) == -14400);
    CHECK(old->offset_seconds_at(ms("2026-01-01T12:00:00Z")) == -18000);
  }
}

TEST_CASE("time zone lookups from several threads agree", "[quiet_hours]") {
  const char* names[] = {"Europe/Berlin", "America/Denver", "Asia/Tokyo", "Africa/Cairo"};
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&, i] {
      for (int round = 0; round < 200; ++round) {
        auto z = time_zone(names[(i + round) % 4]);
        if (!z || z->name() != names[(i + round) % 4]) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(failures == 0);
  const TimeZone berlin = zone("Europe/Berlin");
  const TimeZone copy = berlin;  // copies share the same immutable data
  CHECK(copy.offset_seconds_at(ms("2026-07-01T00:00:00Z")) == 7200);
  CHECK(copy.offset_seconds_at(ms("2026-01-01T00:00:00Z")) == 3600);
}

TEST_CASE("a step due at 23:00 goes at 10:00 on the next allowed day", "[quiet_hours]") {
  const RecipientLocation ny = in_zones({"America/New_York"});
  const QuietHours defaults;  // 20:00 → 10:00, no Sundays

  // Tuesday 2026-06-16 23:00 EDT → Wednesday 10:00.
  CHECK_FALSE(send_allowed_at(ms("2026-06-17T03:00:00Z"), ny, defaults));
  CHECK(next_send_time(ms("2026-06-17T03:00:00Z"), ny, defaults) == ms("2026-06-17T14:00:00Z"));
  // Saturday 2026-06-13 23:00 EDT → Sunday is a no-send day → Monday 10:00.
  CHECK(next_send_time(ms("2026-06-14T03:00:00Z"), ny, defaults) == ms("2026-06-15T14:00:00Z"));
  // Inside the window: now.
  CHECK(send_allowed_at(ms("2026-06-16T15:30:00Z"), ny, defaults));
  CHECK(next_send_time(ms("2026-06-16T15:30:00Z"), ny, defaults) == ms("2026-06-16T15:30:00Z"));
  // 19:59 is in, 20:00 is out.
  CHECK(send_allowed_at(ms("2026-06-16T23:59:00Z"), ny, defaults));
  CHECK_FALSE(send_allowed_at(ms("2026-06-17T00:00:00Z"), ny, defaults));
}

TEST_CASE("quiet windows start only on the listed days", "[quiet_hours]") {
  const RecipientLocation ny = in_zones({"America/New_York"});
  QuietHours q = every_day_10_to_20();
  q.days = {"tue", "wed", "thu", "fri", "sat", "sun"};  // no window starts Monday evening
  // Monday 2026-06-15 22:00 EDT: allowed; Tuesday 05:00 too (the window did not start).
  CHECK(send_allowed_at(ms("2026-06-16T02:00:00Z"), ny, q));
  CHECK(send_allowed_at(ms("2026-06-16T09:00:00Z"), ny, q));
  // Tuesday 22:00: quiet until Wednesday 10:00.
  CHECK(next_send_time(ms("2026-06-17T02:00:00Z"), ny, q) == ms("2026-06-17T14:00:00Z"));

  // A window that does not wrap: quiet 01:00–05:00.
  QuietHours night;
  night.start_hour = 1;
  night.end_hour = 5;
  night.no_send_days = {};
  CHECK(send_allowed_at(ms("2026-06-16T04:30:00Z"), ny, night));  // 00:30
  CHECK(next_send_time(ms("2026-06-16T06:00:00Z"), ny, night) == ms("2026-06-16T09:00:00Z"));
}

TEST_CASE("a Florida area code gets the shop window within Florida's 8 to 20", "[quiet_hours]") {
  LocationHints hints;
  hints.phone = "+1 (305) 555-0123";
  hints.shop_time_zone = "America/Los_Angeles";
  const RecipientLocation miami = locate_recipient(hints);
  CHECK(miami.source == "area_code");
  CHECK(miami.region == "US-FL");
  REQUIRE(miami.zones == std::vector<std::string>{"America/New_York"});

  const WeeklyWindows w = allowed_windows(send_rules(miami, every_day_10_to_20()));
  REQUIRE(w[3].size() == 1);
  CHECK(w[3][0].open_minute == 600);
  CHECK(w[3][0].close_minute == 1200);

  // With the shop's quiet hours off, Florida's own 8:00–20:00 still holds.
  const QuietHours off = quiet_hours_off();
  const WeeklyWindows fl = allowed_windows(send_rules(miami, off));
  for (const auto& day : fl) {
    REQUIRE(day.size() == 1);
    CHECK(day[0].open_minute == 480);
    CHECK(day[0].close_minute == 1200);
  }
  // Wednesday 2026-06-17 07:30 EDT → 08:00; 20:30 → Thursday 08:00.
  CHECK(next_send_time(ms("2026-06-17T11:30:00Z"), miami, off) == ms("2026-06-17T12:00:00Z"));
  CHECK(next_send_time(ms("2026-06-18T00:30:00Z"), miami, off) == ms("2026-06-18T12:00:00Z"));
  // Sunday is fine in Florida.
  CHECK(send_allowed_at(ms("2026-06-21T15:00:00Z"), miami, off));
}

TEST_CASE("Texas starts Sunday sends at 12:00 even when the shop allows 10:00", "[quiet_hours]") {
  LocationHints hints;
  hints.phone = "+15125550123";  // Austin
  const RecipientLocation austin = locate_recipient(hints);
  CHECK(austin.region == "US-TX");
  REQUIRE(austin.zones == std::vector<std::string>{"America/Chicago"});
  const QuietHours shop = every_day_10_to_20();

  // Sunday 2026-06-21 10:30 CDT → 12:00.
  CHECK_FALSE(send_allowed_at(ms("2026-06-21T15:30:00Z"), austin, shop));
  CHECK(next_send_time(ms("2026-06-21T15:30:00Z"), austin, shop) == ms("2026-06-21T17:00:00Z"));
  // Saturday 2026-06-20 10:30 CDT: allowed (Mon–Sat 9:00–21:00).
  CHECK(send_allowed_at(ms("2026-06-20T15:30:00Z"), austin, shop));
  // Monday 09:30 CDT → the shop's 10:00.
  CHECK(next_send_time(ms("2026-06-22T14:30:00Z"), austin, shop) == ms("2026-06-22T15:00:00Z"));
  CHECK(describe_block(ms("2026-06-21T15:30:00Z"), austin, shop) ==
        "10:30 Sun in America/Chicago is outside 12:00\u201320:00 (US-TX state rule)");
}

TEST_CASE("an area code spanning two zones takes the later opening and earlier close",
          "[quiet_hours]") {
  LocationHints hints;
  hints.phone = "+18505550123";  // Florida panhandle: Eastern and Central
  const RecipientLocation panhandle = locate_recipient(hints);
  CHECK(panhandle.region == "US-FL");
  REQUIRE(panhandle.zones == std::vector<std::string>{"America/New_York", "America/Chicago"});
  const QuietHours shop = every_day_10_to_20();

  // Wednesday 2026-06-17 10:30 EDT = 09:30 CDT: Chicago not open yet → 11:00 EDT.
  CHECK_FALSE(send_allowed_at(ms("2026-06-17T14:30:00Z"), panhandle, shop));
  CHECK(next_send_time(ms("2026-06-17T14:30:00Z"), panhandle, shop) == ms("2026-06-17T15:00:00Z"));
  CHECK(describe_block(ms("2026-06-17T14:30:00Z"), panhandle, shop) ==
        "09:30 Wed in America/Chicago is outside 10:00\u201320:00 (shop quiet hours)");
  // 19:30 CDT = 20:30 EDT: New York closed → Thursday 11:00 EDT.
  CHECK_FALSE(send_allowed_at(ms("2026-06-18T00:30:00Z"), panhandle, shop));
  CHECK(next_send_time(ms("2026-06-18T00:30:00Z"), panhandle, shop) == ms("2026-06-18T15:00:00Z"));
  CHECK(send_allowed_at(ms("2026-06-17T23:59:00Z"), panhandle, shop));  // 19:59 EDT
}

TEST_CASE("a profile zone beats the address which beats the area code", "[quiet_hours]") {
  LocationHints hints;
  hints.profile_time_zone = "America/Los_Angeles";
  hints.country_code = "us";
  hints.province_code = "TX";
  hints.phone = "+12125550123";  // New York
  hints.shop_time_zone = "Europe/Berlin";

  RecipientLocation r = locate_recipient(hints);
  CHECK(r.source == "profile");
  CHECK(r.zones == std::vector<std::string>{"America/Los_Angeles"});
  CHECK(r.region == "US-TX");  // the address decides whose laws apply

  hints.profile_time_zone = "";
  r = locate_recipient(hints);
  CHECK(r.source == "address");
  CHECK(r.zones == std::vector<std::string>{"America/Chicago", "America/Denver"});
  CHECK(r.region == "US-TX");

  hints.province_code = "";
  r = locate_recipient(hints);
  CHECK(r.source == "area_code");
  CHECK(r.zones == std::vector<std::string>{"America/New_York"});
  CHECK(r.region == "US-NY");

  // A profile zone that is not a zone is skipped, not trusted.
  hints.profile_time_zone = "../../etc/passwd";
  r = locate_recipient(hints);
  CHECK(r.source == "area_code");

  hints.province_code = "US-ON";  // not a US state: ignored
  r = locate_recipient(hints);
  CHECK(r.source == "area_code");

  LocationHints canadian;
  canadian.province_code = "CA-ON";
  r = locate_recipient(canadian);
  CHECK(r.source == "address");
  CHECK(r.region == "CA-ON");
}

TEST_CASE("unknown everything falls back to the shop zone", "[quiet_hours]") {
  LocationHints hints;
  hints.phone = "not a number";
  hints.profile_time_zone = "Mars/Olympus_Mons";
  hints.shop_time_zone = "Europe/Berlin";
  RecipientLocation r = locate_recipient(hints);
  CHECK(r.source == "shop");
  CHECK(r.zones == std::vector<std::string>{"Europe/Berlin"});
  CHECK(r.region.empty());

  hints.phone = "+1 999 555 0123";  // no such area code
  r = locate_recipient(hints);
  CHECK(r.source == "shop");

  hints.shop_time_zone = "Bogus/Zone";
  r = locate_recipient(hints);
  CHECK(r.zones == std::vector<std::string>{"UTC"});

  // No region: only the shop's window applies, in the shop's zone.
  const QuietHours q = every_day_10_to_20();
  hints.shop_time_zone = "Europe/Berlin";
  r = locate_recipient(hints);
  CHECK(next_send_time(ms("2026-06-17T05:00:00Z"), r, q) == ms("2026-06-17T08:00:00Z"));
}

TEST_CASE("other countries come from the E.164 prefix or the address country", "[quiet_hours]") {
  LocationHints hints;
  hints.phone = "+44 7700 900123";
  RecipientLocation r = locate_recipient(hints);
  CHECK(r.source == "country");
  CHECK(r.region == "GB");
  CHECK(r.zones == std::vector<std::string>{"Europe/London"});

  hints.phone = "+61 412 345 678";
  r = locate_recipient(hints);
  CHECK(r.region == "AU");
  CHECK(r.zones.size() == 5);

  hints.phone = "+353 85 123 4567";  // 353 (Ireland), not 35 or 3
  r = locate_recipient(hints);
  CHECK(r.region == "IE");

  LocationHints by_address;
  by_address.country_code = "de";
  r = locate_recipient(by_address);
  CHECK(r.source == "country");
  CHECK(r.zones == std::vector<std::string>{"Europe/Berlin"});

  // A US address without a state: the federal floor applies in every main US zone.
  LocationHints us_only;
  us_only.country_code = "US";
  r = locate_recipient(us_only);
  CHECK(r.region == "US");
  CHECK(r.zones.size() == 7);
  const std::vector<SendRule> rules = send_rules(r, quiet_hours_off());
  REQUIRE(rules.size() == 1);
  CHECK(rules[0].name == "US federal rule");
}

TEST_CASE("the federal floor holds with quiet hours off and outside the US nothing does",
          "[quiet_hours]") {
  const QuietHours off = quiet_hours_off();
  const RecipientLocation us = in_zones({"America/New_York"}, "US-NY");
  CHECK_FALSE(send_allowed_at(ms("2026-06-17T11:59:00Z"), us, off));  // 07:59
  CHECK(send_allowed_at(ms("2026-06-17T12:00:00Z"), us, off));        // 08:00
  CHECK(next_send_time(ms("2026-06-18T01:30:00Z"), us, off) == ms("2026-06-18T12:00:00Z"));
  CHECK(describe_block(ms("2026-06-18T01:30:00Z"), us, off) ==
        "21:30 Wed in America/New_York is outside 08:00\u201321:00 (US federal rule)");

  const RecipientLocation uk = in_zones({"Europe/London"}, "GB");
  CHECK(send_allowed_at(ms("2026-06-17T02:00:00Z"), uk, off));
  CHECK(describe_block(ms("2026-06-17T02:00:00Z"), uk, off).empty());
}

TEST_CASE("state tables cover weekend and Sunday rules", "[quiet_hours]") {
  const QuietHours off = quiet_hours_off();
  // Rhode Island: 9–18 weekdays, 10–17 weekends.
  const RecipientLocation ri = in_zones({"America/New_York"}, "US-RI");
  const WeeklyWindows w = allowed_windows(send_rules(ri, off));
  CHECK(w[2][0].open_minute == 540);
  CHECK(w[2][0].close_minute == 1080);
  CHECK(w[6][0].open_minute == 600);
  CHECK(w[6][0].close_minute == 1020);
  // Alabama: no Sunday sends. Sunday 2026-06-21 12:00 CDT → Monday 08:00 (federal floor).
  const RecipientLocation al = in_zones({"America/Chicago"}, "US-AL");
  CHECK(next_send_time(ms("2026-06-21T17:00:00Z"), al, off) == ms("2026-06-22T13:00:00Z"));
  CHECK(describe_block(ms("2026-06-21T17:00:00Z"), al, off) ==
        "12:00 Sun in America/Chicago allows no sending (US-AL state rule)");
  // Kentucky opens at 10:00.
  const RecipientLocation ky = in_zones({"America/New_York"}, "US-KY");
  CHECK(next_send_time(ms("2026-06-17T12:30:00Z"), ky, off) == ms("2026-06-17T14:00:00Z"));
}

TEST_CASE("no allowed time within 14 days gives no send time", "[quiet_hours]") {
  const RecipientLocation ny = in_zones({"America/New_York"});
  QuietHours closed;
  closed.no_send_days = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
  CHECK_FALSE(next_send_time(ms("2026-06-17T12:00:00Z"), ny, closed).has_value());

  // Alabama bans Sunday; a shop that only sends on Sunday never reaches anyone there.
  QuietHours sunday_only;
  sunday_only.no_send_days = {"mon", "tue", "wed", "thu", "fri", "sat"};
  const RecipientLocation al = in_zones({"America/Chicago"}, "US-AL");
  CHECK_FALSE(next_send_time(ms("2026-06-17T12:00:00Z"), al, sunday_only).has_value());
  CHECK(next_send_time(ms("2026-06-17T12:00:00Z"), ny, sunday_only) == ms("2026-06-21T14:00:00Z"));

  // No zone that resolves: fail closed.
  const RecipientLocation nowhere = in_zones({"Bogus/Zone"});
  CHECK_FALSE(send_allowed_at(ms("2026-06-17T16:00:00Z"), nowhere, QuietHours{}));
  CHECK_FALSE(next_send_time(ms("2026-06-17T16:00:00Z"), nowhere, QuietHours{}).has_value());
}

TEST_CASE("a window opening inside a DST gap opens when the gap ends", "[quiet_hours]") {
  const RecipientLocation ny = in_zones({"America/New_York"});
  QuietHours q;
  q.start_hour = 22;
  q.end_hour = 2;  // allowed 02:00–22:00
  q.no_send_days = {};
  // Sunday 2026-03-08 01:30 EST: 02:00 never shows that night; 03:00 EDT is the first instant.
  CHECK(next_send_time(ms("2026-03-08T06:30:00Z"), ny, q) == ms("2026-03-08T07:00:00Z"));
  // Fall back: 2026-11-01 01:30 EDT → 02:00 EST.
  CHECK(next_send_time(ms("2026-11-01T05:30:00Z"), ny, q) == ms("2026-11-01T07:00:00Z"));
}

TEST_CASE("the location tables name only zones that exist", "[quiet_hours]") {
  const std::vector<std::string> problems = location_table_problems();
  std::string all;
  for (const std::string& p : problems) all += p + "; ";
  INFO(all);
  CHECK(problems.empty());
}
