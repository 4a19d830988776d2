// Shared by the install / token / platform-client / catalog tests: a migrated database on the
// backend under test, a ManualClock shared with a FakePlatform (HTTPS on loopback), the real
// libcurl client trusting the fake's certificate, and the real OAuthClient, ShopTokens,
// PlatformClient (with a sleeper that advances the clock instead of sleeping) and ShopInstaller.
#pragma once

#include <catch2/catch.hpp>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "plugin/core/catalog_sync.h"
#include "plugin/core/clock.h"
#include "plugin/core/crypto.h"
#include "plugin/core/db.h"
#include "plugin/core/http_client.h"
#include "plugin/core/job_queue.h"
#include "plugin/core/migrations.h"
#include "plugin/core/platform_client.h"
#include "plugin/core/platform_oauth.h"
#include "plugin/core/shop_install.h"
#include "plugin/core/shop_tokens.h"
#include "plugin/core/token_cipher.h"
#include "tests/support/fake_platform.h"
#include "tests/support/test_backend.h"

namespace afterglow::platform_testing {

inline constexpr int64_t kStartMs = 1'760'000'000'000;  // 2025-10-09
inline constexpr const char* kShop = "glow-shop.myshopify.com";
inline constexpr const char* kSecret = "shpss_unit_test_secret";
inline const std::string kKey = crypto::base64_encode(std::string(32, '\x2a'));

// Sleeps by moving the ManualClock; remembers every wait.
class ClockSleeper final : public Sleeper {
 public:
  explicit ClockSleeper(ManualClock& clock) : clock_(clock) {}
  void sleep_for(std::chrono::milliseconds d) override {
    std::lock_guard<std::mutex> lock(mu_);
    waits_.push_back(d);
    clock_.advance(d);
  }
  std::vector<std::chrono::milliseconds> waits() const {
    std::lock_guard<std::mutex> lock(mu_);
    return waits_;
  }
  int64_t total_ms() const {
    int64_t t = 0;
    for (auto w : waits()) t += w.count();
    return t;
  }

 private:
  ManualClock& clock_;
  mutable std::mutex mu_;
  std::vector<std::chrono::milliseconds> waits_;
};

inline std::unique_ptr<Db> migrated(const testing::TestDatabase& database) {
  auto db = database.open();
  REQUIRE(migrate(*db));
  return db;
}

inline testing::FakePlatform::Options fake_options(const Clock& clock) {
  testing::FakePlatform::Options o;
  o.client_id = "test-api-key";
  o.client_secret = kSecret;
  o.clock = &clock;
  return o;
}

struct PlatformEnv {
  explicit PlatformEnv(PlatformClientOptions client_options = {})
      : clock(kStartMs),
        fake(fake_options(clock)),
        db(migrated(database)),
        http(make_curl_http_client(CurlOptions{fake.ca_file()})),
        cipher(*TokenCipher::from_base64_key(kKey)),
        endpoints(fake.base_url()),
        oauth(*http, endpoints, OAuthCredentials{"test-api-key", kSecret}),
        tokens(*db, cipher, oauth, clock),
        sleeper(clock),
        client(*http, tokens, endpoints, clock, sleeper, client_options),
        queue(*db, clock, RetryPolicy{}, 7),
        installer(*db, queue, tokens, oauth, clock) {}

  // Installs `shop` through the authorization-code grant, as the callback does.
  Installed install(const std::string& shop = kShop) {
    auto r = installer.install_with_code(shop, fake.issue_code(shop));
    REQUIRE(r);
    return *r;
  }

  std::optional<Row> row(const std::string& sql, const Params& params = {}) {
    std::optional<Row> out;
    REQUIRE(db->read([&](Tx& tx) -> Result<void> {
      out = AG_TRY(tx.query_one(sql, params));
      return {};
    }));
    return out;
  }
  int64_t i64(const std::string& sql, const Params& params = {}) {
    auto r = row(sql, params);
    REQUIRE(r);
    return r->i64(0);
  }
  void exec(const std::string& sql, const Params& params = {}) {
    REQUIRE(db->write([&](Tx& tx) -> Result<void> {
      AG_CHECK(tx.exec(sql, params));
      return {};
    }));
  }

  testing::TestDatabase database;  // outlives every Db opened on it
  ManualClock clock;
  testing::FakePlatform fake;
  std::unique_ptr<Db> db;
  std::unique_ptr<HttpClient> http;
  TokenCipher cipher;
  PlatformEndpoints endpoints;
  OAuthClient oauth;
  ShopTokens tokens;
  ClockSleeper sleeper;
  PlatformClient client;
  JobQueue queue;
  ShopInstaller installer;
};

// A product as the fake serves it.
inline CatalogProduct sample_product(int64_t id, std::string price = "25.00") {
  CatalogProduct p;
  p.id = id;
  p.title = "Glow Candle " + std::to_string(id);
  p.handle = "glow-candle-" + std::to_string(id);
  p.status = "active";
  p.tags = {"candle", "gift"};
  p.image_url = "https://cdn.example.com/candle-" + std::to_string(id) + ".png";
  p.collections = {{482865238, "Home"}};
  p.updated_at_ms = kStartMs - 60'000;
  CatalogVariant v;
  v.id = id * 10 + 1;
  v.title = "Small";
  v.sku = "GLOW-S-" + std::to_string(id);
  v.position = 1;
  v.price = std::move(price);
  v.compare_at_price = "30.00";
  v.inventory_quantity = 12;
  v.available = true;
  v.image_url = "https://cdn.example.com/candle-small.png";
  p.variants.push_back(v);
  return p;
}

}  // namespace afterglow::platform_testing
