#include "plugin/app/server.h"

#include <httplib.h>
#include <openssl/ssl.h>

#include <chrono>
#include <thread>

#include "checkout/checkout_routes.h"
#include "plugin/app/email_services.h"
#include "plugin/core/crypto.h"
#include "plugin/core/http_reply.h"
#include "plugin/core/log.h"
#include "plugin/core/migrations.h"
#include "checkout/widget_route.h"
#include "plugin/app/admin_api.h"
#include "plugin/app/demo_routes.h"
#include "plugin/app/install_routes.h"
#include "webhooks/routes.h"

namespace afterglow::app {
namespace {

// Per-request data the logger needs; a request is served start to end on one thread.
thread_local std::chrono::steady_clock::time_point t_request_start;
thread_local std::string t_request_id;  // empty between requests (the logger clears it)

void begin_request() {
  t_request_start = std::chrono::steady_clock::now();
  t_request_id = crypto::random_hex(8);
}

// Routes are labelled by pattern, never by raw path, so metrics stay bounded.
std::string route_label(const httplib::Request& req) {
  static const char* kKnown[] = {"/healthz", "/readyz", "/metrics", "/webhooks/shopify",
                                 "/webhooks/stripe", "/bench/empty", "/", "/auth/install",
                                 "/auth/callback", "/checkout/offers",
                                 "/checkout/sign-changeset", "/checkout/accept",
                                 "/checkout/decline", "/webhooks/sms", "/webhooks/sms/status",
                                 "/events/viewed"};
  for (const char* k : kKnown) {
    if (req.path == k) return k;
  }
  // The admin API by resource ("/api/admin/offers"), never by id, so labels stay bounded.
  if (req.path.starts_with("/api/admin/")) {
    std::string resource = req.path.substr(11, req.path.find('/', 11) - 11);
    for (const char* r : {"offers", "flows", "settings", "inbox", "jobs", "exports", "session",
                          "dev-login", "charges", "diagnostics", "analytics", "customers",
                          "flow-templates"}) {
      if (resource == r) return "/api/admin/" + resource;
    }
  }
  if (req.path == "/admin" || req.path.starts_with("/admin/")) return "/admin";
  if (req.path == "/checkout/widget.js") return "/checkout/widget.js";
  if (req.path.starts_with("/demo/")) return "/demo";
  if (req.path.starts_with("/t/c/")) return "/t/c";
  if (req.path.starts_with("/t/o/")) return "/t/o";
  if (req.path.starts_with("/u/")) return "/u";
  return "other";
}

}  // namespace

struct Server::Impl {
  const Config& config;
  Db& db;
  JobQueue& queue;
  const Clock& clock;
  Metrics& metrics;
  std::function<void()> on_accepted_work;
  std::unique_ptr<httplib::SSLServer> https;
  std::unique_ptr<httplib::Server> http;
  std::thread http_thread;
  std::unique_ptr<AdminRoutes> admin;  // one for both listeners: it holds the dev login code
  PlatformServices* platform = nullptr;  // set_platform
  checkout::CheckoutServices* checkout = nullptr;  // set_checkout
  EmailServices* email = nullptr;                  // set_email
  std::unique_ptr<InstallRoutes> install;  // one for both listeners

  Impl(const Config& c, Db& d, JobQueue& q, const Clock& cl, Metrics& m, std::function<void()> cb)
      : config(c), db(d), queue(q), clock(cl), metrics(m), on_accepted_work(std::move(cb)),
        admin(std::make_unique<AdminRoutes>(c, d, q, cl)) {}

