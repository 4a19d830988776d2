// plugin/core/oauth_query: the signed query of the install request and the OAuth callback
// (spec/shopify.md §1.2, §7.1 vectors), the timestamp check kept apart from the HMAC, shop and
// host validation, and the signed state cookie.
#include "plugin/core/oauth_query.h"

#include <catch2/catch.hpp>

#include "plugin/core/crypto.h"

namespace afterglow::oauth {
namespace {

using namespace std::chrono_literals;

constexpr const char* kVectorQuery =
    "code=0907a61c0c8d55e99db179b68161bc00&hmac="
    "700e2dadb827fcc8609e9d5ce208b2e9cdaab9df07390d2cbca10d7c328fc4bf&shop=some-shop."
    "myshopify.com&state=0.6784241404160823&timestamp=1337178173";

QueryParams parsed(std::string_view raw) {
  auto p = parse_query(raw);
  REQUIRE(p);
  return *p;
}

}  // namespace

TEST_CASE("the published OAuth vector verifies with secret hush (§7.1, with state)", "[oauth]") {
  QueryParams q = parsed(kVectorQuery);
  CHECK(signed_message(q) ==
        "code=0907a61c0c8d55e99db179b68161bc00&shop=some-shop.myshopify.com&state=0."
        "6784241404160823&timestamp=1337178173");
  CHECK(query_hmac(q, "hush") ==
        "700e2dadb827fcc8609e9d5ce208b2e9cdaab9df07390d2cbca10d7c328fc4bf");
  CHECK(verify_query_hmac(q, "hush"));
}

TEST_CASE("the published OAuth vector without state (§7.1)", "[oauth]") {
  QueryParams q = parsed(
      "code=0907a61c0c8d55e99db179b68161bc00&shop=some-shop.myshopify.com&timestamp=1337178173"
      "&hmac=4712bf92ffc2917d15a2f5a273e39f0116667419aa4b6ac0b3baaf26fa3c4d20");
  CHECK(query_hmac(q, "hush") ==
        "4712bf92ffc2917d15a2f5a273e39f0116667419aa4b6ac0b3baaf26fa3c4d20");
  CHECK(verify_query_hmac(q, "hush"));
}

TEST_CASE("a changed value, another secret or a missing hmac is refused as unauthenticated",
          "[oauth]") {
  QueryParams q = parsed(kVectorQuery);
  auto wrong_secret = verify_query_hmac(q, "hush2");
  REQUIRE_FALSE(wrong_secret);
  CHECK(wrong_secret.error().code == ErrorCode::kUnauthenticated);

  QueryParams tampered = parsed(kVectorQuery);
  for (auto& [k, v] : tampered) {
    if (k == "shop") v = "other-shop.myshopify.com";
  }
  CHECK_FALSE(verify_query_hmac(tampered, "hush"));

  QueryParams unsigned_q = parsed("shop=some-shop.myshopify.com&timestamp=1337178173");
  auto missing = verify_query_hmac(unsigned_q, "hush");
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code == ErrorCode::kUnauthenticated);
  CHECK(missing.error().message.find("missing") != std::string::npos);
}

TEST_CASE("the previous secret is accepted during a rotation; an upper-case hex hmac too",
          "[oauth]") {
  QueryParams q = parsed(kVectorQuery);
  CHECK(verify_query_hmac(q, "new-secret", "hush"));
  for (auto& [k, v] : q) {
    if (k == "hmac") {
      for (char& c : v) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
  }
  CHECK(verify_query_hmac(q, "hush"));
}

TEST_CASE("spaces are signed as %20, never '+', and reserved bytes are escaped", "[oauth]") {
  // Both spellings of a space in the request decode to the same value and sign the same way.
  QueryParams plus = parsed("shop=a.myshopify.com&note=hello+world&timestamp=1");
  QueryParams pct = parsed("shop=a.myshopify.com&note=hello%20world&timestamp=1");
  CHECK(signed_message(plus) == "note=hello%20world&shop=a.myshopify.com&timestamp=1");
  CHECK(signed_message(pct) == signed_message(plus));
  CHECK(signed_message(plus).find('+') == std::string::npos);
  // URLSearchParams keeps only letters, digits and *-._ ; '=', '&', '/', '~' are escaped.
  QueryParams odd = parsed("host=YWRtaW4%3D&x=a%26b%2Fc~d*e");
  CHECK(signed_message(odd) == "host=YWRtaW4%3D&x=a%26b%2Fc%7Ed*e");
  // A signature computed over the %20 form verifies.
  QueryParams signed_q = plus;
  signed_q.emplace_back("hmac",
                        crypto::to_hex(crypto::hmac_sha256(
                            "s3cret", "note=hello%20world&shop=a.myshopify.com&timestamp=1")));
  CHECK(verify_query_hmac(signed_q, "s3cret"));
}

TEST_CASE("keys are sorted, repeated keys joined with a comma, signature dropped", "[oauth]") {
  QueryParams q = parsed("b=2&a=1&ids=1&ids=2&signature=zzz&hmac=abc");
  CHECK(signed_message(q) == "a=1&b=2&ids=1%2C2");
}

TEST_CASE("a malformed %-escape is bad input", "[oauth]") {
  auto r = parse_query("shop=a%2");
  REQUIRE_FALSE(r);
  CHECK(r.error().code == ErrorCode::kInvalidArgument);
  CHECK_FALSE(parse_query("shop=%zz"));
  CHECK(parse_query("")->empty());
  CHECK(parsed("a&b=")[0] == std::make_pair(std::string("a"), std::string()));
}

TEST_CASE("the timestamp check is separate from the HMAC and allows 90 s either way", "[oauth]") {
  QueryParams q = parsed(kVectorQuery);
  ManualClock clock(1337178173LL * 1000);
  CHECK(check_timestamp(q, clock));
  clock.advance(90s);
  CHECK(check_timestamp(q, clock));
  clock.advance(1s);
  auto stale = check_timestamp(q, clock);
  REQUIRE_FALSE(stale);
  CHECK(stale.error().code == ErrorCode::kUnauthenticated);
  clock.set_ms((1337178173LL - 91) * 1000);  // from the future
  CHECK_FALSE(check_timestamp(q, clock));
  // The vector's signature stays valid whatever the clock says.
  CHECK(verify_query_hmac(q, "hush"));

  auto missing = check_timestamp(parsed("shop=a.myshopify.com"), clock);
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code == ErrorCode::kInvalidArgument);
  auto junk = check_timestamp(parsed("timestamp=12ab"), clock);
  REQUIRE_FALSE(junk);
  CHECK(junk.error().code == ErrorCode::kInvalidArgument);
}

