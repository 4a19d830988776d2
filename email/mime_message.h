// The complete RFC 5322 message for one marketing email, as the SMTP sender uploads it through
// libcurl (CURLOPT_UPLOAD; libcurl dot-stuffs and adds the final "."): headers, then a
// multipart/alternative body with a text/plain part followed by a text/html part, both UTF-8
// quoted-printable. CRLF line endings throughout.
//
// Why we build the bytes ourselves rather than use curl_mime: the List-Unsubscribe headers must
// be covered by a DKIM signature (RFC 8058), and a signature is only reliable over bytes that no
// later step re-folds or re-encodes (spec/messaging.md §1.2, §3.2, §3.4). For the same reason
// List-Unsubscribe and List-Unsubscribe-Post are each written on ONE line, never folded
// (nodemailer#1654: a folded List-Unsubscribe broke a downstream signature).
//
// Output is deterministic: the same input gives the same bytes (the multipart boundary is derived
// from the message id, no randomness, no clock), so tests compare exact output and a retry sends
// what the first attempt sent.
//
// Header injection: a CR, LF or NUL in any header input (addresses, display names, subject,
// message id, URLs, extra header names and values) is refused with kInvalidArgument naming the
// field, never stripped. Pure functions without state; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "plugin/core/error.h"

namespace afterglow::email {

struct Mailbox {
  std::string name;     // display name, UTF-8, may be empty; non-ASCII goes out as RFC 2047 words
  std::string address;  // local@domain, ASCII (see check_address)
};

struct HeaderField {
  std::string name;   // e.g. "Feedback-ID", "X-Afterglow-Message"
  std::string value;  // printable ASCII
};

struct MimeMessageInput {
  Mailbox from;
  Mailbox to;
  Mailbox reply_to;        // optional: left out when reply_to.address is empty
  std::string subject;     // UTF-8, not empty
  int64_t date_ms = 0;     // milliseconds since the Unix epoch; written in UTC ("+0000")
  std::string message_id;  // "<left@right>", chosen by the caller (e.g. "<m123.abc@shop.example>")
  std::string text_body;   // UTF-8; line breaks (\n, \r\n or \r) go out as CRLF
  std::string html_body;   // UTF-8; likewise
  // RFC 8058 one-click: required, https://…; written as <url> first in List-Unsubscribe, with
  // List-Unsubscribe-Post: List-Unsubscribe=One-Click. Commas, '<', '>' and spaces are refused.
  std::string list_unsubscribe_url;
  // Optional: "mailto:unsub+TOKEN@bounce.example" or a bare address (then "mailto:" is added).
  std::string list_unsubscribe_mailto;
  // Written after the List-* headers, in order. Names are RFC 5322 field names (printable ASCII,
  // no ':'); the headers built here (Date, From, To, Cc, Bcc, Reply-To, Subject, Message-ID,
  // MIME-Version, Content-*, List-Unsubscribe*) cannot be given again. Values are printable ASCII
  // and are folded at spaces when longer than 78 characters.
  std::vector<HeaderField> extra_headers;
};

// Builds the message. Header order: Date, From, To, Reply-To, Subject, Message-ID, MIME-Version,
// List-Unsubscribe, List-Unsubscribe-Post, the extra headers, Content-Type. Fails with
// kInvalidArgument naming the field: a line break or NUL in a header input, an implausible
// address, a malformed message id, a non-https unsubscribe URL, text that is not UTF-8, an empty
// subject, a reserved or malformed extra header, or a header line that would exceed 998 octets.
Result<std::string> build_mime_message(const MimeMessageInput& input);

// A loose plausibility check, not RFC 5321 validation: exactly one '@' with text on both sides,
// printable ASCII only, no whitespace and none of < > , ; : " ( ) [ ] \. `field` names the input
// in the error message ("from.address").
Result<void> check_address(std::string_view address, std::string_view field);

// "Tue, 01 Jul 2025 14:30:00 +0000" (RFC 5322 §3.3, always UTC).
std::string format_rfc5322_date(int64_t ms_since_epoch);

// Quoted-printable for a text/* body (RFC 2045 §6.7): line breaks become CRLF hard breaks; '=',
// bytes outside printable ASCII and a space or tab at the end of a line are encoded (=3D, =C3=A9,
// =20); lines are at most 76 characters, longer ones broken with a soft break ("=" CRLF) that
// never splits an =XX triplet. A '.' at the start of a line is left alone: dot-stuffing is the
// SMTP layer's job (libcurl does it). The output never contains "=_", which is what keeps the
// boundary below out of the parts.
std::string encode_quoted_printable(std::string_view text);

// The multipart boundary used for a message id: "=_ag_" followed by 24 hex digits of its
// SHA-256. "=_" cannot occur in quoted-printable output, so the boundary cannot appear in a part.
std::string mime_boundary_for(std::string_view message_id);

}  // namespace afterglow::email
