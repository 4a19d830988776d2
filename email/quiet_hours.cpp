// Recipient location and SMS send windows; see quiet_hours.h.
#include "email/quiet_hours.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>
#include <string_view>
#include <utility>

#include "email/time_zone.h"

namespace afterglow::email {
namespace {

// ---- Location tables -----------------------------------------------------------------------
//
// Zone lists are space-separated IANA names. Where a state, province or area code spans zones,
// every zone that holds a meaningful population is listed, so sends are held to the window all
// of them allow (messaging.md §2.2).

// North American area codes (NPA) → ISO 3166-2 region and zone(s). Compiled from NANPA's area
// code assignments and overlay announcements (nationalnanpa.com; state commission notices for
// the 2021–2025 overlays, e.g. 357 CA, 369 CA, 738 CA, 728 FL, 861 IL, 924 MN, 235 MO, 363 NY,
// 329 NY, 283 OH, 274 WI, 257 BC, 428 NB), with zone splits inside area codes checked against
// libphonenumber's resources/timezones/map_data.txt (per-exchange zones). Reviewed 2025.
// Codes not listed (new overlays, non-geographic 5XX/8XX, Caribbean NANP countries) fall through
// to the next hint. Add new overlays to their state's line.
struct AreaCodeGroup {
  const char* region;
  const char* zones;
  const char* codes;
};
constexpr AreaCodeGroup kAreaCodes[] = {
    {"US-AL", "America/Chicago", "205 251 256 334 659 938"},
    // Aleutians west of 169°30'W keep Hawaii-Aleutian time.
    {"US-AK", "America/Anchorage America/Adak", "907"},
    {"US-AZ", "America/Phoenix", "480 520 602 623"},
    // The Navajo Nation (northeast Arizona) keeps daylight saving time.
    {"US-AZ", "America/Phoenix America/Denver", "928"},
    {"US-AR", "America/Chicago", "327 479 501 870"},
    {"US-CA", "America/Los_Angeles",
     "209 213 279 310 323 341 350 357 369 408 415 424 442 510 530 559 562 619 626 628 650 657 "
     "661 669 707 714 738 747 760 805 818 820 831 840 858 909 916 925 949 951"},
    {"US-CO", "America/Denver", "303 719 720 970 983"},
    {"US-CT", "America/New_York", "203 475 860 959"},
    {"US-DE", "America/New_York", "302"},
    {"US-DC", "America/New_York", "202 771"},
    {"US-FL", "America/New_York",
     "239 305 321 324 352 386 407 561 645 656 689 727 728 754 772 786 813 863 904 941 954"},
    // The panhandle west of the Apalachicola River is on Central time.
    {"US-FL", "America/New_York America/Chicago", "448 850"},
    {"US-GA", "America/New_York", "229 404 470 478 678 706 762 770 912 943"},
    {"US-HI", "Pacific/Honolulu", "808"},
    // Southern Idaho is Mountain, the panhandle Pacific.
    {"US-ID", "America/Boise America/Los_Angeles", "208 986"},
    {"US-IL", "America/Chicago",
     "217 224 309 312 331 447 464 618 630 708 730 773 779 815 847 861 872"},
    {"US-IN", "America/Indiana/Indianapolis", "260 317 463 765"},
    // Northwest (Gary, Knox) and southwest (Evansville) Indiana are on Central time.
    {"US-IN", "America/Indiana/Indianapolis America/Chicago", "219 574 812 930"},
    {"US-IA", "America/Chicago", "319 515 563 641 712"},
    {"US-KS", "America/Chicago", "316 913"},
    // Four western counties are on Mountain time.
    {"US-KS", "America/Chicago America/Denver", "620 785"},
    {"US-KY", "America/New_York", "502 859"},
    {"US-KY", "America/New_York America/Chicago", "270 364 606"},
    {"US-LA", "America/Chicago", "225 318 337 504 985"},
    {"US-ME", "America/New_York", "207"},
    {"US-MD", "America/New_York", "227 240 301 410 443 667"},
    {"US-MA", "America/New_York", "339 351 413 508 617 774 781 857 978"},
    {"US-MI", "America/Detroit", "231 248 269 313 517 586 616 679 734 810 947 989"},
    // Four Upper Peninsula counties bordering Wisconsin are on Central time.
    {"US-MI", "America/Detroit America/Menominee", "906"},
    {"US-MN", "America/Chicago", "218 320 507 612 651 763 924 952"},
    {"US-MS", "America/Chicago", "228 601 662 769"},
    {"US-MO", "America/Chicago", "235 314 417 557 573 636 660 816 975"},
    {"US-MT", "America/Denver", "406"},
    {"US-NE", "America/Chicago", "402 531"},
    {"US-NE", "America/Chicago America/Denver", "308"},
    {"US-NV", "America/Los_Angeles", "702 725"},
    // West Wendover keeps Mountain time.
    {"US-NV", "America/Los_Angeles America/Denver", "775"},
    {"US-NH", "America/New_York", "603"},
    {"US-NJ", "America/New_York", "201 551 609 640 732 848 856 862 908 973"},
    {"US-NM", "America/Denver", "505 575"},
    {"US-NY", "America/New_York",
     "212 315 329 332 347 363 516 518 585 607 624 631 646 680 716 718 838 845 914 917 929 934"},
    {"US-NC", "America/New_York", "252 336 472 704 743 828 910 919 980 984"},
    {"US-ND", "America/Chicago America/Denver", "701"},
    {"US-OH", "America/New_York", "216 220 234 283 326 330 380 419 436 440 513 567 614 740 937"},
    {"US-OK", "America/Chicago", "405 539 572 580 918"},
    {"US-OR", "America/Los_Angeles", "503 971"},
    // Malheur County (Ontario, OR) is on Mountain time.
    {"US-OR", "America/Los_Angeles America/Boise", "458 541"},
    {"US-PA", "America/New_York", "215 223 267 272 412 445 484 570 582 610 717 724 814 835 878"},
    {"US-RI", "America/New_York", "401"},
    {"US-SC", "America/New_York", "803 821 839 843 854 864"},
    {"US-SD", "America/Chicago America/Denver", "605"},
    {"US-TN", "America/Chicago", "615 629 731 901 931"},
    {"US-TN", "America/New_York", "865"},
    // Chattanooga and the Tri-Cities are Eastern; Marion County and others in 423 are Central.
    {"US-TN", "America/New_York America/Chicago", "423"},
    {"US-TX", "America/Chicago",
     "210 214 254 281 325 346 361 409 430 432 469 512 682 713 726 737 806 817 830 832 903 936 "
     "940 945 956 972 979"},
    {"US-TX", "America/Denver", "915"},  // El Paso and Hudspeth counties
    {"US-UT", "America/Denver", "385 435 801"},
    {"US-VT", "America/New_York", "802"},
    {"US-VA", "America/New_York", "276 434 540 571 686 703 757 804 826 948"},
    {"US-WA", "America/Los_Angeles", "206 253 360 425 509 564"},
    {"US-WV", "America/New_York", "304 681"},
    {"US-WI", "America/Chicago", "262 274 353 414 534 608 715 920"},
    {"US-WY", "America/Denver", "307"},
    {"US-PR", "America/Puerto_Rico", "787 939"},
    {"US-VI", "America/St_Thomas", "340"},
    {"US-GU", "Pacific/Guam", "671"},
    {"US-MP", "Pacific/Saipan", "670"},
    {"US-AS", "Pacific/Pago_Pago", "684"},

    {"CA-AB", "America/Edmonton", "368 403 587 780 825"},
    {"CA-BC", "America/Vancouver", "604"},
    // The province-wide overlays also cover the East Kootenays (Mountain time) and the Peace
    // River region (Mountain Standard all year).
    {"CA-BC", "America/Vancouver America/Edmonton America/Dawson_Creek", "236 250 257 672 778"},
    {"CA-MB", "America/Winnipeg", "204 431 584"},
    {"CA-NB", "America/Moncton", "428 506"},
    // Labrador is on Atlantic time.
    {"CA-NL", "America/St_Johns America/Goose_Bay", "709 879"},
    {"CA", "America/Halifax", "782 902"},  // Nova Scotia and Prince Edward Island
    {"CA-ON", "America/Toronto",
     "226 249 289 343 365 382 416 437 519 548 613 647 683 705 742 753 905"},
    // Northwestern Ontario west of Thunder Bay is on Central time.
    {"CA-ON", "America/Toronto America/Winnipeg", "807"},
    {"CA-QC", "America/Toronto", "263 354 438 450 468 514 579 819 873"},
    // Eastern Quebec includes the Magdalen Islands and the Lower North Shore (Atlantic time).
    {"CA-QC", "America/Toronto America/Halifax", "367 418 581"},
    // Lloydminster follows Alberta's clock.
    {"CA-SK", "America/Regina America/Edmonton", "306 474 639"},
    // Yukon, Northwest Territories and Nunavut.
    {"CA", "America/Whitehorse America/Edmonton America/Winnipeg America/Iqaluit", "867"},
};

// Address subdivisions (as the platform's province_code) → zones.
struct Subdivision {
  const char* region;
  const char* zones;
};
constexpr Subdivision kSubdivisions[] = {
    {"US-AL", "America/Chicago"},
    {"US-AK", "America/Anchorage America/Adak"},
    {"US-AZ", "America/Phoenix America/Denver"},
    {"US-AR", "America/Chicago"},
    {"US-CA", "America/Los_Angeles"},
    {"US-CO", "America/Denver"},
    {"US-CT", "America/New_York"},
    {"US-DE", "America/New_York"},
    {"US-DC", "America/New_York"},
    {"US-FL", "America/New_York America/Chicago"},
    {"US-GA", "America/New_York"},
    {"US-HI", "Pacific/Honolulu"},
    {"US-ID", "America/Boise America/Los_Angeles"},
    {"US-IL", "America/Chicago"},
    {"US-IN", "America/Indiana/Indianapolis America/Chicago"},
    {"US-IA", "America/Chicago"},
    {"US-KS", "America/Chicago America/Denver"},
    {"US-KY", "America/New_York America/Chicago"},
    {"US-LA", "America/Chicago"},
    {"US-ME", "America/New_York"},
    {"US-MD", "America/New_York"},
    {"US-MA", "America/New_York"},
    {"US-MI", "America/Detroit America/Menominee"},
    {"US-MN", "America/Chicago"},
    {"US-MS", "America/Chicago"},
    {"US-MO", "America/Chicago"},
    {"US-MT", "America/Denver"},
    {"US-NE", "America/Chicago America/Denver"},
    {"US-NV", "America/Los_Angeles America/Denver"},
    {"US-NH", "America/New_York"},
    {"US-NJ", "America/New_York"},
    {"US-NM", "America/Denver"},
    {"US-NY", "America/New_York"},
    {"US-NC", "America/New_York"},
    {"US-ND", "America/Chicago America/Denver"},
    {"US-OH", "America/New_York"},
    {"US-OK", "America/Chicago"},
    {"US-OR", "America/Los_Angeles America/Boise"},
    {"US-PA", "America/New_York"},
    {"US-RI", "America/New_York"},
    {"US-SC", "America/New_York"},
    {"US-SD", "America/Chicago America/Denver"},
    {"US-TN", "America/Chicago America/New_York"},
    {"US-TX", "America/Chicago America/Denver"},
    {"US-UT", "America/Denver"},
    {"US-VT", "America/New_York"},
    {"US-VA", "America/New_York"},
    {"US-WA", "America/Los_Angeles"},
    {"US-WV", "America/New_York"},
    {"US-WI", "America/Chicago"},
    {"US-WY", "America/Denver"},
    {"US-PR", "America/Puerto_Rico"},
    {"US-VI", "America/St_Thomas"},
    {"US-GU", "Pacific/Guam"},
    {"US-MP", "Pacific/Saipan"},
    {"US-AS", "Pacific/Pago_Pago"},
    {"CA-AB", "America/Edmonton"},
    {"CA-BC", "America/Vancouver America/Edmonton America/Dawson_Creek"},
    {"CA-MB", "America/Winnipeg"},
    {"CA-NB", "America/Moncton"},
    {"CA-NL", "America/St_Johns America/Goose_Bay"},
    {"CA-NS", "America/Halifax"},
    {"CA-NT", "America/Edmonton"},
    {"CA-NU", "America/Iqaluit America/Winnipeg America/Edmonton"},
    {"CA-ON", "America/Toronto America/Winnipeg"},
    {"CA-PE", "America/Halifax"},
    {"CA-QC", "America/Toronto America/Halifax"},
    {"CA-SK", "America/Regina America/Edmonton"},
    {"CA-YT", "America/Whitehorse"},
};

// Countries by ISO code and E.164 calling code → their main zones (multi-zone countries list
// each populated one; the Russian Federation is left out: too many zones to be useful).
struct Country {
  const char* iso;
  const char* dial;  // "1" is shared by the NANP: never matched from a phone number
  const char* zones;
};
constexpr Country kCountries[] = {
    {"US", "1",
     "America/New_York America/Chicago America/Denver America/Phoenix America/Los_Angeles "
     "America/Anchorage Pacific/Honolulu"},
    {"CA", "1",
     "America/St_Johns America/Halifax America/Toronto America/Winnipeg America/Regina "
     "America/Edmonton America/Vancouver"},
    {"GB", "44", "Europe/London"},
    {"IE", "353", "Europe/Dublin"},
    {"FR", "33", "Europe/Paris"},
    {"DE", "49", "Europe/Berlin"},
    {"ES", "34", "Europe/Madrid Atlantic/Canary"},
    {"PT", "351", "Europe/Lisbon Atlantic/Azores"},
    {"IT", "39", "Europe/Rome"},
    {"NL", "31", "Europe/Amsterdam"},
    {"BE", "32", "Europe/Brussels"},
    {"LU", "352", "Europe/Luxembourg"},
    {"CH", "41", "Europe/Zurich"},
    {"AT", "43", "Europe/Vienna"},
    {"DK", "45", "Europe/Copenhagen"},
    {"SE", "46", "Europe/Stockholm"},
    {"NO", "47", "Europe/Oslo"},
    {"FI", "358", "Europe/Helsinki"},
    {"PL", "48", "Europe/Warsaw"},
    {"CZ", "420", "Europe/Prague"},
    {"GR", "30", "Europe/Athens"},
    {"IL", "972", "Asia/Jerusalem"},
    {"AE", "971", "Asia/Dubai"},
    {"IN", "91", "Asia/Kolkata"},
    {"SG", "65", "Asia/Singapore"},
    {"HK", "852", "Asia/Hong_Kong"},
    {"JP", "81", "Asia/Tokyo"},
    {"KR", "82", "Asia/Seoul"},
    {"CN", "86", "Asia/Shanghai"},
    {"PH", "63", "Asia/Manila"},
    {"AU", "61",
     "Australia/Sydney Australia/Brisbane Australia/Adelaide Australia/Darwin Australia/Perth"},
    {"NZ", "64", "Pacific/Auckland"},
    {"ZA", "27", "Africa/Johannesburg"},
    {"MX", "52", "America/Mexico_City America/Cancun America/Mazatlan America/Tijuana"},
    {"BR", "55", "America/Sao_Paulo America/Manaus"},
    {"AR", "54", "America/Argentina/Buenos_Aires"},
    {"CL", "56", "America/Santiago"},
    {"CO", "57", "America/Bogota"},
};

// State "mini-TCPA" rules stricter than the federal floor (messaging.md §2.2; CA and IL from
// competitors.md §2.6; LA's 8:00–20:00 from the same table, its Sunday ban from §2.2). Minutes
// after local midnight; -1 = no sending that day. The spec marks these as vendor tables to
// verify: they are configuration, kept in one place.
struct StateRule {
  const char* region;
  int weekday_open, weekday_close;  // Monday–Friday
  int saturday_open, saturday_close;
  int sunday_open, sunday_close;
};
constexpr int h(int hour) { return hour * 60; }
constexpr StateRule kStateRules[] = {
    {"US-AL", 0, kMinutesPerDay, 0, kMinutesPerDay, -1, -1},
    {"US-CA", h(9), h(21), h(9), h(21), h(9), h(21)},
    {"US-CT", h(9), h(20), h(9), h(20), h(9), h(20)},
    {"US-FL", h(8), h(20), h(8), h(20), h(8), h(20)},
    {"US-IL", h(9), h(21), h(9), h(21), h(9), h(21)},
    {"US-KY", h(10), h(21), h(10), h(21), h(10), h(21)},
    {"US-LA", h(8), h(20), h(8), h(20), -1, -1},
    {"US-MA", h(8), h(20), h(8), h(20), h(8), h(20)},
    {"US-MD", h(8), h(20), h(8), h(20), h(8), h(20)},
    {"US-MI", h(9), h(21), h(9), h(21), h(9), h(21)},
    {"US-MN", h(9), h(21), h(9), h(21), h(9), h(21)},
    {"US-MS", h(8), h(20), h(8), h(20), h(8), h(20)},
    {"US-NJ", h(8), h(20), h(8), h(20), h(8), h(20)},
    {"US-NM", h(9), h(21), h(9), h(21), h(9), h(21)},
    {"US-NV", h(9), h(20), h(9), h(20), h(9), h(20)},
    {"US-OK", h(8), h(20), h(8), h(20), h(8), h(20)},
    {"US-RI", h(9), h(18), h(10), h(17), h(10), h(17)},
    {"US-TX", h(9), h(21), h(9), h(21), h(12), h(21)},
};
// 47 CFR 64.1200(c)(1): no solicitation before 8:00 or after 21:00 at the called party's location.
constexpr SendWindow kFederalWindow{h(8), h(21)};

std::vector<std::string> split_zones(std::string_view list) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < list.size()) {
    const size_t end = std::min(list.find(' ', pos), list.size());
    if (end > pos) out.emplace_back(list.substr(pos, end - pos));
    pos = end + 1;
  }
  return out;
}

