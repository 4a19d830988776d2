// The sequences through the real binary: a signed orders/paid webhook enrols the customer, the
// worker sends the step to a real SMTP server on loopback, the message is checked as a mailbox
// provider would read it (MIME parsed), its tracked link redirects only where it was rendered to,
// and the RFC 8058 one-click POST unsubscribes for every later step.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>
#include <regex>

#include "email/consent.h"
#include "email/flow_store.h"
#include "email/mime_parse.h"
#include "plugin/core/shop_settings.h"
#include "tests/support/sandbox.h"
#include "tests/support/shopify_payloads.h"
#include "tests/support/smtp_server.h"
#include "tests/support/test_db.h"

using namespace afterglow;
using namespace afterglow::testing;
using nlohmann::json;

namespace {

constexpr const char* kShop = "glow-shop.myshopify.com";
constexpr const char* kAppUrl = "https://afterglow.test";

void write(Db& db, const std::function<Result<void>(Tx&)>& fn) {
  auto r = db.write(fn);
  INFO((r ? "" : r.error().message));
  REQUIRE(r);
}

// A shop with its sender and address, a live flow that writes at once, and a customer who
// subscribed to email.
void seed(Db& db, const std::string& email) {
  int64_t shop = seed_installed_shop(db, kShop);
  ShopSettings s;
  s.sender_name = "Glow Shop";
  s.sender_email = "hello@glow.example";
  s.reply_to = "help@glow.example";
  s.postal_address = "1 Market Street, Springfield, IL 62701";
  auto flow = email::flow_from_json(
      {{"name", "Thanks"},
       {"status", "live"},
       {"trigger", "order_paid"},
       {"reentry_cooldown_hours", 0},
       {"steps",
        {{{"type", "send_email"},
          {"subject", "Thanks for order {{order_name}}"},
          {"body", "<p>Hi {{first_name|there}}, read <a href=\"https://glow.example/guide\">our "
                   "care guide</a>.</p>"}}}},
       {"exit_conditions", {"unsubscribed"}}});
  REQUIRE(flow);
  email::ConsentChange c;
  c.channel = AddressChannel::kEmail;
  c.address = email;
  c.state = email::ConsentState::kSubscribed;
  c.source = "admin";
  write(db, [&](Tx& tx) -> Result<void> {
    AG_CHECK(save_shop_settings(tx, shop, s));
    AG_CHECK(email::insert_flow(tx, shop, *flow, 1));
    AG_CHECK(email::record_consent(tx, shop, c, 1));
    return {};
  });
}

ShopifyDelivery paid(const OrderPayload& o, const std::string& id) {
  ShopifyDelivery d;
  d.topic = "orders/paid";
  d.shop_domain = kShop;
  d.webhook_id = id;
  d.body = order_json(o);
  return d;
}

std::string part(const email::ParsedEntity& m, const std::string& type) {
  for (const email::ParsedEntity& p : m.parts) {
    if (p.content_type() == type) {
      auto body = email::decode_body(p);
      REQUIRE(body);
      return *body;
    }
  }
  FAIL("no " << type << " part");
  return "";
}

// "/t/c/…" from "https://afterglow.test/t/c/…".
std::string path_of(const std::string& url) {
  REQUIRE(url.starts_with(kAppUrl));
  return url.substr(std::string(kAppUrl).size());
}

}  // namespace

