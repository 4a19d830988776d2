#include "plugin/core/token_cipher.h"

#include <openssl/evp.h>

#include "plugin/core/crypto.h"

namespace afterglow {
namespace {

constexpr size_t kNonce = 12, kTag = 16;
constexpr std::string_view kPrefix = "v1.";

const unsigned char* u(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

struct CtxDeleter {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};

}  // namespace

Result<TokenCipher> TokenCipher::from_base64_key(std::string_view key_base64) {
  auto key = crypto::base64_decode(key_base64);
  if (!key || key->size() != 32) {
    return fail(ErrorCode::kInvalidArgument,
                "TOKEN_ENCRYPTION_KEY must be the base64 of exactly 32 bytes "
                "(e.g. openssl rand -base64 32)");
  }
  return TokenCipher(std::move(*key));
}

std::string TokenCipher::seal(std::string_view plaintext, std::string_view aad) const {
  std::string nonce = crypto::random_bytes(kNonce);  // random 96-bit nonces: fine below 2^32 seals
  std::string out = nonce;
  out.resize(kNonce + plaintext.size() + kTag);
  std::unique_ptr<EVP_CIPHER_CTX, CtxDeleter> ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, u(key_), u(nonce));
  EVP_EncryptUpdate(ctx.get(), nullptr, &len, u(aad), static_cast<int>(aad.size()));
  auto* dst = reinterpret_cast<unsigned char*>(out.data()) + kNonce;
  EVP_EncryptUpdate(ctx.get(), dst, &len, u(plaintext), static_cast<int>(plaintext.size()));
  EVP_EncryptFinal_ex(ctx.get(), dst + len, &len);
  EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTag, dst + plaintext.size());
  return std::string(kPrefix) + crypto::base64_encode(out);
}

Result<std::string> TokenCipher::open(std::string_view sealed, std::string_view aad) const {
  if (sealed.substr(0, kPrefix.size()) != kPrefix) {
    return fail(ErrorCode::kInternal, "stored secret has an unknown format");
  }
  auto raw = crypto::base64_decode(sealed.substr(kPrefix.size()));
  if (!raw || raw->size() < kNonce + kTag) {
    return fail(ErrorCode::kInternal, "stored secret is corrupt");
  }
  size_t n = raw->size() - kNonce - kTag;
  std::string plain(n, '\0');
  std::unique_ptr<EVP_CIPHER_CTX, CtxDeleter> ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  const auto* in = reinterpret_cast<const unsigned char*>(raw->data());
  EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, u(key_), in);
  EVP_DecryptUpdate(ctx.get(), nullptr, &len, u(aad), static_cast<int>(aad.size()));
  EVP_DecryptUpdate(ctx.get(), reinterpret_cast<unsigned char*>(plain.data()), &len, in + kNonce,
                    static_cast<int>(n));
  std::string tag(raw->data() + kNonce + n, kTag);
  EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTag, tag.data());
  if (EVP_DecryptFinal_ex(ctx.get(), reinterpret_cast<unsigned char*>(plain.data()) + len, &len) !=
      1) {
    return fail(ErrorCode::kInternal,
                "stored secret does not decrypt: TOKEN_ENCRYPTION_KEY is not the key it was "
                "sealed with, or the value was altered");
  }
  return plain;
}

}  // namespace afterglow
