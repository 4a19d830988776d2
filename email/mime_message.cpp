#include "email/mime_message.h"

#include <array>
#include <chrono>
#include <cstdio>

#include "plugin/core/crypto.h"

namespace afterglow::email {
namespace {

// RFC 5322 §2.1.1: 998 octets is the hard limit, 78 the recommended one; RFC 2047 §2 limits a
// line holding encoded-words to 76.
constexpr size_t kHardLineLimit = 998;
constexpr size_t kFoldLimit = 78;
constexpr size_t kEncodedLineLimit = 76;
constexpr size_t kEncodedWordMax = 75;
constexpr std::string_view kWordPrefix = "=?UTF-8?B?";
constexpr std::string_view kWordSuffix = "?=";
constexpr std::string_view kCrlf = "\r\n";

bool has_line_break(std::string_view s) {
  return s.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos;
}

Result<void> no_line_break(std::string_view s, std::string_view field) {
  if (has_line_break(s)) {
    return fail(ErrorCode::kInvalidArgument,
                std::string(field) + " contains a line break or NUL (header injection)");
  }
  return {};
}

// Length of the UTF-8 sequence starting at s[i], or 0 when it is malformed (overlong forms,
// surrogates and code points above U+10FFFF included).
size_t utf8_sequence_length(std::string_view s, size_t i) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char b = byte(i);
  if (b < 0x80) return 1;
  size_t n = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC2 ? 2 : 0;
  if (n == 0 || b > 0xF4 || i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
  }
  unsigned char b1 = byte(i + 1);
  if (b == 0xE0 && b1 < 0xA0) return 0;  // overlong
  if (b == 0xED && b1 >= 0xA0) return 0;  // UTF-16 surrogates
  if (b == 0xF0 && b1 < 0x90) return 0;  // overlong
  if (b == 0xF4 && b1 >= 0x90) return 0;  // above U+10FFFF
  return n;
}

Result<void> valid_utf8(std::string_view s, std::string_view field) {
  for (size_t i = 0; i < s.size();) {
    size_t n = utf8_sequence_length(s, i);
    if (n == 0) {
      return fail(ErrorCode::kInvalidArgument, std::string(field) + " is not valid UTF-8");
    }
    i += n;
  }
  return {};
}

bool printable_ascii(std::string_view s, bool allow_space) {
  for (char c : s) {
    auto b = static_cast<unsigned char>(c);
    if (b == ' ' || b == '\t') {
      if (!allow_space) return false;
    } else if (b < 33 || b > 126) {
      return false;
    }
  }
  return true;
}

std::string ascii_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// RFC 2047 "B" encoded-words for `text`, split on character boundaries (§5: a multi-byte
// character must not be split between words). The first word fits in `first_budget` characters,
// the others in 75.
std::vector<std::string> encoded_words(std::string_view text, size_t first_budget) {
  std::vector<std::string> words;
  size_t budget = std::min(first_budget, kEncodedWordMax);
  size_t i = 0;
  while (i < text.size()) {
    size_t overhead = kWordPrefix.size() + kWordSuffix.size();
    size_t max_bytes = budget > overhead + 4 ? (budget - overhead) / 4 * 3 : 3;
    size_t end = i;
    while (end < text.size()) {
      size_t n = utf8_sequence_length(text, end);
      if (n == 0) n = 1;  // unreachable for validated input
      if (end + n - i > max_bytes && end > i) break;
      end += n;
    }
    words.push_back(std::string(kWordPrefix) + crypto::base64_encode(text.substr(i, end - i)) +
                    std::string(kWordSuffix));
    i = end;
    budget = kEncodedWordMax;
  }
  return words;
}

// "Name: tok1 tok2 …", folding between tokens so that lines stay within `limit` where the tokens
// allow it (a token is never split).
std::string fold_tokens(std::string_view name, const std::vector<std::string>& tokens,
                        size_t limit) {
  std::string out(name);
  out += ':';
  size_t line = out.size();
  bool first = true;
  for (const auto& t : tokens) {
    if (!first && line + 1 + t.size() > limit) {
      out += kCrlf;
      line = 0;
    }
    out += ' ';
    out += t;
    line += 1 + t.size();
    first = false;
  }
  return out;
}

// Unstructured folding (RFC 5322 §3.2.2): a CRLF is inserted before a space or tab that is
// followed by a non-space, so unfolding (deleting the CRLFs) restores the value exactly and no
// line is blank. Returns the longest line's length through `longest`.
std::string fold_unstructured(std::string_view name, std::string_view value, size_t* longest) {
  std::vector<std::string_view> chunks;
  size_t start = 0;
  for (size_t i = 1; i < value.size(); ++i) {
    bool wsp = value[i] == ' ' || value[i] == '\t';
    bool next_is_text = i + 1 < value.size() && value[i + 1] != ' ' && value[i + 1] != '\t';
    if (wsp && next_is_text) {
      chunks.push_back(value.substr(start, i - start));
      start = i;
    }
  }
  chunks.push_back(value.substr(start));
  std::string out(name);
  out += ": ";
  size_t line = out.size();
  *longest = 0;
  bool first = true;
  for (auto chunk : chunks) {
    if (!first && line + chunk.size() > kFoldLimit) {
      *longest = std::max(*longest, line);
      out += kCrlf;
      line = 0;
    }
    out += chunk;
    line += chunk.size();
    first = false;
  }
  *longest = std::max(*longest, line);
  return out;
}

Result<void> check_line_lengths(std::string_view header, std::string_view field) {
  size_t start = 0;
  while (start <= header.size()) {
    size_t end = header.find(kCrlf, start);
    if (end == std::string_view::npos) end = header.size();
    if (end - start > kHardLineLimit) {
      return fail(ErrorCode::kInvalidArgument,
                  std::string(field) + " is too long for one header line (998 octets)");
    }
    start = end + kCrlf.size();
  }
  return {};
}

Result<std::string> mailbox_header(std::string_view header, const Mailbox& box,
                                   std::string_view field) {
  AG_CHECK(no_line_break(box.name, std::string(field) + ".name"));
  AG_CHECK(check_address(box.address, std::string(field) + ".address"));
  AG_CHECK(valid_utf8(box.name, std::string(field) + ".name"));
  std::string out;
  if (box.name.empty()) {
    out = std::string(header) + ": " + box.address;
  } else {
    bool done = false;
    if (printable_ascii(box.name, true) && box.name.find("=?") == std::string::npos) {
      std::string quoted = "\"";
      for (char c : box.name) {
        if (c == '"' || c == '\\') quoted += '\\';
        quoted += c;
      }
      quoted += '"';
      out = std::string(header) + ": " + quoted + " <" + box.address + ">";
      done = out.size() <= kFoldLimit;
    }
    if (!done) {
      auto tokens = encoded_words(box.name, kEncodedLineLimit - (header.size() + 2));
      tokens.push_back("<" + box.address + ">");
      out = fold_tokens(header, tokens, kEncodedLineLimit);
    }
  }
  AG_CHECK(check_line_lengths(out, field));
  return out;
}

Result<std::string> subject_header(std::string_view subject) {
  AG_CHECK(no_line_break(subject, "subject"));
  AG_CHECK(valid_utf8(subject, "subject"));
  if (subject.find_first_not_of(" \t") == std::string_view::npos) {
    return fail(ErrorCode::kInvalidArgument, "subject must not be empty");
  }
  if (printable_ascii(subject, true) && subject.find("=?") == std::string_view::npos) {
    size_t longest = 0;
    std::string plain = fold_unstructured("Subject", subject, &longest);
    if (longest <= kFoldLimit) return plain;
  }
  // Non-ASCII, something that looks like an encoded-word, or a word too long to fold: encode
  // the whole subject; words can be split anywhere and the space between them is ignored when
  // decoding (RFC 2047 §6.2).
  std::string out = fold_tokens("Subject", encoded_words(subject, kEncodedLineLimit - 9),
                                kEncodedLineLimit);
  AG_CHECK(check_line_lengths(out, "subject"));
  return out;
}

Result<void> check_message_id(std::string_view id) {
  AG_CHECK(no_line_break(id, "message_id"));
  auto bad = [&] {
    return fail(ErrorCode::kInvalidArgument,
                "message_id must look like <left@right> (printable ASCII, one '@')");
  };
  if (id.size() < 5 || id.front() != '<' || id.back() != '>') return bad();
  std::string_view inner = id.substr(1, id.size() - 2);
  size_t at = inner.find('@');
  if (at == 0 || at == std::string_view::npos || at + 1 == inner.size() ||
      inner.find('@', at + 1) != std::string_view::npos) {
    return bad();
  }
  for (char c : inner) {
    auto b = static_cast<unsigned char>(c);
    if (b < 33 || b > 126 || std::string_view("<>\"\\,;:()[]").find(c) != std::string_view::npos) {
      return bad();
    }
  }
  return {};
}

// A URI to sit inside <…> in List-Unsubscribe: printable ASCII without the characters that end
// or split the list.
bool plain_uri_chars(std::string_view s) {
  for (char c : s) {
    auto b = static_cast<unsigned char>(c);
    if (b < 33 || b > 126 || c == '<' || c == '>' || c == ',' || c == '"') return false;
  }
  return true;
}

Result<std::string> list_unsubscribe_header(std::string_view url, std::string_view mailto) {
  AG_CHECK(no_line_break(url, "list_unsubscribe_url"));
  AG_CHECK(no_line_break(mailto, "list_unsubscribe_mailto"));
  constexpr std::string_view kHttps = "https://";
  if (url.size() <= kHttps.size() || url.substr(0, kHttps.size()) != kHttps ||
      url[kHttps.size()] == '/' || !plain_uri_chars(url)) {
    return fail(ErrorCode::kInvalidArgument,
                "list_unsubscribe_url must be an https:// URL without spaces, commas, quotes or "
                "angle brackets (RFC 8058)");
  }
  std::string out = "List-Unsubscribe: <" + std::string(url) + ">";
  if (!mailto.empty()) {
    constexpr std::string_view kMailto = "mailto:";
    std::string uri = ascii_lower(mailto.substr(0, std::min(mailto.size(), kMailto.size()))) ==
                              kMailto
                          ? std::string(mailto)
                          : std::string(kMailto) + std::string(mailto);
    std::string_view rest = std::string_view(uri).substr(kMailto.size());
    std::string_view address = rest.substr(0, rest.find('?'));
    AG_CHECK(check_address(address, "list_unsubscribe_mailto"));
    if (!plain_uri_chars(uri)) {
      return fail(ErrorCode::kInvalidArgument,
                  "list_unsubscribe_mailto contains spaces, commas, quotes or angle brackets");
    }
    out += ", <" + uri + ">";
  }
  // Never folded (see the header comment); so it must fit one line.
  if (out.size() > kHardLineLimit) {
    return fail(ErrorCode::kInvalidArgument,
                "list_unsubscribe_url is too long for one header line (998 octets)");
  }
  return out;
}

bool reserved_header(std::string_view name) {
  static constexpr std::array<std::string_view, 14> kReserved = {
      "date",         "from",         "to",
      "cc",           "bcc",          "reply-to",
      "subject",      "message-id",   "mime-version",
      "content-type", "content-transfer-encoding", "list-unsubscribe",
      "list-unsubscribe-post", "sender"};
  std::string lower = ascii_lower(name);
  if (lower.starts_with("content-")) return true;
  for (auto r : kReserved) {
    if (lower == r) return true;
  }
  return false;
}

Result<std::string> extra_header(const HeaderField& h, size_t index) {
  std::string field = "extra_headers[" + std::to_string(index) + "]";
  AG_CHECK(no_line_break(h.name, field + ".name"));
  AG_CHECK(no_line_break(h.value, field + ".value"));
  if (h.name.empty() || !printable_ascii(h.name, false) ||
      h.name.find(':') != std::string::npos) {
    return fail(ErrorCode::kInvalidArgument,
                field + ".name must be printable ASCII without spaces or ':'");
  }
  if (reserved_header(h.name)) {
    return fail(ErrorCode::kInvalidArgument,
                field + ".name '" + h.name + "' is a header the message builder writes itself");
  }
  if (!printable_ascii(h.value, true)) {
    return fail(ErrorCode::kInvalidArgument, field + ".value must be printable ASCII");
  }
  size_t longest = 0;
  std::string out = fold_unstructured(h.name, h.value, &longest);
  AG_CHECK(check_line_lengths(out, field));
  return out;
}

std::string hex2(unsigned char b) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  return {'=', kHex[b >> 4], kHex[b & 0x0F]};
}

}  // namespace

