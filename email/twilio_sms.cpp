#include "email/twilio_sms.h"

#include <cctype>
#include <charconv>
#include <nlohmann/json.hpp>
#include <utility>
#include <vector>

#include "plugin/core/crypto.h"
#include "plugin/core/log.h"

namespace afterglow::email {
namespace {

using nlohmann::json;

// Twilio's error for a recipient who replied STOP to this sender (spec §3.1).
constexpr int kErrorOptedOut = 21610;

bool alnum_only(std::string_view s) {
  for (unsigned char c : s) {
    if (!std::isalnum(c)) return false;
  }
  return true;
}

bool is_messaging_service_sid(std::string_view from) {
  return from.size() == 34 && from.starts_with("MG") && alnum_only(from.substr(2));
}

std::string form_encode(const std::vector<std::pair<std::string, std::string>>& fields) {
  std::string out;
  for (const auto& [k, v] : fields) {
    if (!out.empty()) out += '&';
    out += url_encode(k);
    out += '=';
    out += url_encode(v);
  }
  return out;
}

// Twilio sends num_segments as a string ("1"); accept a number too.
int int_field(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end()) return 0;
  if (it->is_number_integer()) return it->get<int>();
  if (it->is_string()) {
    const auto& s = it->get_ref<const std::string&>();
    int v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec == std::errc() && p == s.data() + s.size()) return v;
  }
  return 0;
}

std::string str_field(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// The last four digits: enough to find a send in the logs without logging the number.
std::string number_tail(std::string_view number) {
  return number.size() <= 4 ? std::string("…")
                            : "…" + std::string(number.substr(number.size() - 4));
}

// Provider text can be long or carry the number; a log line needs only its start.
std::string clip(std::string s, size_t n = 200) {
  if (s.size() > n) s.resize(n);
  return s;
}

SmsResult local_refusal(std::string why) {
  SmsResult r;
  r.outcome = SmsOutcome::kRejected;
  r.detail = std::move(why);
  return r;
}

SmsResult from_response(const HttpResponse& res) {
  SmsResult r;
  r.http_status = res.status;
  json j = json::parse(res.body, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) j = json::object();
  if (res.status >= 200 && res.status < 300) {
    // Created, whatever the body says: never resend. A body we cannot read only costs the sid
    // (delivery reports for it then match nothing).
    r.outcome = SmsOutcome::kSent;
    r.sid = str_field(j, "sid");
    r.status = str_field(j, "status");
    r.segments = int_field(j, "num_segments");
    if (r.sid.empty()) r.detail = "2xx answer without a message sid";
    return r;
  }
  r.error_code = int_field(j, "code");
  r.detail = clip(str_field(j, "message"));
  if (r.detail.empty()) r.detail = "HTTP " + std::to_string(res.status);
  if (res.status == 429) {
    r.outcome = SmsOutcome::kRetry;
  } else if (res.status >= 400 && res.status < 500) {
    r.outcome = r.error_code == kErrorOptedOut ? SmsOutcome::kOptedOut : SmsOutcome::kRejected;
  } else {
    // 5xx (and anything unexpected): Twilio received the request and may have created the
    // message before failing; without an idempotency key a resend risks a duplicate.
    r.outcome = SmsOutcome::kUnknown;
  }
  return r;
}

}  // namespace

bool is_e164(std::string_view number) {
  if (number.size() < 3 || number.size() > 16 || number[0] != '+') return false;
  if (number[1] == '0') return false;
  for (char c : number.substr(1)) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

std::optional<TwilioSmsOptions> twilio_sms_options(const Config& config) {
  if (config.sms_account_sid.empty()) return std::nullopt;
  TwilioSmsOptions o;
  if (!config.sms_api_base.empty()) o.api_base = config.sms_api_base;
  o.account_sid = config.sms_account_sid;
  o.auth_token = config.sms_auth_token;
  o.from = config.sms_from;
  return o;
}

Result<void> validate_twilio_sms_options(const TwilioSmsOptions& o) {
  if (std::string why = api_base_problem(o.api_base); !why.empty()) {
    return fail(ErrorCode::kInvalidArgument, "SMS_API_BASE " + why);
  }
  if (o.account_sid.size() < 3 || !o.account_sid.starts_with("AC") || !alnum_only(o.account_sid)) {
    return fail(ErrorCode::kInvalidArgument,
                "SMS_ACCOUNT_SID must be AC followed by letters and digits");
  }
  if (o.auth_token.empty()) return fail(ErrorCode::kInvalidArgument, "SMS_AUTH_TOKEN is empty");
  if (o.from.empty()) return fail(ErrorCode::kInvalidArgument, "SMS_FROM is empty");
  if (o.request_timeout.count() <= 0) {
    return fail(ErrorCode::kInvalidArgument, "the SMS request timeout must be positive");
  }
  return {};
}

TwilioSms::TwilioSms(HttpClient& http, TwilioSmsOptions options)
    : http_(http), options_(std::move(options)) {
  if (options_.api_base.ends_with('/')) options_.api_base.pop_back();
  if (auto ok = validate_twilio_sms_options(options_); !ok) invalid_options_ = ok.error().message;
}

std::string TwilioSms::messages_url() const {
  return options_.api_base + "/2010-04-01/Accounts/" + options_.account_sid + "/Messages.json";
}

SmsResult TwilioSms::send(const OutgoingSms& sms) {
  if (!invalid_options_.empty()) return local_refusal(invalid_options_);
  if (!is_e164(sms.to)) return local_refusal("the recipient is not an E.164 number");
  if (sms.body.empty()) return local_refusal("the message body is empty");
  if (!sms.status_callback.empty() && !sms.status_callback.starts_with("https://") &&
      !sms.status_callback.starts_with("http://")) {
    return local_refusal("the status callback is not an http(s) URL");
  }

  std::vector<std::pair<std::string, std::string>> fields{{"To", sms.to}};
  if (is_messaging_service_sid(options_.from)) {
    fields.emplace_back("MessagingServiceSid", options_.from);
  } else {
    fields.emplace_back("From", options_.from);
  }
  fields.emplace_back("Body", sms.body);
  if (!sms.status_callback.empty()) fields.emplace_back("StatusCallback", sms.status_callback);

  HttpRequest req;
  req.method = "POST";
  req.url = messages_url();
  req.timeout = options_.request_timeout;
  req.headers = {
      {"Authorization",
       "Basic " + crypto::base64_encode(options_.account_sid + ":" + options_.auth_token)},
      {"Content-Type", "application/x-www-form-urlencoded"},
      {"Accept", "application/json"},
  };
  req.body = form_encode(fields);

  SmsResult r;
  auto res = http_.send(req);
  if (!res) {
    // The transport error names neither the URL nor headers (HttpClient's contract).
    r.outcome = http_request_not_sent(res.error()) ? SmsOutcome::kRetry : SmsOutcome::kUnknown;
    r.detail = res.error().message;
  } else {
    r = from_response(*res);
  }
  log::write(r.outcome == SmsOutcome::kSent ? log::Level::kInfo : log::Level::kWarn, "sms send",
             {{"outcome", sms_outcome_name(r.outcome)},
              {"http_status", r.http_status},
              {"error_code", r.error_code},
              {"sid", r.sid},
              {"to", number_tail(sms.to)},
              {"segments", r.segments},
              // Twilio's own messages may quote the number; a transport error never does.
              {"detail", r.http_status == 0 ? r.detail : std::string()}});
  return r;
}

}  // namespace afterglow::email
