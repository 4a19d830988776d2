#include "tests/support/https_client.h"

#include <curl/curl.h>
#include <poll.h>
#include <strings.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <stdexcept>

namespace afterglow::testing {
namespace {

bool same_name(std::string_view a, std::string_view b) {
  return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

std::string trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' ||
                        s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return std::string(s);
}

void global_init() {
  // curl_global_init is not thread-safe; every client goes through here first.
  static std::once_flag once;
  std::call_once(once, [] {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
      throw std::runtime_error("curl_global_init failed");
    }
  });
}

// Adds one header line ("Name: value" or a status line) to `res`. A status line starts a new
// header block (e.g. after a 100 Continue), so only the final response's headers are kept.
void add_header_line(HttpResponse& res, std::string_view line) {
  if (line.rfind("HTTP/", 0) == 0) {
    res.headers.clear();
    return;
  }
  auto colon = line.find(':');
  if (colon == std::string_view::npos) return;  // the blank line that ends the block
  res.headers.emplace_back(trim(line.substr(0, colon)), trim(line.substr(colon + 1)));
}

size_t on_header(char* data, size_t size, size_t n, void* user) {
  add_header_line(*static_cast<HttpResponse*>(user), std::string_view(data, size * n));
  return size * n;
}

size_t on_body(char* data, size_t size, size_t n, void* user) {
  static_cast<HttpResponse*>(user)->body.append(data, size * n);
  return size * n;
}

struct Upload {
  std::string_view data;
  size_t offset = 0;
};

size_t on_read(char* buffer, size_t size, size_t n, void* user) {
  auto* up = static_cast<Upload*>(user);
  // Small pieces, so the body really goes out as several chunks.
  size_t len = std::min({size * n, up->data.size() - up->offset, size_t{16 * 1024}});
  std::copy_n(up->data.data() + up->offset, len, buffer);
  up->offset += len;
  return len;
}

struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};
using Slist = std::unique_ptr<curl_slist, SlistDeleter>;

Slist make_header_list(const Headers& headers) {
  curl_slist* list = nullptr;
  // No "Expect: 100-continue" round trip: the server's limits must see the request as sent.
  list = curl_slist_append(list, "Expect:");
  for (const auto& [name, value] : headers) {
    // "Name;" is curl's spelling for a header with an empty value ("Name:" would remove it).
    std::string line = value.empty() ? name + ";" : name + ": " + value;
    list = curl_slist_append(list, line.c_str());
  }
  return Slist(list);
}

// Parses the HTTP/1.1 response at the start of `raw` into `res`. Returns the bytes it spans, or
// 0 while it is incomplete (its body is delimited by Content-Length, else by the end of the
// stream, which `eof` says has been reached).
size_t parse_raw_response(const std::string& raw, bool eof, HttpResponse& res) {
  size_t end = raw.find("\r\n\r\n");
  if (end == std::string::npos) return 0;
  res = HttpResponse{};
  size_t pos = 0;
  bool first = true;
  while (pos < end) {
    size_t eol = raw.find("\r\n", pos);
    std::string_view line(raw.data() + pos, eol - pos);
    if (first) {
      auto sp = line.find(' ');
      if (sp != std::string_view::npos) res.status = std::strtol(line.data() + sp + 1, nullptr, 10);
      first = false;
    } else {
      add_header_line(res, line);
    }
    pos = eol + 2;
  }
  size_t body_start = end + 4;
  std::string len = res.header("Content-Length");
  size_t body_size = raw.size() - body_start;
  if (!len.empty()) {
    size_t want = std::strtoull(len.c_str(), nullptr, 10);
    if (body_size < want && !eof) return 0;
    if (body_size < want) res.error = "the connection closed inside the body";
    body_size = std::min(body_size, want);
  } else if (!eof) {
    return 0;
  }
  res.body = raw.substr(body_start, body_size);
  return body_start + body_size;
}

}  // namespace

Headers without_header(Headers headers, std::string_view name) {
  std::erase_if(headers, [&](const auto& h) { return same_name(h.first, name); });
  return headers;
}

