// Shop settings: defaults, validation naming the field, and storage that keeps other keys.
#include "plugin/core/shop_settings.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "plugin/core/json_fields.h"
#include "plugin/core/migrations.h"
#include "tests/support/test_backend.h"
#include "tests/support/test_db.h"

using namespace afterglow;
using nlohmann::json;

namespace {
std::string error_of(const json& j) {
  auto r = settings_from_json(j);
  return r ? "" : r.error().message;
}
}  // namespace

TEST_CASE("empty settings are the documented defaults", "[settings]") {
  auto s = settings_from_json(json::object());
  REQUIRE(s);
  CHECK(s->frequency_caps.email_hours == 16);
  CHECK(s->frequency_caps.sms_hours == 24);
  CHECK(s->offer_window_minutes == 15);
  CHECK(s->quiet_hours.start_hour == 20);
  CHECK(s->quiet_hours.end_hour == 10);
  CHECK(s->quiet_hours.days.size() == 7);
  CHECK(s->quiet_hours.no_send_days == std::vector<std::string>{"sun"});
  CHECK(s->time_zone == "America/New_York");
  CHECK_FALSE(s->email_soft_opt_in);
  CHECK(s->attribution_days == 5);
  CHECK(s->sms_max_segments == 2);
}

TEST_CASE("messaging settings are validated and kept through JSON", "[settings]") {
  CHECK(error_of({{"time_zone", "Mars/Olympus"}}) ==
        "settings.time_zone must be an IANA time zone such as America/Chicago");
  CHECK(error_of({{"time_zone", "../../etc/passwd"}}) ==
        "settings.time_zone must be an IANA time zone such as America/Chicago");
  CHECK(error_of({{"quiet_hours", {{"no_send_days", {"mon", "tue", "wed", "thu", "fri", "sat", "sun"}}}}}) ==
        "settings.quiet_hours.no_send_days must leave at least one day for sending");
  CHECK(error_of({{"brand_name", "Acme\r\nBcc: x"}}) == "settings.brand_name must be a single line");
  CHECK(error_of({{"incentive_code", "TEN OFF"}}) ==
        "settings.incentive_code must be a discount code without spaces");
  CHECK(error_of({{"reply_to", "help"}}) ==
        "settings.reply_to must be an email address such as help@example.com");

  auto s = settings_from_json({{"time_zone", "America/Chicago"},
                               {"email_soft_opt_in", true},
                               {"sms_consent_wording", "Yes, text me deals."},
                               {"quiet_hours", {{"no_send_days", json::array()}}}});
  REQUIRE(s);
  auto again = settings_from_json(settings_to_json(*s));
  REQUIRE(again);
  CHECK(again->time_zone == "America/Chicago");
  CHECK(again->email_soft_opt_in);
  CHECK(again->sms_consent_wording == "Yes, text me deals.");
  CHECK(again->quiet_hours.no_send_days.empty());
}

TEST_CASE("settings validation errors name the field", "[settings]") {
  CHECK(error_of({{"sender_email", "shop at example.com"}}) ==
        "settings.sender_email must be an email address such as shop@example.com");
  CHECK(error_of({{"quiet_hours", {{"start_hour", 24}}}}) ==
        "settings.quiet_hours.start_hour must be an integer between 0 and 23");
  CHECK(error_of({{"quiet_hours", {{"start_hour", 9}, {"end_hour", 9}}}}) ==
        "settings.quiet_hours.end_hour must differ from start_hour (or turn quiet hours off)");
  CHECK(error_of({{"quiet_hours", {{"days", {"mon", "funday"}}}}}) ==
        "settings.quiet_hours.days[1] must be one of mon, tue, wed, thu, fri, sat, sun");
  CHECK(error_of({{"frequency_caps", {{"weekly_max", 51}}}}) ==
        "settings.frequency_caps.weekly_max must be an integer between 0 and 50");
  CHECK(error_of({{"margin_floor_percent", 101}}) ==
        "settings.margin_floor_percent must be between 0 and 100");
  CHECK(error_of({{"offer_window_minutes", 0}}) ==
        "settings.offer_window_minutes must be an integer between 1 and 60");
  CHECK(error_of({{"sender_name", "A\nBcc: x@y.z"}}) ==
        "settings.sender_name must be a single line");
  CHECK(error_of({{"colour", "red"}}) == "settings.colour is not a known field");
}

TEST_CASE("saved settings load back and keep keys other modules stored", "[settings][db]") {
  testing::TestDatabase tdb;
  auto db = tdb.open();
  REQUIRE(migrate(*db));
  int64_t shop = testing::seed_installed_shop(*db, "settings-shop.myshopify.com");
  testing::exec_sql(*db, "UPDATE shops SET settings = ? WHERE id = ?",
                    {std::string(R"({"install_note":"kept"})"), shop});

  auto parsed = settings_from_json({{"sender_name", "Glow Shop"},
                                    {"sender_email", "hello@glow.example"},
                                    {"frequency_caps", {{"email_hours", 24}}},
                                    {"margin_floor_percent", 12.5}});
  REQUIRE(parsed);
  REQUIRE(db->write([&](Tx& tx) { return save_shop_settings(tx, shop, *parsed); }));

  ShopSettings loaded;
  REQUIRE(db->read([&](Tx& tx) -> Result<void> {
    loaded = AG_TRY(load_shop_settings(tx, shop));
    return {};
  }));
  CHECK(loaded.sender_name == "Glow Shop");
  CHECK(loaded.frequency_caps.email_hours == 24);
  CHECK(loaded.frequency_caps.sms_hours == 24);
  CHECK(loaded.margin_floor_percent == 12.5);
  auto stored = json::parse(
      testing::query_row(*db, "SELECT settings FROM shops WHERE id = ?", {shop})->text(0));
  CHECK(stored["install_note"] == "kept");
}
