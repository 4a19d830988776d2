// The tracking and unsubscribe routes over real loopback HTTP: clicks go only where the message
// said, opens are classified, GET never changes anything, and RFC 8058's one-click POST
// unsubscribes at once.
#include "email/tracking_routes.h"

#include <httplib.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "email/consent.h"
#include "email/tracking_token.h"
#include "plugin/core/migrations.h"
#include "plugin/core/shop_settings.h"
#include "tests/support/test_backend.h"
#include "tests/support/test_db.h"

using namespace afterglow;
using namespace afterglow::email;
using afterglow::testing::exec_sql;
using afterglow::testing::query_int;
using afterglow::testing::query_row;

namespace {

// INSERT … RETURNING id, in a write transaction (query_int reads).
int64_t insert_id(Db& db, std::string_view sql, const Params& params) {
  int64_t id = 0;
  auto r = db.write([&](Tx& tx) -> Result<void> {
    auto rows = AG_TRY(tx.query(sql, params));
    if (rows.empty()) return fail(ErrorCode::kInternal, "no id returned");
    id = rows[0].i64(0);
    return {};
  });
  INFO((r ? "" : r.error().message));
  REQUIRE(r);
  return id;
}

constexpr int64_t kSentAt = 1'745'000'000'000;
constexpr int64_t kHour = 3'600'000;
const std::string kKey = tracking_key("test app secret");
const char* kBrowser =
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Version/17.4 Mobile/15E148 Safari/604.1";

struct Fixture {
  testing::TestDatabase tdb;
  std::unique_ptr<Db> db = tdb.open();
  ManualClock clock{kSentAt + kHour};
  TrackingServices services;
  httplib::Server server;
  std::thread thread;
  int port = 0;
  int64_t shop = 0;
  int64_t next_step_run = 1;

  // trust_forwarded_for: as on the plain-HTTP listener behind our TLS proxy.
  explicit Fixture(bool trust_forwarded_for = false)
      : services{*db, clock, {kKey}, "", trust_forwarded_for} {
    REQUIRE(migrate(*db));
    shop = testing::seed_installed_shop(*db, "glow-store.myshopify.com");
    mount_tracking_routes(server, services);
    port = server.bind_to_any_port("127.0.0.1");
    REQUIRE(port > 0);
    thread = std::thread([this] { server.listen_after_bind(); });
    // stop() is a no-op until the accept loop runs: wait for it, bounded.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!server.is_running() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::yield();
    }
    REQUIRE(server.is_running());
  }
  ~Fixture() {
    server.stop();
    thread.join();
  }

  httplib::Client client() const {
    httplib::Client c("127.0.0.1", port);
    c.set_connection_timeout(5);
    c.set_read_timeout(5);
    return c;
  }

  int64_t message(const std::string& channel, const std::string& recipient,
                  const std::string& links = "[]", int64_t enrolment_id = 0) {
    return insert_id(
        *db,
        "INSERT INTO messages (shop_id, step_run_id, enrolment_id, flow_id, step_id, customer_id, "
        "person_key, channel, recipient, state, links, created_at_ms, sent_at_ms, updated_at_ms) "
        "VALUES (?, ?, ?, 1, 'email_1', 501, 'customer:501', ?, ?, 'sent', ?, ?, ?, ?) "
        "RETURNING id",
        {shop, next_step_run++, enrolment_id, channel, recipient, links, kSentAt - 1000, kSentAt,
         kSentAt});
  }

  std::string token(TrackingKind kind, int64_t message_id, int index = 0) const {
    return make_tracking_token(kKey, {kind, message_id, index});
  }

  int64_t events(int64_t message_id, const std::string& kind, int machine = -1) {
    if (machine < 0) {
      return query_int(*db, "SELECT COUNT(*) FROM message_events WHERE message_id = ? AND kind = ?",
                       {message_id, kind});
    }
    return query_int(*db,
                     "SELECT COUNT(*) FROM message_events WHERE message_id = ? AND kind = ? AND "
                     "machine = ?",
                     {message_id, kind, int64_t{machine}});
  }

