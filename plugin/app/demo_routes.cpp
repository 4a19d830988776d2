#include "plugin/app/demo_routes.h"

#include <httplib.h>

#include <nlohmann/json.hpp>

#include "checkout/charge_ledger.h"
#include "plugin/app/demo_catalog.h"
#include "plugin/core/catalog.h"
#include "plugin/core/crypto.h"
#include "plugin/core/http_reply.h"
#include "plugin/core/jwt.h"
#include "plugin/core/money.h"
#include "plugin/core/shop_store.h"

namespace afterglow::app {
namespace {

using nlohmann::json;

const AdminAsset* find_asset(std::string_view name) {
  for (const AdminAsset& a : demo_assets()) {
    if (a.name == name) return &a;
  }
  return nullptr;
}

std::string content_type(std::string_view name) {
  if (name.ends_with(".js")) return "text/javascript; charset=utf-8";
  if (name.ends_with(".css")) return "text/css; charset=utf-8";
  return "text/html; charset=utf-8";
}

void replace_all(std::string& text, std::string_view from, std::string_view to) {
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
}

// A Thank-you page session token for the demo shop, as the platform would hand the page: HS256
// with the app secret, dest = the shop's bare host, aud = the app's API key, five minutes. We
// mint it only because this is development mode (see the header): in production the platform
// signs these and we only verify them (checkout/checkout_auth.h).
std::string demo_session_token(const Config& config, const Clock& clock) {
  const int64_t now = clock.now_s();
  json claims = {{"dest", kDemoShopDomain},  // spec/shopify.md §4: no iss, no sid
                 {"aud", config.api_key},
                 {"sub", "gid://shopify/Customer/" + std::to_string(kDemoCustomerId)},
                 {"exp", now + 300},
                 {"nbf", now - 5},
                 {"iat", now},
                 {"jti", crypto::random_hex(16)}};
  return jwt::sign(claims, config.api_secret);
}

std::string variant_title(const std::optional<CatalogProduct>& p, int64_t variant_id) {
  if (!p) return "";
  for (const CatalogVariant& v : p->variants) {
    if (v.id == variant_id) return v.title;
  }
  return "";
}

// The panel's data: the order's lines as stored from the platform's webhook, the lines our
// order edits appended (charges in state `appended`: the platform acknowledged the edit and the
// payment), and the ledger.
Result<json> demo_state(Db& db) {
  json out;
  AG_CHECK(db.read([&](Tx& tx) -> Result<void> {
    auto shop = AG_TRY(find_shop(tx, kDemoShopDomain));
    if (!shop)
      return fail(ErrorCode::kNotFound, "the demo shop is not seeded (afterglow seed-demo)");
    auto order =
        AG_TRY(tx.query_one("SELECT id, name, currency, total_price, financial_status FROM orders "
                            "WHERE shop_id = ? AND order_id = ?",
                            {shop->id, kDemoOrderId}));
    if (!order) return fail(ErrorCode::kNotFound, "the demo order is not seeded");
    json lines = json::array();
    auto rows = AG_TRY(tx.query(
        "SELECT title, variant_title, quantity, price FROM order_lines WHERE order_row_id = ? "
        "ORDER BY id",
        {order->i64(0)}));
    for (const Row& r : rows) {
      lines.push_back({{"title", r.text(0)},
                       {"variant_title", r.text(1)},
                       {"quantity", r.i64(2)},
                       {"amount", r.text(3)},
                       {"added", false}});
    }
    json charges = AG_TRY(checkout::list_charges(tx, shop->id, 50, 0));
    json mine = json::array();
    json added = json::array();  // oldest charge first, like the order's own lines
    for (json& c : charges) {
      if (c["order_id"].get<int64_t>() != kDemoOrderId) continue;
      auto product = AG_TRY(load_product(tx, shop->id, c["product_id"].get<int64_t>()));
      c["product_title"] = product ? product->title : "";
      c["variant_title"] = variant_title(product, c["variant_id"].get<int64_t>());
      if (c["state"] == "appended") {
        added.insert(added.begin(), json{{"title", c["product_title"]},
                                         {"variant_title", c["variant_title"]},
                                         {"quantity", c["quantity"]},
                                         {"amount", c["amount"]},
                                         {"added", true}});
      }
      mine.push_back(std::move(c));
    }
    for (json& line : added) lines.push_back(std::move(line));
    out = {{"order",
            {{"id", kDemoOrderId},
             {"name", order->text(1)},
             {"currency", order->text(2)},
             {"total", order->text(3)},
             {"financial_status", order->text(4)},
             {"lines", std::move(lines)}}},
           {"charges", std::move(mine)}};
    return {};
  }));
  return out;
}

}  // namespace

void mount_demo_routes(httplib::Server& server, const Config& config, Db& db, const Clock& clock) {
  if (!config.dev_mode) return;
  server.Get("/demo/thank-you", [&config, &clock](const httplib::Request&, httplib::Response& res) {
    const AdminAsset* page = find_asset("thank-you.html");
    std::string html(page ? page->content : "");
    replace_all(html, "{{ORDER_GID}}", "gid://shopify/Order/" + std::to_string(kDemoOrderId));
    replace_all(html, "{{ORDER_NAME}}", kDemoOrderName);
    replace_all(html, "{{SESSION_TOKEN}}", demo_session_token(config, clock));
    res.set_header("Cache-Control", "no-store");  // the token inside lives five minutes
    res.set_header("X-Content-Type-Options", "nosniff");
    res.set_content(html, "text/html; charset=utf-8");
  });
  server.Get("/demo/state", [&db](const httplib::Request&, httplib::Response& res) {
    auto state = demo_state(db);
    if (!state) return reply_error(res, state.error());
    res.set_header("Cache-Control", "no-store");
    reply_json(res, state->dump());
  });
  server.Get(R"(/demo/([a-z-]+\.(js|css)))",
             [](const httplib::Request& req, httplib::Response& res) {
               const AdminAsset* asset = find_asset(req.matches[1].str());
               if (!asset) return reply_error(res, ErrorCode::kNotFound, "no such file");
               res.set_header("Cache-Control", "no-cache");
               res.set_header("X-Content-Type-Options", "nosniff");
               res.set_content(std::string(asset->content), content_type(asset->name));
             });
}

}  // namespace afterglow::app
