// webhooks/inbox: a delivery is stored and queued once, however many copies arrive at once and
// however many processes take them. The rule is the database's unique key, so the test records
// through two Db objects (two pools, as two server processes have) on one database.
#include "webhooks/inbox.h"

#include <catch2/catch.hpp>

#include <latch>
#include <thread>
#include <vector>

#include "plugin/core/clock.h"
#include "plugin/core/job_queue.h"
#include "plugin/core/migrations.h"
#include "tests/support/test_backend.h"
#include "tests/support/test_db.h"

namespace afterglow::webhooks {
namespace {

using afterglow::testing::query_int;

constexpr int64_t kStartMs = 1'745'000'000'000;

// One server process's view of the database: its own pool, queue and inbox.
struct Process {
  explicit Process(const afterglow::testing::TestDatabase& database, uint64_t seed)
      : db(database.open()), queue(*db, clock, RetryPolicy{}, seed), inbox(*db, queue, clock) {}
  std::unique_ptr<Db> db;
  ManualClock clock{kStartMs};
  JobQueue queue;
  Inbox inbox;
};

Delivery order_delivery(const std::string& delivery_id) {
  Delivery d;
  d.source = "shopify";
  d.shop_domain = "shop-one.myshopify.com";
  d.delivery_id = delivery_id;
  d.topic = "orders/create";
  d.api_version = "2025-07";
  d.subject_customer_id = 115310627314723954;
  d.body = R"({"id":820982911946154508})";
  return d;
}

TEST_CASE("inbox: the same delivery recorded at once through two pools is stored and queued once",
          "[inbox][db]") {
  afterglow::testing::TestDatabase database;
  Process a(database, 1), b(database, 2);
  REQUIRE(migrate(*a.db));

  constexpr int kThreads = 8;
  const Delivery d = order_delivery("b54557e4-shared");
  std::latch start(kThreads);
  std::vector<int> accepted(kThreads, 0), duplicate(kThreads, 0), errors(kThreads, 0);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      Inbox& inbox = i % 2 == 0 ? a.inbox : b.inbox;
      start.arrive_and_wait();
      auto r = inbox.record(d);
      if (!r) {
        ++errors[i];
      } else if (*r == IntakeResult::kAccepted) {
        ++accepted[i];
      } else {
        ++duplicate[i];
      }
    });
  }
  for (auto& th : threads) th.join();

  CHECK(errors == std::vector<int>(kThreads, 0));
  int accepted_total = 0, duplicate_total = 0;
  for (int i = 0; i < kThreads; ++i) {
    accepted_total += accepted[i];
    duplicate_total += duplicate[i];
  }
  CHECK(accepted_total == 1);
  CHECK(duplicate_total == kThreads - 1);
  CHECK(query_int(*a.db, "SELECT COUNT(*) FROM webhook_inbox WHERE delivery_id = ?",
                  {d.delivery_id}) == 1);
  CHECK(query_int(*b.db, "SELECT COUNT(*) FROM jobs WHERE kind = ?",
                  {std::string(kProcessJobKind)}) == 1);
}

TEST_CASE("inbox: the same delivery id from another shop or source is a different delivery",
          "[inbox][db]") {
  afterglow::testing::TestDatabase database;
  Process p(database, 1);
  REQUIRE(migrate(*p.db));
  Delivery d = order_delivery("same-id");
  REQUIRE(p.inbox.record(d) == IntakeResult::kAccepted);
  REQUIRE(p.inbox.record(d) == IntakeResult::kDuplicate);
  Delivery other_shop = d;
  other_shop.shop_domain = "shop-two.myshopify.com";
  CHECK(p.inbox.record(other_shop) == IntakeResult::kAccepted);
  Delivery stripe = d;
  stripe.source = "stripe";
  stripe.shop_domain = "";
  CHECK(p.inbox.record(stripe) == IntakeResult::kAccepted);
  CHECK(query_int(*p.db, "SELECT COUNT(*) FROM webhook_inbox") == 3);
  CHECK(query_int(*p.db, "SELECT COUNT(*) FROM jobs") == 3);
}

}  // namespace
}  // namespace afterglow::webhooks
