#include "checkout/checkout_routes.h"

#include <httplib.h>

#include <charconv>
#include <nlohmann/json.hpp>

#include "checkout/checkout_auth.h"
#include "checkout/offer_store.h"
#include "checkout/offer_token.h"
#include "checkout/purchase_context.h"
#include "plugin/core/crypto.h"
#include "plugin/core/http_reply.h"
#include "plugin/core/jwt.h"
#include "plugin/core/log.h"
#include "plugin/core/money.h"
#include "plugin/core/shop_settings.h"
#include "plugin/core/shop_store.h"
#include "plugin/core/time_format.h"

namespace afterglow::checkout {
namespace {

using nlohmann::json;

constexpr std::string_view kPostPurchase = "post_purchase";
constexpr std::string_view kThankYou = "thank_you";
constexpr size_t kMaxField = 4096;  // ids and tokens; the body as a whole is capped by the server

// An error on its way to the client. Most come from an Error (http_reply.h picks the status and
// the code's name); the offer-specific ones name their own code.
struct RouteError {
  int status = 500;
  std::string code;
  std::string message;
  RouteError(Error e)  // NOLINT: lets AG_TRY pass Result errors through
      : status(http_status(e.code)), code(error_code_name(e.code)), message(std::move(e.message)) {}
  RouteError(int s, std::string c, std::string m)
      : status(s), code(std::move(c)), message(std::move(m)) {}
};

template <class T>
using Answer = std::expected<T, RouteError>;

struct Reply {
  int status = 200;
  json body;
};

std::unexpected<RouteError> refuse(ErrorCode code, std::string message) {
  return std::unexpected(RouteError(Error{code, std::move(message)}));
}
std::unexpected<RouteError> refuse(int status, std::string code, std::string message) {
  return std::unexpected(RouteError(status, std::move(code), std::move(message)));
}

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

void send_error(httplib::Response& res, const RouteError& e) {
  if (e.status >= 500) log::error("checkout route error", {{"error", e.message}});
  res.status = e.status;
  res.set_content(dump(json{{"error", {{"code", e.code}, {"message", e.message}}}}),
                  "application/json");
}

// ---- request bodies -------------------------------------------------------------------------

Answer<json> parse_body(const httplib::Request& req) {
  if (req.body.empty()) return refuse(ErrorCode::kInvalidArgument, "a JSON object body is required");
  json j = json::parse(req.body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return refuse(ErrorCode::kInvalidArgument, "the body is not valid JSON");
  if (!j.is_object()) return refuse(ErrorCode::kInvalidArgument, "the body must be a JSON object");
  return j;
}

// A string member; nullopt when absent. 400 when present but not a short string.
Answer<std::optional<std::string>> string_member(const json& body, const char* name) {
  auto it = body.find(name);
  if (it == body.end() || it->is_null()) return std::optional<std::string>();
  if (!it->is_string() || it->get_ref<const std::string&>().size() > kMaxField) {
    return refuse(ErrorCode::kInvalidArgument, std::string(name) + " must be a string");
  }
  return std::optional<std::string>(it->get<std::string>());
}

std::optional<int64_t> positive_digits(std::string_view s) {
  int64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size() || v <= 0) return std::nullopt;
  return v;
}

// An id sent as a JSON integer or as a string of digits; nullopt when absent.
Answer<std::optional<int64_t>> id_member(const json& body, const char* name) {
  auto it = body.find(name);
  if (it == body.end() || it->is_null()) return std::optional<int64_t>();
  if (it->is_number_integer() && it->get<int64_t>() > 0) {
    return std::optional<int64_t>(it->get<int64_t>());
  }
  if (it->is_string()) {
    if (auto v = positive_digits(it->get_ref<const std::string&>())) return std::optional(*v);
  }
  return refuse(ErrorCode::kInvalidArgument, std::string(name) + " must be a positive integer");
}

// orderId as the Thank-you page has it: the order's GID ("gid://shopify/Order/1",
// or the OrderIdentity GID the confirmation API gives before the order exists, with the same
// number), or the number itself.
Answer<int64_t> order_id_of(const json& body) {
  auto it = body.find("orderId");
  if (it == body.end() || it->is_null()) {
    return refuse(ErrorCode::kInvalidArgument, "orderId is required");
  }
  if (it->is_number_integer() && it->get<int64_t>() > 0) return it->get<int64_t>();
  if (it->is_string()) {
    std::string_view s = it->get_ref<const std::string&>();
    for (std::string_view prefix : {"gid://shopify/Order/", "gid://shopify/OrderIdentity/"}) {
      if (s.starts_with(prefix)) s.remove_prefix(prefix.size());
    }
    if (auto v = positive_digits(s)) return *v;
  }
  return refuse(ErrorCode::kInvalidArgument,
                "orderId must be the order's GID (gid://shopify/Order/<id>) or its number");
}

// ---- money ----------------------------------------------------------------------------------

json money(int64_t minor, std::string_view currency) {
  return json{{"amount", format_money(minor, currency)}, {"currencyCode", std::string(currency)}};
}

// A JSON number for the changeset (the platform's discount value is a number, not a string).
json decimal_number(int64_t minor, std::string_view currency) {
  if (currency_exponent(currency) == 0) return minor;
  return std::stod(format_money(minor, currency));
}

// ---- the changeset --------------------------------------------------------------------------

// The add_variant change for an offer as shown: `discount` is the configured one (the arm's when
// it overrides), `discount_minor` what the shopper was shown off the line. The configured percent
// is sent as a percentage when it yields exactly that amount; otherwise (a fixed amount, or a
// percent cut back by the margin floor) the amount itself goes as fixed_amount, off the whole
// line as our offer model defines it. Either way the platform charges what the page showed.
// Shipping is left to the platform (no add_shipping_line): it prices shipping for the edited
// order itself, and a free-shipping offer cannot force it to zero for items that ship separately.
json build_changes(int64_t variant_id, int64_t quantity, const Discount& discount,
                   int64_t subtotal_minor, int64_t discount_minor, std::string_view currency,
                   std::string_view title) {
  json change{{"type", "add_variant"}, {"variantId", variant_id}, {"quantity", quantity}};
  if (discount_minor > 0) {
    json d{{"title", title.empty() ? std::string("Special offer") : std::string(title)}};
    if (discount.type == DiscountType::kPercent &&
        price_offer(subtotal_minor, 1, discount, std::nullopt, 0).discount_minor ==
            discount_minor) {
      if (discount.percent_bp % 100 == 0) {
        d["value"] = discount.percent_bp / 100;
      } else {
        d["value"] = static_cast<double>(discount.percent_bp) / 100.0;
      }
      d["valueType"] = "percentage";
    } else {
      d["value"] = decimal_number(discount_minor, currency);
      d["valueType"] = "fixed_amount";
    }
    change["discount"] = std::move(d);
  }
  return json::array({std::move(change)});
}

// The changeset's jti: derived from the offer token's own random jti, so signing the same offer
// token twice yields the same changeset id and the platform applies it at most once
// (changeset_already_applied) — a replayed sign-changeset can never add the item twice.
std::string changeset_id(std::string_view offer_token_id) {
  std::string h = crypto::to_hex(crypto::sha256(std::string("afterglow changeset ") +
                                                std::string(offer_token_id)));
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) +
         "-" + h.substr(20, 12);
}

// ---- offers as the extensions read them -----------------------------------------------------

std::string product_title(const ShownOffer& o) {
  return o.title.empty() ? o.item.product_title : o.title;
}

json offer_json(std::string_view surface, const ShownOffer& o, const std::string& token,
                int64_t expires_at_ms) {
  json j{{"id", o.offer_id}, {"token", token}, {"productTitle", product_title(o)}};
  if (!o.item.variant_title.empty() && o.item.variant_title != "Default Title") {
    j["variantTitle"] = o.item.variant_title;
  }
  if (!o.item.image_url.empty()) j["imageUrl"] = o.item.image_url;
  if (!o.headline.empty()) j["headline"] = o.headline;
  if (surface == kPostPurchase) {
    j["variantId"] = o.item.variant_id;
    j["changes"] = build_changes(o.item.variant_id, o.quantity, o.discount, o.subtotal_minor,
                                 o.discount_minor, o.currency, o.title);
    return j;
  }
  json pricing{{"price", money(o.subtotal_minor, o.currency)}};
  if (o.discount_minor > 0) pricing["discount"] = money(o.discount_minor, o.currency);
  pricing["subtotal"] = money(o.subtotal_minor - o.discount_minor, o.currency);
  if (o.free_shipping) pricing["shipping"] = money(0, o.currency);
  pricing["total"] = money(o.total_minor, o.currency);
  if (o.item.compare_at_minor && o.item.price_minor &&
      *o.item.compare_at_minor > *o.item.price_minor) {
    pricing["compareAt"] = money(*o.item.compare_at_minor * o.quantity, o.currency);
  }
  j["pricing"] = std::move(pricing);
  j["expiresAt"] = format_iso8601_utc(expires_at_ms);
  return j;
}

// ---- who is calling -------------------------------------------------------------------------

struct Caller {
  std::string surface;
  std::string shop_domain;
  std::string order_key;               // referenceId, or the order id in decimal
  std::optional<int64_t> order_id;     // thank-you
  std::shared_ptr<const json> input_data;  // post-purchase: Shopify's verified inputData
};

std::vector<std::string> non_empty(const std::vector<std::string>& secrets) {
  std::vector<std::string> out;
  for (const std::string& secret : secrets) {
    if (!secret.empty()) out.push_back(secret);
  }
  return out;
}

struct Routes {
  CheckoutServices& s;
  // The app secrets that are set, current first. Never empty when a request gets past
  // authentication (CheckoutAuth refuses everything without one), so secrets.front() is the
  // signing key wherever a token is minted.
  const std::vector<std::string> secrets;
  CheckoutAuth auth;

