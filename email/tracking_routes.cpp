#include "email/tracking_routes.h"

#include <arpa/inet.h>
#include <httplib.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>

#include "email/consent.h"
#include "email/tracking_token.h"
#include "plugin/core/http_reply.h"
#include "plugin/core/log.h"
#include "plugin/core/shop_settings.h"
#include "plugin/core/shop_store.h"

namespace afterglow::email {
namespace {

using nlohmann::json;

// An unsubscribe POST is one short pair; the page's forms a handful. Anything bigger is not ours.
constexpr size_t kMaxFormBytes = 4096;
constexpr size_t kMaxLinkChars = 8192;
constexpr int64_t kMaxClicksPerMessage = 100;
constexpr int64_t kMaxOpensPerMessage = 20;
// Security gateways (Safe Links, Mimecast, Proofpoint) follow every link as the mail arrives;
// no person reads a message and clicks within 10 s of the send.
constexpr int64_t kScannerClickWindowMs = 10'000;
// An open within 2 s of the send is a receiving server or proxy fetching images, not a person.
constexpr int64_t kPrefetchOpenWindowMs = 2'000;
// Gmail's image proxy fetches when the person opens the mail, but has also been seen fetching
// on arrival; a proxy fetch within a minute of the send is counted as that prefetch.
constexpr int64_t kGoogleProxyPrefetchMs = 60'000;
constexpr size_t kMaxDetailChars = 200;

// The 1×1 transparent GIF: header, 2-colour table, graphic control extension (transparent
// index 0), one-pixel image, trailer.
constexpr unsigned char kPixel[] = {
    0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00,
    0x00, 0xff, 0xff, 0xff, 0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00,
    0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b};
static_assert(sizeof(kPixel) == 43);

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string truncate(std::string_view s, size_t n) { return std::string(s.substr(0, n)); }

// ---- HTML -----------------------------------------------------------------------------------

std::string html_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 16);
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

constexpr std::string_view kCss =
    "*{box-sizing:border-box}"
    "body{margin:0;font:16px/1.5 -apple-system,BlinkMacSystemFont,'Segoe UI',Roboto,Helvetica,"
    "Arial,sans-serif;color:#1f2328;background:#f6f7f9}"
    "main{max-width:34rem;margin:0 auto;padding:1.5rem 1rem 3rem}"
    "h1{font-size:1.4rem;margin:0 0 .25rem}"
    "h2{font-size:1.1rem;margin:1.75rem 0 .5rem}"
    ".who{color:#57606a;margin:0 0 1rem}"
    ".notice{background:#e7f5ec;border:1px solid #9fd6b0;border-radius:8px;padding:.75rem 1rem}"
    ".warn{background:#fff4e5;border:1px solid #f0c987;border-radius:8px;padding:.75rem 1rem}"
    "fieldset{border:1px solid #d0d7de;border-radius:8px;background:#fff;margin:0 0 1rem;"
    "padding:.75rem 1rem}"
    "legend{font-weight:600;padding:0 .25rem}"
    "label{display:block;padding:.35rem 0}"
    "input[type=radio]{margin-right:.5rem;transform:scale(1.2)}"
    ".hint{color:#57606a;font-size:.9rem;margin:.25rem 0}"
    "button{font:inherit;font-weight:600;border:0;border-radius:8px;padding:.7rem 1.25rem;"
    "cursor:pointer;width:100%;max-width:20rem}"
    ".primary{background:#cf222e;color:#fff}"
    ".secondary{background:#1f2328;color:#fff}"
    "form{margin:0 0 1rem}";

std::string page(std::string_view title, std::string_view body_html) {
  std::string out =
      "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
      "<meta name=\"robots\" content=\"noindex,nofollow\"><title>";
  out += html_escape(title);
  out += "</title><style>";
  out += kCss;
  out += "</style></head><body><main>";
  out += body_html;
  out += "</main></body></html>";
  return out;
}

// ---- what every answer carries ----------------------------------------------------------------

// The origin of APP_URL ("https://host:port"), for the pages' form-action; "" when unset.
std::string origin_of(std::string_view url) {
  auto scheme = url.find("://");
  if (scheme == std::string_view::npos) return "";
  auto path = url.find('/', scheme + 3);
  return std::string(url.substr(0, path));
}

void no_store(httplib::Response& res) {
  res.set_header("Cache-Control", "no-store");
  res.set_header("X-Content-Type-Options", "nosniff");
  // The token is in our URL: never hand it to another site as a Referer.
  res.set_header("Referrer-Policy", "no-referrer");
}

void send_html(httplib::Response& res, int status, std::string html, std::string_view app_origin) {
  std::string csp =
      "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; "
      "form-action 'self'";
  if (!app_origin.empty()) {
    csp += ' ';
    csp += app_origin;
  }
  res.set_header("Content-Security-Policy", csp);
  res.status = status;
  res.set_content(std::move(html), "text/html; charset=utf-8");
}

std::string not_found_page() {
  return page("Link not valid",
              "<h1>This link is not valid</h1><p>It may have been cut short or mistyped. Try "
              "the link in the message again, or copy all of it into your browser.</p>");
}

std::string unavailable_page() {
  return page("Try again",
              "<h1>Something went wrong on our side</h1><p>Please try the link "
              "again in a minute.</p>");
}

// ---- the message a token names --------------------------------------------------------------

struct MessageRow {
  int64_t id = 0;
  int64_t shop_id = 0;
  std::optional<int64_t> customer_id;
  std::string channel;    // email | sms
  std::string recipient;  // normalised; "" after redaction
  std::string links;      // JSON list
  int64_t sent_at_ms = 0;
  int64_t enrolment_id = 0;
};

Result<std::optional<MessageRow>> load_message(Tx& tx, int64_t message_id) {
  auto row = AG_TRY(
      tx.query_one("SELECT id, shop_id, customer_id, channel, recipient, links, "
                   "COALESCE(sent_at_ms, created_at_ms), enrolment_id FROM messages WHERE id = ?",
                   {message_id}));
  if (!row) return std::optional<MessageRow>();
  MessageRow m;
  m.id = row->i64(0);
  m.shop_id = row->i64(1);
  m.customer_id = row->opt_i64(2);
  m.channel = row->text(3);
  m.recipient = row->text(4);
  m.links = row->text(5);
  m.sent_at_ms = row->i64(6);
  m.enrolment_id = row->i64(7);
  return std::optional<MessageRow>(std::move(m));
}

AddressChannel channel_of(std::string_view name) {
  return name == "sms" ? AddressChannel::kSms : AddressChannel::kEmail;
}

// An absolute http(s) URL with a host, and nothing a header or a browser could misread: no
// white space, control characters or backslashes. Anything else stored in messages.links
// (javascript:, data:, a relative path) is refused rather than redirected to.
bool safe_destination(std::string_view url) {
  if (url.size() > kMaxLinkChars) return false;
  std::string l = lower(url.substr(0, 8));
  size_t rest = 0;
  if (l.starts_with("https://")) {
    rest = 8;
  } else if (l.starts_with("http://")) {
    rest = 7;
  } else {
    return false;
  }
  if (url.size() <= rest || url[rest] == '/' || url[rest] == '?' || url[rest] == '#') return false;
  for (unsigned char c : url) {
    if (c <= 0x20 || c == 0x7f || c == '\\') return false;
  }
  return true;
}

// messages.links[index] when it is a safe destination.
std::optional<std::string> recorded_link(const MessageRow& m, int index) {
  json links = json::parse(m.links, nullptr, /*allow_exceptions=*/false);
  if (!links.is_array() || index < 0 || static_cast<size_t>(index) >= links.size()) {
    return std::nullopt;
  }
  const json& link = links[static_cast<size_t>(index)];
  if (!link.is_string() || !safe_destination(link.get_ref<const std::string&>())) {
    return std::nullopt;
  }
  return link.get<std::string>();
}

// ---- who is fetching ------------------------------------------------------------------------

bool contains_any(std::string_view haystack_lower,
                  std::initializer_list<std::string_view> needles) {
  for (std::string_view n : needles) {
    if (haystack_lower.find(n) != std::string_view::npos) return true;
  }
  return false;
}

// Link scanners, security gateways, crawlers and HTTP libraries: a person's mail client or
// browser sends none of these.
bool scanner_agent(std::string_view user_agent) {
  std::string ua = lower(user_agent);
  return contains_any(ua, {"bot",        "crawler",    "spider",         "scanner",
                           "safelinks",  "safe links", "mimecast",       "proofpoint",
                           "urldefense", "barracuda",  "symantec",       "forcepoint",
                           "trendmicro", "fireeye",    "cisco",          "headlesschrome",
                           "phantomjs",  "python-",    "go-http-client", "curl/",
                           "wget/",      "java/",      "okhttp",         "libwww",
                           "httpclient", "axios/",     "node-fetch"});
}

// Apple's networks: 17.0.0.0/8, and its IPv6 allocations 2620:149::/32 and 2a01:b740::/32.
// Mail Privacy Protection fetches every image through proxies there when the mail arrives.
bool apple_address(std::string_view address) {
  std::string a(address);
  unsigned char v4[4];
  if (inet_pton(AF_INET, a.c_str(), v4) == 1) return v4[0] == 17;
  unsigned char v6[16];
  if (inet_pton(AF_INET6, a.c_str(), v6) != 1) return false;
  static constexpr unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::equal(kMapped, kMapped + 12, v6)) return v6[12] == 17;
  return (v6[0] == 0x26 && v6[1] == 0x20 && v6[2] == 0x01 && v6[3] == 0x49) ||
         (v6[0] == 0x2a && v6[1] == 0x01 && v6[2] == 0xb7 && v6[3] == 0x40);
}

