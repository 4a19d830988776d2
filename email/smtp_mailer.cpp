#include "email/smtp_mailer.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <mutex>
#include <utility>
#include <vector>

#include "plugin/core/log.h"

namespace afterglow::email {
namespace {

// Idle connections kept open. More concurrent senders than this still work; their connections
// are closed after use instead of being kept.
constexpr size_t kMaxIdleHandles = 8;
constexpr size_t kMaxDetail = 400;

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct ParsedUrl {
  std::string url;       // without userinfo: what libcurl gets as CURLOPT_URL
  std::string redacted;  // for logs
  std::string user, password, login_options;
  bool implicit_tls = false;
};

std::string url_part(CURLU* u, CURLUPart part, unsigned flags = 0) {
  char* value = nullptr;
  if (curl_url_get(u, part, &value, flags) != CURLUE_OK || value == nullptr) return "";
  std::string out(value);
  curl_free(value);
  return out;
}

Result<ParsedUrl> parse_url(std::string_view text) {
  global_init();
  std::unique_ptr<CURLU, decltype(&curl_url_cleanup)> u(curl_url(), curl_url_cleanup);
  if (!u) return fail(ErrorCode::kInternal, "curl_url failed");
  if (curl_url_set(u.get(), CURLUPART_URL, std::string(text).c_str(), 0) != CURLUE_OK) {
    return fail(ErrorCode::kInvalidArgument, "SMTP_URL is not a valid URL");
  }
  ParsedUrl p;
  std::string scheme = url_part(u.get(), CURLUPART_SCHEME);
  if (scheme != "smtp" && scheme != "smtps") {
    return fail(ErrorCode::kInvalidArgument, "SMTP_URL must be an smtp:// or smtps:// URL");
  }
  p.implicit_tls = scheme == "smtps";
  if (url_part(u.get(), CURLUPART_HOST).empty()) {
    return fail(ErrorCode::kInvalidArgument, "SMTP_URL has no host");
  }
  p.user = url_part(u.get(), CURLUPART_USER, CURLU_URLDECODE);
  p.password = url_part(u.get(), CURLUPART_PASSWORD, CURLU_URLDECODE);
  p.login_options = url_part(u.get(), CURLUPART_OPTIONS, CURLU_URLDECODE);
  curl_url_set(u.get(), CURLUPART_USER, nullptr, 0);
  curl_url_set(u.get(), CURLUPART_PASSWORD, nullptr, 0);
  curl_url_set(u.get(), CURLUPART_OPTIONS, nullptr, 0);
  p.url = url_part(u.get(), CURLUPART_URL);
  if (p.url.empty()) return fail(ErrorCode::kInvalidArgument, "SMTP_URL is not a valid URL");
  p.redacted = p.url;
  if (!p.user.empty() || !p.password.empty() || !p.login_options.empty()) {
    p.redacted.insert(scheme.size() + 3, "***@");
  }
  return p;
}

// What the next reply from the server answers.
enum class Stage {
  kGreeting,
  kEhlo,
  kStartTls,
  kAuth,
  kMailFrom,
  kRcptTo,
  kData,
  kMessage,
  kQuit,
  kOther
};

const char* stage_name(Stage s) {
  switch (s) {
    case Stage::kGreeting:
      return "greeting";
    case Stage::kEhlo:
      return "EHLO";
    case Stage::kStartTls:
      return "STARTTLS";
    case Stage::kAuth:
      return "AUTH";
    case Stage::kMailFrom:
      return "MAIL FROM";
    case Stage::kRcptTo:
      return "RCPT TO";
    case Stage::kData:
      return "DATA";
    case Stage::kMessage:
      return "end of message";
    case Stage::kQuit:
      return "QUIT";
    case Stage::kOther:
      return "command";
  }
  return "command";
}

// One send's view of the conversation, fed by libcurl's read and debug callbacks. Only command
// verbs and the server's replies are kept: the lines after AUTH carry credentials and the message
// itself is ours already.
struct Exchange {
  std::string_view message;
  size_t offset = 0;
  bool handed_over = false;  // libcurl has taken every byte of the message from us
  Stage command = Stage::kGreeting;
  bool in_message = false;  // DATA was answered 354
  std::string pending;      // reply bytes not yet ending in a line break
  std::string reply_text;   // lines so far of a multi-line reply
  int replies = 0;          // complete replies seen (QUIT's excluded)
  int last_code = 0;
  std::string last_text;
  Stage last_stage = Stage::kGreeting;
  bool final_reply = false;           // a reply arrived after the whole message was handed over
  char errbuf[CURL_ERROR_SIZE] = {};  // libcurl's error text (names the host, never userinfo)

