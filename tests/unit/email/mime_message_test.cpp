// The RFC 5322 message for the SMTP upload, checked by parsing it back with email/mime_parse.h:
// parts decode to the input, headers appear once, the List-Unsubscribe headers are single lines
// as RFC 8058 needs, encoded-words and quoted-printable round-trip, and header injection is
// refused field by field.
#include "email/mime_message.h"

#include <catch2/catch.hpp>
#include <functional>

#include "email/mime_parse.h"

using namespace afterglow;
using namespace afterglow::email;

namespace {

constexpr int64_t kDateMs = 1'745'000'000'000;  // Fri, 18 Apr 2025 18:13:20 UTC

MimeMessageInput sample() {
  MimeMessageInput in;
  in.from = {"Acme Store", "hello@acme.example"};
  in.to = {"Ana Lopez", "ana@customer.example"};
  in.reply_to = {"", "support@acme.example"};
  in.subject = "Your order #1001 goes well with these";
  in.date_ms = kDateMs;
  in.message_id = "<m123.abc@acme.example>";
  in.text_body = "Hi Ana,\nThanks for your order.\n\nSee you soon = Acme \n";
  in.html_body = "<p>Hi Ana,</p>\n<p>Thanks for your order. Caf\xC3\xA9 \xF0\x9F\x98\x80</p>\n";
  in.list_unsubscribe_url = "https://app.example/u/TOKEN123";
  in.list_unsubscribe_mailto = "mailto:unsub+TOKEN123@bounce.example";
  in.extra_headers = {{"Feedback-ID", "flow7:shop42:afterglow"}, {"X-Afterglow-Message", "m123"}};
  return in;
}

std::string build(const MimeMessageInput& in) {
  auto r = build_mime_message(in);
  INFO((r ? "" : r.error().message));
  REQUIRE(r);
  return *r;
}

ParsedEntity parse(const std::string& raw) {
  auto r = parse_mime(raw);
  INFO((r ? "" : r.error().message));
  REQUIRE(r);
  return *r;
}

std::string decoded(const ParsedEntity& e) {
  auto r = decode_body(e);
  INFO((r ? "" : r.error().message));
  REQUIRE(r);
  return *r;
}

std::string crlf(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\r') {
      out += "\r\n";
      if (i + 1 < s.size() && s[i + 1] == '\n') ++i;
    } else if (s[i] == '\n') {
      out += "\r\n";
    } else {
      out += s[i];
    }
  }
  return out;
}

std::vector<std::string> lines_of(std::string_view s) {
  std::vector<std::string> lines;
  size_t pos = 0;
  while (true) {
    size_t eol = s.find("\r\n", pos);
    lines.emplace_back(s.substr(pos, eol == std::string_view::npos ? s.npos : eol - pos));
    if (eol == std::string_view::npos) break;
    pos = eol + 2;
  }
  return lines;
}

std::string decode_header(const ParsedEntity& e, std::string_view name) {
  auto r = decode_encoded_words(e.header(name));
  INFO((r ? "" : r.error().message));
  REQUIRE(r);
  return *r;
}

}  // namespace