  explicit Routes(CheckoutServices& services)
      : s(services),
        secrets(non_empty(services.app_secrets)),
        auth(services.api_key, secrets, services.clock) {}

  // The surface named in the body (400 unless one of the two), then its proof (401).
  Answer<Caller> authenticate(const httplib::Request& req, const json& body) const {
    auto surface = AG_TRY(string_member(body, "surface"));
    if (!surface || (*surface != kPostPurchase && *surface != kThankYou)) {
      return refuse(ErrorCode::kInvalidArgument,
                    "surface must be \"post_purchase\" or \"thank_you\"");
    }
    Caller c;
    c.surface = *surface;
    if (c.surface == kPostPurchase) {
      auto reference = AG_TRY(string_member(body, "referenceId"));
      if (!reference || reference->empty()) {
        return refuse(ErrorCode::kInvalidArgument, "referenceId is required");
      }
      auto token = AG_TRY(string_member(body, "token"));
      auto verified = AG_TRY(auth.verify_post_purchase(token.value_or(""), *reference));
      c.shop_domain = std::move(verified.shop_domain);
      c.order_key = std::move(verified.reference_id);
      c.input_data = std::move(verified.input_data);
      return c;
    }
    auto verified = AG_TRY(auth.verify_thank_you(req.get_header_value("Authorization")));
    c.shop_domain = std::move(verified.shop_domain);
    c.order_id = AG_TRY(order_id_of(body));
    c.order_key = std::to_string(*c.order_id);
    return c;
  }