Headers with_header(Headers headers, std::string_view name, std::string_view value) {
  headers = without_header(std::move(headers), name);
  headers.emplace_back(std::string(name), std::string(value));
  return headers;
}

std::string HttpResponse::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (same_name(k, name)) return v;
  }
  return "";
}

bool HttpResponse::has_header(std::string_view name) const {
  for (const auto& h : headers) {
    if (same_name(h.first, name)) return true;
  }
  return false;
}

HttpsClient::HttpsClient(std::string base_url, std::string ca_file,
                         std::chrono::milliseconds timeout)
    : base_url_(std::move(base_url)), ca_file_(std::move(ca_file)), timeout_(timeout) {
  global_init();
  CURL* c = curl_easy_init();
  if (!c) throw std::runtime_error("curl_easy_init failed");
  curl_ = c;
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);  // several clients run on several threads
  curl_easy_setopt(c, CURLOPT_CAINFO, ca_file_.c_str());
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout_.count()));
  curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
}

HttpsClient::~HttpsClient() { curl_easy_cleanup(static_cast<CURL*>(curl_)); }

HttpResponse HttpsClient::perform(std::string_view path, const Headers& headers) {
  CURL* c = static_cast<CURL*>(curl_);
  HttpResponse res;
  std::string url = base_url_ + std::string(path);
  Slist list = make_header_list(headers);
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, list.get());
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &res);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &res);
  char errbuf[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
  CURLcode rc = curl_easy_perform(c);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, nullptr);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, nullptr);  // `list` dies with this call
  long connects = 0;
  curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &connects);
  connections_opened_ += connects;
  if (rc != CURLE_OK) {
    res.error = std::string(curl_easy_strerror(rc)) + (errbuf[0] ? std::string(": ") + errbuf : "");
  }
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &res.status);
  return res;
}

HttpResponse HttpsClient::get(std::string_view path, const Headers& headers) {
  curl_easy_setopt(static_cast<CURL*>(curl_), CURLOPT_HTTPGET, 1L);
  return perform(path, headers);
}

HttpResponse HttpsClient::post(std::string_view path, std::string_view body,
                               const Headers& headers) {
  CURL* c = static_cast<CURL*>(curl_);
  curl_easy_setopt(c, CURLOPT_POST, 1L);
  // A null POSTFIELDS would make curl read the body from the read callback instead.
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.empty() ? "" : body.data());
  curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  return perform(path, headers);
}

HttpResponse HttpsClient::send(std::string_view method, std::string_view path,
                               std::string_view body, const Headers& headers) {
  CURL* c = static_cast<CURL*>(curl_);
  std::string m(method);
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, m.c_str());
  HttpResponse res = post(path, body, headers);
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, nullptr);  // later calls use their own method
  return res;
}

HttpResponse HttpsClient::post_chunked(std::string_view path, std::string_view body,
                                       const Headers& headers) {
  CURL* c = static_cast<CURL*>(curl_);
  Upload up{body};
  curl_easy_setopt(c, CURLOPT_POST, 1L);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, nullptr);
  curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(-1));
  curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
  curl_easy_setopt(c, CURLOPT_READDATA, &up);
  HttpResponse res = perform(path, with_header(headers, "Transfer-Encoding", "chunked"));
  curl_easy_setopt(c, CURLOPT_READDATA, nullptr);
  return res;
}

namespace {

// One TLS connection driven by hand (CURLOPT_CONNECT_ONLY): verified like any other request,
// then raw bytes in and out, all bounded by one deadline.
class RawConnection {
 public:
  RawConnection(const std::string& url, const std::string& ca_file,
                std::chrono::milliseconds timeout)
      : curl_(curl_easy_init(), curl_easy_cleanup),
        deadline_(std::chrono::steady_clock::now() + timeout) {
    if (!curl_) throw std::runtime_error("curl_easy_init failed");
    CURL* c = curl_.get();
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_URL, url.c_str());
    curl_easy_setopt(c, CURLOPT_CONNECT_ONLY, 1L);
    curl_easy_setopt(c, CURLOPT_CAINFO, ca_file.c_str());
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
    CURLcode rc = curl_easy_perform(c);
    if (rc != CURLE_OK) {
      error_ = std::string("connect: ") + curl_easy_strerror(rc);
      return;
    }
    curl_easy_getinfo(c, CURLINFO_ACTIVESOCKET, &sock_);
  }

