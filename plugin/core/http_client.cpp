#include "plugin/core/http_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <mutex>

namespace afterglow {
namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

size_t on_body(char* data, size_t size, size_t n, void* user) {
  static_cast<std::string*>(user)->append(data, size * n);
  return size * n;
}

size_t on_header(char* data, size_t size, size_t n, void* user) {
  auto* headers = static_cast<std::map<std::string, std::string>*>(user);
  std::string line(data, size * n);
  if (line.rfind("HTTP/", 0) == 0) headers->clear();  // a new response (after 100/redirect)
  auto colon = line.find(':');
  if (colon != std::string::npos) {
    std::string value = line.substr(colon + 1);
    auto b = value.find_first_not_of(" \t");
    auto e = value.find_last_not_of(" \t\r\n");
    (*headers)[lower(line.substr(0, colon))] =
        b == std::string::npos ? "" : value.substr(b, e - b + 1);
  }
  return size * n;
}

// True when curl failed before it could have written the request. The listed codes happen while
// resolving, connecting or handshaking; for any other code (a timeout above all) curl has set the
// pre-transfer time only if it got as far as sending, so a zero pre-transfer time means the
// connection was never ready (e.g. a connect timeout).
bool never_sent(CURL* h, CURLcode rc) {
  switch (rc) {
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
      return true;
    default:
      break;
  }
  curl_off_t pretransfer_us = 0;
  if (curl_easy_getinfo(h, CURLINFO_PRETRANSFER_TIME_T, &pretransfer_us) != CURLE_OK) return false;
  return pretransfer_us == 0;
}

class CurlHttpClient final : public HttpClient {
 public:
  explicit CurlHttpClient(CurlOptions options) : options_(std::move(options)) {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  }

  Result<HttpResponse> send(const HttpRequest& req) override {
    std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), curl_easy_cleanup);
    if (!curl) return fail(ErrorCode::kInternal, "curl_easy_init failed");
    CURL* h = curl.get();
    HttpResponse res;
    curl_slist* list = nullptr;
    for (const auto& [k, v] : req.headers) list = curl_slist_append(list, (k + ": " + v).c_str());
    // curl adds "Expect: 100-continue" to larger bodies; it only costs a round trip here.
    list = curl_slist_append(list, "Expect:");
    std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> headers(list, curl_slist_free_all);

    curl_easy_setopt(h, CURLOPT_URL, req.url.c_str());
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req.method.c_str());
    if (req.method == "HEAD") curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    if (!req.body.empty() || req.method == "POST" || req.method == "PUT" ||
        req.method == "PATCH") {
      curl_easy_setopt(h, CURLOPT_POSTFIELDS, req.body.data());
      curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(req.body.size()));
    }
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers.get());
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(req.timeout.count()));
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(options_.connect_timeout.count()));
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);  // thread-safe timeouts
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);  // providers never redirect API calls
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_USERAGENT, options_.user_agent.c_str());
    if (!options_.ca_file.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, options_.ca_file.c_str());
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &res.body);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &res.headers);

    CURLcode rc = curl_easy_perform(h);
    if (rc != CURLE_OK) {
      // Never echo the URL: query strings may carry codes or tokens.
      return fail(ErrorCode::kUnavailable, std::string("HTTP ") + req.method +
                                               (never_sent(h, rc) ? " not sent: " : " failed: ") +
                                               curl_easy_strerror(rc));
    }
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    res.status = static_cast<int>(status);
    return res;
  }

 private:
  CurlOptions options_;
};

}  // namespace

bool http_request_not_sent(const Error& error) {
  if (error.code != ErrorCode::kUnavailable || !error.message.starts_with("HTTP ")) return false;
  auto space = error.message.find(' ', 5);  // after the method
  return space != std::string::npos &&
         std::string_view(error.message).substr(space).starts_with(" not sent: ");
}

std::string HttpResponse::header(const std::string& name) const {
  auto it = headers.find(lower(name));
  return it == headers.end() ? "" : it->second;
}

std::unique_ptr<HttpClient> make_curl_http_client(CurlOptions options) {
  return std::make_unique<CurlHttpClient>(std::move(options));
}

std::string api_base_problem(std::string_view base) {
  std::string_view rest;
  bool https = false;
  if (base.starts_with("https://")) {
    https = true;
    rest = base.substr(8);
  } else if (base.starts_with("http://")) {
    rest = base.substr(7);
  } else {
    return "must start with https://";
  }
  if (rest.ends_with('/')) rest.remove_suffix(1);
  if (rest.find_first_of("/?#@ ") != std::string_view::npos) {
    return "must be scheme://host[:port] without path, query or user info";
  }
  std::string_view host = rest;
  if (host.starts_with('[')) {
    auto close = host.find(']');
    if (close == std::string_view::npos) return "has an unterminated IPv6 host";
    host = host.substr(0, close + 1);
  } else if (auto colon = host.find(':'); colon != std::string_view::npos) {
    host = host.substr(0, colon);
  }
  if (host.empty()) return "has no host";
  if (!https) {
    std::string h = lower(std::string(host));
    if (h != "127.0.0.1" && h != "localhost" && h != "[::1]") {
      return "must use https (plain http only for 127.0.0.1, localhost or [::1])";
    }
  }
  return "";
}

std::string url_encode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size() * 3);
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

}  // namespace afterglow