  // The offer token in the body, bound to the caller: same shop, surface and order, and the
  // offerId the body names (when it names one). A genuine token past its expiry is refused,
  // unless `expired` is given: then it is returned with *expired set, for the caller to decide.
  Answer<OfferTokenClaims> verify_offer(const json& body, const Caller& caller,
                                        bool* expired = nullptr) const {
    auto token = AG_TRY(string_member(body, "offerToken"));
    if (!token || token->empty()) {
      return refuse(ErrorCode::kUnauthenticated, "offerToken is required");
    }
    auto claims = verify_offer_token(*token, secrets, s.clock);
    if (!claims && expired && claims.error().code == ErrorCode::kForbidden) {
      claims = verify_offer_token(*token, secrets, s.clock, /*allow_expired=*/true);
      *expired = claims.has_value();
    }
    if (!claims) {
      if (claims.error().code == ErrorCode::kForbidden) {
        // Genuine but late: the answer that came after the offer window is an `expire` event.
        auto late = verify_offer_token(*token, secrets, s.clock, /*allow_expired=*/true);
        if (late && late->shop_domain == caller.shop_domain && late->order_key == caller.order_key) {
          s.events.add_event(offer_event_of(*late, "expire", s.clock.now_ms()));
        }
        return refuse(403, "offer_expired", "this offer has expired");
      }
      return refuse(ErrorCode::kUnauthenticated, claims.error().message);
    }
    if (claims->shop_domain != caller.shop_domain) {
      return refuse(ErrorCode::kForbidden, "the offer token belongs to another shop");
    }
    if (claims->surface != caller.surface) {
      return refuse(ErrorCode::kForbidden,
                    "the offer token was issued for the " + claims->surface + " surface");
    }
    if (claims->order_key != caller.order_key) {
      return refuse(ErrorCode::kForbidden, "the offer token belongs to another order");
    }
    auto offer_id = AG_TRY(id_member(body, "offerId"));
    if (offer_id && *offer_id != claims->offer_id) {
      return refuse(ErrorCode::kForbidden, "offerId is not the offer the token names");
    }
    return *claims;
  }