  bool connected() const { return error_.empty(); }
  const std::string& error() const { return error_; }

  // Writes as much of `data` as the peer takes; returns the bytes written. Stops early when the
  // peer closes or resets (it may have answered before reading everything).
  size_t send_all(std::string_view data) {
    size_t sent = 0;
    while (sent < data.size()) {
      size_t n = 0;
      CURLcode rc = curl_easy_send(curl_.get(), data.data() + sent, data.size() - sent, &n);
      if (rc == CURLE_AGAIN) {
        if (!wait(POLLOUT | POLLIN)) break;
        continue;
      }
      if (rc != CURLE_OK) break;
      sent += n;
    }
    return sent;
  }

  // Appends what arrives to `out`. Returns false at end of stream (or on a reset), true when
  // something was read; sets `timed_out` when the deadline passed first.
  bool recv_some(std::string& out, bool& timed_out) {
    timed_out = false;
    while (true) {
      char buf[16384];
      size_t n = 0;
      CURLcode rc = curl_easy_recv(curl_.get(), buf, sizeof buf, &n);
      if (rc == CURLE_AGAIN) {
        if (!wait(POLLIN)) {
          timed_out = true;
          return false;
        }
        continue;
      }
      if (rc != CURLE_OK || n == 0) return false;
      out.append(buf, n);
      return true;
    }
  }

 private:
  bool wait(short events) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline_ - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{sock_, events, 0};
    poll(&p, 1, static_cast<int>(left.count()));
    return true;
  }

  std::unique_ptr<CURL, void (*)(CURL*)> curl_;
  std::chrono::steady_clock::time_point deadline_;
  curl_socket_t sock_ = CURL_SOCKET_BAD;
  std::string error_;
};

}  // namespace

HttpResponse HttpsClient::send_raw(std::string_view request) {
  return send_raw_sequence({std::string(request)}).front();
}

std::vector<HttpResponse> HttpsClient::send_raw_sequence(const std::vector<std::string>& requests) {
  global_init();
  std::vector<HttpResponse> out;
  auto failure = [&](std::string error) {
    HttpResponse res;
    res.error = std::move(error);
    out.push_back(std::move(res));
    return out;
  };
  RawConnection conn(base_url_, ca_file_, timeout_);
  if (!conn.connected()) return failure(conn.error());
  ++connections_opened_;
  std::string raw;  // received and not yet parsed
  bool eof = false;
  for (const std::string& request : requests) {
    size_t sent = conn.send_all(request);
    while (true) {
      HttpResponse res;
      size_t used = parse_raw_response(raw, eof, res);
      if (used > 0) {
        out.push_back(std::move(res));
        raw.erase(0, used);
        break;
      }
      if (eof) {
        return failure("connection closed before a complete response (" +
                       std::to_string(raw.size()) + " bytes of it received, " +
                       std::to_string(sent) + " of " + std::to_string(request.size()) +
                       " request bytes sent)");
      }
      bool timed_out = false;
      if (!conn.recv_some(raw, timed_out)) {
        if (timed_out) return failure("timed out waiting for the response");
        eof = true;
      }
    }
  }
  return out;
}

std::string HttpsClient::send_and_hang_up(std::string_view request) {
  global_init();
  RawConnection conn(base_url_, ca_file_, timeout_);
  if (!conn.connected()) return conn.error();
  ++connections_opened_;
  size_t sent = conn.send_all(request);
  if (sent != request.size()) return "sent " + std::to_string(sent) + " of " +
                                     std::to_string(request.size()) + " bytes";
  return "";  // the connection closes here, with the responses unread
}

}  // namespace afterglow::testing
