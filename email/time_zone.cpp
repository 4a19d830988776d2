// TZif (RFC 8536) reader and POSIX TZ rule evaluation; see time_zone.h.
#include "email/time_zone.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

namespace afterglow::email {
namespace {

constexpr int64_t kSecondsPerDay = 86400;
// Zone files are a few kB; anything far larger is not one (and is not read into memory).
constexpr std::uintmax_t kMaxZoneFileBytes = 1 << 20;
constexpr size_t kMaxZoneNameLength = 128;
// No real zone is more than a day from UTC; a larger offset means a corrupt file.
constexpr int64_t kMaxAbsOffsetSeconds = 25 * 3600;

int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}
int64_t floor_mod(int64_t a, int64_t b) { return a - floor_div(a, b) * b; }

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil; `month`
// must be 1..12, `day` may be any value and carries over).
int64_t days_from_civil(int64_t year, int month, int64_t day) {
  year -= month <= 2;
  const int64_t era = floor_div(year, 400);
  const int64_t yoe = year - era * 400;
  const int64_t mp = (month + 9) % 12;  // March = 0
  const int64_t doy = (153 * mp + 2) / 5;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468 + (day - 1);
}

struct Civil {
  int64_t year;
  int month;
  int day;
};
Civil civil_from_days(int64_t z) {
  z += 719468;
  const int64_t era = floor_div(z, 146097);
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int day = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  const int month = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  return Civil{yoe + era * 400 + (month <= 2), month, day};
}

bool is_leap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }
int month_length(int64_t y, int m) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap(y) ? 29 : kDays[m - 1];
}
int weekday_of_days(int64_t days) { return static_cast<int>(floor_mod(days + 4, 7)); }

// ---- POSIX TZ rules (the TZif footer) ------------------------------------------------------

struct RuleDate {
  enum class Kind { kJulianNoLeap, kZeroBased, kMonthWeekDay } kind = Kind::kMonthWeekDay;
  int a = 0, b = 0, c = 0;  // Jn: a = n; n: a = n; Mm.w.d: a = m, b = w, c = d

  // Days since the epoch of this date in `year`.
  int64_t day_in(int64_t year) const {
    const int64_t jan1 = days_from_civil(year, 1, 1);
    switch (kind) {
      case Kind::kJulianNoLeap:  // 1..365, February 29 never counted
        return jan1 + a - 1 + (is_leap(year) && a >= 60 ? 1 : 0);
      case Kind::kZeroBased:  // 0..365, February 29 counted
        return jan1 + a;
      case Kind::kMonthWeekDay: {
        const int64_t first = days_from_civil(year, a, 1);
        int64_t d = first + (c - weekday_of_days(first) + 7) % 7 + int64_t{b - 1} * 7;
        while (d >= first + month_length(year, a)) d -= 7;  // week 5 = the last such weekday
        return d;
      }
    }
    return jan1;
  }
};

struct PosixRule {
  int64_t std_offset = 0;  // seconds east of UTC
  bool has_dst = false;
  int64_t dst_offset = 0;
  RuleDate start, end;
  int64_t start_time = 7200;  // local (standard) time of day the DST period starts
  int64_t end_time = 7200;    // local (daylight) time of day it ends

  struct Event {
    int64_t at;  // UTC seconds
    bool dst;    // the state from `at` on
  };

  // Transitions of the years around `t`'s UTC year, in time order. Equal instants keep push
  // order, so a year's end meeting the next year's start (all-year DST) leaves DST in force.
  std::vector<Event> events_around(int64_t t) const {
    const int64_t year = civil_from_days(floor_div(t, kSecondsPerDay)).year;
    std::vector<Event> events;
    for (int64_t y = year - 2; y <= year + 2; ++y) {
      events.push_back({start.day_in(y) * kSecondsPerDay + start_time - std_offset, true});
      events.push_back({end.day_in(y) * kSecondsPerDay + end_time - dst_offset, false});
    }
    std::stable_sort(events.begin(), events.end(),
                     [](const Event& l, const Event& r) { return l.at < r.at; });
    return events;
  }

