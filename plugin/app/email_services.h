// The email module's run-time parts, built from the config: the channels (SMTP when SMTP_URL is
// set, the SMS REST API when SMS_ACCOUNT_SID is), the step runner that sends, and the services
// of its public routes (/t/c, /t/o, /u, /webhooks/sms, /webhooks/sms/status, /events/viewed).
// A channel that is not configured is off: its steps are skipped with the reason "channel_off",
// and the start-up log says so.
#pragma once

#include <memory>

#include "email/mailer.h"
#include "email/sms_sender.h"
#include "email/sms_webhooks.h"
#include "email/step_runner.h"
#include "email/storefront_events.h"
#include "email/tracking_routes.h"
#include "plugin/core/clock.h"
#include "plugin/core/config.h"
#include "plugin/core/db.h"
#include "plugin/core/http_client.h"

namespace httplib {
class Server;
}

namespace afterglow::app {

struct EmailServices {
  std::unique_ptr<email::Mailer> mailer;      // null: email off
  std::unique_ptr<HttpClient> sms_http;
  std::unique_ptr<email::SmsSender> sms;      // null: SMS off
  std::unique_ptr<email::StepRunner> runner;
  std::unique_ptr<email::TrackingServices> tracking;
  std::unique_ptr<email::SmsWebhookServices> sms_hooks;
  std::unique_ptr<email::StorefrontServices> storefront;
};

// Fails only on a configuration that cannot work (an SMTP_URL libcurl cannot use).
Result<std::unique_ptr<EmailServices>> build_email_services(const Config& config, Db& db,
                                                            const Clock& clock);

// Mounts the routes listed above (call once per listener).
void mount_email_routes(httplib::Server& server, EmailServices& email);

}  // namespace afterglow::app
