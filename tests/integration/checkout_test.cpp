// The /checkout surface against the real binary over HTTPS (checkout/checkout_routes.h): the
// post-purchase page from offers to a signed changeset, the refusal of every forged, tampered,
// expired, foreign or reused token, CORS on every answer, and the merchant's "why no offer"
// diagnostics for the Thank-you page. (Charging through Stripe is covered by the one-click
// tests; nothing here reaches Stripe.)
#include <catch2/catch.hpp>
#include <chrono>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "checkout/offer_token.h"
#include "plugin/core/catalog.h"
#include "plugin/core/clock.h"
#include "plugin/core/crypto.h"
#include "plugin/core/jwt.h"
#include "plugin/core/time_format.h"
#include "tests/support/admin_session.h"
#include "tests/support/sandbox.h"
#include "tests/support/shopify_payloads.h"
#include "tests/support/test_db.h"

using namespace afterglow;
using namespace afterglow::testing;
using nlohmann::json;

namespace {

constexpr const char* kShop = "glow-goods.myshopify.com";
constexpr const char* kOtherShop = "other-goods.myshopify.com";
constexpr const char* kReference = "pp-ref-4d1c";
constexpr const char* kAccount = "acct_1GlowGoods";
constexpr int64_t kProduct = 7001;       // the offered socks
constexpr int64_t kVariant = 7101;
constexpr int64_t kSampleProduct = 7002;  // the downsell
constexpr int64_t kSampleVariant = 7102;
constexpr int64_t kOrderId = 820982911946154508;  // shopify_payloads' default order
constexpr int64_t kBoughtProduct = 632910392;     // what that order contains
constexpr int64_t kBoughtVariant = 808950810;

json body_of(const HttpResponse& r) {
  INFO(r.status << " " << r.body << " " << r.error);
  return json::parse(r.body);
}

std::string error_code(const HttpResponse& r) { return body_of(r)["error"]["code"].get<std::string>(); }

std::string b64url(std::string_view s) { return crypto::base64url_encode(s); }

// The payload segment of a JWT, decoded.
json jwt_payload(const std::string& token) {
  size_t a = token.find('.'), b = token.rfind('.');
  auto text = crypto::base64url_decode(token.substr(a + 1, b - a - 1));
  REQUIRE(text);
  return json::parse(*text);
}

// Shopify's inputData for the post-purchase page, and its token as Shopify signs it (§3.2).
json input_data(const std::string& shop, const std::string& reference) {
  json money{{"shopMoney", {{"amount", "209.00"}, {"currencyCode", "USD"}}},
             {"presentmentMoney", {{"amount", "209.00"}, {"currencyCode", "USD"}}}};
  return json{{"extensionPoint", "Checkout::PostPurchase::Render"},
              {"initialPurchase",
               {{"referenceId", reference},
                {"customerId", 115310627314723954},
                {"destinationCountryCode", "US"},
                {"totalPriceSet", money},
                {"lineItems",
                 {{{"product",
                    {{"id", kBoughtProduct},
                     {"title", "IPod Nano - 8GB"},
                     {"variant", {{"id", kBoughtVariant}, {"title", "Pink"}}}}},
                   {"quantity", 1},
                   {"totalPriceSet", money}}}}}},
              {"shop", {{"id", 954889}, {"domain", shop}}},
              {"locale", "en"},
              {"version", "unstable"}};
}

json input_claims(const std::string& shop = kShop, const std::string& reference = kReference) {
  return json{{"iss", "shopify"},
              {"sub", reference},
              {"iat", unix_now()},
              {"input_data", input_data(shop, reference)}};
}

// The thank-you block's session token (§4): dest is the bare shop host.
json session_claims(const std::string& shop = kShop) {
  int64_t now = unix_now();
  return json{{"dest", shop},      {"aud", kTestApiKey}, {"exp", now + 300},
              {"nbf", now - 1},    {"iat", now - 1},     {"jti", crypto::random_hex(16)}};
}

Headers json_headers() { return {{"Content-Type", "application/json"}}; }

// An app with an installed shop, a synced catalogue (socks at 10.00, compare-at 12.00), a stored
// order with a recent created_at, and offers made through the admin API.
struct Shop {
  RunningApp app;
  int64_t shop_id = 0;
  std::string secret;

