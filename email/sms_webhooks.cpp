#include "email/sms_webhooks.h"

#include <httplib.h>

#include <map>

#include "email/consent.h"
#include "email/sms_keywords.h"
#include "email/twilio_signature.h"
#include "plugin/core/http_reply.h"
#include "plugin/core/log.h"
#include "plugin/core/shop_settings.h"
#include "plugin/core/shop_store.h"

namespace afterglow::email {
namespace {

constexpr const char* kEmptyTwiml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response/>";

std::string xml_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string twiml_message(std::string_view text) {
  return std::string("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Message>") +
         xml_escape(text) + "</Message></Response>";
}

std::string param(const FormParams& form, std::string_view name) {
  for (const auto& [k, v] : form) {
    if (k == name) return v;
  }
  return {};
}

// The provider signs the URL it called: our public base plus the path and query it used.
std::string signed_url(const SmsWebhookServices& s, const httplib::Request& req) {
  std::string base = s.app_url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  return base + req.target;
}

// Verifies and parses; answers the error itself and returns nullopt when the request fails.
std::optional<FormParams> verified(const SmsWebhookServices& s, const httplib::Request& req,
                                   httplib::Response& res) {
  if (s.auth_token.empty()) {
    reply_error(res, ErrorCode::kUnauthenticated, "SMS is not configured on this server");
    return std::nullopt;
  }
  std::string header = req.get_header_value("X-Twilio-Signature");
  if (header.empty()) {
    reply_error(res, ErrorCode::kUnauthenticated, "missing X-Twilio-Signature");
    return std::nullopt;
  }
  auto form = verified_twilio_form(s.auth_token, signed_url(s, req), req.body, header);
  if (!form) {
    reply_error(res, form.error());
    return std::nullopt;
  }
  return std::move(*form);
}

// Shops that know the number: they messaged it or hold a consent for it.
Result<std::vector<int64_t>> shops_knowing(Tx& tx, const std::string& phone) {
  auto rows = AG_TRY(tx.query(
      "SELECT shop_id FROM consents WHERE channel = 'sms' AND address = ? "
      "UNION SELECT shop_id FROM messages WHERE channel = 'sms' AND recipient = ?",
      {phone, phone}));
  std::vector<int64_t> out;
  for (const Row& r : rows) out.push_back(r.i64(0));
  return out;
}

// The inbound text kept as evidence: at most `limit` bytes, never cut inside a UTF-8 sequence
// (PostgreSQL refuses a TEXT value that is not valid UTF-8, and the opt-out would be lost).
std::string evidence(std::string_view body, size_t limit = 160) {
  if (body.size() <= limit) return std::string(body);
  while (limit > 0 && (static_cast<unsigned char>(body[limit]) & 0xC0) == 0x80) --limit;
  return std::string(body.substr(0, limit));
}

// A bare carrier keyword ("STOP", "stop.", " Unsubscribe!"): the provider answers those itself.
bool exact_keyword(std::string_view body) {
  std::string word;
  for (char c : body) {
    if (std::isspace(static_cast<unsigned char>(c)) || c == '.' || c == '!') continue;
    if (!std::isalpha(static_cast<unsigned char>(c))) return false;
    word.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  }
  // Spaces were skipped, so "stop texting me" reads as STOPTEXTINGME: not a keyword.
  static const char* kCarrier[] = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT",
                                   "REVOKE", "OPTOUT", "START", "UNSTOP", "YES"};
  for (const char* k : kCarrier) {
    if (word == k) return true;
  }
  return false;
}

Result<std::string> handle_inbound(const SmsWebhookServices& s, const FormParams& form) {
  std::string from = normalise_address(AddressChannel::kSms, param(form, "From"));
  std::string body = param(form, "Body");
  if (from.empty()) return fail(ErrorCode::kInvalidArgument, "From is missing");
  SmsKeyword keyword = classify_inbound_sms(body);
  int64_t now = s.clock.now_ms();
  std::string reply;
  AG_CHECK(s.db.write([&](Tx& tx) -> Result<void> {
    reply.clear();
    std::vector<int64_t> shops = AG_TRY(shops_knowing(tx, from));
    std::string brand, contact;
    if (!shops.empty()) {
      ShopSettings settings = AG_TRY(load_shop_settings(tx, shops.front()));
      brand = !settings.brand_name.empty() ? settings.brand_name : settings.sender_name;
      contact = settings.support_contact;
    }
    std::string prefix = brand.empty() ? std::string() : brand + ": ";
    switch (keyword) {
      case SmsKeyword::kOptOut:
        for (int64_t shop : shops) {
          ConsentChange c;
          c.channel = AddressChannel::kSms;
          c.address = from;
          c.state = ConsentState::kUnsubscribed;
          c.source = "sms_keyword";
          c.collected_at_ms = now;
          c.detail = evidence(body);
          AG_CHECK(record_consent(tx, shop, c, now));
        }
        if (!exact_keyword(body)) {
          reply = prefix + "You are unsubscribed and will receive no further messages. "
                           "Reply START to resubscribe.";
        }
        return {};
      case SmsKeyword::kOptIn:
        for (int64_t shop : shops) {
          auto before = AG_TRY(find_consent(tx, shop, AddressChannel::kSms, from));
          if (!before || before->wording.empty()) continue;  // no consent to restore
          AG_CHECK(lift_suppression(tx, shop, AddressChannel::kSms, from));
          ConsentChange c;
          c.channel = AddressChannel::kSms;
          c.address = from;
          c.customer_id = before->customer_id;
          c.state = ConsentState::kSubscribed;
          c.source = "sms_keyword";
          c.wording = before->wording;
          c.opt_in_level = before->opt_in_level;
          c.collected_at_ms = now;
          c.detail = evidence(body);
          AG_CHECK(record_consent(tx, shop, c, now));
        }
        return {};
      case SmsKeyword::kHelp:
        reply = prefix + "Order updates and offers by text. " +
                (contact.empty() ? std::string() : "Help: " + contact + ". ") +
                "Msg&data rates may apply. Reply STOP to opt out.";
        return {};
      case SmsKeyword::kNone:
        return {};
    }
    return {};
  }));
  log::info("inbound sms", {{"keyword", sms_keyword_name(keyword)}});
  return reply.empty() ? std::string(kEmptyTwiml) : twiml_message(reply);
}

// Provider status → our message state, and how final it is (higher never goes back).
std::optional<std::pair<std::string, int>> state_for(std::string_view status) {
  static const std::map<std::string_view, std::pair<std::string, int>> kStates = {
      {"sent", {"sent", 1}},
      {"delivered", {"delivered", 2}},
      {"undelivered", {"undelivered", 2}},
      {"failed", {"failed", 2}},
  };
  auto it = kStates.find(status);
  if (it == kStates.end()) return std::nullopt;
  return it->second;
}

int rank_of(std::string_view state) {
  if (state == "delivered" || state == "undelivered" || state == "failed") return 2;
  if (state == "sent") return 1;
  return 0;  // sending, unknown, retry
}

// `message_param` is the m= of the callback URL we gave the provider (signed with the rest of
// the URL): it finds the message even when the report outruns the send's own answer, before
// the sid is stored.
Result<void> handle_status(const SmsWebhookServices& s, const FormParams& form,
                           const std::string& message_param) {
  std::string sid = param(form, "MessageSid");
  std::string status = param(form, "MessageStatus");
  if (sid.empty() || status.empty()) {
    return fail(ErrorCode::kInvalidArgument, "MessageSid and MessageStatus are required");
  }
  std::string error_code = param(form, "ErrorCode");
  int64_t now = s.clock.now_ms();
  return s.db.write([&](Tx& tx) -> Result<void> {
    auto message = AG_TRY(tx.query_one(
        "SELECT id, shop_id, state, recipient FROM messages WHERE provider_id = ? "
        "AND channel = 'sms'",
        {sid}));
    if (!message && !message_param.empty() &&
        message_param.find_first_not_of("0123456789") == std::string::npos &&
        message_param.size() < 19) {
      message = AG_TRY(tx.query_one(
          "SELECT id, shop_id, state, recipient FROM messages WHERE id = ? AND channel = 'sms' "
          "AND (provider_id IS NULL OR provider_id = ?)",
          {static_cast<int64_t>(std::stoll(message_param)), sid}));
      if (message) {
        AG_CHECK(tx.exec("UPDATE messages SET provider_id = ? WHERE id = ? AND provider_id IS NULL",
                         {sid, message->i64(0)}));
      }
    }
    if (!message) return {};  // not ours, or erased: nothing to update
    int64_t id = message->i64(0);
    int64_t shop = message->i64(1);
    AG_CHECK(tx.exec(
        "INSERT INTO message_events (shop_id, message_id, kind, dedupe_key, detail, at_ms) "
        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        {shop, id, status, "sms:" + sid + ":" + status,
         error_code.empty() ? DbValue() : DbValue("error " + error_code), now}));
    auto next = state_for(status);
    if (next && next->second > rank_of(message->text(2))) {
      AG_CHECK(tx.exec("UPDATE messages SET state = ?, error = COALESCE(?, error), "
                       "updated_at_ms = ? WHERE id = ?",
                       {next->first,
                        error_code.empty() ? DbValue() : DbValue("provider error " + error_code),
                        now, id}));
    }
    // A landline or a number that cannot take texts never will.
    if (error_code == "30006" || error_code == "21614") {
      AG_CHECK(suppress_address(tx, shop, AddressChannel::kSms, message->text(3),
                                "invalid_number", now));
    }
    return {};
  });
}

}  // namespace

void mount_sms_webhooks(httplib::Server& server, SmsWebhookServices& services) {
  SmsWebhookServices* s = &services;
  server.Post("/webhooks/sms", [s](const httplib::Request& req, httplib::Response& res) {
    auto form = verified(*s, req, res);
    if (!form) return;
    auto answer = handle_inbound(*s, *form);
    if (!answer) {
      reply_error(res, answer.error());
      return;
    }
    res.set_content(*answer, "text/xml");
  });
  server.Post("/webhooks/sms/status", [s](const httplib::Request& req, httplib::Response& res) {
    auto form = verified(*s, req, res);
    if (!form) return;
    if (auto r = handle_status(*s, *form, req.get_param_value("m")); !r) {
      reply_error(res, r.error());
      return;
    }
    res.set_content(kEmptyTwiml, "text/xml");
  });
}

}  // namespace afterglow::email