  // The caller's shop, installed, and (when a token names it) the token's shop row.
  Answer<ShopRecord> installed_shop(const Caller& caller,
                                    std::optional<int64_t> token_shop_id) const {
    std::optional<ShopRecord> shop;
    AG_CHECK(s.db.read([&](Tx& tx) -> Result<void> {
      shop = AG_TRY(find_shop(tx, caller.shop_domain));
      return {};
    }));
    if (!shop || shop->state != kShopInstalled) {
      return refuse(403, "shop_inactive", "the shop is not installed");
    }
    if (token_shop_id && *token_shop_id != shop->id) {
      return refuse(ErrorCode::kForbidden, "the offer token belongs to another shop");
    }
    return *shop;
  }

  // ---- the decision's inputs ----

  struct Loaded {
    std::optional<PurchaseContext> context;  // nullopt: no decision possible (reason says why)
    std::string reason;
    int64_t window_start_ms = 0;  // the offer window runs from here
  };

  // The purchase context for the caller's order, with the order-wide eligibility rules of the
  // thank-you page applied (the post-purchase page is the platform's: it charges the card and
  // decides which checkouts get the page at all).
  Result<Loaded> load_context(Tx& tx, const Caller& caller, int64_t shop_id,
                              const ShopSettings& settings, int64_t now_ms) const {
    Loaded out;
    if (caller.surface == kPostPurchase) {
      out.context = AG_TRY(context_from_post_purchase(tx, shop_id, *caller.input_data));
      out.window_start_ms = now_ms;
      return out;
    }
    const int64_t order_id = *caller.order_id;
    out.context = AG_TRY(load_order_context(tx, shop_id, order_id));
    if (!out.context) {
      out.reason = std::string(reason::kOrderUnknown);
      return out;
    }
    auto order = AG_TRY(tx.query_one(
        "SELECT platform_created_at, received_at_ms FROM orders WHERE shop_id = ? AND order_id = ?",
        {shop_id, order_id}));
    out.window_start_ms = order ? order->i64(1) : now_ms;
    if (order && !order->is_null(0)) {
      if (auto created = parse_iso8601_ms(order->text(0))) out.window_start_ms = *created;
    }
    PurchaseContext& c = *out.context;
    if (settings.stripe_account_id.empty()) {
      c.ineligible_reason = std::string(reason::kNoPaymentAccount);
    } else {
      // The card the order was paid with, in the shop's own account (what OneClick charges).
      auto paid = AG_TRY(tx.query_one(
          "SELECT 1 FROM order_payments WHERE shop_id = ? AND stripe_account = ? AND "
          "(order_id = ? OR checkout_token IN (SELECT checkout_token FROM orders WHERE "
          "shop_id = ? AND order_id = ? AND checkout_token IS NOT NULL)) LIMIT 1",
          {shop_id, settings.stripe_account_id, order_id, shop_id, order_id}));
      if (!paid) {
        c.ineligible_reason = std::string(reason::kIneligiblePayment);
      } else if (!c.presentment_currency.empty() && !c.shop_currency.empty() &&
                 c.presentment_currency != c.shop_currency) {
        // We charge in the shop currency; the shopper paid in another one.
        c.ineligible_reason = std::string(reason::kCurrencyMismatch);
      } else if (now_ms > offer_window_end_ms(out.window_start_ms, settings)) {
        c.ineligible_reason = std::string(reason::kExpired);
      }
    }
    return out;
  }