// The client's address: the socket's peer, or (behind our own proxy) the last X-Forwarded-For
// entry, which that proxy appended. Never the REMOTE_ADDR header (cpp.md §2.4).
std::string client_address(const httplib::Request& req, bool trust_forwarded_for) {
  if (trust_forwarded_for) {
    size_t n = req.get_header_value_count("X-Forwarded-For");
    if (n > 0) {
      std::string xff = req.get_header_value("X-Forwarded-For", n - 1);
      std::string_view last = xff;
      if (auto comma = last.rfind(','); comma != std::string_view::npos) {
        last.remove_prefix(comma + 1);
      }
      while (!last.empty() && last.front() == ' ') last.remove_prefix(1);
      while (!last.empty() && last.back() == ' ') last.remove_suffix(1);
      if (!last.empty()) return std::string(last);
    }
  }
  return req.remote_addr;
}

// Why a click looks automated, or "" when it looks like a person.
std::string machine_click_reason(const httplib::Request& req, const MessageRow& m, int64_t now_ms) {
  std::string ua = req.get_header_value("User-Agent");
  if (req.method == "HEAD") return "head request";
  if (ua.empty()) return "no user agent";
  if (scanner_agent(ua)) return "scanner user agent";
  if (now_ms - m.sent_at_ms < kScannerClickWindowMs) return "within 10 s of the send";
  return "";
}

