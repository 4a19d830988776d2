// plugin/core/platform_client against the fake platform: throttling (THROTTLED with 200, 429 with
// Retry-After, the per-shop budget from throttleStatus) honoured through a sleeper that moves the
// ManualClock, bounded retries, 401 -> one refresh, typed errors, and the order-edit calls the
// checkout uses (spec/shopify.md §5).
#include "plugin/core/platform_client.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "tests/unit/core/platform_env.h"

namespace afterglow {
namespace {

using namespace std::chrono_literals;
using platform_testing::kShop;
using platform_testing::PlatformEnv;
using platform_testing::sample_product;

constexpr int64_t kOrderId = 450789469;
const std::string kOrderGid = "gid://shopify/Order/450789469";

}  // namespace

TEST_CASE("a THROTTLED answer (HTTP 200) waits until the bucket holds the cost, then succeeds",
          "[platform_client][db]") {
  PlatformEnv env;
  env.install();
  env.fake.put_product(kShop, sample_product(1));
  env.fake.set_bucket_available(kShop, 50);  // a products page costs 880; refill is 100/s
  auto page = env.client.fetch_products(kShop, std::nullopt);
  REQUIRE(page);
  CHECK(page->products.size() == 1);
  // (880 - 50) / 100 per second = 8.3 s, waited on the clock, not slept.
  CHECK(env.sleeper.waits() == std::vector<std::chrono::milliseconds>{8300ms});
  CHECK(env.fake.count("graphql:products") == 2);
}

TEST_CASE("the budget from throttleStatus makes the next call wait instead of being throttled",
          "[platform_client][db]") {
  PlatformEnv env;
  env.install();
  env.fake.put_product(kShop, sample_product(1));
  REQUIRE(env.client.fetch_products(kShop, std::nullopt));  // bucket now 2000 - 880 = 1120
  REQUIRE(env.client.fetch_products(kShop, std::nullopt));  // 240 left
  CHECK(env.sleeper.waits().empty());
  REQUIRE(env.client.fetch_products(kShop, std::nullopt));  // needs 880: waits 6.4 s first
  CHECK(env.sleeper.waits() == std::vector<std::chrono::milliseconds>{6400ms});
  // The platform never had to refuse: every answer was 200 with data.
  CHECK(env.fake.count("graphql:products") == 3);
  for (const auto& r : env.fake.requests()) {
    if (r.kind == "graphql:products") CHECK(r.status == 200);
  }
  // Another shop has a bucket of its own.
  env.install("other-shop.myshopify.com");
  REQUIRE(env.client.fetch_products("other-shop.myshopify.com", std::nullopt));
  CHECK(env.sleeper.waits().size() == 1);
}

TEST_CASE("HTTP 429 honours Retry-After", "[platform_client][db]") {
  PlatformEnv env;
  env.install();
  env.fake.fail_next(429, 1, 3);
  auto data = env.client.fetch_product(kShop, 1);
  REQUIRE(data);
  CHECK_FALSE(data->has_value());  // the fake has no such product: product is null
  CHECK(env.sleeper.waits() == std::vector<std::chrono::milliseconds>{3000ms});
  CHECK(env.fake.count("graphql:product") == 2);
}

TEST_CASE("retries are bounded: endless throttling ends as kUnavailable", "[platform_client][db]") {
  PlatformClientOptions options;
  options.max_attempts = 3;
  PlatformEnv env(options);
  env.install();
  env.fake.throttle_next(10);
  auto r = env.client.fetch_product(kShop, 1);
  REQUIRE_FALSE(r);
  CHECK(r.error().code == ErrorCode::kUnavailable);
  CHECK(r.error().message.find("THROTTLED") != std::string::npos);
  CHECK(env.fake.count("graphql:product") == 3);

  // A wait longer than the call's budget is refused up front rather than slept.
  PlatformClientOptions tight;
  tight.max_total_wait = 2s;
  PlatformEnv env2(tight);
  env2.install();
  env2.fake.fail_next(429, 1, 60);
  auto r2 = env2.client.fetch_product(kShop, 1);
  REQUIRE_FALSE(r2);
  CHECK(r2.error().code == ErrorCode::kUnavailable);
  CHECK(env2.sleeper.waits().empty());
}

TEST_CASE("a query is retried after a 5xx; a mutation is not (it may have run)",
          "[platform_client][db]") {
  PlatformEnv env;
  env.install();
  env.fake.add_order(kShop, kOrderId);
  env.fake.fail_next(500);
  REQUIRE(env.client.fetch_product(kShop, 1));
  CHECK(env.fake.count("graphql:product") == 2);

  env.fake.fail_next(502);
  auto begin = env.client.order_edit_begin(kShop, kOrderGid);
  REQUIRE_FALSE(begin);
  CHECK(begin.error().code == ErrorCode::kUnavailable);
  CHECK(begin.error().message.find("outcome unknown") != std::string::npos);
  CHECK(env.fake.count("graphql:orderEditBegin") == 1);
  // 503 and 429 mean "not processed": safe to repeat, even for a mutation.
  env.fake.fail_next(503);
  REQUIRE(env.client.order_edit_begin(kShop, kOrderGid));
  CHECK(env.fake.count("graphql:orderEditBegin") == 3);
}

TEST_CASE("a 401 refreshes the token once and retries with the new one", "[platform_client][db]") {
  PlatformEnv env;
  env.install();
  const std::string old_token = env.fake.access_token(kShop);
  env.fake.revoke_access_tokens(kShop);  // as if it had expired early
  env.fake.put_product(kShop, sample_product(7));
  auto p = env.client.fetch_product(kShop, 7);
  REQUIRE(p);
  REQUIRE(p->has_value());
  CHECK(env.fake.count("token:refresh_token") == 1);
  auto reqs = env.fake.requests();
  std::vector<testing::RecordedRequest> graphql;
  for (const auto& r : reqs) {
    if (r.kind == "graphql:product") graphql.push_back(r);
  }
  REQUIRE(graphql.size() == 2);
  CHECK(graphql[0].access_token == old_token);
  CHECK(graphql[0].status == 401);
  CHECK(graphql[1].access_token == env.fake.access_token(kShop));
  CHECK(graphql[1].status == 200);

  // Refused again after the refresh: kUnauthenticated, and no second refresh.
  env.fake.fail_next(401, 2);
  auto refused = env.client.fetch_product(kShop, 7);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().code == ErrorCode::kUnauthenticated);
  CHECK(env.fake.count("token:refresh_token") == 2);
}

