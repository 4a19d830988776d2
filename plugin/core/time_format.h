// Timestamps as the platform writes them (ISO 8601 / RFC 3339 with an offset, e.g.
// "2025-04-22T14:30:00-05:00") to and from UTC milliseconds, the only form we store.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "plugin/core/error.h"

namespace afterglow {

// Parses "YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)" to milliseconds since the Unix epoch,
// UTC. Strict: the offset is required (a local time without one is ambiguous), every field has
// its fixed width, dates and times must exist (no February 30th, no hour 24); 't' and 'z' may be
// lower case as RFC 3339 allows. Fractions beyond milliseconds are truncated. Fails with
// kInvalidArgument otherwise. Pure and thread-safe.
Result<int64_t> parse_iso8601_ms(std::string_view text);

// Formats UTC milliseconds as "YYYY-MM-DDTHH:MM:SS.mmmZ" (for notes and exports). Years outside
// 0000..9999 are not supported.
std::string format_iso8601_utc(int64_t ms);

}  // namespace afterglow
