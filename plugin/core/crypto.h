// Small cryptographic building blocks over OpenSSL: HMAC-SHA256/SHA1, encodings, constant-time
// comparison, random bytes. Every function is thread-safe and allocation-only (no global state).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace afterglow::crypto {

// Raw 32-byte HMAC-SHA256 of `message` under `key`.
std::string hmac_sha256(std::string_view key, std::string_view message);
// Raw 20-byte HMAC-SHA1 (Twilio's request signature).
std::string hmac_sha1(std::string_view key, std::string_view message);
// Raw 32-byte SHA-256.
std::string sha256(std::string_view data);

std::string to_hex(std::string_view bytes);                 // lowercase
std::optional<std::string> from_hex(std::string_view hex);  // nullopt on odd length or non-hex
std::string base64_encode(std::string_view bytes);          // standard alphabet, padded
// Strict decode of the standard alphabet with padding; nullopt on any malformed input, including
// a non-canonical text whose unused trailing bits are not zero.
std::optional<std::string> base64_decode(std::string_view text);
std::string base64url_encode(std::string_view bytes);       // no padding
// Strict decode of the URL-safe alphabet without padding ('=', '+', '/' are refused); the same
// canonical-bits rule as base64_decode.
std::optional<std::string> base64url_decode(std::string_view text);

// True when a and b are equal; time depends only on the lengths, not on the contents.
bool constant_time_equal(std::string_view a, std::string_view b);

// `n` bytes from OpenSSL's CSPRNG.
std::string random_bytes(size_t n);
// A random identifier of 2*n_bytes lowercase hex characters.
std::string random_hex(size_t n_bytes);

}  // namespace afterglow::crypto