TEST_CASE("a built message parses back with each header once and both parts intact",
          "[render][mime]") {
  MimeMessageInput in = sample();
  std::string raw = build(in);
  CHECK(build(in) == raw);  // deterministic
  ParsedEntity msg = parse(raw);

  for (const char* name : {"Date", "From", "To", "Reply-To", "Subject", "Message-ID",
                           "MIME-Version", "List-Unsubscribe", "List-Unsubscribe-Post",
                           "Content-Type", "Feedback-ID", "X-Afterglow-Message"}) {
    INFO(name);
    CHECK(msg.count(name) == 1);
  }
  CHECK(msg.headers.size() == 12);
  CHECK(msg.header("Date") == "Fri, 18 Apr 2025 18:13:20 +0000");
  CHECK(msg.header("Message-ID") == "<m123.abc@acme.example>");
  CHECK(msg.header("MIME-Version") == "1.0");
  CHECK(msg.header("Subject") == in.subject);
  CHECK(msg.header("Reply-To") == "support@acme.example");
  CHECK(msg.header("Feedback-ID") == "flow7:shop42:afterglow");
  auto from = parse_mailbox(msg.header("From"));
  REQUIRE(from);
  CHECK(from->name == "Acme Store");
  CHECK(from->address == "hello@acme.example");

  CHECK(msg.content_type() == "multipart/alternative");
  CHECK(msg.content_type_param("boundary") == mime_boundary_for(in.message_id));
  REQUIRE(msg.parts.size() == 2);
  CHECK(msg.parts[0].content_type() == "text/plain");
  CHECK(msg.parts[1].content_type() == "text/html");
  for (const auto& part : msg.parts) {
    CHECK(part.content_type_param("charset") == "UTF-8");
    CHECK(part.header("Content-Transfer-Encoding") == "quoted-printable");
  }
  CHECK(decoded(msg.parts[0]) == crlf(in.text_body));
  CHECK(decoded(msg.parts[1]) == crlf(in.html_body));

  // CRLF everywhere (parse_mime refuses bare LF), 7-bit clean, no line over 78 characters but
  // List-Unsubscribe, which is never folded.
  for (const auto& line : lines_of(raw)) {
    INFO(line);
    if (!line.starts_with("List-Unsubscribe:")) CHECK(line.size() <= 78);
    for (char c : line) CHECK(static_cast<unsigned char>(c) < 0x80);
  }
  CHECK(raw.ends_with("--" + mime_boundary_for(in.message_id) + "--\r\n"));
}

TEST_CASE("List-Unsubscribe headers are single lines exactly as RFC 8058 needs",
          "[render][mime]") {
  MimeMessageInput in = sample();
  // A long token pushes the line well past 78 characters: it must still not be folded.
  std::string token(140, 'T');
  in.list_unsubscribe_url = "https://app.example/u/" + token;
  in.list_unsubscribe_mailto = "unsub+" + token + "@bounce.example";  // bare: mailto: is added
  ParsedEntity msg = parse(build(in));
  const ParsedHeader* lu = msg.find("List-Unsubscribe");
  REQUIRE(lu);
  CHECK(lu->raw == "List-Unsubscribe: <https://app.example/u/" + token + ">, <mailto:unsub+" +
                       token + "@bounce.example>");
  CHECK(lu->raw.find("\r\n") == std::string::npos);
  const ParsedHeader* post = msg.find("List-Unsubscribe-Post");
  REQUIRE(post);
  CHECK(post->raw == "List-Unsubscribe-Post: List-Unsubscribe=One-Click");

  in.list_unsubscribe_mailto.clear();
  ParsedEntity https_only = parse(build(in));
  CHECK(https_only.header("List-Unsubscribe") == "<https://app.example/u/" + token + ">");

  for (std::string bad : {"http://app.example/u/T", "javascript:alert(1)", "https://",
                          "https:///path", "https://app.example/u/a b", "https://a.example/>x",
                          "https://a.example/u/1,2", ""}) {
    INFO(bad);
    in.list_unsubscribe_url = bad;
    auto r = build_mime_message(in);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == ErrorCode::kInvalidArgument);
    CHECK_THAT(r.error().message, Catch::Contains("list_unsubscribe_url"));
  }
  in = sample();
  in.list_unsubscribe_mailto = "mailto:not-an-address";
  auto r = build_mime_message(in);
  REQUIRE_FALSE(r);
  CHECK_THAT(r.error().message, Catch::Contains("list_unsubscribe_mailto"));
}

