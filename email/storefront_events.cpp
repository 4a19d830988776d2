#include "email/storefront_events.h"

#include <httplib.h>

#include <algorithm>
#include <charconv>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>

#include "email/triggers.h"
#include "plugin/core/crypto.h"
#include "plugin/core/http_reply.h"
#include "plugin/core/json_fields.h"
#include "plugin/core/log.h"
#include "plugin/core/oauth_query.h"
#include "plugin/core/shop_store.h"

namespace afterglow::email {
namespace {

using nlohmann::json;

// What a verified request asks for.
struct View {
  std::string shop;  // canonical domain
  std::optional<int64_t> customer_id;
  std::string email;
  std::optional<int64_t> product_id;
  std::optional<int64_t> variant_id;
  bool guest = false;  // app proxy without a logged-in customer
};

// A positive 64-bit decimal, nothing else.
std::optional<int64_t> decimal_id(std::string_view s) {
  int64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || v <= 0) return std::nullopt;
  return v;
}

// A platform id member of a JSON object: number or decimal string. Absent → nullopt; present
// but not an id → an error naming it.
Result<std::optional<int64_t>> body_id(const json& body, const char* key) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return std::optional<int64_t>();
  auto id = parse_platform_id(*it);
  if (!id) return fail(ErrorCode::kInvalidArgument, std::string(key) + " must be a platform id");
  return id;
}

json body_object(const httplib::Request& req) {
  if (req.body.empty()) return json::object();
  json j = json::parse(req.body, nullptr, /*allow_exceptions=*/false);
  return j.is_object() ? j : json();
}