  void on_command(std::string_view line) {
    // Lines sent while an AUTH exchange is in progress (the server's last word was 334) are
    // base64 credentials, not commands.
    if (command == Stage::kAuth && last_code == 334) return;
    size_t end = line.find_first_of(" \r\n");
    std::string verb(line.substr(0, end));
    for (char& c : verb) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (verb == "EHLO" || verb == "HELO")
      command = Stage::kEhlo;
    else if (verb == "STARTTLS")
      command = Stage::kStartTls;
    else if (verb == "AUTH")
      command = Stage::kAuth;
    else if (verb == "MAIL")
      command = Stage::kMailFrom;
    else if (verb == "RCPT")
      command = Stage::kRcptTo;
    else if (verb == "DATA")
      command = Stage::kData;
    else if (verb == "QUIT")
      command = Stage::kQuit;
    else if (verb == "RSET" || verb == "NOOP" || verb == "VRFY")
      command = Stage::kOther;
  }

  void on_reply_bytes(std::string_view bytes) {
    pending.append(bytes);
    size_t nl;
    while ((nl = pending.find('\n')) != std::string::npos) {
      std::string line = pending.substr(0, nl);
      pending.erase(0, nl + 1);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      on_reply_line(line);
    }
  }

  void on_reply_line(const std::string& line) {
    if (line.size() < 3 || !std::all_of(line.begin(), line.begin() + 3,
                                        [](unsigned char c) { return std::isdigit(c) != 0; })) {
      return;
    }
    std::string text = line.size() > 4 ? line.substr(4) : "";
    if (!reply_text.empty()) reply_text += ' ';
    reply_text += text;
    if (line.size() > 3 && line[3] == '-') return;  // more lines follow
    int code = std::stoi(line.substr(0, 3));
    std::string full = std::move(reply_text);
    reply_text.clear();
    // A failed transaction makes libcurl close the connection with QUIT; its 221 says nothing
    // about the message.
    if (command == Stage::kQuit) return;
    ++replies;
    last_code = code;
    last_text = std::move(full);
    last_stage = in_message ? Stage::kMessage : command;
    if (command == Stage::kData && code == 354) in_message = true;
    if (handed_over) final_reply = true;
  }
};

size_t read_message(char* buffer, size_t size, size_t nitems, void* userp) {
  auto* x = static_cast<Exchange*>(userp);
  size_t n = std::min(size * nitems, x->message.size() - x->offset);
  std::memcpy(buffer, x->message.data() + x->offset, n);
  x->offset += n;
  if (x->offset == x->message.size()) x->handed_over = true;
  return n;
}

int on_debug(CURL*, curl_infotype type, char* data, size_t size, void* userp) {
  auto* x = static_cast<Exchange*>(userp);
  if (type == CURLINFO_HEADER_OUT) x->on_command(std::string_view(data, size));
  if (type == CURLINFO_HEADER_IN) x->on_reply_bytes(std::string_view(data, size));
  return 0;
}

// "5.1.1" from "5.1.1 Recipient address rejected", or "" when the text has no enhanced code.
std::string enhanced_status(std::string_view text) {
  size_t i = 0;
  auto digits = [&] {
    size_t start = i;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i;
    return i > start && i - start <= 3;
  };
  if (text.empty() || (text[0] != '2' && text[0] != '4' && text[0] != '5')) return "";
  if (!digits() || i >= text.size() || text[i++] != '.') return "";
  if (!digits() || i >= text.size() || text[i++] != '.') return "";
  if (!digits() || (i < text.size() && text[i] != ' ')) return "";
  return std::string(text.substr(0, i));
}

bool envelope_safe(std::string_view address) {
  return std::none_of(address.begin(), address.end(), [](unsigned char c) {
    return c <= ' ' || c == 0x7f || c == '<' || c == '>';
  });
}

bool about_recipient_address(const std::string& enhanced) {
  return enhanced.rfind("5.1.", 0) == 0 && enhanced != "5.1.7" && enhanced != "5.1.8";
}

class SmtpMailer final : public Mailer {
 public:
  SmtpMailer(SmtpOptions options, ParsedUrl url)
      : options_(std::move(options)), url_(std::move(url)) {}

