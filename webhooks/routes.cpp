#include "webhooks/routes.h"

#include <httplib.h>

#include <memory>
#include <nlohmann/json.hpp>

#include "plugin/core/http_reply.h"
#include "plugin/core/log.h"
#include "webhooks/inbox.h"
#include "webhooks/shopify_verifier.h"
#include "webhooks/stripe_verifier.h"

namespace afterglow::webhooks {
namespace {

constexpr size_t kMaxHeaderValue = 256;

// Whose personal data a payload carries, so customers/redact can find the stored body later.
std::optional<int64_t> subject_customer(const nlohmann::json& body, const std::string& topic) {
  auto id_of = [](const nlohmann::json& j) -> std::optional<int64_t> {
    if (j.is_number_integer()) return j.get<int64_t>();
    return std::nullopt;
  };
  auto c = body.find("customer");
  if (c != body.end() && c->is_object()) {
    auto id = c->find("id");
    if (id != c->end()) return id_of(*id);
  }
  if (topic.rfind("customers/", 0) == 0) {
    auto id = body.find("id");
    if (id != body.end()) return id_of(*id);
  }
  return std::nullopt;
}

struct Intake {
  WebhookRoutesConfig config;
  Inbox inbox;
  ShopifyVerifier shopify;
  StripeVerifier stripe;
  Metrics& metrics;
  std::function<void()> on_accepted;

  Intake(const WebhookRoutesConfig& c, Db& db, JobQueue& q, const Clock& clock, Metrics& m,
         std::function<void()> cb)
      : config(c),
        inbox(db, q, clock),
        shopify(c.api_secret, c.api_secret_previous),
        stripe(c.stripe_webhook_secret, clock),
        metrics(m),
        on_accepted(std::move(cb)) {}

  void count(const std::string& source, const std::string& topic, const char* result) {
    metrics.inc("afterglow_webhooks_received_total",
                {{"source", source}, {"topic", topic}, {"result", result}});
  }

  void reject(httplib::Response& res, const std::string& source, ErrorCode code,
              const std::string& message) {
    count(source, "unknown", "rejected");
    reply_error(res, code, message);
  }

  void store(httplib::Response& res, const Delivery& d) {
    auto r = inbox.record(d);
    if (!r) {
      log::error("webhook not stored", {{"source", d.source}, {"topic", d.topic},
                                        {"error", r.error().message}});
      count(d.source, d.topic, "error");
      // Not acknowledged, so the platform retries: nothing is lost.
      reply_error(res, ErrorCode::kUnavailable, "could not store the webhook; retry later");
      return;
    }
    bool fresh = *r == IntakeResult::kAccepted;
    count(d.source, d.topic, fresh ? "accepted" : "duplicate");
    if (fresh && on_accepted) on_accepted();
    reply_json(res, fresh ? R"({"status":"accepted"})" : R"({"status":"duplicate"})");
  }

