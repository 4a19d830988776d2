// Encryption of secrets at rest (shop access and refresh tokens, per-shop payment keys):
// AES-256-GCM with a key from TOKEN_ENCRYPTION_KEY (base64 of 32 bytes). The sealed form is
// text, "v1." + base64(nonce(12) | ciphertext | tag(16)), so it fits a TEXT column. The
// associated data binds a ciphertext to where it belongs (e.g. "shop:x.myshopify.com:access"),
// so a value copied to another row does not open. A wrong key fails loudly with an error that
// says so; it never yields garbage. Thread-safe.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "plugin/core/error.h"

namespace afterglow {

class TokenCipher {
 public:
  // `key_base64` must decode to exactly 32 bytes.
  static Result<TokenCipher> from_base64_key(std::string_view key_base64);

  std::string seal(std::string_view plaintext, std::string_view associated_data) const;
  // kInternal when the key is wrong or the value or its associated data were altered.
  Result<std::string> open(std::string_view sealed, std::string_view associated_data) const;

 private:
  explicit TokenCipher(std::string key) : key_(std::move(key)) {}
  std::string key_;
};

}  // namespace afterglow
