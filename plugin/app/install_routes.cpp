#include "plugin/app/install_routes.h"

#include <httplib.h>

#include "plugin/core/crypto.h"
#include "plugin/core/http_reply.h"
#include "plugin/core/log.h"
#include "plugin/core/oauth_query.h"
#include "plugin/core/platform_scopes.h"

namespace afterglow::app {
namespace {

std::string_view raw_query(const httplib::Request& req) {
  std::string_view target = req.target;
  size_t q = target.find('?');
  return q == std::string_view::npos ? std::string_view() : target.substr(q + 1);
}

// Where the merchant lands after the grant: the app inside their admin, named by `host`
// (base64 of "admin.shopify.com/store/{name}" or "{shop}/admin"), else our own page.
std::string app_home(const Config& config, const std::string& shop,
                     const std::optional<std::string>& host_param) {
  if (host_param) {
    if (auto host = oauth::decode_host(*host_param)) {
      return "https://" + *host + "/apps/" + oauth::form_encode(config.api_key);
    }
  }
  return "/admin?shop=" + oauth::form_encode(shop);
}

void redirect(httplib::Response& res, const std::string& location) {
  res.status = 302;
  res.set_header("Location", location);
  res.set_header("Cache-Control", "no-store");
}

}  // namespace

InstallRoutes::InstallRoutes(const Config& config, Db& db, JobQueue& queue, const Clock& clock,
                             PlatformServices* platform, std::function<void()> on_enqueued)
    : config_(config), clock_(clock), platform_(platform) {
  if (platform_ && platform_->ready()) {
    installer_ = std::make_unique<ShopInstaller>(db, queue, *platform_->tokens, *platform_->oauth,
                                                 clock, std::move(on_enqueued));
  }
}

void InstallRoutes::mount(httplib::Server& server) {
  // Checks shared by both routes, in the order that answers bad input before bad signatures:
  // a parseable query with a valid shop (400), then the HMAC (401), then the timestamp (400 when
  // malformed, 401 when stale). Returns the shop.
  auto verify = [this](const httplib::Request& req,
                       oauth::QueryParams& params) -> Result<std::string> {
    if (!installer_) return fail(ErrorCode::kUnavailable, kNoEncryptionKey);
    params = AG_TRY(oauth::parse_query(raw_query(req)));
    auto shop_param = oauth::find_param(params, "shop");
    if (!shop_param) return fail(ErrorCode::kInvalidArgument, "shop is missing");
    auto shop = oauth::sanitize_shop(*shop_param);
    if (!shop) {
      return fail(ErrorCode::kInvalidArgument, "shop must be a {name}.myshopify.com domain");
    }
    AG_CHECK(oauth::verify_query_hmac(params, config_.api_secret, config_.api_secret_previous));
    AG_CHECK(oauth::check_timestamp(params, clock_));
    return *shop;
  };

  auto install = [this, verify](const httplib::Request& req, httplib::Response& res) {
    oauth::QueryParams params;
    auto shop = verify(req, params);
    if (!shop) return reply_error(res, shop.error());

    if (auto id_token = oauth::find_param(params, "id_token"); id_token && !id_token->empty()) {
      // An embedded load with the platform-managed install: no consent redirect, exchange the
      // session token for offline tokens (§1.5). The token is checked here first.
      auto session = verify_session_token(*id_token, config_.api_key, config_.api_secret,
                                          config_.api_secret_previous, clock_);
      if (!session) return reply_error(res, session.error());
      if (session->shop != *shop) {
        return reply_error(res, ErrorCode::kUnauthenticated,
                           "the session token belongs to another shop");
      }
      auto installed = installer_->install_with_session_token(*shop, *id_token);
      if (!installed) return reply_error(res, installed.error());
      return redirect(res, "/admin?" + std::string(raw_query(req)));
    }

    std::string nonce = oauth::new_state_nonce();
    int64_t expires = clock_.now_s() + oauth::kStateLifetime.count();
    res.set_header(
        "Set-Cookie",
        oauth::state_set_cookie(oauth::sign_state_cookie(config_.api_secret, *shop, nonce, expires),
                                oauth::kStateLifetime));
    std::string app_url = config_.app_url;
    while (!app_url.empty() && app_url.back() == '/') app_url.pop_back();
    redirect(res, platform_->oauth->endpoints().authorize_url(
                      *shop, config_.api_key, kRequiredScopes,
                      app_url + std::string(oauth::kCallbackPath), nonce));
  };
  server.Get("/auth/install", install);
  // The app URL (application_url, the bare origin) is opened with the same signed query. Without
  // one it is a person typing the address: send them to the merchant page.
  server.Get("/", [install](const httplib::Request& req, httplib::Response& res) {
    if (raw_query(req).empty()) return redirect(res, "/admin");
    install(req, res);
  });

  server.Get(std::string(oauth::kCallbackPath), [this, verify](const httplib::Request& req,
                                                               httplib::Response& res) {
    oauth::QueryParams params;
    auto shop = verify(req, params);
    if (!shop) return reply_error(res, shop.error());
    auto code = oauth::find_param(params, "code");
    auto state = oauth::find_param(params, "state");
    if (!code || code->empty()) {
      return reply_error(res, ErrorCode::kInvalidArgument, "code is missing");
    }
    if (!state || state->empty()) {
      return reply_error(res, ErrorCode::kInvalidArgument, "state is missing");
    }
    auto cookie = oauth::cookie_value(req.get_header_value("Cookie"), oauth::kStateCookieName);
    auto nonce = oauth::open_state_cookie(config_.api_secret, *shop, cookie.value_or(""), clock_);
    if (!nonce) return reply_error(res, nonce.error());
    if (!crypto::constant_time_equal(*nonce, *state)) {
      return reply_error(res, ErrorCode::kForbidden,
                         "state does not match the one this browser was sent with");
    }
    auto installed = installer_->install_with_code(*shop, *code);
    if (!installed) {
      log::warn("install failed", {{"shop", *shop}, {"error", installed.error().message}});
      return reply_error(res, installed.error());
    }
    res.set_header("Set-Cookie", oauth::state_clear_cookie());
    redirect(res, app_home(config_, *shop, oauth::find_param(params, "host")));
  });
}

}  // namespace afterglow::app
