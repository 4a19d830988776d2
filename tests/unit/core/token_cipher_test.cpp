#include <catch2/catch.hpp>

#include "plugin/core/crypto.h"
#include "plugin/core/token_cipher.h"

using afterglow::ErrorCode;
using afterglow::TokenCipher;

namespace {
const std::string kKey = afterglow::crypto::base64_encode(std::string(32, '\x07'));
const std::string kOtherKey = afterglow::crypto::base64_encode(std::string(32, '\x08'));
}  // namespace

TEST_CASE("a sealed token opens with the same key and associated data", "[token_cipher]") {
  auto cipher = TokenCipher::from_base64_key(kKey);
  REQUIRE(cipher);
  std::string sealed = cipher->seal("shpat_secret_token", "shop:a.myshopify.com:access");
  CHECK(sealed.rfind("v1.", 0) == 0);
  CHECK(sealed.find("shpat_secret_token") == std::string::npos);
  auto opened = cipher->open(sealed, "shop:a.myshopify.com:access");
  REQUIRE(opened);
  CHECK(*opened == "shpat_secret_token");
}

TEST_CASE("sealing twice gives different ciphertexts (fresh nonce)", "[token_cipher]") {
  auto cipher = TokenCipher::from_base64_key(kKey);
  REQUIRE(cipher);
  CHECK(cipher->seal("x", "ad") != cipher->seal("x", "ad"));
}

TEST_CASE("a wrong key fails loudly instead of returning garbage", "[token_cipher]") {
  auto a = TokenCipher::from_base64_key(kKey);
  auto b = TokenCipher::from_base64_key(kOtherKey);
  REQUIRE(a);
  REQUIRE(b);
  auto opened = b->open(a->seal("token", "ad"), "ad");
  REQUIRE_FALSE(opened);
  CHECK(opened.error().code == ErrorCode::kInternal);
  CHECK(opened.error().message.find("TOKEN_ENCRYPTION_KEY") != std::string::npos);
}

TEST_CASE("a ciphertext moved to another row (other associated data) does not open",
          "[token_cipher]") {
  auto cipher = TokenCipher::from_base64_key(kKey);
  REQUIRE(cipher);
  std::string sealed = cipher->seal("token", "shop:a.myshopify.com:access");
  CHECK_FALSE(cipher->open(sealed, "shop:b.myshopify.com:access"));
}

TEST_CASE("a tampered ciphertext does not open", "[token_cipher]") {
  auto cipher = TokenCipher::from_base64_key(kKey);
  REQUIRE(cipher);
  std::string sealed = cipher->seal("token", "ad");
  auto raw = afterglow::crypto::base64_decode(sealed.substr(3));
  REQUIRE(raw);
  (*raw)[13] ^= 1;
  CHECK_FALSE(cipher->open("v1." + afterglow::crypto::base64_encode(*raw), "ad"));
  CHECK_FALSE(cipher->open("garbage", "ad"));
  CHECK_FALSE(cipher->open("v1.AAAA", "ad"));
}

TEST_CASE("the key must be the base64 of exactly 32 bytes", "[token_cipher]") {
  CHECK_FALSE(TokenCipher::from_base64_key(""));
  CHECK_FALSE(TokenCipher::from_base64_key("not base64!"));
  auto short_key = TokenCipher::from_base64_key(afterglow::crypto::base64_encode("short"));
  REQUIRE_FALSE(short_key);
  CHECK(short_key.error().message.find("TOKEN_ENCRYPTION_KEY") != std::string::npos);
}
