// A shop's merchant settings, read by the offer engine (margin floor, offer window) and the
// message scheduler (sender, footer address, quiet hours, frequency caps), edited through
// /api/admin/settings. Stored as JSON in shops.settings; a key that is absent there reads as
// its default, so a shop that never saved settings gets the defaults below.
//
// Validation names the field: "settings.quiet_hours.start_hour must be an integer between 0 and
// 23". Functions keep no state and are thread-safe.
#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "plugin/core/db.h"
#include "plugin/core/error.h"

namespace afterglow {

struct FieldError;

// SMS (and, when `apply_to_email`, email) is held back between start_hour and end_hour in the
// recipient's local time zone; start > end wraps past midnight (21 → 8 is 9 PM to 8 AM, the
// common US default). `days` are the days on which the window starts ("mon" … "sun").
struct QuietHours {
  bool enabled = true;
  int start_hour = 21;
  int end_hour = 8;
  std::vector<std::string> days = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
  bool apply_to_email = false;
};

// At most one marketing email per `email_hours` and one SMS per `sms_hours` to one person,
// across all flows; at most `weekly_max` messages (both channels) in any 7 days. 0 = no cap.
struct FrequencyCaps {
  int email_hours = 16;
  int sms_hours = 24;
  int weekly_max = 5;
};

struct ShopSettings {
  std::string sender_name;     // "From" display name
  std::string sender_email;    // "From" address
  std::string postal_address;  // printed in every marketing email's footer (CAN-SPAM)
  QuietHours quiet_hours;
  FrequencyCaps frequency_caps;
  double margin_floor_percent = 0;  // an offer's discount never takes margin below this
  int offer_window_minutes = 15;    // how long a post-purchase offer stays acceptable
  // The shop's own Stripe account (Connect, sent as Stripe-Account: acct_…): thank-you page
  // charges go there. Empty: no thank-you offers, and the diagnostics say why.
  std::string stripe_account_id;
};

// Reads settings from their JSON form (the body of PUT /api/admin/settings). Absent keys take
// their defaults; unknown keys are refused. On failure: kInvalidArgument naming the first bad
// field; `all_errors`, when given, receives every problem.
Result<ShopSettings> settings_from_json(const nlohmann::json& value,
                                        std::vector<FieldError>* all_errors = nullptr);
nlohmann::json settings_to_json(const ShopSettings& settings);

// The shop's settings (defaults for what was never saved). kNotFound when no shop has that id.
Result<ShopSettings> load_shop_settings(Tx& tx, int64_t shop_id);
// Replaces the settings this module owns, keeping any other keys stored in shops.settings.
Result<void> save_shop_settings(Tx& tx, int64_t shop_id, const ShopSettings& settings);

}  // namespace afterglow