TEST_CASE("an order paid webhook ends as one email on a real SMTP server, unsubscribed in one "
          "click",
          "[sequence]") {
  SmtpServer smtp;
  RunningApp app({{"SMTP_URL", smtp.url()},
                  {"SMTP_TLS", "none"},
                  {"MAIL_FROM", "bounces@afterglow.test"},
                  {"APP_URL", kAppUrl}});
  OrderPayload order;
  seed(app.db(), order.email);

  auto res = app.post_shopify(paid(order, "wh-1"));
  REQUIRE(res.status == 200);
  auto replay = app.post_shopify(paid(order, "wh-1b"));  // the same order, delivered twice
  REQUIRE(replay.status == 200);
  app.drain();  // processes the webhooks (enrolment) and runs the due step
  REQUIRE(smtp.wait_for_messages(1, std::chrono::seconds(10)));
  app.drain();
  REQUIRE(smtp.messages().size() == 1);

  auto received = smtp.received();
  CHECK(received[0].from == "bounces@afterglow.test");
  CHECK(received[0].to == std::vector<std::string>{order.email});
  auto parsed = email::parse_mime(received[0].raw);
  INFO((parsed ? "" : parsed.error().message));
  REQUIRE(parsed);
  const email::ParsedEntity& m = *parsed;
  CHECK(m.header("Subject") == "Thanks for order #1001");
  CHECK(m.header("From").find("hello@glow.example") != std::string::npos);
  CHECK(m.header("Reply-To") == "help@glow.example");
  CHECK(std::regex_match(m.header("Message-ID"), std::regex("<m[0-9]+\\.[0-9a-f]+@glow\\.example>")));
  CHECK_FALSE(m.header("Date").empty());
  CHECK(m.content_type() == "multipart/alternative");
  CHECK(m.header("List-Unsubscribe-Post") == "List-Unsubscribe=One-Click");
  std::string lu = m.find("List-Unsubscribe")->raw;
  CHECK(lu.find("\r\n") == std::string::npos);
  std::smatch unsub;
  REQUIRE(std::regex_search(lu, unsub, std::regex("<(https://afterglow\\.test/u/[A-Za-z0-9_-]+)>")));

  std::string text = part(m, "text/plain");
  std::string html = part(m, "text/html");
  CHECK(html.find("1 Market Street, Springfield, IL 62701") != std::string::npos);
  CHECK(text.find("1 Market Street, Springfield, IL 62701") != std::string::npos);
  CHECK(html.find(unsub[1].str()) != std::string::npos);  // the visible unsubscribe link
  CHECK(html.find("https://glow.example/guide") == std::string::npos);  // tracked, not direct
  std::smatch click;
  REQUIRE(std::regex_search(html, click, std::regex("https://afterglow\\.test/t/c/[A-Za-z0-9_-]+")));

  // The click redirects to the URL recorded when the message was rendered, and nowhere else.
  auto go = app.http().get(path_of(click[0].str()));
  CHECK(go.status == 302);
  CHECK(go.header("Location") == "https://glow.example/guide");
  std::string forged = path_of(click[0].str());
  forged.back() = forged.back() == 'A' ? 'B' : 'A';
  CHECK(app.http().get(forged).status == 404);

  // A GET shows the page and changes nothing (link scanners fetch GETs).
  auto page = app.http().get(path_of(unsub[1].str()));
  CHECK(page.status == 200);
  CHECK(query_int(app.db(), "SELECT COUNT(*) FROM suppressions") == 0);

  // RFC 8058 §3.2: the receiver's POST, no cookie, no auth, exactly this body.
  auto one_click = app.http().post(path_of(unsub[1].str()), "List-Unsubscribe=One-Click",
                                   {{"Content-Type", "application/x-www-form-urlencoded"}});
  CHECK(one_click.status == 200);
  CHECK_FALSE(one_click.has_header("Location"));
  CHECK(query_int(app.db(),
                  "SELECT COUNT(*) FROM consents WHERE channel = 'email' AND address = ? "
                  "AND state = 'unsubscribed'",
                  {order.email}) == 1);
  CHECK(query_int(app.db(), "SELECT COUNT(*) FROM suppressions WHERE reason = 'unsubscribe'") == 1);

  // The next order enrols again (no cooldown), but nothing more is sent.
  OrderPayload second = order;
  second.id += 1;
  second.name = "#1002";
  second.line_item_id += 1;
  REQUIRE(app.post_shopify(paid(second, "wh-2")).status == 200);
  app.drain();
  app.drain();
  CHECK(smtp.messages().size() == 1);
  CHECK(query_int(app.db(), "SELECT COUNT(*) FROM send_log WHERE outcome IN ('skipped', "
                            "'exited') AND reason IN ('suppressed', 'no_consent', "
                            "'exit_unsubscribed')") == 1);
}