  static int64_t offer_window_end_ms(int64_t start_ms, const ShopSettings& settings) {
    return start_ms + int64_t{settings.offer_window_minutes} * 60'000;
  }

  // ---- minting and recording ----

  std::string mint(const Caller& caller, const ShopRecord& shop, const PurchaseContext& context,
                   const ShownOffer& o, int64_t now_ms, int64_t expires_at_ms) const {
    OfferTokenClaims t;
    t.shop_id = shop.id;
    t.shop_domain = shop.domain;
    t.surface = caller.surface;
    t.order_key = caller.order_key;
    t.order_id = caller.order_id;
    t.customer_id = context.customer_id;
    t.offer_id = o.offer_id;
    t.arm = o.arm;
    t.product_id = o.item.product_id;
    t.variant_id = o.item.variant_id;
    t.quantity = o.quantity;
    t.amount_minor = o.total_minor;
    t.discount_minor = o.discount_minor;
    t.currency = o.currency;
    t.issued_at_ms = now_ms;
    t.expires_at_ms = expires_at_ms;
    return mint_offer_token(std::move(t), secrets.front());
  }

  OfferEvent event_for(const Caller& caller, int64_t shop_id,
                       const std::optional<int64_t>& customer_id, std::string kind,
                       int64_t now_ms) const {
    OfferEvent e;
    e.shop_id = shop_id;
    e.surface = caller.surface;
    e.order_key = caller.order_key;
    e.customer_id = customer_id;
    e.kind = std::move(kind);
    e.created_at_ms = now_ms;
    return e;
  }

  void record_impression(const Caller& caller, int64_t shop_id, const PurchaseContext& context,
                         const ShownOffer& o, int64_t now_ms) const {
    OfferEvent e = event_for(caller, shop_id, context.customer_id, "impression", now_ms);
    e.offer_id = o.offer_id;
    e.product_id = o.item.product_id;
    e.variant_id = o.item.variant_id;
    e.arm = o.arm;
    e.amount_minor = o.total_minor;
    e.currency = o.currency;
    s.events.add_event(std::move(e));
  }

  void count_decision(const Caller& caller, bool shown) const {
    if (!s.metrics) return;
    s.metrics->inc("afterglow_checkout_decisions_total",
                   {{"surface", caller.surface}, {"result", shown ? "shown" : "none"}});
  }

  // ---- POST /checkout/offers ----

