// What a message recommends: the merchant's rules first, then co-purchases, then top sellers;
// never the basis, an excluded, inactive, deleted or sold-out product; deterministic.
#include "email/recommendations.h"

#include <catch2/catch.hpp>
#include <functional>

#include "plugin/core/catalog.h"
#include "plugin/core/migrations.h"
#include "tests/support/test_backend.h"
#include "tests/support/test_db.h"

using namespace afterglow;
using namespace afterglow::email;

namespace {

constexpr int64_t kDay = 24LL * 60 * 60 * 1000;
constexpr int64_t kNow = 1'744'819'200'000;
constexpr int64_t kBasis = 1;
constexpr int64_t kBasisCollection = 900;

struct Fixture {
  testing::TestDatabase tdb;
  std::unique_ptr<Db> db = tdb.open();
  int64_t shop = 0;
  int64_t next_order = 5000;

  Fixture() {
    REQUIRE(migrate(*db));
    shop = testing::seed_installed_shop(*db, "recs.myshopify.com");
    write([&](Tx& tx) -> Result<void> { return set_shop_currency(tx, shop, "USD"); });
  }

  void write(const std::function<Result<void>(Tx&)>& fn) {
    auto r = db->write(fn);
    INFO((r ? "" : r.error().message));
    REQUIRE(r);
  }

  // A product with one variant per entry of `available` (in position order), priced "24.00".
  void product(int64_t id, std::vector<bool> available = {true}, std::string status = "active",
               std::vector<int64_t> collections = {},
               std::optional<std::string> currency = std::string("USD")) {
    write([&](Tx& tx) -> Result<void> {
      CatalogProduct p;
      p.id = id;
      p.title = "Product " + std::to_string(id);
      p.handle = "product-" + std::to_string(id);
      p.status = status;
      p.image_url = "https://cdn.example.com/" + std::to_string(id) + ".jpg";
      p.updated_at_ms = kNow - kDay;
      for (int64_t c : collections) p.collections.push_back({c, "Collection"});
      for (size_t i = 0; i < available.size(); ++i) {
        CatalogVariant v;
        v.id = id * 10 + static_cast<int64_t>(i);
        v.position = static_cast<int>(i + 1);
        v.price = "24.00";
        v.available = available[i];
        p.variants.push_back(v);
      }
      std::optional<std::string_view> cur;
      if (currency) cur = *currency;
      AG_CHECK(upsert_product(tx, shop, p, cur, kNow - kDay, true));
      return {};
    });
  }

  void offer(const std::string& kind, int64_t product_id, int64_t priority,
             const std::string& triggers, const std::string& status = "active") {
    testing::exec_sql(
        *db,
        "INSERT INTO offers (shop_id, kind, status, title, headline, product_id, quantity, "
        "discount_type, discount_percent_bp, discount_amount_minor, free_shipping, priority, "
        "catch_all, triggers, ab_test, exclusions, created_at_ms, updated_at_ms) VALUES "
        "(?, ?, ?, 'Offer', 'Add this', ?, 1, 'none', 0, 0, 0, ?, 0, ?, '{}', '{}', ?, ?)",
        {shop, kind, status, product_id, priority, triggers, kNow, kNow});
  }

  // An order of `lines` (product id, quantity) received at `at_ms`.
  void order(std::vector<std::pair<int64_t, int64_t>> lines, int64_t at_ms) {
    int64_t id = next_order++;
    write([&](Tx& tx) -> Result<void> {
      auto row = AG_TRY(tx.query_one(
          "INSERT INTO orders (shop_id, order_id, currency, total_price, total_price_minor, "
          "platform_updated_at_ms, received_at_ms) VALUES (?, ?, 'USD', '1.00', 100, ?, ?) "
          "RETURNING id",
          {shop, id, at_ms, at_ms}));
      int64_t line = 1;
      for (auto [product, quantity] : lines) {
        AG_CHECK(
            tx.exec("INSERT INTO order_lines (order_row_id, line_item_id, product_id, quantity) "
                    "VALUES (?, ?, ?, ?)",
                    {row->i64(0), line++, product, quantity}));
      }
      return {};
    });
  }

