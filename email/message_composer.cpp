#include "email/message_composer.h"

#include <map>
#include <nlohmann/json.hpp>

#include "email/email_layout.h"
#include "email/mime_message.h"
#include "email/sms_text.h"
#include "email/template.h"
#include "email/tracking_token.h"
#include "plugin/core/crypto.h"

namespace afterglow::email {
namespace {

using nlohmann::json;

std::string domain_of(std::string_view address) {
  size_t at = address.rfind('@');
  return at == std::string_view::npos ? std::string("afterglow.invalid")
                                      : std::string(address.substr(at + 1));
}

std::string token_url(const ComposeInput& in, TrackingKind kind, int link_index = 0) {
  return tracking_url(in.app_url, kind,
                      make_tracking_token(in.tracking_key, {kind, in.message_id, link_index}));
}

// Every tracked destination gets one index; the same URL twice shares it.
class LinkTable {
 public:
  explicit LinkTable(const ComposeInput& in) : in_(in) {}
  std::string wrap(const std::string& url) {
    auto [it, added] = index_.try_emplace(url, static_cast<int>(links_.size()));
    if (added) links_.push_back(url);
    return token_url(in_, TrackingKind::kClick, it->second);
  }
  std::vector<std::string> take() { return std::move(links_); }

 private:
  const ComposeInput& in_;
  std::map<std::string, int> index_;
  std::vector<std::string> links_;
};

// Mail clients load only remote images (a data: or relative URL shows as a broken box, and
// several clients strip them): such an image is left out, the card stays.
std::string remote_image(const std::string& url) {
  return url.starts_with("https://") || url.starts_with("http://") ? url : std::string();
}

json template_data(const ComposeInput& in, const std::string& unsubscribe_url,
                   const std::string& preferences_url) {
  const TriggerData& d = in.enrolment->data;
  json items = json::array();
  for (const RecommendedItem& i : in.items) {
    items.push_back({{"title", i.title}, {"url", i.url}, {"image_url", remote_image(i.image_url)},
                     {"price", i.price_text}});
  }
  return {{"first_name", d.first_name},
          {"last_name", d.last_name},
          {"shop_name", in.shop_name},
          {"order_name", d.order_name},
          {"items", std::move(items)},
          {"recovery_url", d.recovery_url},
          {"incentive_code", in.settings->incentive_code},
          {"incentive_text", in.settings->incentive_text},
          {"unsubscribe_url", unsubscribe_url},
          {"preferences_url", preferences_url},
          // "{{recommendations}}" marks a step that shows the product cards (after its text).
          {"recommendations", ""}};
}

bool shows_cards(const FlowStep& step) {
  return step.body.find("{{recommendations}}") != std::string::npos ||
         step.body.find("{{{recommendations}}}") != std::string::npos;
}

}  // namespace

Result<ComposedEmail> compose_email_message(const ComposeInput& in) {
  const ShopSettings& s = *in.settings;
  const FlowStep& step = *in.step;
  if (s.postal_address.empty()) {
    return fail(ErrorCode::kInvalidArgument,
                "the shop has no postal address (settings.postal_address): marketing email "
                "must carry one");
  }
  std::string from_address = !s.sender_email.empty() ? s.sender_email : in.mail_from;
  if (from_address.empty()) {
    return fail(ErrorCode::kInvalidArgument, "no sender address (settings.sender_email or MAIL_FROM)");
  }
  std::string unsubscribe_url = token_url(in, TrackingKind::kUnsubscribe);
  std::string preferences_url = unsubscribe_url + "?preferences=1";
  json data = template_data(in, unsubscribe_url, preferences_url);

  std::string subject = AG_TRY(render_template(step.subject, data, TemplateMode::kText));
  std::string preheader = AG_TRY(render_template(step.preview_text, data, TemplateMode::kText));
  std::string body = AG_TRY(render_template(step.body, data, TemplateMode::kHtml));

  EmailLayoutInput layout;
  layout.shop_name = in.shop_name;
  layout.preheader = preheader;
  layout.body_html = body;
  if (shows_cards(step)) {
    for (const RecommendedItem& i : in.items) {
      layout.items.push_back({i.title, i.url, remote_image(i.image_url), i.price_text});
    }
  }
  layout.unsubscribe_url = unsubscribe_url;
  layout.preferences_url = preferences_url;
  layout.postal_address = s.postal_address;
  layout.open_pixel_url = token_url(in, TrackingKind::kOpen);
  EmailLayout laid = AG_TRY(lay_out_email(layout));

  LinkTable links(in);
  auto wrap = [&links](const std::string& url) { return links.wrap(url); };
  std::vector<std::string> direct{unsubscribe_url, preferences_url};
  LinkRewrite html = rewrite_links(laid.html, wrap, direct);
  LinkRewrite text = rewrite_text_links(laid.text, wrap, direct);

  // Deterministic for a message: a retry after a 4xx sends the same Message-ID, so a receiver
  // that did take the first attempt can tell the second is the same message.
  std::string tag = crypto::to_hex(crypto::hmac_sha256(in.tracking_key,
                                                       "message-id " + std::to_string(in.message_id)))
                        .substr(0, 16);
  std::string message_id = "<m" + std::to_string(in.message_id) + "." + tag + "@" +
                           domain_of(from_address) + ">";

  MimeMessageInput mime;
  mime.from = {s.sender_name.empty() ? in.shop_name : s.sender_name, from_address};
  mime.to = {in.enrolment->data.first_name.empty()
                 ? std::string()
                 : in.enrolment->data.first_name + (in.enrolment->data.last_name.empty()
                                                        ? std::string()
                                                        : " " + in.enrolment->data.last_name),
             in.enrolment->email};
  mime.reply_to = {"", s.reply_to};
  mime.subject = subject;
  mime.date_ms = in.now_ms;
  mime.message_id = message_id;
  mime.text_body = text.content;
  mime.html_body = html.content;
  mime.list_unsubscribe_url = unsubscribe_url;
  mime.list_unsubscribe_mailto = "mailto:" + (in.mail_from.empty() ? from_address : in.mail_from) +
                                 "?subject=unsubscribe";
  mime.extra_headers = {
      {"Feedback-ID", "f" + std::to_string(in.enrolment->flow_id) + ":s" +
                          std::to_string(in.enrolment->shop_id) + ":afterglow"},
      {"X-Afterglow-Message", std::to_string(in.message_id)}};

  ComposedEmail out;
  out.raw = AG_TRY(build_mime_message(mime));
  out.envelope_from = in.mail_from.empty() ? from_address : in.mail_from;
  out.recipient = in.enrolment->email;
  out.subject = subject;
  out.rfc_message_id = message_id;
  out.links = links.take();
  return out;
}

Result<ComposedSms> compose_sms_message(const ComposeInput& in) {
  const ShopSettings& s = *in.settings;
  std::string unsubscribe_url = token_url(in, TrackingKind::kUnsubscribe);
  json data = template_data(in, unsubscribe_url, unsubscribe_url + "?preferences=1");
  std::string body = AG_TRY(render_template(in.step->body, data, TemplateMode::kText));

  LinkTable links(in);
  LinkRewrite text = rewrite_text_links(
      body, [&links](const std::string& url) { return links.wrap(url); }, {unsubscribe_url});
  std::string brand = !s.brand_name.empty()    ? s.brand_name
                      : !s.sender_name.empty() ? s.sender_name
                                               : in.shop_name;
  std::string message = AG_TRY(compose_sms(text.content, brand, in.first_sms_to_number, "",
                                           s.sms_max_segments));
  ComposedSms out;
  out.recipient = in.enrolment->phone;
  out.body = message;
  out.segments = count_segments(message).segments;
  out.links = links.take();
  return out;
}

}  // namespace afterglow::email
