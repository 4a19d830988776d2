#include "plugin/core/config.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <fstream>
#include <optional>
#include <string_view>

#include "plugin/core/log.h"

extern char** environ;

namespace afterglow {
namespace {

std::string trim(std::string s) {
  auto not_space = [](unsigned char c) { return !std::isspace(c); };
  s.erase(s.begin(), std::find_if(s.begin(), s.end(), not_space));
  s.erase(std::find_if(s.rbegin(), s.rend(), not_space).base(), s.end());
  return s;
}

Result<std::map<std::string, std::string>> read_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return fail(ErrorCode::kInvalidArgument, "config file " + path + " cannot be read");
  std::map<std::string, std::string> out;
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    line = trim(line);
    if (line.empty() || line[0] == '#') continue;
    if (line.rfind("export ", 0) == 0) line = trim(line.substr(7));
    auto eq = line.find('=');
    if (eq == std::string::npos) {
      return fail(ErrorCode::kInvalidArgument,
                  path + ":" + std::to_string(n) + ": expected KEY=VALUE");
    }
    std::string value = trim(line.substr(eq + 1));
    if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') &&
        value.back() == value.front()) {
      value = value.substr(1, value.size() - 2);
    }
    out[trim(line.substr(0, eq))] = value;
  }
  return out;
}

Result<int> parse_int(const std::map<std::string, std::string>& kv, const std::string& key,
                      int fallback, int lo, int hi) {
  auto it = kv.find(key);
  if (it == kv.end() || it->second.empty()) return fallback;
  int v = 0;
  auto [p, ec] = std::from_chars(it->second.data(), it->second.data() + it->second.size(), v);
  if (ec != std::errc() || p != it->second.data() + it->second.size() || v < lo || v > hi) {
    return fail(ErrorCode::kInvalidArgument, key + " must be a whole number from " +
                                                 std::to_string(lo) + " to " + std::to_string(hi));
  }
  return v;
}

// Deliberately loose (the mail server judges deliverability): one '@', a dotted domain, no
// white space or characters that would break the SMTP envelope or a header.
bool plausible_address(std::string_view s) {
  size_t at = s.find('@');
  if (at == 0 || at == std::string_view::npos || s.find('@', at + 1) != std::string_view::npos) {
    return false;
  }
  std::string_view domain = s.substr(at + 1);
  size_t dot = domain.find('.');
  if (dot == 0 || dot == std::string_view::npos || domain.back() == '.') return false;
  return std::none_of(s.begin(), s.end(), [](unsigned char c) {
    return c <= ' ' || c == 0x7f || c == '<' || c == '>' || c == ',' || c == '"';
  });
}

// "a@b.c" or "Name <a@b.c>" -> "a@b.c". A CR or LF anywhere would let the value inject headers.
std::optional<std::string> mail_from_address(std::string_view v) {
  if (v.find_first_of("\r\n") != std::string_view::npos) return std::nullopt;
  std::string_view address = v;
  if (!v.empty() && v.back() == '>') {
    size_t open = v.rfind('<');
    if (open == std::string_view::npos) return std::nullopt;
    if (v.substr(0, open).find_first_of("<>") != std::string_view::npos) return std::nullopt;
    address = v.substr(open + 1, v.size() - open - 2);
  }
  if (!plausible_address(address)) return std::nullopt;
  return std::string(address);
}

bool truthy(const std::map<std::string, std::string>& kv, const std::string& key) {
  auto it = kv.find(key);
  return it != kv.end() && (it->second == "1" || it->second == "true" || it->second == "yes");
}

}  // namespace

std::map<std::string, std::string> process_environment() {
  std::map<std::string, std::string> env;
  for (char** e = environ; e && *e; ++e) {
    std::string_view kv(*e);
    auto eq = kv.find('=');
    if (eq != std::string_view::npos) env[std::string(kv.substr(0, eq))] = kv.substr(eq + 1);
  }
  return env;
}

