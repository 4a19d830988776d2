#include "email/sms_text.h"

#include <algorithm>
#include <array>
#include <vector>

namespace afterglow::email {
namespace {

constexpr uint32_t kReplacement = 0xFFFD;

// Decodes UTF-8; a malformed sequence yields U+FFFD and consumes one byte.
std::vector<uint32_t> code_points(std::string_view s) {
  std::vector<uint32_t> out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    auto b0 = static_cast<unsigned char>(s[i]);
    size_t n = b0 < 0x80 ? 1 : b0 >= 0xF0 && b0 <= 0xF4 ? 4 : b0 >= 0xE0 ? 3 : b0 >= 0xC2 ? 2 : 0;
    if (b0 >= 0xF5) n = 0;
    bool ok = n != 0 && i + n <= s.size();
    uint32_t cp = n == 1 ? b0 : n == 2 ? (b0 & 0x1F) : n == 3 ? (b0 & 0x0F) : (b0 & 0x07);
    for (size_t k = 1; ok && k < n; ++k) {
      auto b = static_cast<unsigned char>(s[i + k]);
      if ((b & 0xC0) != 0x80) ok = false;
      cp = (cp << 6) | (b & 0x3F);
    }
    if (ok && ((n == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
               (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)))) {
      ok = false;
    }
    if (!ok) {
      out.push_back(kReplacement);
      ++i;
      continue;
    }
    out.push_back(cp);
    i += n;
  }
  return out;
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// The GSM 03.38 default alphabet (3GPP TS 23.038 §6.2.1) by code point, in table order; 0x1B
// (the escape to the extension table) is left out.
constexpr std::array<uint32_t, 127> kGsmBasic = {
    0x0040, 0x00A3, 0x0024, 0x00A5, 0x00E8, 0x00E9, 0x00F9, 0x00EC,  // @ £ $ ¥ è é ù ì
    0x00F2, 0x00C7, 0x000A, 0x00D8, 0x00F8, 0x000D, 0x00C5, 0x00E5,  // ò Ç LF Ø ø CR Å å
    0x0394, 0x005F, 0x03A6, 0x0393, 0x039B, 0x03A9, 0x03A0, 0x03A8,  // Δ _ Φ Γ Λ Ω Π Ψ
    0x03A3, 0x0398, 0x039E, 0x00C6, 0x00E6, 0x00DF, 0x00C9,          // Σ Θ Ξ Æ æ ß É
    0x0020, 0x0021, 0x0022, 0x0023, 0x00A4, 0x0025, 0x0026, 0x0027,  // SP ! " # ¤ % & '
    0x0028, 0x0029, 0x002A, 0x002B, 0x002C, 0x002D, 0x002E, 0x002F,  // ( ) * + , - . /
    0x0030, 0x0031, 0x0032, 0x0033, 0x0034, 0x0035, 0x0036, 0x0037,  // 0-7
    0x0038, 0x0039, 0x003A, 0x003B, 0x003C, 0x003D, 0x003E, 0x003F,  // 8 9 : ; < = > ?
    0x00A1, 0x0041, 0x0042, 0x0043, 0x0044, 0x0045, 0x0046, 0x0047,  // ¡ A-G
    0x0048, 0x0049, 0x004A, 0x004B, 0x004C, 0x004D, 0x004E, 0x004F,  // H-O
    0x0050, 0x0051, 0x0052, 0x0053, 0x0054, 0x0055, 0x0056, 0x0057,  // P-W
    0x0058, 0x0059, 0x005A, 0x00C4, 0x00D6, 0x00D1, 0x00DC, 0x00A7,  // X Y Z Ä Ö Ñ Ü §
    0x00BF, 0x0061, 0x0062, 0x0063, 0x0064, 0x0065, 0x0066, 0x0067,  // ¿ a-g
    0x0068, 0x0069, 0x006A, 0x006B, 0x006C, 0x006D, 0x006E, 0x006F,  // h-o
    0x0070, 0x0071, 0x0072, 0x0073, 0x0074, 0x0075, 0x0076, 0x0077,  // p-w
    0x0078, 0x0079, 0x007A, 0x00E4, 0x00F6, 0x00F1, 0x00FC, 0x00E0,  // x y z ä ö ñ ü à
};

static_assert(kGsmBasic[126] == 0x00E0, "the default alphabet has 127 printable entries");

// The extension table's characters (escape + character: 2 septets).
constexpr std::array<uint32_t, 10> kGsmExtension = {
    0x000C, 0x005E, 0x007B, 0x007D, 0x005C, 0x005B, 0x007E, 0x005D, 0x007C, 0x20AC,
};  // FF ^ { } \ [ ~ ] | €

// Septets for a code point: 1, 2 (extension), or 0 when it is not in GSM-7.
int gsm_septets(uint32_t cp) {
  if (std::find(kGsmBasic.begin(), kGsmBasic.end(), cp) != kGsmBasic.end()) return 1;
  if (std::find(kGsmExtension.begin(), kGsmExtension.end(), cp) != kGsmExtension.end()) return 2;
  return 0;
}

// Segments for per-character costs: everything in one when it fits `single`, otherwise packed
// into segments of `multi` without splitting a character.
int pack(const std::vector<int>& costs, int total, int single, int multi) {
  if (total == 0) return 0;
  if (total <= single) return 1;
  int segments = 1;
  int used = 0;
  for (int c : costs) {
    if (used + c > multi) {
      ++segments;
      used = 0;
    }
    used += c;
  }
  return segments;
}

std::string trimmed(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r' ||
                        s.front() == '\n')) {
    s.remove_prefix(1);
  }
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return std::string(s);
}