  Shop() : secret(app.sandbox().api_secret()) {
    shop_id = seed_installed_shop(app.db(), kShop);
    exec_sql(app.db(), "UPDATE shops SET currency = 'USD' WHERE id = ?", {shop_id});
    // Socks at 10.00 (compare-at 12.00), and a sample pack at 6.00 for the downsell.
    upsert(kProduct, kVariant, "Wool socks", "Charcoal", "10.00", "12.00");
    upsert(kSampleProduct, kSampleVariant, "Sock sample", "Default Title", "6.00", std::nullopt);
  }

  void upsert(int64_t product_id, int64_t variant_id, const std::string& title,
              const std::string& variant_title, const std::string& price,
              std::optional<std::string> compare_at) {
    CatalogProduct p;
    p.id = product_id;
    p.title = title;
    p.handle = "p" + std::to_string(product_id);
    p.status = "active";
    p.image_url = "https://cdn.example/" + std::to_string(product_id) + ".png";
    p.updated_at_ms = SystemClock::instance().now_ms();
    CatalogVariant v;
    v.id = variant_id;
    v.title = variant_title;
    v.position = 1;
    v.price = price;
    v.compare_at_price = compare_at;
    v.inventory_quantity = 50;
    p.variants.push_back(v);
    REQUIRE(app.db().write([&](Tx& tx) -> Result<void> {
      AG_CHECK(upsert_product(tx, shop_id, p, std::string_view("USD"),
                              SystemClock::instance().now_ms(), true));
      return {};
    }));
  }

  std::string admin() const { return admin_session_token(kShop, secret); }

  int64_t create_offer(json offer) {
    auto r = app.http().post("/api/admin/offers", offer.dump(), bearer(admin()));
    INFO(r.body);
    REQUIRE(r.status == 201);
    return body_of(r)["offer"]["id"].get<int64_t>();
  }

  static json socks_offer() {
    return json{{"kind", "upsell"},
                {"title", "Matching socks"},
                {"headline", "Add socks for 20% off"},
                {"product_id", kProduct},
                {"discount", {{"type", "percent"}, {"percent", 20}}},
                {"catch_all", true}};
  }

  void put_settings(json settings) {
    auto r = app.http().send("PUT", "/api/admin/settings", settings.dump(), bearer(admin()));
    INFO(r.body);
    REQUIRE(r.status == 200);
  }

  // orders/create for the default order, created now (so the offer window is open), in USD.
  void store_order() {
    OrderPayload p;
    p.presentment_currency = "USD";
    p.presentment_total = "209.00";
    json order = json::parse(order_json(p));
    order["created_at"] = format_iso8601_utc(SystemClock::instance().now_ms());
    ShopifyDelivery d;
    d.shop_domain = kShop;
    d.body = order.dump();
    REQUIRE(app.post_shopify(d).status == 200);
    REQUIRE(app.drain() >= 1);
    REQUIRE(query_int(app.db(), "SELECT COUNT(*) FROM orders WHERE order_id = ?", {kOrderId}) == 1);
  }

  // The checkout payment as payment_events stores it: found through the order's checkout token.
  void store_payment() {
    exec_sql(app.db(),
             "INSERT INTO order_payments (shop_id, order_id, checkout_token, stripe_account, "
             "customer, payment_method, payment_intent, amount_minor, currency, created_at_ms) "
             "VALUES (?, NULL, ?, ?, 'cus_1', 'pm_1', 'pi_checkout_1', 20900, 'usd', ?)",
             {shop_id, "ct-" + std::to_string(kOrderId), std::string(kAccount),
              SystemClock::instance().now_ms()});
  }

  HttpResponse post(const std::string& path, const json& body, Headers headers = json_headers()) {
    return app.http().post(path, body.dump(), headers);
  }

  // ---- post-purchase ----
  json pp_body(json extra = json::object(), const std::string& token = "") {
    json b{{"surface", "post_purchase"},
           {"referenceId", kReference},
           {"token", token.empty() ? jwt::sign(input_claims(), secret) : token}};
    if (extra.is_object()) b.update(extra);
    return b;
  }
  json pp_offers() {
    auto r = post("/checkout/offers", pp_body());
    REQUIRE(r.status == 200);
    return body_of(r)["offers"];
  }

