#include "plugin/core/time_format.h"

#include <cstdio>

namespace afterglow {
namespace {

// Howard Hinnant's days_from_civil / civil_from_days: proleptic Gregorian calendar, exact for
// every date we can meet, no time-zone database and no locale.
int64_t days_from_civil(int64_t y, int64_t m, int64_t d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

void civil_from_days(int64_t z, int64_t& y, int64_t& m, int64_t& d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp + (mp < 10 ? 3 : -9);
  y = yoe + era * 400 + (m <= 2);
}

bool leap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int64_t days_in_month(int64_t y, int64_t m) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && leap(y) ? 29 : kDays[m - 1];
}

// Reads exactly `width` digits at `pos`; false if any is not a digit or the text is short.
bool digits(std::string_view s, size_t pos, size_t width, int64_t& out) {
  if (pos + width > s.size()) return false;
  out = 0;
  for (size_t i = pos; i < pos + width; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    out = out * 10 + (s[i] - '0');
  }
  return true;
}

bool at(std::string_view s, size_t pos, char c) { return pos < s.size() && s[pos] == c; }

}  // namespace

Result<int64_t> parse_iso8601_ms(std::string_view s) {
  auto bad = [&] {
    return fail(ErrorCode::kInvalidArgument,
                "not an ISO 8601 time with offset: \"" + std::string(s.substr(0, 40)) + "\"");
  };
  int64_t year, month, day, hour, minute, second;
  if (!digits(s, 0, 4, year) || !at(s, 4, '-') || !digits(s, 5, 2, month) || !at(s, 7, '-') ||
      !digits(s, 8, 2, day) || !(at(s, 10, 'T') || at(s, 10, 't')) || !digits(s, 11, 2, hour) ||
      !at(s, 13, ':') || !digits(s, 14, 2, minute) || !at(s, 16, ':') ||
      !digits(s, 17, 2, second)) {
    return bad();
  }
  if (month < 1 || month > 12 || day < 1 || day > days_in_month(year, month) || hour > 23 ||
      minute > 59 || second > 59) {
    return bad();
  }
  size_t pos = 19;
  int64_t millis = 0;
  if (at(s, pos, '.')) {
    ++pos;
    size_t start = pos;
    int64_t scale = 100;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      millis += (s[pos] - '0') * scale;
      scale /= 10;
      ++pos;
    }
    if (pos == start) return bad();
  }
  int64_t offset_minutes = 0;
  if (at(s, pos, 'Z') || at(s, pos, 'z')) {
    ++pos;
  } else if (at(s, pos, '+') || at(s, pos, '-')) {
    int sign = s[pos] == '-' ? -1 : 1;
    int64_t oh, om;
    if (!digits(s, pos + 1, 2, oh) || !at(s, pos + 3, ':') || !digits(s, pos + 4, 2, om) ||
        oh > 23 || om > 59) {
      return bad();
    }
    offset_minutes = sign * (oh * 60 + om);
    pos += 6;
  } else {
    return bad();
  }
  if (pos != s.size()) return bad();

  int64_t days = days_from_civil(year, month, day);
  int64_t local_s = days * 86400 + hour * 3600 + minute * 60 + second;
  // Local time = UTC + offset, so UTC = local - offset.
  return (local_s - offset_minutes * 60) * 1000 + millis;
}

std::string format_iso8601_utc(int64_t ms) {
  int64_t secs = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
  int64_t millis = ms - secs * 1000;
  int64_t days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
  int64_t rem = secs - days * 86400;
  int64_t y, m, d;
  civil_from_days(days, y, m, d);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04lld-%02d-%02dT%02d:%02d:%02d.%03dZ", static_cast<long long>(y),
                static_cast<int>(m), static_cast<int>(d), static_cast<int>(rem / 3600),
                static_cast<int>(rem / 60 % 60), static_cast<int>(rem % 60),
                static_cast<int>(millis));
  return buf;
}

}  // namespace afterglow