struct AreaCodeInfo {
  std::string region;
  std::vector<std::string> zones;
};

struct Tables {
  std::map<int, AreaCodeInfo> area_codes;
  std::vector<std::string> duplicates;
};

const Tables& tables() {
  static const Tables kTables = [] {
    Tables t;
    for (const AreaCodeGroup& g : kAreaCodes) {
      for (const std::string& code : split_zones(g.codes)) {
        const int npa = std::stoi(code);
        if (!t.area_codes.try_emplace(npa, AreaCodeInfo{g.region, split_zones(g.zones)}).second) {
          t.duplicates.push_back("area code " + code + " is listed twice");
        }
      }
    }
    return t;
  }();
  return kTables;
}

// ---- Hints ---------------------------------------------------------------------------------

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

struct PhoneDigits {
  std::string digits;
  bool international = false;  // written with + or 00: digits start with the country code
};

// "+1 (305) 555-0123" → {"13055550123", true}. Separators (space - . ( )) are dropped; anything
// else makes the number unreadable.
std::optional<PhoneDigits> phone_digits(std::string_view phone) {
  phone = trim(phone);
  PhoneDigits out;
  if (!phone.empty() && phone.front() == '+') {
    out.international = true;
    phone.remove_prefix(1);
  }
  for (char c : phone) {
    if (c >= '0' && c <= '9') {
      out.digits.push_back(c);
    } else if (c != ' ' && c != '-' && c != '.' && c != '(' && c != ')') {
      return std::nullopt;
    }
  }
  if (!out.international && out.digits.starts_with("00")) {
    out.international = true;
    out.digits.erase(0, 2);
  }
  if (out.digits.empty()) return std::nullopt;
  return out;
}