TEST_CASE("typed errors: not installed, userErrors, bad input", "[platform_client][db]") {
  PlatformEnv env;
  auto none = env.client.fetch_product("nobody.myshopify.com", 1);
  REQUIRE_FALSE(none);
  CHECK(none.error().code == ErrorCode::kNotFound);
  CHECK(env.fake.requests().empty());

  env.install();
  auto missing_order = env.client.order_edit_begin(kShop, "gid://shopify/Order/1");
  REQUIRE_FALSE(missing_order);
  CHECK(missing_order.error().code == ErrorCode::kConflict);
  CHECK(missing_order.error().message == "orderEditBegin refused: id: The order does not exist.;");

  env.fake.add_order(kShop, kOrderId);
  auto begun = env.client.order_edit_begin(kShop, kOrderGid);
  REQUIRE(begun);
  auto unknown_variant = env.client.order_edit_add_variant(kShop, begun->calculated_order_id,
                                                           "gid://shopify/ProductVariant/999", 1);
  REQUIRE_FALSE(unknown_variant);
  CHECK(unknown_variant.error().code == ErrorCode::kConflict);
  auto zero = env.client.order_edit_add_variant(kShop, begun->calculated_order_id,
                                                "gid://shopify/ProductVariant/11", 0);
  REQUIRE_FALSE(zero);
  CHECK(zero.error().code == ErrorCode::kInvalidArgument);
  LineDiscount both{10.0, Money{"1.00", "USD"}, "x"};
  CHECK(env.client.order_edit_add_line_item_discount(kShop, begun->calculated_order_id, "li", both)
            .error()
            .code == ErrorCode::kInvalidArgument);
}

