#include "email/tracking_token.h"

#include "plugin/core/crypto.h"

namespace afterglow::email {
namespace {

constexpr size_t kTagBytes = 16;
// The longest a valid token can be: 1 + 10 + 10 payload bytes and the tag, base64url (~50
// characters). Anything longer is refused before decoding.
constexpr size_t kMaxTokenChars = 64;
constexpr uint8_t kVersion = 1;

uint8_t kind_code(TrackingKind kind) {
  switch (kind) {
    case TrackingKind::kClick:
      return 1;
    case TrackingKind::kOpen:
      return 2;
    case TrackingKind::kUnsubscribe:
      return 3;
  }
  return 0;
}

void put_varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

// A minimal LEB128 varint at `pos`; nullopt when truncated, overlong or above INT64_MAX, so
// each claim has exactly one encoding.
std::optional<uint64_t> get_varint(std::string_view in, size_t& pos) {
  uint64_t v = 0;
  for (int shift = 0; shift < 63 && pos < in.size(); shift += 7) {
    auto byte = static_cast<uint8_t>(in[pos++]);
    v |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) {
      if (byte == 0 && shift > 0) return std::nullopt;  // overlong: a trailing zero group
      if (v > static_cast<uint64_t>(INT64_MAX)) return std::nullopt;
      return v;
    }
  }
  return std::nullopt;
}

std::string tag_of(std::string_view key, std::string_view payload) {
  return crypto::hmac_sha256(key, payload).substr(0, kTagBytes);
}

}  // namespace

std::string tracking_key(std::string_view app_secret) {
  return crypto::hmac_sha256(app_secret, "afterglow tracking v1");
}

std::string make_tracking_token(std::string_view key, const TrackingClaims& claims) {
  std::string payload;
  payload.push_back(static_cast<char>((kVersion << 4) | kind_code(claims.kind)));
  // A negative id or index is encoded as a huge varint that read_tracking_token refuses.
  put_varint(payload, static_cast<uint64_t>(claims.message_id));
  if (claims.kind == TrackingKind::kClick) {
    put_varint(payload, static_cast<uint64_t>(static_cast<int64_t>(claims.link_index)));
  }
  return crypto::base64url_encode(payload + tag_of(key, payload));
}

std::optional<TrackingClaims> read_tracking_token(const std::vector<std::string>& keys,
                                                  std::string_view token, TrackingKind expected) {
  if (token.empty() || token.size() > kMaxTokenChars) return std::nullopt;
  auto raw = crypto::base64url_decode(token);
  if (!raw || raw->size() < 1 + 1 + kTagBytes) return std::nullopt;
  std::string_view payload = std::string_view(*raw).substr(0, raw->size() - kTagBytes);
  std::string_view tag = std::string_view(*raw).substr(raw->size() - kTagBytes);

  bool verified = false;
  for (const std::string& key : keys) {
    if (key.empty()) continue;
    // Every key is tried (no early exit), so timing says nothing about which one matched.
    verified |= crypto::constant_time_equal(tag_of(key, payload), tag);
  }
  if (!verified) return std::nullopt;

  auto head = static_cast<uint8_t>(payload[0]);
  if ((head >> 4) != kVersion || (head & 0x0f) != kind_code(expected)) return std::nullopt;
  size_t pos = 1;
  auto message_id = get_varint(payload, pos);
  if (!message_id || *message_id == 0) return std::nullopt;
  TrackingClaims claims;
  claims.kind = expected;
  claims.message_id = static_cast<int64_t>(*message_id);
  if (expected == TrackingKind::kClick) {
    auto index = get_varint(payload, pos);
    if (!index || *index > static_cast<uint64_t>(INT32_MAX)) return std::nullopt;
    claims.link_index = static_cast<int>(*index);
  }
  if (pos != payload.size()) return std::nullopt;
  return claims;
}

std::string tracking_url(std::string_view app_url, TrackingKind kind, std::string_view token) {
  while (app_url.ends_with('/')) app_url.remove_suffix(1);
  std::string url(app_url);
  switch (kind) {
    case TrackingKind::kClick:
      url += "/t/c/";
      break;
    case TrackingKind::kOpen:
      url += "/t/o/";
      break;
    case TrackingKind::kUnsubscribe:
      url += "/u/";
      break;
  }
  url += token;
  if (kind == TrackingKind::kOpen) url += ".gif";
  return url;
}

}  // namespace afterglow::email
