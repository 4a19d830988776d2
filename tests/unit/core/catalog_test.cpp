// plugin/core/catalog and catalog_sync: the products cache from products/* webhook payloads
// (last writer wins on updated_at, deletes stick) and from a full sync over the Admin API
// against the fake platform (pages, currency, collections, removed products swept).
#include "plugin/core/catalog.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "plugin/core/catalog_sync.h"
#include "plugin/core/time_format.h"
#include "tests/unit/core/platform_env.h"

namespace afterglow {
namespace {

using nlohmann::json;
using platform_testing::kShop;
using platform_testing::PlatformEnv;
using platform_testing::sample_product;

// A products/update body in the REST shape the platform sends.
std::string product_body(int64_t id, const std::string& updated_at, const std::string& price,
                         int inventory = 75) {
  json body = {{"id", id},
               {"title", "Example T-Shirt"},
               {"handle", "example-t-shirt"},
               {"status", "active"},
               {"tags", "example, mens, t-shirt"},
               {"updated_at", updated_at},
               {"admin_graphql_api_id", "gid://shopify/Product/" + std::to_string(id)},
               {"variants",
                {{{"id", 642667041472713922LL},
                  {"product_id", id},
                  {"title", "Small"},
                  {"price", price},
                  {"sku", "example-shirt-s"},
                  {"position", 1},
                  {"inventory_policy", "deny"},
                  {"compare_at_price", "24.99"},
                  {"inventory_management", "shopify"},
                  {"inventory_quantity", inventory},
                  {"image_id", 1001}},
                 {{"id", 757650484644203962LL},
                  {"product_id", id},
                  {"title", "Medium"},
                  {"price", price},
                  {"sku", "example-shirt-m"},
                  {"position", 2},
                  {"inventory_policy", "deny"},
                  {"compare_at_price", nullptr},
                  {"inventory_management", "shopify"},
                  {"inventory_quantity", 0},
                  {"image_id", nullptr}}}},
               {"images", {{{"id", 1001}, {"src", "https://cdn.example.com/shirt-small.png"}}}},
               {"image", {{"id", 1001}, {"src", "https://cdn.example.com/shirt.png"}}}};
  return body.dump();
}

constexpr int64_t kProduct = 788032119674292922LL;

struct CatalogEnv : PlatformEnv {
  CatalogEnv() { shop_id = install().shop.id; }
  Result<ProductWebhookResult> deliver(const std::string& topic, const std::string& body) {
    Result<ProductWebhookResult> out = fail(ErrorCode::kInternal, "not run");
    REQUIRE(db->write([&](Tx& tx) -> Result<void> {
      out = apply_product_webhook(tx, shop_id, topic, body, clock.now_ms());
      return {};
    }));
    return out;
  }
  std::optional<CatalogProduct> product(int64_t id) {
    std::optional<CatalogProduct> out;
    REQUIRE(db->read([&](Tx& tx) -> Result<void> {
      out = AG_TRY(load_product(tx, shop_id, id));
      return {};
    }));
    return out;
  }
  int64_t shop_id = 0;
};

}  // namespace

TEST_CASE("gids: the number at the end, nothing else", "[catalog]") {
  CHECK(gid_number("gid://shopify/Product/788032119674292922") == 788032119674292922LL);
  CHECK(gid_number("gid://shopify/ProductVariant/5?x=1") == 5);
  CHECK_FALSE(gid_number("788032119674292922"));
  CHECK_FALSE(gid_number("gid://shopify/Product/"));
  CHECK_FALSE(gid_number("gid://shopify/Product/12ab"));
  CHECK(product_gid(7) == "gid://shopify/Product/7");
  CHECK(variant_gid(7) == "gid://shopify/ProductVariant/7");
}

TEST_CASE("a products/update payload fills the cache: prices, compare-at, stock, images, tags",
          "[catalog][db]") {
  CatalogEnv env;
  auto r =
      env.deliver("products/update", product_body(kProduct, "2025-10-01T10:00:00-04:00", "19.99"));
  REQUIRE(r);
  CHECK(r->applied);
  CHECK(r->needs_refresh);  // a product we did not know: collections come from the API
  auto p = env.product(kProduct);
  REQUIRE(p);
  CHECK(p->title == "Example T-Shirt");
  CHECK(p->tags == std::vector<std::string>{"example", "mens", "t-shirt"});
  CHECK(p->image_url == "https://cdn.example.com/shirt.png");
  REQUIRE(p->variants.size() == 2);
  const CatalogVariant& s = p->variants[0];
  CHECK(s.id == 642667041472713922LL);
  CHECK(s.price == "19.99");
  CHECK(s.compare_at_price == "24.99");
  CHECK(s.inventory_quantity == 75);
  CHECK(s.available);
  CHECK(s.image_url == "https://cdn.example.com/shirt-small.png");
  CHECK_FALSE(s.price_minor);             // the shop's currency is not known before a sync
  CHECK_FALSE(p->variants[1].available);  // tracked, deny, 0 left
  CHECK_FALSE(p->variants[1].compare_at_price);

  // Once the currency is known, minor units come with the reads.
  REQUIRE(env.db->write([&](Tx& tx) { return set_shop_currency(tx, env.shop_id, "USD"); }));
  CHECK(env.product(kProduct)->variants[0].price_minor == 1999);
  CHECK(env.product(kProduct)->variants[0].compare_at_price_minor == 2499);
  // And by variant id.
  std::optional<CatalogProduct> by_variant;
  REQUIRE(env.db->read([&](Tx& tx) -> Result<void> {
    by_variant = AG_TRY(load_product_of_variant(tx, env.shop_id, 757650484644203962LL));
    return {};
  }));
  REQUIRE(by_variant);
  CHECK(by_variant->id == kProduct);
}

TEST_CASE("out of order: an older update does not overwrite a newer one", "[catalog][db]") {
  CatalogEnv env;
  REQUIRE(env.deliver("products/update", product_body(kProduct, "2025-10-01T12:00:00Z", "21.00")));
  auto older =
      env.deliver("products/update", product_body(kProduct, "2025-10-01T11:00:00Z", "18.00"));
  REQUIRE(older);
  CHECK_FALSE(older->applied);
  CHECK(older->note == "older than the stored product");
  CHECK(env.product(kProduct)->variants[0].price == "21.00");
  auto newer =
      env.deliver("products/update", product_body(kProduct, "2025-10-01T13:00:00Z", "22.00", 3));
  REQUIRE(newer);
  CHECK(newer->applied);
  CHECK_FALSE(newer->needs_refresh);
  CHECK(env.product(kProduct)->variants[0].price == "22.00");
  CHECK(env.product(kProduct)->variants[0].inventory_quantity == 3);
}

TEST_CASE("a deleted product stays deleted, even when an update arrives late", "[catalog][db]") {
  CatalogEnv env;
  REQUIRE(env.deliver("products/update", product_body(kProduct, "2025-10-01T12:00:00Z", "21.00")));
  auto del = env.deliver("products/delete", R"({"id":788032119674292922})");
  REQUIRE(del);
  CHECK(del->applied);
  CHECK_FALSE(env.product(kProduct));
  CHECK(env.i64("SELECT COUNT(*) FROM catalog_variants") == 0);
  auto late =
      env.deliver("products/update", product_body(kProduct, "2025-10-01T12:30:00Z", "9.00"));
  REQUIRE(late);
  CHECK_FALSE(late->applied);
  CHECK(late->note == "product was deleted");
  CHECK_FALSE(env.product(kProduct));
  // A delete for a product we never saw leaves a tombstone, so its late create is ignored.
  REQUIRE(env.deliver("products/delete", R"({"id":5})"));
  auto create = env.deliver("products/create", product_body(5, "2025-10-01T12:30:00Z", "9.00"));
  REQUIRE(create);
  CHECK_FALSE(create->applied);
}

TEST_CASE("malformed product payloads are bad input", "[catalog][db]") {
  CatalogEnv env;
  auto no_id =
      env.deliver("products/update", R"({"title":"x","updated_at":"2025-10-01T12:00:00Z"})");
  REQUIRE_FALSE(no_id);
  CHECK(no_id.error().code == ErrorCode::kInvalidArgument);
  auto float_id =
      env.deliver("products/update", R"({"id":1.5,"updated_at":"2025-10-01T12:00:00Z"})");
  REQUIRE_FALSE(float_id);
  auto no_time = env.deliver("products/update", R"({"id":1})");
  REQUIRE_FALSE(no_time);
  CHECK(no_time.error().code == ErrorCode::kInvalidArgument);
  CHECK_FALSE(env.deliver("products/update", "not json"));
}

TEST_CASE("a full sync stores every page with currency and collections, then sweeps the gone",
          "[catalog][db]") {
  CatalogEnv env;
  env.fake.set_currency(kShop, "JPY");
  for (int64_t id = 1; id <= 20; ++id) env.fake.put_product(kShop, sample_product(id, "2500"));
  CatalogSync sync(*env.db, env.client, env.clock);
  auto n = sync.sync_shop(kShop);
  REQUIRE(n);
  CHECK(*n == 20);
  CHECK(env.fake.count("graphql:products") == 5);  // pages of 4
  auto p = env.product(7);
  REQUIRE(p);
  CHECK(p->collections.size() == 1);
  CHECK(p->collections[0].id == 482865238);
  CHECK(p->collections[0].title == "Home");
  CHECK(p->variants[0].price_minor == 2500);  // JPY has no minor unit
  CHECK(p->image_url == "https://cdn.example.com/candle-7.png");

  env.fake.remove_product(kShop, 7);
  env.clock.advance(std::chrono::minutes(1));
  REQUIRE(sync.sync_shop(kShop));
  CHECK_FALSE(env.product(7));
  CHECK(env.product(8));
}

TEST_CASE("refresh_product fetches one product with its collections", "[catalog][db]") {
  CatalogEnv env;
  REQUIRE(env.deliver("products/create", product_body(kProduct, "2025-10-01T12:00:00Z", "21.00")));
  CHECK(env.product(kProduct)->collections.empty());
  CatalogProduct live = sample_product(kProduct, "21.00");
  live.updated_at_ms = platform_testing::kStartMs;  // newer than the webhook's version
  live.collections = {{1, "Summer"}, {2, "Sale"}};
  live.variants[0].id = 642667041472713922LL;  // (sample ids are derived from small product ids)
  env.fake.put_product(kShop, live);
  CatalogSync sync(*env.db, env.client, env.clock);
  REQUIRE(sync.refresh_product(kShop, kProduct));
  CHECK(env.product(kProduct)->collections.size() == 2);
  // Gone from the platform: marked deleted.
  env.fake.remove_product(kShop, kProduct);
  REQUIRE(sync.refresh_product(kShop, kProduct));
  CHECK_FALSE(env.product(kProduct));
}

TEST_CASE("unit costs come from the Admin API and survive product webhooks", "[catalog][db]") {
  CatalogEnv env;
  REQUIRE(env.db->write([&](Tx& tx) { return set_shop_currency(tx, env.shop_id, "USD"); }));
  CatalogProduct live = sample_product(kProduct, "21.00");
  live.variants[0].id = 642667041472713922LL;  // the webhook body's first variant
  live.variants[0].unit_cost = "9.40";
  CatalogVariant uncosted = live.variants[0];
  uncosted.id = 757650484644203962LL;
  uncosted.position = 2;
  uncosted.unit_cost.reset();  // no cost entered: the platform answers unitCost null
  live.variants.push_back(uncosted);
  env.fake.put_product(kShop, live);
  CatalogSync sync(*env.db, env.client, env.clock);
  REQUIRE(sync.refresh_product(kShop, kProduct));
  auto p = env.product(kProduct);
  REQUIRE(p);
  REQUIRE(p->variants.size() == 2);
  CHECK(p->variants[0].unit_cost == "9.40");
  CHECK(p->variants[0].unit_cost_minor == 940);
  CHECK_FALSE(p->variants[1].unit_cost);
  CHECK_FALSE(p->variants[1].unit_cost_minor);

  // A newer products/update carries no cost: the stored one stays, the price changes.
  auto r = env.deliver("products/update",
                       product_body(kProduct, format_iso8601_utc(platform_testing::kStartMs + 1000),
                                    "22.00"));
  REQUIRE(r);
  REQUIRE(r->applied);
  p = env.product(kProduct);
  REQUIRE(p);
  CHECK(p->variants[0].price_minor == 2200);
  CHECK(p->variants[0].unit_cost_minor == 940);
  CHECK_FALSE(p->variants[1].unit_cost);
}

TEST_CASE("catalog jobs: a shop no longer installed completes without calling the platform",
          "[catalog][db]") {
  CatalogEnv env;
  REQUIRE(env.db->write([&](Tx& tx) -> Result<void> {
    AG_CHECK(mark_shop_uninstalled(tx, env.shop_id, env.clock.now_ms()));
    return {};
  }));
  env.fake.clear_requests();
  CatalogSync sync(*env.db, env.client, env.clock);
  Job job;
  job.kind = kCatalogSyncJobKind;
  job.payload = catalog_sync_job(kShop, env.shop_id).payload;
  CHECK(sync.run_sync_job(job));
  CHECK(env.fake.requests().empty());
  job.payload = "{}";
  auto bad = sync.run_sync_job(job);
  REQUIRE_FALSE(bad);
  CHECK(bad.error().code == ErrorCode::kInvalidArgument);
}

}  // namespace afterglow