TEST_CASE("append_paid_line: begin, add, discount, commit and mark paid for what was charged",
          "[platform_client][db]") {
  PlatformEnv env;
  env.install();
  env.fake.put_product(kShop, sample_product(1, "25.00"));  // variant 11
  env.fake.add_order(kShop, kOrderId);
  LineDiscount discount;
  discount.percent = 10;
  discount.description = "Post-purchase 10%";
  auto r = env.client.append_paid_line(kShop, kOrderGid, variant_gid(11), 1, discount,
                                       "afterglow offer A12, Stripe pi_123", Money{"22.50", "USD"});
  REQUIRE(r);
  CHECK(r->order_id == kOrderGid);
  CHECK(r->outstanding_shop.amount == "22.50");
  CHECK(r->outstanding_shop.currency == "USD");
  CHECK(r->financial_status == "PAID");
  CHECK(r->calculated_order_id.rfind("gid://shopify/CalculatedOrder/", 0) == 0);
  CHECK(r->calculated_line_item_id.rfind("gid://shopify/CalculatedLineItem/", 0) == 0);

  auto order = env.fake.order(kShop, kOrderId);
  REQUIRE(order);
  REQUIRE(order->lines.size() == 1);
  CHECK(order->lines[0].variant_id == 11);
  CHECK(order->lines[0].unit_price_minor == 2500);
  CHECK(order->lines[0].discount_minor == 250);
  CHECK(order->outstanding_minor == 0);
  CHECK(order->marked_paid == 1);
  CHECK(order->staff_notes == std::vector<std::string>{"afterglow offer A12, Stripe pi_123"});
  // The commit did not notify the customer.
  for (const auto& req : env.fake.requests()) {
    if (req.kind == "graphql:orderEditCommit") {
      auto body = nlohmann::json::parse(req.body);
      CHECK(body["variables"]["notifyCustomer"] == false);
    }
  }
}

TEST_CASE("append_paid_line does not commit when the outstanding amount differs from the charge",
          "[platform_client][db]") {
  PlatformEnv env;
  env.install();
  env.fake.put_product(kShop, sample_product(1, "25.00"));
  env.fake.add_order(kShop, kOrderId);
  auto r = env.client.append_paid_line(kShop, kOrderGid, variant_gid(11), 1, std::nullopt, "note",
                                       Money{"22.50", "USD"});
  REQUIRE_FALSE(r);
  CHECK(r.error().code == ErrorCode::kConflict);
  CHECK(r.error().message.find("not committed") != std::string::npos);
  CHECK(env.fake.order(kShop, kOrderId)->commits == 0);
  CHECK(env.fake.count("graphql:orderEditCommit") == 0);
  CHECK(env.fake.count("graphql:orderMarkAsPaid") == 0);

  // The same amount written differently ("25.0") is the same money.
  auto ok = env.client.append_paid_line(kShop, kOrderGid, variant_gid(11), 1, std::nullopt, "n",
                                        Money{"25.0", "USD"});
  REQUIRE(ok);
}

TEST_CASE("a mark-as-paid failure after the commit says so, for the caller to finish alone",
          "[platform_client][db]") {
  PlatformEnv env;
  env.install();
  env.fake.put_product(kShop, sample_product(1, "25.00"));
  env.fake.add_order(kShop, kOrderId);
  env.fake.fail_next(500, 1, std::nullopt, "orderMarkAsPaid");
  auto r = env.client.append_paid_line(kShop, kOrderGid, variant_gid(11), 1, std::nullopt, "n",
                                       Money{"25.00", "USD"});
  REQUIRE_FALSE(r);
  CHECK(r.error().message.rfind("committed:", 0) == 0);
  auto order = env.fake.order(kShop, kOrderId);
  CHECK(order->commits == 1);
  CHECK(order->outstanding_minor == 2500);
  // Finishing means marking paid alone, never appending again.
  auto paid = env.client.order_mark_as_paid(kShop, kOrderGid);
  REQUIRE(paid);
  CHECK(paid->financial_status == "PAID");
  CHECK(env.fake.order(kShop, kOrderId)->lines.size() == 1);
  // Marking an order that owes nothing is refused by the platform.
  auto twice = env.client.order_mark_as_paid(kShop, kOrderGid);
  REQUIRE_FALSE(twice);
  CHECK(twice.error().code == ErrorCode::kConflict);
}

}  // namespace afterglow
