// The decision's inputs as read from the database: a stored order with its customer, history,
// answers and catalogue facts; the post-purchase page's input data; the catalogue view.
#include "checkout/purchase_context.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "checkout/offer_events.h"
#include "plugin/core/catalog.h"
#include "plugin/core/crypto.h"
#include "plugin/core/migrations.h"
#include "tests/support/test_backend.h"
#include "tests/support/test_db.h"

using namespace afterglow;
using namespace afterglow::checkout;
using nlohmann::json;

namespace {

constexpr int64_t kNow = 1'745'000'000'000;

struct Fixture {
  testing::TestDatabase tdb;
  std::unique_ptr<Db> db = tdb.open();
  int64_t shop = 0, other_shop = 0;

  Fixture() {
    REQUIRE(migrate(*db));
    shop = testing::seed_installed_shop(*db, "store-a.myshopify.com");
    other_shop = testing::seed_installed_shop(*db, "store-b.myshopify.com");
  }

  void write(const std::function<Result<void>(Tx&)>& fn) {
    auto r = db->write(fn);
    INFO((r ? "" : r.error().message));
    REQUIRE(r);
  }

  void order(int64_t shop_id, int64_t order_id, std::optional<int64_t> customer,
             std::optional<std::string> email, int64_t total_minor,
             std::vector<PurchasedLine> lines, std::string presentment = "USD",
             std::string country = "US") {
    int64_t row = 0;
    write([&](Tx& tx) -> Result<void> {
      auto r = AG_TRY(tx.query_one(
          "INSERT INTO orders (shop_id, order_id, customer_id, email, currency, "
          "presentment_currency, total_price, total_price_minor, country_code, "
          "platform_updated_at_ms, received_at_ms) VALUES (?, ?, ?, ?, 'USD', ?, '0', ?, ?, ?, ?) "
          "RETURNING id",
          {shop_id, order_id, customer ? DbValue{*customer} : DbValue{},
           email ? DbValue{*email} : DbValue{}, presentment, total_minor, country, kNow, kNow}));
      row = r->i64(0);
      int64_t line_id = order_id * 10;
      for (const PurchasedLine& l : lines) {
        AG_CHECK(
            tx.exec("INSERT INTO order_lines (order_row_id, line_item_id, product_id, variant_id, "
                    "quantity, price_minor) VALUES (?, ?, ?, ?, ?, ?)",
                    {row, ++line_id, l.product_id, l.variant_id, l.quantity, l.unit_price_minor}));
      }
      return {};
    });
  }

  void customer(int64_t customer_id, std::string tags) {
    testing::exec_sql(*db,
                      "INSERT INTO customers (shop_id, customer_id, tags, updated_at_ms) VALUES "
                      "(?, ?, ?, ?)",
                      {shop, customer_id, tags, kNow});
  }

  void product(int64_t id, std::vector<std::string> tags, std::vector<int64_t> collections,
               std::vector<CatalogVariant> variants = {}) {
    CatalogProduct p;
    p.id = id;
    p.title = "Product " + std::to_string(id);
    p.status = "active";
    p.tags = std::move(tags);
    for (int64_t c : collections) p.collections.push_back({c, "C" + std::to_string(c)});
    if (variants.empty()) {
      CatalogVariant v;
      v.id = id * 10;
      v.price = "10.00";
      variants.push_back(v);
    }
    p.variants = std::move(variants);
    p.updated_at_ms = kNow;
    write([&](Tx& tx) -> Result<void> {
      AG_CHECK(upsert_product(tx, shop, p, std::string_view("USD"), kNow, true));
      return {};
    });
  }

  void event(std::string kind, std::string order_key, std::optional<int64_t> customer,
             int64_t offer_id, int64_t product_id, int64_t shop_id = 0) {
    OfferEvent e;
    e.shop_id = shop_id ? shop_id : shop;
    e.surface = "thank_you";
    e.order_key = std::move(order_key);
    e.customer_id = customer;
    e.offer_id = offer_id;
    e.product_id = product_id;
    e.kind = std::move(kind);
    e.created_at_ms = kNow;
    write([&](Tx& tx) -> Result<void> { return record_offer_event(tx, e); });
  }

