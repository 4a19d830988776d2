#include "tests/support/fake_platform.h"

#include <httplib.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <stdexcept>
#include <thread>

#include "plugin/core/crypto.h"
#include "plugin/core/jwt.h"
#include "plugin/core/money.h"
#include "plugin/core/oauth_query.h"
#include "plugin/core/time_format.h"
#include "tests/support/dev_cert.h"
#include "tests/support/temp_dir.h"

namespace afterglow::testing {
namespace {

using nlohmann::json;

constexpr const char* kInvalidToken =
    R"js({"errors":"[API] Invalid API key or access token (unrecognized login or wrong password)"})js";

std::string upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

std::string format_minor(int64_t minor, const std::string& currency) {
  int exp = currency_exponent(currency);
  bool neg = minor < 0;
  uint64_t v = neg ? static_cast<uint64_t>(-minor) : static_cast<uint64_t>(minor);
  std::string digits = std::to_string(v);
  if (exp > 0) {
    while (digits.size() <= static_cast<size_t>(exp)) digits.insert(0, "0");
    digits.insert(digits.size() - exp, ".");
  }
  return (neg ? "-" : "") + digits;
}

json money_bag(int64_t minor, const std::string& currency) {
  return {{"amount", format_minor(minor, currency)}, {"currencyCode", currency}};
}

std::optional<int64_t> gid_tail(const json& v) {
  if (!v.is_string()) return std::nullopt;
  return gid_number(v.get<std::string>());
}

}  // namespace

struct FakePlatform::State {
  struct RefreshRecord {
    std::string shop;
    int64_t expires_at_ms = 0;
    bool used = false;        // has produced a successor
    bool retired = false;     // refused from now on
    std::string successor;    // the refresh token its use produced
    std::string predecessor;  // the refresh token whose use produced it
  };
  struct Bucket {
    bool init = false;
    double available = 0;
    int64_t at_ms = 0;
  };
  struct ShopData {
    std::string currency = "USD";
    std::map<int64_t, CatalogProduct> products;
    std::map<int64_t, FakeOrder> orders;
    std::set<std::string> codes;
    std::string latest_access, latest_refresh;
    Bucket bucket;
  };
  struct CalcLine {
    std::string id;
    int64_t variant_id = 0;
    int quantity = 0;
    int64_t unit_minor = 0;
    int64_t discount_minor = 0;
  };
  struct CalcOrder {
    std::string shop;
    int64_t order_id = 0;
    std::vector<CalcLine> lines;
    bool committed = false;
  };
  struct Fault {
    int status = 200;
    bool throttled = false;
    std::optional<int> retry_after_s;
    std::string operation;  // "" = any
  };

  Options options;
  TempDir dir{"afterglow-fake-platform"};
  DevCertificate cert;
  std::unique_ptr<httplib::SSLServer> server;
  std::thread thread;
  int port = 0;

  mutable std::mutex mu;
  std::condition_variable cv;
  std::map<std::string, ShopData, std::less<>> shops;
  std::map<std::string, std::pair<std::string, int64_t>> access_tokens;  // token -> shop, expiry
  std::map<std::string, RefreshRecord> refresh_tokens;
  std::map<std::string, CalcOrder> calcs;
  std::deque<Fault> faults;
  int token_fail_status = 0;
  int token_fail_times = 0;
  bool hold = false;
  int refresh_requests = 0;
  std::string held_operation;  // GraphQL requests for this root field wait until released
  int held_requests = 0;
  std::vector<RecordedRequest> recorded;
  int64_t counter = 1000;

  explicit State(Options o) : options(std::move(o)) {}

  const Clock& clock() const {
    return options.clock ? *options.clock : static_cast<const Clock&>(SystemClock::instance());
  }

  std::string next_id() { return std::to_string(++counter); }