bool signature_matches(std::string_view given_hex, const std::vector<std::string>& secrets,
                       const std::function<std::string(std::string_view)>& expected_for) {
  if (given_hex.empty()) return false;
  std::string given(given_hex);
  std::transform(given.begin(), given.end(), given.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  bool ok = false;
  for (const std::string& secret : secrets) {
    if (secret.empty()) continue;
    ok = crypto::constant_time_equal(given, expected_for(secret)) || ok;
  }
  return ok;
}

// (a) The app proxy: the signed query string.
Result<View> verify_app_proxy(const httplib::Request& req, const oauth::QueryParams& params,
                              const StorefrontServices& s) {
  // One value each, or the signed message would be ambiguous (the platform's library refuses
  // these duplicates too).
  for (const char* key : {"signature", "shop", "timestamp", "logged_in_customer_id"}) {
    auto n =
        std::count_if(params.begin(), params.end(), [&](const auto& p) { return p.first == key; });
    if (n > 1) return fail(ErrorCode::kInvalidArgument, std::string(key) + " appears twice");
  }
  std::string given = oauth::find_param(params, "signature").value_or("");
  if (!signature_matches(given, s.app_secrets, [&](std::string_view secret) {
        return app_proxy_signature(params, secret);
      })) {
    return fail(ErrorCode::kUnauthenticated, "the app proxy signature does not match");
  }
  AG_CHECK(oauth::check_timestamp(params, s.clock));

  View v;
  auto shop = oauth::sanitize_shop(oauth::find_param(params, "shop").value_or(""));
  if (!shop) return fail(ErrorCode::kInvalidArgument, "shop is not a myshopify.com domain");
  v.shop = *shop;
  std::string customer = oauth::find_param(params, "logged_in_customer_id").value_or("");
  if (customer.empty()) {
    v.guest = true;
    return v;
  }
  v.customer_id = decimal_id(customer);
  if (!v.customer_id) {
    return fail(ErrorCode::kInvalidArgument, "logged_in_customer_id is not a customer id");
  }
  json body = body_object(req);
  for (auto [key, out] : {std::pair{"product_id", &v.product_id}, {"variant_id", &v.variant_id}}) {
    if (auto text = oauth::find_param(params, key)) {
      *out = decimal_id(*text);
      if (!*out)
        return fail(ErrorCode::kInvalidArgument, std::string(key) + " must be a platform id");
    } else if (body.is_object()) {
      *out = AG_TRY(body_id(body, key));
    }
  }
  return v;
}

// (b) A merchant's backend: the signed JSON body.
Result<View> verify_storefront_key(const httplib::Request& req, const StorefrontServices& s) {
  json body = body_object(req);
  if (!body.is_object() || req.body.empty()) {
    return fail(ErrorCode::kInvalidArgument, "the body must be a JSON object");
  }
  auto shop_it = body.find("shop");
  auto shop = shop_it != body.end() && shop_it->is_string()
                  ? oauth::sanitize_shop(shop_it->get<std::string>())
                  : std::nullopt;
  if (!shop) return fail(ErrorCode::kInvalidArgument, "shop is not a myshopify.com domain");
  std::string given = req.get_header_value(std::string(kStorefrontSignatureHeader));
  if (!signature_matches(given, s.app_secrets, [&](std::string_view secret) {
        return crypto::to_hex(crypto::hmac_sha256(storefront_key(secret, *shop), req.body));
      })) {
    return fail(ErrorCode::kUnauthenticated, "the storefront signature does not match");
  }
  View v;
  v.shop = *shop;
  v.customer_id = AG_TRY(body_id(body, "customer_id"));
  if (auto it = body.find("email"); it != body.end() && it->is_string()) {
    v.email = it->get<std::string>();
  }
  v.product_id = AG_TRY(body_id(body, "product_id"));
  v.variant_id = AG_TRY(body_id(body, "variant_id"));
  if (!v.customer_id && normalise_address(AddressChannel::kEmail, v.email).empty()) {
    return fail(ErrorCode::kInvalidArgument, "customer_id or email is required");
  }
  return v;
}

void handle(const httplib::Request& req, httplib::Response& res, StorefrontServices& s) {
  if (req.body.size() > kStorefrontMaxBody) {
    reply_error(res, ErrorCode::kPayloadTooLarge, "the body is over 16 KB");
    return;
  }
  // The raw query, not req.params: for a form POST httplib mixes body fields into those, and
  // only the query is signed.
  std::string_view target = req.target;
  size_t q = target.find('?');
  auto params = oauth::parse_query(q == std::string_view::npos ? "" : target.substr(q + 1));
  if (!params) {
    reply_error(res, params.error());
    return;
  }
  const bool via_proxy = oauth::find_param(*params, "signature").has_value();
  if (!via_proxy && !req.has_header(std::string(kStorefrontSignatureHeader))) {
    reply_error(res, ErrorCode::kUnauthenticated,
                "sign the request (app proxy signature or X-Afterglow-Storefront-Signature)");
    return;
  }
  auto view = via_proxy ? verify_app_proxy(req, *params, s) : verify_storefront_key(req, s);
  if (!view) {
    reply_error(res, view.error());
    return;
  }
  if (view->guest) {
    res.status = 204;  // nobody to follow up with
    return;
  }
  if (!view->product_id) {
    reply_error(res, ErrorCode::kInvalidArgument, "product_id is required");
    return;
  }
  auto r = s.db.write([&](Tx& tx) -> Result<void> {
    auto shop = AG_TRY(find_shop(tx, view->shop));
    if (!shop || shop->state != kShopInstalled) {
      return fail(ErrorCode::kNotFound, "the shop does not have the app installed");
    }
    (void)AG_TRY(record_product_view(tx, shop->id, view->customer_id, view->email,
                                     *view->product_id, view->variant_id, s.clock.now_ms()));
    return {};
  });
  if (!r) {
    if (r.error().code != ErrorCode::kNotFound && r.error().code != ErrorCode::kInvalidArgument) {
      log::warn("product view not stored", {{"error", r.error().message}});
    }
    reply_error(res, r.error());
    return;
  }
  reply_json(res, R"({"status":"accepted"})", 202);
}

}  // namespace

std::string storefront_key(std::string_view app_secret, std::string_view shop_domain) {
  return crypto::to_hex(
      crypto::hmac_sha256(app_secret, "afterglow storefront v1|" + std::string(shop_domain)));
}

std::string app_proxy_message(const std::vector<std::pair<std::string, std::string>>& params) {
  std::map<std::string, std::string> joined;  // sorted by key, byte order
  for (const auto& [key, value] : params) {
    if (key == "signature") continue;
    auto [it, fresh] = joined.try_emplace(key, value);
    if (!fresh) it->second += "," + value;
  }
  std::string out;
  for (const auto& [key, value] : joined) out += key + "=" + value;
  return out;
}

std::string app_proxy_signature(const std::vector<std::pair<std::string, std::string>>& params,
                                std::string_view secret) {
  return crypto::to_hex(crypto::hmac_sha256(secret, app_proxy_message(params)));
}

void mount_storefront_events(httplib::Server& server, StorefrontServices& services) {
  StorefrontServices* s = &services;
  const std::string path(kStorefrontEventsPath);
  server.Post(path,
              [s](const httplib::Request& req, httplib::Response& res) { handle(req, res, *s); });
  server.Get(path,
             [s](const httplib::Request& req, httplib::Response& res) { handle(req, res, *s); });
}

}  // namespace afterglow::email