  void configure(httplib::Server& s) {
    s.set_tcp_nodelay(true);  // without it every keep-alive response waits ~40 ms (cpp.md §2.2)
    int threads = config.http_threads;
    s.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
    s.set_keep_alive_max_count(100);
    s.set_keep_alive_timeout(5);
    s.set_read_timeout(5, 0);
    s.set_write_timeout(5, 0);
    s.set_payload_max_length(static_cast<size_t>(config.max_body_bytes));

    s.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
      begin_request();
      res.set_header("X-Request-Id", t_request_id);
      // The checkout extensions read every answer cross-origin, refusals below included: without
      // these headers the browser hides a 413 behind an opaque network error.
      if (checkout::is_checkout_path(req.path)) checkout::set_cors_headers(res);
      // 0.11.4 enforces the body limit only via Content-Length and decompresses before the
      // handler sees the body (cpp.md §2.5): refuse chunked and encoded bodies outright, so the
      // limit holds and the HMAC is computed over the bytes the sender signed.
      // A refusal here leaves the body unread, and 0.11.4 would parse those bytes as the next
      // request on the kept-alive connection, so the client's next request got a stale 414/400.
      // `Connection: close` makes the client stop sending and drop the connection (the library
      // itself ignores the header; cpp.md §2.5, early rejection).
      auto refuse = [&res](ErrorCode code, const std::string& message, int status = 0) {
        reply_error(res, code, message);
        if (status != 0) res.status = status;
        res.set_header("Connection", "close");
        return httplib::Server::HandlerResponse::Handled;
      };
      if (req.has_header("Transfer-Encoding")) {
        return refuse(ErrorCode::kInvalidArgument,
                      "Transfer-Encoding is not accepted; send Content-Length");
      }
      if (req.has_header("Content-Encoding")) {
        return refuse(ErrorCode::kInvalidArgument, "Content-Encoding is not accepted");
      }
      if (req.method == "POST" || req.method == "PUT" || req.method == "PATCH") {
        if (!req.has_header("Content-Length")) {
          return refuse(ErrorCode::kInvalidArgument, "Content-Length is required", 411);
        }
        std::string len = req.get_header_value("Content-Length");
        char* end = nullptr;
        unsigned long long n = std::strtoull(len.c_str(), &end, 10);
        if (len.empty() || *end != '\0') {
          return refuse(ErrorCode::kInvalidArgument, "Content-Length is malformed");
        }
        if (n > static_cast<unsigned long long>(config.max_body_bytes)) {
          return refuse(ErrorCode::kPayloadTooLarge,
                        "body is larger than " + std::to_string(config.max_body_bytes) + " bytes");
        }
      }
      return httplib::Server::HandlerResponse::Unhandled;
    });

    s.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
      // A request the library refuses while parsing it (bad request line, 414) never reaches the
      // pre-routing handler: it gets its own id here, not an empty or the previous one's.
      if (t_request_id.empty()) begin_request();
      if (!res.body.empty()) return;  // a handler already wrote a JSON error
      switch (res.status) {
        case 404: reply_error(res, ErrorCode::kNotFound, "no route for " + req.method + " " + req.path); break;
        case 413: reply_error(res, ErrorCode::kPayloadTooLarge, "body is too large"); break;
        case 400: reply_error(res, ErrorCode::kInvalidArgument, "bad request"); break;
        default: {
          int status = res.status;
          reply_error(res, ErrorCode::kInternal, "error " + std::to_string(status));
          res.status = status;
        }
      }
      if (res.get_header_value("X-Request-Id").empty()) res.set_header("X-Request-Id", t_request_id);
    });

    s.set_exception_handler(
        [](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
          std::string what = "unknown";
          try {
            std::rethrow_exception(ep);
          } catch (const std::exception& e) {
            what = e.what();
          } catch (...) {
          }
          log::error("unhandled exception", {{"path", req.path}, {"request_id", t_request_id},
                                             {"error", what}});
          reply_error(res, ErrorCode::kInternal, "internal error");  // never echo e.what()
        });

    s.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
      double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                                     t_request_start).count();
      std::string route = route_label(req);
      std::string status = std::to_string(res.status);
      metrics.inc("afterglow_http_requests_total",
                  {{"route", route}, {"method", req.method}, {"status", status}});
      metrics.observe("afterglow_http_request_seconds", {{"route", route}, {"status", status}},
                      seconds);
      log::info("request", {{"request_id", t_request_id}, {"method", req.method},
                            {"route", route}, {"status", res.status},
                            {"duration_ms", seconds * 1000.0}, {"bytes_in", req.body.size()}});
      t_request_id.clear();  // the next request on this thread starts without one
    });

    s.Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
      reply_json(res, R"({"status":"ok"})");
    });
    s.Get("/readyz", [this](const httplib::Request&, httplib::Response& res) {
      auto current = migrations_current(db);
      if (!current) return reply_error(res, ErrorCode::kUnavailable, "database unreachable");
      if (!*current) {
        return reply_error(res, ErrorCode::kUnavailable, "migrations are not all applied");
      }
      reply_json(res, R"({"status":"ready"})");
    });
    s.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
      res.set_content(metrics.render(), "text/plain; version=0.0.4");
    });
    if (config.bench_routes) {
      s.Post("/bench/empty", [](const httplib::Request&, httplib::Response& res) {
        reply_json(res, R"({"status":"ok"})");
      });
    }
    webhooks::WebhookRoutesConfig wh{config.api_secret, config.api_secret_previous,
                                     config.stripe_webhook_secret};
    webhooks::mount_webhook_routes(s, wh, db, queue, clock, metrics, on_accepted_work);
    admin->mount(s);
    if (!install) {
      install = std::make_unique<InstallRoutes>(config, db, queue, clock, platform,
                                                on_accepted_work);
    }
    install->mount(s);
    if (checkout) checkout::mount_checkout_routes(s, *checkout);
    checkout::mount_widget_route(s);
    if (email) mount_email_routes(s, *email);
    mount_demo_routes(s, config, db, clock);  // DEV_MODE only
  }
};