  // --- tokens (mu held) ---
  json issue_pair(const std::string& shop, bool expiring) {
    ShopData& s = shops[shop];
    const int64_t now = clock().now_ms();
    std::string access = "shpat_" + crypto::random_hex(16);
    json out = {{"access_token", access}, {"scope", options.scope}};
    if (expiring) {
      access_tokens[access] = {shop, now + options.access_token_ttl_s * 1000};
      std::string refresh = "shprt_" + crypto::random_hex(16);
      refresh_tokens[refresh] = {shop, now + options.refresh_token_ttl_s * 1000, false, false, "",
                                 ""};
      out["expires_in"] = options.access_token_ttl_s;
      out["refresh_token"] = refresh;
      out["refresh_token_expires_in"] = options.refresh_token_ttl_s;
      s.latest_refresh = refresh;
    } else {
      access_tokens[access] = {shop, INT64_MAX};
      s.latest_refresh.clear();
    }
    s.latest_access = access;
    return out;
  }

  bool token_valid(const std::string& shop, const std::string& token) const {
    auto it = access_tokens.find(token);
    return it != access_tokens.end() && it->second.first == shop &&
           clock().now_ms() < it->second.second;
  }

  // --- bucket (mu held) ---
  double refill(ShopData& s) {
    const int64_t now = clock().now_ms();
    if (!s.bucket.init) {
      s.bucket = {true, options.bucket_maximum, now};
    }
    s.bucket.available =
        std::min(options.bucket_maximum,
                 s.bucket.available + options.bucket_restore_rate *
                                          static_cast<double>(now - s.bucket.at_ms) / 1000.0);
    s.bucket.at_ms = now;
    return s.bucket.available;
  }

  json cost(const ShopData& s, int requested, std::optional<int> actual) const {
    return {{"requestedQueryCost", requested},
            {"actualQueryCost", actual ? json(*actual) : json(nullptr)},
            {"throttleStatus",
             {{"maximumAvailable", options.bucket_maximum},
              {"currentlyAvailable", s.bucket.available},
              {"restoreRate", options.bucket_restore_rate}}}};
  }

  void record(const httplib::Request& req, std::string shop, std::string kind, int status) {
    RecordedRequest r;
    r.method = req.method;
    r.shop = std::move(shop);
    r.kind = std::move(kind);
    r.access_token = req.get_header_value("X-Shopify-Access-Token");
    r.body = req.body;
    r.status = status;
    recorded.push_back(std::move(r));
    cv.notify_all();
  }

  std::string callback_query(const std::string& shop, const std::string& state,
                             const std::string& code) {
    std::string name = shop.substr(0, shop.find('.'));
    std::string host = crypto::base64_encode("admin.shopify.com/store/" + name);
    while (!host.empty() && host.back() == '=') host.pop_back();
    oauth::QueryParams params = {{"code", code},
                                 {"host", host},
                                 {"shop", shop},
                                 {"state", state},
                                 {"timestamp", std::to_string(clock().now_s())}};
    params.emplace_back("hmac", oauth::query_hmac(params, options.client_secret));
    std::string q;
    for (const auto& [k, v] : params) {
      if (!q.empty()) q += "&";
      q += oauth::form_encode(k) + "=" + oauth::form_encode(v);
    }
    return q;
  }

  // --- handlers ---
  void authorize(const httplib::Request& req, httplib::Response& res, const std::string& shop) {
    std::lock_guard<std::mutex> lock(mu);
    std::string redirect = req.get_param_value("redirect_uri");
    if (req.get_param_value("client_id") != options.client_id || redirect.empty()) {
      res.status = 400;
      res.set_content(R"({"error":"invalid_request"})", "application/json");
      record(req, shop, "authorize", 400);
      return;
    }
    std::string code = crypto::random_hex(16);
    shops[shop].codes.insert(code);
    res.status = 302;
    res.set_header("Location",
                   redirect + "?" + callback_query(shop, req.get_param_value("state"), code));
    record(req, shop, "authorize", 302);
  }

