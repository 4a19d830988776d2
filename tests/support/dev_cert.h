// A throw-away TLS identity for tests and benchmarks: a self-signed P-256 certificate for
// localhost and 127.0.0.1, valid from an hour ago for one day. Clients trust it by passing
// cert_path as their CA file (curl's CAINFO), so verification stays on.
#pragma once

#include <string>

namespace afterglow::testing {

struct DevCertificate {
  std::string cert_path;  // PEM certificate (also the CA file clients should trust)
  std::string key_path;   // PEM PKCS#8 private key, mode 0600
};

// Writes a fresh key and certificate into `dir` as dev-cert.pem and dev-key.pem. Uses OpenSSL's
// C API (no `openssl` binary needed). Throws std::runtime_error naming the step that failed.
DevCertificate make_dev_certificate(const std::string& dir);

}  // namespace afterglow::testing
