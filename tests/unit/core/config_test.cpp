// plugin/core/config: required keys per purpose, malformed values named, file + environment
// precedence, and describe() keeping secrets out of logs.
#include "plugin/core/config.h"

#include <catch2/catch.hpp>

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>

namespace afterglow {
namespace {

using Env = std::map<std::string, std::string>;

// The smallest environment `serve` accepts.
Env serve_env() {
  return {{"APP_API_KEY", "test_key"},
          {"APP_API_SECRET", "serve-secret-value"},
          {"TLS_CERT", "/etc/afterglow/cert.pem"},
          {"TLS_KEY", "/etc/afterglow/key.pem"}};
}

std::string error_of(const Env& env, ConfigPurpose purpose = ConfigPurpose::kServe,
                     const std::string& file = "") {
  auto c = load_config(env, file, purpose);
  REQUIRE_FALSE(c);
  CHECK(c.error().code == ErrorCode::kInvalidArgument);
  return c.error().message;
}

// A config file in a fresh temporary directory, removed afterwards.
class TempFile {
 public:
  explicit TempFile(const std::string& text) {
    std::string tmpl = (std::filesystem::temp_directory_path() / "ag-config-XXXXXX").string();
    REQUIRE(mkdtemp(tmpl.data()) != nullptr);
    dir_ = tmpl;
    path_ = (dir_ / "afterglow.env").string();
    std::ofstream(path_) << text;
  }
  ~TempFile() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::filesystem::path dir_;
  std::string path_;
};

TEST_CASE("config: the minimal serve environment loads with the documented defaults", "[config]") {
  auto c = load_config(serve_env(), "", ConfigPurpose::kServe);
  REQUIRE(c);
  CHECK(c->api_key == "test_key");
  CHECK(c->api_secret == "serve-secret-value");
  CHECK(c->port == 8443);
  CHECK(c->host == "0.0.0.0");
  CHECK(c->database_url == "sqlite:var/afterglow.db");
  CHECK(c->http_port == -1);
  CHECK(c->workers == 2);
  CHECK(c->log_level == "info");
  CHECK_FALSE(c->dev_mode);
}

TEST_CASE("config: serve without APP_API_SECRET fails naming APP_API_SECRET", "[config]") {
  Env env = serve_env();
  env.erase("APP_API_SECRET");
  CHECK_THAT(error_of(env), Catch::Contains("APP_API_SECRET"));
  env["APP_API_SECRET"] = "";  // set but empty is missing too
  CHECK_THAT(error_of(env), Catch::Contains("APP_API_SECRET"));
  env = serve_env();
  env.erase("APP_API_KEY");
  CHECK_THAT(error_of(env), Catch::Contains("APP_API_KEY"));
}

TEST_CASE("config: worker and admin purposes do not need the app secret or TLS", "[config]") {
  CHECK(load_config({}, "", ConfigPurpose::kWorker));
  CHECK(load_config({}, "", ConfigPurpose::kAdmin));
  CHECK_FALSE(load_config({}, "", ConfigPurpose::kServe));
}

TEST_CASE("config: a malformed PORT fails naming PORT", "[config]") {
  for (const char* bad : {"84a3", "http", "-1", "65536", "8443 ", "1e3", "0x20"}) {
    INFO(bad);
    Env env = serve_env();
    env["PORT"] = bad;
    const std::string msg = error_of(env);
    CHECK(msg.rfind("PORT ", 0) == 0);  // PORT itself, not HTTP_PORT
  }
  Env env = serve_env();
  env["PORT"] = "0";
  CHECK(load_config(env, "", ConfigPurpose::kServe)->port == 0);
  env["PORT"] = "65535";
  CHECK(load_config(env, "", ConfigPurpose::kServe)->port == 65535);
  env["HTTP_PORT"] = "x";
  CHECK(error_of(env).rfind("HTTP_PORT ", 0) == 0);
  env.erase("HTTP_PORT");
  env["WORKERS"] = "65";
  CHECK_THAT(error_of(env), Catch::Contains("WORKERS"));
}

TEST_CASE("config: TLS_CERT without TLS_KEY fails naming TLS_KEY, and the reverse", "[config]") {
  Env env = serve_env();
  env.erase("TLS_KEY");
  CHECK_THAT(error_of(env), Catch::StartsWith("TLS_KEY is required"));
  env = serve_env();
  env.erase("TLS_CERT");
  CHECK_THAT(error_of(env), Catch::StartsWith("TLS_CERT is required"));
  // Neither, and no plain-HTTP listener: serve has nothing to listen on.
  env.erase("TLS_KEY");
  CHECK_THAT(error_of(env), Catch::Contains("TLS_CERT"));
  env["HTTP_PORT"] = "8080";
  CHECK(load_config(env, "", ConfigPurpose::kServe));
}

TEST_CASE("config: other malformed values name their key", "[config]") {
  auto with = [](const char* key, const char* value) {
    Env env = serve_env();
    env[key] = value;
    return env;
  };
  CHECK_THAT(error_of(with("LOG_LEVEL", "loud")), Catch::Contains("LOG_LEVEL"));
  CHECK_THAT(error_of(with("DATABASE_URL", "mysql://x")), Catch::Contains("DATABASE_URL"));
  CHECK_THAT(error_of(with("SQLITE_SYNCHRONOUS", "OFF")), Catch::Contains("SQLITE_SYNCHRONOUS"));
  CHECK_THAT(error_of(with("STRIPE_WEBHOOK_SECRET", "sk_live_x")),
             Catch::Contains("STRIPE_WEBHOOK_SECRET"));
  CHECK_THAT(error_of(with("APP_URL", "ftp://x")), Catch::Contains("APP_URL"));
}

TEST_CASE("config: the file supplies keys and the environment wins over it", "[config]") {
  TempFile file(
      "# Afterglow settings\n"
      "\n"
      "PORT=9000\n"
      "export LOG_LEVEL = warn\n"
      "APP_API_SECRET=\"file-secret\"\n"
      "MAIL_FROM='Shop <shop@example.com>'\n"
      "WORKERS=3\n");
  Env env = serve_env();
  env.erase("APP_API_SECRET");
  env["PORT"] = "9100";
  auto c = load_config(env, file.path(), ConfigPurpose::kServe);
  REQUIRE(c);
  CHECK(c->port == 9100);                  // environment over file
  CHECK(c->log_level == "warn");           // `export` and spaces around '=' accepted
  CHECK(c->api_secret == "file-secret");   // quotes stripped
  CHECK(c->mail_from == "Shop <shop@example.com>");
  CHECK(c->workers == 3);

  // AFTERGLOW_CONFIG names the file when no explicit path is given.
  env["AFTERGLOW_CONFIG"] = file.path();
  auto via_env = load_config(env, "", ConfigPurpose::kServe);
  REQUIRE(via_env);
  CHECK(via_env->api_secret == "file-secret");
  CHECK(via_env->port == 9100);
}

TEST_CASE("config: a malformed or missing file fails naming the file", "[config]") {
  TempFile bad("PORT=1\nthis line has no equals sign\n");
  const std::string msg = error_of(serve_env(), ConfigPurpose::kServe, bad.path());
  CHECK_THAT(msg, Catch::Contains(bad.path() + ":2"));
  CHECK_THAT(error_of(serve_env(), ConfigPurpose::kServe, bad.path() + ".missing"),
             Catch::Contains(".missing"));
}

TEST_CASE("config: describe() says which secrets are set without their values", "[config]") {
  Env env = serve_env();
  env["APP_API_SECRET"] = "s3cr3t-app-value";
  env["APP_API_SECRET_PREVIOUS"] = "s3cr3t-previous-value";
  env["STRIPE_SECRET_KEY"] = "sk_test_s3cr3t";
  env["STRIPE_WEBHOOK_SECRET"] = "whsec_s3cr3t";
  env["TOKEN_ENCRYPTION_KEY"] = "c2VjcmV0LWtleS1zM2NyM3Q=";
  env["SMS_AUTH_TOKEN"] = "sms-s3cr3t";
  env["SMTP_URL"] = "smtps://user:smtp-s3cr3t@mail.example.com";
  env["DATABASE_URL"] = "postgres://app:db-s3cr3t@db.internal/afterglow";
  auto c = load_config(env, "", ConfigPurpose::kServe);
  REQUIRE(c);
  const std::string d = c->describe();
  INFO(d);
  CHECK(d.find("s3cr3t") == std::string::npos);
  CHECK(d.find("c2VjcmV0") == std::string::npos);
  CHECK_THAT(d, Catch::Contains("APP_API_SECRET=set"));
  CHECK_THAT(d, Catch::Contains("STRIPE_WEBHOOK_SECRET=set"));

  auto bare = load_config(serve_env(), "", ConfigPurpose::kServe);
  REQUIRE(bare);
  CHECK_THAT(bare->describe(), Catch::Contains("STRIPE_SECRET_KEY=unset"));
  CHECK(bare->describe().find("serve-secret-value") == std::string::npos);
}

}  // namespace
}  // namespace afterglow