// The area code of a North American number, or nullopt.
std::optional<int> nanp_area_code(const std::optional<PhoneDigits>& phone) {
  if (!phone) return std::nullopt;
  std::string_view d = phone->digits;
  if (d.size() == 11 && d.front() == '1') {
    d.remove_prefix(1);
  } else if (phone->international || d.size() != 10) {
    return std::nullopt;
  }
  if (d[0] < '2') return std::nullopt;  // NPAs start with 2–9
  return std::stoi(std::string(d.substr(0, 3)));
}

const Country* country_by_iso(std::string_view iso) {
  for (const Country& c : kCountries) {
    if (iso == c.iso) return &c;
  }
  return nullptr;
}

const Country* country_by_phone(const std::optional<PhoneDigits>& phone) {
  if (!phone || !phone->international || phone->digits.starts_with("1")) return nullptr;
  for (size_t len = 3; len >= 1; --len) {  // calling codes are prefix-free: longest first
    const std::string_view prefix = std::string_view(phone->digits).substr(0, len);
    for (const Country& c : kCountries) {
      if (prefix == c.dial) return &c;
    }
  }
  return nullptr;
}

const Subdivision* subdivision(std::string_view region) {
  for (const Subdivision& s : kSubdivisions) {
    if (region == s.region) return &s;
  }
  return nullptr;
}

