#include "email/mime_parse.h"

#include <optional>

#include "plugin/core/crypto.h"

namespace afterglow::email {
namespace {

constexpr std::string_view kCrlf = "\r\n";

std::string ascii_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && ascii_lower(a) == ascii_lower(b);
}

bool is_wsp(char c) { return c == ' ' || c == '\t'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_wsp(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_wsp(s.back())) s.remove_suffix(1);
  return s;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

Result<void> check_crlf(std::string_view raw) {
  for (size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] == '\r') {
      if (i + 1 >= raw.size() || raw[i + 1] != '\n') {
        return fail(ErrorCode::kInvalidArgument, "bare CR at offset " + std::to_string(i));
      }
      ++i;
    } else if (raw[i] == '\n') {
      return fail(ErrorCode::kInvalidArgument, "bare LF at offset " + std::to_string(i));
    }
  }
  return {};
}

// The Content-Type value's parameters, split on ';' outside quoted strings.
std::vector<std::string> split_params(std::string_view value) {
  std::vector<std::string> out;
  std::string current;
  bool quoted = false;
  for (size_t i = 0; i < value.size(); ++i) {
    char c = value[i];
    if (quoted && c == '\\' && i + 1 < value.size()) {
      current += c;
      current += value[++i];
      continue;
    }
    if (c == '"') quoted = !quoted;
    if (c == ';' && !quoted) {
      out.push_back(current);
      current.clear();
    } else {
      current += c;
    }
  }
  out.push_back(current);
  return out;
}

std::string unquote(std::string_view s) {
  s = trim(s);
  if (s.size() < 2 || s.front() != '"' || s.back() != '"') return std::string(s);
  std::string out;
  for (size_t i = 1; i + 1 < s.size(); ++i) {
    if (s[i] == '\\' && i + 2 < s.size()) ++i;
    out += s[i];
  }
  return out;
}

Result<std::string> decode_q(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '_') {
      out += ' ';
    } else if (text[i] == '=') {
      if (i + 2 >= text.size()) {
        return fail(ErrorCode::kInvalidArgument, "truncated =XX in a Q encoded-word");
      }
      int hi = hex_value(text[i + 1]), lo = hex_value(text[i + 2]);
      if (hi < 0 || lo < 0) {
        return fail(ErrorCode::kInvalidArgument, "bad =XX in a Q encoded-word");
      }
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

struct EncodedWord {
  size_t length = 0;  // characters of the word in the input
  std::string charset;
  char encoding = 0;
  std::string_view text;
};

// Recognises "=?charset?B|Q?text?=" at `pos` (RFC 2047 §2); nullopt if it is not one.
std::optional<EncodedWord> match_word(std::string_view s, size_t pos) {
  if (s.substr(pos, 2) != "=?") return std::nullopt;
  size_t q1 = s.find('?', pos + 2);
  if (q1 == std::string_view::npos || q1 == pos + 2 || q1 + 2 >= s.size() || s[q1 + 2] != '?') {
    return std::nullopt;
  }
  char enc = s[q1 + 1];
  if (enc != 'B' && enc != 'b' && enc != 'Q' && enc != 'q') return std::nullopt;
  size_t text_begin = q1 + 3;
  size_t end = s.find("?=", text_begin);
  if (end == std::string_view::npos) return std::nullopt;
  std::string_view text = s.substr(text_begin, end - text_begin);
  std::string_view charset = s.substr(pos + 2, q1 - pos - 2);
  for (char c : text) {
    if (c == ' ' || c == '\t' || c == '?') return std::nullopt;
  }
  for (char c : charset) {
    if (c == ' ' || c == '\t') return std::nullopt;
  }
  EncodedWord w;
  w.length = end + 2 - pos;
  w.charset = ascii_lower(charset.substr(0, charset.find('*')));  // RFC 2231 language suffix
  w.encoding = static_cast<char>(enc == 'b' ? 'B' : enc == 'q' ? 'Q' : enc);
  w.text = text;
  return w;
}

}  // namespace

const ParsedHeader* ParsedEntity::find(std::string_view name) const {
  for (const auto& h : headers) {
    if (iequals(h.name, name)) return &h;
  }
  return nullptr;
}

size_t ParsedEntity::count(std::string_view name) const {
  size_t n = 0;
  for (const auto& h : headers) {
    if (iequals(h.name, name)) ++n;
  }
  return n;
}

std::string ParsedEntity::header(std::string_view name) const {
  const ParsedHeader* h = find(name);
  return h ? h->value : std::string();
}

