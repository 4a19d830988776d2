// The signed tokens in tracking and unsubscribe links: /t/c/TOKEN (a click on link N of a
// message), /t/o/TOKEN.gif (the open pixel) and /u/TOKEN (the preference centre and RFC 8058
// one-click unsubscribe). A token names a message, never a URL or an address: the click route
// redirects only to the destination recorded with the message at render time, and the
// unsubscribe route acts only on the message's own recipient (spec/messaging.md §1.2, §4).
//
// Format: base64url (no padding) of `payload || tag`, where payload is one version-and-kind
// byte, the message id as a minimal unsigned LEB128 varint and, for clicks only, the link index
// as another; tag is the first 16 bytes of HMAC-SHA256(key, payload). About 30 characters, so
// an SMS link stays short. The kind is inside the signed bytes: an open token is not a click or
// unsubscribe token.
//
// No expiry, on purpose: an unsubscribe link must keep working at least 30 days after the send
// (CAN-SPAM) and 60 days (CASL), and people unsubscribe from mail that is years old; a click on
// an old message should still reach the shop. What a token can do is bounded instead: it names
// one message, the routes record at most what that message's recipient could do themselves, and
// rotating the app secret (with the previous one kept until old mail no longer matters) is the
// way to retire tokens.
//
// Keys: tracking_key() derives a key from an app secret, so the tracking tag can never be
// confused with any other HMAC the app computes with the same secret (session tokens, offer
// tokens). Functions keep no state and are thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace afterglow::email {

enum class TrackingKind { kClick, kOpen, kUnsubscribe };

struct TrackingClaims {
  TrackingKind kind = TrackingKind::kClick;
  int64_t message_id = 0;  // messages.id, > 0
  int link_index = 0;      // clicks: the index into messages.links (>= 0); otherwise 0
};

// HMAC-SHA256(app_secret, "afterglow tracking v1"): 32 raw bytes. Derive one per app secret
// (APP_API_SECRET, then APP_API_SECRET_PREVIOUS during a rotation).
std::string tracking_key(std::string_view app_secret);

// The token for `claims` under `key` (normally tracking_key of the current secret). A
// non-click's link_index is not encoded (it reads back as 0). Claims with message_id <= 0 or a
// negative link_index are a programming error: the token is still produced but never verifies.
std::string make_tracking_token(std::string_view key, const TrackingClaims& claims);

// The claims of `token` when its tag verifies under one of `keys` (current first, then
// previous; empty keys are skipped) and it is of kind `expected`; nullopt otherwise (malformed,
// tampered, another kind, another key). Tags are compared in constant time.
std::optional<TrackingClaims> read_tracking_token(const std::vector<std::string>& keys,
                                                  std::string_view token, TrackingKind expected);

// The public URL for a token: {app_url}/t/c/TOKEN, {app_url}/t/o/TOKEN.gif or
// {app_url}/u/TOKEN (a trailing '/' of app_url is ignored). For the renderer.
std::string tracking_url(std::string_view app_url, TrackingKind kind, std::string_view token);

}  // namespace afterglow::email