Result<void> check_address(std::string_view address, std::string_view field) {
  if (has_line_break(address)) {
    return fail(ErrorCode::kInvalidArgument,
                std::string(field) + " contains a line break or NUL (header injection)");
  }
  size_t at = address.find('@');
  bool ok = at != std::string_view::npos && at > 0 && at + 1 < address.size() &&
            address.find('@', at + 1) == std::string_view::npos;
  for (char c : address) {
    auto b = static_cast<unsigned char>(c);
    if (b < 33 || b > 126 || std::string_view("<>,;:\"()[]\\").find(c) != std::string_view::npos) {
      ok = false;
    }
  }
  if (!ok) {
    return fail(ErrorCode::kInvalidArgument,
                std::string(field) + " is not a plausible email address");
  }
  return {};
}

std::string format_rfc5322_date(int64_t ms_since_epoch) {
  using namespace std::chrono;
  sys_time<milliseconds> t{milliseconds{ms_since_epoch}};
  auto day = floor<days>(t);
  year_month_day ymd{day};
  weekday wd{day};
  hh_mm_ss<seconds> tod{floor<seconds>(t - day)};
  static constexpr std::array<const char*, 7> kDays = {"Sun", "Mon", "Tue", "Wed",
                                                       "Thu", "Fri", "Sat"};
  static constexpr std::array<const char*, 12> kMonths = {
      "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s, %02u %s %04d %02d:%02d:%02d +0000",
                kDays[wd.c_encoding()], static_cast<unsigned>(ymd.day()),
                kMonths[static_cast<unsigned>(ymd.month()) - 1], static_cast<int>(ymd.year()),
                static_cast<int>(tod.hours().count()), static_cast<int>(tod.minutes().count()),
                static_cast<int>(tod.seconds().count()));
  return buf;
}

