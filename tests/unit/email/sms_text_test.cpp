// SMS segments (GSM-7 160/153, UCS-2 70/67, extension characters and surrogate pairs) and the
// compliant composition (brand, STOP, first-message HELP line, the segment cap).
#include "email/sms_text.h"

#include <catch2/catch.hpp>

using namespace afterglow;
using namespace afterglow::email;

namespace {

std::string repeat(std::string_view s, int n) {
  std::string out;
  for (int k = 0; k < n; ++k) out += s;
  return out;
}

void check_count(std::string_view text, SmsEncoding encoding, int units, int segments) {
  SegmentInfo info = count_segments(text);
  INFO("units " << info.units << " segments " << info.segments);
  CHECK(info.encoding == encoding);
  CHECK(info.units == units);
  CHECK(info.segments == segments);
}

constexpr std::string_view kEmoji = "\xF0\x9F\x98\x80";       // U+1F600, a surrogate pair
constexpr std::string_view kRightQuote = "\xE2\x80\x99";     // ’
constexpr std::string_view kEuro = "\xE2\x82\xAC";           // € (extension table)
constexpr std::string_view kCyrillicA = "\xD0\x90";          // А, outside GSM-7

}  // namespace

TEST_CASE("GSM-7 segments are 160 single and 153 concatenated", "[render][sms]") {
  check_count("", SmsEncoding::kGsm7, 0, 0);
  check_count(std::string(160, 'a'), SmsEncoding::kGsm7, 160, 1);
  check_count(std::string(161, 'a'), SmsEncoding::kGsm7, 161, 2);
  check_count(std::string(306, 'a'), SmsEncoding::kGsm7, 306, 2);
  check_count(std::string(307, 'a'), SmsEncoding::kGsm7, 307, 3);
  check_count(std::string(459, 'a'), SmsEncoding::kGsm7, 459, 3);
  // The basic table beyond ASCII letters stays GSM-7: @ £ $ ¥ è é Δ _ ¿ ß Ü ¤ § à, LF, CR.
  check_count("@\xC2\xA3$\xC2\xA5\xC3\xA8\xC3\xA9\xCE\x94_\xC2\xBF\xC3\x9F\xC3\x9C\xC2\xA4"
              "\xC2\xA7\xC3\xA0\n\r",
              SmsEncoding::kGsm7, 16, 1);
}

TEST_CASE("extension characters count two septets", "[render][sms]") {
  for (std::string_view ext : {"^", "{", "}", "\\", "[", "]", "~", "|", "\f"}) {
    INFO(static_cast<int>(ext[0]));
    check_count(ext, SmsEncoding::kGsm7, 2, 1);
  }
  check_count(kEuro, SmsEncoding::kGsm7, 2, 1);
  check_count(repeat(kEuro, 80), SmsEncoding::kGsm7, 160, 1);
  check_count(repeat(kEuro, 81), SmsEncoding::kGsm7, 162, 2);
  check_count(std::string(159, 'a') + "[", SmsEncoding::kGsm7, 161, 2);
  // An escape pair is never split between segments: 152 letters + '[' + 1 letter is 155 septets
  // but the '[' does not fit in the first segment's last septet.
  check_count(std::string(152, 'a') + "[" + std::string(153, 'a'), SmsEncoding::kGsm7, 307, 3);
  check_count(std::string(151, 'a') + "[" + std::string(153, 'a'), SmsEncoding::kGsm7, 306, 2);
  // Backtick is not in GSM-7 at all.
  check_count("`", SmsEncoding::kUcs2, 1, 1);
}

TEST_CASE("UCS-2 segments are 70 single and 67 concatenated", "[render][sms]") {
  check_count(repeat(kCyrillicA, 70), SmsEncoding::kUcs2, 70, 1);
  check_count(repeat(kCyrillicA, 71), SmsEncoding::kUcs2, 71, 2);
  check_count(repeat(kCyrillicA, 134), SmsEncoding::kUcs2, 134, 2);
  check_count(repeat(kCyrillicA, 135), SmsEncoding::kUcs2, 135, 3);
  // One character outside GSM-7 makes the whole text UCS-2.
  check_count(std::string(69, 'a') + std::string(kCyrillicA), SmsEncoding::kUcs2, 70, 1);
  check_count(std::string(70, 'a') + std::string(kCyrillicA), SmsEncoding::kUcs2, 71, 2);
  // An emoji forces UCS-2 and counts two UTF-16 units.
  check_count(std::string("Hi ") + std::string(kEmoji), SmsEncoding::kUcs2, 5, 1);
  check_count(repeat(kEmoji, 35), SmsEncoding::kUcs2, 70, 1);
  check_count(repeat(kEmoji, 36), SmsEncoding::kUcs2, 72, 2);
  // A surrogate pair is never split: 66 units + emoji cannot share 67.
  check_count(std::string(66, 'a') + std::string(kEmoji) + std::string(kCyrillicA),
              SmsEncoding::kUcs2, 69, 1);
  check_count(std::string(66, 'a') + std::string(kEmoji) + std::string(66, 'b'),
              SmsEncoding::kUcs2, 134, 3);
  check_count(std::string(65, 'a') + std::string(kEmoji) + std::string(67, 'b'),
              SmsEncoding::kUcs2, 134, 2);
  // Malformed UTF-8 counts as U+FFFD.
  check_count("a\xFF", SmsEncoding::kUcs2, 2, 1);
  // A curly quote alone would force UCS-2 (compose_sms replaces it, see below).
  check_count(kRightQuote, SmsEncoding::kUcs2, 1, 1);
}