  int64_t count(const std::string& table) {
    return query_int(*db, "SELECT COUNT(*) FROM " + table);
  }

  std::optional<ConsentRecord> consent(AddressChannel channel, const std::string& address) {
    std::optional<ConsentRecord> out;
    REQUIRE(db->read([&](Tx& tx) -> Result<void> {
      out = AG_TRY(find_consent(tx, shop, channel, address));
      return {};
    }));
    return out;
  }

  std::optional<std::string> suppression(AddressChannel channel, const std::string& address) {
    std::optional<std::string> out;
    REQUIRE(db->read([&](Tx& tx) -> Result<void> {
      out = AG_TRY(suppression_reason(tx, shop, channel, address));
      return {};
    }));
    return out;
  }

  void write(const std::function<Result<void>(Tx&)>& fn) {
    auto r = db->write(fn);
    INFO((r ? "" : r.error().message));
    REQUIRE(r);
  }
};

httplib::Headers browser() { return {{"User-Agent", kBrowser}}; }

Result<void> done(const Result<bool>& r) {
  if (!r) return std::unexpected(r.error());
  return {};
}

}  // namespace

// ---- clicks ---------------------------------------------------------------------------------

TEST_CASE("a click redirects to the recorded link and records a human click", "[tracking][db]") {
  Fixture f;
  int64_t m = f.message("email", "jane@example.com",
                        R"(["https://glow.example/products/1?utm_source=afterglow",
                            "http://glow.example/b"])");
  auto c = f.client();
  // A destination offered in the request is ignored: the link comes from the message.
  auto res =
      c.Get(("/t/c/" + f.token(TrackingKind::kClick, m, 1) + "?url=https%3A%2F%2Fevil.example%2F")
                .c_str(),
            browser());
  REQUIRE(res);
  CHECK(res->status == 302);
  CHECK(res->get_header_value("Location") == "http://glow.example/b");
  CHECK(res->get_header_value("Cache-Control") == "no-store");
  res = c.Get(("/t/c/" + f.token(TrackingKind::kClick, m, 0)).c_str(), browser());
  REQUIRE(res);
  CHECK(res->status == 302);
  CHECK(res->get_header_value("Location") ==
        "https://glow.example/products/1?utm_source=afterglow");
  CHECK(f.events(m, "click", 0) == 2);
  auto row = query_row(*f.db,
                       "SELECT link_index, shop_id, at_ms FROM message_events WHERE message_id = ? "
                       "ORDER BY id LIMIT 1",
                       {m});
  REQUIRE(row);
  CHECK(row->i64(0) == 1);
  CHECK(row->i64(1) == f.shop);
  CHECK(row->i64(2) == kSentAt + kHour);
}