  void charge(int64_t order_id, int64_t offer_id, std::string state) {
    testing::exec_sql(
        *db,
        "INSERT INTO charges (shop_id, order_id, offer_id, charge_key, idempotency_key, "
        "stripe_account, customer, payment_method, product_id, variant_id, quantity, "
        "amount_minor, discount_minor, currency, state, created_at_ms, updated_at_ms) VALUES "
        "(?, ?, ?, ?, ?, 'acct_1', 'cus_1', 'pm_1', 1, 1, 1, 100, 0, 'USD', ?, ?, ?)",
        {shop, order_id, offer_id,
         "ag:" + std::to_string(order_id) + ":" + std::to_string(offer_id),
         "k" + std::to_string(offer_id), state, kNow, kNow});
  }

  std::optional<PurchaseContext> load(int64_t order_id) {
    std::optional<PurchaseContext> out;
    REQUIRE(db->read([&](Tx& tx) -> Result<void> {
      out = AG_TRY(load_order_context(tx, shop, order_id));
      return {};
    }));
    return out;
  }

  Result<PurchaseContext> post_purchase(const json& input) {
    Result<PurchaseContext> out = fail(ErrorCode::kInternal, "not run");
    REQUIRE(db->read([&](Tx& tx) -> Result<void> {
      out = context_from_post_purchase(tx, shop, input);
      return {};
    }));
    return out;
  }

  // Customer 7's world: this order 5001, an earlier order 4001, another customer's order, the
  // catalogue of the ordered products, offer events and charges.
  void seed_history() {
    write([&](Tx& tx) -> Result<void> { return set_shop_currency(tx, shop, "USD"); });
    customer(7, "VIP, Wholesale ");
    order(shop, 5001, 7, "Jon@Example.com", 3000,
          {PurchasedLine{100, 1000, 2, 1500}, PurchasedLine{101, 1010, 1, 0}}, "EUR", "ca");
    order(shop, 4001, 7, "Jon@Example.com", 900, {PurchasedLine{300, 3000, 1, 900}});
    order(shop, 4002, 8, "other@example.com", 900, {PurchasedLine{400, 4000, 1, 900}});
    order(other_shop, 4003, 7, std::nullopt, 900, {PurchasedLine{500, 5000, 1, 900}});
    product(100, {"Summer", "Sale"}, {55, 56});
    product(101, {"gift"}, {57});
    product(300, {"never-read"}, {99});
    event("impression", "4001", 7, 11, 200);
    event("decline", "4001", 7, 12, 201);
    event("charge_succeeded", "4001", 7, 16, 202);
    event("impression", "4002", 8, 13, 204);              // another customer
    event("impression", "4003", 7, 17, 205, other_shop);  // another shop
    event("accept", "5001", 7, 14, 203);
    event("decline", "5001", 7, 15, 206);
    charge(5001, 14, "succeeded");
    charge(5001, 18, "appended");
    charge(5001, 19, "declined");
  }
};

}  // namespace

TEST_CASE("a stored order becomes the decision's context with the customer's history",
          "[purchase_context][db]") {
  Fixture f;
  f.seed_history();
  auto c = f.load(5001);
  REQUIRE(c);
  CHECK(c->shop_id == f.shop);
  CHECK(c->customer_id == 7);
  CHECK(c->customer_key == "c:7");
  REQUIRE(c->lines.size() == 2);
  CHECK(c->lines[0].product_id == 100);
  CHECK(c->lines[0].variant_id == 1000);
  CHECK(c->lines[0].quantity == 2);
  CHECK(c->lines[0].unit_price_minor == 1500);
  CHECK(c->lines[1].product_id == 101);
  CHECK(c->order_value_minor == 3000);
  CHECK(c->shop_currency == "USD");
  CHECK(c->presentment_currency == "EUR");
  CHECK(c->country == "CA");
  CHECK(c->customer_tags == std::vector<std::string>{"VIP", "Wholesale"});
  CHECK(c->customer_order_count == 2);
  CHECK(c->line_product_tags == std::set<std::string>{"gift", "sale", "summer"});
  CHECK(c->line_collection_ids == std::set<int64_t>{55, 56, 57});
  CHECK(c->purchased_product_ids == std::set<int64_t>{300});
  CHECK(c->shown_offer_ids == std::set<int64_t>{11});
  CHECK(c->pitched_product_ids == std::set<int64_t>{201, 202, 203, 206});
  CHECK(c->answered_offer_ids == std::set<int64_t>{14, 15});
  CHECK(c->accepted_this_order == 2);  // two charges took money; one accept event
  CHECK(c->ineligible_reason.empty());
}