  void token(const httplib::Request& req, httplib::Response& res, const std::string& shop) {
    json body = json::parse(req.body, nullptr, false);
    if (!body.is_object()) {
      body = json::object();
      if (auto form = oauth::parse_query(req.body)) {
        for (const auto& [k, v] : *form) body[k] = v;
      }
    }
    auto field = [&](const char* k) {
      return body.contains(k) && body[k].is_string() ? body[k].get<std::string>() : std::string();
    };
    const std::string grant = field("grant_type");
    std::string kind = field("code").empty() ? "token:invalid" : "token:authorization_code";
    if (grant == "refresh_token") kind = "token:refresh_token";
    if (grant == "urn:ietf:params:oauth:grant-type:token-exchange") kind = "token:token_exchange";

    std::unique_lock<std::mutex> lock(mu);
    if (kind == "token:refresh_token") {
      ++refresh_requests;
      cv.notify_all();
      cv.wait(lock, [&] { return !hold; });
    }
    auto answer = [&](int status, json j) {
      res.status = status;
      res.set_content(j.dump(), "application/json");
      record(req, shop, kind, status);
    };
    if (token_fail_times > 0) {
      --token_fail_times;
      return answer(token_fail_status, {{"error", "server_error"}});
    }
    if (field("client_id") != options.client_id ||
        field("client_secret") != options.client_secret || options.client_secret.empty()) {
      return answer(400, {{"error", "invalid_client"}});
    }
    const bool expiring = field("expiring") == "1" || kind == "token:refresh_token";
    if (kind == "token:authorization_code") {
      ShopData& s = shops[shop];
      auto it = s.codes.find(field("code"));
      if (it == s.codes.end()) {
        return answer(400, {{"error", "invalid_request"},
                            {"error_description",
                             "The authorization code was not found or "
                             "was already used"}});
      }
      s.codes.erase(it);
      return answer(200, issue_pair(shop, expiring));
    }
    if (kind == "token:refresh_token") {
      auto it = refresh_tokens.find(field("refresh_token"));
      if (it == refresh_tokens.end() || it->second.shop != shop || it->second.retired ||
          clock().now_ms() >= it->second.expires_at_ms) {
        return answer(400, {{"error", "invalid_grant"}});
      }
      std::string used = it->first;
      RefreshRecord& rec = it->second;
      // Using this token retires its predecessor; reusing it retires the successor it produced.
      if (!rec.predecessor.empty()) refresh_tokens[rec.predecessor].retired = true;
      if (!rec.successor.empty()) refresh_tokens[rec.successor].retired = true;
      json pair = issue_pair(shop, true);
      RefreshRecord& again = refresh_tokens[used];
      again.used = true;
      again.successor = pair["refresh_token"];
      refresh_tokens[pair["refresh_token"]].predecessor = used;
      return answer(200, pair);
    }
    if (kind == "token:token_exchange") {
      jwt::VerifyOptions vo;
      vo.audience = options.client_id;
      vo.require_exp = true;
      auto claims = jwt::verify(field("subject_token"), options.client_secret, vo, clock());
      bool ok = claims &&
                field("subject_token_type") == "urn:ietf:params:oauth:token-type:id_token" &&
                (*claims).value("dest", "") == "https://" + shop;
      if (!ok) return answer(400, {{"error", "invalid_subject_token"}});
      return answer(200, issue_pair(shop, expiring));
    }
    return answer(400, {{"error", "unsupported_grant_type"}});
  }