  int64_t offset_at(int64_t t) const {
    if (!has_dst) return std_offset;
    bool dst = false;
    for (const Event& e : events_around(t)) {
      if (e.at > t) break;
      dst = e.dst;
    }
    return dst ? dst_offset : std_offset;
  }

  std::optional<int64_t> next_transition_after(int64_t t) const {
    if (!has_dst) return std::nullopt;
    for (const Event& e : events_around(t)) {
      if (e.at > t) return e.at;
    }
    return std::nullopt;
  }
};

class RuleParser {
 public:
  explicit RuleParser(std::string_view text) : s_(text) {}

  std::optional<PosixRule> parse() {
    PosixRule rule;
    if (!name()) return std::nullopt;
    auto std_off = offset(24);
    if (!std_off) return std::nullopt;
    rule.std_offset = -*std_off;  // POSIX offsets count west of UTC
    if (at_end()) return rule;
    if (!name()) return std::nullopt;
    rule.has_dst = true;
    rule.dst_offset = rule.std_offset + 3600;
    if (!at_end() && peek() != ',') {
      auto dst_off = offset(24);
      if (!dst_off) return std::nullopt;
      rule.dst_offset = -*dst_off;
    }
    if (at_end()) {
      // No dates given: the POSIX default is implementation-defined; US rules as glibc does.
      rule.start = {RuleDate::Kind::kMonthWeekDay, 3, 2, 0};
      rule.end = {RuleDate::Kind::kMonthWeekDay, 11, 1, 0};
      return rule;
    }
    if (!eat(',')) return std::nullopt;
    if (!date_and_time(rule.start, rule.start_time)) return std::nullopt;
    if (!eat(',')) return std::nullopt;
    if (!date_and_time(rule.end, rule.end_time)) return std::nullopt;
    if (!at_end()) return std::nullopt;
    return rule;
  }

 private:
  bool at_end() const { return pos_ >= s_.size(); }
  char peek() const { return at_end() ? '\0' : s_[pos_]; }
  bool eat(char c) {
    if (peek() != c) return false;
    ++pos_;
    return true;
  }
  static bool is_digit(char c) { return c >= '0' && c <= '9'; }
  static bool is_alpha(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }

  // "EST" (three or more letters) or "<+0530>" (quoted: letters, digits, '+', '-').
  bool name() {
    size_t n = 0;
    if (eat('<')) {
      while (!at_end() && peek() != '>') {
        const char c = peek();
        if (!is_alpha(c) && !is_digit(c) && c != '+' && c != '-') return false;
        ++pos_;
        ++n;
      }
      return eat('>') && n >= 3;
    }
    while (is_alpha(peek())) {
      ++pos_;
      ++n;
    }
    return n >= 3;
  }

  std::optional<int64_t> number(int max_digits) {
    int64_t v = 0;
    int digits = 0;
    while (is_digit(peek()) && digits < max_digits) {
      v = v * 10 + (s_[pos_++] - '0');
      ++digits;
    }
    if (digits == 0) return std::nullopt;
    return v;
  }

  // [+-]hh[:mm[:ss]] in seconds, as written (no sign flip). Hours up to `max_hours`.
  std::optional<int64_t> offset(int64_t max_hours) {
    int64_t sign = 1;
    if (eat('-')) {
      sign = -1;
    } else {
      eat('+');
    }
    auto h = number(3);
    if (!h || *h > max_hours) return std::nullopt;
    int64_t seconds = *h * 3600;
    if (eat(':')) {
      auto m = number(2);
      if (!m || *m > 59) return std::nullopt;
      seconds += *m * 60;
      if (eat(':')) {
        auto sec = number(2);
        if (!sec || *sec > 59) return std::nullopt;
        seconds += *sec;
      }
    }
    return sign * seconds;
  }

