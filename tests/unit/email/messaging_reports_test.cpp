// The merchant's reports: a flow's funnel counted from the stored rows, and one customer's
// messaging history with consents and suppression reasons.
#include "email/messaging_reports.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "email/consent.h"
#include "email/flow_model.h"
#include "email/flow_store.h"
#include "plugin/core/migrations.h"
#include "tests/support/test_backend.h"
#include "tests/support/test_db.h"

using namespace afterglow;
using namespace afterglow::email;
using afterglow::testing::exec_sql;
using nlohmann::json;

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

constexpr int64_t kNow = 1'746'000'000'000;
constexpr int64_t kCustomer = 501;

struct Fixture {
  testing::TestDatabase tdb;
  std::unique_ptr<Db> db = tdb.open();
  int64_t shop = 0, other_shop = 0, flow = 0;
  int64_t next_step_run = 1;

  Fixture() {
    REQUIRE(migrate(*db));
    shop = testing::seed_installed_shop(*db, "glow-store.myshopify.com");
    other_shop = testing::seed_installed_shop(*db, "other-store.myshopify.com");
    auto parsed = flow_from_json(
        json{{"name", "Thank-you cross-sell"},
             {"trigger", "order_paid"},
             {"steps",
              {{{"id", "welcome"}, {"type", "send_email"}, {"subject", "Hi"}, {"body", "Hello"}},
               {{"id", "wait"}, {"type", "delay"}, {"duration_minutes", 1440}},
               {{"id", "nudge"}, {"type", "send_sms"}, {"body", "Hi"}}}}});
    REQUIRE(parsed);
    write([&](Tx& tx) -> Result<void> {
      flow = AG_TRY(insert_flow(tx, shop, *parsed, kNow)).id;
      return {};
    });
  }

  void write(const std::function<Result<void>(Tx&)>& fn) {
    auto r = db->write(fn);
    INFO((r ? "" : r.error().message));
    REQUIRE(r);
  }

  int64_t enrolment(const std::string& state, const char* exit_reason, const std::string& key) {
    return insert_id(
        *db,
        "INSERT INTO enrolments (shop_id, flow_id, flow_version, enrolment_key, person_key, "
        "customer_id, email, trigger_kind, trigger_data, state, exit_reason, entered_at_ms) "
        "VALUES (?, ?, 1, ?, 'customer:501', 501, 'jane@example.com', 'order_paid', '{}', ?, ?, ?) "
        "RETURNING id",
        {shop, flow, key, state, exit_reason ? DbValue(std::string(exit_reason)) : DbValue(),
         kNow});
  }

  int64_t message(int64_t enrolment_id, const std::string& step, const std::string& channel,
                  const std::string& state) {
    return insert_id(
        *db,
        "INSERT INTO messages (shop_id, step_run_id, enrolment_id, flow_id, step_id, customer_id, "
        "person_key, channel, recipient, state, links, created_at_ms, updated_at_ms) "
        "VALUES (?, ?, ?, ?, ?, 501, 'customer:501', ?, 'jane@example.com', ?, '[]', ?, ?) "
        "RETURNING id",
        {shop, next_step_run++, enrolment_id, flow, step, channel, state, kNow, kNow});
  }

  void event(int64_t message_id, const std::string& kind, bool machine = false) {
    exec_sql(*db,
             "INSERT INTO message_events (shop_id, message_id, kind, machine, at_ms) "
             "VALUES (?, ?, ?, ?, ?)",
             {shop, message_id, kind, int64_t{machine ? 1 : 0}, kNow});
  }

  void attribution(int64_t order_id, int64_t message_id, int64_t revenue,
                   const std::string& currency) {
    exec_sql(*db,
             "INSERT INTO attributions (shop_id, order_id, message_id, flow_id, revenue_minor, "
             "currency, clicked_at_ms, at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
             {shop, order_id, message_id, flow, revenue, currency, kNow, kNow});
  }

  void log(int64_t enrolment_id, const std::string& step, const std::string& outcome,
           const std::string& reason, int64_t at_ms, std::optional<int64_t> customer = kCustomer) {
    exec_sql(*db,
             "INSERT INTO send_log (shop_id, enrolment_id, step_id, person_key, customer_id, "
             "channel, outcome, reason, detail, at_ms) VALUES (?, ?, ?, 'customer:501', ?, "
             "'email', ?, ?, ?, ?)",
             {shop, enrolment_id, step, customer ? DbValue(*customer) : DbValue(), outcome, reason,
              reason + " detail", at_ms});
  }

