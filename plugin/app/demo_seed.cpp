#include "plugin/app/demo_seed.h"

#include "plugin/core/crypto.h"

namespace afterglow::app {

Result<std::string> seed_demo(Db& db, const Clock& clock) {
  int64_t now = clock.now_ms();
  int64_t shops = 0;
  AG_CHECK(db.write([&](Tx& tx) -> Result<void> {
    AG_CHECK(tx.exec(
        "INSERT INTO shops (domain, platform_shop_id, state, installed_at_ms, hash_salt) "
        "VALUES (?, ?, 'installed', ?, ?) ON CONFLICT (domain) DO NOTHING",
        {std::string(kDemoShopDomain), int64_t{548380009}, now, crypto::random_hex(16)}));
    auto row = AG_TRY(tx.query_one("SELECT COUNT(*) FROM shops"));
    shops = row ? row->i64(0) : 0;
    return {};
  }));
  return std::string("demo shop ") + kDemoShopDomain + " is installed (" +
         std::to_string(shops) + " shop(s) in the database)";
}

}  // namespace afterglow::app
