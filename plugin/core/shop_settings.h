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
// recipient's local time zone; start > end wraps past midnight (the default 20 → 10 sends only
// from 10:00 to 20:00). `days` are the days on which the window starts ("mon" … "sun");
// `no_send_days` are quiet all day (default Sunday). Stricter state rules and the federal
// 8:00–21:00 floor apply on top (email/quiet_hours.h).
struct QuietHours {
  bool enabled = true;
  int start_hour = 20;
  int end_hour = 10;
  std::vector<std::string> days = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
  std::vector<std::string> no_send_days = {"sun"};
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

  // Messaging (email/).
  std::string reply_to;         // Reply-To of marketing email; empty: none
  std::string brand_name;       // SMS brand prefix and HELP answer; empty: sender_name
  std::string support_contact;  // HELP answer's contact (email, URL or phone)
  // IANA zone of the shop: quiet hours for a recipient whose location is unknown.
  std::string time_zone = "America/New_York";
  // Email to a buyer who neither subscribed nor unsubscribed (EU/UK "soft opt-in": similar
  // products, opt-out offered at collection and in every message). Off: subscribed only.
  bool email_soft_opt_in = false;
  // The SMS consent disclosure shown at collection; stored with every SMS consent we record.
  // A consent without wording is no express consent: no SMS is sent on it.
  std::string sms_consent_wording;
  int attribution_days = 5;  // an order within this many days of a click counts for the message
  int sms_max_segments = 2;  // a longer SMS is refused at render time
  // A real incentive for steps that offer one (e.g. the cart upsell's second step); empty: those
  // steps are skipped, never sent with a made-up discount.
  std::string incentive_code;
  std::string incentive_text;  // e.g. "10% off your order"
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