// Zones of `names` that resolve now, in order.
std::vector<std::string> usable(std::vector<std::string> names) {
  std::erase_if(names, [](const std::string& n) { return !time_zone(n).has_value(); });
  return names;
}

std::vector<TimeZone> resolve(const std::vector<std::string>& names) {
  std::vector<TimeZone> out;
  for (const std::string& n : names) {
    if (auto z = time_zone(n)) out.push_back(*z);
  }
  return out;
}

// ---- Windows -------------------------------------------------------------------------------

std::vector<SendWindow> complement(std::vector<SendWindow> blocked) {
  std::sort(blocked.begin(), blocked.end(),
            [](const SendWindow& a, const SendWindow& b) { return a.open_minute < b.open_minute; });
  std::vector<SendWindow> out;
  int cur = 0;
  for (const SendWindow& b : blocked) {
    if (b.open_minute > cur) out.push_back({cur, b.open_minute});
    cur = std::max(cur, b.close_minute);
  }
  if (cur < kMinutesPerDay) out.push_back({cur, kMinutesPerDay});
  return out;
}

std::vector<SendWindow> intersect(const std::vector<SendWindow>& a,
                                  const std::vector<SendWindow>& b) {
  std::vector<SendWindow> out;
  size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    const int lo = std::max(a[i].open_minute, b[j].open_minute);
    const int hi = std::min(a[i].close_minute, b[j].close_minute);
    if (lo < hi) out.push_back({lo, hi});
    (a[i].close_minute < b[j].close_minute ? i : j)++;
  }
  return out;
}