std::string machine_open_reason(const httplib::Request& req, const MessageRow& m, int64_t now_ms,
                                bool trust_forwarded_for) {
  std::string ua = req.get_header_value("User-Agent");
  if (apple_address(client_address(req, trust_forwarded_for))) return "apple network address";
  // Apple's MPP proxy sends exactly this, nothing about a device or a browser.
  if (ua == "Mozilla/5.0") return "apple privacy proxy user agent";
  int64_t age = now_ms - m.sent_at_ms;
  if (ua.find("GoogleImageProxy") != std::string::npos && age < kGoogleProxyPrefetchMs) {
    return "google image proxy prefetch";
  }
  if (!ua.empty() && scanner_agent(ua)) return "scanner user agent";
  if (age < kPrefetchOpenWindowMs) return "within 2 s of the send";
  return "";
}

Result<int64_t> count_events(Tx& tx, int64_t message_id, std::string_view kind) {
  auto row =
      AG_TRY(tx.query_one("SELECT COUNT(*) FROM message_events WHERE message_id = ? AND kind = ?",
                          {message_id, std::string(kind)}));
  return row ? row->i64(0) : 0;
}

Result<void> add_event(Tx& tx, const MessageRow& m, std::string_view kind, bool machine,
                       std::optional<int> link_index, std::string_view detail, int64_t now_ms) {
  AG_CHECK(tx.exec(
      "INSERT INTO message_events (shop_id, message_id, kind, machine, link_index, detail, at_ms) "
      "VALUES (?, ?, ?, ?, ?, ?, ?)",
      {m.shop_id, m.id, std::string(kind), int64_t{machine ? 1 : 0},
       link_index ? DbValue(int64_t{*link_index}) : DbValue(),
       detail.empty() ? DbValue() : DbValue(std::string(detail)), now_ms}));
  return {};
}

// ---- forms ----------------------------------------------------------------------------------

std::optional<std::string> percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '+') {
      out += ' ';
    } else if (c == '%') {
      if (i + 2 >= s.size()) return std::nullopt;
      auto hex = [](char h) -> int {
        if (h >= '0' && h <= '9') return h - '0';
        if (h >= 'a' && h <= 'f') return h - 'a' + 10;
        if (h >= 'A' && h <= 'F') return h - 'A' + 10;
        return -1;
      };
      int hi = hex(s[i + 1]), lo = hex(s[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else {
      out += c;
    }
  }
  return out;
}

using Form = std::map<std::string, std::string>;

// application/x-www-form-urlencoded; the first value of a repeated name wins. nullopt on a bad
// percent escape. Trailing white space (a CRLF some senders append) is ignored.
std::optional<Form> parse_urlencoded(std::string_view body) {
  while (!body.empty() && (body.back() == '\r' || body.back() == '\n' || body.back() == ' ')) {
    body.remove_suffix(1);
  }
  Form form;
  while (!body.empty()) {
    size_t amp = body.find('&');
    std::string_view pair = body.substr(0, amp);
    body = amp == std::string_view::npos ? std::string_view() : body.substr(amp + 1);
    if (pair.empty()) continue;
    size_t eq = pair.find('=');
    auto name = percent_decode(pair.substr(0, eq));
    auto value =
        percent_decode(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1));
    if (!name || !value) return std::nullopt;
    form.emplace(std::move(*name), std::move(*value));
  }
  return form;
}