TEST_CASE("long non-ASCII subjects and display names round-trip as encoded-words",
          "[render][mime]") {
  MimeMessageInput in = sample();
  in.subject =
      "Ihre Bestellung bei M\xC3\xBCller & S\xC3\xB6hne \xE2\x80\x93 jetzt 20 % Rabatt auf "
      "Zubeh\xC3\xB6r f\xC3\xBCr Ihr neues Fahrrad \xF0\x9F\x9A\xB2 und noch viel mehr, "
      "\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E\xE3\x81\xAE\xE4\xBB\xB6\xE5\x90\x8D\xE3\x82\x82 ok";
  in.from = {"Zo\xC3\xAB's Caf\xC3\xA9 \xE2\x80\x94 Fine Coffee & Tea Roasters of the Pacific "
             "Northwest",
             "hello@zoe.example"};
  in.to = {"Ana \"The Boss\" L\\opez", "ana@customer.example"};
  std::string raw = build(in);
  ParsedEntity msg = parse(raw);

  CHECK(decode_header(msg, "Subject") == in.subject);
  const ParsedHeader* subject = msg.find("Subject");
  REQUIRE(subject);
  auto subject_lines = lines_of(subject->raw);
  CHECK(subject_lines.size() > 2);  // it had to fold
  for (const auto& line : subject_lines) {
    INFO(line);
    CHECK(line.size() <= 76);  // RFC 2047 §2
  }
  auto from = parse_mailbox(msg.header("From"));
  REQUIRE(from);
  CHECK(from->name == in.from.name);
  CHECK(from->address == "hello@zoe.example");
  for (const auto& line : lines_of(msg.find("From")->raw)) CHECK(line.size() <= 76);
  auto to = parse_mailbox(msg.header("To"));
  REQUIRE(to);
  CHECK(to->name == in.to.name);  // quoted-string with escapes

  // A long ASCII subject folds at spaces and unfolds to itself.
  in = sample();
  in.subject = "A rather long subject line that keeps going and going so that it must be "
               "folded at least once, maybe twice, to stay under the recommended limit";
  msg = parse(build(in));
  CHECK(msg.header("Subject") == in.subject);
  CHECK(lines_of(msg.find("Subject")->raw).size() >= 2);
  // ASCII that looks like an encoded-word is encoded so that it reads back literally.
  in.subject = "Use code =?SAVE?= today";
  msg = parse(build(in));
  CHECK(decode_header(msg, "Subject") == in.subject);
}

TEST_CASE("a CR or LF or NUL in any header field is refused naming the field", "[render][mime]") {
  using Setter = std::function<void(MimeMessageInput&, const std::string&)>;
  std::vector<std::pair<std::string, Setter>> fields = {
      {"from.name", [](auto& m, const auto& v) { m.from.name = "Acme" + v + "Bcc: x@evil.example"; }},
      {"from.address", [](auto& m, const auto& v) { m.from.address = "a@b.example" + v + "x"; }},
      {"to.name", [](auto& m, const auto& v) { m.to.name = "Ana" + v + "x"; }},
      {"to.address", [](auto& m, const auto& v) { m.to.address = "ana@c.example" + v; }},
      {"reply_to.name", [](auto& m, const auto& v) { m.reply_to.name = "S" + v + "x"; }},
      {"reply_to.address", [](auto& m, const auto& v) { m.reply_to.address = "s@a.example" + v; }},
      {"subject", [](auto& m, const auto& v) { m.subject = "Hi" + v + "Bcc: x@evil.example"; }},
      {"message_id", [](auto& m, const auto& v) { m.message_id = "<a@b" + v + ">"; }},
      {"list_unsubscribe_url",
       [](auto& m, const auto& v) { m.list_unsubscribe_url = "https://a.example/u/T" + v; }},
      {"list_unsubscribe_mailto",
       [](auto& m, const auto& v) { m.list_unsubscribe_mailto = "mailto:u@a.example" + v; }},
      {"extra_headers[1].name",
       [](auto& m, const auto& v) { m.extra_headers[1].name = "X-A" + v + "B"; }},
      {"extra_headers[0].value",
       [](auto& m, const auto& v) { m.extra_headers[0].value = "v" + v + "Bcc: x@evil.example"; }},
  };
  for (const std::string& breaker : {std::string("\r\n"), std::string("\n"), std::string("\r"),
                                    std::string(1, '\0')}) {
    for (const auto& [field, set] : fields) {
      INFO(field << " with byte " << static_cast<int>(breaker[0]));
      MimeMessageInput in = sample();
      set(in, breaker);
      auto r = build_mime_message(in);
      REQUIRE_FALSE(r);
      CHECK(r.error().code == ErrorCode::kInvalidArgument);
      CHECK_THAT(r.error().message, Catch::StartsWith(field));
    }
  }
  // Bodies may contain line breaks, of course.
  MimeMessageInput ok = sample();
  ok.text_body = "a\r\nb\rc\nd";
  CHECK(build_mime_message(ok));
}

