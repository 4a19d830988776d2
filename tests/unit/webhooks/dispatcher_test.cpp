// Several handlers on one topic (webhooks/ stores an order, email/ starts flows from the same
// orders/paid): they run in registration order in one transaction, the first error undoes them
// all, and the row's outcome and note combine theirs.
#include "webhooks/dispatcher.h"

#include <string>
#include <vector>

#include "tests/unit/webhooks/handler_env.h"

namespace afterglow::webhooks::testing {
namespace {

// A handler that writes a marker row (so a rollback is visible) and answers `outcome`.
TopicHandler marker(std::vector<std::string>& calls, std::string name, Result<Outcome> outcome) {
  return [&calls, name, outcome](Tx& tx, const InboxEvent&) -> Result<Outcome> {
    calls.push_back(name);
    AG_CHECK(
        tx.exec("INSERT INTO suppressions (shop_id, channel, address_hash, reason, "
                "created_at_ms) SELECT id, 'email', ?, 'manual', 0 FROM shops LIMIT 1",
                {name}));
    return outcome;
  };
}

int64_t seed_shop(HandlerEnv& env) {
  env.exec(
      "INSERT INTO shops (domain, state, installed_at_ms, hash_salt) VALUES (?, "
      "'installed', 0, 'salt')",
      {std::string(kShop)});
  return env.i64("SELECT id FROM shops WHERE domain = ?", {std::string(kShop)});
}

}  // namespace

TEST_CASE("every handler of a topic runs in registration order and the notes are joined",
          "[dispatcher][db]") {
  HandlerEnv env(/*with_topic_handlers=*/false);
  seed_shop(env);
  std::vector<std::string> calls;
  env.dispatcher.on("shopify", "orders/paid", marker(calls, "first", Outcome::processed("stored")));
  env.dispatcher.on("shopify", "orders/paid", marker(calls, "second", Outcome::ignore("no flow")));
  env.dispatcher.on("shopify", "orders/paid", marker(calls, "third", Outcome::processed()));
  CHECK(env.dispatcher.topics("shopify") == std::vector<std::string>{"orders/paid"});

  int64_t id = env.deliver("orders/paid", "{}");
  env.drain();
  CHECK(calls == std::vector<std::string>{"first", "second", "third"});
  CHECK(env.inbox_state(id) == "processed");  // one processed it
  CHECK(env.inbox_note(id) == "stored; no flow");
  CHECK(env.i64("SELECT COUNT(*) FROM suppressions") == 3);
}

TEST_CASE("a topic whose handlers all ignore it is ignored", "[dispatcher][db]") {
  HandlerEnv env(/*with_topic_handlers=*/false);
  seed_shop(env);
  std::vector<std::string> calls;
  env.dispatcher.on("shopify", "orders/paid", marker(calls, "a", Outcome::ignore("old")));
  env.dispatcher.on("shopify", "orders/paid", marker(calls, "b", Outcome::ignore("no flow")));
  int64_t id = env.deliver("orders/paid", "{}");
  env.drain();
  CHECK(env.inbox_state(id) == "ignored");
  CHECK(env.inbox_note(id) == "old; no flow");
}

TEST_CASE("the first handler error rolls back what the earlier handlers wrote",
          "[dispatcher][db]") {
  HandlerEnv env(/*with_topic_handlers=*/false);
  seed_shop(env);
  std::vector<std::string> calls;
  env.dispatcher.on("shopify", "orders/paid", marker(calls, "first", Outcome::processed("stored")));
  env.dispatcher.on("shopify", "orders/paid",
                    marker(calls, "second",
                           std::unexpected(Error{ErrorCode::kUnavailable, "flows unavailable"})));
  env.dispatcher.on("shopify", "orders/paid", marker(calls, "third", Outcome::processed()));

  int64_t id = env.deliver("orders/paid", "{}");
  env.drain();
  CHECK(calls == std::vector<std::string>{"first", "second"});  // the third never ran
  CHECK(env.inbox_state(id) == "received");                     // retried later
  CHECK_THAT(env.inbox_note(id), Catch::Contains("flows unavailable"));
  CHECK(env.i64("SELECT COUNT(*) FROM suppressions") == 0);
  CHECK(env.text("SELECT state FROM jobs") == "scheduled");
}

}  // namespace afterglow::webhooks::testing