// The posted fields, from either encoding RFC 8058 allows. 0.11.4 parses multipart bodies
// into req.files itself (and answers 400 to a malformed one before we see it).
std::optional<Form> posted_form(const httplib::Request& req) {
  std::string type = lower(req.get_header_value("Content-Type"));
  if (type.starts_with("application/x-www-form-urlencoded")) return parse_urlencoded(req.body);
  if (type.starts_with("multipart/form-data")) {
    Form form;
    for (const auto& [name, part] : req.files) form.emplace(name, part.content);
    return form;
  }
  return std::nullopt;
}

// ---- the person behind an unsubscribe token -------------------------------------------------

struct ChannelView {
  AddressChannel channel = AddressChannel::kEmail;
  std::string address;  // normalised
  std::optional<ConsentRecord> consent;
  std::optional<std::string> suppression;  // reason

  // Withdrawn by the person (unsubscribe, STOP) or a complaint: shown as "unsubscribed". A hard
  // bounce or an invalid number is not a choice the person made; the page says so instead.
  bool opted_out() const {
    if (consent && consent->state == ConsentState::kUnsubscribed) return true;
    return suppression && (*suppression == "unsubscribe" || *suppression == "sms_stop" ||
                           *suppression == "complaint");
  }
  bool undeliverable() const { return suppression && !opted_out(); }
  std::string frequency() const { return consent ? consent->frequency : "normal"; }
};

struct PersonView {
  MessageRow message;
  std::string shop_name;
  std::optional<ChannelView> email;
  std::optional<ChannelView> sms;
};

Result<ChannelView> channel_view(Tx& tx, int64_t shop_id, AddressChannel channel,
                                 const std::string& address) {
  ChannelView v;
  v.channel = channel;
  v.address = normalise_address(channel, address);
  v.consent = AG_TRY(find_consent(tx, shop_id, channel, v.address));
  v.suppression = AG_TRY(suppression_reason(tx, shop_id, channel, v.address));
  return v;
}

// The channels the person has with the shop: the message's own, and the other address of the
// enrolment it came from; SMS only when there is a consent record for the number.
Result<PersonView> load_person(Tx& tx, const MessageRow& m) {
  PersonView p;
  p.message = m;
  ShopSettings settings = AG_TRY(load_shop_settings(tx, m.shop_id));
  p.shop_name = !settings.brand_name.empty()    ? settings.brand_name
                : !settings.sender_name.empty() ? settings.sender_name
                                                : std::string();
  if (p.shop_name.empty()) {
    auto shop = AG_TRY(tx.query_one("SELECT domain FROM shops WHERE id = ?", {m.shop_id}));
    p.shop_name = shop ? shop->text(0) : "this shop";
  }
  std::string email = m.channel == "email" ? m.recipient : "";
  std::string phone = m.channel == "sms" ? m.recipient : "";
  auto enrolment =
      AG_TRY(tx.query_one("SELECT email, phone FROM enrolments WHERE id = ? AND shop_id = ?",
                          {m.enrolment_id, m.shop_id}));
  if (enrolment) {
    if (email.empty() && m.channel != "email") email = enrolment->text(0);
    if (phone.empty() && m.channel != "sms") phone = enrolment->text(1);
  }
  if (!email.empty()) p.email = AG_TRY(channel_view(tx, m.shop_id, AddressChannel::kEmail, email));
  if (!phone.empty()) {
    ChannelView sms = AG_TRY(channel_view(tx, m.shop_id, AddressChannel::kSms, phone));
    if (sms.consent || m.channel == "sms") p.sms = std::move(sms);
  }
  return p;
}

std::string mask_email(std::string_view address) {
  size_t at = address.find('@');
  if (at == std::string_view::npos || at == 0) return "***";
  std::string out(1, address[0]);
  out += "***";
  out += address.substr(at);
  return out;
}

std::string mask_phone(std::string_view address) {
  std::string digits;
  for (char c : address) {
    if (c >= '0' && c <= '9') digits += c;
  }
  return "***" + (digits.size() > 4 ? digits.substr(digits.size() - 4) : digits);
}