TEST_CASE("addresses message ids and extra headers are validated", "[render][mime]") {
  for (std::string bad : {"", "ana", "@x.example", "ana@", "a@b@c.example", "ana @x.example",
                          "<ana@x.example>", "ana@x.example,b@y.example", "ana;x@y.example",
                          "an\xC3\xA4@x.example", "\"ana\"@x.example"}) {
    INFO(bad);
    MimeMessageInput in = sample();
    in.to.address = bad;
    auto r = build_mime_message(in);
    REQUIRE_FALSE(r);
    CHECK_THAT(r.error().message, Catch::StartsWith("to.address"));
  }
  CHECK(check_address("first.last+tag@sub.example.co.uk", "x"));

  for (std::string bad : {"m123@acme.example", "<m123>", "<@acme.example>", "<m123@>",
                          "<m 1@acme.example>", "<a@b@c>", "<<a@b>>"}) {
    INFO(bad);
    MimeMessageInput in = sample();
    in.message_id = bad;
    auto r = build_mime_message(in);
    REQUIRE_FALSE(r);
    CHECK_THAT(r.error().message, Catch::StartsWith("message_id"));
  }

  for (std::string reserved : {"Subject", "bcc", "List-Unsubscribe", "Content-Type",
                               "content-disposition", "MIME-Version", "Message-ID"}) {
    INFO(reserved);
    MimeMessageInput in = sample();
    in.extra_headers.push_back({reserved, "x"});
    auto r = build_mime_message(in);
    REQUIRE_FALSE(r);
    CHECK_THAT(r.error().message, Catch::StartsWith("extra_headers[2].name"));
  }
  MimeMessageInput in = sample();
  in.extra_headers.push_back({"X-Bad Name", "x"});
  CHECK_FALSE(build_mime_message(in));
  in = sample();
  in.extra_headers.push_back({"X-Note", "caf\xC3\xA9"});
  CHECK_FALSE(build_mime_message(in));

  in = sample();
  in.subject = "   ";
  auto empty = build_mime_message(in);
  REQUIRE_FALSE(empty);
  CHECK_THAT(empty.error().message, Catch::StartsWith("subject"));
  in = sample();
  in.html_body = "bad \xC3";
  auto bad_utf8 = build_mime_message(in);
  REQUIRE_FALSE(bad_utf8);
  CHECK_THAT(bad_utf8.error().message, Catch::StartsWith("html_body"));

  // A long extra header folds and unfolds to itself; Reply-To is optional.
  in = sample();
  std::string long_value;
  for (int k = 0; k < 20; ++k) long_value += "word" + std::to_string(k) + " ";
  long_value += "end";
  in.extra_headers.push_back({"X-Long", long_value});
  in.reply_to = {};
  ParsedEntity msg = parse(build(in));
  CHECK(msg.header("X-Long") == long_value);
  CHECK(lines_of(msg.find("X-Long")->raw).size() >= 2);
  CHECK(msg.count("Reply-To") == 0);
}

TEST_CASE("quoted-printable edge cases", "[render][mime]") {
  auto roundtrip = [](const std::string& input) {
    std::string encoded = encode_quoted_printable(input);
    for (const auto& line : lines_of(encoded)) {
      INFO(line);
      CHECK(line.size() <= 76);
      if (!line.empty()) {
        CHECK(line.back() != ' ');
        CHECK(line.back() != '\t');
      }
    }
    CHECK(encoded.find("=_") == std::string::npos);
    auto back = decode_quoted_printable(encoded);
    REQUIRE(back);
    CHECK(*back == crlf(input));
    return encoded;
  };
  std::string a76(76, 'a');
  CHECK(roundtrip(a76) == a76);  // exactly 76: no soft break
  CHECK(roundtrip(std::string(77, 'a')) == std::string(75, 'a') + "=\r\naa");
  // '=' at the end of a full line: the triplet is never split.
  CHECK(roundtrip(std::string(75, 'a') + "=") == std::string(75, 'a') + "=\r\n=3D");
  CHECK(roundtrip(std::string(73, 'a') + "=") == std::string(73, 'a') + "=3D");
  CHECK(roundtrip(std::string(74, 'a') + "=b") == std::string(74, 'a') + "=\r\n=3Db");
  CHECK(roundtrip("=start") == "=3Dstart");
  // Trailing whitespace is encoded; inner whitespace is not.
  CHECK(roundtrip("a b \nc\t") == "a b=20\r\nc=09");
  CHECK(roundtrip(std::string(75, 'a') + " ") == std::string(75, 'a') + "=\r\n=20");
  // A dot at the start of a line is left to SMTP dot-stuffing.
  CHECK(roundtrip("x\n.hidden\n.") == "x\r\n.hidden\r\n.");
  CHECK(roundtrip("a=_b") == "a=3D_b");
  CHECK(roundtrip("caf\xC3\xA9") == "caf=C3=A9");
  CHECK(roundtrip("") == "");
  CHECK(roundtrip("\n\n") == "\r\n\r\n");
  // Long runs of multi-byte characters: no =XX is split across a soft break.
  std::string emoji;
  for (int k = 0; k < 40; ++k) emoji += "\xF0\x9F\x98\x80";
  roundtrip(emoji);
  for (int shift = 0; shift < 4; ++shift) roundtrip(std::string(shift, 'x') + emoji);

  // Pseudo-random bytes with a fixed seed: every line rule holds and decoding is exact.
  uint32_t state = 12345;
  for (int n = 0; n < 50; ++n) {
    std::string input;
    int len = static_cast<int>(state % 400);
    for (int k = 0; k < len; ++k) {
      state = state * 1103515245u + 12345u;
      unsigned pick = (state >> 16) % 10;
      input += pick < 5   ? static_cast<char>('a' + (state >> 8) % 26)
               : pick < 7 ? ' '
               : pick < 8 ? '='
               : pick < 9 ? '\n'
                          : static_cast<char>((state >> 8) & 0xFF);
    }
    roundtrip(input);
  }
}