  json report(int64_t shop_id, int64_t flow_id) {
    json out;
    auto r = db->read([&](Tx& tx) -> Result<void> {
      out = AG_TRY(flow_report(tx, shop_id, flow_id));
      return {};
    });
    if (!r) return json{{"error", error_code_name(r.error().code)}};
    return out;
  }
};

const json* step_row(const json& report, const std::string& step) {
  for (const json& s : report["steps"]) {
    if (s["step_id"] == step) return &s;
  }
  return nullptr;
}

}  // namespace

TEST_CASE("a flow report counts enrolments, sends, engagement and revenue", "[reports][db]") {
  Fixture f;
  int64_t e1 = f.enrolment("active", nullptr, "order:1");
  f.enrolment("exited", "exit_ordered", "order:2");
  f.enrolment("exited", "exit_ordered", "order:3");
  f.enrolment("exited", "exit_unsubscribed", "order:4");
  f.enrolment("completed", nullptr, "order:5");

  int64_t w1 = f.message(e1, "welcome", "email", "sent");
  int64_t w2 = f.message(e1, "welcome", "email", "delivered");
  f.message(e1, "welcome", "email", "failed");
  f.message(e1, "welcome", "email", "bounced");
  f.message(e1, "welcome", "email", "sending");
  int64_t n1 = f.message(e1, "nudge", "sms", "sent");
  f.message(e1, "nudge", "sms", "unknown");

  f.event(w1, "click");
  f.event(w1, "click");
  f.event(w1, "click", /*machine=*/true);
  f.event(w2, "click");
  f.event(w1, "open");
  f.event(w1, "open", true);
  f.event(w2, "open", true);
  f.event(w1, "unsubscribe");
  f.event(w1, "delivered");
  f.event(n1, "click");
  f.attribution(9001, w1, 1000, "USD");
  f.attribution(9002, n1, 2500, "USD");
  f.attribution(9003, w2, 700, "EUR");
  f.log(e1, "welcome", "skipped", "frequency_cap", kNow);
  f.log(e1, "welcome", "skipped", "frequency_cap", kNow + 1);
  f.log(e1, "nudge", "delayed", "quiet_hours", kNow + 2);
  f.log(e1, "welcome", "sent", "sent", kNow + 3);

  json r = f.report(f.shop, f.flow);
  INFO(r.dump(2));
  CHECK(r["flow"]["name"] == "Thank-you cross-sell");
  CHECK(r["enrolments"]["total"] == 5);
  CHECK(r["enrolments"]["active"] == 1);
  CHECK(r["enrolments"]["completed"] == 1);
  CHECK(r["enrolments"]["exited"] == 3);
  CHECK(r["enrolments"]["exit_reasons"]["exit_ordered"] == 2);
  CHECK(r["enrolments"]["exit_reasons"]["exit_unsubscribed"] == 1);

  REQUIRE(r["steps"].size() == 2);
  CHECK(r["steps"][0]["step_id"] == "welcome");  // the flow's order, not the alphabet's
  const json* welcome = step_row(r, "welcome");
  REQUIRE(welcome);
  CHECK((*welcome)["channel"] == "email");
  CHECK((*welcome)["sent"] == 3);  // sent, delivered, bounced
  CHECK((*welcome)["delivered"] == 1);
  CHECK((*welcome)["bounced"] == 1);
  CHECK((*welcome)["failed"] == 1);
  CHECK((*welcome)["pending"] == 1);
  CHECK((*welcome)["clicks"] == 3);
  CHECK((*welcome)["clicked_messages"] == 2);
  CHECK((*welcome)["machine_clicks"] == 1);
  CHECK((*welcome)["opens"] == 1);
  CHECK((*welcome)["machine_opens"] == 2);
  CHECK((*welcome)["unsubscribes"] == 1);
  CHECK((*welcome)["attributed_orders"] == 2);
  const json* nudge = step_row(r, "nudge");
  REQUIRE(nudge);
  CHECK((*nudge)["channel"] == "sms");
  CHECK((*nudge)["sent"] == 1);
  CHECK((*nudge)["unknown"] == 1);
  CHECK((*nudge)["clicks"] == 1);

  CHECK(r["totals"]["clicks"] == 4);
  CHECK(r["totals"]["sent"] == 4);
  CHECK(r["skipped"]["frequency_cap"] == 2);
  CHECK(r["skipped"]["quiet_hours"] == 1);
  CHECK_FALSE(r["skipped"].contains("sent"));
  CHECK(r["attribution"]["orders"] == 3);
  CHECK(r["attribution"]["revenue"] ==
        json::array({{{"currency", "EUR"}, {"amount_minor", 700}, {"orders", 1}},
                     {{"currency", "USD"}, {"amount_minor", 3500}, {"orders", 2}}}));
}

