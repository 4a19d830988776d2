#include "email/twilio_signature.h"

#include <algorithm>
#include <optional>

#include "plugin/core/crypto.h"
#include "plugin/core/oauth_query.h"

namespace afterglow::email {
namespace {

// Where the port of `url` is: [colon, end of authority). nullopt when the URL has no scheme.
struct Authority {
  size_t host_begin = 0;
  size_t end = 0;               // end of the authority (first '/', '?' or '#', or the end)
  std::optional<size_t> colon;  // the ':' before the port, when there is one
};

std::optional<Authority> find_authority(std::string_view url) {
  auto scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return std::nullopt;
  Authority a;
  a.host_begin = scheme_end + 3;
  a.end = url.find_first_of("/?#", a.host_begin);
  if (a.end == std::string_view::npos) a.end = url.size();
  std::string_view auth = url.substr(a.host_begin, a.end - a.host_begin);
  if (auto at = auth.rfind('@'); at != std::string_view::npos) a.host_begin += at + 1;
  auth = url.substr(a.host_begin, a.end - a.host_begin);
  auto colon = auth.rfind(':');
  auto bracket = auth.rfind(']');  // an IPv6 literal's colons are not a port
  if (colon != std::string_view::npos && (bracket == std::string_view::npos || colon > bracket)) {
    a.colon = a.host_begin + colon;
  }
  return a;
}

// The URL variants Twilio's helper libraries accept: as given, without the port, with the
// scheme's default port.
std::vector<std::string> url_variants(std::string_view url) {
  std::vector<std::string> out{std::string(url)};
  auto a = find_authority(url);
  if (!a) return out;
  if (a->colon) {
    std::string without(url.substr(0, *a->colon));
    without += url.substr(a->end);
    out.push_back(std::move(without));
  } else if (url.starts_with("https://") || url.starts_with("http://")) {
    std::string with(url.substr(0, a->end));
    with += url.starts_with("https://") ? ":443" : ":80";
    with += url.substr(a->end);
    out.push_back(std::move(with));
  }
  return out;
}

}  // namespace

std::string twilio_signature(std::string_view auth_token, std::string_view url,
                             const FormParams& params) {
  std::vector<const std::pair<std::string, std::string>*> sorted;
  sorted.reserve(params.size());
  for (const auto& p : params) sorted.push_back(&p);
  // std::string compares as unsigned bytes (char_traits<char>::lt), i.e. byte order.
  std::sort(sorted.begin(), sorted.end(), [](const auto* a, const auto* b) { return *a < *b; });
  std::string text(url);
  for (const auto* p : sorted) text.append(p->first).append(p->second);
  return crypto::base64_encode(crypto::hmac_sha1(auth_token, text));
}

bool verify_twilio_signature(std::string_view auth_token, std::string_view url,
                             const FormParams& params, std::string_view header) {
  if (auth_token.empty() || header.empty()) return false;
  bool ok = false;
  // Every variant is computed and compared, so the time does not say which one matched.
  for (const auto& candidate : url_variants(url)) {
    ok |= crypto::constant_time_equal(twilio_signature(auth_token, candidate, params), header);
  }
  return ok;
}

Result<FormParams> verified_twilio_form(std::string_view auth_token, std::string_view url,
                                        std::string_view body, std::string_view header) {
  FormParams params = AG_TRY(oauth::parse_query(body));
  if (header.empty()) {
    return fail(ErrorCode::kUnauthenticated, "X-Twilio-Signature is missing");
  }
  if (!verify_twilio_signature(auth_token, url, params, header)) {
    return fail(ErrorCode::kUnauthenticated, "X-Twilio-Signature does not match");
  }
  return params;
}

}  // namespace afterglow::email