std::string masked(const ChannelView& v) {
  return v.channel == AddressChannel::kSms ? mask_phone(v.address) : mask_email(v.address);
}

// ---- the routes -----------------------------------------------------------------------------

struct Routes {
  TrackingServices& s;
  std::string app_origin;

  explicit Routes(TrackingServices& services)
      : s(services), app_origin(origin_of(services.app_url)) {}

  std::string form_action(std::string_view token) const {
    std::string base = s.app_url;
    while (base.ends_with('/')) base.pop_back();
    return base + "/u/" + std::string(token);
  }

  // ---- GET /t/c/TOKEN ----

  void click(const httplib::Request& req, httplib::Response& res) const {
    no_store(res);
    auto claims = read_tracking_token(s.keys, req.matches[1].str(), TrackingKind::kClick);
    if (!claims) return send_html(res, 404, not_found_page(), app_origin);
    std::optional<MessageRow> message;
    auto loaded = s.db.read([&](Tx& tx) -> Result<void> {
      message = AG_TRY(load_message(tx, claims->message_id));
      return {};
    });
    if (!loaded) {
      log::error("tracking click not served", {{"error", loaded.error().message}});
      return send_html(res, 503, unavailable_page(), app_origin);
    }
    if (!message) return send_html(res, 404, not_found_page(), app_origin);
    auto url = recorded_link(*message, claims->link_index);
    if (!url) {
      log::warn("tracking click refused: no safe link at that index",
                {{"message_id", message->id}, {"link_index", claims->link_index}});
      return send_html(res, 404, not_found_page(), app_origin);
    }

    // The person gets their page even when the click cannot be recorded.
    const int64_t now = s.clock.now_ms();
    std::string reason = machine_click_reason(req, *message, now);
    auto recorded = s.db.write([&](Tx& tx) -> Result<void> {
      if (AG_TRY(count_events(tx, message->id, "click")) >= kMaxClicksPerMessage) return {};
      return add_event(tx, *message, "click", !reason.empty(), claims->link_index, reason, now);
    });
    if (!recorded) log::warn("tracking click not recorded", {{"error", recorded.error().message}});
    res.set_redirect(*url, 302);
  }

  // ---- GET /t/o/TOKEN[.gif] ----

  void open(const httplib::Request& req, httplib::Response& res) const {
    no_store(res);
    res.status = 200;
    res.set_content(reinterpret_cast<const char*>(kPixel), sizeof(kPixel), "image/gif");
    std::string token = req.matches[1].str();
    if (token.ends_with(".gif")) token.resize(token.size() - 4);
    auto claims = read_tracking_token(s.keys, token, TrackingKind::kOpen);
    if (!claims) return;
    const int64_t now = s.clock.now_ms();
    auto recorded = s.db.write([&](Tx& tx) -> Result<void> {
      auto message = AG_TRY(load_message(tx, claims->message_id));
      if (!message) return {};
      if (AG_TRY(count_events(tx, message->id, "open")) >= kMaxOpensPerMessage) return {};
      std::string reason = machine_open_reason(req, *message, now, s.trust_forwarded_for);
      return add_event(tx, *message, "open", !reason.empty(), std::nullopt, reason, now);
    });
    if (!recorded) log::warn("tracking open not recorded", {{"error", recorded.error().message}});
  }

  // ---- /u/TOKEN ----

  std::string evidence(const httplib::Request& req, std::string_view what) const {
    std::string detail(what);
    std::string ua = req.get_header_value("User-Agent");
    if (!ua.empty()) detail += "; user agent: " + truncate(ua, kMaxDetailChars);
    return detail;
  }

  // Unsubscribes the message's recipient on the message's channel; nothing when that is
  // already so (consent unsubscribed and the address suppressed), so repeats add no evidence
  // rows. One 'unsubscribe' event per message.
  Result<void> unsubscribe(Tx& tx, const MessageRow& m, std::string_view source,
                           const std::string& detail, int64_t now) const {
    if (m.recipient.empty()) return {};  // erased on redaction: nothing left to unsubscribe
    AddressChannel channel = channel_of(m.channel);
    auto consent = AG_TRY(find_consent(tx, m.shop_id, channel, m.recipient));
    auto suppressed = AG_TRY(suppression_reason(tx, m.shop_id, channel, m.recipient));
    if (!(consent && consent->state == ConsentState::kUnsubscribed && suppressed)) {
      ConsentChange change;
      change.channel = channel;
      change.address = m.recipient;
      change.customer_id = m.customer_id;
      change.state = ConsentState::kUnsubscribed;
      change.source = std::string(source);
      change.collected_at_ms = now;
      change.detail = detail;
      AG_CHECK(record_consent(tx, m.shop_id, change, now));
    }
    if (AG_TRY(count_events(tx, m.id, "unsubscribe")) == 0) {
      AG_CHECK(add_event(tx, m, "unsubscribe", false, std::nullopt, source, now));
    }
    return {};
  }

