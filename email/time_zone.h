// IANA time zones read from the system zone database, for "what time is it where the recipient
// is" (SMS quiet hours, email/quiet_hours.h). GCC 12's libstdc++ has no std::chrono::tzdb, so
// this reads the compiled TZif files (RFC 8536) that Debian's `tzdata` package installs under
// /usr/share/zoneinfo (or $TZDIR when set, read at each load).
//
// A TimeZone holds the zone's transitions (64-bit section of a version 2+ file; version 1 files
// are read from their 32-bit section) and the footer's POSIX TZ rule (e.g.
// "EST5EDT,M3.2.0,M11.1.0"), which gives the offset after the last listed transition, so
// far-future instants follow the zone's current rule. Rule dates may be "Mm.w.d", "Jn" or "n";
// rule times may be negative or exceed 24 h (RFC 8536 §3.3.1). Leap-second records ("right/"
// zones) are ignored.
//
// Instants are milliseconds since the Unix epoch, UTC; offsets are seconds east of UTC. No
// clock is read: callers pass the instant in.
//
// Thread-safety: a TimeZone is immutable and cheap to copy (its data is shared); any thread may
// use it. time_zone() is safe to call from any thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "plugin/core/error.h"

namespace afterglow::email {

// A wall-clock reading in some zone.
struct LocalTime {
  int year = 1970;
  int month = 1;           // 1..12
  int day = 1;             // 1..31
  int hour = 0;            // 0..23
  int minute = 0;          // 0..59
  int second = 0;          // 0..59
  int weekday = 4;         // 0 = Sunday … 6 = Saturday
  int offset_seconds = 0;  // the zone's UTC offset at that instant (east positive)
};

class TimeZone {
 public:
  // Reads `iana_name` ("America/New_York") from the zone database. Fails with kInvalidArgument
  // for a name that could escape the database directory or is not a zone name (empty, longer
  // than 128, a leading '/', "..", or a character outside A–Z a–z 0–9 _ + - /); kNotFound when
  // no such zone file exists or the file is not TZif; kInternal for a TZif file that is
  // malformed. Reads the file system: prefer the cached time_zone() below.
  static Result<TimeZone> load(std::string_view iana_name);

  // Builds a zone named `name` from the bytes of a TZif file (what load() reads). Fails with
  // kInvalidArgument when the bytes are not a well-formed TZif file.
  static Result<TimeZone> from_tzif(std::string name, std::string_view bytes);

  // A zone that follows one POSIX TZ rule at all times ("EST5EDT,M3.2.0,M11.1.0",
  // "<+0530>-5:30"); named after the rule. kInvalidArgument when the rule does not parse.
  static Result<TimeZone> from_posix_rule(std::string_view rule);

  // UTC (offset 0, no DST), named "UTC"; needs no zone database.
  static TimeZone utc();

  // The name it was loaded or built under.
  const std::string& name() const;

  // The UTC offset in force at `utc_ms`, in seconds east of UTC (New York in winter: -18000).
  int offset_seconds_at(int64_t utc_ms) const;

  // The local wall-clock reading at `utc_ms` (milliseconds are dropped, rounding down).
  LocalTime to_local(int64_t utc_ms) const;

  // The first instant (UTC ms) at which local time reaches year-month-day hour:minute. In a
  // spring-forward gap (a wall time that never shows) that is the first instant after the gap;
  // in a fall-back overlap (one that shows twice), the earlier of the two. Out-of-range fields
  // carry over, as in mktime: day 32 of January is 1 February, hour 24 is the next midnight.
  int64_t from_local(int year, int month, int day, int hour, int minute) const;

  struct Data;  // defined in time_zone.cpp

 private:
  explicit TimeZone(std::shared_ptr<const Data> data) : data_(std::move(data)) {}
  std::shared_ptr<const Data> data_;  // never null
};

// The zone named `name`, loaded once per process and then served from a cache (successful loads
// only: a bad name is re-examined each time, cheaply when the name itself is refused). "UTC" and
// "Etc/UTC" resolve even when no zone database is installed. Failures as TimeZone::load().
// Thread-safe.
Result<TimeZone> time_zone(std::string_view name);

}  // namespace afterglow::email