TEST_CASE("a flow report is only for the flow's own shop", "[reports][db]") {
  Fixture f;
  CHECK(f.report(f.other_shop, f.flow)["error"] == "not_found");
  CHECK(f.report(f.shop, f.flow + 100)["error"] == "not_found");
  json empty = f.report(f.shop, f.flow);
  CHECK(empty["enrolments"]["total"] == 0);
  CHECK(empty["steps"].empty());
  CHECK(empty["attribution"]["orders"] == 0);
}

TEST_CASE("a customer's messaging shows their log newest first, consents and suppression reasons",
          "[reports][db]") {
  Fixture f;
  int64_t e1 = f.enrolment("active", nullptr, "order:1");
  f.log(e1, "welcome", "sent", "sent", kNow + 10);
  f.log(e1, "nudge", "skipped", "no_express_sms_consent", kNow + 30);
  f.log(e1, "welcome", "delayed", "quiet_hours", kNow + 20);
  f.log(e1, "welcome", "sent", "sent", kNow + 40, /*customer=*/777);  // someone else
  exec_sql(*f.db,
           "INSERT INTO customers (shop_id, customer_id, email, phone, updated_at_ms) "
           "VALUES (?, ?, 'Old.Jane@Example.com', NULL, ?)",
           {f.shop, kCustomer, kNow});
  f.write([&](Tx& tx) -> Result<void> {
    ConsentChange email;
    email.address = "jane@example.com";
    email.customer_id = kCustomer;
    email.state = ConsentState::kSubscribed;
    email.source = "shopify_customer";
    email.wording = "Email me news and offers";
    AG_CHECK(record_consent(tx, f.shop, email, kNow));
    ConsentChange sms;
    sms.channel = AddressChannel::kSms;
    sms.address = "+15555551234";
    sms.customer_id = kCustomer;
    sms.state = ConsentState::kUnsubscribed;
    sms.source = "sms_keyword";
    AG_CHECK(record_consent(tx, f.shop, sms, kNow + 5));
    return suppress_address(tx, f.shop, AddressChannel::kEmail, "old.jane@example.com",
                            "hard_bounce", kNow);
  });

  json out;
  REQUIRE(f.db->read([&](Tx& tx) -> Result<void> {
    out = AG_TRY(customer_messaging(tx, f.shop, kCustomer));
    return {};
  }));
  INFO(out.dump(2));
  REQUIRE(out["send_log"].size() == 3);
  CHECK(out["send_log"][0]["reason"] == "no_express_sms_consent");
  CHECK(out["send_log"][1]["reason"] == "quiet_hours");
  CHECK(out["send_log"][2]["reason"] == "sent");
  CHECK(out["send_log"][0]["flow_name"] == "Thank-you cross-sell");
  CHECK(out["send_log"][0]["flow_id"] == f.flow);
  CHECK(out["send_log"][0]["step_id"] == "nudge");
  CHECK(out["send_log"][0]["outcome"] == "skipped");
  CHECK(out["send_log"][0]["detail"] == "no_express_sms_consent detail");
  CHECK(out["send_log"][0]["at_ms"] == kNow + 30);

  REQUIRE(out["consents"].size() == 2);
  CHECK(out["consents"][0]["channel"] == "email");
  CHECK(out["consents"][0]["state"] == "subscribed");
  CHECK(out["consents"][0]["source"] == "shopify_customer");
  CHECK(out["consents"][0]["wording"] == "Email me news and offers");
  CHECK(out["consents"][0]["updated_at_ms"] == kNow);
  CHECK(out["consents"][1]["channel"] == "sms");
  CHECK(out["consents"][1]["state"] == "unsubscribed");

  CHECK(out["suppressions"] == json::array({{{"channel", "email"}, {"reason", "hard_bounce"}},
                                            {{"channel", "sms"}, {"reason", "sms_stop"}}}));
  CHECK(out["suppressions"].dump().find("@") == std::string::npos);

  json nobody;
  REQUIRE(f.db->read([&](Tx& tx) -> Result<void> {
    nobody = AG_TRY(customer_messaging(tx, f.other_shop, kCustomer));
    return {};
  }));
  CHECK(nobody["send_log"].empty());
  CHECK(nobody["consents"].empty());
  CHECK(nobody["suppressions"].empty());
}