std::string ParsedEntity::content_type() const {
  const ParsedHeader* h = find("Content-Type");
  if (!h) return "text/plain";
  auto params = split_params(h->value);
  return ascii_lower(trim(params.front()));
}

std::string ParsedEntity::content_type_param(std::string_view param) const {
  const ParsedHeader* h = find("Content-Type");
  if (!h) return "";
  auto params = split_params(h->value);
  for (size_t i = 1; i < params.size(); ++i) {
    std::string_view p = trim(params[i]);
    size_t eq = p.find('=');
    if (eq == std::string_view::npos) continue;
    if (iequals(trim(p.substr(0, eq)), param)) return unquote(p.substr(eq + 1));
  }
  return "";
}

Result<ParsedEntity> parse_mime(std::string_view raw) {
  AG_CHECK(check_crlf(raw));
  ParsedEntity entity;
  size_t pos = 0;
  // Header section: up to the first empty line (or the end, for a message without a body).
  while (pos < raw.size()) {
    size_t eol = raw.find(kCrlf, pos);
    if (eol == std::string_view::npos) eol = raw.size();
    std::string_view line = raw.substr(pos, eol - pos);
    size_t next = std::min(raw.size(), eol + kCrlf.size());
    if (line.empty()) {
      pos = next;
      entity.body = std::string(raw.substr(pos));
      break;
    }
    if (is_wsp(line.front())) {
      if (entity.headers.empty()) {
        return fail(ErrorCode::kInvalidArgument,
                    "continuation line before any header at offset " + std::to_string(pos));
      }
      if (trim(line).empty()) {
        return fail(ErrorCode::kInvalidArgument,
                    "whitespace-only continuation line at offset " + std::to_string(pos));
      }
      auto& h = entity.headers.back();
      h.raw += kCrlf;
      h.raw += line;
    } else {
      size_t colon = line.find(':');
      std::string_view name = colon == std::string_view::npos ? "" : line.substr(0, colon);
      bool name_ok = !name.empty();
      for (char c : name) {
        auto b = static_cast<unsigned char>(c);
        if (b < 33 || b > 126) name_ok = false;
      }
      if (!name_ok) {
        return fail(ErrorCode::kInvalidArgument,
                    "malformed header line at offset " + std::to_string(pos));
      }
      ParsedHeader h;
      h.name = std::string(name);
      h.raw = std::string(line);
      entity.headers.push_back(std::move(h));
    }
    pos = next;
  }
  for (auto& h : entity.headers) {
    std::string unfolded;
    for (size_t i = 0; i < h.raw.size(); ++i) {
      if (h.raw.compare(i, 2, kCrlf) == 0) {
        ++i;
        continue;
      }
      unfolded += h.raw[i];
    }
    h.value = std::string(trim(std::string_view(unfolded).substr(h.name.size() + 1)));
  }

  std::string type = entity.content_type();
  if (!type.starts_with("multipart/")) return entity;
  std::string boundary = entity.content_type_param("boundary");
  if (boundary.empty()) {
    return fail(ErrorCode::kInvalidArgument, type + " without a boundary parameter");
  }
  // Delimiter lines are "--boundary" (then optional whitespace) at the start of the body or right
  // after a CRLF; that CRLF belongs to the delimiter (RFC 2046 §5.1.1).
  std::string_view body = entity.body;
  std::string dash = "--" + boundary;
  std::optional<size_t> part_start;  // where the current part's content begins
  bool closed = false;
  size_t line_start = 0;
  while (line_start < body.size()) {
    size_t eol = body.find(kCrlf, line_start);
    if (eol == std::string_view::npos) eol = body.size();
    std::string_view line = body.substr(line_start, eol - line_start);
    if (line.starts_with(dash)) {
      std::string_view rest = line.substr(dash.size());
      bool closing = rest.starts_with("--");
      if (closing) rest.remove_prefix(2);
      if (trim(rest).empty()) {
        if (part_start) {
          size_t content_end = line_start >= 2 ? line_start - 2 : 0;
          if (content_end < *part_start) content_end = *part_start;
          auto sub = parse_mime(body.substr(*part_start, content_end - *part_start));
          if (!sub) {
            return fail(ErrorCode::kInvalidArgument,
                        "part " + std::to_string(entity.parts.size() + 1) + ": " +
                            sub.error().message);
          }
          entity.parts.push_back(std::move(*sub));
        }
        if (closing) {
          closed = true;
          break;
        }
        part_start = std::min(body.size(), eol + kCrlf.size());
      }
    }
    line_start = eol + kCrlf.size();
  }
  if (!closed) {
    return fail(ErrorCode::kInvalidArgument,
                "multipart body without its closing delimiter --" + boundary + "--");
  }
  return entity;
}