bool contains(const std::vector<SendWindow>& windows, int minute) {
  return std::any_of(windows.begin(), windows.end(), [&](const SendWindow& w) {
    return w.open_minute <= minute && minute < w.close_minute;
  });
}

int day_index(std::string_view name) {
  static constexpr std::string_view kNames[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};
  for (int i = 0; i < 7; ++i) {
    if (name == kNames[i]) return i;
  }
  return -1;
}

SendRule shop_rule(const QuietHours& quiet) {
  std::array<bool, 7> starts{}, closed{};
  for (const std::string& d : quiet.days) {
    if (const int i = day_index(d); i >= 0) starts[i] = true;
  }
  for (const std::string& d : quiet.no_send_days) {
    if (const int i = day_index(d); i >= 0) closed[i] = true;
  }
  const int start = h(std::clamp(quiet.start_hour, 0, 23));
  const int end = h(std::clamp(quiet.end_hour, 0, 23));
  SendRule rule{"shop quiet hours", {}};
  for (int day = 0; day < 7; ++day) {
    if (closed[day]) continue;  // no windows
    std::vector<SendWindow> blocked;
    if (start > end) {  // wraps: yesterday's window runs until `end` this morning
      if (starts[(day + 6) % 7]) blocked.push_back({0, end});
      if (starts[day]) blocked.push_back({start, kMinutesPerDay});
    } else if (start < end && starts[day]) {
      blocked.push_back({start, end});
    }
    rule.allowed[day] = complement(std::move(blocked));
  }
  return rule;
}