Server::Server(const Config& config, Db& db, JobQueue& queue, const Clock& clock,
               Metrics& metrics, std::function<void()> on_accepted_work)
    : impl_(std::make_unique<Impl>(config, db, queue, clock, metrics, std::move(on_accepted_work))) {
  metrics.describe("afterglow_http_requests_total", Metrics::Type::kCounter,
                   "HTTP requests, by route pattern, method and status.");
  metrics.describe("afterglow_http_request_seconds", Metrics::Type::kHistogram,
                   "HTTP request latency, by route pattern and status.");
}

Server::~Server() { stop(); }

void Server::set_platform(PlatformServices* platform) { impl_->platform = platform; }

void Server::set_checkout(checkout::CheckoutServices* checkout) { impl_->checkout = checkout; }

void Server::set_email(EmailServices* email) { impl_->email = email; }

Result<std::pair<int, int>> Server::bind() {
  int https_port = -1, http_port = -1;
  const Config& c = impl_->config;
  if (!c.tls_cert.empty()) {
    impl_->https = std::make_unique<httplib::SSLServer>(c.tls_cert.c_str(), c.tls_key.c_str());
    if (!impl_->https->is_valid()) {
      return fail(ErrorCode::kInvalidArgument,
                  "TLS_CERT/TLS_KEY could not be loaded (PEM certificate chain and key)");
    }
    SSL_CTX_set_min_proto_version(impl_->https->ssl_context(), TLS1_2_VERSION);
    impl_->configure(*impl_->https);
    https_port = c.port == 0 ? impl_->https->bind_to_any_port(c.host)
                             : (impl_->https->bind_to_port(c.host, c.port) ? c.port : -1);
    if (https_port < 0) {
      return fail(ErrorCode::kUnavailable,
                  "cannot listen on " + c.host + ":" + std::to_string(c.port));
    }
  }
  if (c.http_port >= 0) {
    impl_->http = std::make_unique<httplib::Server>();
    impl_->configure(*impl_->http);
    http_port = c.http_port == 0 ? impl_->http->bind_to_any_port(c.host)
                                 : (impl_->http->bind_to_port(c.host, c.http_port) ? c.http_port : -1);
    if (http_port < 0) {
      return fail(ErrorCode::kUnavailable,
                  "cannot listen on " + c.host + ":" + std::to_string(c.http_port));
    }
  }
  return std::make_pair(https_port, http_port);
}

void Server::run() {
  if (impl_->http && impl_->https) {
    impl_->http_thread = std::thread([this] { impl_->http->listen_after_bind(); });
  }
  if (impl_->https) {
    impl_->https->listen_after_bind();
  } else if (impl_->http) {
    impl_->http->listen_after_bind();
  }
  if (impl_->http_thread.joinable()) impl_->http_thread.join();
}

void Server::stop() {
  if (impl_->https) impl_->https->stop();
  if (impl_->http) impl_->http->stop();
}

}  // namespace afterglow::app