  bool date_and_time(RuleDate& date, int64_t& time) {
    if (eat('M')) {
      auto m = number(2);
      if (!m || !eat('.')) return false;
      auto w = number(1);
      if (!w || !eat('.')) return false;
      auto d = number(1);
      if (!d || *m < 1 || *m > 12 || *w < 1 || *w > 5 || *d > 6) return false;
      date = {RuleDate::Kind::kMonthWeekDay, static_cast<int>(*m), static_cast<int>(*w),
              static_cast<int>(*d)};
    } else if (eat('J')) {
      auto n = number(3);
      if (!n || *n < 1 || *n > 365) return false;
      date = {RuleDate::Kind::kJulianNoLeap, static_cast<int>(*n), 0, 0};
    } else {
      auto n = number(3);
      if (!n || *n > 365) return false;
      date = {RuleDate::Kind::kZeroBased, static_cast<int>(*n), 0, 0};
    }
    if (eat('/')) {
      auto t = offset(167);  // RFC 8536 §3.3.1 extends POSIX's 0..24 to -167..167
      if (!t) return false;
      time = *t;
    }
    return true;
  }

  std::string_view s_;
  size_t pos_ = 0;
};

// ---- TZif ----------------------------------------------------------------------------------

class ByteReader {
 public:
  explicit ByteReader(std::string_view bytes) : b_(bytes) {}
  bool has(size_t n) const { return b_.size() - pos_ >= n; }
  size_t pos() const { return pos_; }
  void skip(size_t n) { pos_ += n; }
  uint8_t u8() { return static_cast<uint8_t>(b_[pos_++]); }
  uint32_t u32() {
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v = (v << 8) | u8();
    return v;
  }
  int64_t i64() {
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v = (v << 8) | u8();
    return static_cast<int64_t>(v);
  }
  int64_t time(int size) { return size == 8 ? i64() : static_cast<int32_t>(u32()); }
  std::string_view rest() const { return b_.substr(pos_); }

 private:
  std::string_view b_;
  size_t pos_ = 0;
};

struct Header {
  char version = 0;
  uint32_t isutcnt = 0, isstdcnt = 0, leapcnt = 0, timecnt = 0, typecnt = 0, charcnt = 0;

  size_t data_size(int time_size) const {
    return size_t{timecnt} * time_size + timecnt + size_t{typecnt} * 6 + charcnt +
           size_t{leapcnt} * (time_size + 4) + isstdcnt + isutcnt;
  }
};

std::optional<Header> read_header(ByteReader& r) {
  if (!r.has(44) || r.rest().substr(0, 4) != "TZif") return std::nullopt;
  Header h;
  r.skip(4);
  h.version = static_cast<char>(r.u8());
  r.skip(15);
  h.isutcnt = r.u32();
  h.isstdcnt = r.u32();
  h.leapcnt = r.u32();
  h.timecnt = r.u32();
  h.typecnt = r.u32();
  h.charcnt = r.u32();
  // Bounds well above any real file keep the size arithmetic far from overflow.
  if (h.timecnt > 100000 || h.typecnt > 256 || h.charcnt > 100000 || h.leapcnt > 100000 ||
      h.isstdcnt > 256 || h.isutcnt > 256) {
    return std::nullopt;
  }
  return h;
}

std::unexpected<Error> bad(std::string_view what) {
  return fail(ErrorCode::kInvalidArgument, "malformed TZif data: " + std::string(what));
}

}  // namespace

struct TimeZone::Data {
  std::string name;
  std::vector<int64_t> times;       // transition instants (UTC seconds), strictly ascending
  std::vector<int64_t> offsets;     // offset in force from times[i] on
  int64_t initial_offset = 0;       // before times[0]: time type 0 (RFC 8536 §3.2)
  std::optional<PosixRule> footer;  // after the last transition (or always, when none)

  int64_t offset_at(int64_t t) const {
    if (times.empty()) return footer ? footer->offset_at(t) : initial_offset;
    if (t < times.front()) return initial_offset;
    if (t > times.back() && footer) return footer->offset_at(t);
    const auto it = std::upper_bound(times.begin(), times.end(), t);
    return offsets[static_cast<size_t>(std::distance(times.begin(), it)) - 1];
  }