  Answer<Reply> offers(const httplib::Request& req) const {
    json body = AG_TRY(parse_body(req));
    Caller caller = AG_TRY(authenticate(req, body));
    const int64_t now = s.clock.now_ms();

    std::optional<ShopRecord> shop;
    std::optional<PurchaseContext> context;
    Decision decision;
    int64_t window_end_ms = 0;
    OfferCache::OfferList offer_list;
    AG_CHECK(s.db.read([&](Tx& tx) -> Result<void> {
      shop = AG_TRY(find_shop(tx, caller.shop_domain));
      if (!shop || shop->state != kShopInstalled) return {};
      ShopSettings settings = AG_TRY(load_shop_settings(tx, shop->id));
      Loaded loaded = AG_TRY(load_context(tx, caller, shop->id, settings, now));
      window_end_ms = offer_window_end_ms(loaded.window_start_ms, settings);
      if (!loaded.context) {
        decision.reason = loaded.reason;
        return {};
      }
      context = std::move(loaded.context);
      offer_list = AG_TRY(s.offers.get(tx, shop->id));
      DbCatalogView catalog(tx, shop->id);
      decision = decide(*context, *offer_list, catalog, settings.margin_floor_percent);
      if (catalog.error()) return std::unexpected(*catalog.error());
      return {};
    }));

    json list = json::array();
    if (!shop || shop->state != kShopInstalled) {
      // Nothing is recorded for a shop that is not installed: its data is on its way out, and
      // the merchant has no admin page to read it on.
      log::info("checkout offers for an inactive shop",
                {{"shop", caller.shop_domain}, {"reason", reason::kShopInactive}});
      count_decision(caller, false);
      return Reply{200, {{"offers", std::move(list)}}};
    }
    for (const ShownOffer& o : decision.offers) {
      list.push_back(offer_json(caller.surface, o, mint(caller, *shop, *context, o, now, window_end_ms),
                                window_end_ms));
    }

    std::optional<int64_t> customer_id = context ? context->customer_id : std::nullopt;
    s.events.add_decision(make_decision_record(shop->id, caller.surface, caller.order_key,
                                               customer_id, decision, now));
    for (const ShownOffer& o : decision.offers) {
      record_impression(caller, shop->id, *context, o, now);
    }
    for (const Rejection& r : decision.rejections) {
      if (r.reason != reason::kHoldout) continue;
      OfferEvent e = event_for(caller, shop->id, customer_id, "holdout", now);
      e.offer_id = r.offer_id;
      if (offer_list) {
        for (const Offer& offer : *offer_list) {
          if (offer.id != r.offer_id) continue;
          e.product_id = offer.product_id;
          e.variant_id = offer.variant_id;
        }
      }
      s.events.add_event(std::move(e));
    }
    count_decision(caller, !decision.offers.empty());
    return Reply{200, {{"offers", std::move(list)}}};
  }

  // The funnel's next offer after `answered` was accepted or declined, with a fresh token, or
  // null. A failure here never fails the answer that was already recorded: it is logged and the
  // page simply gets no next offer.
  json next_offer(const Caller& caller, const ShopRecord& shop, const OfferTokenClaims& answered,
                  bool accepted) const {
    const int64_t now = s.clock.now_ms();
    std::optional<ShownOffer> next;
    std::optional<PurchaseContext> context;
    int64_t window_end_ms = 0;
    auto r = s.db.read([&](Tx& tx) -> Result<void> {
      ShopSettings settings = AG_TRY(load_shop_settings(tx, shop.id));
      Loaded loaded = AG_TRY(load_context(tx, caller, shop.id, settings, now));
      if (!loaded.context) return {};
      context = std::move(loaded.context);
      window_end_ms = offer_window_end_ms(loaded.window_start_ms, settings);
      OfferCache::OfferList offers = AG_TRY(s.offers.get(tx, shop.id));
      DbCatalogView catalog(tx, shop.id);
      next = next_in_funnel(*context, *offers, answered.offer_id, accepted, catalog,
                            settings.margin_floor_percent);
      if (catalog.error()) return std::unexpected(*catalog.error());
      return {};
    });
    if (!r) {
      log::warn("checkout next offer not computed", {{"error", r.error().message}});
      return nullptr;
    }
    if (!next) return nullptr;
    record_impression(caller, shop.id, *context, *next, now);
    return offer_json(caller.surface, *next, mint(caller, shop, *context, *next, now, window_end_ms),
                      window_end_ms);
  }