TEST_CASE("a guest order is keyed by the email hash or the order and has no history",
          "[purchase_context][db]") {
  Fixture f;
  f.order(f.shop, 6001, std::nullopt, " Guest@Example.COM", 500,
          {PurchasedLine{100, 1000, 1, 500}});
  f.order(f.shop, 6002, std::nullopt, std::nullopt, 500, {PurchasedLine{100, 1000, 1, 500}});
  f.event("accept", "6001", std::nullopt, 21, 200);

  auto guest = f.load(6001);
  REQUIRE(guest);
  CHECK_FALSE(guest->customer_id);
  CHECK(guest->customer_key == "e:" + crypto::to_hex(crypto::sha256("guest@example.com")));
  CHECK(guest->customer_order_count == 1);
  CHECK(guest->purchased_product_ids.empty());
  CHECK(guest->answered_offer_ids == std::set<int64_t>{21});
  CHECK(guest->accepted_this_order == 1);
  CHECK(guest->shop_currency == "USD");  // the order's currency while the shop's is unknown

  auto anonymous = f.load(6002);
  REQUIRE(anonymous);
  CHECK(anonymous->customer_key == "o:6002");
  CHECK(anonymous->answered_offer_ids.empty());

  CHECK_FALSE(f.load(6003));  // not stored yet
}

TEST_CASE("post-purchase input data becomes the decision's context", "[purchase_context][db]") {
  Fixture f;
  f.seed_history();
  f.event("accept", "ref-123", 7, 31, 207);
  json input = {
      {"extensionPoint", "Checkout::PostPurchase::ShouldRender"},
      {"initialPurchase",
       {{"referenceId", "ref-123"},
        {"customerId", 7},
        {"destinationCountryCode", "ca"},
        {"totalPriceSet",
         {{"shopMoney", {{"amount", "45.50"}, {"currencyCode", "USD"}}},
          {"presentmentMoney", {{"amount", "41.00"}, {"currencyCode", "EUR"}}}}},
        {"lineItems",
         {{{"product", {{"id", 100}, {"title", "T"}, {"variant", {{"id", 1000}, {"title", "V"}}}}},
           {"quantity", 3},
           {"totalPriceSet",
            {{"shopMoney", {{"amount", "45.00"}, {"currencyCode", "USD"}}},
             {"presentmentMoney", {{"amount", "40.50"}, {"currencyCode", "EUR"}}}}}}}}}},
      {"shop", {{"id", 548380009}, {"domain", "store-a.myshopify.com"}}},
      {"locale", "en"}};
  auto c = f.post_purchase(input);
  INFO((c ? "" : c.error().message));
  REQUIRE(c);
  CHECK(c->customer_id == 7);
  CHECK(c->customer_key == "c:7");
  REQUIRE(c->lines.size() == 1);
  CHECK(c->lines[0].product_id == 100);
  CHECK(c->lines[0].variant_id == 1000);
  CHECK(c->lines[0].quantity == 3);
  CHECK(c->lines[0].unit_price_minor == 1500);
  CHECK(c->order_value_minor == 4550);
  CHECK(c->shop_currency == "USD");
  CHECK(c->presentment_currency == "EUR");
  CHECK(c->country == "CA");
  CHECK(c->customer_tags == std::vector<std::string>{"VIP", "Wholesale"});
  CHECK(c->customer_order_count == 3);  // two stored, plus this purchase
  CHECK(c->purchased_product_ids == std::set<int64_t>{100, 101, 300});
  CHECK(c->line_product_tags == std::set<std::string>{"sale", "summer"});
  CHECK(c->line_collection_ids == std::set<int64_t>{55, 56});
  CHECK(c->shown_offer_ids == std::set<int64_t>{11});
  CHECK(c->answered_offer_ids == std::set<int64_t>{31});
  CHECK(c->accepted_this_order == 1);

  // A guest, given as initialPurchase alone, with ids as GIDs and strings.
  json guest = {
      {"referenceId", "ref-9"},
      {"lineItems",
       {{{"product", {{"id", "gid://shopify/Product/101"}, {"variant", {{"id", "1010"}}}}},
         {"quantity", 1}}}}};
  c = f.post_purchase(guest);
  INFO((c ? "" : c.error().message));
  REQUIRE(c);
  CHECK_FALSE(c->customer_id);
  CHECK(c->customer_key == "o:ref-9");
  CHECK(c->lines[0].product_id == 101);
  CHECK(c->lines[0].variant_id == 1010);
  CHECK(c->customer_order_count == 1);
  CHECK(c->line_product_tags == std::set<std::string>{"gift"});
}