  ~SmtpMailer() override {
    for (CURL* h : idle_) curl_easy_cleanup(h);  // sends QUIT on open connections
  }

  MailResult send(const OutgoingEmail& email) override {
    // A CR or LF would let an address inject SMTP commands; such an address can never work.
    if (!envelope_safe(email.envelope_from) || !envelope_safe(email.recipient) ||
        email.recipient.empty()) {
      return finish({MailOutcome::kRejected, 0, "invalid envelope address", false});
    }
    CURL* h = take();
    if (!h) return {MailOutcome::kRetry, 0, "curl_easy_init failed", false};
    Exchange x;
    CURLcode rc = perform(h, email, &x, false);
    // A command went out but not even a greeting came back: that was a kept connection (a new
    // one starts with the greeting), which the server had closed while it sat idle. No reply
    // means nothing was accepted, so sending again on a new connection cannot duplicate.
    if (rc != CURLE_OK && x.command != Stage::kGreeting && x.replies == 0 && !x.handed_over) {
      log::debug("smtp: kept connection was gone, reconnecting");
      x = Exchange{};
      rc = perform(h, email, &x, true);
    }
    MailResult result = classify(h, rc, x);
    give_back(h);
    return result;
  }

 private:
  CURLcode perform(CURL* h, const OutgoingEmail& email, Exchange* x, bool fresh) {
    // reset keeps the handle's open connection (that is the point of the pool) but drops every
    // option of the previous send.
    curl_easy_reset(h);
    x->message = email.raw_message;
    curl_easy_setopt(h, CURLOPT_URL, url_.url.c_str());
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    if (!url_.user.empty()) curl_easy_setopt(h, CURLOPT_USERNAME, url_.user.c_str());
    if (!url_.password.empty()) curl_easy_setopt(h, CURLOPT_PASSWORD, url_.password.c_str());
    if (!url_.login_options.empty()) {
      curl_easy_setopt(h, CURLOPT_LOGIN_OPTIONS, url_.login_options.c_str());
    }
    // CURLUSESSL_TRY would fall back to plaintext without a word; ALL refuses to go on.
    if (!url_.implicit_tls) {
      curl_easy_setopt(h, CURLOPT_USE_SSL,
                       options_.allow_plaintext ? long{CURLUSESSL_NONE} : long{CURLUSESSL_ALL});
    }
    if (!options_.ca_file.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, options_.ca_file.c_str());
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(options_.connect_timeout.count()));
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.timeout.count()));
    curl_easy_setopt(
        h, CURLOPT_SERVER_RESPONSE_TIMEOUT,
        static_cast<long>(std::max<int64_t>(
            1, std::chrono::duration_cast<std::chrono::seconds>(options_.timeout).count())));
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);  // thread-safe timeouts
    if (fresh) curl_easy_setopt(h, CURLOPT_FRESH_CONNECT, 1L);

    curl_easy_setopt(h, CURLOPT_MAIL_FROM, ("<" + email.envelope_from + ">").c_str());
    curl_slist* rcpt = curl_slist_append(nullptr, ("<" + email.recipient + ">").c_str());
    std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> rcpt_owner(rcpt,
                                                                           curl_slist_free_all);
    curl_easy_setopt(h, CURLOPT_MAIL_RCPT, rcpt);
    curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(h, CURLOPT_READFUNCTION, read_message);
    curl_easy_setopt(h, CURLOPT_READDATA, x);
    curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE,
                     static_cast<curl_off_t>(email.raw_message.size()));  // SIZE= on MAIL FROM
    // The replies' text (enhanced status codes) and which command they answer are only visible
    // through the debug callback, which libcurl calls only in verbose mode.
    curl_easy_setopt(h, CURLOPT_VERBOSE, 1L);
    curl_easy_setopt(h, CURLOPT_DEBUGFUNCTION, on_debug);
    curl_easy_setopt(h, CURLOPT_DEBUGDATA, x);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, x->errbuf);
    CURLcode rc = curl_easy_perform(h);
    // Nothing in the handle may point at this send's data once it returns to the pool.
    curl_easy_setopt(h, CURLOPT_MAIL_RCPT, nullptr);
    curl_easy_setopt(h, CURLOPT_READDATA, nullptr);
    curl_easy_setopt(h, CURLOPT_DEBUGDATA, nullptr);
    curl_easy_setopt(h, CURLOPT_DEBUGFUNCTION, nullptr);
    curl_easy_setopt(h, CURLOPT_VERBOSE, 0L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, nullptr);
    return rc;
  }

  MailResult classify(CURL* h, CURLcode rc, const Exchange& x) const {
    MailResult r;
    const std::string transport_error = x.errbuf[0] ? x.errbuf : curl_easy_strerror(rc);
    int code = x.last_code;
    if (code == 0) {
      long info = 0;
      curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &info);
      code = static_cast<int>(info);
    }
    r.smtp_code = code;
    std::string reply = std::string(stage_name(x.last_stage)) + " answered " +
                        std::to_string(code) + (x.last_text.empty() ? "" : " " + x.last_text);

    if (rc == CURLE_OK) {
      r.outcome = MailOutcome::kSent;
      r.detail = x.last_text;
      return finish(std::move(r));
    }
    if (x.handed_over && !x.final_reply) {
      r.outcome = MailOutcome::kUnknown;
      r.smtp_code = 0;
      r.detail =
          "no reply after the whole message was sent (it may have been delivered; do "
          "not resend): " +
          transport_error;
      return finish(std::move(r));
    }
    r.outcome = MailOutcome::kRetry;
    if (rc == CURLE_USE_SSL_FAILED) {
      r.detail =
          "the server did not offer STARTTLS or refused it, and STARTTLS is required: "
          "nothing was sent in plaintext";
      if (x.last_stage == Stage::kStartTls) r.detail += " (" + reply + ")";
      log::error(
          "smtp: STARTTLS unavailable; mail waits (set SMTP_TLS=none only for a relay "
          "on loopback)",
          {{"url", url_.redacted}, {"code", code}});
      return finish(std::move(r));
    }
    if (rc == CURLE_LOGIN_DENIED) {
      r.detail = "authentication failed; check the credentials in SMTP_URL (" + reply + ")";
      log::error("smtp: authentication failed; mail waits until SMTP_URL is fixed",
                 {{"url", url_.redacted}, {"code", code}});
      return finish(std::move(r));
    }
    bool about_message = x.last_stage == Stage::kMailFrom || x.last_stage == Stage::kRcptTo ||
                         x.last_stage == Stage::kData || x.last_stage == Stage::kMessage;
    if (code >= 500 && code <= 599 && about_message) {
      r.outcome = MailOutcome::kRejected;
      std::string enhanced = enhanced_status(x.last_text);
      if (x.last_stage == Stage::kRcptTo) {
        r.hard_bounce = enhanced.rfind("5.7.", 0) != 0;
      } else if (x.last_stage != Stage::kMailFrom) {
        r.hard_bounce = about_recipient_address(enhanced);
      }
      r.detail = reply;
      return finish(std::move(r));
    }
    if (code >= 400 && code <= 599) {
      // A 4xx anywhere, or a 5xx to the session itself (greeting, EHLO, STARTTLS): not about
      // this message, so it waits.
      r.detail = reply;
      if (code >= 500) {
        log::warn("smtp: the server refused the session",
                  {{"url", url_.redacted}, {"stage", stage_name(x.last_stage)}, {"code", code}});
      }
      return finish(std::move(r));
    }
    r.detail = curl_easy_strerror(rc);
    if (x.errbuf[0]) r.detail += std::string(": ") + x.errbuf;
    if (x.replies > 0) r.detail += " (last: " + reply + ")";
    return finish(std::move(r));
  }

  // Control characters out, length capped, and any credential the server might have echoed
  // masked: the detail is logged and stored.
  MailResult finish(MailResult r) const {
    std::string& d = r.detail;
    for (char& c : d) {
      if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
    }
    auto mask = [&](const std::string& secret) {
      if (secret.size() < 3) return;
      for (size_t at = d.find(secret); at != std::string::npos; at = d.find(secret, at + 3)) {
        d.replace(at, secret.size(), "***");
      }
    };
    mask(url_.password);
    mask(url_.user);
    if (d.size() > kMaxDetail) {
      size_t cut = kMaxDetail - 3;
      while (cut > 0 && (static_cast<unsigned char>(d[cut]) & 0xC0) == 0x80) --cut;  // UTF-8
      d = d.substr(0, cut) + "...";
    }
    return r;
  }

  CURL* take() {
    {
      std::lock_guard lock(mutex_);
      if (!idle_.empty()) {
        CURL* h = idle_.back();
        idle_.pop_back();
        return h;
      }
    }
    return curl_easy_init();
  }

  void give_back(CURL* h) {
    {
      std::lock_guard lock(mutex_);
      if (idle_.size() < kMaxIdleHandles) {
        idle_.push_back(h);
        return;
      }
    }
    curl_easy_cleanup(h);
  }

  const SmtpOptions options_;
  const ParsedUrl url_;
  std::mutex mutex_;
  std::vector<CURL*> idle_;  // GUARDED_BY(mutex_)
};

}  // namespace