std::string encode_quoted_printable(std::string_view text) {
  // RFC 2045 §6.7 rule 5: encoded lines are at most 76 characters; a soft break takes one.
  constexpr size_t kMaxLine = 76;
  std::string out;
  out.reserve(text.size() * 11 / 10 + 16);
  size_t i = 0;
  bool first_line = true;
  while (true) {
    size_t end = text.find_first_of("\r\n", i);
    std::string_view line = text.substr(i, end == std::string_view::npos ? text.npos : end - i);
    if (!first_line) out += kCrlf;
    first_line = false;
    size_t col = 0;
    for (size_t k = 0; k < line.size(); ++k) {
      auto b = static_cast<unsigned char>(line[k]);
      bool last = k + 1 == line.size();
      std::string token;
      if (b == ' ' || b == '\t') {
        token = last ? hex2(b) : std::string(1, static_cast<char>(b));  // rule 3
      } else if (b >= 33 && b <= 126 && b != '=') {
        token = std::string(1, static_cast<char>(b));
      } else {
        token = hex2(b);
      }
      // The last token of a line may use the 76th column; any other needs room for the '='.
      size_t room = last ? kMaxLine : kMaxLine - 1;
      if (col + token.size() > room) {
        out += "=\r\n";
        col = 0;
      }
      out += token;
      col += token.size();
    }
    if (end == std::string_view::npos) break;
    i = end + ((text[end] == '\r' && end + 1 < text.size() && text[end + 1] == '\n') ? 2 : 1);
  }
  return out;
}