  static Answer<void> answer_error(const Error& e) {
    if (e.code == ErrorCode::kForbidden) {
      return refuse(403, "offer_already_answered", e.message);
    }
    return std::unexpected(RouteError(e));
  }

  // ---- POST /checkout/sign-changeset ----

  Answer<Reply> sign_changeset(const httplib::Request& req) const {
    json body = AG_TRY(parse_body(req));
    Caller caller = AG_TRY(authenticate(req, body));
    if (caller.surface != kPostPurchase) {
      return refuse(ErrorCode::kInvalidArgument,
                    "sign-changeset is for the post-purchase page (surface \"post_purchase\")");
    }
    OfferTokenClaims claims = AG_TRY(verify_offer(body, caller));
    ShopRecord shop = AG_TRY(installed_shop(caller, claims.shop_id));

    std::optional<Offer> offer;
    AG_CHECK(s.db.read([&](Tx& tx) -> Result<void> {
      offer = AG_TRY(find_offer(tx, shop.id, claims.offer_id));
      return {};
    }));
    if (!offer || offer->status != OfferStatus::kActive) {
      return refuse(410, "offer_unavailable", "this offer is no longer available");
    }
    // What is added comes from the stored offer; the token says which arm and at what price the
    // shopper saw it. An offer changed since (another product, quantity or variant, or the arm
    // gone) is not what the shopper agreed to.
    const Discount* discount = &offer->discount;
    std::string title = offer->title;
    if (!claims.arm.empty()) {
      const AbArm* arm = nullptr;
      for (const AbArm& a : offer->arms) {
        if (a.name == claims.arm) arm = &a;
      }
      if (!arm) return refuse(410, "offer_unavailable", "this offer has changed since it was shown");
      if (arm->discount) discount = &*arm->discount;
    }
    if (offer->product_id != claims.product_id || offer->quantity != claims.quantity ||
        (offer->variant_id && *offer->variant_id != claims.variant_id)) {
      return refuse(410, "offer_unavailable", "this offer has changed since it was shown");
    }
    json changes = build_changes(claims.variant_id, claims.quantity, *discount,
                                 claims.amount_minor + claims.discount_minor, claims.discount_minor,
                                 claims.currency, title);

    if (auto r = s.one_click.record_signed(claims); !r) AG_CHECK(answer_error(r.error()));

    // spec §3.3: iat at request time (a changeset issued before the purchase completed is
    // refused), in seconds.
    json changeset{{"iss", s.api_key},
                   {"jti", changeset_id(claims.token_id)},
                   {"iat", s.clock.now_s()},
                   {"sub", caller.order_key},
                   {"changes", std::move(changes)}};
    return Reply{200, {{"token", jwt::sign(changeset, secrets.front())}}};
  }

  // ---- POST /checkout/accept ----