  void graphql(const httplib::Request& req, httplib::Response& res, const std::string& shop) {
    std::unique_lock<std::mutex> lock(mu);
    json body = json::parse(req.body, nullptr, false);
    std::string query = body.is_object() && body.contains("query") && body["query"].is_string()
                            ? body["query"].get<std::string>()
                            : "";
    json vars = body.is_object() && body.contains("variables") && body["variables"].is_object()
                    ? body["variables"]
                    : json::object();
    std::string op = "unknown";
    for (const char* name :
         {"orderEditBegin", "orderEditAddVariant", "orderEditAddLineItemDiscount",
          "orderEditCommit", "orderMarkAsPaid", "products(", "product("}) {
      if (query.find(name) != std::string::npos) {
        op = name;
        if (op.back() == '(') op.pop_back();
        break;
      }
    }
    const std::string kind = "graphql:" + op;
    if (!held_operation.empty() && op == held_operation) {
      ++held_requests;
      cv.notify_all();
      cv.wait(lock, [&] { return held_operation != op; });
    }
    auto answer = [&](int status, const std::string& text) {
      res.status = status;
      res.set_content(text, "application/json");
      record(req, shop, kind, status);
    };
    if (!token_valid(shop, req.get_header_value("X-Shopify-Access-Token"))) {
      return answer(401, kInvalidToken);
    }
    ShopData& s = shops[shop];
    const bool mutation = op.rfind("orderEdit", 0) == 0 || op == "orderMarkAsPaid";
    const int requested = mutation ? 10 : op == "products" ? 880 : 220;
    refill(s);
    auto fault = std::find_if(faults.begin(), faults.end(), [&](const Fault& f) {
      return f.operation.empty() || f.operation == op;
    });
    if (fault != faults.end()) {
      Fault f = *fault;
      faults.erase(fault);
      if (f.throttled) {
        json j = {{"errors",
                   {{{"message", "Throttled"},
                     {"extensions",
                      {{"code", "THROTTLED"},
                       {"documentation", "https://shopify.dev/api/usage/rate-limits"}}}}}},
                  {"extensions", {{"cost", cost(s, requested, std::nullopt)}}}};
        return answer(200, j.dump());
      }
      if (f.retry_after_s) res.set_header("Retry-After", std::to_string(*f.retry_after_s));
      if (f.status == 401) return answer(401, kInvalidToken);
      if (f.status == 429) {
        return answer(429, R"({"errors":"Exceeded 2 calls per second for api client. Reduce )"
                           R"(request rates to resume uninterrupted service."})");
      }
      return answer(f.status, R"({"errors":"Internal Server Error"})");
    }
    if (s.bucket.available < requested) {
      json j = {{"errors", {{{"message", "Throttled"}, {"extensions", {{"code", "THROTTLED"}}}}}},
                {"extensions", {{"cost", cost(s, requested, std::nullopt)}}}};
      return answer(200, j.dump());
    }
    s.bucket.available -= requested;
    json data = json::object();
    if (query.find("shop {") != std::string::npos) data["shop"] = {{"currencyCode", s.currency}};
    if (op == "products") {
      products(s, query, vars, data);
    } else if (op == "product") {
      auto id = gid_tail(vars.value("id", json()));
      auto it = id ? s.products.find(*id) : s.products.end();
      data["product"] = it == s.products.end() ? json(nullptr) : product_node(it->second);
    } else if (mutation) {
      data[op] = mutate(shop, s, op, vars);
    } else {
      json j = {{"errors", {{{"message", "Field is not supported by the fake"}}}}};
      return answer(200, j.dump());
    }
    json j = {{"data", data}, {"extensions", {{"cost", cost(s, requested, requested)}}}};
    answer(200, j.dump());
  }

  json product_node(const CatalogProduct& p) const {
    json collections = json::array();
    for (const auto& c : p.collections) {
      collections.push_back(
          {{"id", "gid://shopify/Collection/" + std::to_string(c.id)}, {"title", c.title}});
    }
    json variants = json::array();
    for (const auto& v : p.variants) {
      variants.push_back(
          {{"id", variant_gid(v.id)},
           {"title", v.title},
           {"sku", v.sku.empty() ? json(nullptr) : json(v.sku)},
           {"position", v.position},
           {"price", v.price},
           {"compareAtPrice", v.compare_at_price ? json(*v.compare_at_price) : json(nullptr)},
           {"inventoryQuantity",
            v.inventory_quantity ? json(*v.inventory_quantity) : json(nullptr)},
           {"availableForSale", v.available},
           {"image", v.image_url.empty() ? json(nullptr) : json{{"url", v.image_url}}},
           {"inventoryItem",
            {{"unitCost", v.unit_cost ? json{{"amount", *v.unit_cost}} : json(nullptr)}}}});
    }
    return {{"id", product_gid(p.id)},
            {"title", p.title},
            {"handle", p.handle},
            {"status", upper(p.status.empty() ? "active" : p.status)},
            {"tags", p.tags},
            {"updatedAt", format_iso8601_utc(p.updated_at_ms)},
            {"featuredMedia", p.image_url.empty()
                                  ? json(nullptr)
                                  : json{{"preview", {{"image", {{"url", p.image_url}}}}}}},
            {"collections", {{"nodes", collections}}},
            {"variants", {{"nodes", variants}}}};
  }

  void products(const ShopData& s, const std::string& query, const json& vars, json& data) const {
    size_t first = 50;
    std::smatch m;
    static const std::regex kFirst(R"(products\(first:\s*(\d+))");
    if (std::regex_search(query, m, kFirst)) first = std::stoul(m[1]);
    size_t start = 0;
    if (vars.contains("cursor") && vars["cursor"].is_string()) {
      start = std::stoul(vars["cursor"].get<std::string>().substr(1));
    }
    json nodes = json::array();
    size_t i = 0;
    for (const auto& [id, p] : s.products) {
      if (i >= start && i < start + first) nodes.push_back(product_node(p));
      ++i;
    }
    bool more = start + first < s.products.size();
    data["products"] = {
        {"pageInfo",
         {{"hasNextPage", more},
          {"endCursor", more ? json("c" + std::to_string(start + first)) : json(nullptr)}}},
        {"nodes", nodes}};
  }

  std::optional<int64_t> variant_price(const ShopData& s, int64_t variant_id, bool* available) {
    for (const auto& [id, p] : s.products) {
      for (const auto& v : p.variants) {
        if (v.id != variant_id) continue;
        *available = v.available;
        auto minor = parse_money(v.price, s.currency);
        return minor ? std::optional<int64_t>(*minor) : std::nullopt;
      }
    }
    return std::nullopt;
  }

  json outstanding(const CalcOrder& c, const std::string& currency) const {
    int64_t total = 0;
    for (const auto& l : c.lines) total += l.unit_minor * l.quantity - l.discount_minor;
    auto it = shops.find(c.shop);
    if (it != shops.end()) {
      auto o = it->second.orders.find(c.order_id);
      if (o != it->second.orders.end()) total += o->second.outstanding_minor;
    }
    return {{"shopMoney", money_bag(total, currency)},
            {"presentmentMoney", money_bag(total, currency)}};
  }

  json mutate(const std::string& shop, ShopData& s, const std::string& op, const json& vars) {
    auto user_error = [](std::vector<std::string> field, std::string message) {
      return json{{"field", field}, {"message", message}};
    };
    json errors = json::array();
    if (op == "orderEditBegin") {
      auto id = gid_tail(vars.value("id", json()));
      if (!id || !s.orders.count(*id)) {
        errors.push_back(user_error({"id"}, "The order does not exist."));
        return {{"calculatedOrder", nullptr}, {"userErrors", errors}};
      }
      std::string calc = "gid://shopify/CalculatedOrder/" + next_id();
      calcs[calc] = CalcOrder{shop, *id, {}, false};
      return {{"calculatedOrder",
               {{"id", calc}, {"totalOutstandingSet", outstanding(calcs[calc], s.currency)}}},
              {"userErrors", errors}};
    }
    auto calc_it = calcs.find(vars.value("id", ""));
    if (op == "orderMarkAsPaid") {
      std::optional<int64_t> id;
      if (vars.contains("input") && vars["input"].is_object()) {
        id = gid_tail(vars["input"].value("id", json()));
      }
      auto o = id ? s.orders.find(*id) : s.orders.end();
      if (o == s.orders.end()) {
        errors.push_back(user_error({"id"}, "Order does not exist."));
        return {{"order", nullptr}, {"userErrors", errors}};
      }
      if (o->second.outstanding_minor <= 0) {
        errors.push_back(user_error({"id"}, "Order cannot be marked as paid."));
        return {{"order", nullptr}, {"userErrors", errors}};
      }
      o->second.outstanding_minor = 0;
      o->second.financial_status = "PAID";
      ++o->second.marked_paid;
      return {{"order",
               {{"id", "gid://shopify/Order/" + std::to_string(*id)},
                {"displayFinancialStatus", "PAID"}}},
              {"userErrors", errors}};
    }
    if (calc_it == calcs.end() || calc_it->second.shop != shop || calc_it->second.committed) {
      errors.push_back(user_error({"id"}, "The calculated order does not exist or was committed."));
      return {{"calculatedOrder", nullptr}, {"userErrors", errors}};
    }
    CalcOrder& c = calc_it->second;
    json calc_json = {{"id", calc_it->first}};
    if (op == "orderEditAddVariant") {
      auto variant = gid_tail(vars.value("variantId", json()));
      int qty = vars.value("quantity", 0);
      bool available = true;
      auto price = variant ? variant_price(s, *variant, &available) : std::nullopt;
      if (!price) {
        errors.push_back(user_error({"variantId"}, "The variant does not exist."));
      } else if (!available) {
        errors.push_back(user_error({"variantId"}, "The variant is out of stock."));
      } else if (qty <= 0) {
        errors.push_back(user_error({"quantity"}, "Quantity must be greater than 0."));
      } else {
        bool dup = false;
        for (const auto& l : c.lines) dup = dup || l.variant_id == *variant;
        if (dup && !vars.value("allowDuplicates", false)) {
          errors.push_back(user_error({"variantId"}, "The variant is already in the order."));
        }
      }
      if (!errors.empty()) {
        return {
            {"calculatedLineItem", nullptr}, {"calculatedOrder", nullptr}, {"userErrors", errors}};
      }
      std::string line = "gid://shopify/CalculatedLineItem/" + next_id();
      c.lines.push_back({line, *variant, qty, *price, 0});
      calc_json["totalOutstandingSet"] = outstanding(c, s.currency);
      return {{"calculatedLineItem", {{"id", line}}},
              {"calculatedOrder", calc_json},
              {"userErrors", errors}};
    }
    if (op == "orderEditAddLineItemDiscount") {
      std::string line_id = vars.value("lineItemId", "");
      CalcLine* line = nullptr;
      for (auto& l : c.lines) {
        if (l.id == line_id) line = &l;
      }
      json d = vars.value("discount", json::object());
      if (!line) {
        errors.push_back(user_error({"lineItemId"}, "The line item does not exist."));
      } else if (d.contains("percentValue") && d["percentValue"].is_number()) {
        double pct = d["percentValue"].get<double>();
        line->discount_minor = static_cast<int64_t>(
            std::llround(static_cast<double>(line->unit_minor * line->quantity) * pct / 100.0));
      } else if (d.contains("fixedValue") && d["fixedValue"].is_object()) {
        auto fixed = parse_money(d["fixedValue"].value("amount", ""), s.currency);
        if (!fixed) {
          errors.push_back(user_error({"discount", "fixedValue"}, "Invalid amount."));
        } else {
          line->discount_minor = *fixed * line->quantity;
        }
      } else {
        errors.push_back(user_error({"discount"}, "A discount value is required."));
      }
      if (!errors.empty()) return {{"calculatedOrder", nullptr}, {"userErrors", errors}};
      calc_json["totalOutstandingSet"] = outstanding(c, s.currency);
      return {{"calculatedOrder", calc_json}, {"userErrors", errors}};
    }
    // orderEditCommit
    FakeOrder& o = s.orders[c.order_id];
    int64_t added = 0;
    for (const auto& l : c.lines) {
      o.lines.push_back({l.variant_id, l.quantity, l.unit_minor, l.discount_minor});
      added += l.unit_minor * l.quantity - l.discount_minor;
    }
    o.outstanding_minor += added;
    if (o.outstanding_minor > 0) o.financial_status = "PARTIALLY_PAID";
    if (vars.contains("staffNote") && vars["staffNote"].is_string()) {
      o.staff_notes.push_back(vars["staffNote"]);
    }
    ++o.commits;
    c.committed = true;
    return {{"order", {{"id", "gid://shopify/Order/" + std::to_string(c.order_id)}}},
            {"userErrors", errors}};
  }
};