bool in_us(std::string_view region) { return region == "US" || region.starts_with("US-"); }

std::string clock_text(int minute) {
  char buf[16];  // "24:00"; sized for any int so the compiler can see it cannot truncate
  std::snprintf(buf, sizeof buf, "%02d:%02d", minute / 60, minute % 60);
  return buf;
}

std::string windows_text(const std::vector<SendWindow>& windows) {
  std::string out;
  for (const SendWindow& w : windows) {
    if (!out.empty()) out += ", ";
    out += clock_text(w.open_minute) + "\u2013" + clock_text(w.close_minute);
  }
  return out;
}

// The first instant ≥ t at which `zone`'s local time falls in `windows`, looking 15 local days
// ahead. Candidates are window openings; from_local moves an opening that falls in a DST gap
// to the gap's end, which is then checked like any other instant.
std::optional<int64_t> earliest_in_zone(const TimeZone& zone, const WeeklyWindows& windows,
                                        int64_t t) {
  const LocalTime now = zone.to_local(t);
  if (contains(windows[now.weekday], now.hour * 60 + now.minute)) return t;
  for (int d = 0; d <= 15; ++d) {
    for (const SendWindow& w : windows[(now.weekday + d) % 7]) {
      const int64_t candidate = zone.from_local(now.year, now.month, now.day + d, 0, w.open_minute);
      if (candidate < t) continue;
      const LocalTime at = zone.to_local(candidate);
      if (contains(windows[at.weekday], at.hour * 60 + at.minute)) return candidate;
    }
  }
  return std::nullopt;
}

}  // namespace

