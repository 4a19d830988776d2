#include "plugin/app/email_services.h"

#include "email/smtp_mailer.h"
#include "email/tracking_token.h"
#include "email/twilio_sms.h"
#include "plugin/core/log.h"

namespace afterglow::app {

Result<std::unique_ptr<EmailServices>> build_email_services(const Config& config, Db& db,
                                                            const Clock& clock) {
  auto email = std::make_unique<EmailServices>();
  if (!config.smtp_url.empty()) {
    email::SmtpOptions options = AG_TRY(email::smtp_options_from_config(config));
    email->mailer = AG_TRY(email::make_smtp_mailer(std::move(options)));
  } else {
    log::warn("email is off: SMTP_URL is not set (email steps are skipped)");
  }
  if (auto sms = email::twilio_sms_options(config)) {
    email->sms_http = make_curl_http_client();
    email->sms = std::make_unique<email::TwilioSms>(*email->sms_http, std::move(*sms));
  } else {
    log::warn("SMS is off: SMS_ACCOUNT_SID is not set (SMS steps are skipped)");
  }

  std::vector<std::string> keys{email::tracking_key(config.api_secret)};
  std::vector<std::string> secrets{config.api_secret};
  if (!config.api_secret_previous.empty()) {
    keys.push_back(email::tracking_key(config.api_secret_previous));
    secrets.push_back(config.api_secret_previous);
  }
  email::StepRunnerConfig rc;
  rc.app_url = config.app_url;
  rc.tracking_key = keys.front();
  rc.mail_from = config.mail_from_address;
  email->runner = std::make_unique<email::StepRunner>(db, clock, email->mailer.get(),
                                                      email->sms.get(), rc);
  email->tracking.reset(new email::TrackingServices{db, clock, keys, config.app_url});
  // Behind the TLS proxy (the plain-HTTP listener) the client address is in X-Forwarded-For.
  email->tracking->trust_forwarded_for = config.http_port >= 0;
  email->sms_hooks.reset(
      new email::SmsWebhookServices{db, clock, config.sms_auth_token, config.app_url});
  email->storefront.reset(new email::StorefrontServices{db, clock, secrets});
  return email;
}

void mount_email_routes(httplib::Server& server, EmailServices& email) {
  email::mount_tracking_routes(server, *email.tracking);
  email::mount_sms_webhooks(server, *email.sms_hooks);
  email::mount_storefront_events(server, *email.storefront);
}

}  // namespace afterglow::app