  // Email only: an SMS resubscription needs the person's START (CTIA; the express written
  // consent a web form here cannot show).
  Result<void> resubscribe(Tx& tx, const PersonView& p, const std::string& detail,
                           int64_t now) const {
    if (!p.email) return {};
    ConsentChange change;
    change.channel = AddressChannel::kEmail;
    change.address = p.email->address;
    change.customer_id = p.message.customer_id;
    change.state = ConsentState::kSubscribed;
    change.source = "preference_centre";
    change.wording = "Subscribe again to email from " + p.shop_name;
    change.opt_in_level = "single_opt_in";
    change.collected_at_ms = now;
    change.detail = detail;
    AG_CHECK(record_consent(tx, p.message.shop_id, change, now));
    AG_CHECK(lift_suppression(tx, p.message.shop_id, AddressChannel::kEmail, p.email->address));
    return {};
  }

  Result<void> withdraw(Tx& tx, const PersonView& p, const ChannelView& v,
                        const std::string& detail, int64_t now) const {
    ConsentChange change;
    change.channel = v.channel;
    change.address = v.address;
    change.customer_id = p.message.customer_id;
    change.state = ConsentState::kUnsubscribed;
    change.source = "preference_centre";
    change.collected_at_ms = now;
    change.detail = detail;
    AG_CHECK(record_consent(tx, p.message.shop_id, change, now));
    if (channel_of(p.message.channel) == v.channel && v.address == p.message.recipient &&
        AG_TRY(count_events(tx, p.message.id, "unsubscribe")) == 0) {
      AG_CHECK(
          add_event(tx, p.message, "unsubscribe", false, std::nullopt, "preference_centre", now));
    }
    return {};
  }

  // The preference form: email subscribed|unsubscribed, email_frequency, sms
  // subscribed|unsubscribed. Fields for a channel the person does not have are ignored.
  // Returns the notice to show, or an error for a value the form never sends.
  Result<std::string> save_preferences(Tx& tx, PersonView& p, const Form& form,
                                       const std::string& detail, int64_t now) const {
    auto choice = [&](const char* name) -> Result<std::optional<std::string>> {
      auto it = form.find(name);
      if (it == form.end()) return std::optional<std::string>();
      if (it->second != "subscribed" && it->second != "unsubscribed") {
        return fail(ErrorCode::kInvalidArgument,
                    std::string(name) + " must be \"subscribed\" or \"unsubscribed\"");
      }
      return std::optional<std::string>(it->second);
    };
    auto email_choice = AG_TRY(choice("email"));
    auto sms_choice = AG_TRY(choice("sms"));
    std::optional<std::string> frequency;
    if (auto it = form.find("email_frequency"); it != form.end()) {
      if (it->second != "normal" && it->second != "weekly" && it->second != "monthly") {
        return fail(ErrorCode::kInvalidArgument,
                    "email_frequency must be \"normal\", \"weekly\" or \"monthly\"");
      }
      frequency = it->second;
    }

    std::string notice = "Your preferences are saved.";
    if (p.email) {
      const ChannelView& v = *p.email;
      if (email_choice == "unsubscribed" && !v.opted_out()) {
        AG_CHECK(withdraw(tx, p, v, detail, now));
      } else if (email_choice == "subscribed" && v.opted_out()) {
        AG_CHECK(resubscribe(tx, p, detail, now));
      }
      if (frequency && *frequency != v.frequency()) {
        auto current =
            AG_TRY(find_consent(tx, p.message.shop_id, AddressChannel::kEmail, v.address));
        if (!current) {
          // The frequency lives on the consent record. Choosing how often is not consent, so
          // the record starts as "not subscribed" (what no record meant) from this page.
          ConsentChange change;
          change.channel = AddressChannel::kEmail;
          change.address = v.address;
          change.customer_id = p.message.customer_id;
          change.state = ConsentState::kNotSubscribed;
          change.source = "preference_centre";
          change.detail = "email frequency set to " + *frequency;
          AG_CHECK(record_consent(tx, p.message.shop_id, change, now));
        }
        AG_CHECK(set_consent_frequency(tx, p.message.shop_id, AddressChannel::kEmail, v.address,
                                       *frequency, now));
      }
    }
    if (p.sms) {
      const ChannelView& v = *p.sms;
      if (sms_choice == "unsubscribed" && !v.opted_out()) {
        AG_CHECK(withdraw(tx, p, v, detail, now));
      } else if (sms_choice == "subscribed" && v.opted_out()) {
        notice += " To get texts again, reply START to any text from us.";
      }
    }
    return notice;
  }