  std::optional<int64_t> next_transition_after(int64_t t) const {
    if (!times.empty() && t < times.back()) return *std::upper_bound(times.begin(), times.end(), t);
    if (footer) return footer->next_transition_after(t);
    return std::nullopt;
  }
};

namespace {

Result<void> parse_block(ByteReader& r, const Header& h, int time_size, TimeZone::Data& out) {
  if (h.typecnt == 0) return bad("no local time types");
  if (!r.has(h.data_size(time_size))) return bad("truncated");
  out.times.resize(h.timecnt);
  for (auto& t : out.times) t = r.time(time_size);
  std::vector<uint8_t> type_of(h.timecnt);
  for (auto& i : type_of) i = r.u8();
  std::vector<int64_t> utoff(h.typecnt);
  for (auto& off : utoff) {
    off = static_cast<int32_t>(r.u32());
    r.skip(2);  // isdst, abbreviation index: not needed to tell the time
    if (off > kMaxAbsOffsetSeconds || off < -kMaxAbsOffsetSeconds)
      return bad("offset out of range");
  }
  r.skip(h.charcnt + size_t{h.leapcnt} * (time_size + 4) + h.isstdcnt + h.isutcnt);
  for (size_t i = 0; i < out.times.size(); ++i) {
    if (type_of[i] >= h.typecnt) return bad("transition type out of range");
    if (i > 0 && out.times[i] <= out.times[i - 1]) return bad("transitions out of order");
  }
  out.offsets.resize(h.timecnt);
  for (size_t i = 0; i < out.times.size(); ++i) out.offsets[i] = utoff[type_of[i]];
  out.initial_offset = utoff[0];
  return {};
}

bool valid_zone_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxZoneNameLength || name.front() == '/') return false;
  if (name.find("..") != std::string_view::npos) return false;
  for (char c : name) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '+' || c == '-' || c == '/';
    if (!ok) return false;
  }
  return true;
}

std::shared_ptr<const TimeZone::Data> utc_data(std::string name) {
  auto data = std::make_shared<TimeZone::Data>();
  data->name = std::move(name);
  return data;
}

}  // namespace

Result<TimeZone> TimeZone::from_tzif(std::string name, std::string_view bytes) {
  auto data = std::make_shared<Data>();
  data->name = std::move(name);
  ByteReader r(bytes);
  auto h1 = read_header(r);
  if (!h1) return bad("not a TZif header");
  if (h1->version < '2') {  // version 1: 32-bit times, no footer
    AG_CHECK(parse_block(r, *h1, 4, *data));
    return TimeZone(std::move(data));
  }
  if (!r.has(h1->data_size(4))) return bad("truncated");
  r.skip(h1->data_size(4));
  auto h2 = read_header(r);
  if (!h2) return bad("missing the 64-bit header");
  AG_CHECK(parse_block(r, *h2, 8, *data));
  const std::string_view rest = r.rest();
  if (rest.empty() || rest.front() != '\n') return bad("missing footer");
  const size_t close = rest.find('\n', 1);
  if (close == std::string_view::npos) return bad("unterminated footer");
  const std::string_view tz = rest.substr(1, close - 1);
  if (!tz.empty()) {
    auto rule = RuleParser(tz).parse();
    if (!rule) return bad("footer rule does not parse");
    data->footer = *rule;
  }
  return TimeZone(std::move(data));
}

Result<TimeZone> TimeZone::from_posix_rule(std::string_view rule) {
  auto parsed = RuleParser(rule).parse();
  if (!parsed) return fail(ErrorCode::kInvalidArgument, "not a POSIX TZ rule");
  auto data = std::make_shared<Data>();
  data->name = std::string(rule);
  data->footer = *parsed;
  data->initial_offset = parsed->std_offset;
  return TimeZone(std::move(data));
}

TimeZone TimeZone::utc() {
  static const auto* const kUtc = new std::shared_ptr<const Data>(utc_data("UTC"));
  return TimeZone(*kUtc);
}