FakePlatform::FakePlatform(Options options) : state_(std::make_unique<State>(std::move(options))) {
  State& st = *state_;
  st.cert = make_dev_certificate(st.dir.path());
  st.server =
      std::make_unique<httplib::SSLServer>(st.cert.cert_path.c_str(), st.cert.key_path.c_str());
  if (!st.server->is_valid()) throw std::runtime_error("fake platform: TLS setup failed");
  st.server->set_tcp_nodelay(true);
  State* s = &st;
  st.server->Get(R"(/([^/]+)/admin/oauth/authorize)",
                 [s](const httplib::Request& req, httplib::Response& res) {
                   s->authorize(req, res, req.matches[1]);
                 });
  st.server->Post(R"(/([^/]+)/admin/oauth/access_token)",
                  [s](const httplib::Request& req, httplib::Response& res) {
                    s->token(req, res, req.matches[1]);
                  });
  st.server->Post(R"(/([^/]+)/admin/api/([^/]+)/graphql\.json)",
                  [s](const httplib::Request& req, httplib::Response& res) {
                    s->graphql(req, res, req.matches[1]);
                  });
  st.port = st.server->bind_to_any_port("127.0.0.1");
  if (st.port <= 0) throw std::runtime_error("fake platform: cannot listen on 127.0.0.1");
  // The socket listens from bind on; connections wait in the backlog until the loop runs.
  st.thread = std::thread([s] { s->server->listen_after_bind(); });
}