Result<Config> load_config(const std::map<std::string, std::string>& env,
                           const std::string& config_file, ConfigPurpose purpose) {
  std::map<std::string, std::string> kv;
  std::string file = config_file;
  if (file.empty()) {
    auto it = env.find("AFTERGLOW_CONFIG");
    if (it != env.end()) file = it->second;
  }
  if (!file.empty()) kv = AG_TRY(read_file(file));
  for (const auto& [k, v] : env) kv[k] = v;  // the environment wins over the file

  auto str = [&](const char* key, std::string& field) {
    auto it = kv.find(key);
    if (it != kv.end() && !it->second.empty()) field = it->second;
  };
  Config c;
  str("APP_URL", c.app_url);
  str("APP_API_KEY", c.api_key);
  str("APP_API_SECRET", c.api_secret);
  str("APP_API_SECRET_PREVIOUS", c.api_secret_previous);
  str("DATABASE_URL", c.database_url);
  str("HOST", c.host);
  str("TLS_CERT", c.tls_cert);
  str("TLS_KEY", c.tls_key);
  str("PLATFORM_API_BASE", c.platform_api_base);
  str("PLATFORM_CA_FILE", c.platform_ca_file);
  str("STRIPE_SECRET_KEY", c.stripe_secret_key);
  str("STRIPE_API_BASE", c.stripe_api_base);
  str("STRIPE_WEBHOOK_SECRET", c.stripe_webhook_secret);
  str("SMTP_URL", c.smtp_url);
  str("SMTP_TLS", c.smtp_tls);
  str("SMTP_CA_FILE", c.smtp_ca_file);
  str("MAIL_FROM", c.mail_from);
  str("SMS_API_BASE", c.sms_api_base);
  str("SMS_ACCOUNT_SID", c.sms_account_sid);
  str("SMS_AUTH_TOKEN", c.sms_auth_token);
  str("SMS_FROM", c.sms_from);
  str("TOKEN_ENCRYPTION_KEY", c.token_encryption_key);
  str("LOG_LEVEL", c.log_level);
  str("SQLITE_SYNCHRONOUS", c.sqlite_synchronous);
  c.port = AG_TRY(parse_int(kv, "PORT", c.port, 0, 65535));
  c.http_port = AG_TRY(parse_int(kv, "HTTP_PORT", c.http_port, 0, 65535));
  c.workers = AG_TRY(parse_int(kv, "WORKERS", c.workers, 0, 64));
  c.database_pool_size = AG_TRY(parse_int(kv, "DATABASE_POOL_SIZE", c.database_pool_size, 1, 500));
  c.job_lease_seconds = AG_TRY(parse_int(kv, "JOB_LEASE_SECONDS", c.job_lease_seconds, 1, 86400));
  c.job_retention_days =
      AG_TRY(parse_int(kv, "JOB_RETENTION_DAYS", c.job_retention_days, 1, 3650));
  c.http_threads = AG_TRY(parse_int(kv, "HTTP_THREADS", c.http_threads, 2, 1024));
  c.smtp_timeout_seconds =
      AG_TRY(parse_int(kv, "SMTP_TIMEOUT_SECONDS", c.smtp_timeout_seconds, 1, 3600));
  c.ready_fd = AG_TRY(parse_int(kv, "READY_FD", c.ready_fd, 3, 1 << 20));
  c.dev_mode = truthy(kv, "DEV_MODE");
  c.bench_routes = truthy(kv, "BENCH_ROUTES");
  c.test_hooks = truthy(kv, "AFTERGLOW_TEST_HOOKS");

  log::Level level;
  if (!log::parse_level(c.log_level, &level)) {
    return fail(ErrorCode::kInvalidArgument, "LOG_LEVEL must be debug, info, warn or error");
  }
  if (c.database_url.rfind("sqlite:", 0) != 0 && c.database_url.rfind("postgres://", 0) != 0 &&
      c.database_url.rfind("postgresql://", 0) != 0) {
    return fail(ErrorCode::kInvalidArgument,
                "DATABASE_URL must start with sqlite: or postgres://");
  }
  if (c.sqlite_synchronous != "FULL" && c.sqlite_synchronous != "NORMAL") {
    return fail(ErrorCode::kInvalidArgument, "SQLITE_SYNCHRONOUS must be FULL or NORMAL");
  }
  if (!c.platform_api_base.empty() && c.platform_api_base.rfind("https://", 0) != 0 &&
      c.platform_api_base.rfind("http://", 0) != 0) {
    return fail(ErrorCode::kInvalidArgument, "PLATFORM_API_BASE must be an http(s):// URL");
  }
  if (!c.stripe_webhook_secret.empty() && c.stripe_webhook_secret.rfind("whsec_", 0) != 0) {
    return fail(ErrorCode::kInvalidArgument, "STRIPE_WEBHOOK_SECRET must start with whsec_");
  }
  if (c.sms_api_base.rfind("https://", 0) != 0 && c.sms_api_base.rfind("http://", 0) != 0) {
    return fail(ErrorCode::kInvalidArgument, "SMS_API_BASE must be an http(s):// URL");
  }
  if (!c.sms_account_sid.empty()) {
    // A half-configured channel would fail every send with 401; say so at start instead.
    if (c.sms_account_sid.rfind("AC", 0) != 0) {
      return fail(ErrorCode::kInvalidArgument, "SMS_ACCOUNT_SID must start with AC");
    }
    if (c.sms_auth_token.empty()) {
      return fail(ErrorCode::kInvalidArgument,
                  "SMS_AUTH_TOKEN is required when SMS_ACCOUNT_SID is set");
    }
    if (c.sms_from.empty()) {
      return fail(ErrorCode::kInvalidArgument, "SMS_FROM is required when SMS_ACCOUNT_SID is set");
    }
  }
  if (!c.smtp_url.empty() && c.smtp_url.rfind("smtp://", 0) != 0 &&
      c.smtp_url.rfind("smtps://", 0) != 0) {
    return fail(ErrorCode::kInvalidArgument, "SMTP_URL must be an smtp:// or smtps:// URL");
  }
  if (c.smtp_tls != "required" && c.smtp_tls != "none") {
    return fail(ErrorCode::kInvalidArgument, "SMTP_TLS must be required or none");
  }
  if (c.smtp_tls == "none" && c.smtp_url.rfind("smtps://", 0) == 0) {
    return fail(ErrorCode::kInvalidArgument,
                "SMTP_TLS=none contradicts an smtps:// SMTP_URL (implicit TLS)");
  }
  if (!c.mail_from.empty()) {
    auto address = mail_from_address(c.mail_from);
    if (!address) {
      return fail(ErrorCode::kInvalidArgument,
                  "MAIL_FROM must be an email address such as bounce@example.com, optionally "
                  "as Name <bounce@example.com>");
    }
    c.mail_from_address = *address;
  }
  if (purpose == ConfigPurpose::kServe) {
    if (c.api_key.empty()) return fail(ErrorCode::kInvalidArgument, "APP_API_KEY is required");
    if (c.api_secret.empty()) {
      return fail(ErrorCode::kInvalidArgument, "APP_API_SECRET is required");
    }
    if (c.tls_cert.empty() != c.tls_key.empty()) {
      return fail(ErrorCode::kInvalidArgument,
                  c.tls_cert.empty() ? "TLS_CERT is required when TLS_KEY is set"
                                     : "TLS_KEY is required when TLS_CERT is set");
    }
    if (c.tls_cert.empty() && c.http_port < 0) {
      return fail(ErrorCode::kInvalidArgument,
                  "TLS_CERT and TLS_KEY are required (or set HTTP_PORT for a plain-HTTP "
                  "listener behind a TLS-terminating proxy)");
    }
    if (c.app_url.rfind("https://", 0) != 0 && c.app_url.rfind("http://", 0) != 0) {
      return fail(ErrorCode::kInvalidArgument, "APP_URL must be an http(s):// URL");
    }
  }
  return c;
}

std::string Config::describe() const {
  std::string out = "database=" + (database_url.rfind("sqlite:", 0) == 0
                                       ? database_url
                                       : std::string("postgres://…"));
  auto flag = [&](const char* name, const std::string& v) {
    out += std::string(" ") + name + (v.empty() ? "=unset" : "=set");
  };
  flag("APP_API_SECRET", api_secret);
  flag("APP_API_SECRET_PREVIOUS", api_secret_previous);
  flag("STRIPE_SECRET_KEY", stripe_secret_key);
  flag("STRIPE_WEBHOOK_SECRET", stripe_webhook_secret);
  flag("TOKEN_ENCRYPTION_KEY", token_encryption_key);
  flag("SMTP_URL", smtp_url);  // may carry the SMTP password
  flag("SMS_AUTH_TOKEN", sms_auth_token);
  return out;
}

}  // namespace afterglow
