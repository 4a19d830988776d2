// webhooks/shop_lifecycle (app/uninstalled) and the shop records it relies on
// (plugin/core/shop_store).
#include "webhooks/shop_lifecycle.h"

#include "plugin/core/shop_store.h"
#include "tests/unit/webhooks/handler_env.h"

namespace afterglow::webhooks::testing {
namespace {

int64_t installed_shop(HandlerEnv& env, const std::string& domain) {
  env.exec(
      "INSERT INTO shops (domain, state, installed_at_ms, access_token_enc, refresh_token_enc, "
      "access_token_expires_at_ms, refresh_token_expires_at_ms, scopes, hash_salt) "
      "VALUES (?, 'installed', ?, 'enc-access', 'enc-refresh', ?, ?, 'read_orders', 'salt')",
      {domain, kStartMs, kStartMs + 3600000, kStartMs + 86400000});
  return env.i64("SELECT id FROM shops WHERE domain = ?", {domain});
}

int64_t future_job(HandlerEnv& env, int64_t shop_id, const std::string& key) {
  JobSpec spec;
  spec.kind = "email.send_step";
  spec.payload = "{}";
  spec.shop_id = shop_id;
  spec.unique_key = key;
  spec.run_at_ms = kStartMs + 48LL * 3600 * 1000;
  auto id = env.queue.enqueue(spec);
  REQUIRE(id);
  REQUIRE(*id);
  return **id;
}

TEST_CASE("app/uninstalled marks the shop, deletes its tokens and cancels its scheduled jobs",
          "[shop_lifecycle][db]") {
  HandlerEnv env;
  int64_t shop = installed_shop(env, kShop);
  int64_t other = installed_shop(env, kOtherShop);
  int64_t job = future_job(env, shop, "a");
  int64_t other_job = future_job(env, other, "b");
  env.clock.advance(std::chrono::minutes(5));

  int64_t id =
      env.deliver("app/uninstalled", R"({"id":548380009,"domain":"shop-one.myshopify.com"})");
  env.drain();

  CHECK(env.inbox_state(id) == "processed");
  CHECK_THAT(env.inbox_note(id), Catch::Contains("1 scheduled job(s) cancelled"));
  auto s = env.one(
      "SELECT state, uninstalled_at_ms, access_token_enc, refresh_token_enc, "
      "access_token_expires_at_ms, refresh_token_expires_at_ms FROM shops WHERE id = ?",
      {shop});
  REQUIRE(s);
  CHECK(s->text(0) == "uninstalled");
  CHECK(s->i64(1) == kStartMs + 5 * 60 * 1000);
  for (size_t i = 2; i < 6; ++i) CHECK(s->is_null(i));
  CHECK(env.text("SELECT state FROM jobs WHERE id = ?", {job}) == "cancelled");
  CHECK(env.text("SELECT state FROM jobs WHERE id = ?", {other_job}) == "scheduled");
  CHECK(env.text("SELECT state FROM shops WHERE id = ?", {other}) == "installed");
  CHECK(env.text("SELECT access_token_enc FROM shops WHERE id = ?", {other}) == "enc-access");
}

TEST_CASE("a compliance webhook arriving after uninstall is still processed", "[shop_lifecycle][db]") {
  HandlerEnv env;
  installed_shop(env, kShop);
  env.deliver("app/uninstalled", R"({"id":548380009})");
  int64_t request = env.deliver(
      "customers/data_request",
      R"({"shop_id":548380009,"shop_domain":"shop-one.myshopify.com","orders_requested":[],)"
      R"("customer":{"id":7,"email":"x@example.com"},"data_request":{"id":9999}})");
  env.drain();
  CHECK(env.inbox_state(request) == "processed");
  CHECK(env.i64("SELECT COUNT(*) FROM data_exports") == 1);
}

TEST_CASE("app/uninstalled for an unknown shop records it as uninstalled", "[shop_lifecycle][db]") {
  HandlerEnv env;
  int64_t id = env.deliver("app/uninstalled", R"({"id":1})");
  env.drain();
  CHECK(env.inbox_state(id) == "processed");
  CHECK(env.text("SELECT state FROM shops WHERE domain = ?", {std::string(kShop)}) ==
        "uninstalled");
}

TEST_CASE("ensure_shop creates a shop once and keeps its salt", "[shop_store][db]") {
  HandlerEnv env;
  std::string first_salt, second_salt;
  REQUIRE(env.db().write([&](Tx& tx) -> Result<void> {
    ShopRecord a = AG_TRY(ensure_shop(tx, kShop, kStartMs));
    ShopRecord b = AG_TRY(ensure_shop(tx, kShop, kStartMs + 1, int64_t{548380009}));
    CHECK(a.id == b.id);
    CHECK(b.platform_shop_id == 548380009);
    first_salt = a.hash_salt;
    second_salt = b.hash_salt;
    return {};
  }));
  CHECK(first_salt.size() == 32);
  CHECK(first_salt == second_salt);
  CHECK(env.i64("SELECT COUNT(*) FROM shops") == 1);
}

TEST_CASE("address_hash normalises the address and depends on the salt", "[shop_store][db]") {
  using afterglow::address_hash;
  std::string h = address_hash("salt", AddressChannel::kEmail, "jon@example.com");
  CHECK(h.size() == 64);
  CHECK(h == address_hash("salt", AddressChannel::kEmail, "  Jon@Example.COM\t"));
  CHECK(h != address_hash("pepper", AddressChannel::kEmail, "jon@example.com"));
  CHECK(address_hash("salt", AddressChannel::kSms, "+1 (555) 555-0123") ==
        address_hash("salt", AddressChannel::kSms, "+15555550123"));
  CHECK(normalise_address(AddressChannel::kSms, "+1 (555) 555-0123") == "+15555550123");
  CHECK(normalise_address(AddressChannel::kEmail, " A@B.io ") == "a@b.io");
}

}  // namespace
}  // namespace afterglow::webhooks::testing