  // ---- thank-you ----
  Headers session(json claims = session_claims()) {
    return bearer(jwt::sign(claims, secret));
  }
  json ty_body(json extra = json::object()) {
    json b{{"surface", "thank_you"}, {"orderId", "gid://shopify/Order/" + std::to_string(kOrderId)}};
    if (extra.is_object()) b.update(extra);
    return b;
  }
  json ty_offers() {
    auto r = post("/checkout/offers", ty_body(), session());
    REQUIRE(r.status == 200);
    return body_of(r)["offers"];
  }

  // The decisions the merchant sees for an order, once at least `n` are written (the decision
  // route hands them to a background writer).
  json diagnostics(const std::string& order, size_t n = 1) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    json decisions;
    while (true) {
      auto r = app.http().get("/api/admin/diagnostics?order=" + order, bearer(admin()));
      REQUIRE(r.status == 200);
      decisions = body_of(r)["decisions"];
      if (decisions.size() >= n || std::chrono::steady_clock::now() > deadline) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    REQUIRE(decisions.size() >= n);
    return decisions;
  }
};

// An offer token as the server mints it for this shop, changed by `edit` before signing.
std::string mint(const Shop& s, const std::string& secret,
                 const std::function<void(checkout::OfferTokenClaims&)>& edit) {
  checkout::OfferTokenClaims c;
  c.shop_id = s.shop_id;
  c.shop_domain = kShop;
  c.surface = "post_purchase";
  c.order_key = kReference;
  c.offer_id = 1;
  c.product_id = kProduct;
  c.variant_id = kVariant;
  c.quantity = 1;
  c.amount_minor = 800;
  c.discount_minor = 200;
  c.currency = "USD";
  int64_t now = SystemClock::instance().now_ms();
  c.issued_at_ms = now;
  c.expires_at_ms = now + 15 * 60'000;
  edit(c);
  return checkout::mint_offer_token(c, secret);
}

void require_status(const HttpResponse& r, long status, const std::string& code) {
  INFO(r.status << " " << r.body);
  REQUIRE(r.status == status);
  CHECK(r.header("Content-Type").starts_with("application/json"));
  CHECK(error_code(r) == code);
}

}  // namespace

TEST_CASE("post-purchase offers lead to a changeset token Shopify can verify", "[checkout]") {
  Shop s;
  int64_t offer_id = s.create_offer(Shop::socks_offer());

  json offers = s.pp_offers();
  REQUIRE(offers.size() == 1);
  json offer = offers[0];
  CHECK(offer["id"] == offer_id);
  CHECK(offer["variantId"] == kVariant);
  CHECK(offer["productTitle"] == "Matching socks");
  CHECK(offer["variantTitle"] == "Charcoal");
  CHECK(offer["imageUrl"] == "https://cdn.example/7001.png");
  CHECK(offer["headline"] == "Add socks for 20% off");
  CHECK_FALSE(offer.contains("pricing"));  // Shopify prices the changeset on this page
  json expected_changes = json::array({{{"type", "add_variant"},
                                        {"variantId", kVariant},
                                        {"quantity", 1},
                                        {"discount",
                                         {{"value", 20},
                                          {"valueType", "percentage"},
                                          {"title", "Matching socks"}}}}});
  CHECK(offer["changes"] == expected_changes);

  // The page names only the offer; a `changes` or variant it sends is ignored.
  json body = s.pp_body({{"offerId", offer_id},
                         {"offerToken", offer["token"]},
                         {"changes", {{{"type", "add_variant"}, {"variantId", 1}, {"quantity", 50}}}},
                         {"variantId", 1}});
  int64_t before_s = unix_now();
  auto r = s.post("/checkout/sign-changeset", body);
  REQUIRE(r.status == 200);
  CHECK(r.header("Access-Control-Allow-Origin") == "*");
  std::string changeset = body_of(r)["token"].get<std::string>();

  jwt::VerifyOptions options;
  options.issuer = kTestApiKey;
  auto claims = jwt::verify(changeset, s.secret, options, SystemClock::instance());
  REQUIRE(claims);
  CHECK((*claims)["sub"] == kReference);
  REQUIRE((*claims)["jti"].is_string());
  CHECK((*claims)["jti"].get<std::string>().size() >= 32);
  REQUIRE((*claims)["iat"].is_number_integer());
  CHECK((*claims)["iat"].get<int64_t>() >= before_s - 1);
  CHECK((*claims)["iat"].get<int64_t>() <= unix_now() + 1);
  CHECK((*claims)["changes"] == expected_changes);
  // Not verifiable as anything else: another secret refuses it.
  CHECK_FALSE(jwt::verify(changeset, "shpss_other", options, SystemClock::instance()));

  // Signing the same offer again replays the answer under the same changeset id, so Shopify
  // applies it at most once.
  auto again = s.post("/checkout/sign-changeset", body);
  REQUIRE(again.status == 200);
  CHECK(jwt_payload(body_of(again)["token"])["jti"] == (*claims)["jti"]);

  // Recorded: one decision showing the offer, its impression, and the answer.
  json decisions = s.diagnostics(kReference);
  CHECK(decisions[0]["surface"] == "post_purchase");
  CHECK(decisions[0]["shown"] == json::array({offer_id}));
  CHECK(query_int(s.app.db(),
                  "SELECT COUNT(*) FROM offer_responses WHERE order_key = ? AND action = 'sign'",
                  {std::string(kReference)}) == 1);
}