TEST_CASE("smart punctuation is replaced by ASCII", "[render][sms]") {
  CHECK(replace_smart_punctuation("\xE2\x80\x98" "a\xE2\x80\x99 \xE2\x80\x9C" "b\xE2\x80\x9D "
                                  "c\xE2\x80\x93" "d\xE2\x80\x94" "e\xE2\x80\xA6 f\xC2\xA0g") ==
        "'a' \"b\" c-d-e... f g");
  CHECK(replace_smart_punctuation("caf\xC3\xA9 \xF0\x9F\x98\x80") == "caf\xC3\xA9 \xF0\x9F\x98\x80");
}

TEST_CASE("compose adds the brand and the opt-out lines", "[render][sms]") {
  auto first = compose_sms("Your cart is waiting: https://s.example/c/1", "Acme", true, "", 2);
  REQUIRE(first);
  CHECK(*first ==
        "Acme: Your cart is waiting: https://s.example/c/1\nReply STOP to opt out\n"
        "Reply HELP for help. Msg&data rates may apply.");
  auto later = compose_sms("Acme deals: 10% off today", "Acme", false, "", 2);
  REQUIRE(later);
  CHECK(*later == "Acme deals: 10% off today\nReply STOP to opt out");  // no double brand
  auto custom = compose_sms("New arrivals", "Acme", false, "Text STOP to unsubscribe", 1);
  REQUIRE(custom);
  CHECK(*custom == "Acme: New arrivals\nText STOP to unsubscribe");

  CHECK_FALSE(compose_sms("x", "", false, "", 2));
  CHECK_FALSE(compose_sms("  ", "Acme", false, "", 2));
  CHECK_FALSE(compose_sms("x", "Acme", false, "", 0));
}

TEST_CASE("smart quotes are replaced before counting so the text stays GSM-7",
          "[render][sms]") {
  std::string body = "It" + std::string(kRightQuote) + "s back \xE2\x80\x94 grab yours" +
                     std::string(100, '!');
  auto replaced = compose_sms(body, "Acme", false, "", 1);
  REQUIRE(replaced);
  CHECK(replaced->find("It's back - grab yours") != std::string::npos);
  CHECK(count_segments(*replaced).encoding == SmsEncoding::kGsm7);
  CHECK(count_segments(*replaced).segments == 1);
  // Kept, the same text needs UCS-2 and three segments: over a cap of 2.
  auto kept = compose_sms(body, "Acme", false, "", 2, SmartPunctuation::kKeep);
  REQUIRE_FALSE(kept);
  CHECK(kept.error().code == ErrorCode::kInvalidArgument);
  CHECK_THAT(kept.error().message, Catch::Contains("3 segments") && Catch::Contains("UCS-2"));
}

TEST_CASE("a message over the segment cap is refused with its counts", "[render][sms]") {
  // "Acme: " (6) + body + "\nReply STOP to opt out" (22) = 28 + body.
  auto fits = compose_sms(std::string(306 - 28, 'x'), "Acme", false, "", 2);
  REQUIRE(fits);
  CHECK(count_segments(*fits).units == 306);
  auto over = compose_sms(std::string(307 - 28, 'x'), "Acme", false, "", 2);
  REQUIRE_FALSE(over);
  CHECK_THAT(over.error().message,
             Catch::Contains("3 segments") && Catch::Contains("GSM-7") &&
                 Catch::Contains("307 units") && Catch::Contains("limit is 2"));
  // The first-message line counts too.
  auto first = compose_sms(std::string(306 - 28, 'x'), "Acme", true, "", 2);
  REQUIRE_FALSE(first);
}
