// webhooks/shopify_verifier and webhooks/stripe_verifier: the shopify.md §7.3 vectors, secret
// rotation, shop-domain validation, and Stripe-Signature parsing (stripe.md §4): tolerance from the
// injected clock, several v1 entries, no downgrade to v0.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "plugin/core/clock.h"
#include "plugin/core/crypto.h"
#include "webhooks/shopify_verifier.h"
#include "webhooks/stripe_verifier.h"

namespace afterglow::webhooks {
namespace {

using namespace std::chrono_literals;

constexpr std::string_view kShopifyBody = R"({"id":820982911946154508,"email":"jon@example.com"})";
constexpr std::string_view kShopifyHmac = "D0UMXmhjwBRi4y66TmhJrDlhQABD7zI2fm3p6/QLMo8=";
constexpr std::string_view kEmptyBodyHmac = "UFwgrGBPZilFtmKh8TqcovA78LGYb1BdWu9I4Q2oyRg=";

// Computed independently (Python hmac) over "1700000000." + body.
constexpr std::string_view kStripeSecret = "whsec_test_secret";
constexpr std::string_view kStripeBody =
    R"({"id":"evt_1","object":"event","type":"payment_intent.succeeded"})";
constexpr int64_t kStripeT = 1'700'000'000;
constexpr std::string_view kStripeV1 =
    "67da5088c63e080c71bd2bb0cb5c03d85a8fc6a21ce3aaf484df809654745b92";
constexpr std::string_view kStripeV1OldSecret =  // the same payload under "whsec_old_secret"
    "d68538c3431c25a11001054141750cd00f5ee519ed890f2d2816b9aa0f9c0586";

std::string header(std::string_view rest) { return "t=1700000000," + std::string(rest); }

// ---- Shopify ---------------------------------------------------------------------------------

TEST_CASE("shopify webhook: the 7.3 vectors verify and sign() reproduces them", "[signature]") {
  ShopifyVerifier v("hush");
  CHECK(v.verify(kShopifyBody, kShopifyHmac));
  CHECK(v.verify("{}", kEmptyBodyHmac));
  CHECK(ShopifyVerifier::sign("hush", kShopifyBody) == kShopifyHmac);
  CHECK(ShopifyVerifier::sign("hush", "{}") == kEmptyBodyHmac);
  // Each signature belongs to its own body.
  CHECK_FALSE(v.verify("{}", kShopifyHmac));
}

TEST_CASE("shopify webhook: a tampered body is refused", "[signature]") {
  ShopifyVerifier v("hush");
  CHECK_FALSE(v.verify(R"({"id":820982911946154509,"email":"jon@example.com"})", kShopifyHmac));
  CHECK_FALSE(v.verify(R"({"id":820982911946154508, "email":"jon@example.com"})", kShopifyHmac));
  CHECK_FALSE(v.verify(std::string(kShopifyBody) + "\n", kShopifyHmac));
  CHECK_FALSE(v.verify("", kShopifyHmac));
}

TEST_CASE("shopify webhook: a wrong secret is refused", "[signature]") {
  CHECK_FALSE(ShopifyVerifier("hush2").verify(kShopifyBody, kShopifyHmac));
  CHECK_FALSE(ShopifyVerifier("").verify(kShopifyBody, kShopifyHmac));
}

TEST_CASE("shopify webhook: during a rotation the previous secret is still accepted",
          "[signature]") {
  ShopifyVerifier rotating("new-secret", "hush");
  CHECK(rotating.verify(kShopifyBody, kShopifyHmac));  // signed with the old secret
  CHECK(rotating.verify(kShopifyBody, ShopifyVerifier::sign("new-secret", kShopifyBody)));
  CHECK_FALSE(rotating.verify(kShopifyBody, ShopifyVerifier::sign("third", kShopifyBody)));
  // Once the rotation is over, the old secret no longer works.
  CHECK_FALSE(ShopifyVerifier("new-secret").verify(kShopifyBody, kShopifyHmac));
}

TEST_CASE("shopify webhook: garbage in the HMAC header is refused", "[signature]") {
  ShopifyVerifier v("hush");
  const std::string good(kShopifyHmac);
  std::string url_alphabet = good;
  for (char& c : url_alphabet) c = c == '/' ? '_' : c == '+' ? '-' : c;
  const std::string hex_form = crypto::to_hex(crypto::hmac_sha256("hush", kShopifyBody));
  const std::string truncated = crypto::base64_encode(
      crypto::hmac_sha256("hush", kShopifyBody).substr(0, 31));  // valid base64, 31 bytes
  for (const std::string& bad :
       {std::string(), std::string("garbage"), std::string("not base64 at all!!"),
        good.substr(0, good.size() - 1), good + " ", " " + good, good + "\n", url_alphabet,
        hex_form, truncated, good + good}) {
    INFO(bad);
    CHECK_FALSE(v.verify(kShopifyBody, bad));
  }
}

TEST_CASE("shopify: valid_shop_domain accepts {name}.myshopify.com and nothing else",
          "[signature]") {
  for (const char* ok : {"shop-name.myshopify.com", "a.myshopify.com", "Shop1.myshopify.com",
                         "123.myshopify.com", "my-shop-2.myshopify.com"}) {
    INFO(ok);
    CHECK(valid_shop_domain(ok));
  }
  const std::string too_long = std::string(250, 'a') + ".myshopify.com";
  for (const std::string& bad : std::vector<std::string>{
           "", ".myshopify.com", "myshopify.com", "-shop.myshopify.com", "shop_name.myshopify.com",
        "shop.name.myshopify.com", "shop.myshopify.com.evil.com", "shop.evil.com",
        "https://shop.myshopify.com", "shop.myshopify.com/", "shop.myshopify.com:443",
        "shop .myshopify.com", "shop.myshopify.co", "evil.com/.myshopify.com",
        "shop%2e.myshopify.com", "shop\n.myshopify.com", too_long}) {
    INFO(bad);
    CHECK_FALSE(valid_shop_domain(bad));
  }
}

// ---- Stripe ----------------------------------------------------------------------------------

TEST_CASE("stripe signature: an independently computed v1 is valid", "[signature]") {
  ManualClock clock(kStripeT * 1000);
  StripeVerifier v(std::string(kStripeSecret), clock);
  CHECK(v.verify(kStripeBody, header("v1=" + std::string(kStripeV1))) ==
        StripeSignatureCheck::kValid);
  CHECK(StripeVerifier::sign(kStripeSecret, kStripeBody, kStripeT) ==
        header("v1=" + std::string(kStripeV1)));
  // The key is the whole "whsec_" string, not what follows the prefix.
  StripeVerifier stripped("test_secret", clock);
  CHECK(stripped.verify(kStripeBody, header("v1=" + std::string(kStripeV1))) ==
        StripeSignatureCheck::kMismatch);
}

TEST_CASE("stripe signature: a tampered body or a changed timestamp does not match",
          "[signature]") {
  ManualClock clock(kStripeT * 1000);
  StripeVerifier v(std::string(kStripeSecret), clock);
  const std::string v1 = "v1=" + std::string(kStripeV1);
  CHECK(v.verify(R"({"id":"evt_2","object":"event","type":"payment_intent.succeeded"})",
                 header(v1)) == StripeSignatureCheck::kMismatch);
  CHECK(v.verify(std::string(kStripeBody) + " ", header(v1)) == StripeSignatureCheck::kMismatch);
  // The timestamp is part of what is signed: moving it breaks the signature.
  CHECK(v.verify(kStripeBody, "t=1700000001," + v1) == StripeSignatureCheck::kMismatch);
}

TEST_CASE("stripe signature: a wrong secret does not match", "[signature]") {
  ManualClock clock(kStripeT * 1000);
  StripeVerifier v("whsec_other", clock);
  CHECK(v.verify(kStripeBody, header("v1=" + std::string(kStripeV1))) ==
        StripeSignatureCheck::kMismatch);
}

TEST_CASE("stripe signature: a timestamp beyond the 300 s tolerance is refused", "[signature]") {
  ManualClock clock(kStripeT * 1000);
  StripeVerifier v(std::string(kStripeSecret), clock);
  const std::string h = header("v1=" + std::string(kStripeV1));
  clock.advance(300s);
  CHECK(v.verify(kStripeBody, h) == StripeSignatureCheck::kValid);
  clock.advance(1s);
  CHECK(v.verify(kStripeBody, h) == StripeSignatureCheck::kTooOld);
  clock.advance(24h);
  CHECK(v.verify(kStripeBody, h) == StripeSignatureCheck::kTooOld);
  // A timestamp far in the future is refused too, so a replayer cannot stretch the window.
  clock.set_ms((kStripeT - 301) * 1000);
  CHECK(v.verify(kStripeBody, h) == StripeSignatureCheck::kTooOld);
  // A custom tolerance is honoured.
  clock.set_ms((kStripeT + 60) * 1000);
  StripeVerifier tight(std::string(kStripeSecret), clock, 30);
  CHECK(tight.verify(kStripeBody, h) == StripeSignatureCheck::kTooOld);
}

TEST_CASE("stripe signature: extreme timestamps are refused, not overflowed", "[signature]") {
  ManualClock clock(kStripeT * 1000);
  StripeVerifier v(std::string(kStripeSecret), clock);
  for (const char* t : {"-9223372036854775808", "9223372036854775807", "-1", "0"}) {
    INFO(t);
    CHECK(v.verify(kStripeBody, std::string("t=") + t + ",v1=" + std::string(kStripeV1)) ==
          StripeSignatureCheck::kTooOld);
  }
  CHECK(v.verify(kStripeBody, "t=99999999999999999999,v1=" + std::string(kStripeV1)) ==
        StripeSignatureCheck::kMalformed);
}

TEST_CASE("stripe signature: with several v1 entries, any one matching is enough",
          "[signature]") {
  ManualClock clock(kStripeT * 1000);
  StripeVerifier v(std::string(kStripeSecret), clock);
  const std::string right = "v1=" + std::string(kStripeV1);
  const std::string old = "v1=" + std::string(kStripeV1OldSecret);
  CHECK(v.verify(kStripeBody, header(old + "," + right)) == StripeSignatureCheck::kValid);
  CHECK(v.verify(kStripeBody, header(right + "," + old)) == StripeSignatureCheck::kValid);
  CHECK(v.verify(kStripeBody, header("v1=zz," + right)) == StripeSignatureCheck::kValid);
  CHECK(v.verify(kStripeBody, header(old + ",v1=" + std::string(64, '0'))) ==
        StripeSignatureCheck::kMismatch);
  // The test-mode v0 next to a real v1 is ignored.
  CHECK(v.verify(kStripeBody, header(right + ",v0=" + std::string(64, '0'))) ==
        StripeSignatureCheck::kValid);
}

TEST_CASE("stripe signature: a header with only v0 is refused even if v0 holds a valid HMAC",
          "[signature]") {
  ManualClock clock(kStripeT * 1000);
  StripeVerifier v(std::string(kStripeSecret), clock);
  CHECK(v.verify(kStripeBody, header("v0=" + std::string(kStripeV1))) ==
        StripeSignatureCheck::kMissing);
  CHECK(v.verify(kStripeBody, header("v2=" + std::string(kStripeV1))) ==
        StripeSignatureCheck::kMissing);
  CHECK(v.verify(kStripeBody, header("V1=" + std::string(kStripeV1))) ==
        StripeSignatureCheck::kMissing);
}

TEST_CASE("stripe signature: a missing t, or no header, is refused as missing", "[signature]") {
  ManualClock clock(kStripeT * 1000);
  StripeVerifier v(std::string(kStripeSecret), clock);
  CHECK(v.verify(kStripeBody, "v1=" + std::string(kStripeV1)) == StripeSignatureCheck::kMissing);
  CHECK(v.verify(kStripeBody, "t=,v1=" + std::string(kStripeV1)) ==
        StripeSignatureCheck::kMissing);
  CHECK(v.verify(kStripeBody, "") == StripeSignatureCheck::kMissing);
  CHECK(v.verify(kStripeBody, "t=1700000000") == StripeSignatureCheck::kMissing);
  CHECK(v.verify(kStripeBody, ",,,") == StripeSignatureCheck::kMissing);
}

TEST_CASE("stripe signature: a t that is not a whole number is malformed", "[signature]") {
  ManualClock clock(kStripeT * 1000);
  StripeVerifier v(std::string(kStripeSecret), clock);
  const std::string v1 = ",v1=" + std::string(kStripeV1);
  for (const char* t : {"abc", "1700000000.5", "1700000000abc", "+1700000000", "0x6553F100",
                        "1700000000 "}) {
    INFO(t);
    CHECK(v.verify(kStripeBody, std::string("t=") + t + v1) == StripeSignatureCheck::kMalformed);
  }
}

TEST_CASE("stripe signature: spaces after the commas are tolerated", "[signature]") {
  ManualClock clock(kStripeT * 1000);
  StripeVerifier v(std::string(kStripeSecret), clock);
  const std::string v1 = "v1=" + std::string(kStripeV1);
  const std::string old = "v1=" + std::string(kStripeV1OldSecret);
  CHECK(v.verify(kStripeBody, "t=1700000000, " + v1) == StripeSignatureCheck::kValid);
  CHECK(v.verify(kStripeBody, "t=1700000000,  " + old + ", " + v1) ==
        StripeSignatureCheck::kValid);
  // Spaces do not make a wrong signature right.
  CHECK(v.verify(kStripeBody, "t=1700000000, " + old) == StripeSignatureCheck::kMismatch);
}

TEST_CASE("stripe signature: every outcome has a description", "[signature]") {
  for (auto c : {StripeSignatureCheck::kValid, StripeSignatureCheck::kMissing,
                 StripeSignatureCheck::kMalformed, StripeSignatureCheck::kTooOld,
                 StripeSignatureCheck::kMismatch}) {
    CHECK(std::string(describe(c)).size() > 4);
  }
  CHECK(std::string(describe(StripeSignatureCheck::kTooOld)) !=
        describe(StripeSignatureCheck::kMismatch));
}

}  // namespace
}  // namespace afterglow::webhooks