Result<SmtpOptions> smtp_options_from_config(const Config& config) {
  if (config.smtp_url.empty()) {
    return fail(ErrorCode::kInvalidArgument, "SMTP_URL is not set: the email channel is off");
  }
  if (config.mail_from_address.empty()) {
    return fail(ErrorCode::kInvalidArgument, "MAIL_FROM is required when SMTP_URL is set");
  }
  SmtpOptions o;
  o.url = config.smtp_url;
  o.allow_plaintext = config.smtp_tls == "none";
  o.ca_file = config.smtp_ca_file;
  o.timeout = std::chrono::seconds(config.smtp_timeout_seconds);
  o.connect_timeout = std::min(o.connect_timeout, o.timeout);
  return o;
}

std::string redact_smtp_url(std::string_view url) {
  auto parsed = parse_url(url);
  return parsed ? parsed->redacted : "<invalid SMTP URL>";
}

Result<std::unique_ptr<Mailer>> make_smtp_mailer(SmtpOptions options) {
  global_init();
  ParsedUrl url = AG_TRY(parse_url(options.url));
  if (url.implicit_tls && options.allow_plaintext) {
    return fail(ErrorCode::kInvalidArgument,
                "SMTP_TLS=none contradicts an smtps:// SMTP_URL (implicit TLS)");
  }
  if (options.allow_plaintext) {
    log::warn(
        "smtp: SMTP_TLS=none, mail and credentials travel in plaintext (only for a relay "
        "on loopback or tests)",
        {{"url", url.redacted}});
  }
  log::info("smtp: email channel configured", {{"url", url.redacted},
                                               {"tls", url.implicit_tls          ? "implicit"
                                                       : options.allow_plaintext ? "none"
                                                                                 : "starttls"}});
  return std::unique_ptr<Mailer>(new SmtpMailer(std::move(options), std::move(url)));
}

}  // namespace afterglow::email