  Answer<Reply> accept(const httplib::Request& req) const {
    json body = AG_TRY(parse_body(req));
    Caller caller = AG_TRY(authenticate(req, body));
    if (caller.surface != kThankYou) {
      return refuse(ErrorCode::kInvalidArgument,
                    "accept is for the Thank-you page (surface \"thank_you\"); the post-purchase "
                    "page signs a changeset instead");
    }
    bool expired = false;
    OfferTokenClaims claims = AG_TRY(verify_offer(body, caller, &expired));
    ShopRecord shop = AG_TRY(installed_shop(caller, claims.shop_id));

    Result<AcceptOutcome> outcome;
    if (expired) {
      // Only a re-check of an accept made in time is answered now: the charge may still have
      // been settling when the window closed, and the shopper is owed its outcome.
      auto earlier = s.one_click.accepted_outcome(claims);
      if (!earlier) AG_CHECK(answer_error(earlier.error()));
      if (!*earlier) {
        s.events.add_event(offer_event_of(claims, "expire", s.clock.now_ms()));
        return refuse(403, "offer_expired", "this offer has expired");
      }
      outcome = **earlier;
    } else {
      outcome = s.one_click.accept(claims);
    }
    if (!outcome) AG_CHECK(answer_error(outcome.error()));
    json out{{"status", outcome->status}};
    if (!outcome->message.empty()) out["message"] = outcome->message;
    if (outcome->status == "requires_action" && !outcome->client_secret.empty()) {
      // For Stripe.js on the page; never logged or stored (one_click.h).
      out["clientSecret"] = outcome->client_secret;
    }
    if (outcome->status == "succeeded") {
      out["charged"] = money(outcome->charged_minor, outcome->currency);
    }
    if (outcome->replayed) out["replayed"] = true;
    // A card decline is the downsell's moment (the after_decline link); a success, the next
    // upsell's. Other outcomes are not final yet.
    if (!expired && (outcome->status == "succeeded" || outcome->status == "declined")) {
      json next = next_offer(caller, shop, claims, outcome->status == "succeeded");
      if (!next.is_null()) out["next"] = std::move(next);
    }
    return Reply{200, std::move(out)};
  }

  // ---- POST /checkout/decline ----

  Answer<Reply> decline(const httplib::Request& req) const {
    json body = AG_TRY(parse_body(req));
    Caller caller = AG_TRY(authenticate(req, body));
    OfferTokenClaims claims = AG_TRY(verify_offer(body, caller));
    ShopRecord shop = AG_TRY(installed_shop(caller, claims.shop_id));
    if (auto r = s.one_click.decline(claims); !r) AG_CHECK(answer_error(r.error()));
    json out{{"status", "declined"}};
    json next = next_offer(caller, shop, claims, /*accepted=*/false);
    if (!next.is_null()) out["next"] = std::move(next);
    return Reply{200, std::move(out)};
  }
};

}  // namespace

bool is_checkout_path(std::string_view path) {
  return path == "/checkout" || path.starts_with("/checkout/");
}

void set_cors_headers(httplib::Response& res) {
  // The extensions run in Shopify's sandboxed worker (origin "null" or a Shopify CDN host), not
  // on our origin; they send no cookies, so a wildcard origin gives nothing away (spec §3.3, §4).
  res.set_header("Access-Control-Allow-Origin", "*");
  res.set_header("Access-Control-Allow-Headers", "Authorization, Content-Type");
  res.set_header("Access-Control-Allow-Methods", "POST, GET, OPTIONS");
  res.set_header("Access-Control-Max-Age", "86400");
  res.set_header("Access-Control-Expose-Headers", "X-Shopify-API-Request-Failure-Reauthorize-Url");
}

void mount_checkout_routes(httplib::Server& server, CheckoutServices& services) {
  if (services.metrics) {
    services.metrics->describe("afterglow_checkout_decisions_total", Metrics::Type::kCounter,
                               "Offer decisions, by surface and result (shown, none).");
  }
  auto routes = std::make_shared<Routes>(services);
  using Method = Answer<Reply> (Routes::*)(const httplib::Request&) const;
  auto handler = [routes](Method method) {
    return [routes, method](const httplib::Request& req, httplib::Response& res) {
      set_cors_headers(res);
      res.set_header("Cache-Control", "no-store");
      Answer<Reply> r = ((*routes).*method)(req);
      if (!r) return send_error(res, r.error());
      res.status = r->status;
      res.set_content(dump(r->body), "application/json");
    };
  };
  server.Post("/checkout/offers", handler(&Routes::offers));
  server.Post("/checkout/sign-changeset", handler(&Routes::sign_changeset));
  server.Post("/checkout/accept", handler(&Routes::accept));
  server.Post("/checkout/decline", handler(&Routes::decline));
  server.Options(R"(/checkout/.*)", [](const httplib::Request&, httplib::Response& res) {
    set_cors_headers(res);
    res.status = 204;
  });
}

}  // namespace afterglow::checkout