  void shopify_route(const httplib::Request& req, httplib::Response& res) {
    const std::string hmac = req.get_header_value("X-Shopify-Hmac-Sha256");
    if (hmac.empty()) {
      return reject(res, "shopify", ErrorCode::kUnauthenticated,
                    "X-Shopify-Hmac-Sha256 header is missing");
    }
    if (!shopify.verify(req.body, hmac)) {
      return reject(res, "shopify", ErrorCode::kUnauthenticated,
                    "X-Shopify-Hmac-Sha256 does not match the body");
    }
    Delivery d;
    d.source = "shopify";
    struct Required {
      const char* header;
      std::string* field;
    } required[] = {{"X-Shopify-Topic", &d.topic},
                    {"X-Shopify-Shop-Domain", &d.shop_domain},
                    {"X-Shopify-Webhook-Id", &d.delivery_id},
                    {"X-Shopify-API-Version", &d.api_version}};
    for (const auto& r : required) {
      *r.field = req.get_header_value(r.header);
      if (r.field->empty()) {
        return reject(res, "shopify", ErrorCode::kInvalidArgument,
                      std::string(r.header) + " header is missing");
      }
      if (r.field->size() > kMaxHeaderValue) {
        return reject(res, "shopify", ErrorCode::kInvalidArgument,
                      std::string(r.header) + " header is too long");
      }
    }
    if (!valid_shop_domain(d.shop_domain)) {
      return reject(res, "shopify", ErrorCode::kInvalidArgument,
                    "X-Shopify-Shop-Domain is not a valid shop domain");
    }
    for (char& c : d.shop_domain) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    d.event_id = req.get_header_value("X-Shopify-Event-Id").substr(0, kMaxHeaderValue);
    d.triggered_at = req.get_header_value("X-Shopify-Triggered-At").substr(0, kMaxHeaderValue);
    nlohmann::json body = nlohmann::json::parse(req.body, nullptr, false);
    if (body.is_discarded() || !body.is_object()) {
      return reject(res, "shopify", ErrorCode::kInvalidArgument,
                    "body is not a JSON object");
    }
    d.subject_customer_id = subject_customer(body, d.topic);
    d.body = req.body;
    store(res, d);
  }

  void stripe_route(const httplib::Request& req, httplib::Response& res) {
    if (config.stripe_webhook_secret.empty()) {
      return reject(res, "stripe", ErrorCode::kUnauthenticated,
                    "Stripe webhooks are not configured (STRIPE_WEBHOOK_SECRET)");
    }
    auto check = stripe.verify(req.body, req.get_header_value("Stripe-Signature"));
    if (check != StripeSignatureCheck::kValid) {
      return reject(res, "stripe", ErrorCode::kUnauthenticated, describe(check));
    }
    nlohmann::json body = nlohmann::json::parse(req.body, nullptr, false);
    if (body.is_discarded() || !body.is_object()) {
      return reject(res, "stripe", ErrorCode::kInvalidArgument, "body is not a JSON object");
    }
    auto id = body.find("id");
    auto type = body.find("type");
    if (id == body.end() || !id->is_string() || id->get<std::string>().rfind("evt_", 0) != 0 ||
        id->get<std::string>().size() > kMaxHeaderValue) {
      return reject(res, "stripe", ErrorCode::kInvalidArgument, "event id (evt_…) is missing");
    }
    if (type == body.end() || !type->is_string() || type->get<std::string>().empty() ||
        type->get<std::string>().size() > kMaxHeaderValue) {
      return reject(res, "stripe", ErrorCode::kInvalidArgument, "event type is missing");
    }
    Delivery d;
    d.source = "stripe";
    d.delivery_id = id->get<std::string>();
    d.topic = type->get<std::string>();
    auto account = body.find("account");
    if (account != body.end() && account->is_string()) d.shop_domain = account->get<std::string>();
    auto version = body.find("api_version");
    if (version != body.end() && version->is_string()) d.api_version = version->get<std::string>();
    d.body = req.body;
    store(res, d);
  }
};

}  // namespace

void mount_webhook_routes(httplib::Server& server, const WebhookRoutesConfig& config, Db& db,
                          JobQueue& queue, const Clock& clock, Metrics& metrics,
                          std::function<void()> on_accepted) {
  metrics.describe("afterglow_webhooks_received_total", Metrics::Type::kCounter,
                   "Webhook deliveries received, by source, topic and result "
                   "(accepted, duplicate, rejected, error).");
  auto intake = std::make_shared<Intake>(config, db, queue, clock, metrics, std::move(on_accepted));
  server.Post("/webhooks/shopify", [intake](const httplib::Request& req, httplib::Response& res) {
    intake->shopify_route(req, res);
  });
  server.Post("/webhooks/stripe", [intake](const httplib::Request& req, httplib::Response& res) {
    intake->stripe_route(req, res);
  });
}

}  // namespace afterglow::webhooks