TEST_CASE("a tampered or foreign click token 404s without a redirect", "[tracking][db]") {
  Fixture f;
  int64_t m = f.message("email", "jane@example.com", R"(["https://glow.example/"])");
  std::string good = f.token(TrackingKind::kClick, m, 0);
  std::string tampered = good;
  tampered[3] = tampered[3] == 'A' ? 'B' : 'A';
  auto c = f.client();
  for (const std::string& t :
       {tampered, make_tracking_token(tracking_key("other secret"), {TrackingKind::kClick, m, 0}),
        f.token(TrackingKind::kOpen, m), f.token(TrackingKind::kClick, m + 1000, 0),
        std::string("garbage")}) {
    auto res = c.Get(("/t/c/" + t).c_str(), browser());
    REQUIRE(res);
    CHECK(res->status == 404);
    CHECK_FALSE(res->has_header("Location"));
    CHECK(res->get_header_value("Content-Type").starts_with("text/html"));
  }
  CHECK(f.events(m, "click") == 0);
}

TEST_CASE("a link index beyond the message's links 404s", "[tracking][db]") {
  Fixture f;
  int64_t m = f.message("email", "jane@example.com",
                        R"(["https://glow.example/a", "https://glow.example/b"])");
  auto res = f.client().Get(("/t/c/" + f.token(TrackingKind::kClick, m, 5)).c_str(), browser());
  REQUIRE(res);
  CHECK(res->status == 404);
  CHECK_FALSE(res->has_header("Location"));
  CHECK(f.events(m, "click") == 0);
}

TEST_CASE("a stored link that is not an absolute http or https URL is refused", "[tracking][db]") {
  Fixture f;
  int64_t m = f.message("email", "jane@example.com",
                        R"json(["javascript:alert(document.cookie)", "data:text/html,hi",
                            "//evil.example/", "https://", "https:///path", "/relative",
                            "https://glow.example/\r\nSet-Cookie: a=b", 7,
                            "HTTPS://GLOW.EXAMPLE/ok"])json");
  auto c = f.client();
  for (int i = 0; i < 8; ++i) {
    auto res = c.Get(("/t/c/" + f.token(TrackingKind::kClick, m, i)).c_str(), browser());
    REQUIRE(res);
    INFO("link " << i);
    CHECK(res->status == 404);
    CHECK_FALSE(res->has_header("Location"));
  }
  CHECK(f.events(m, "click") == 0);
  auto ok = c.Get(("/t/c/" + f.token(TrackingKind::kClick, m, 8)).c_str(), browser());
  REQUIRE(ok);
  CHECK(ok->status == 302);
  CHECK(ok->get_header_value("Location") == "HTTPS://GLOW.EXAMPLE/ok");
}

TEST_CASE("clicks from scanners or right after the send are machine clicks", "[tracking][db]") {
  Fixture f;
  int64_t m = f.message("email", "jane@example.com", R"(["https://glow.example/"])");
  std::string path = "/t/c/" + f.token(TrackingKind::kClick, m, 0);
  auto c = f.client();

  f.clock.set_ms(kSentAt + 3'000);  // a gateway following links on arrival
  auto res = c.Get(path.c_str(), browser());
  REQUIRE(res);
  CHECK(res->status == 302);  // the redirect still works
  CHECK(f.events(m, "click", 1) == 1);

  f.clock.set_ms(kSentAt + 2 * kHour);
  res = c.Get(path.c_str(), {{"User-Agent", "Mozilla/5.0 (compatible; Barracuda Sentinel)"}});
  REQUIRE(res);
  CHECK(f.events(m, "click", 1) == 2);
  res = c.Get(path.c_str(), {{"User-Agent", "python-requests/2.31"}});
  REQUIRE(res);
  CHECK(f.events(m, "click", 1) == 3);

  CHECK(f.events(m, "click", 0) == 0);
  res = c.Get(path.c_str(), browser());
  REQUIRE(res);
  CHECK(f.events(m, "click", 0) == 1);
}

// ---- opens ----------------------------------------------------------------------------------

TEST_CASE("the open pixel is a no-store transparent GIF for any token", "[tracking][db]") {
  Fixture f;
  int64_t m = f.message("email", "jane@example.com");
  auto c = f.client();
  for (const std::string& path :
       {"/t/o/" + f.token(TrackingKind::kOpen, m) + ".gif",
        "/t/o/" + f.token(TrackingKind::kOpen, m), std::string("/t/o/forged.gif"),
        "/t/o/" + f.token(TrackingKind::kClick, m, 0) + ".gif"}) {
    auto res = c.Get(path.c_str(), browser());
    REQUIRE(res);
    CHECK(res->status == 200);
    CHECK(res->get_header_value("Content-Type") == "image/gif");
    CHECK(res->get_header_value("Cache-Control") == "no-store");
    CHECK(res->body.size() == 43);
    CHECK(res->body.starts_with("GIF89a"));
  }
  // Only the two genuine open tokens were recorded, as human opens.
  CHECK(f.events(m, "open") == 2);
  CHECK(f.events(m, "open", 0) == 2);
}

TEST_CASE("a forwarded address is ignored unless the server is behind our proxy",
          "[tracking][db]") {
  Fixture f;
  int64_t m = f.message("email", "jane@example.com");
  auto res = f.client().Get(("/t/o/" + f.token(TrackingKind::kOpen, m) + ".gif").c_str(),
                            {{"User-Agent", kBrowser}, {"X-Forwarded-For", "17.58.1.2"}});
  REQUIRE(res);
  CHECK(f.events(m, "open", 0) == 1);
}

TEST_CASE("opens through Apple's proxies and right after the send are machine opens",
          "[tracking][db]") {
  Fixture f(/*trust_forwarded_for=*/true);
  int64_t m = f.message("email", "jane@example.com");
  std::string path = "/t/o/" + f.token(TrackingKind::kOpen, m) + ".gif";
  auto c = f.client();

  // Our proxy appends the client it saw last; here one in Apple's 17.0.0.0/8.
  auto res = c.Get(path.c_str(),
                   {{"User-Agent", kBrowser}, {"X-Forwarded-For", "203.0.113.9, 17.58.1.2"}});
  REQUIRE(res);
  CHECK(f.events(m, "open", 1) == 1);
  res = c.Get(path.c_str(), {{"User-Agent", kBrowser}, {"X-Forwarded-For", "::ffff:17.1.2.3"}});
  REQUIRE(res);
  CHECK(f.events(m, "open", 1) == 2);
  res = c.Get(path.c_str(),
              {{"User-Agent", kBrowser}, {"X-Forwarded-For", "17.58.1.2, 198.51.100.7"}});
  REQUIRE(res);
  CHECK(f.events(m, "open", 0) == 1);
  // Without the header, the peer's own address (loopback here) is the client.
  res = c.Get(path.c_str(), browser());
  REQUIRE(res);
  CHECK(f.events(m, "open", 0) == 2);

  // MPP's bare user agent.
  res = c.Get(path.c_str(), {{"User-Agent", "Mozilla/5.0"}});
  REQUIRE(res);
  CHECK(f.events(m, "open", 1) == 3);

  // Google's proxy right after the send is a prefetch; later it is a person opening the mail.
  const char* google =
      "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com "
      "GoogleImageProxy)";
  f.clock.set_ms(kSentAt + 20'000);
  res = c.Get(path.c_str(), {{"User-Agent", google}});
  REQUIRE(res);
  CHECK(f.events(m, "open", 1) == 4);
  f.clock.set_ms(kSentAt + kHour);
  res = c.Get(path.c_str(), {{"User-Agent", google}});
  REQUIRE(res);
  CHECK(f.events(m, "open", 0) == 3);

  // Any fetch within 2 s of the send.
  f.clock.set_ms(kSentAt + 1'500);
  res = c.Get(path.c_str(), browser());
  REQUIRE(res);
  CHECK(f.events(m, "open", 1) == 5);
}

// ---- the preference centre ------------------------------------------------------------------

TEST_CASE("GET on the unsubscribe link shows the page and changes nothing", "[tracking][db]") {
  Fixture f;
  f.write([&](Tx& tx) -> Result<void> {
    ShopSettings s = AG_TRY(load_shop_settings(tx, f.shop));
    s.brand_name = "<Glow & Co>";
    return save_shop_settings(tx, f.shop, s);
  });
  int64_t m = f.message("email", "jane.doe@example.com");
  auto res = f.client().Get(("/u/" + f.token(TrackingKind::kUnsubscribe, m)).c_str(), browser());
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(res->get_header_value("Content-Type").starts_with("text/html"));
  CHECK(res->get_header_value("Cache-Control") == "no-store");
  CHECK(res->body.find("&lt;Glow &amp; Co&gt;") != std::string::npos);
  CHECK(res->body.find("<Glow") == std::string::npos);
  CHECK(res->body.find("j***@example.com") != std::string::npos);
  CHECK(res->body.find("jane.doe@example.com") == std::string::npos);
  CHECK(res->body.find("name=\"action\" value=\"unsubscribe\"") != std::string::npos);
  CHECK(res->body.find("name=\"email_frequency\" value=\"weekly\"") != std::string::npos);
  CHECK(res->body.find("<script") == std::string::npos);
  CHECK(res->body.find("<form method=\"post\"") != std::string::npos);
  CHECK(f.count("consents") == 0);
  CHECK(f.count("consent_events") == 0);
  CHECK(f.count("suppressions") == 0);
  CHECK(f.count("message_events") == 0);

  auto bad = f.client().Get(("/u/" + f.token(TrackingKind::kClick, m, 0)).c_str());
  REQUIRE(bad);
  CHECK(bad->status == 404);
}

TEST_CASE("RFC 8058 one-click POST unsubscribes at once and repeats change nothing",
          "[tracking][db]") {
  Fixture f;
  int64_t m = f.message("email", "jane@example.com");
  std::string path = "/u/" + f.token(TrackingKind::kUnsubscribe, m);
  const std::string body = "List-Unsubscribe=One-Click";
  REQUIRE(body.size() == 26);  // Content-Length: 26, as in Gmail's documented request
  auto c = f.client();
  auto res = c.Post(path.c_str(), body, "application/x-www-form-urlencoded");
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK_FALSE(res->has_header("Location"));
  CHECK(res->body == "Unsubscribed");
  CHECK(res->get_header_value("Content-Type").starts_with("text/plain"));

  auto consent = f.consent(AddressChannel::kEmail, "jane@example.com");
  REQUIRE(consent);
  CHECK(consent->state == ConsentState::kUnsubscribed);
  CHECK(consent->source == "unsubscribe_link");
  CHECK(consent->customer_id == 501);
  CHECK(f.suppression(AddressChannel::kEmail, "jane@example.com") == "unsubscribe");
  CHECK(f.events(m, "unsubscribe") == 1);
  int64_t evidence = f.count("consent_events");
  CHECK(evidence == 1);

  res = c.Post(path.c_str(), body, "application/x-www-form-urlencoded");
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(res->body == "Unsubscribed");
  CHECK(f.count("consent_events") == evidence);
  CHECK(f.events(m, "unsubscribe") == 1);
  CHECK(f.count("suppressions") == 1);
}

TEST_CASE("one-click works as multipart/form-data too", "[tracking][db]") {
  Fixture f;
  int64_t m = f.message("email", "sam@example.com");
  httplib::MultipartFormDataItems items = {{"List-Unsubscribe", "One-Click", "", ""}};
  auto res = f.client().Post(("/u/" + f.token(TrackingKind::kUnsubscribe, m)).c_str(), items);
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK_FALSE(res->has_header("Location"));
  auto consent = f.consent(AddressChannel::kEmail, "sam@example.com");
  REQUIRE(consent);
  CHECK(consent->state == ConsentState::kUnsubscribed);
  CHECK(f.suppression(AddressChannel::kEmail, "sam@example.com") == "unsubscribe");
}

TEST_CASE("unsubscribe POSTs with a bad token, a malformed or an oversized body are refused",
          "[tracking][db]") {
  Fixture f;
  int64_t m = f.message("email", "jane@example.com");
  std::string path = "/u/" + f.token(TrackingKind::kUnsubscribe, m);
  auto c = f.client();

  auto res = c.Post(("/u/" + f.token(TrackingKind::kOpen, m)).c_str(), "List-Unsubscribe=One-Click",
                    "application/x-www-form-urlencoded");
  REQUIRE(res);
  CHECK(res->status == 404);

  for (auto [body, type] : {std::pair<std::string, std::string>{
                                "List-Unsubscribe=Two-Clicks", "application/x-www-form-urlencoded"},
                            {"hello=world", "application/x-www-form-urlencoded"},
                            {"List-Unsubscribe=%zz", "application/x-www-form-urlencoded"},
                            {"List-Unsubscribe=One-Click", "text/plain"},
                            {R"({"List-Unsubscribe":"One-Click"})", "application/json"}}) {
    res = c.Post(path.c_str(), body, type.c_str());
    REQUIRE(res);
    INFO(body << " as " << type);
    CHECK(res->status == 400);
    CHECK(res->get_header_value("Content-Type") == "application/json");
    auto j = nlohmann::json::parse(res->body, nullptr, false);
    CHECK(j["error"]["code"] == "invalid_argument");
  }

  res = c.Post(path.c_str(), "List-Unsubscribe=One-Click&pad=" + std::string(5000, 'x'),
               "application/x-www-form-urlencoded");
  REQUIRE(res);
  CHECK(res->status == 413);
  CHECK(f.count("consents") == 0);
  CHECK(f.count("suppressions") == 0);
}

TEST_CASE("the preferences form sets a weekly email frequency", "[tracking][db]") {
  Fixture f;
  int64_t m = f.message("email", "jane@example.com");
  std::string path = "/u/" + f.token(TrackingKind::kUnsubscribe, m);
  auto c = f.client();
  auto res = c.Post(path.c_str(), "action=preferences&email=subscribed&email_frequency=weekly",
                    "application/x-www-form-urlencoded");
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(res->get_header_value("Content-Type").starts_with("text/html"));
  CHECK(res->body.find("value=\"weekly\" checked") != std::string::npos);
  auto consent = f.consent(AddressChannel::kEmail, "jane@example.com");
  REQUIRE(consent);
  CHECK(consent->frequency == "weekly");
  // Choosing a frequency is not consent: nobody was subscribed or unsubscribed by it.
  CHECK(consent->state == ConsentState::kNotSubscribed);
  CHECK(f.count("suppressions") == 0);

  // A subscriber keeps their consent and changes only the frequency.
  int64_t m2 = f.message("email", "lee@example.com");
  f.write([&](Tx& tx) -> Result<void> {
    ConsentChange change;
    change.address = "lee@example.com";
    change.state = ConsentState::kSubscribed;
    change.source = "shopify_customer";
    return done(record_consent(tx, f.shop, change, kSentAt));
  });
  res = c.Post(("/u/" + f.token(TrackingKind::kUnsubscribe, m2)).c_str(),
               "action=preferences&email=subscribed&email_frequency=monthly",
               "application/x-www-form-urlencoded");
  REQUIRE(res);
  CHECK(res->status == 200);
  consent = f.consent(AddressChannel::kEmail, "lee@example.com");
  REQUIRE(consent);
  CHECK(consent->state == ConsentState::kSubscribed);
  CHECK(consent->source == "shopify_customer");
  CHECK(consent->frequency == "monthly");

  res = c.Post(path.c_str(), "action=preferences&email_frequency=hourly",
               "application/x-www-form-urlencoded");
  REQUIRE(res);
  CHECK(res->status == 400);
}

TEST_CASE("subscribe again lifts an unsubscribe but not a hard bounce", "[tracking][db]") {
  Fixture f;
  int64_t m = f.message("email", "jane@example.com");
  std::string path = "/u/" + f.token(TrackingKind::kUnsubscribe, m);
  auto c = f.client();
  auto res = c.Post(path.c_str(), "action=unsubscribe", "application/x-www-form-urlencoded");
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(res->body.find("value=\"resubscribe\"") != std::string::npos);
  CHECK(f.suppression(AddressChannel::kEmail, "jane@example.com") == "unsubscribe");

  res = c.Post(path.c_str(), "action=resubscribe", "application/x-www-form-urlencoded");
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(res->body.find("value=\"unsubscribe\"") != std::string::npos);
  CHECK_FALSE(f.suppression(AddressChannel::kEmail, "jane@example.com"));
  auto consent = f.consent(AddressChannel::kEmail, "jane@example.com");
  REQUIRE(consent);
  CHECK(consent->state == ConsentState::kSubscribed);
  CHECK(consent->source == "preference_centre");

  int64_t bounced = f.message("email", "gone@example.com");
  f.write([&](Tx& tx) -> Result<void> {
    ConsentChange change;
    change.address = "gone@example.com";
    change.state = ConsentState::kUnsubscribed;
    change.source = "admin";
    AG_CHECK(record_consent(tx, f.shop, change, kSentAt));
    AG_CHECK(lift_suppression(tx, f.shop, AddressChannel::kEmail, "gone@example.com"));
    return suppress_address(tx, f.shop, AddressChannel::kEmail, "gone@example.com", "hard_bounce",
                            kSentAt);
  });
  res = c.Post(("/u/" + f.token(TrackingKind::kUnsubscribe, bounced)).c_str(), "action=resubscribe",
               "application/x-www-form-urlencoded");
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(res->body.find("could not be delivered") != std::string::npos);
  CHECK(f.suppression(AddressChannel::kEmail, "gone@example.com") == "hard_bounce");
}

TEST_CASE("the preference centre withdraws SMS but leaves re-subscribing to START",
          "[tracking][db]") {
  Fixture f;
  int64_t flow = insert_id(
      *f.db,
      "INSERT INTO flows (shop_id, name, status, trigger_kind, trigger_filters, steps, "
      "exit_conditions, reentry_cooldown_hours, created_at_ms, updated_at_ms) "
      "VALUES (?, 'Thanks', 'live', 'order_paid', '[]', '[]', '[]', 720, ?, ?) RETURNING id",
      {f.shop, kSentAt, kSentAt});
  int64_t enrolment = insert_id(
      *f.db,
      "INSERT INTO enrolments (shop_id, flow_id, flow_version, enrolment_key, person_key, "
      "customer_id, email, phone, trigger_kind, trigger_data, state, entered_at_ms) "
      "VALUES (?, ?, 1, 'order:1', 'customer:501', 501, 'jane@example.com', '+15555551234', "
      "'order_paid', '{}', 'active', ?) RETURNING id",
      {f.shop, flow, kSentAt});
  f.write([&](Tx& tx) -> Result<void> {
    ConsentChange change;
    change.channel = AddressChannel::kSms;
    change.address = "+15555551234";
    change.state = ConsentState::kSubscribed;
    change.source = "shopify_customer";
    change.wording = "Reply STOP to opt out";
    return done(record_consent(tx, f.shop, change, kSentAt));
  });
  int64_t m = f.message("email", "jane@example.com", "[]", enrolment);
  std::string path = "/u/" + f.token(TrackingKind::kUnsubscribe, m);
  auto c = f.client();
  auto page = c.Get(path.c_str());
  REQUIRE(page);
  CHECK(page->body.find("Text messages") != std::string::npos);
  CHECK(page->body.find("***1234") != std::string::npos);
  CHECK(page->body.find("5555551234") == std::string::npos);

  auto res = c.Post(path.c_str(), "action=preferences&email=subscribed&sms=unsubscribed",
                    "application/x-www-form-urlencoded");
  REQUIRE(res);
  CHECK(res->status == 200);
  auto sms = f.consent(AddressChannel::kSms, "+15555551234");
  REQUIRE(sms);
  CHECK(sms->state == ConsentState::kUnsubscribed);
  CHECK(f.suppression(AddressChannel::kSms, "+15555551234") == "unsubscribe");
  // The email channel was left as it was, and the email message gets no unsubscribe event.
  CHECK_FALSE(f.consent(AddressChannel::kEmail, "jane@example.com"));
  CHECK(f.events(m, "unsubscribe") == 0);

  res = c.Post(path.c_str(), "action=preferences&sms=subscribed",
               "application/x-www-form-urlencoded");
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(res->body.find("reply START") != std::string::npos);
  CHECK(f.consent(AddressChannel::kSms, "+15555551234")->state == ConsentState::kUnsubscribed);
}