Result<TimeZone> TimeZone::load(std::string_view iana_name) {
  if (!valid_zone_name(iana_name)) {
    return fail(ErrorCode::kInvalidArgument,
                "time zone must be an IANA name such as America/New_York");
  }
  const char* env_dir = std::getenv("TZDIR");
  const std::filesystem::path dir =
      env_dir != nullptr && *env_dir != '\0' ? env_dir : "/usr/share/zoneinfo";
  const std::filesystem::path path = dir / std::string(iana_name);
  const std::string not_found = "unknown time zone " + std::string(iana_name);
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return fail(ErrorCode::kNotFound, not_found);
  const std::uintmax_t size = std::filesystem::file_size(path, ec);
  if (ec || size > kMaxZoneFileBytes) return fail(ErrorCode::kNotFound, not_found);
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!in.good() && !in.eof()) return fail(ErrorCode::kNotFound, not_found);
  if (bytes.substr(0, 4) != "TZif") return fail(ErrorCode::kNotFound, not_found);
  auto zone = from_tzif(std::string(iana_name), bytes);
  if (!zone) {
    return fail(ErrorCode::kInternal,
                "zone file for " + std::string(iana_name) + ": " + zone.error().message);
  }
  return zone;
}

const std::string& TimeZone::name() const { return data_->name; }

int TimeZone::offset_seconds_at(int64_t utc_ms) const {
  return static_cast<int>(data_->offset_at(floor_div(utc_ms, 1000)));
}

LocalTime TimeZone::to_local(int64_t utc_ms) const {
  const int64_t utc = floor_div(utc_ms, 1000);
  const int64_t offset = data_->offset_at(utc);
  const int64_t local = utc + offset;
  const int64_t days = floor_div(local, kSecondsPerDay);
  const int64_t secs = local - days * kSecondsPerDay;
  const Civil c = civil_from_days(days);
  LocalTime out;
  out.year = static_cast<int>(c.year);
  out.month = c.month;
  out.day = c.day;
  out.hour = static_cast<int>(secs / 3600);
  out.minute = static_cast<int>(secs / 60 % 60);
  out.second = static_cast<int>(secs % 60);
  out.weekday = weekday_of_days(days);
  out.offset_seconds = static_cast<int>(offset);
  return out;
}

int64_t TimeZone::from_local(int year, int month, int day, int hour, int minute) const {
  const int64_t y = year + floor_div(month - 1, 12);
  const int m = static_cast<int>(floor_mod(month - 1, 12)) + 1;
  const int64_t wall =
      days_from_civil(y, m, day) * kSecondsPerDay + int64_t{hour} * 3600 + int64_t{minute} * 60;
  // Walk the stretches of constant offset from two days before (every offset is within a day
  // of UTC): the first stretch whose local times reach `wall` holds the answer.
  int64_t cur = wall - 2 * kSecondsPerDay;
  int64_t off = data_->offset_at(cur);
  for (int guard = 0; guard < 64; ++guard) {
    if (cur + off >= wall) return cur * 1000;  // `wall` fell in a gap: the gap's end
    const std::optional<int64_t> next = data_->next_transition_after(cur);
    if (!next || wall < *next + off) return (wall - off) * 1000;
    cur = *next;
    off = data_->offset_at(cur);
  }
  return (wall - off) * 1000;  // unreachable for real zones (≤ a few transitions in 4 days)
}

Result<TimeZone> time_zone(std::string_view name) {
  // Never destroyed: worker threads may still ask for zones while the process exits.
  static auto* const mu = new std::mutex;
  static auto* const cache = new std::map<std::string, TimeZone, std::less<>>;  // GUARDED_BY(*mu)
  {
    std::lock_guard lock(*mu);
    if (auto it = cache->find(name); it != cache->end()) return it->second;
  }
  auto loaded = TimeZone::load(name);  // file I/O outside the lock
  if (!loaded) {
    if (name != "UTC" && name != "Etc/UTC") return loaded;
    // Hosts without tzdata still know UTC; not cached, so installing tzdata later is seen.
    return TimeZone::utc();
  }
  std::lock_guard lock(*mu);
  return cache->try_emplace(std::string(name), *loaded).first->second;
}

}  // namespace afterglow::email