TEST_CASE("a post-purchase decline answers with the funnel's downsell", "[checkout]") {
  Shop s;
  // (Another product: the fatigue rule keeps a product the customer just declined off the page.)
  json downsell = Shop::socks_offer();
  downsell["kind"] = "downsell";
  downsell["title"] = "Sock sample";
  downsell["product_id"] = kSampleProduct;
  downsell["catch_all"] = false;
  downsell["triggers"] = {{"product_ids", {kBoughtProduct}}};
  downsell["discount"] = {{"type", "fixed_amount"}, {"amount_minor", 350}};
  int64_t downsell_id = s.create_offer(downsell);
  json upsell = Shop::socks_offer();
  upsell["quantity"] = 2;
  upsell["funnel"] = {{"after_decline_offer_id", downsell_id}};
  int64_t upsell_id = s.create_offer(upsell);

  json offers = s.pp_offers();
  REQUIRE(offers.size() == 1);  // a downsell is never shown first
  CHECK(offers[0]["id"] == upsell_id);
  auto r = s.post("/checkout/decline",
                  s.pp_body({{"offerId", upsell_id}, {"offerToken", offers[0]["token"]}}));
  REQUIRE(r.status == 200);
  json answer = body_of(r);
  CHECK(answer["status"] == "declined");
  REQUIRE(answer.contains("next"));
  CHECK(answer["next"]["id"] == downsell_id);
  CHECK(answer["next"]["changes"][0]["discount"] ==
        json{{"value", 3.5}, {"valueType", "fixed_amount"}, {"title", "Sock sample"}});
  CHECK_FALSE(answer["next"].contains("variantTitle"));  // "Default Title" says nothing

  // The downsell's own token signs its changeset.
  r = s.post("/checkout/sign-changeset",
             s.pp_body({{"offerId", downsell_id}, {"offerToken", answer["next"]["token"]}}));
  REQUIRE(r.status == 200);
  CHECK(jwt_payload(body_of(r)["token"])["changes"] == answer["next"]["changes"]);
}

