// Tracking tokens: what they name is signed, kinds do not mix, rotation keeps old links working,
// and anything altered is refused.
#include "email/tracking_token.h"

#include <catch2/catch.hpp>

#include "plugin/core/crypto.h"

using namespace afterglow;
using namespace afterglow::email;

namespace {

const std::string kKey = tracking_key("current app secret");
const std::string kOldKey = tracking_key("previous app secret");

}  // namespace

TEST_CASE("a click token reads back its message and link index", "[tracking]") {
  for (int64_t id : {int64_t{1}, int64_t{127}, int64_t{128}, int64_t{9'000'000'000'000}}) {
    for (int index : {0, 5, 300}) {
      std::string token = make_tracking_token(kKey, {TrackingKind::kClick, id, index});
      auto claims = read_tracking_token({kKey}, token, TrackingKind::kClick);
      REQUIRE(claims);
      CHECK(claims->kind == TrackingKind::kClick);
      CHECK(claims->message_id == id);
      CHECK(claims->link_index == index);
      CHECK(token.size() <= 40);
      CHECK(token.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                    "0123456789-_") == std::string::npos);
    }
  }
}

TEST_CASE("a token of one kind is refused as another", "[tracking]") {
  std::string open = make_tracking_token(kKey, {TrackingKind::kOpen, 42, 0});
  std::string unsubscribe = make_tracking_token(kKey, {TrackingKind::kUnsubscribe, 42, 0});
  std::string click = make_tracking_token(kKey, {TrackingKind::kClick, 42, 0});
  CHECK(read_tracking_token({kKey}, open, TrackingKind::kOpen));
  CHECK_FALSE(read_tracking_token({kKey}, open, TrackingKind::kClick));
  CHECK_FALSE(read_tracking_token({kKey}, open, TrackingKind::kUnsubscribe));
  CHECK(read_tracking_token({kKey}, unsubscribe, TrackingKind::kUnsubscribe));
  CHECK_FALSE(read_tracking_token({kKey}, unsubscribe, TrackingKind::kOpen));
  CHECK_FALSE(read_tracking_token({kKey}, click, TrackingKind::kUnsubscribe));
  auto claims = read_tracking_token({kKey}, unsubscribe, TrackingKind::kUnsubscribe);
  REQUIRE(claims);
  CHECK(claims->message_id == 42);
  CHECK(claims->link_index == 0);
}

TEST_CASE("a tampered token is refused", "[tracking]") {
  std::string token = make_tracking_token(kKey, {TrackingKind::kClick, 1001, 1});
  auto raw = crypto::base64url_decode(token);
  REQUIRE(raw);
  // Flip each byte in turn: payload (another message or link) and tag alike.
  for (size_t i = 0; i < raw->size(); ++i) {
    std::string altered = *raw;
    altered[i] = static_cast<char>(altered[i] ^ 0x01);
    CHECK_FALSE(
        read_tracking_token({kKey}, crypto::base64url_encode(altered), TrackingKind::kClick));
  }
  // A payload re-signed with a key we do not hold.
  std::string forged =
      make_tracking_token(tracking_key("attacker"), {TrackingKind::kClick, 1001, 1});
  CHECK_FALSE(read_tracking_token({kKey}, forged, TrackingKind::kClick));
  // Truncated, padded, empty, too long, not base64url.
  CHECK_FALSE(read_tracking_token({kKey}, token.substr(0, token.size() - 1), TrackingKind::kClick));
  CHECK_FALSE(read_tracking_token({kKey}, token + "A", TrackingKind::kClick));
  CHECK_FALSE(read_tracking_token({kKey}, "", TrackingKind::kClick));
  CHECK_FALSE(read_tracking_token({kKey}, std::string(200, 'A'), TrackingKind::kClick));
  CHECK_FALSE(read_tracking_token({kKey}, token + "=", TrackingKind::kClick));
  CHECK_FALSE(read_tracking_token({kKey}, "not a token!", TrackingKind::kClick));
}

TEST_CASE("tokens signed with the previous secret still verify during a rotation", "[tracking]") {
  std::string old_token = make_tracking_token(kOldKey, {TrackingKind::kUnsubscribe, 7, 0});
  CHECK(read_tracking_token({kKey, kOldKey}, old_token, TrackingKind::kUnsubscribe));
  CHECK_FALSE(read_tracking_token({kKey}, old_token, TrackingKind::kUnsubscribe));
  // An unset previous secret is an empty key, never one that verifies anything.
  CHECK_FALSE(read_tracking_token({kKey, ""}, old_token, TrackingKind::kUnsubscribe));
  CHECK_FALSE(read_tracking_token({""}, make_tracking_token("", {TrackingKind::kOpen, 7, 0}),
                                  TrackingKind::kOpen));
}

TEST_CASE("invalid claims never produce a token that verifies", "[tracking]") {
  CHECK_FALSE(read_tracking_token({kKey}, make_tracking_token(kKey, {TrackingKind::kOpen, 0, 0}),
                                  TrackingKind::kOpen));
  CHECK_FALSE(read_tracking_token({kKey}, make_tracking_token(kKey, {TrackingKind::kOpen, -5, 0}),
                                  TrackingKind::kOpen));
  CHECK_FALSE(read_tracking_token({kKey}, make_tracking_token(kKey, {TrackingKind::kClick, 5, -1}),
                                  TrackingKind::kClick));
}

TEST_CASE("the key is derived from the secret and differs from it", "[tracking]") {
  CHECK(kKey.size() == 32);
  CHECK(kKey != kOldKey);
  CHECK(kKey == crypto::hmac_sha256("current app secret", "afterglow tracking v1"));
}

TEST_CASE("tracking URLs name the route of each kind", "[tracking]") {
  CHECK(tracking_url("https://app.example/", TrackingKind::kClick, "T") ==
        "https://app.example/t/c/T");
  CHECK(tracking_url("https://app.example", TrackingKind::kOpen, "T") ==
        "https://app.example/t/o/T.gif");
  CHECK(tracking_url("https://app.example", TrackingKind::kUnsubscribe, "T") ==
        "https://app.example/u/T");
}