  std::vector<RecommendedItem> recommend(RecommendationMode mode, int count,
                                         std::vector<int64_t> exclude = {},
                                         std::vector<int64_t> basis = {kBasis}) {
    std::vector<RecommendedItem> out;
    auto r = db->read([&](Tx& tx) -> Result<void> {
      RecommendationRequest rq;
      rq.shop_id = shop;
      rq.mode = mode;
      rq.basis_product_ids = basis;
      rq.exclude_product_ids = exclude;
      rq.count = count;
      rq.now_ms = kNow;
      out = AG_TRY(email::recommend(tx, rq));
      return {};
    });
    INFO((r ? "" : r.error().message));
    REQUIRE(r);
    return out;
  }

  // The usual shop: rules for the basis product, co-purchases and top sellers.
  void stock_the_shop() {
    product(kBasis, {true}, "active", {kBasisCollection});
    for (int64_t id : {20, 21, 22, 23, 24, 30, 31, 40, 41}) product(id);
    offer("cross_sell", 20, 100, R"({"product_ids": [1]})");
    offer("cross_sell", 21, 50, R"({"collection_ids": ["900"]})");
    offer("upsell", 22, 100, R"({"product_ids": [1, 2]})");
    offer("cross_sell", 23, 1, R"({"product_ids": [1]})", "paused");
    offer("cross_sell", 24, 1, R"({"product_ids": [2]})");
    offer("downsell", 24, 1, R"({"product_ids": [1]})");
    order({{kBasis, 1}, {30, 1}}, kNow - 10 * kDay);
    order({{kBasis, 1}, {30, 1}, {31, 1}}, kNow - 20 * kDay);
    order({{kBasis, 1}, {30, 1}}, kNow - 30 * kDay);
    order({{40, 5}}, kNow - 5 * kDay);
    order({{41, 2}}, kNow - 5 * kDay);
  }
};

std::vector<int64_t> ids(const std::vector<RecommendedItem>& items) {
  std::vector<int64_t> out;
  for (const RecommendedItem& i : items) out.push_back(i.product_id);
  return out;
}

std::vector<std::string> sources(const std::vector<RecommendedItem>& items) {
  std::vector<std::string> out;
  for (const RecommendedItem& i : items) out.push_back(i.source);
  return out;
}

}  // namespace

TEST_CASE("rules come first then co-purchases then top sellers", "[recommendations][db]") {
  Fixture f;
  f.stock_the_shop();
  auto items = f.recommend(RecommendationMode::kComplement, 6);
  // Cross-sells by priority (the collection rule's 50 before 100); the upsell, the paused offer,
  // the other product's rule and the downsell do not apply after a purchase.
  CHECK(ids(items) == std::vector<int64_t>{21, 20, 30, 31, 40, 41});
  CHECK(sources(items) == std::vector<std::string>{"rule", "rule", "co_purchase", "co_purchase",
                                                   "top_seller", "top_seller"});
  REQUIRE(items.size() == 6);
  CHECK(items[0].title == "Product 21");
  CHECK(items[0].url == "https://recs.myshopify.com/products/product-21");
  CHECK(items[0].image_url == "https://cdn.example.com/21.jpg");
  CHECK(items[0].variant_id == 210);
  CHECK(items[0].price_minor == 2400);
  CHECK(items[0].price_text == "$24.00");
  // Fewer asked, the best ones.
  CHECK(ids(f.recommend(RecommendationMode::kComplement, 3)) == std::vector<int64_t>{21, 20, 30});
}

TEST_CASE("upgrade mode puts upsells before cross-sells", "[recommendations][db]") {
  Fixture f;
  f.stock_the_shop();
  CHECK(ids(f.recommend(RecommendationMode::kUpgrade, 4)) == std::vector<int64_t>{22, 21, 20, 30});
}