TEST_CASE("dates are written in UTC", "[render][mime]") {
  CHECK(format_rfc5322_date(0) == "Thu, 01 Jan 1970 00:00:00 +0000");
  CHECK(format_rfc5322_date(kDateMs) == "Fri, 18 Apr 2025 18:13:20 +0000");
  CHECK(format_rfc5322_date(1'709'251'199'999) == "Thu, 29 Feb 2024 23:59:59 +0000");
  CHECK(format_rfc5322_date(-1) == "Wed, 31 Dec 1969 23:59:59 +0000");
}

TEST_CASE("the parser is strict about line ends and structure", "[render][mime]") {
  CHECK_FALSE(parse_mime("Subject: x\nTo: y\r\n\r\nbody"));
  CHECK_FALSE(parse_mime("Subject: x\r\n\r\nbody\r"));
  CHECK_FALSE(parse_mime(" continued: x\r\n\r\n"));
  CHECK_FALSE(parse_mime("no colon here\r\n\r\n"));
  CHECK_FALSE(parse_mime("Content-Type: multipart/alternative\r\n\r\n--x\r\n\r\na\r\n--x--\r\n"));
  CHECK_FALSE(parse_mime("Content-Type: multipart/alternative; boundary=x\r\n\r\n--x\r\n\r\na\r\n"));
  CHECK_FALSE(decode_quoted_printable("a=G1"));
  CHECK_FALSE(decode_quoted_printable("a=4"));

  auto q = decode_encoded_words("=?utf-8?q?Caf=C3=A9_au_lait?= =?UTF-8?B?IQ==?= and more");
  REQUIRE(q);
  CHECK(*q == "Caf\xC3\xA9 au lait! and more");
  CHECK_FALSE(decode_encoded_words("=?iso-8859-1?q?caf=E9?="));
  auto plain = decode_encoded_words("no words =? here");
  REQUIRE(plain);
  CHECK(*plain == "no words =? here");

  auto nested = parse_mime(
      "Content-Type: multipart/mixed; boundary=\"outer\"\r\n\r\npreamble\r\n--outer\r\n"
      "Content-Type: multipart/alternative; boundary=inner\r\n\r\n--inner\r\n\r\nplain\r\n"
      "--inner--\r\n--outer\r\nContent-Type: text/html\r\nContent-Transfer-Encoding: base64\r\n"
      "\r\nPGI+aGk8L2I+\r\n--outer--\r\nepilogue");
  REQUIRE(nested);
  REQUIRE(nested->parts.size() == 2);
  REQUIRE(nested->parts[0].parts.size() == 1);
  CHECK(nested->parts[0].parts[0].body == "plain");
  CHECK(nested->parts[0].parts[0].content_type() == "text/plain");
  auto html = decode_body(nested->parts[1]);
  REQUIRE(html);
  CHECK(*html == "<b>hi</b>");
}