RecipientLocation locate_recipient(const LocationHints& hints) {
  std::string country = upper(trim(hints.country_code));
  std::string province = upper(trim(hints.province_code));
  if (const size_t dash = province.find('-'); dash != std::string::npos) {
    if (country.empty()) country = province.substr(0, dash);
    province.erase(0, dash + 1);
  }
  const Subdivision* address = nullptr;
  if ((country == "US" || country == "CA") && !province.empty()) {
    address = subdivision(country + "-" + province);
  }
  const std::optional<PhoneDigits> phone = phone_digits(hints.phone);
  const AreaCodeInfo* area = nullptr;
  if (const std::optional<int> npa = nanp_area_code(phone)) {
    const auto& codes = tables().area_codes;
    if (auto it = codes.find(*npa); it != codes.end()) area = &it->second;
  }
  const Country* nation = country_by_iso(country);
  if (nation == nullptr) nation = country_by_phone(phone);

  RecipientLocation out;
  if (address != nullptr) {
    out.region = address->region;
  } else if (area != nullptr) {
    out.region = area->region;
  } else if (nation != nullptr) {
    out.region = nation->iso;
  } else if (country.size() == 2) {
    out.region = country;  // a country we have no zones for still decides whose laws apply
  }

  const std::string profile(trim(hints.profile_time_zone));
  if (!profile.empty() && time_zone(profile)) {
    out.zones = {profile};
    out.source = "profile";
    return out;
  }
  if (address != nullptr) {
    out.zones = usable(split_zones(address->zones));
    out.source = "address";
    if (!out.zones.empty()) return out;
  }
  if (area != nullptr) {
    out.zones = usable(area->zones);
    out.source = "area_code";
    if (!out.zones.empty()) return out;
  }
  if (nation != nullptr) {
    out.zones = usable(split_zones(nation->zones));
    out.source = "country";
    if (!out.zones.empty()) return out;
  }
  const std::string shop(trim(hints.shop_time_zone));
  out.zones = {!shop.empty() && time_zone(shop) ? shop : std::string("UTC")};
  out.source = "shop";
  return out;
}

std::vector<SendRule> send_rules(const RecipientLocation& where, const QuietHours& quiet) {
  std::vector<SendRule> rules;
  if (quiet.enabled) rules.push_back(shop_rule(quiet));
  if (in_us(where.region)) {
    SendRule federal{"US federal rule", {}};
    for (auto& day : federal.allowed) day = {kFederalWindow};
    rules.push_back(std::move(federal));
  }
  for (const StateRule& s : kStateRules) {
    if (where.region != s.region) continue;
    SendRule rule{std::string(s.region) + " state rule", {}};
    for (int day = 0; day < 7; ++day) {
      const auto [open, close] = day == 0   ? std::pair{s.sunday_open, s.sunday_close}
                                 : day == 6 ? std::pair{s.saturday_open, s.saturday_close}
                                            : std::pair{s.weekday_open, s.weekday_close};
      if (open >= 0 && open < close) rule.allowed[day] = {{open, close}};
    }
    rules.push_back(std::move(rule));
  }
  return rules;
}