TEST_CASE("offer tokens that are forged, tampered, expired or foreign are refused", "[checkout]") {
  Shop s;
  int64_t offer_id = s.create_offer(Shop::socks_offer());
  json offer = s.pp_offers().at(0);
  const std::string good = offer["token"];
  auto sign_with = [&](const std::string& token) {
    return s.post("/checkout/sign-changeset",
                  s.pp_body({{"offerId", offer_id}, {"offerToken", token}}));
  };
  size_t dot1 = good.find('.'), dot2 = good.rfind('.');
  json payload = jwt_payload(good);

  SECTION("alg none") {
    std::string token = b64url(R"({"alg":"none","typ":"JWT"})") + "." + b64url(payload.dump()) + ".";
    require_status(sign_with(token), 401, "unauthenticated");
  }
  SECTION("HS512") {
    std::string token = b64url(R"({"alg":"HS512","typ":"JWT"})") + good.substr(dot1);
    require_status(sign_with(token), 401, "unauthenticated");
  }
  SECTION("signed with another secret") {
    std::string token = mint(s, "shpss_attacker_guess", [&](auto& c) { c.offer_id = offer_id; });
    require_status(sign_with(token), 401, "unauthenticated");
  }
  SECTION("the amount changed after signing") {
    payload["amt"] = 1;
    std::string token = good.substr(0, dot1) + "." + b64url(payload.dump()) + good.substr(dot2);
    require_status(sign_with(token), 401, "unauthenticated");
  }
  SECTION("the variant changed after signing") {
    payload["var"] = 1;
    std::string token = good.substr(0, dot1) + "." + b64url(payload.dump()) + good.substr(dot2);
    require_status(sign_with(token), 401, "unauthenticated");
  }
  SECTION("a platform session token in its place") {
    require_status(sign_with(jwt::sign(session_claims(), s.secret)), 401, "unauthenticated");
  }
  SECTION("expired") {
    int64_t now = SystemClock::instance().now_ms();
    std::string token = mint(s, s.secret, [&](auto& c) {
      c.offer_id = offer_id;
      c.issued_at_ms = now - 20 * 60'000;
      c.expires_at_ms = now - 5 * 60'000;
    });
    require_status(sign_with(token), 403, "offer_expired");
    // The late answer is recorded as the offer's expiry (written asynchronously: wait for it).
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (query_int(s.app.db(), "SELECT COUNT(*) FROM offer_events WHERE kind = 'expire'") == 0 &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    CHECK(query_int(s.app.db(),
                    "SELECT COUNT(*) FROM offer_events WHERE kind = 'expire' AND offer_id = ?",
                    {offer_id}) == 1);
  }
  SECTION("another shop's token") {
    int64_t other = seed_installed_shop(s.app.db(), kOtherShop);
    std::string token = mint(s, s.secret, [&](auto& c) {
      c.shop_id = other;
      c.shop_domain = kOtherShop;
      c.offer_id = offer_id;
    });
    require_status(sign_with(token), 403, "forbidden");
    // … and this shop's token on the other shop's page.
    auto r = s.post("/checkout/sign-changeset",
                    s.pp_body({{"offerId", offer_id}, {"offerToken", good}},
                              jwt::sign(input_claims(kOtherShop), s.secret)));
    require_status(r, 403, "forbidden");
  }
  SECTION("a token naming this shop's domain but another shop row") {
    std::string token = mint(s, s.secret, [&](auto& c) {
      c.shop_id = s.shop_id + 1000;
      c.offer_id = offer_id;
    });
    require_status(sign_with(token), 403, "forbidden");
  }
  SECTION("another purchase's token") {
    auto r = s.post("/checkout/sign-changeset",
                    s.pp_body({{"referenceId", "pp-ref-other"},
                               {"offerId", offer_id},
                               {"offerToken", good}},
                              jwt::sign(input_claims(kShop, "pp-ref-other"), s.secret)));
    require_status(r, 403, "forbidden");
  }
  SECTION("a token for another offer than offerId") {
    auto r = s.post("/checkout/sign-changeset",
                    s.pp_body({{"offerId", offer_id + 1}, {"offerToken", good}}));
    require_status(r, 403, "forbidden");
  }
  SECTION("a thank-you token on the post-purchase page") {
    std::string token = mint(s, s.secret, [&](auto& c) {
      c.offer_id = offer_id;
      c.surface = "thank_you";
    });
    require_status(sign_with(token), 403, "forbidden");
  }
  SECTION("no token") {
    require_status(s.post("/checkout/sign-changeset", s.pp_body({{"offerId", offer_id}})), 401,
                   "unauthenticated");
  }
  // Nothing was signed or answered by any of them.
  CHECK(query_int(s.app.db(), "SELECT COUNT(*) FROM offer_responses") == 0);
}

TEST_CASE("an offer token answered once cannot be used for another answer", "[checkout]") {
  Shop s;
  int64_t offer_id = s.create_offer(Shop::socks_offer());

  SECTION("post-purchase: sign after decline") {
    json offer = s.pp_offers().at(0);
    json body = s.pp_body({{"offerId", offer_id}, {"offerToken", offer["token"]}});
    REQUIRE(s.post("/checkout/decline", body).status == 200);
    REQUIRE(s.post("/checkout/decline", body).status == 200);  // the same answer again is fine
    require_status(s.post("/checkout/sign-changeset", body), 403, "offer_already_answered");
  }
  SECTION("post-purchase: decline after sign") {
    json offer = s.pp_offers().at(0);
    json body = s.pp_body({{"offerId", offer_id}, {"offerToken", offer["token"]}});
    REQUIRE(s.post("/checkout/sign-changeset", body).status == 200);
    require_status(s.post("/checkout/decline", body), 403, "offer_already_answered");
  }
  SECTION("thank-you: accept after decline, before any charge") {
    s.put_settings({{"stripe_account_id", kAccount}});
    s.store_order();
    s.store_payment();
    json offers = s.ty_offers();
    REQUIRE(offers.size() == 1);
    json body = s.ty_body({{"offerId", offer_id}, {"offerToken", offers[0]["token"]}});
    auto r = s.post("/checkout/decline", body, s.session());
    REQUIRE(r.status == 200);
    CHECK(body_of(r)["status"] == "declined");
    require_status(s.post("/checkout/accept", body, s.session()), 403, "offer_already_answered");
    CHECK(query_int(s.app.db(), "SELECT COUNT(*) FROM charges") == 0);
  }
}

TEST_CASE("platform tokens failing their checks are refused with 401", "[checkout]") {
  Shop s;
  s.create_offer(Shop::socks_offer());

  SECTION("post-purchase token issued by someone else than shopify") {
    json claims = input_claims();
    claims["iss"] = kTestApiKey;
    require_status(s.post("/checkout/offers", s.pp_body({}, jwt::sign(claims, s.secret))), 401,
                   "unauthenticated");
  }
  SECTION("post-purchase token for another referenceId") {
    json claims = input_claims();
    claims["sub"] = "pp-ref-other";
    require_status(s.post("/checkout/offers", s.pp_body({}, jwt::sign(claims, s.secret))), 401,
                   "unauthenticated");
  }
  SECTION("post-purchase token signed with another secret") {
    require_status(
        s.post("/checkout/offers", s.pp_body({}, jwt::sign(input_claims(), "shpss_attacker"))),
        401, "unauthenticated");
  }
  SECTION("session token for another app") {
    json claims = session_claims();
    claims["aud"] = "another-app";
    require_status(s.post("/checkout/offers", s.ty_body(), s.session(claims)), 401,
                   "unauthenticated");
  }
  SECTION("session token whose dest is a URL") {
    json claims = session_claims();
    claims["dest"] = std::string("https://") + kShop;
    require_status(s.post("/checkout/offers", s.ty_body(), s.session(claims)), 401,
                   "unauthenticated");
  }
  SECTION("session token whose dest is not a shop") {
    json claims = session_claims();
    claims["dest"] = "evil.example.com";
    require_status(s.post("/checkout/offers", s.ty_body(), s.session(claims)), 401,
                   "unauthenticated");
  }
  SECTION("session token that expired") {
    json claims = session_claims();
    claims["exp"] = unix_now() - 60;
    require_status(s.post("/checkout/offers", s.ty_body(), s.session(claims)), 401,
                   "unauthenticated");
  }
  SECTION("no session token, shop named in the body") {
    require_status(s.post("/checkout/offers", s.ty_body({{"shop", kShop}})), 401,
                   "unauthenticated");
  }
}

TEST_CASE("an offer deleted since it was shown is unavailable", "[checkout]") {
  Shop s;
  int64_t offer_id = s.create_offer(Shop::socks_offer());
  json offer = s.pp_offers().at(0);
  auto r = s.app.http().send("DELETE", "/api/admin/offers/" + std::to_string(offer_id), "",
                             bearer(s.admin()));
  REQUIRE(r.status == 200);
  require_status(s.post("/checkout/sign-changeset",
                        s.pp_body({{"offerId", offer_id}, {"offerToken", offer["token"]}})),
                 410, "offer_unavailable");
}

TEST_CASE("every checkout answer carries CORS headers", "[checkout]") {
  Shop s;
  s.create_offer(Shop::socks_offer());
  auto cors = [](const HttpResponse& r) {
    INFO(r.status << " " << r.body);
    CHECK(r.header("Access-Control-Allow-Origin") == "*");
    CHECK(r.header("Access-Control-Allow-Headers") == "Authorization, Content-Type");
    CHECK(r.header("Access-Control-Allow-Methods") == "POST, GET, OPTIONS");
    CHECK(r.header("Access-Control-Max-Age") == "86400");
    CHECK(r.header("Access-Control-Expose-Headers") ==
          "X-Shopify-API-Request-Failure-Reauthorize-Url");
  };

  auto ok = s.post("/checkout/offers", s.pp_body());
  CHECK(ok.status == 200);
  cors(ok);

  auto unauthenticated = s.post("/checkout/offers", s.ty_body());
  require_status(unauthenticated, 401, "unauthenticated");
  cors(unauthenticated);

  for (const char* path : {"/checkout/offers", "/checkout/sign-changeset", "/checkout/accept",
                           "/checkout/decline"}) {
    INFO(path);
    auto preflight = s.app.http().send("OPTIONS", path, "",
                                       {{"Origin", "https://extensions.shopifycdn.com"},
                                        {"Access-Control-Request-Method", "POST"},
                                        {"Access-Control-Request-Headers", "authorization"}});
    CHECK(preflight.status == 204);
    cors(preflight);
  }

  auto malformed = s.app.http().post("/checkout/offers", "{\"surface\": ", json_headers());
  require_status(malformed, 400, "invalid_argument");
  cors(malformed);
  auto not_object = s.app.http().post("/checkout/offers", "[1]", json_headers());
  require_status(not_object, 400, "invalid_argument");
  auto bad_surface = s.post("/checkout/offers", json{{"surface", "storefront"}});
  require_status(bad_surface, 400, "invalid_argument");
  cors(bad_surface);

  json huge = s.pp_body({{"padding", std::string(2 * 1024 * 1024, 'x')}});
  auto too_large = s.app.new_client()->post("/checkout/offers", huge.dump(), json_headers());
  require_status(too_large, 413, "payload_too_large");
  cors(too_large);
}

TEST_CASE("thank-you offers need a Stripe account and the merchant sees why none was shown",
          "[checkout]") {
  Shop s;
  int64_t offer_id = s.create_offer(Shop::socks_offer());
  const std::string order_key = std::to_string(kOrderId);

  // Before orders/create arrived.
  CHECK(s.ty_offers().empty());
  CHECK(s.diagnostics(order_key, 1).back()["reason"] == "order_not_synced");

  s.store_order();
  s.store_payment();
  // No Stripe account in the settings yet.
  CHECK(s.ty_offers().empty());
  CHECK(s.diagnostics(order_key, 2).back()["reason"] == "no_payment_account");
  // Looked up by the name the merchant sees, too.
  auto by_name = s.app.http().get("/api/admin/diagnostics?order=%231001", bearer(s.admin()));
  REQUIRE(by_name.status == 200);
  CHECK(body_of(by_name)["decisions"].size() == 2);

  s.put_settings({{"stripe_account_id", kAccount}});
  json offers = s.ty_offers();
  REQUIRE(offers.size() == 1);
  json o = offers[0];
  CHECK(o["id"] == offer_id);
  CHECK(o["productTitle"] == "Matching socks");
  CHECK_FALSE(o.contains("changes"));
  auto usd = [](const char* amount) { return json{{"amount", amount}, {"currencyCode", "USD"}}; };
  CHECK(o["pricing"]["price"] == usd("10.00"));
  CHECK(o["pricing"]["discount"] == usd("2.00"));
  CHECK(o["pricing"]["subtotal"] == usd("8.00"));
  CHECK(o["pricing"]["total"] == usd("8.00"));
  CHECK(o["pricing"]["compareAt"] == usd("12.00"));
  CHECK_FALSE(o["pricing"].contains("shipping"));
  // The window runs from the order's creation (15 minutes by default).
  auto expires = parse_iso8601_ms(o["expiresAt"].get<std::string>());
  REQUIRE(expires);
  int64_t now = SystemClock::instance().now_ms();
  CHECK(*expires > now + 10 * 60'000);
  CHECK(*expires <= now + 15 * 60'000 + 1000);
  json token = jwt_payload(o["token"]);
  CHECK(token["amt"] == 800);
  CHECK(token["ord"] == order_key);
  CHECK(token["srf"] == "thank_you");
  CHECK(s.diagnostics(order_key, 3).back()["shown"] == json::array({offer_id}));

  // Everyone held out: nothing shown, and the reason says so.
  json held = Shop::socks_offer();
  held["ab_test"] = {{"holdout_share", 1.0}};
  auto r = s.app.http().send("PUT", "/api/admin/offers/" + std::to_string(offer_id), held.dump(),
                             bearer(s.admin()));
  REQUIRE(r.status == 200);
  CHECK(s.ty_offers().empty());
  json last = s.diagnostics(order_key, 4).back();
  CHECK(last["reason"] == "holdout");
  CHECK(last["shown"].empty());
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (query_int(s.app.db(), "SELECT COUNT(*) FROM offer_events WHERE kind = 'holdout'") == 0 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  CHECK(query_int(s.app.db(),
                  "SELECT COUNT(*) FROM offer_events WHERE kind = 'holdout' AND offer_id = ?",
                  {offer_id}) == 1);

  // Another shop's admin sees none of it.
  seed_installed_shop(s.app.db(), kOtherShop);
  auto other = s.app.http().get("/api/admin/diagnostics?order=" + order_key,
                                bearer(admin_session_token(kOtherShop, s.secret)));
  REQUIRE(other.status == 200);
  CHECK(body_of(other)["decisions"].empty());
}

TEST_CASE("checkout offers for a shop that is not installed are none", "[checkout]") {
  Shop s;
  s.create_offer(Shop::socks_offer());
  auto r = s.post("/checkout/offers",
                  s.pp_body({}, jwt::sign(input_claims("nowhere.myshopify.com"), s.secret)));
  REQUIRE(r.status == 200);
  CHECK(body_of(r)["offers"].empty());
  exec_sql(s.app.db(), "UPDATE shops SET state = 'uninstalled' WHERE id = ?", {s.shop_id});
  CHECK(s.pp_offers().empty());
}

TEST_CASE("the merchant's charges, diagnostics and analytics views answer", "[checkout][admin]") {
  Shop s;
  int64_t offer_id = s.create_offer(Shop::socks_offer());
  s.pp_offers();
  auto charges = s.app.http().get("/api/admin/charges?limit=10", bearer(s.admin()));
  REQUIRE(charges.status == 200);
  CHECK(body_of(charges)["charges"].empty());
  CHECK(body_of(charges)["next_cursor"].is_null());
  require_status(s.app.http().get("/api/admin/charges/12345", bearer(s.admin())), 404,
                 "not_found");
  require_status(s.app.http().get("/api/admin/charges?limit=0", bearer(s.admin())), 400,
                 "invalid_argument");
  require_status(s.app.http().get("/api/admin/charges"), 401, "unauthenticated");

  s.diagnostics(kReference);
  auto recent = s.app.http().get("/api/admin/diagnostics?limit=1", bearer(s.admin()));
  REQUIRE(recent.status == 200);
  REQUIRE(body_of(recent)["decisions"].size() == 1);
  CHECK(body_of(recent)["decisions"][0]["order_key"] == kReference);

  // Analytics count the impression once the background writer has stored it.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  json stats;
  while (true) {
    auto r = s.app.http().get("/api/admin/analytics", bearer(s.admin()));
    REQUIRE(r.status == 200);
    stats = body_of(r)["offers"];
    if ((!stats.empty() && stats[0]["impressions"] == 1) ||
        std::chrono::steady_clock::now() > deadline) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  REQUIRE(stats.size() == 1);
  CHECK(stats[0]["offer_id"] == offer_id);
  CHECK(stats[0]["impressions"] == 1);
}