std::string mime_boundary_for(std::string_view message_id) {
  return "=_ag_" + crypto::to_hex(crypto::sha256(message_id).substr(0, 12));
}

Result<std::string> build_mime_message(const MimeMessageInput& in) {
  AG_CHECK(check_message_id(in.message_id));
  AG_CHECK(valid_utf8(in.text_body, "text_body"));
  AG_CHECK(valid_utf8(in.html_body, "html_body"));

  std::vector<std::string> headers;
  headers.push_back("Date: " + format_rfc5322_date(in.date_ms));
  headers.push_back(AG_TRY(mailbox_header("From", in.from, "from")));
  headers.push_back(AG_TRY(mailbox_header("To", in.to, "to")));
  if (!in.reply_to.address.empty() || !in.reply_to.name.empty()) {
    headers.push_back(AG_TRY(mailbox_header("Reply-To", in.reply_to, "reply_to")));
  }
  headers.push_back(AG_TRY(subject_header(in.subject)));
  headers.push_back("Message-ID: " + in.message_id);
  headers.push_back("MIME-Version: 1.0");
  headers.push_back(
      AG_TRY(list_unsubscribe_header(in.list_unsubscribe_url, in.list_unsubscribe_mailto)));
  headers.push_back("List-Unsubscribe-Post: List-Unsubscribe=One-Click");
  for (size_t k = 0; k < in.extra_headers.size(); ++k) {
    headers.push_back(AG_TRY(extra_header(in.extra_headers[k], k)));
  }
  std::string boundary = mime_boundary_for(in.message_id);
  // The boundary contains '=', a tspecial, so the parameter is quoted (RFC 2045 §5.1).
  headers.push_back("Content-Type: multipart/alternative; boundary=\"" + boundary + "\"");

  std::string out;
  out.reserve(in.text_body.size() + in.html_body.size() * 11 / 10 + 2048);
  for (const auto& h : headers) {
    out += h;
    out += kCrlf;
  }
  out += kCrlf;
  auto part = [&](std::string_view type, std::string_view body) {
    out += "--" + boundary + "\r\n";
    out += "Content-Type: " + std::string(type) + "; charset=UTF-8\r\n";
    out += "Content-Transfer-Encoding: quoted-printable\r\n\r\n";
    out += encode_quoted_printable(body);
    out += kCrlf;  // belongs to the following delimiter (RFC 2046 §5.1.1)
  };
  part("text/plain", in.text_body);
  part("text/html", in.html_body);
  out += "--" + boundary + "--\r\n";
  return out;
}

}  // namespace afterglow::email
