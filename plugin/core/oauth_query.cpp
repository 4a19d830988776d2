#include "plugin/core/oauth_query.h"

#include <algorithm>
#include <charconv>
#include <map>

#include "plugin/core/crypto.h"

namespace afterglow::oauth {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Result<std::string> decode_component(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '+') {
      out.push_back(' ');
    } else if (c == '%') {
      if (i + 2 >= s.size()) {
        return fail(ErrorCode::kInvalidArgument, "query string has a malformed %-escape");
      }
      int hi = hex_value(s[i + 1]), lo = hex_value(s[i + 2]);
      if (hi < 0 || lo < 0) {
        return fail(ErrorCode::kInvalidArgument, "query string has a malformed %-escape");
      }
      out.push_back(static_cast<char>(hi << 4 | lo));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alnum(char c) { return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string state_mac(std::string_view secret, std::string_view shop, std::string_view nonce,
                      int64_t expires_at_s) {
  // A label keeps this MAC from ever being confused with a query HMAC under the same secret.
  std::string msg = "afterglow-oauth-state\n";
  msg.append(shop).append("\n").append(nonce).append("\n").append(std::to_string(expires_at_s));
  return crypto::to_hex(crypto::hmac_sha256(secret, msg));
}

}  // namespace

Result<QueryParams> parse_query(std::string_view raw) {
  QueryParams out;
  size_t pos = 0;
  while (pos <= raw.size()) {
    size_t amp = raw.find('&', pos);
    if (amp == std::string_view::npos) amp = raw.size();
    std::string_view pair = raw.substr(pos, amp - pos);
    if (!pair.empty()) {
      size_t eq = pair.find('=');
      std::string_view k = pair.substr(0, eq);
      std::string_view v = eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
      out.emplace_back(AG_TRY(decode_component(k)), AG_TRY(decode_component(v)));
    }
    pos = amp + 1;
  }
  return out;
}

std::optional<std::string> find_param(const QueryParams& params, std::string_view key) {
  for (const auto& [k, v] : params) {
    if (k == key) return v;
  }
  return std::nullopt;
}

std::string form_encode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size() * 3);
  for (unsigned char c : s) {
    if (is_alnum(static_cast<char>(c)) || c == '*' || c == '-' || c == '.' || c == '_') {
      out.push_back(static_cast<char>(c));
    } else if (c == ' ') {
      out += "%20";  // URLSearchParams writes '+'; the platform's library turns it into %20
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

std::string signed_message(const QueryParams& params) {
  // std::map: keys in byte order; repeated keys joined with ',' as the platform's library does.
  std::map<std::string, std::string> merged;
  for (const auto& [k, v] : params) {
    if (k == "hmac" || k == "signature") continue;
    auto [it, inserted] = merged.emplace(k, v);
    if (!inserted) it->second += "," + v;
  }
  std::string out;
  for (const auto& [k, v] : merged) {
    if (!out.empty()) out.push_back('&');
    out += form_encode(k);
    out.push_back('=');
    out += form_encode(v);
  }
  return out;
}

std::string query_hmac(const QueryParams& params, std::string_view secret) {
  return crypto::to_hex(crypto::hmac_sha256(secret, signed_message(params)));
}

Result<void> verify_query_hmac(const QueryParams& params, std::string_view secret,
                               std::string_view previous_secret) {
  auto given = find_param(params, "hmac");
  if (!given || given->empty()) {
    return fail(ErrorCode::kUnauthenticated, "the request is not signed (hmac is missing)");
  }
  if (secret.empty()) return fail(ErrorCode::kUnauthenticated, "no client secret configured");
  std::string want = lower(*given);
  const std::string message = signed_message(params);
  bool ok = crypto::constant_time_equal(want, crypto::to_hex(crypto::hmac_sha256(secret, message)));
  if (!previous_secret.empty()) {
    ok = crypto::constant_time_equal(
             want, crypto::to_hex(crypto::hmac_sha256(previous_secret, message))) ||
         ok;
  }
  if (!ok) return fail(ErrorCode::kUnauthenticated, "hmac does not match the query");
  return {};
}

Result<void> check_timestamp(const QueryParams& params, const Clock& clock,
                             std::chrono::seconds tolerance) {
  auto ts = find_param(params, "timestamp");
  if (!ts || ts->empty()) return fail(ErrorCode::kInvalidArgument, "timestamp is missing");
  int64_t t = 0;
  auto [p, ec] = std::from_chars(ts->data(), ts->data() + ts->size(), t);
  if (ec != std::errc() || p != ts->data() + ts->size()) {
    return fail(ErrorCode::kInvalidArgument, "timestamp must be Unix seconds");
  }
  int64_t now = clock.now_s();
  int64_t diff = now > t ? now - t : t - now;
  if (diff > tolerance.count()) {
    return fail(ErrorCode::kUnauthenticated, "timestamp is more than " +
                                                 std::to_string(tolerance.count()) +
                                                 " s away from now (a stale or replayed request)");
  }
  return {};
}

std::optional<std::string> sanitize_shop(std::string_view shop) {
  constexpr std::string_view kSuffix = ".myshopify.com";
  if (shop.size() <= kSuffix.size() || shop.size() > 255) return std::nullopt;
  std::string s = lower(shop);
  if (s.compare(s.size() - kSuffix.size(), kSuffix.size(), kSuffix) != 0) return std::nullopt;
  std::string_view name = std::string_view(s).substr(0, s.size() - kSuffix.size());
  if (!is_alnum(name.front())) return std::nullopt;
  for (char c : name) {
    if (!is_alnum(c) && c != '-') return std::nullopt;
  }
  return s;
}

std::optional<std::string> decode_host(std::string_view host) {
  if (host.empty() || host.size() > 1024) return std::nullopt;
  auto decoded = crypto::base64_decode(host);
  if (!decoded) {
    // The platform sends unpadded base64 at times; pad and try once more.
    std::string padded(host);
    while (padded.size() % 4 != 0) padded.push_back('=');
    decoded = crypto::base64_decode(padded);
  }
  if (!decoded || decoded->empty()) return std::nullopt;
  std::string_view text = *decoded;
  std::string_view hostname = text.substr(0, text.find('/'));
  for (char c : text) {
    if (static_cast<unsigned char>(c) < 0x21 || static_cast<unsigned char>(c) > 0x7e) {
      return std::nullopt;
    }
  }
  if (hostname == "admin.shopify.com") return std::string(text);
  if (sanitize_shop(hostname)) return std::string(text);
  return std::nullopt;
}

std::string new_state_nonce() { return crypto::random_hex(32); }

std::string sign_state_cookie(std::string_view secret, std::string_view shop,
                              std::string_view nonce, int64_t expires_at_s) {
  return std::string(nonce) + "." + std::to_string(expires_at_s) + "." +
         state_mac(secret, shop, nonce, expires_at_s);
}

Result<std::string> open_state_cookie(std::string_view secret, std::string_view shop,
                                      std::string_view value, const Clock& clock) {
  auto refuse = [] {
    return fail(ErrorCode::kForbidden,
                "the OAuth state cookie is missing, expired or not ours; start the install "
                "again from the admin");
  };
  size_t a = value.find('.');
  size_t b = a == std::string_view::npos ? a : value.find('.', a + 1);
  if (b == std::string_view::npos || secret.empty()) return refuse();
  std::string_view nonce = value.substr(0, a);
  std::string_view expires = value.substr(a + 1, b - a - 1);
  std::string_view mac = value.substr(b + 1);
  int64_t expires_at = 0;
  auto [p, ec] = std::from_chars(expires.data(), expires.data() + expires.size(), expires_at);
  if (nonce.empty() || ec != std::errc() || p != expires.data() + expires.size()) return refuse();
  if (!crypto::constant_time_equal(mac, state_mac(secret, shop, nonce, expires_at))) {
    return refuse();
  }
  if (clock.now_s() >= expires_at) return refuse();
  return std::string(nonce);
}

std::string state_set_cookie(std::string_view value, std::chrono::seconds lifetime) {
  return std::string(kStateCookieName) + "=" + std::string(value) +
         "; Max-Age=" + std::to_string(lifetime.count()) + "; Path=" + std::string(kCallbackPath) +
         "; HttpOnly; Secure; SameSite=Lax";
}

std::string state_clear_cookie() {
  return std::string(kStateCookieName) + "=; Max-Age=0; Path=" + std::string(kCallbackPath) +
         "; HttpOnly; Secure; SameSite=Lax";
}

std::optional<std::string> cookie_value(std::string_view header, std::string_view name) {
  size_t pos = 0;
  while (pos < header.size()) {
    size_t semi = header.find(';', pos);
    if (semi == std::string_view::npos) semi = header.size();
    std::string_view part = header.substr(pos, semi - pos);
    while (!part.empty() && (part.front() == ' ' || part.front() == '\t')) part.remove_prefix(1);
    while (!part.empty() && (part.back() == ' ' || part.back() == '\t')) part.remove_suffix(1);
    size_t eq = part.find('=');
    if (eq != std::string_view::npos && part.substr(0, eq) == name) {
      return std::string(part.substr(eq + 1));
    }
    pos = semi + 1;
  }
  return std::nullopt;
}

}  // namespace afterglow::oauth
