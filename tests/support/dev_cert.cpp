#include "tests/support/dev_cert.h"

#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <cstdio>
#include <functional>
#include <memory>
#include <stdexcept>

namespace afterglow::testing {
namespace {

template <class T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using ExtPtr = std::unique_ptr<X509_EXTENSION, Deleter<X509_EXTENSION, X509_EXTENSION_free>>;

[[noreturn]] void die(const char* step) {
  throw std::runtime_error(std::string("dev certificate: ") + step + " failed");
}

void add_extension(X509* cert, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  ExtPtr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1) die(value);
}

void write_pem(const std::string& path, mode_t mode, const std::function<int(FILE*)>& write) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) die(("open " + path).c_str());
  chmod(path.c_str(), mode);
  int ok = write(f);
  if (std::fclose(f) != 0 || ok != 1) die(("write " + path).c_str());
}

}  // namespace

DevCertificate make_dev_certificate(const std::string& dir) {
  PkeyPtr key(EVP_EC_gen("P-256"));
  if (!key) die("P-256 key generation");

  X509Ptr cert(X509_new());
  if (!cert || X509_set_version(cert.get(), 2) != 1) die("X509_new");  // 2 = v3
  unsigned char serial[16];
  if (RAND_bytes(serial, sizeof serial) != 1) die("serial");
  serial[0] &= 0x7f;  // a positive serial
  std::unique_ptr<BIGNUM, Deleter<BIGNUM, BN_free>> bn(BN_bin2bn(serial, sizeof serial, nullptr));
  if (!bn || !BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert.get()))) die("serial");
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);  // tolerate small clock skew
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 24 * 3600);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("Afterglow tests"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  if (X509_set_pubkey(cert.get(), key.get()) != 1) die("X509_set_pubkey");
  // Self-signed and used as its own trust anchor, like `openssl req -x509` produces.
  add_extension(cert.get(), NID_basic_constraints, "critical,CA:TRUE");
  add_extension(cert.get(), NID_key_usage, "critical,digitalSignature,keyCertSign");
  add_extension(cert.get(), NID_ext_key_usage, "serverAuth");
  add_extension(cert.get(), NID_subject_key_identifier, "hash");
  add_extension(cert.get(), NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1,IP:::1");
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) die("X509_sign");

  DevCertificate out{dir + "/dev-cert.pem", dir + "/dev-key.pem"};
  write_pem(out.key_path, 0600, [&](FILE* f) {
    return PEM_write_PrivateKey(f, key.get(), nullptr, nullptr, 0, nullptr, nullptr);
  });
  write_pem(out.cert_path, 0644, [&](FILE* f) { return PEM_write_X509(f, cert.get()); });
  return out;
}

}  // namespace afterglow::testing