FakePlatform::~FakePlatform() {
  release_refreshes();
  release_operation();
  state_->server->stop();
  if (state_->thread.joinable()) state_->thread.join();
}

std::string FakePlatform::base_url() const {
  return "https://127.0.0.1:" + std::to_string(state_->port);
}

std::string FakePlatform::ca_file() const { return state_->cert.cert_path; }

std::string FakePlatform::issue_code(std::string_view shop) {
  std::lock_guard<std::mutex> lock(state_->mu);
  std::string code = crypto::random_hex(16);
  state_->shops[std::string(shop)].codes.insert(code);
  return code;
}

std::string FakePlatform::signed_callback_query(std::string_view shop, std::string_view state) {
  std::string code = issue_code(shop);
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->callback_query(std::string(shop), std::string(state), code);
}

std::string FakePlatform::session_token(std::string_view shop) {
  const int64_t now = state_->clock().now_s();
  json claims = {{"iss", "https://" + std::string(shop) + "/admin"},
                 {"dest", "https://" + std::string(shop)},
                 {"aud", state_->options.client_id},
                 {"sub", "42"},
                 {"exp", now + 60},
                 {"nbf", now - 5},
                 {"iat", now},
                 {"jti", crypto::random_hex(8)},
                 {"sid", crypto::random_hex(8)}};
  return jwt::sign(claims, state_->options.client_secret);
}

