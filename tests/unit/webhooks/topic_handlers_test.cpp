// webhooks/topic_handlers and the dispatcher around them: which topics are handled, what
// happens to the rest, retries of a failing handler, and exactly-once effect per delivery.
#include "webhooks/topic_handlers.h"

#include <stdexcept>

#include "tests/unit/webhooks/handler_env.h"

namespace afterglow::webhooks::testing {
namespace {

Job job_for(HandlerEnv& env, int64_t inbox_id) {
  auto jobs = env.queue.claim("test", 1, std::chrono::minutes(5));
  REQUIRE(jobs);
  REQUIRE(jobs->size() == 1);
  REQUIRE(jobs->front().payload == R"({"inbox_id":)" + std::to_string(inbox_id) + "}");
  return jobs->front();
}

TEST_CASE("a topic without a handler is stored and ignored with a reason", "[topic_handlers][db]") {
  HandlerEnv env;
  // (products/* have handlers since the products cache; collections/* do not.)
  int64_t id = env.deliver("collections/update", R"({"id":482865238,"title":"Smartphones"})");
  env.drain();
  CHECK(env.inbox_state(id) == "ignored");
  CHECK(env.inbox_note(id) == "no handler for shopify topic collections/update");
  CHECK(env.text("SELECT body FROM webhook_inbox WHERE id = ?", {id}) ==
        R"({"id":482865238,"title":"Smartphones"})");
  CHECK(env.text("SELECT state FROM jobs") == "done");
}

TEST_CASE("stripe events are not this module's: without the checkout handlers they are ignored",
          "[topic_handlers][db]") {
  // payment_intent.* are handled by checkout/payment_events.h, registered by the shell on the
  // same dispatcher; webhooks/ alone stores them and says that nothing handled them.
  HandlerEnv env;
  std::vector<int64_t> ids;
  for (const char* type : {"payment_intent.succeeded", "payment_intent.payment_failed",
                           "charge.refunded"}) {
    ids.push_back(env.deliver(type, R"({"id":"evt_1","type":"x"})", "", "stripe"));
  }
  env.drain();
  for (int64_t id : ids) CHECK(env.inbox_state(id) == "ignored");
  CHECK(env.inbox_note(ids[0]) == "no handler for stripe topic payment_intent.succeeded");
  CHECK(env.inbox_note(ids[2]) == "no handler for stripe topic charge.refunded");
}

TEST_CASE("a handler that throws is retried with backoff, then dead-lettered", "[topic_handlers][db]") {
  HandlerEnv env(/*with_topic_handlers=*/false);
  int calls = 0;
  env.dispatcher.on("shopify", "orders/create", [&](Tx&, const InboxEvent&) -> Result<Outcome> {
    ++calls;
    throw std::runtime_error("boom");
  });
  int64_t id = env.deliver("orders/create", "{}");

  env.drain();
  CHECK(calls == 1);
  CHECK(env.text("SELECT state FROM jobs") == "scheduled");
  CHECK(env.inbox_state(id) == "received");
  CHECK_THAT(env.inbox_note(id), Catch::Contains("handler threw: boom"));
  CHECK(env.drain() == 0);  // the retry is not due until the clock moves

  for (int attempt = 2; attempt <= 8; ++attempt) {
    env.clock.advance(std::chrono::hours(7));  // beyond the largest backoff (6 h cap)
    env.drain();
    CHECK(calls == attempt);
  }
  CHECK(env.text("SELECT state FROM jobs") == "dead");
  CHECK(env.i64("SELECT attempt FROM jobs") == 8);
  CHECK(env.inbox_state(id) == "failed");
  env.clock.advance(std::chrono::hours(7));
  CHECK(env.drain() == 0);
  CHECK(calls == 8);
}

TEST_CASE("a handler error that can never succeed is dead-lettered on the first attempt",
          "[topic_handlers][db]") {
  HandlerEnv env;
  int64_t id = env.deliver("orders/create", "[1, 2, 3]");
  env.drain();
  CHECK(env.text("SELECT state FROM jobs") == "dead");
  CHECK(env.inbox_state(id) == "failed");
  CHECK(env.inbox_note(id) == "body is not a JSON object");
}

TEST_CASE("processing the same job twice has no second effect", "[topic_handlers][db]") {
  HandlerEnv env;
  int64_t id = env.deliver("orders/create", order_body(OrderSpec{}));
  Job job = job_for(env, id);
  REQUIRE(env.dispatcher.process(job));
  CHECK(env.inbox_state(id) == "processed");
  // Change the stored order behind the handler's back: a second run of the handler would undo it.
  env.exec("UPDATE orders SET financial_status = 'changed-since'");

  REQUIRE(env.dispatcher.process(job));  // e.g. a worker whose lease expired re-runs the job
  CHECK(env.text("SELECT financial_status FROM orders") == "changed-since");
  CHECK(env.i64("SELECT COUNT(*) FROM order_lines") == 1);
  CHECK(env.metrics.counter_value(
            "afterglow_webhooks_processed_total",
            {{"source", "shopify"}, {"topic", "orders/create"}, {"outcome", "already_done"}}) == 1);
}

TEST_CASE("a redelivery of the same delivery id is stored once and runs once", "[topic_handlers][db]") {
  HandlerEnv env;
  Delivery d;
  d.source = "shopify";
  d.shop_domain = kShop;
  d.delivery_id = "same-id";
  d.topic = "orders/create";
  d.body = order_body(OrderSpec{});
  REQUIRE(env.inbox.record(d) == IntakeResult::kAccepted);
  REQUIRE(env.inbox.record(d) == IntakeResult::kDuplicate);
  CHECK(env.drain() == 1);
  CHECK(env.i64("SELECT COUNT(*) FROM webhook_inbox") == 1);
  CHECK(env.i64("SELECT COUNT(*) FROM orders") == 1);
}

}  // namespace
}  // namespace afterglow::webhooks::testing
