// A small, strict reader of RFC 5322 / MIME messages: enough to check what
// email/mime_message.h builds (tests, our own assertions, a captured SMTP upload), not a
// general-purpose mail parser. It splits headers from the body, unfolds header fields, decodes
// RFC 2047 encoded-words (UTF-8 or US-ASCII, B or Q) and quoted-printable or base64 bodies, and
// splits multipart bodies into their parts, recursively.
//
// Strict on purpose: every line must end in CRLF (a bare CR or LF is an error naming its offset),
// a header line needs a name and a ':', a multipart body needs its boundary and its closing
// delimiter, and a quoted-printable '=' must be followed by two hex digits or the line end.
// Unknown charsets in encoded-words are errors; text that is not an encoded-word is kept as is.
// Failures are kInvalidArgument. Pure functions without state; thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "plugin/core/error.h"

namespace afterglow::email {

struct ParsedHeader {
  std::string name;   // as written
  std::string value;  // unfolded (the CRLFs of folding removed), surrounding whitespace trimmed
  std::string raw;    // the field exactly as written, folding included, without its final CRLF
};

struct ParsedEntity {
  std::vector<ParsedHeader> headers;  // in order
  std::string body;                   // as written: still transfer-encoded, CRLF line ends
  std::vector<ParsedEntity> parts;    // multipart/*: its parts in order; otherwise empty

  // First field named `name` (case-insensitive), or nullptr.
  const ParsedHeader* find(std::string_view name) const;
  // How many fields are named `name`.
  size_t count(std::string_view name) const;
  // The unfolded value of the first field named `name`, or "" when there is none.
  std::string header(std::string_view name) const;
  // Lower-cased "type/subtype" from Content-Type; "text/plain" when there is none (RFC 2045).
  std::string content_type() const;
  // A Content-Type parameter (name case-insensitive, quotes and escapes removed), or "".
  std::string content_type_param(std::string_view param) const;
};

// Parses a whole message (or one MIME part: headers, blank line, body).
Result<ParsedEntity> parse_mime(std::string_view raw);

// The entity's body decoded by its Content-Transfer-Encoding (quoted-printable, base64; 7bit,
// 8bit, binary and none as they are). Line ends stay CRLF.
Result<std::string> decode_body(const ParsedEntity& entity);

// Quoted-printable (RFC 2045 §6.7): soft breaks removed, =XX decoded (either case), whitespace
// at the end of an encoded line dropped as transport padding (rule 3).
Result<std::string> decode_quoted_printable(std::string_view encoded);

// A header value with its RFC 2047 encoded-words decoded; whitespace between two adjacent
// encoded-words is dropped (§6.2).
Result<std::string> decode_encoded_words(std::string_view value);

struct ParsedMailbox {
  std::string name;     // decoded display name ("" when none)
  std::string address;  // what is inside <…>, or the whole value without a display name
};

// Reads `"Name" <a@b>`, `=?UTF-8?B?…?= <a@b>` or `a@b` (one mailbox, unfolded value).
Result<ParsedMailbox> parse_mailbox(std::string_view value);

}  // namespace afterglow::email
