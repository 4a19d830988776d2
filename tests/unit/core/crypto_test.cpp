// plugin/core/crypto: HMAC against published vectors (shopify.md §7.1, §7.3, RFC 4231/2202),
// strict base64/base64url, hex, constant-time comparison.
#include "plugin/core/crypto.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <vector>

namespace afterglow::crypto {
namespace {

// Every byte value, so round trips cover the characters that differ between the alphabets.
std::string all_bytes(size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) out.push_back(static_cast<char>((i * 37 + 251) & 0xff));
  return out;
}

// shopify.md §1.2: drop hmac, sort the remaining pairs by key, join key=value with '&'.
std::string admin_hmac_message(std::string_view query) {
  std::vector<std::string> pairs;
  size_t pos = 0;
  while (pos <= query.size()) {
    size_t amp = query.find('&', pos);
    if (amp == std::string_view::npos) amp = query.size();
    std::string pair(query.substr(pos, amp - pos));
    if (pair.rfind("hmac=", 0) != 0) pairs.push_back(pair);
    pos = amp + 1;
  }
  std::sort(pairs.begin(), pairs.end());
  std::string out;
  for (const std::string& p : pairs) {
    if (!out.empty()) out += '&';
    out += p;
  }
  return out;
}

TEST_CASE("shopify 7.1: the OAuth query HMAC is hex HMAC-SHA256 over the sorted pairs without hmac",
          "[crypto]") {
  const std::string query =
      "code=0907a61c0c8d55e99db179b68161bc00&hmac="
      "700e2dadb827fcc8609e9d5ce208b2e9cdaab9df07390d2cbca10d7c328fc4bf"
      "&shop=some-shop.myshopify.com&state=0.6784241404160823&timestamp=1337178173";
  const std::string message = admin_hmac_message(query);
  REQUIRE(message ==
          "code=0907a61c0c8d55e99db179b68161bc00&shop=some-shop.myshopify.com"
          "&state=0.6784241404160823&timestamp=1337178173");
  CHECK(to_hex(hmac_sha256("hush", message)) ==
        "700e2dadb827fcc8609e9d5ce208b2e9cdaab9df07390d2cbca10d7c328fc4bf");
  CHECK(to_hex(hmac_sha256("hush", "code=0907a61c0c8d55e99db179b68161bc00"
                                   "&shop=some-shop.myshopify.com&timestamp=1337178173")) ==
        "4712bf92ffc2917d15a2f5a273e39f0116667419aa4b6ac0b3baaf26fa3c4d20");
  // The key matters: the same message under another secret does not give the vector.
  CHECK(to_hex(hmac_sha256("hush!", message)) !=
        "700e2dadb827fcc8609e9d5ce208b2e9cdaab9df07390d2cbca10d7c328fc4bf");
}

TEST_CASE("shopify 7.3: the webhook HMAC is base64 HMAC-SHA256 over the raw body", "[crypto]") {
  CHECK(base64_encode(hmac_sha256(
            "hush", R"({"id":820982911946154508,"email":"jon@example.com"})")) ==
        "D0UMXmhjwBRi4y66TmhJrDlhQABD7zI2fm3p6/QLMo8=");
  CHECK(base64_encode(hmac_sha256("hush", "{}")) ==
        "UFwgrGBPZilFtmKh8TqcovA78LGYb1BdWu9I4Q2oyRg=");
  // A trailing newline is a different body.
  CHECK(base64_encode(hmac_sha256("hush", "{}\n")) !=
        "UFwgrGBPZilFtmKh8TqcovA78LGYb1BdWu9I4Q2oyRg=");
}

TEST_CASE("HMAC-SHA256, HMAC-SHA1 and SHA-256 match the RFC vectors", "[crypto]") {
  // RFC 4231 test case 2 and RFC 2202 test case 2.
  CHECK(to_hex(hmac_sha256("Jefe", "what do ya want for nothing?")) ==
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  CHECK(to_hex(hmac_sha1("Jefe", "what do ya want for nothing?")) ==
        "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79");
  CHECK(to_hex(sha256("abc")) ==
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(hmac_sha256("k", "m").size() == 32);
  CHECK(hmac_sha1("k", "m").size() == 20);
}

TEST_CASE("base64 encodes the RFC 4648 vectors and decodes them back", "[crypto]") {
  const std::vector<std::pair<std::string, std::string>> vectors = {
      {"", ""},         {"f", "Zg=="},        {"fo", "Zm8="},       {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"}};
  for (const auto& [plain, encoded] : vectors) {
    CHECK(base64_encode(plain) == encoded);
    auto back = base64_decode(encoded);
    REQUIRE(back);
    CHECK(*back == plain);
  }
}

TEST_CASE("base64 and base64url round-trip every length and byte value", "[crypto]") {
  for (size_t n = 0; n <= 70; ++n) {
    const std::string bytes = all_bytes(n);
    auto std_back = base64_decode(base64_encode(bytes));
    REQUIRE(std_back);
    CHECK(*std_back == bytes);
    const std::string url = base64url_encode(bytes);
    CHECK(url.find_first_of("+/=") == std::string::npos);
    auto url_back = base64url_decode(url);
    REQUIRE(url_back);
    CHECK(*url_back == bytes);
  }
}

TEST_CASE("base64url uses - and _ and no padding", "[crypto]") {
  const std::string bytes("\xfb\xff", 2);
  CHECK(base64_encode(bytes) == "+/8=");
  CHECK(base64url_encode(bytes) == "-_8");
  CHECK(base64url_decode("-_8") == bytes);
}

TEST_CASE("base64 decode refuses bad padding, bad characters and stray bits", "[crypto]") {
  for (const char* bad : {
           "Zg",        // padding missing
           "Zg=",       // length not a multiple of 4
           "Z===",      // padding in the second place
           "=Zg=",      // padding first
           "Zg==Zg==",  // padding before the end
           "Zg=a",      // data after padding
           "Zm9v!A==",  // not in the alphabet
           "Zm 9",      // whitespace
           "Zm9v\n",    // newline
           "-_8=",      // URL alphabet in standard base64
           "Zh==",      // 'h' leaves non-zero bits below the last byte: not canonical
           "Zm9=",      // the same with one padding character
       }) {
    INFO(bad);
    CHECK_FALSE(base64_decode(bad));
  }
}

TEST_CASE("base64url decode refuses padding, the standard alphabet and stray bits", "[crypto]") {
  for (const char* bad : {
           "Zg==",  // padding
           "Zm8=",  // padding
           "+/8",   // standard alphabet
           "Z",     // a single character cannot encode a byte
           "Zm9vY",  // nor can 4k+1 characters
           "Zh",    // non-canonical last character
           "Zm9",   // non-canonical last character
           "Zm9v.", // dot
           "Zm 9v", // space
       }) {
    INFO(bad);
    CHECK_FALSE(base64url_decode(bad));
  }
  CHECK(base64url_decode("") == std::string());
  CHECK(base64url_decode("Zg") == std::string("f"));
  CHECK(base64url_decode("Zm8") == std::string("fo"));
}

TEST_CASE("hex encodes lowercase and decodes either case", "[crypto]") {
  CHECK(to_hex(std::string("\x00\xff\x10\xab", 4)) == "00ff10ab");
  CHECK(from_hex("00ff10ab") == std::string("\x00\xff\x10\xab", 4));
  CHECK(from_hex("00FF10AB") == std::string("\x00\xff\x10\xab", 4));
  CHECK(from_hex("") == std::string());
  CHECK_FALSE(from_hex("abc"));   // odd length
  CHECK_FALSE(from_hex("0g"));    // not hex
  CHECK_FALSE(from_hex(" 0"));    // whitespace
  const std::string bytes = all_bytes(256);
  CHECK(from_hex(to_hex(bytes)) == bytes);
}

TEST_CASE("constant_time_equal is true only for identical strings", "[crypto]") {
  CHECK(constant_time_equal("", ""));
  CHECK(constant_time_equal("secret", "secret"));
  CHECK_FALSE(constant_time_equal("secret", "secreT"));
  CHECK_FALSE(constant_time_equal("secret", "Secret"));
  CHECK_FALSE(constant_time_equal("secret", "secrets"));
  CHECK_FALSE(constant_time_equal("secret", ""));
  CHECK(constant_time_equal(std::string("a\0b", 3), std::string("a\0b", 3)));
  CHECK_FALSE(constant_time_equal(std::string("a\0b", 3), std::string("a\0c", 3)));
}

TEST_CASE("random_hex gives the requested length of lowercase hex and differs per call",
          "[crypto]") {
  const std::string a = random_hex(16), b = random_hex(16);
  CHECK(a.size() == 32);
  CHECK(a.find_first_not_of("0123456789abcdef") == std::string::npos);
  CHECK(a != b);
  CHECK(random_bytes(0).empty());
  CHECK(random_bytes(7).size() == 7);
}

}  // namespace
}  // namespace afterglow::crypto
