// Outbound HTTP: the seam for every provider (platform Admin API and OAuth, Stripe, SMS).
// Production uses libcurl; tests point base URLs at real local servers speaking the same wire
// format. A transport failure (no connection, timeout, TLS error) is an error value with
// ErrorCode::kUnavailable; any HTTP status, 5xx included, is a response for the caller to judge.
// A caller of a non-idempotent call (an SMS create has no idempotency key) must also know whether
// the request could have reached the server: see http_request_not_sent.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "plugin/core/error.h"

namespace afterglow {

struct HttpRequest {
  std::string method = "GET";
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::chrono::milliseconds timeout{std::chrono::seconds(10)};
};

struct HttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // names lower-cased; the last value wins
  std::string body;
  // The header's value, or "" (name is case-insensitive).
  std::string header(const std::string& name) const;
};

class HttpClient {
 public:
  virtual ~HttpClient() = default;
  // Sends the request and waits for the whole response. Thread-safe. A transport failure is
  // kUnavailable; its message is "HTTP <METHOD> not sent: <why>" when the request provably never
  // left this machine (name resolution, connection refused or timed out, TLS handshake or
  // certificate failure, a malformed URL), and "HTTP <METHOD> failed: <why>" otherwise (a timeout
  // or a dropped connection after the request was written: the server may have acted on it).
  // Implementations that cannot tell use the second form, which is the safe one.
  virtual Result<HttpResponse> send(const HttpRequest& request) = 0;
};

// True when `error` came from HttpClient::send and says the request never reached the server, so
// even a non-idempotent request may be sent again. False for every other error.
bool http_request_not_sent(const Error& error);

struct CurlOptions {
  std::string ca_file;  // extra CA bundle (tests trust their dev certificate); empty = system
  std::chrono::milliseconds connect_timeout{std::chrono::seconds(5)};
  std::string user_agent = "afterglow/1";
};

std::unique_ptr<HttpClient> make_curl_http_client(CurlOptions options = {});

// Why `base` cannot be a provider's API base URL, or "" when it can: scheme://host[:port]
// (an optional trailing '/', nothing else) with https, or plain http on a loopback host only
// (127.0.0.1, localhost, [::1]), so a test base URL can never send a secret over the network.
// The answer reads after the setting's name: "must start with https://".
std::string api_base_problem(std::string_view base);

// application/x-www-form-urlencoded encoding of one component (RFC 3986 unreserved kept).
std::string url_encode(std::string_view s);

}  // namespace afterglow