std::string FakePlatform::access_token(std::string_view shop) const {
  std::lock_guard<std::mutex> lock(state_->mu);
  auto it = state_->shops.find(shop);
  return it == state_->shops.end() ? "" : it->second.latest_access;
}

std::string FakePlatform::refresh_token(std::string_view shop) const {
  std::lock_guard<std::mutex> lock(state_->mu);
  auto it = state_->shops.find(shop);
  return it == state_->shops.end() ? "" : it->second.latest_refresh;
}

void FakePlatform::revoke_access_tokens(std::string_view shop) {
  std::lock_guard<std::mutex> lock(state_->mu);
  for (auto& [token, entry] : state_->access_tokens) {
    if (entry.first == shop) entry.second = 0;
  }
}

void FakePlatform::add_access_token(std::string_view shop, std::string token) {
  std::lock_guard<std::mutex> lock(state_->mu);
  state_->access_tokens[token] = {std::string(shop), INT64_MAX};
  state_->shops[std::string(shop)].latest_access = std::move(token);
}

void FakePlatform::fail_token_endpoint(int status, int times) {
  std::lock_guard<std::mutex> lock(state_->mu);
  state_->token_fail_status = status;
  state_->token_fail_times = times;
}

void FakePlatform::hold_refreshes() {
  std::lock_guard<std::mutex> lock(state_->mu);
  state_->hold = true;
}

