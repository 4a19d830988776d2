// Turns a send step into the exact bytes that go out: the personalised subject and body, the
// recommendation block, tracked links, the footer and headers the law and the mailbox providers
// require (email), or the brand, STOP/HELP lines and segment budget (SMS).
//
// Every link but the unsubscribe and preference links is rewritten to GET /t/c/{token}; the
// original destinations are returned in order (messages.links), and the click route redirects
// only to those. The message id of the messages row is in every token, so composing happens
// after that row exists. Pure: no database, no clock (times come in), thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "email/enrolment.h"
#include "email/flow_model.h"
#include "email/recommendations.h"
#include "plugin/core/error.h"
#include "plugin/core/shop_settings.h"

namespace afterglow::email {

struct ComposeInput {
  const ShopSettings* settings = nullptr;
  std::string shop_domain;                 // {name}.myshopify.com
  std::string shop_name;                   // display name (settings.sender_name, else domain)
  const Enrolment* enrolment = nullptr;
  const FlowStep* step = nullptr;
  int64_t message_id = 0;                  // the messages row
  std::vector<RecommendedItem> items;
  std::string app_url;                     // https://… (tracking and unsubscribe links)
  std::string tracking_key;                // signs the tokens (email/tracking_token.h)
  std::string mail_from;                   // MAIL_FROM: envelope sender; From when the shop has none
  bool first_sms_to_number = false;
  int64_t now_ms = 0;                      // the Date header
};

struct ComposedEmail {
  std::string envelope_from;
  std::string recipient;
  std::string raw;                         // RFC 5322, CRLF
  std::string subject;
  std::string rfc_message_id;              // "<…>"
  std::vector<std::string> links;          // destinations, by click-token index
};

struct ComposedSms {
  std::string recipient;
  std::string body;
  int segments = 0;
  std::vector<std::string> links;
};

// kInvalidArgument when the template does not render, a header would carry CR/LF, the shop
// has no postal address (CAN-SPAM: no marketing email without one) or the SMS is over the
// shop's segment budget: the step is then skipped with the reason, never sent half-right.
Result<ComposedEmail> compose_email_message(const ComposeInput& input);
Result<ComposedSms> compose_sms_message(const ComposeInput& input);

}  // namespace afterglow::email