Result<std::string> decode_quoted_printable(std::string_view encoded) {
  std::string out;
  out.reserve(encoded.size());
  size_t pos = 0;
  while (true) {
    size_t eol = encoded.find(kCrlf, pos);
    bool last = eol == std::string_view::npos;
    std::string_view line = encoded.substr(pos, last ? encoded.npos : eol - pos);
    while (!line.empty() && is_wsp(line.back())) line.remove_suffix(1);  // transport padding
    bool soft = !line.empty() && line.back() == '=';
    if (soft) line.remove_suffix(1);
    for (size_t i = 0; i < line.size(); ++i) {
      if (line[i] != '=') {
        out += line[i];
        continue;
      }
      int hi = i + 2 < line.size() ? hex_value(line[i + 1]) : -1;
      int lo = i + 2 < line.size() ? hex_value(line[i + 2]) : -1;
      if (hi < 0 || lo < 0) {
        return fail(ErrorCode::kInvalidArgument,
                    "quoted-printable '=' without two hex digits at offset " +
                        std::to_string(pos + i));
      }
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    }
    if (last) break;
    if (!soft) out += kCrlf;
    pos = eol + kCrlf.size();
  }
  return out;
}

Result<std::string> decode_body(const ParsedEntity& entity) {
  std::string cte = ascii_lower(entity.header("Content-Transfer-Encoding"));
  if (cte == "quoted-printable") return decode_quoted_printable(entity.body);
  if (cte == "base64") {
    std::string compact;
    for (char c : entity.body) {
      if (c != '\r' && c != '\n' && c != ' ' && c != '\t') compact += c;
    }
    auto decoded = crypto::base64_decode(compact);
    if (!decoded) return fail(ErrorCode::kInvalidArgument, "malformed base64 body");
    return *decoded;
  }
  if (cte.empty() || cte == "7bit" || cte == "8bit" || cte == "binary") return entity.body;
  return fail(ErrorCode::kInvalidArgument, "unknown Content-Transfer-Encoding '" + cte + "'");
}

Result<std::string> decode_encoded_words(std::string_view value) {
  std::string out;
  size_t i = 0;
  bool previous_was_word = false;
  std::string pending_space;  // whitespace after a word, dropped if another word follows
  while (i < value.size()) {
    auto word = match_word(value, i);
    if (word) {
      if (!previous_was_word) out += pending_space;
      pending_space.clear();
      if (word->charset != "utf-8" && word->charset != "us-ascii") {
        return fail(ErrorCode::kInvalidArgument,
                    "unsupported charset '" + word->charset + "' in an encoded-word");
      }
      if (word->encoding == 'B') {
        auto decoded = crypto::base64_decode(word->text);
        if (!decoded) return fail(ErrorCode::kInvalidArgument, "malformed B encoded-word");
        out += *decoded;
      } else {
        out += AG_TRY(decode_q(word->text));
      }
      i += word->length;
      previous_was_word = true;
      continue;
    }
    if (is_wsp(value[i])) {
      pending_space += value[i];
      ++i;
      continue;
    }
    out += pending_space;
    pending_space.clear();
    previous_was_word = false;
    out += value[i];
    ++i;
  }
  out += pending_space;
  return out;
}

Result<ParsedMailbox> parse_mailbox(std::string_view value) {
  value = trim(value);
  ParsedMailbox box;
  size_t lt = value.rfind('<');
  if (lt == std::string_view::npos) {
    box.address = std::string(value);
  } else {
    size_t gt = value.find('>', lt);
    if (gt == std::string_view::npos || trim(value.substr(gt + 1)).size() != 0) {
      return fail(ErrorCode::kInvalidArgument, "mailbox with an unclosed <address>");
    }
    box.address = std::string(value.substr(lt + 1, gt - lt - 1));
    std::string_view name = trim(value.substr(0, lt));
    if (name.size() >= 2 && name.front() == '"' && name.back() == '"') {
      box.name = unquote(name);
    } else {
      box.name = AG_TRY(decode_encoded_words(name));
    }
  }
  if (box.address.find('@') == std::string::npos) {
    return fail(ErrorCode::kInvalidArgument, "mailbox without an address");
  }
  return box;
}

}  // namespace afterglow::email