// CRLF and lone CR as LF: a line break costs one septet, not two.
std::string normalise_breaks(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\r') {
      out += '\n';
      if (i + 1 < s.size() && s[i + 1] == '\n') ++i;
    } else {
      out += s[i];
    }
  }
  return out;
}

}  // namespace

std::string_view sms_encoding_name(SmsEncoding encoding) {
  return encoding == SmsEncoding::kGsm7 ? "GSM-7" : "UCS-2";
}

SegmentInfo count_segments(std::string_view utf8) {
  std::vector<uint32_t> cps = code_points(utf8);
  std::vector<int> costs;
  costs.reserve(cps.size());
  bool gsm = true;
  for (uint32_t cp : cps) {
    int septets = gsm_septets(cp);
    if (septets == 0) {
      gsm = false;
      break;
    }
    costs.push_back(septets);
  }
  SegmentInfo info;
  if (!gsm) {
    costs.clear();
    for (uint32_t cp : cps) costs.push_back(cp > 0xFFFF ? 2 : 1);
    info.encoding = SmsEncoding::kUcs2;
  }
  for (int c : costs) info.units += c;
  info.segments = info.encoding == SmsEncoding::kGsm7 ? pack(costs, info.units, 160, 153)
                                                      : pack(costs, info.units, 70, 67);
  return info;
}

std::string replace_smart_punctuation(std::string_view utf8) {
  std::string out;
  out.reserve(utf8.size());
  size_t i = 0;
  while (i < utf8.size()) {
    auto b0 = static_cast<unsigned char>(utf8[i]);
    if (b0 < 0x80) {
      out += utf8[i++];
      continue;
    }
    // Decode one sequence (a malformed byte is copied as it is).
    size_t n = b0 >= 0xF0 ? 4 : b0 >= 0xE0 ? 3 : b0 >= 0xC0 ? 2 : 1;
    if (n == 1 || i + n > utf8.size()) {
      out += utf8[i++];
      continue;
    }
    std::vector<uint32_t> one = code_points(utf8.substr(i, n));
    if (one.size() != 1 || one[0] == kReplacement) {
      out += utf8[i++];
      continue;
    }
    uint32_t cp = one[0];
    switch (cp) {
      case 0x2018: case 0x2019: case 0x201A: case 0x201B: case 0x2032:
        out += '\'';
        break;
      case 0x201C: case 0x201D: case 0x201E: case 0x201F: case 0x2033:
        out += '"';
        break;
      case 0x2010: case 0x2011: case 0x2012: case 0x2013: case 0x2014: case 0x2015: case 0x2212:
        out += '-';
        break;
      case 0x2026:
        out += "...";
        break;
      case 0x00A0: case 0x2002: case 0x2003: case 0x2004: case 0x2005: case 0x2006:
      case 0x2007: case 0x2008: case 0x2009: case 0x200A: case 0x202F: case 0x205F:
        out += ' ';
        break;
      default:
        append_utf8(out, cp);
    }
    i += n;
  }
  return out;
}

Result<std::string> compose_sms(std::string_view body, std::string_view brand,
                                bool first_to_number, std::string_view stop_help_line,
                                int max_segments, SmartPunctuation punctuation) {
  auto clean = [&](std::string_view s) {
    std::string t = trimmed(normalise_breaks(s));
    return punctuation == SmartPunctuation::kReplace ? replace_smart_punctuation(t) : t;
  };
  std::string text = clean(body);
  std::string name = clean(brand);
  std::string stop = clean(stop_help_line.empty() ? kDefaultStopLine : stop_help_line);
  if (name.empty()) {
    return fail(ErrorCode::kInvalidArgument, "sms brand must not be empty (CTIA: brand in every message)");
  }
  if (text.empty()) return fail(ErrorCode::kInvalidArgument, "sms body must not be empty");
  if (max_segments < 1) {
    return fail(ErrorCode::kInvalidArgument, "sms max_segments must be at least 1");
  }
  std::string message = text.starts_with(name) ? text : name + ": " + text;
  message += "\n" + stop;
  if (first_to_number) message += "\n" + std::string(kFirstMessageLine);
  SegmentInfo info = count_segments(message);
  if (info.segments > max_segments) {
    return fail(ErrorCode::kInvalidArgument,
                "sms would take " + std::to_string(info.segments) + " segments (" +
                    std::string(sms_encoding_name(info.encoding)) + ", " +
                    std::to_string(info.units) + " units); the limit is " +
                    std::to_string(max_segments));
  }
  return message;
}

}  // namespace afterglow::email