void FakePlatform::release_refreshes() {
  std::lock_guard<std::mutex> lock(state_->mu);
  state_->hold = false;
  state_->cv.notify_all();
}

bool FakePlatform::wait_for_refresh_requests(int n, std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(state_->mu);
  return state_->cv.wait_for(lock, timeout, [&] { return state_->refresh_requests >= n; });
}

void FakePlatform::hold_operation(std::string operation) {
  std::lock_guard<std::mutex> lock(state_->mu);
  state_->held_operation = std::move(operation);
}

void FakePlatform::release_operation() {
  std::lock_guard<std::mutex> lock(state_->mu);
  state_->held_operation.clear();
  state_->cv.notify_all();
}

bool FakePlatform::wait_for_held_requests(int n, std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(state_->mu);
  return state_->cv.wait_for(lock, timeout, [&] { return state_->held_requests >= n; });
}

void FakePlatform::throttle_next(int times) {
  std::lock_guard<std::mutex> lock(state_->mu);
  for (int i = 0; i < times; ++i) state_->faults.push_back({200, true, std::nullopt, ""});
}

void FakePlatform::fail_next(int status, int times, std::optional<int> retry_after_s,
                             std::string operation) {
  std::lock_guard<std::mutex> lock(state_->mu);
  for (int i = 0; i < times; ++i) {
    state_->faults.push_back({status, false, retry_after_s, operation});
  }
}

void FakePlatform::set_bucket_available(std::string_view shop, double available) {
  std::lock_guard<std::mutex> lock(state_->mu);
  State::ShopData& s = state_->shops[std::string(shop)];
  state_->refill(s);
  s.bucket.available = available;
}

void FakePlatform::set_currency(std::string_view shop, std::string currency) {
  std::lock_guard<std::mutex> lock(state_->mu);
  state_->shops[std::string(shop)].currency = std::move(currency);
}

void FakePlatform::put_product(std::string_view shop, const CatalogProduct& product) {
  std::lock_guard<std::mutex> lock(state_->mu);
  state_->shops[std::string(shop)].products[product.id] = product;
}

void FakePlatform::remove_product(std::string_view shop, int64_t product_id) {
  std::lock_guard<std::mutex> lock(state_->mu);
  state_->shops[std::string(shop)].products.erase(product_id);
}

void FakePlatform::add_order(std::string_view shop, int64_t order_id) {
  std::lock_guard<std::mutex> lock(state_->mu);
  FakeOrder o;
  o.id = order_id;
  state_->shops[std::string(shop)].orders[order_id] = o;
}

std::optional<FakeOrder> FakePlatform::order(std::string_view shop, int64_t order_id) const {
  std::lock_guard<std::mutex> lock(state_->mu);
  auto s = state_->shops.find(shop);
  if (s == state_->shops.end()) return std::nullopt;
  auto o = s->second.orders.find(order_id);
  if (o == s->second.orders.end()) return std::nullopt;
  return o->second;
}

std::vector<RecordedRequest> FakePlatform::requests() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->recorded;
}

int FakePlatform::count(std::string_view kind) const {
  std::lock_guard<std::mutex> lock(state_->mu);
  int n = 0;
  for (const auto& r : state_->recorded) n += r.kind == kind ? 1 : 0;
  return n;
}

void FakePlatform::clear_requests() {
  std::lock_guard<std::mutex> lock(state_->mu);
  state_->recorded.clear();
  state_->refresh_requests = 0;
}

}  // namespace afterglow::testing