WeeklyWindows allowed_windows(const std::vector<SendRule>& rules) {
  WeeklyWindows out;
  for (auto& day : out) day = {SendWindow{}};
  for (const SendRule& rule : rules) {
    for (int day = 0; day < 7; ++day) out[day] = intersect(out[day], rule.allowed[day]);
  }
  return out;
}

bool send_allowed_at(int64_t utc_ms, const RecipientLocation& where, const QuietHours& quiet) {
  const WeeklyWindows windows = allowed_windows(send_rules(where, quiet));
  const std::vector<TimeZone> zones = resolve(where.zones);
  if (zones.empty()) return false;
  return std::all_of(zones.begin(), zones.end(), [&](const TimeZone& z) {
    const LocalTime at = z.to_local(utc_ms);
    return contains(windows[at.weekday], at.hour * 60 + at.minute);
  });
}

std::optional<int64_t> next_send_time(int64_t utc_ms, const RecipientLocation& where,
                                      const QuietHours& quiet) {
  constexpr int64_t kHorizonMs = int64_t{14} * 24 * 3600 * 1000;
  const WeeklyWindows windows = allowed_windows(send_rules(where, quiet));
  const std::vector<TimeZone> zones = resolve(where.zones);
  if (zones.empty()) return std::nullopt;
  // Every zone's earliest allowed instant is ≤ the answer, so their maximum never overshoots;
  // repeat from there until all zones agree. Each round moves strictly forward.
  int64_t cur = utc_ms;
  for (int round = 0; round < 1000; ++round) {
    int64_t next = cur;
    for (const TimeZone& z : zones) {
      const std::optional<int64_t> e = earliest_in_zone(z, windows, cur);
      if (!e) return std::nullopt;
      next = std::max(next, *e);
    }
    if (next == cur) return cur;
    if (next - utc_ms > kHorizonMs) return std::nullopt;
    cur = next;
  }
  return std::nullopt;
}

std::string describe_block(int64_t utc_ms, const RecipientLocation& where,
                           const QuietHours& quiet) {
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  const std::vector<SendRule> rules = send_rules(where, quiet);
  const WeeklyWindows windows = allowed_windows(rules);
  const std::vector<TimeZone> zones = resolve(where.zones);
  if (zones.empty()) return "no usable time zone for the recipient";
  for (const TimeZone& z : zones) {
    const LocalTime at = z.to_local(utc_ms);
    const int minute = at.hour * 60 + at.minute;
    const auto& today = windows[at.weekday];
    if (contains(today, minute)) continue;
    std::string text = clock_text(minute) + " " + kDays[at.weekday] + " in " + z.name();
    text += today.empty() ? " allows no sending" : " is outside " + windows_text(today);
    std::string why;
    for (const SendRule& r : rules) {
      if (contains(r.allowed[at.weekday], minute)) continue;
      why += (why.empty() ? "" : ", ") + r.name;
    }
    return why.empty() ? text : text + " (" + why + ")";
  }
  return "";
}

std::vector<std::string> location_table_problems() {
  std::vector<std::string> problems = tables().duplicates;
  std::set<std::string> zones;
  for (const AreaCodeGroup& g : kAreaCodes) {
    for (auto& z : split_zones(g.zones)) zones.insert(z);
    if (std::string_view(g.region) != "CA" && subdivision(g.region) == nullptr) {
      problems.push_back(std::string("area code region ") + g.region + " has no subdivision entry");
    }
  }
  for (const Subdivision& s : kSubdivisions) {
    for (auto& z : split_zones(s.zones)) zones.insert(z);
  }
  for (const Country& c : kCountries) {
    for (auto& z : split_zones(c.zones)) zones.insert(z);
  }
  for (const std::string& z : zones) {
    if (auto loaded = time_zone(z); !loaded) problems.push_back(loaded.error().message);
  }
  return problems;
}

}  // namespace afterglow::email
