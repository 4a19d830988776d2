// An HTTPS client for tests and benchmarks, over libcurl. One client holds one curl easy handle,
// so consecutive requests reuse the kept-alive connection (and its TLS session); give each thread
// its own client. The server certificate is verified against a CA file (the dev certificate),
// never switched off. Every request has a timeout, so a test cannot hang on a stuck server.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace afterglow::testing {

using Headers = std::vector<std::pair<std::string, std::string>>;

// `headers` with every header named `name` (case-insensitive) removed.
Headers without_header(Headers headers, std::string_view name);
// `headers` with `name` set to `value` (replacing any header of that name).
Headers with_header(Headers headers, std::string_view name, std::string_view value);

struct HttpResponse {
  long status = 0;     // 0 when no response arrived; `error` then says why
  std::string body;
  Headers headers;     // as received, in order
  std::string error;   // transport error, empty when a response arrived

  // The first header named `name` (case-insensitive), or "".
  std::string header(std::string_view name) const;
  bool has_header(std::string_view name) const;
};

class HttpsClient {
 public:
  // `base_url` like "https://127.0.0.1:8443"; `ca_file` is the PEM the server's certificate must
  // chain to.
  HttpsClient(std::string base_url, std::string ca_file,
              std::chrono::milliseconds timeout = std::chrono::seconds(10));
  ~HttpsClient();
  HttpsClient(const HttpsClient&) = delete;
  HttpsClient& operator=(const HttpsClient&) = delete;

  HttpResponse get(std::string_view path, const Headers& headers = {});
  // POST with Content-Length. `Expect: 100-continue` is never sent.
  HttpResponse post(std::string_view path, std::string_view body, const Headers& headers = {});
  // Any method (PUT, DELETE, PATCH, …) with `body` sent with Content-Length (empty allowed).
  HttpResponse send(std::string_view method, std::string_view path, std::string_view body,
                    const Headers& headers = {});
  // POST with `Transfer-Encoding: chunked` and no Content-Length.
  HttpResponse post_chunked(std::string_view path, std::string_view body,
                            const Headers& headers = {});

  // Raw mode, for framings libcurl will not produce (a Content-Length that disagrees with the
  // body, hand-made chunking, pipelined requests): opens a fresh TLS connection with the same
  // verification, writes `request` exactly as given, reads one response (by its Content-Length,
  // else until the server closes) and closes the connection. Send errors after the server has
  // answered early are ignored, so a response sent before the body was read still arrives.
  HttpResponse send_raw(std::string_view request);
  // The same for a conversation on one kept-alive connection: sends each request after the
  // previous response arrived (not pipelined: over TLS, cpp-httplib 0.11.4 notices a second
  // request that arrived with the first only after its keep-alive timeout). When a response
  // cannot be read, the last element carries the error instead and the rest are not sent.
  std::vector<HttpResponse> send_raw_sequence(const std::vector<std::string>& requests);

  // Like send_raw, but closes the connection right after writing, without reading anything:
  // a client that hangs up before the response. Returns "" or the transport error.
  std::string send_and_hang_up(std::string_view request);

  // TCP connections this client has opened so far (keep-alive reuse checks).
  long connections_opened() const { return connections_opened_; }
  const std::string& base_url() const { return base_url_; }

 private:
  HttpResponse perform(std::string_view path, const Headers& headers);

  std::string base_url_;
  std::string ca_file_;
  std::chrono::milliseconds timeout_;
  void* curl_ = nullptr;  // CURL*, kept out of the header
  long connections_opened_ = 0;
};

}  // namespace afterglow::testing