TEST_CASE("excluded inactive deleted and sold-out products are never recommended",
          "[recommendations][db]") {
  Fixture f;
  f.stock_the_shop();
  f.product(21, {false, false});   // sold out
  f.product(20, {true}, "draft");  // not active
  f.write([&](Tx& tx) -> Result<void> { return delete_product(tx, f.shop, 30, kNow); });
  f.product(31, {false, true});  // the second variant is available
  auto items = f.recommend(RecommendationMode::kComplement, 6, {40});
  // 31 bought with the basis, 41 sold, then the unsold rest (20, 21 and 30 are out).
  CHECK(ids(items) == std::vector<int64_t>{31, 41, 22, 23, 24});
  REQUIRE_FALSE(items.empty());
  CHECK(items[0].variant_id == 311);
  // The basis itself never comes back, even as the best seller.
  f.order({{kBasis, 50}}, kNow - kDay);
  CHECK(ids(f.recommend(RecommendationMode::kComplement, 6, {40})) ==
        std::vector<int64_t>{31, 41, 22, 23, 24});
}

TEST_CASE("co-purchases look back 180 days and top sellers 90", "[recommendations][db]") {
  Fixture f;
  f.product(kBasis);
  for (int64_t id : {50, 51, 60, 61}) f.product(id);
  f.order({{kBasis, 1}, {50, 1}}, kNow - 181 * kDay);
  f.order({{kBasis, 1}, {51, 1}}, kNow - 179 * kDay);
  f.order({{60, 9}}, kNow - 91 * kDay);
  f.order({{61, 1}}, kNow - 89 * kDay);
  auto items = f.recommend(RecommendationMode::kComplement, 5);
  // 51 as a co-purchase, 61 as the best seller; 60's nine units 91 days ago count for nothing,
  // so it follows the unsold 50 by id.
  CHECK(ids(items) == std::vector<int64_t>{51, 61, 50, 60});
  CHECK(sources(items) ==
        std::vector<std::string>{"co_purchase", "top_seller", "top_seller", "top_seller"});
}

TEST_CASE("ties go to the lower product id and answers repeat", "[recommendations][db]") {
  Fixture f;
  for (int64_t id : {70, 71, 72}) f.product(id);
  f.order({{72, 2}}, kNow - kDay);
  f.order({{71, 2}}, kNow - kDay);
  f.order({{70, 1}}, kNow - kDay);
  auto first = f.recommend(RecommendationMode::kComplement, 3, {}, {});
  CHECK(ids(first) == std::vector<int64_t>{71, 72, 70});
  CHECK(ids(f.recommend(RecommendationMode::kComplement, 3, {}, {})) == ids(first));
}

TEST_CASE("prices are written in the shop currency", "[recommendations][db]") {
  Fixture f;
  f.product(80);
  f.order({{80, 1}}, kNow - kDay);
  f.write([&](Tx& tx) -> Result<void> { return set_shop_currency(tx, f.shop, "EUR"); });
  auto eur = f.recommend(RecommendationMode::kComplement, 1, {}, {});
  REQUIRE(eur.size() == 1);
  CHECK(eur[0].price_text == "€24.00");
  f.write([&](Tx& tx) -> Result<void> { return set_shop_currency(tx, f.shop, "SEK"); });
  CHECK(f.recommend(RecommendationMode::kComplement, 1, {}, {})[0].price_text == "24.00 SEK");
  // Before any sync has learned the currency, the platform's own decimal string.
  testing::exec_sql(*f.db, "UPDATE shops SET currency = NULL WHERE id = ?", {f.shop});
  f.product(80, {true}, "active", {}, std::nullopt);
  auto unknown = f.recommend(RecommendationMode::kComplement, 1, {}, {});
  REQUIRE(unknown.size() == 1);
  CHECK(unknown[0].price_text == "24.00");
}

TEST_CASE("a shop without sales still recommends its catalogue", "[recommendations][db]") {
  Fixture f;
  f.product(kBasis);
  for (int64_t id : {92, 91, 93}) f.product(id);
  f.product(94, {false});
  auto items = f.recommend(RecommendationMode::kComplement, 2);
  CHECK(ids(items) == std::vector<int64_t>{91, 92});
  CHECK(sources(items) == std::vector<std::string>{"top_seller", "top_seller"});
}

TEST_CASE("nothing is recommended when nothing qualifies", "[recommendations][db]") {
  Fixture f;
  CHECK(f.recommend(RecommendationMode::kComplement, 2).empty());
  f.stock_the_shop();
  CHECK(f.recommend(RecommendationMode::kComplement, 0).empty());
  CHECK(f.recommend(RecommendationMode::kComplement, 10, {20, 21, 22, 23, 24, 30, 31, 40, 41})
            .empty());
}