  std::string render(const PersonView& p, std::string_view token, std::string_view notice,
                     bool warn = false) const {
    const std::string action = html_escape(form_action(token));
    const std::string shop = html_escape(p.shop_name);
    std::string h;
    h += "<h1>" + shop + "</h1>";
    const ChannelView* own =
        p.message.channel == "sms" ? (p.sms ? &*p.sms : nullptr) : (p.email ? &*p.email : nullptr);
    const bool sms_message = p.message.channel == "sms";
    if (own) {
      h += "<p class=\"who\">Message preferences for " + html_escape(masked(*own)) + "</p>";
    }
    if (!notice.empty()) {
      h += std::string("<p class=\"") + (warn ? "warn" : "notice") + "\" role=\"status\">" +
           html_escape(notice) + "</p>";
    }
    if (!own) {
      h += "<p>You will not get marketing messages from " + shop + " at this address.</p>";
      return page(p.shop_name + " preferences", h);
    }

    const std::string what = sms_message ? "text messages" : "marketing email";
    if (!own->opted_out()) {
      h += "<form method=\"post\" action=\"" + action +
           "\">"
           "<input type=\"hidden\" name=\"action\" value=\"unsubscribe\">"
           "<button class=\"primary\" type=\"submit\">Unsubscribe</button></form>";
      h += "<p class=\"hint\">Stops " + html_escape(what) + " from " + shop + " to " +
           html_escape(masked(*own)) + ".</p>";
    } else {
      h += "<p>You are unsubscribed from " + html_escape(what) + " from " + shop + ".</p>";
      if (!sms_message) {
        h += "<form method=\"post\" action=\"" + action +
             "\">"
             "<input type=\"hidden\" name=\"action\" value=\"resubscribe\">"
             "<button class=\"secondary\" type=\"submit\">Subscribe again</button></form>";
      } else {
        h += "<p class=\"hint\">To get texts again, reply START to any text from us.</p>";
      }
    }
    if (own->undeliverable()) {
      h += "<p class=\"warn\">Messages to this address could not be delivered, so none are "
           "sent to it.</p>";
    }

    h += "<h2>Your preferences</h2><form method=\"post\" action=\"" + action +
         "\">"
         "<input type=\"hidden\" name=\"action\" value=\"preferences\">";
    auto radio = [](const char* name, const char* value, const char* label, bool checked,
                    bool disabled = false) {
      return std::string("<label><input type=\"radio\" name=\"") + name + "\" value=\"" + value +
             "\"" + (checked ? " checked" : "") + (disabled ? " disabled" : "") + ">" + label +
             "</label>";
    };
    if (p.email) {
      const ChannelView& v = *p.email;
      bool in = !v.opted_out();
      std::string f = v.frequency();
      h += "<fieldset><legend>Email · " + html_escape(masked(v)) + "</legend>";
      h += radio("email", "subscribed", "Subscribed", in);
      h += radio("email", "unsubscribed", "Unsubscribed", !in);
      h += "<p class=\"hint\">How often, at most:</p>";
      h += radio("email_frequency", "normal", "Whenever there is news", f == "normal");
      h += radio("email_frequency", "weekly", "Once a week", f == "weekly");
      h += radio("email_frequency", "monthly", "Once a month", f == "monthly");
      h += "</fieldset>";
    }
    if (p.sms) {
      const ChannelView& v = *p.sms;
      bool in = !v.opted_out();
      h += "<fieldset><legend>Text messages · " + html_escape(masked(v)) + "</legend>";
      h += radio("sms", "subscribed", "Subscribed", in, /*disabled=*/!in);
      h += radio("sms", "unsubscribed", "Unsubscribed", !in);
      if (!in) h += "<p class=\"hint\">To get texts again, reply START to any text from us.</p>";
      h += "</fieldset>";
    }
    h += "<button class=\"secondary\" type=\"submit\">Save preferences</button></form>";
    return page(p.shop_name + " preferences", h);
  }

  void preferences_page(const httplib::Request& req, httplib::Response& res) const {
    no_store(res);
    std::string token = req.matches[1].str();
    auto claims = read_tracking_token(s.keys, token, TrackingKind::kUnsubscribe);
    if (!claims) return send_html(res, 404, not_found_page(), app_origin);
    std::optional<PersonView> person;
    auto r = s.db.read([&](Tx& tx) -> Result<void> {
      auto m = AG_TRY(load_message(tx, claims->message_id));
      if (m) person = AG_TRY(load_person(tx, *m));
      return {};
    });
    if (!r) {
      log::error("preference centre not served", {{"error", r.error().message}});
      return send_html(res, 503, unavailable_page(), app_origin);
    }
    if (!person) return send_html(res, 404, not_found_page(), app_origin);
    send_html(res, 200, render(*person, token, ""), app_origin);
  }