TEST_CASE("shop domains: {name}.myshopify.com only, lower-cased", "[oauth]") {
  CHECK(sanitize_shop("some-shop.myshopify.com") == "some-shop.myshopify.com");
  CHECK(sanitize_shop("Some-Shop.MyShopify.com") == "some-shop.myshopify.com");
  CHECK(sanitize_shop("9lives.myshopify.com"));
  for (const char* bad :
       {"", ".myshopify.com", "-shop.myshopify.com", "shop.myshopify.com.evil.com",
        "evil.com/shop.myshopify.com", "shop.evil.com", "sho p.myshopify.com",
        "shop_.myshopify.com", "a.b.myshopify.com", "https://shop.myshopify.com",
        "shop.myshopify.com/", "admin.shopify.com/store/shop", "shop.myshopify.com\n"}) {
    INFO(bad);
    CHECK_FALSE(sanitize_shop(bad));
  }
  CHECK_FALSE(sanitize_shop(std::string(250, 'a') + ".myshopify.com"));
}

TEST_CASE("host: base64 of the admin location, admin.shopify.com or a myshopify domain",
          "[oauth]") {
  std::string admin = crypto::base64_encode("admin.shopify.com/store/glow");
  CHECK(decode_host(admin) == "admin.shopify.com/store/glow");
  std::string unpadded = admin;
  while (unpadded.back() == '=') unpadded.pop_back();
  CHECK(decode_host(unpadded) == "admin.shopify.com/store/glow");
  CHECK(decode_host(crypto::base64_encode("glow.myshopify.com/admin")) ==
        "glow.myshopify.com/admin");
  CHECK_FALSE(decode_host(crypto::base64_encode("evil.example.com/store/glow")));
  CHECK_FALSE(decode_host(crypto::base64_encode("admin.shopify.com.evil.com/x")));
  CHECK_FALSE(decode_host("not base64 !"));
  CHECK_FALSE(decode_host(""));
}

TEST_CASE("the state cookie opens for its shop until it expires, and nowhere else", "[oauth]") {
  ManualClock clock(1'700'000'000'000);
  const std::string nonce = new_state_nonce();
  CHECK(nonce.size() == 64);
  CHECK(new_state_nonce() != nonce);
  std::string value = sign_state_cookie("secret", "a.myshopify.com", nonce, clock.now_s() + 300);

  auto opened = open_state_cookie("secret", "a.myshopify.com", value, clock);
  REQUIRE(opened);
  CHECK(*opened == nonce);

  auto other_shop = open_state_cookie("secret", "b.myshopify.com", value, clock);
  REQUIRE_FALSE(other_shop);
  CHECK(other_shop.error().code == ErrorCode::kForbidden);
  CHECK_FALSE(open_state_cookie("other-secret", "a.myshopify.com", value, clock));
  // A forged nonce or a stretched expiry breaks the MAC.
  std::string forged = value;
  forged[0] = forged[0] == 'a' ? 'b' : 'a';
  CHECK_FALSE(open_state_cookie("secret", "a.myshopify.com", forged, clock));
  std::string stretched =
      nonce + "." + std::to_string(clock.now_s() + 99999) + value.substr(value.rfind('.'));
  CHECK_FALSE(open_state_cookie("secret", "a.myshopify.com", stretched, clock));
  CHECK_FALSE(open_state_cookie("secret", "a.myshopify.com", "", clock));
  CHECK_FALSE(open_state_cookie("secret", "a.myshopify.com", "x.y", clock));

  clock.advance(300s);
  CHECK_FALSE(open_state_cookie("secret", "a.myshopify.com", value, clock));
}

TEST_CASE("the state cookie is HttpOnly, Secure, SameSite=Lax and scoped to the callback",
          "[oauth]") {
  std::string set = state_set_cookie("v", kStateLifetime);
  CHECK(set.rfind(std::string(kStateCookieName) + "=v;", 0) == 0);
  CHECK(set.find("; HttpOnly") != std::string::npos);
  CHECK(set.find("; Secure") != std::string::npos);
  CHECK(set.find("; SameSite=Lax") != std::string::npos);
  CHECK(set.find("; Path=/auth/callback") != std::string::npos);
  CHECK(set.find("; Max-Age=300") != std::string::npos);
  CHECK(state_clear_cookie().find("Max-Age=0") != std::string::npos);

  CHECK(cookie_value("a=1; afterglow_oauth_state=abc.1.f; b=2", kStateCookieName) == "abc.1.f");
  CHECK(cookie_value("xafterglow_oauth_state=1", kStateCookieName) == std::nullopt);
  CHECK(cookie_value("", kStateCookieName) == std::nullopt);
}

}  // namespace afterglow::oauth
