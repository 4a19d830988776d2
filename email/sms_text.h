// The text of a marketing SMS: how many segments it costs, and the compliant message built from a
// step's rendered body (spec/messaging.md §2.4 required content, §2.5 segments and encoding).
//
// Encoding: a message goes out in GSM-7 when every character is in the GSM 03.38 default
// alphabet (3GPP TS 23.038) or its extension table; the extension characters ^ { } \ [ ] ~ | €
// and form feed take two septets (escape + character). Any other character switches the WHOLE
// message to UCS-2, counted in UTF-16 code units (an emoji outside the BMP is a surrogate pair:
// 2 units). Limits: GSM-7 160 septets in one segment, 153 per segment when concatenated (the
// concatenation header takes the rest); UCS-2 70 units, 67 per segment. Counting follows what
// carriers and Twilio do at segment edges: an escape pair or a surrogate pair is never split, so
// a segment may hold one unit fewer.
//
// Smart quotes: phones and editors turn ' " - ... into ’ “ ” – …, which are not in GSM-7; one
// of them would make a 150-character text cost 3 UCS-2 segments instead of 1. compose_sms
// therefore replaces them with their ASCII forms before counting, as Twilio's "smart encoding"
// does (replace_smart_punctuation lists them), unless the caller asks to keep them.
//
// Pure functions without state; thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "plugin/core/error.h"

namespace afterglow::email {

enum class SmsEncoding { kGsm7, kUcs2 };

struct SegmentInfo {
  SmsEncoding encoding = SmsEncoding::kGsm7;
  int units = 0;     // GSM-7 septets (extension characters count 2) or UTF-16 code units
  int segments = 0;  // 0 for an empty text
};

// Counts `utf8`. Bytes that are not valid UTF-8 count as U+FFFD (so the text is UCS-2).
SegmentInfo count_segments(std::string_view utf8);

std::string_view sms_encoding_name(SmsEncoding encoding);  // "GSM-7", "UCS-2"

// Replaces typographic punctuation by ASCII: ‘ ’ ‚ ‛ ′ → ', “ ” „ ‟ ″ → ", ‐ ‑ ‒ – — ― − → -,
// … → ..., and no-break / thin / other width spaces → a space. Everything else is unchanged.
std::string replace_smart_punctuation(std::string_view utf8);

inline constexpr std::string_view kDefaultStopLine = "Reply STOP to opt out";
inline constexpr std::string_view kFirstMessageLine =
    "Reply HELP for help. Msg&data rates may apply.";

enum class SmartPunctuation { kReplace, kKeep };

// The message to send: "<brand>: <body>" (the prefix is left out when the body already starts
// with the brand), then a line with `stop_help_line` on every message (empty = kDefaultStopLine),
// then, on the first message to a number, a line with kFirstMessageLine. With kReplace, smart
// punctuation in the result is replaced first (see above). Fails with kInvalidArgument when the
// brand or the body is empty, max_segments < 1, or the message would take more than
// max_segments segments (the message says how many, in which encoding, with how many units).
Result<std::string> compose_sms(std::string_view body, std::string_view brand,
                                bool first_to_number, std::string_view stop_help_line,
                                int max_segments,
                                SmartPunctuation punctuation = SmartPunctuation::kReplace);

}  // namespace afterglow::email
