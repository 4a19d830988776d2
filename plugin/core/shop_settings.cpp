#include "plugin/core/shop_settings.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <optional>

#include "plugin/core/json_fields.h"

namespace afterglow {
namespace {

using nlohmann::json;

constexpr std::string_view kDays[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
// The keys of shops.settings this module owns; others (set by other modules) are kept as they are.
constexpr std::string_view kOwnedKeys[] = {
    "sender_name",    "sender_email",         "postal_address",      "quiet_hours",
    "frequency_caps", "margin_floor_percent", "offer_window_minutes", "stripe_account_id",
    "reply_to",       "brand_name",           "support_contact",     "time_zone",
    "email_soft_opt_in", "sms_consent_wording", "attribution_days",  "sms_max_segments",
    "incentive_code", "incentive_text"};

// Deliberately loose: the mail server is the judge of deliverability; this catches typos such as
// a missing '@' or a space, which the merchant would otherwise discover only from bounces.
bool plausible_email(std::string_view s) {
  size_t at = s.find('@');
  if (at == 0 || at == std::string_view::npos || s.find('@', at + 1) != std::string_view::npos) {
    return false;
  }
  std::string_view domain = s.substr(at + 1);
  size_t dot = domain.find('.');
  if (dot == 0 || dot == std::string_view::npos || domain.back() == '.') return false;
  return std::none_of(s.begin(), s.end(), [](char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '<' || c == '>' || c == ',';
  });
}

// Stripe account ids are "acct_" and letters/digits (e.g. acct_1032D82eZvKYlo2C).
bool valid_stripe_account(std::string_view s) {
  if (!s.starts_with("acct_") || s.size() < 8) return false;
  return std::all_of(s.begin() + 5, s.end(),
                     [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; });
}

// An IANA zone name ("America/Chicago") that the system's zone database has. The name is checked
// for shape first, so no path outside the database is ever opened.
bool known_time_zone(std::string_view name) {
  if (name.empty() || name.size() > 64 || name.front() == '/' ||
      name.find("..") != std::string_view::npos) {
    return false;
  }
  if (!std::all_of(name.begin(), name.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '/' || c == '_' ||
               c == '-' || c == '+';
      })) {
    return false;
  }
  const char* dir = std::getenv("TZDIR");
  std::string path = std::string(dir && *dir ? dir : "/usr/share/zoneinfo") + "/" +
                     std::string(name);
  std::error_code ec;
  return std::filesystem::is_regular_file(path, ec);
}

std::optional<std::string> day_name(std::string_view d) {
  for (std::string_view k : kDays) {
    if (d == k) return std::string(k);
  }
  return std::nullopt;
}

}  // namespace

Result<ShopSettings> settings_from_json(const json& value, std::vector<FieldError>* all_errors) {
  FieldErrors errors;
  ShopSettings s;
  ObjectReader r(value, "settings", errors);
  s.sender_name = r.text("sender_name", 100);
  if (s.sender_name.find_first_of("\r\n") != std::string::npos) {
    errors.add(r.field("sender_name"), "must be a single line");
  }
  s.sender_email = r.text("sender_email", 254);
  if (!s.sender_email.empty() && !plausible_email(s.sender_email)) {
    errors.add(r.field("sender_email"), "must be an email address such as shop@example.com");
  }
  s.postal_address = r.text("postal_address", 500);

  if (const json* q = r.member("quiet_hours")) {
    ObjectReader qr(*q, r.field("quiet_hours"), errors);
    s.quiet_hours.enabled = qr.boolean("enabled", s.quiet_hours.enabled);
    s.quiet_hours.start_hour =
        static_cast<int>(qr.integer_or("start_hour", 0, 23, s.quiet_hours.start_hour));
    s.quiet_hours.end_hour =
        static_cast<int>(qr.integer_or("end_hour", 0, 23, s.quiet_hours.end_hour));
    if (qr.has("days")) {
      s.quiet_hours.days =
          qr.text_list("days", 7, 16, day_name, "must be one of mon, tue, wed, thu, fri, sat, sun");
    } else {
      qr.member("days");  // absent or null: keep every day (marks the key as read)
    }
    if (qr.has("no_send_days")) {
      s.quiet_hours.no_send_days = qr.text_list("no_send_days", 7, 16, day_name,
                                                "must be one of mon, tue, wed, thu, fri, sat, sun");
      if (s.quiet_hours.no_send_days.size() >= 7) {
        errors.add(qr.field("no_send_days"), "must leave at least one day for sending");
      }
    } else {
      qr.member("no_send_days");
    }
    s.quiet_hours.apply_to_email = qr.boolean("apply_to_email", s.quiet_hours.apply_to_email);
    if (s.quiet_hours.enabled && s.quiet_hours.start_hour == s.quiet_hours.end_hour) {
      errors.add(qr.field("end_hour"), "must differ from start_hour (or turn quiet hours off)");
    }
    qr.reject_unknown();
  }
  if (const json* f = r.member("frequency_caps")) {
    ObjectReader fr(*f, r.field("frequency_caps"), errors);
    s.frequency_caps.email_hours =
        static_cast<int>(fr.integer_or("email_hours", 0, 168, s.frequency_caps.email_hours));
    s.frequency_caps.sms_hours =
        static_cast<int>(fr.integer_or("sms_hours", 0, 168, s.frequency_caps.sms_hours));
    s.frequency_caps.weekly_max =
        static_cast<int>(fr.integer_or("weekly_max", 0, 50, s.frequency_caps.weekly_max));
    fr.reject_unknown();
  }
  s.margin_floor_percent =
      r.number("margin_floor_percent", 0, 100, 2).value_or(s.margin_floor_percent);
  s.offer_window_minutes =
      static_cast<int>(r.integer_or("offer_window_minutes", 1, 60, s.offer_window_minutes));
  s.stripe_account_id = r.text("stripe_account_id", 64);
  if (!s.stripe_account_id.empty() && !valid_stripe_account(s.stripe_account_id)) {
    errors.add(r.field("stripe_account_id"), "must be a Stripe account id such as acct_1A2b3C");
  }
  s.reply_to = r.text("reply_to", 254);
  if (!s.reply_to.empty() && !plausible_email(s.reply_to)) {
    errors.add(r.field("reply_to"), "must be an email address such as help@example.com");
  }
  s.brand_name = r.text("brand_name", 40);
  s.support_contact = r.text("support_contact", 200);
  for (auto [key, value] : {std::pair{"brand_name", &s.brand_name},
                            std::pair{"support_contact", &s.support_contact}}) {
    if (value->find_first_of("\r\n") != std::string::npos) {
      errors.add(r.field(key), "must be a single line");
    }
  }
  if (r.has("time_zone")) {
    s.time_zone = r.text("time_zone", 64);
    if (!known_time_zone(s.time_zone)) {
      errors.add(r.field("time_zone"), "must be an IANA time zone such as America/Chicago");
    }
  } else {
    r.member("time_zone");
  }
  s.email_soft_opt_in = r.boolean("email_soft_opt_in", s.email_soft_opt_in);
  s.sms_consent_wording = r.text("sms_consent_wording", 1000);
  s.attribution_days = static_cast<int>(r.integer_or("attribution_days", 1, 30, s.attribution_days));
  s.sms_max_segments = static_cast<int>(r.integer_or("sms_max_segments", 1, 10, s.sms_max_segments));
  s.incentive_code = r.text("incentive_code", 64);
  s.incentive_text = r.text("incentive_text", 200);
  if (s.incentive_code.find_first_of(" \r\n\t") != std::string::npos) {
    errors.add(r.field("incentive_code"), "must be a discount code without spaces");
  }
  r.reject_unknown();

  if (!errors.empty()) {
    if (all_errors) *all_errors = errors.all();
    return std::unexpected(errors.first());
  }
  return s;
}

json settings_to_json(const ShopSettings& s) {
  return json{{"sender_name", s.sender_name},
              {"sender_email", s.sender_email},
              {"postal_address", s.postal_address},
              {"quiet_hours",
               {{"enabled", s.quiet_hours.enabled},
                {"start_hour", s.quiet_hours.start_hour},
                {"end_hour", s.quiet_hours.end_hour},
                {"days", s.quiet_hours.days},
                {"no_send_days", s.quiet_hours.no_send_days},
                {"apply_to_email", s.quiet_hours.apply_to_email}}},
              {"frequency_caps",
               {{"email_hours", s.frequency_caps.email_hours},
                {"sms_hours", s.frequency_caps.sms_hours},
                {"weekly_max", s.frequency_caps.weekly_max}}},
              {"margin_floor_percent", s.margin_floor_percent},
              {"offer_window_minutes", s.offer_window_minutes},
              {"stripe_account_id", s.stripe_account_id},
              {"reply_to", s.reply_to},
              {"brand_name", s.brand_name},
              {"support_contact", s.support_contact},
              {"time_zone", s.time_zone},
              {"email_soft_opt_in", s.email_soft_opt_in},
              {"sms_consent_wording", s.sms_consent_wording},
              {"attribution_days", s.attribution_days},
              {"sms_max_segments", s.sms_max_segments},
              {"incentive_code", s.incentive_code},
              {"incentive_text", s.incentive_text}};
}

namespace {

Result<json> stored_settings(Tx& tx, int64_t shop_id) {
  auto row = AG_TRY(tx.query_one("SELECT settings FROM shops WHERE id = ?", {shop_id}));
  if (!row) return fail(ErrorCode::kNotFound, "no shop with id " + std::to_string(shop_id));
  json stored = json::parse(row->text(0), nullptr, /*allow_exceptions=*/false);
  if (!stored.is_object()) stored = json::object();
  return stored;
}

}  // namespace

Result<ShopSettings> load_shop_settings(Tx& tx, int64_t shop_id) {
  json stored = AG_TRY(stored_settings(tx, shop_id));
  json mine = json::object();
  for (std::string_view k : kOwnedKeys) {
    auto it = stored.find(k);
    if (it != stored.end()) mine[std::string(k)] = *it;
  }
  auto parsed = settings_from_json(mine);
  if (!parsed) {
    return fail(ErrorCode::kInternal, "stored settings are invalid: " + parsed.error().message);
  }
  return parsed;
}

Result<void> save_shop_settings(Tx& tx, int64_t shop_id, const ShopSettings& settings) {
  json stored = AG_TRY(stored_settings(tx, shop_id));
  json mine = settings_to_json(settings);
  for (auto& [k, v] : mine.items()) stored[k] = v;
  AG_CHECK(tx.exec("UPDATE shops SET settings = ? WHERE id = ?", {stored.dump(), shop_id}));
  return {};
}

}  // namespace afterglow
