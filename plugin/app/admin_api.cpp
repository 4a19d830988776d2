#include "plugin/app/admin_api.h"

#include <httplib.h>

#include <charconv>
#include <nlohmann/json.hpp>

#include "checkout/charge_ledger.h"
#include "checkout/offer_events.h"
#include "checkout/offer_model.h"
#include "checkout/offer_store.h"
#include "email/flow_model.h"
#include "email/flow_store.h"
#include "email/flow_templates.h"
#include "email/messaging_reports.h"
#include "plugin/app/admin_assets.h"
#include "plugin/app/admin_auth.h"
#include "plugin/app/admin_views.h"
#include "plugin/core/http_reply.h"
#include "plugin/core/json_fields.h"
#include "plugin/core/log.h"
#include "plugin/core/shop_settings.h"

namespace afterglow::app {
namespace {

using nlohmann::json;

constexpr int kDefaultLimit = 50;
constexpr int kMaxLimit = 200;

// An error on its way to the client: the Error (its code picks the status, http_reply.h) and,
// for validation errors, every bad field.
struct ApiError {
  Error error;
  std::vector<FieldError> fields;
  ApiError(Error e) : error(std::move(e)) {}  // NOLINT: lets AG_TRY pass Result errors through
  ApiError(Error e, std::vector<FieldError> f) : error(std::move(e)), fields(std::move(f)) {}
};

struct Reply {
  int status = 200;
  json body;
};

using ApiResult = std::expected<Reply, ApiError>;
using Handler = std::function<ApiResult(const httplib::Request&, const AdminSession&)>;

std::unexpected<ApiError> bad_request(std::string message) {
  return std::unexpected(ApiError(Error{ErrorCode::kInvalidArgument, std::move(message)}));
}
std::unexpected<ApiError> not_found(std::string message) {
  return std::unexpected(ApiError(Error{ErrorCode::kNotFound, std::move(message)}));
}

// The field a validation message names: its first word, when that is a path the page knows.
std::string field_of(const std::string& message) {
  std::string first = message.substr(0, message.find(' '));
  for (std::string_view root : {"offers.", "flows.", "settings."}) {
    if (first.compare(0, root.size(), root) == 0) return first;
  }
  return "";
}

std::string dump(const json& j) {
  // Replace rather than throw on bytes that are not UTF-8 (a note copied from a provider).
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

void send_error(httplib::Response& res, const ApiError& e) {
  json err{{"code", error_code_name(e.error.code)}, {"message", e.error.message}};
  if (e.error.code == ErrorCode::kInvalidArgument) {
    std::vector<FieldError> fields = e.fields;
    if (fields.empty()) {
      std::string f = field_of(e.error.message);
      if (!f.empty()) fields.push_back(FieldError{f, e.error.message});
    }
    if (!fields.empty()) {
      err["field"] = fields.front().field;
      json list = json::array();
      for (const FieldError& fe : fields) {
        list.push_back(json{{"field", fe.field}, {"message", fe.message}});
      }
      err["fields"] = std::move(list);
    }
  }
  if (e.error.code == ErrorCode::kUnauthenticated) {
    // App Bridge fetches a fresh session token and retries once (shopify.md §1.7).
    res.set_header(kRetryInvalidSessionHeader, "1");
  }
  if (e.error.code == ErrorCode::kInternal || e.error.code == ErrorCode::kUnavailable) {
    log::error("admin api error", {{"error", e.error.message}});
  }
  res.status = http_status(e.error.code);
  res.set_content(dump(json{{"error", std::move(err)}}), "application/json");
}

std::expected<json, ApiError> parse_body(const httplib::Request& req) {
  if (req.body.empty()) return bad_request("a JSON object body is required");
  try {
    json j = json::parse(req.body);
    if (!j.is_object()) return bad_request("the body must be a JSON object");
    return j;
  } catch (const json::parse_error& e) {
    return bad_request("the body is not valid JSON (at byte " + std::to_string(e.byte) + ")");
  }
}

std::optional<int64_t> parse_positive(std::string_view s) {
  int64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || v <= 0) return std::nullopt;
  return v;
}

struct PageParams {
  int limit = kDefaultLimit;
  int64_t cursor = 0;  // an id: lists in id order continue after it, newest-first ones before it
};

std::expected<PageParams, ApiError> page_params(const httplib::Request& req) {
  PageParams p;
  if (req.has_param("limit")) {
    auto v = parse_positive(req.get_param_value("limit"));
    if (!v || *v > kMaxLimit) {
      return bad_request("limit must be an integer between 1 and " + std::to_string(kMaxLimit));
    }
    p.limit = static_cast<int>(*v);
  }
  if (req.has_param("cursor") && !req.get_param_value("cursor").empty()) {
    auto v = parse_positive(req.get_param_value("cursor"));
    if (!v) return bad_request("cursor must be the next_cursor of a previous page");
    p.cursor = *v;
  }
  return p;
}

json next_cursor(size_t returned, int limit, int64_t last_id) {
  if (returned < static_cast<size_t>(limit) || returned == 0) return nullptr;
  return std::to_string(last_id);
}

std::expected<int64_t, ApiError> path_id(const httplib::Request& req, std::string_view what) {
  auto id = req.matches.size() > 1 ? parse_positive(req.matches[1].str()) : std::nullopt;
  if (!id) return not_found("no " + std::string(what) + " " + req.matches[1].str());
  return *id;
}

// ---- offers ---------------------------------------------------------------------------------

ApiResult list_offers(Db& db, const httplib::Request& req, const AdminSession& s) {
  PageParams page = AG_TRY(page_params(req));
  std::vector<checkout::Offer> offers;
  AG_CHECK(db.read([&](Tx& tx) -> Result<void> {
    offers = AG_TRY(checkout::list_offers(tx, s.shop.id, page.cursor, page.limit));
    return {};
  }));
  json list = json::array();
  for (const checkout::Offer& o : offers) list.push_back(checkout::offer_to_json(o));
  return Reply{200,
               {{"offers", std::move(list)},
                {"next_cursor",
                 next_cursor(offers.size(), page.limit, offers.empty() ? 0 : offers.back().id)}}};
}

std::expected<checkout::Offer, ApiError> offer_from_body(const httplib::Request& req) {
  json body = AG_TRY(parse_body(req));
  std::vector<FieldError> fields;
  auto offer = checkout::offer_from_json(body, &fields);
  if (!offer) return std::unexpected(ApiError(offer.error(), std::move(fields)));
  return *offer;
}

ApiResult create_offer(Db& db, const Clock& clock, const httplib::Request& req,
                       const AdminSession& s) {
  checkout::Offer offer = AG_TRY(offer_from_body(req));
  checkout::Offer stored;
  AG_CHECK(db.write([&](Tx& tx) -> Result<void> {
    stored = AG_TRY(checkout::insert_offer(tx, s.shop.id, offer, clock.now_ms()));
    return {};
  }));
  return Reply{201, {{"offer", checkout::offer_to_json(stored)}}};
}

ApiResult get_offer(Db& db, const httplib::Request& req, const AdminSession& s) {
  int64_t id = AG_TRY(path_id(req, "offer"));
  std::optional<checkout::Offer> offer;
  AG_CHECK(db.read([&](Tx& tx) -> Result<void> {
    offer = AG_TRY(checkout::find_offer(tx, s.shop.id, id));
    return {};
  }));
  if (!offer) return not_found("no offer " + std::to_string(id));
  return Reply{200, {{"offer", checkout::offer_to_json(*offer)}}};
}

ApiResult update_offer(Db& db, const Clock& clock, const httplib::Request& req,
                       const AdminSession& s) {
  int64_t id = AG_TRY(path_id(req, "offer"));
  checkout::Offer offer = AG_TRY(offer_from_body(req));
  std::optional<checkout::Offer> stored;
  AG_CHECK(db.write([&](Tx& tx) -> Result<void> {
    stored = AG_TRY(checkout::update_offer(tx, s.shop.id, id, offer, clock.now_ms()));
    return {};
  }));
  if (!stored) return not_found("no offer " + std::to_string(id));
  return Reply{200, {{"offer", checkout::offer_to_json(*stored)}}};
}

ApiResult delete_offer(Db& db, const httplib::Request& req, const AdminSession& s) {
  int64_t id = AG_TRY(path_id(req, "offer"));
  bool deleted = false;
  AG_CHECK(db.write([&](Tx& tx) -> Result<void> {
    deleted = AG_TRY(checkout::delete_offer(tx, s.shop.id, id));
    return {};
  }));
  if (!deleted) return not_found("no offer " + std::to_string(id));
  return Reply{200, {{"deleted", id}}};
}

// ---- flows ----------------------------------------------------------------------------------

ApiResult list_flows(Db& db, const httplib::Request& req, const AdminSession& s) {
  PageParams page = AG_TRY(page_params(req));
  std::vector<email::Flow> flows;
  AG_CHECK(db.read([&](Tx& tx) -> Result<void> {
    flows = AG_TRY(email::list_flows(tx, s.shop.id, page.cursor, page.limit));
    return {};
  }));
  json list = json::array();
  for (const email::Flow& f : flows) list.push_back(email::flow_to_json(f));
  return Reply{200,
               {{"flows", std::move(list)},
                {"next_cursor",
                 next_cursor(flows.size(), page.limit, flows.empty() ? 0 : flows.back().id)}}};
}

std::expected<email::Flow, ApiError> flow_from_body(const httplib::Request& req) {
  json body = AG_TRY(parse_body(req));
  std::vector<FieldError> fields;
  auto flow = email::flow_from_json(body, &fields);
  if (!flow) return std::unexpected(ApiError(flow.error(), std::move(fields)));
  return *flow;
}

ApiResult create_flow(Db& db, const Clock& clock, const httplib::Request& req,
                      const AdminSession& s) {
  email::Flow flow = AG_TRY(flow_from_body(req));
  email::Flow stored;
  AG_CHECK(db.write([&](Tx& tx) -> Result<void> {
    stored = AG_TRY(email::insert_flow(tx, s.shop.id, flow, clock.now_ms()));
    return {};
  }));
  return Reply{201, {{"flow", email::flow_to_json(stored)}}};
}

ApiResult get_flow(Db& db, const httplib::Request& req, const AdminSession& s) {
  int64_t id = AG_TRY(path_id(req, "flow"));
  std::optional<email::Flow> flow;
  AG_CHECK(db.read([&](Tx& tx) -> Result<void> {
    flow = AG_TRY(email::find_flow(tx, s.shop.id, id));
    return {};
  }));
  if (!flow) return not_found("no flow " + std::to_string(id));
  return Reply{200, {{"flow", email::flow_to_json(*flow)}}};
}

ApiResult update_flow(Db& db, const Clock& clock, const httplib::Request& req,
                      const AdminSession& s) {
  int64_t id = AG_TRY(path_id(req, "flow"));
  email::Flow flow = AG_TRY(flow_from_body(req));
  std::optional<email::Flow> stored;
  AG_CHECK(db.write([&](Tx& tx) -> Result<void> {
    stored = AG_TRY(email::update_flow(tx, s.shop.id, id, flow, clock.now_ms()));
    return {};
  }));
  if (!stored) return not_found("no flow " + std::to_string(id));
  return Reply{200, {{"flow", email::flow_to_json(*stored)}}};
}

ApiResult delete_flow(Db& db, const httplib::Request& req, const AdminSession& s) {
  int64_t id = AG_TRY(path_id(req, "flow"));
  bool deleted = false;
  AG_CHECK(db.write([&](Tx& tx) -> Result<void> {
    deleted = AG_TRY(email::delete_flow(tx, s.shop.id, id));
    return {};
  }));
  if (!deleted) return not_found("no flow " + std::to_string(id));
  return Reply{200, {{"deleted", id}}};
}

// The seed flows (email/flow_templates.h): listed, and made into a flow of the shop with one
// call. Body {"status": "live" | "draft"} (default draft: the merchant reviews first).
ApiResult list_flow_templates() {
  json list = json::array();
  for (const email::FlowTemplate& t : email::flow_templates()) {
    list.push_back({{"key", t.key},
                    {"title", t.title},
                    {"description", t.description},
                    {"flow", email::flow_to_json(t.flow)}});
  }
  return Reply{200, {{"templates", std::move(list)}}};
}

ApiResult create_flow_from_template(Db& db, const Clock& clock, const httplib::Request& req,
                                    const AdminSession& s) {
  std::string key = req.matches.size() > 1 ? std::string(req.matches[1]) : std::string();
  const email::FlowTemplate* t = email::find_flow_template(key);
  if (!t) return not_found("no flow template " + key);
  email::Flow flow = t->flow;
  if (!req.body.empty()) {
    json body = AG_TRY(parse_body(req));
    std::string status = body.is_object() ? body.value("status", std::string("draft")) : "";
    if (status == "live") {
      flow.status = email::FlowStatus::kLive;
    } else if (status != "draft") {
      return bad_request("flow-templates.status must be live or draft");
    }
  }
  email::Flow stored;
  AG_CHECK(db.write([&](Tx& tx) -> Result<void> {
    stored = AG_TRY(email::insert_flow(tx, s.shop.id, flow, clock.now_ms()));
    return {};
  }));
  return Reply{201, {{"flow", email::flow_to_json(stored)}}};
}

// ---- settings -------------------------------------------------------------------------------

ApiResult get_settings(Db& db, const AdminSession& s) {
  ShopSettings settings;
  AG_CHECK(db.read([&](Tx& tx) -> Result<void> {
    settings = AG_TRY(load_shop_settings(tx, s.shop.id));
    return {};
  }));
  return Reply{200, {{"settings", settings_to_json(settings)}}};
}

ApiResult put_settings(Db& db, const httplib::Request& req, const AdminSession& s) {
  json body = AG_TRY(parse_body(req));
  std::vector<FieldError> fields;
  auto settings = settings_from_json(body, &fields);
  if (!settings) return std::unexpected(ApiError(settings.error(), std::move(fields)));
  AG_CHECK(db.write([&](Tx& tx) { return save_shop_settings(tx, s.shop.id, *settings); }));
  return Reply{200, {{"settings", settings_to_json(*settings)}}};
}

// ---- operations views -----------------------------------------------------------------------

json opt_json(const std::optional<int64_t>& v) { return v ? json(*v) : json(nullptr); }

ApiResult list_inbox_route(Db& db, const httplib::Request& req, const AdminSession& s) {
  PageParams page = AG_TRY(page_params(req));
  std::string state = req.get_param_value("state");
  if (!state.empty() && state != "received" && state != "processed" && state != "ignored" &&
      state != "failed" && state != "redacted") {
    return bad_request("state must be one of received, processed, ignored, failed, redacted");
  }
  std::vector<InboxEntry> entries;
  AG_CHECK(db.read([&](Tx& tx) -> Result<void> {
    entries = AG_TRY(list_inbox(tx, s.shop.domain, state, page.cursor, page.limit));
    return {};
  }));
  json list = json::array();
  for (const InboxEntry& e : entries) {
    list.push_back(json{{"id", e.id},
                        {"source", e.source},
                        {"topic", e.topic},
                        {"delivery_id", e.delivery_id},
                        {"state", e.state},
                        {"note", e.note},
                        {"received_at_ms", e.received_at_ms},
                        {"processed_at_ms", opt_json(e.processed_at_ms)}});
  }
  return Reply{200,
               {{"deliveries", std::move(list)},
                {"next_cursor", next_cursor(entries.size(), page.limit,
                                            entries.empty() ? 0 : entries.back().id)}}};
}

ApiResult list_jobs_route(Db& db, const httplib::Request& req, const AdminSession& s) {
  PageParams page = AG_TRY(page_params(req));
  std::vector<DeadJobEntry> jobs;
  AG_CHECK(db.read([&](Tx& tx) -> Result<void> {
    jobs = AG_TRY(list_dead_jobs(tx, s.shop.id, s.shop.domain, page.cursor, page.limit));
    return {};
  }));
  json list = json::array();
  for (const DeadJobEntry& j : jobs) {
    list.push_back(json{{"id", j.id},
                        {"kind", j.kind},
                        {"state", "dead"},
                        {"attempts", j.attempt},
                        {"max_attempts", j.max_attempts},
                        {"last_error", j.last_error},
                        {"created_at_ms", j.created_at_ms},
                        {"finished_at_ms", opt_json(j.finished_at_ms)}});
  }
  return Reply{
      200,
      {{"jobs", std::move(list)},
       {"next_cursor", next_cursor(jobs.size(), page.limit, jobs.empty() ? 0 : jobs.back().id)}}};
}

ApiResult retry_job_route(Db& db, JobQueue& queue, const httplib::Request& req,
                          const AdminSession& s) {
  int64_t id = AG_TRY(path_id(req, "job"));
  std::optional<std::string> state;
  AG_CHECK(db.read([&](Tx& tx) -> Result<void> {
    state = AG_TRY(shop_job_state(tx, s.shop.id, s.shop.domain, id));
    return {};
  }));
  if (!state) return not_found("no job " + std::to_string(id));
  if (*state != "dead") {
    return std::unexpected(ApiError(
        Error{ErrorCode::kConflict, "job " + std::to_string(id) + " is " + *state + ", not dead"}));
  }
  bool requeued = AG_TRY(queue.retry(id));
  if (!requeued) {
    return std::unexpected(
        ApiError(Error{ErrorCode::kConflict, "job " + std::to_string(id) + " is no longer dead"}));
  }
  return Reply{200, {{"job", {{"id", id}, {"state", "scheduled"}}}}};
}

json export_json(const ExportEntry& e) {
  return json{{"id", e.id},
              {"customer_id", opt_json(e.customer_id)},
              {"data_request_id", opt_json(e.data_request_id)},
              {"created_at_ms", e.created_at_ms},
              {"size_bytes", e.size_bytes}};
}

ApiResult list_exports_route(Db& db, const httplib::Request& req, const AdminSession& s) {
  PageParams page = AG_TRY(page_params(req));
  std::vector<ExportEntry> exports;
  AG_CHECK(db.read([&](Tx& tx) -> Result<void> {
    exports = AG_TRY(list_exports(tx, s.shop.id, page.cursor, page.limit));
    return {};
  }));
  json list = json::array();
  for (const ExportEntry& e : exports) list.push_back(export_json(e));
  return Reply{200,
               {{"exports", std::move(list)},
                {"next_cursor", next_cursor(exports.size(), page.limit,
                                            exports.empty() ? 0 : exports.back().id)}}};
}

ApiResult get_export_route(Db& db, const httplib::Request& req, const AdminSession& s) {
  int64_t id = AG_TRY(path_id(req, "export"));
  std::optional<ExportEntry> e;
  AG_CHECK(db.read([&](Tx& tx) -> Result<void> {
    e = AG_TRY(find_export(tx, s.shop.id, id));
    return {};
  }));
  if (!e) return not_found("no export " + std::to_string(id));
  json j = export_json(*e);
  j["content"] = json::parse(e->content, nullptr, false);
  if (j["content"].is_discarded()) j["content"] = e->content;
  return Reply{200, {{"export", std::move(j)}}};
}

// ---- messaging: flow funnel, one customer's messages ----------------------------------------

ApiResult flow_report_route(Db& db, const httplib::Request& req, const AdminSession& s) {
  int64_t id = AG_TRY(path_id(req, "flow"));
  json report;
  AG_CHECK(db.read([&](Tx& tx) -> Result<void> {
    report = AG_TRY(email::flow_report(tx, s.shop.id, id));
    return {};
  }));
  return Reply{200, {{"report", std::move(report)}}};
}

ApiResult customer_messaging_route(Db& db, const httplib::Request& req, const AdminSession& s) {
  int64_t id = AG_TRY(path_id(req, "customer"));
  json messaging;
  AG_CHECK(db.read([&](Tx& tx) -> Result<void> {
    messaging = AG_TRY(email::customer_messaging(tx, s.shop.id, id));
    return {};
  }));
  return Reply{200, {{"messaging", std::move(messaging)}}};
}

// ---- checkout: charges, diagnostics, analytics ----------------------------------------------

// The next cursor of a newest-first list of JSON objects with an "id".
json next_cursor_of(const json& list, int limit) {
  if (!list.is_array() || list.empty()) return nullptr;
  return next_cursor(list.size(), limit, list.back().value("id", int64_t{0}));
}

ApiResult list_charges_route(Db& db, const httplib::Request& req, const AdminSession& s) {
  PageParams page = AG_TRY(page_params(req));
  json charges;
  AG_CHECK(db.read([&](Tx& tx) -> Result<void> {
    charges = AG_TRY(checkout::list_charges(tx, s.shop.id, page.limit, page.cursor));
    return {};
  }));
  json cursor = next_cursor_of(charges, page.limit);
  return Reply{200, {{"charges", std::move(charges)}, {"next_cursor", std::move(cursor)}}};
}

ApiResult get_charge_route(Db& db, const httplib::Request& req, const AdminSession& s) {
  int64_t id = AG_TRY(path_id(req, "charge"));
  std::optional<json> charge;
  AG_CHECK(db.read([&](Tx& tx) -> Result<void> {
    charge = AG_TRY(checkout::charge_detail(tx, s.shop.id, id));
    return {};
  }));
  if (!charge) return not_found("no charge " + std::to_string(id));
  return Reply{200, {{"charge", std::move(*charge)}}};
}

// ?order=<order id or post-purchase referenceId>: every decision for that order, oldest first
// ("why was no offer shown for #1001?"). Without it: the recent decisions, newest first.
ApiResult diagnostics_route(Db& db, const httplib::Request& req, const AdminSession& s) {
  std::string order = req.get_param_value("order");
  if (req.has_param("order")) {
    if (order.empty() || order.size() > 255) {
      return bad_request("order must be an order id, its name (#1001) or a post-purchase referenceId");
    }
    constexpr std::string_view kOrderGid = "gid://shopify/Order/";
    if (order.starts_with(kOrderGid)) order.erase(0, kOrderGid.size());
    json decisions;
    AG_CHECK(db.read([&](Tx& tx) -> Result<void> {
      if (order.starts_with("#")) {
        // The name the merchant sees; decisions are keyed by the order id.
        auto row = AG_TRY(tx.query_one("SELECT order_id FROM orders WHERE shop_id = ? AND name = ?",
                                       {s.shop.id, order}));
        if (row) order = std::to_string(row->i64(0));
      }
      decisions = AG_TRY(checkout::decisions_for_order(tx, s.shop.id, order));
      return {};
    }));
    return Reply{200, {{"order", order}, {"decisions", std::move(decisions)}}};
  }
  PageParams page = AG_TRY(page_params(req));
  json decisions;
  AG_CHECK(db.read([&](Tx& tx) -> Result<void> {
    decisions = AG_TRY(checkout::recent_decisions(tx, s.shop.id, page.limit, page.cursor));
    return {};
  }));
  json cursor = next_cursor_of(decisions, page.limit);
  return Reply{200, {{"decisions", std::move(decisions)}, {"next_cursor", std::move(cursor)}}};
}

ApiResult analytics_route(Db& db, const AdminSession& s) {
  json stats;
  AG_CHECK(db.read([&](Tx& tx) -> Result<void> {
    stats = AG_TRY(checkout::offer_stats(tx, s.shop.id));
    return {};
  }));
  return Reply{200, {{"offers", std::move(stats)}}};
}

// ---- the page -------------------------------------------------------------------------------

const AdminAsset* find_asset(std::string_view name) {
  for (const AdminAsset& a : admin_assets()) {
    if (a.name == name) return &a;
  }
  return nullptr;
}

std::string content_type_of(std::string_view name) {
  if (name.ends_with(".html")) return "text/html; charset=utf-8";
  if (name.ends_with(".js")) return "text/javascript; charset=utf-8";
  if (name.ends_with(".css")) return "text/css; charset=utf-8";
  return "application/octet-stream";
}

std::string html_attr(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

}  // namespace

AdminRoutes::AdminRoutes(const Config& config, Db& db, JobQueue& queue, const Clock& clock)
    : config_(config),
      db_(db),
      queue_(queue),
      clock_(clock),
      auth_(std::make_unique<AdminAuth>(config, db, clock)) {
  auth_->print_dev_login_link();
}

AdminRoutes::~AdminRoutes() = default;

void AdminRoutes::mount(httplib::Server& s) {
  AdminAuth* auth = auth_.get();
  auto guarded = [auth](Handler h) {
    return [auth, h = std::move(h)](const httplib::Request& req, httplib::Response& res) {
      res.set_header("Cache-Control", "no-store");
      auto session = auth->authenticate(req.get_header_value("Authorization"));
      if (!session) return send_error(res, ApiError(session.error()));
      ApiResult r = h(req, *session);
      if (!r) return send_error(res, r.error());
      res.status = r->status;
      res.set_content(dump(r->body), "application/json");
    };
  };
  Db& db = db_;
  const Clock& clock = clock_;
  JobQueue& queue = queue_;
  using Req = const httplib::Request&;
  using Ses = const AdminSession&;

  s.Get("/api/admin/session", guarded([](Req, Ses ses) -> ApiResult {
          return Reply{200, {{"shop", ses.shop.domain}, {"development", ses.development}}};
        }));

  s.Get("/api/admin/offers", guarded([&db](Req r, Ses ses) { return list_offers(db, r, ses); }));
  s.Post("/api/admin/offers",
         guarded([&db, &clock](Req r, Ses ses) { return create_offer(db, clock, r, ses); }));
  s.Get(R"(/api/admin/offers/([^/]+))",
        guarded([&db](Req r, Ses ses) { return get_offer(db, r, ses); }));
  s.Put(R"(/api/admin/offers/([^/]+))",
        guarded([&db, &clock](Req r, Ses ses) { return update_offer(db, clock, r, ses); }));
  s.Delete(R"(/api/admin/offers/([^/]+))",
           guarded([&db](Req r, Ses ses) { return delete_offer(db, r, ses); }));

  s.Get("/api/admin/flows", guarded([&db](Req r, Ses ses) { return list_flows(db, r, ses); }));
  s.Post("/api/admin/flows",
         guarded([&db, &clock](Req r, Ses ses) { return create_flow(db, clock, r, ses); }));
  s.Get(R"(/api/admin/flows/([^/]+))",
        guarded([&db](Req r, Ses ses) { return get_flow(db, r, ses); }));
  s.Put(R"(/api/admin/flows/([^/]+))",
        guarded([&db, &clock](Req r, Ses ses) { return update_flow(db, clock, r, ses); }));
  s.Delete(R"(/api/admin/flows/([^/]+))",
           guarded([&db](Req r, Ses ses) { return delete_flow(db, r, ses); }));

  s.Get("/api/admin/flow-templates", guarded([](Req, Ses) { return list_flow_templates(); }));
  s.Post(R"(/api/admin/flow-templates/([a-z0-9_]+))",
         guarded([&db, &clock](Req r, Ses ses) {
           return create_flow_from_template(db, clock, r, ses);
         }));

  s.Get("/api/admin/settings", guarded([&db](Req, Ses ses) { return get_settings(db, ses); }));
  s.Put("/api/admin/settings", guarded([&db](Req r, Ses ses) { return put_settings(db, r, ses); }));

  s.Get("/api/admin/inbox",
        guarded([&db](Req r, Ses ses) { return list_inbox_route(db, r, ses); }));
  s.Get("/api/admin/jobs", guarded([&db](Req r, Ses ses) { return list_jobs_route(db, r, ses); }));
  s.Post(R"(/api/admin/jobs/([^/]+)/retry)",
         guarded([&db, &queue](Req r, Ses ses) { return retry_job_route(db, queue, r, ses); }));
  s.Get("/api/admin/exports",
        guarded([&db](Req r, Ses ses) { return list_exports_route(db, r, ses); }));
  s.Get("/api/admin/charges",
        guarded([&db](Req r, Ses ses) { return list_charges_route(db, r, ses); }));
  s.Get(R"(/api/admin/charges/([^/]+))",
        guarded([&db](Req r, Ses ses) { return get_charge_route(db, r, ses); }));
  s.Get("/api/admin/diagnostics",
        guarded([&db](Req r, Ses ses) { return diagnostics_route(db, r, ses); }));
  s.Get("/api/admin/analytics", guarded([&db](Req, Ses ses) { return analytics_route(db, ses); }));
  s.Get(R"(/api/admin/exports/([^/]+))",
        guarded([&db](Req r, Ses ses) { return get_export_route(db, r, ses); }));
  s.Get(R"(/api/admin/flows/([^/]+)/report)",
        guarded([&db](Req r, Ses ses) { return flow_report_route(db, r, ses); }));
  s.Get(R"(/api/admin/customers/([^/]+)/messaging)",
        guarded([&db](Req r, Ses ses) { return customer_messaging_route(db, r, ses); }));

  if (config_.dev_mode) {
    // Exists only in development: without DEV_MODE this path is an unknown route (404).
    s.Post("/api/admin/dev-login", [auth](const httplib::Request& req, httplib::Response& res) {
      res.set_header("Cache-Control", "no-store");
      auto body = parse_body(req);
      if (!body) return send_error(res, body.error());
      auto code = body->find("code");
      if (code == body->end() || !code->is_string()) {
        return send_error(res, ApiError(Error{ErrorCode::kInvalidArgument,
                                              "code is required: the login= part of the link"}));
      }
      auto session = auth->exchange_dev_login(code->get<std::string>());
      if (!session) return send_error(res, ApiError(session.error()));
      res.set_content(dump(json{{"token", session->token},
                                {"shop", session->shop_domain},
                                {"expires_at_ms", session->expires_at_ms}}),
                      "application/json");
    });
  }

  // The page. It holds no data of its own: everything comes from /api/admin with a session token,
  // so serving it needs none.
  const std::string api_key = config_.api_key;
  s.Get("/admin", [api_key](const httplib::Request& req, httplib::Response& res) {
    const AdminAsset* index = find_asset("index.html");
    if (!index) return reply_error(res, ErrorCode::kInternal, "the admin page is not built in");
    std::string html(index->content);
    std::string shop = req.get_param_value("shop");
    bool embedded = req.has_param("host") || req.get_param_value("embedded") == "1";
    std::string ancestors = "'none'";
    if (is_shop_domain(shop))
      ancestors = "https://" + shop + " https://admin.shopify.com";
    else if (embedded)
      ancestors = "https://admin.shopify.com";
    if (embedded) {
      // Inside the platform's admin, App Bridge (from the platform's CDN, first script on the
      // page) supplies session tokens through shopify.idToken().
      std::string bridge =
          "<meta name=\"shopify-api-key\" content=\"" + html_attr(api_key) +
          "\">\n    <script src=\"https://cdn.shopify.com/shopifycloud/app-bridge.js\">"
          "</script>";
      size_t at = html.find("<!--app-bridge-->");
      if (at != std::string::npos)
        html.replace(at, std::string_view("<!--app-bridge-->").size(), bridge);
    }
    res.set_header("Cache-Control", "no-store");
    res.set_header("X-Content-Type-Options", "nosniff");
    // The login link carries a one-time code: keep it out of Referer headers.
    res.set_header("Referrer-Policy", "same-origin");
    res.set_header("Content-Security-Policy",
                   "default-src 'self'; script-src 'self' https://cdn.shopify.com; "
                   "style-src 'self'; img-src 'self' data:; connect-src 'self' "
                   "https://*.shopify.com; frame-ancestors " +
                       ancestors);
    res.set_content(html, "text/html; charset=utf-8");
  });
  s.Get(R"(/admin/([A-Za-z0-9_-]+\.(js|css)))",
        [](const httplib::Request& req, httplib::Response& res) {
          const AdminAsset* asset = find_asset(req.matches[1].str());
          if (!asset) {
            return reply_error(res, ErrorCode::kNotFound, "no file " + req.matches[1].str());
          }
          res.set_header("Cache-Control", "no-cache");
          res.set_header("X-Content-Type-Options", "nosniff");
          res.set_content(std::string(asset->content), content_type_of(asset->name));
        });
}

}  // namespace afterglow::app