TEST_CASE("malformed post-purchase input data is refused naming the field",
          "[purchase_context][db]") {
  Fixture f;
  auto missing = f.post_purchase(json{{"initialPurchase", {{"customerId", 7}}}});
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code == ErrorCode::kInvalidArgument);
  CHECK(missing.error().message == "inputData.initialPurchase.referenceId is missing");

  auto amount = f.post_purchase(
      json{{"initialPurchase",
            {{"referenceId", "r"},
             {"totalPriceSet", {{"shopMoney", {{"amount", "12,00"}, {"currencyCode", "USD"}}}}}}}});
  REQUIRE_FALSE(amount);
  CHECK_THAT(amount.error().message,
             Catch::StartsWith("inputData.initialPurchase.totalPriceSet.shopMoney.amount"));

  auto id = f.post_purchase(json{{"initialPurchase", {{"referenceId", "r"}, {"customerId", 1.5}}}});
  REQUIRE_FALSE(id);
  CHECK(id.error().message == "inputData.initialPurchase.customerId must be an integer id");

  CHECK_FALSE(f.post_purchase(json::array()));
}

TEST_CASE("the catalogue view picks the variant and reads each product once",
          "[purchase_context][db]") {
  Fixture f;
  CatalogVariant sold_out;
  sold_out.id = 7001;
  sold_out.position = 1;
  sold_out.price = "12.00";
  sold_out.available = false;
  CatalogVariant second;
  second.id = 7002;
  second.position = 2;
  second.price = "12.50";
  second.compare_at_price = "20.00";
  second.inventory_quantity = 4;
  second.image_url = "https://cdn.example/7002.png";
  second.unit_cost = "7.25";
  f.product(700, {}, {}, {sold_out, second});

  REQUIRE(f.db->read([&](Tx& tx) -> Result<void> {
    DbCatalogView view(tx, f.shop);
    auto first_available = view.item(700, std::nullopt);
    REQUIRE(first_available);
    CHECK(first_available->variant_id == 7002);
    CHECK(first_available->price_minor == 1250);
    CHECK(first_available->compare_at_minor == 2000);
    CHECK(first_available->inventory_quantity == 4);
    CHECK(first_available->image_url == "https://cdn.example/7002.png");
    CHECK(first_available->product_title == "Product 700");
    CHECK(first_available->product_status == "active");
    CHECK(first_available->unit_cost_minor == 725);

    auto named = view.item(700, 7001);
    REQUIRE(named);
    CHECK_FALSE(named->available);
    CHECK(view.reads() == 1);  // memoised

    CHECK_FALSE(view.item(700, 9999));  // not a variant of the product
    CHECK_FALSE(view.item(701, std::nullopt));
    auto by_variant = view.item(0, 7002);
    REQUIRE(by_variant);
    CHECK(by_variant->product_id == 700);
    CHECK_FALSE(view.error());
    return {};
  }));

  // Another shop's view does not see the product.
  REQUIRE(f.db->read([&](Tx& tx) -> Result<void> {
    DbCatalogView view(tx, f.other_shop);
    CHECK_FALSE(view.item(700, std::nullopt));
    return {};
  }));
}