  void post_unsubscribe(const httplib::Request& req, httplib::Response& res) const {
    no_store(res);
    // The server's guard caps bodies by Content-Length before they are read; this route's own
    // limit is far smaller.
    const std::string length = req.get_header_value("Content-Length");
    if (req.body.size() > kMaxFormBytes ||
        (!length.empty() && std::strtoull(length.c_str(), nullptr, 10) > kMaxFormBytes)) {
      return reply_error(res, ErrorCode::kPayloadTooLarge,
                         "the body is larger than " + std::to_string(kMaxFormBytes) + " bytes");
    }
    std::string token = req.matches[1].str();
    auto claims = read_tracking_token(s.keys, token, TrackingKind::kUnsubscribe);
    if (!claims) return send_html(res, 404, not_found_page(), app_origin);
    auto form = posted_form(req);
    if (!form) {
      return reply_error(res, ErrorCode::kInvalidArgument,
                         "expected an application/x-www-form-urlencoded or multipart/form-data "
                         "body");
    }
    auto one_click = form->find("List-Unsubscribe");
    auto action = form->find("action");
    const bool is_one_click = one_click != form->end() && one_click->second == "One-Click";
    std::string act = action == form->end() ? "" : action->second;
    if (!is_one_click && act != "unsubscribe" && act != "preferences" && act != "resubscribe") {
      return reply_error(res, ErrorCode::kInvalidArgument,
                         "expected List-Unsubscribe=One-Click or an action of unsubscribe, "
                         "preferences or resubscribe");
    }

    const int64_t now = s.clock.now_ms();
    bool found = false;
    std::optional<PersonView> person;
    std::string notice;
    auto r = s.db.write([&](Tx& tx) -> Result<void> {
      auto m = AG_TRY(load_message(tx, claims->message_id));
      if (!m) return {};
      found = true;
      if (is_one_click) {
        return unsubscribe(tx, *m, "unsubscribe_link",
                           evidence(req, "one-click unsubscribe (RFC 8058)"), now);
      }
      PersonView p = AG_TRY(load_person(tx, *m));
      if (act == "unsubscribe") {
        AG_CHECK(unsubscribe(tx, *m, "unsubscribe_link", evidence(req, "unsubscribe page"), now));
        notice = "You are unsubscribed. It can take a moment for messages already on their way.";
      } else if (act == "resubscribe") {
        AG_CHECK(resubscribe(tx, p, evidence(req, "subscribe again"), now));
        notice = "You are subscribed again.";
      } else {
        notice = AG_TRY(save_preferences(tx, p, *form, evidence(req, "preference centre"), now));
      }
      person = AG_TRY(load_person(tx, *m));  // as it is now
      return {};
    });
    if (!r) {
      if (r.error().code == ErrorCode::kInvalidArgument) return reply_error(res, r.error());
      log::error("unsubscribe not recorded", {{"error", r.error().message}});
      return reply_error(res, ErrorCode::kUnavailable, "try again in a minute");
    }
    if (!found) return send_html(res, 404, not_found_page(), app_origin);
    if (is_one_click) {
      res.status = 200;
      return res.set_content("Unsubscribed", "text/plain; charset=utf-8");
    }
    const ChannelView* email = person->email ? &*person->email : nullptr;
    bool blocked = act == "resubscribe" && email && email->undeliverable();
    if (blocked) {
      notice =
          "Your choice is saved, but messages to this address could not be delivered, so "
          "none are sent to it.";
    }
    send_html(res, 200, render(*person, token, notice, blocked), app_origin);
  }
};

}  // namespace

void mount_tracking_routes(httplib::Server& server, TrackingServices& services) {
  auto routes = std::make_shared<Routes>(services);
  using Method = void (Routes::*)(const httplib::Request&, httplib::Response&) const;
  auto handler = [routes](Method method) {
    return [routes, method](const httplib::Request& req, httplib::Response& res) {
      ((*routes).*method)(req, res);
    };
  };
  server.Get(R"(/t/c/([^/]+))", handler(&Routes::click));
  server.Get(R"(/t/o/([^/]+))", handler(&Routes::open));
  server.Get(R"(/u/([^/]+))", handler(&Routes::preferences_page));
  server.Post(R"(/u/([^/]+))", handler(&Routes::post_unsubscribe));
}

}  // namespace afterglow::email
