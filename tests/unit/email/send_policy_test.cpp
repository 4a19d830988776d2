// The send-time gate: each rule lets a compliant send through and stops the one it is about,
// and the rules apply in the documented order (the first that applies decides).
#include "email/send_policy.h"

#include <catch2/catch.hpp>
#include <functional>

#include "email/consent.h"
#include "email/flow_store.h"
#include "plugin/core/catalog.h"
#include "plugin/core/clock.h"
#include "plugin/core/migrations.h"
#include "plugin/core/shop_settings.h"
#include "tests/support/test_backend.h"
#include "tests/support/test_db.h"

using namespace afterglow;
using namespace afterglow::email;

namespace {

constexpr int64_t kMin = 60'000;
constexpr int64_t kHour = 60 * kMin;
constexpr int64_t kDay = 24 * kHour;
// Wednesday 2025-04-16 16:00 UTC: 12:00 in Florida, inside every SMS window.
constexpr int64_t kNow = 1'744'819'200'000;
constexpr int64_t kCustomer = 7001;
constexpr int64_t kTriggerOrder = 1001;
const std::string kEmail = "ada@example.com";
const std::string kPhone = "+13055550123";  // 305: Miami, Florida
const std::string kPerson = "customer:7001";

FlowStep send_step(StepType type, std::string id, std::string body) {
  FlowStep s;
  s.id = std::move(id);
  s.type = type;
  if (type == StepType::kSendEmail) s.subject = "Thanks for your order";
  s.body = std::move(body);
  return s;
}

struct Fixture {
  testing::TestDatabase tdb;
  std::unique_ptr<Db> db = tdb.open();
  ManualClock clock{kNow};
  int64_t shop = 0;
  Flow flow;
  Enrolment enrolment;
  FlowStep email = send_step(StepType::kSendEmail, "e1", "<p>Thanks, {{first_name|there}}</p>");
  FlowStep sms = send_step(StepType::kSendSms, "t1", "Acme: thanks for your order!");
  int64_t next_step_run = 1;

  Fixture() {
    REQUIRE(migrate(*db));
    shop = testing::seed_installed_shop(*db, "policy.myshopify.com");
    flow.name = "Thank-you follow-up";
    flow.status = FlowStatus::kLive;
    flow.trigger = FlowTrigger::kOrderPaid;
    flow.steps = {email, sms};
    write([&](Tx& tx) -> Result<void> {
      flow = AG_TRY(insert_flow(tx, shop, flow, kNow - kDay));
      return {};
    });
    enrolment = enrol(kPerson, kCustomer, kEmail, kPhone, kNow - 2 * kHour);
    // The usual person: subscribed on both channels when they entered.
    consent(AddressChannel::kEmail, kEmail, ConsentState::kSubscribed, "", kNow - 2 * kHour);
    consent(AddressChannel::kSms, kPhone, ConsentState::kSubscribed,
            "I agree to receive marketing texts from Acme. Not a condition of purchase.",
            kNow - 2 * kHour);
  }

  void write(const std::function<Result<void>(Tx&)>& fn) {
    auto r = db->write(fn);
    INFO((r ? "" : r.error().message));
    REQUIRE(r);
  }

  Enrolment enrol(std::string person_key, std::optional<int64_t> customer, std::string email,
                  std::string phone, int64_t entered_at_ms,
                  FlowTrigger trigger = FlowTrigger::kOrderPaid) {
    Enrolment e;
    e.shop_id = shop;
    e.flow_id = flow.id;
    e.person_key = std::move(person_key);
    e.customer_id = customer;
    e.email = std::move(email);
    e.phone = std::move(phone);
    e.trigger = trigger;
    e.data.order_id = kTriggerOrder;
    e.data.product_ids = {11};
    e.data.country_code = "US";
    // No state on the address: the area code (305, Miami, Eastern time) places them.
    e.state = "active";
    e.entered_at_ms = entered_at_ms;
    write([&](Tx& tx) -> Result<void> {
      auto row = AG_TRY(tx.query_one(
          "INSERT INTO enrolments (shop_id, flow_id, flow_version, enrolment_key, person_key, "
          "customer_id, email, phone, trigger_kind, trigger_data, state, entered_at_ms) "
          "VALUES (?, ?, 1, ?, ?, ?, ?, ?, 'order_paid', '{}', 'active', ?) RETURNING id",
          {shop, flow.id, "order:" + std::to_string(next_step_run++), e.person_key,
           customer ? DbValue(*customer) : DbValue(),
           e.email.empty() ? DbValue() : DbValue(e.email),
           e.phone.empty() ? DbValue() : DbValue(e.phone), entered_at_ms}));
      e.id = row->i64(0);
      return {};
    });
    return e;
  }

  void consent(AddressChannel channel, const std::string& address, ConsentState state,
               const std::string& wording, int64_t at_ms) {
    write([&](Tx& tx) -> Result<void> {
      ConsentChange c;
      c.channel = channel;
      c.address = address;
      c.customer_id = kCustomer;
      c.state = state;
      c.source = "preference_centre";
      c.wording = wording;
      AG_CHECK(record_consent(tx, shop, c, at_ms));
      return {};
    });
  }

  void settings(const std::function<void(ShopSettings&)>& edit) {
    write([&](Tx& tx) -> Result<void> {
      ShopSettings s = AG_TRY(load_shop_settings(tx, shop));
      edit(s);
      return save_shop_settings(tx, shop, s);
    });
  }

  // A message of another enrolment of the same person (or of `person_key`).
  void message(const std::string& channel, int64_t created_at_ms, std::string state = "sent",
               std::string person_key = kPerson, std::string recipient = "",
               int64_t enrolment_id = 999, std::string items = "") {
    if (recipient.empty()) recipient = channel == "sms" ? kPhone : kEmail;
    testing::exec_sql(
        *db,
        "INSERT INTO messages (shop_id, step_run_id, enrolment_id, flow_id, step_id, customer_id, "
        "person_key, channel, recipient, state, items, created_at_ms, updated_at_ms) "
        "VALUES (?, ?, ?, ?, 'earlier', ?, ?, ?, ?, ?, ?, ?, ?)",
        {shop, next_step_run++, enrolment_id, flow.id, kCustomer, person_key, channel, recipient,
         state, items.empty() ? DbValue() : DbValue(items), created_at_ms, created_at_ms});
  }

  int64_t last_message_id() { return testing::query_int(*db, "SELECT MAX(id) FROM messages"); }

  void message_event(int64_t message_id, const std::string& kind, bool machine, int64_t at_ms) {
    testing::exec_sql(*db,
                      "INSERT INTO message_events (shop_id, message_id, kind, machine, at_ms) "
                      "VALUES (?, ?, ?, ?, ?)",
                      {shop, message_id, kind, int64_t{machine ? 1 : 0}, at_ms});
  }

  void order(int64_t order_id, std::optional<int64_t> customer, const std::string& email,
             int64_t received_at_ms, std::vector<int64_t> products = {},
             std::string financial_status = "paid", std::optional<std::string> cancelled_at = {}) {
    write([&](Tx& tx) -> Result<void> {
      auto row = AG_TRY(tx.query_one(
          "INSERT INTO orders (shop_id, order_id, name, customer_id, email, currency, total_price, "
          "total_price_minor, financial_status, cancelled_at, platform_updated_at_ms, "
          "received_at_ms) VALUES (?, ?, ?, ?, ?, 'USD', '20.00', 2000, ?, ?, ?, ?) RETURNING id",
          {shop, order_id, "#" + std::to_string(order_id),
           customer ? DbValue(*customer) : DbValue(), email, financial_status,
           cancelled_at ? DbValue(*cancelled_at) : DbValue(), received_at_ms, received_at_ms}));
      int64_t line = 1;
      for (int64_t p : products) {
        AG_CHECK(
            tx.exec("INSERT INTO order_lines (order_row_id, line_item_id, product_id, quantity) "
                    "VALUES (?, ?, ?, 1)",
                    {row->i64(0), order_id * 100 + line++, p}));
      }
      return {};
    });
  }

  void offer_event(const std::string& kind, int64_t product_id, int64_t at_ms,
                   std::optional<int64_t> customer = kCustomer, std::string order_key = "1001") {
    testing::exec_sql(
        *db,
        "INSERT INTO offer_events (shop_id, surface, order_key, offer_id, "
        "customer_id, product_id, kind, created_at_ms) VALUES (?, 'thank_you', ?, "
        "1, ?, ?, ?, ?)",
        {shop, order_key, customer ? DbValue(*customer) : DbValue(), product_id, kind, at_ms});
  }

  void product(int64_t id, bool available = true) {
    write([&](Tx& tx) -> Result<void> {
      CatalogProduct p;
      p.id = id;
      p.title = "Product " + std::to_string(id);
      p.handle = "product-" + std::to_string(id);
      p.status = "active";
      p.updated_at_ms = kNow - kDay;
      CatalogVariant v;
      v.id = id * 10;
      v.price = "24.00";
      v.available = available;
      p.variants = {v};
      AG_CHECK(upsert_product(tx, shop, p, "USD", kNow - kDay, true));
      return {};
    });
  }

  PolicyDecision eval(const FlowStep& step, std::optional<int64_t> expires_at_ms = std::nullopt,
                      const Enrolment* who = nullptr) {
    PolicyDecision out;
    auto r = db->read([&](Tx& tx) -> Result<void> {
      SendRequest rq;
      rq.flow = &flow;
      rq.step = &step;
      rq.enrolment = who ? who : &enrolment;
      rq.expires_at_ms = expires_at_ms;
      rq.now_ms = clock.now_ms();
      out = AG_TRY(evaluate_send_policy(tx, rq));
      return {};
    });
    INFO((r ? "" : r.error().message));
    REQUIRE(r);
    INFO(out.reason + ": " + out.detail);
    return out;
  }
};

}  // namespace

TEST_CASE("a subscribed person in a live flow of an installed shop is sent to", "[policy][db]") {
  Fixture f;
  PolicyDecision d = f.eval(f.email);
  CHECK(d.verdict == Verdict::kSend);
  CHECK(d.reason == reason::kSent);
  PolicyDecision s = f.eval(f.sms);
  CHECK(s.verdict == Verdict::kSend);
  CHECK(s.first_sms_to_number);
}

TEST_CASE("an uninstalled shop ends the enrolment", "[policy][db]") {
  Fixture f;
  testing::exec_sql(*f.db, "UPDATE shops SET state = 'uninstalled' WHERE id = ?", {f.shop});
  PolicyDecision d = f.eval(f.email);
  CHECK(d.verdict == Verdict::kExit);
  CHECK(d.reason == reason::kShopInactive);
  CHECK(d.detail.find("uninstalled") != std::string::npos);
}

TEST_CASE("a paused flow holds the step and a draft flow ends it", "[policy][db]") {
  Fixture f;
  f.flow.status = FlowStatus::kPaused;
  PolicyDecision d = f.eval(f.email);
  CHECK(d.verdict == Verdict::kDelay);
  CHECK(d.reason == reason::kFlowPaused);
  CHECK(d.delay_until_ms > kNow);
  f.flow.status = FlowStatus::kDraft;
  PolicyDecision e = f.eval(f.email);
  CHECK(e.verdict == Verdict::kExit);
  CHECK(e.reason == reason::kFlowNotLive);
}

TEST_CASE("a step on a channel the person has no address for is skipped", "[policy][db]") {
  Fixture f;
  Enrolment no_phone = f.enrol("customer:8", 8, "bo@example.com", "", kNow - kHour);
  f.consent(AddressChannel::kEmail, "bo@example.com", ConsentState::kSubscribed, "", kNow - kHour);
  PolicyDecision d = f.eval(f.sms, std::nullopt, &no_phone);
  CHECK(d.verdict == Verdict::kSkip);
  CHECK(d.reason == reason::kNoRecipient);
  CHECK(f.eval(f.email, std::nullopt, &no_phone).verdict == Verdict::kSend);
}

TEST_CASE("consent withdrawn after scheduling skips the step", "[policy][db]") {
  Fixture f;
  REQUIRE(f.eval(f.email).verdict == Verdict::kSend);
  f.clock.advance(std::chrono::hours(1));
  f.consent(AddressChannel::kEmail, kEmail, ConsentState::kUnsubscribed, "", f.clock.now_ms());
  PolicyDecision d = f.eval(f.email);
  CHECK(d.verdict == Verdict::kSkip);
  CHECK(d.reason == reason::kNoConsent);
  CHECK(d.detail.find("unsubscribed") != std::string::npos);
  // SMS consent is separate and still holds.
  CHECK(f.eval(f.sms).verdict == Verdict::kSend);
}

TEST_CASE("an unsubscribe ends the enrolment when the flow exits on unsubscribe", "[policy][db]") {
  Fixture f;
  f.flow.exit_conditions = {ExitCondition::kUnsubscribed};
  REQUIRE(f.eval(f.sms).verdict == Verdict::kSend);
  f.consent(AddressChannel::kSms, kPhone, ConsentState::kUnsubscribed, "", kNow);
  PolicyDecision d = f.eval(f.sms);
  CHECK(d.verdict == Verdict::kExit);
  CHECK(d.reason == reason::kExitUnsubscribed);
  // A hard bounce (a suppression without an unsubscribe) on email counts too.
  testing::exec_sql(*f.db, "DELETE FROM consents WHERE channel = 'sms'");
  f.write([&](Tx& tx) -> Result<void> {
    return suppress_address(tx, f.shop, AddressChannel::kEmail, kEmail, "hard_bounce", kNow);
  });
  PolicyDecision e = f.eval(f.email);
  CHECK(e.verdict == Verdict::kExit);
  CHECK(e.reason == reason::kExitUnsubscribed);
}

TEST_CASE("soft opt-in sends to a buyer who never said no only where the shop allows it",
          "[policy][db]") {
  Fixture f;
  testing::exec_sql(*f.db, "DELETE FROM consents WHERE channel = 'email'");
  // No consent on record, no soft opt-in.
  PolicyDecision off = f.eval(f.email);
  CHECK(off.verdict == Verdict::kSkip);
  CHECK(off.reason == reason::kNoConsent);
  CHECK(off.detail.find("soft opt-in") != std::string::npos);

  f.settings([](ShopSettings& s) { s.email_soft_opt_in = true; });
  // Soft opt-in needs a purchase.
  PolicyDecision no_order = f.eval(f.email);
  CHECK(no_order.verdict == Verdict::kSkip);
  CHECK(no_order.reason == reason::kNoConsent);

  f.order(kTriggerOrder, kCustomer, kEmail, kNow - 2 * kHour, {11});
  CHECK(f.eval(f.email).verdict == Verdict::kSend);
  f.consent(AddressChannel::kEmail, kEmail, ConsentState::kNotSubscribed, "", kNow);
  CHECK(f.eval(f.email).verdict == Verdict::kSend);
  // A guest is matched by the order's email.
  Enrolment guest = f.enrol("email:abc", std::nullopt, "Guest@Example.com", "", kNow - kHour);
  CHECK(f.eval(f.email, std::nullopt, &guest).reason == reason::kNoConsent);
  f.order(2002, std::nullopt, "guest@example.com", kNow - 2 * kHour);
  CHECK(f.eval(f.email, std::nullopt, &guest).verdict == Verdict::kSend);
  // Whoever said no stays out.
  f.consent(AddressChannel::kEmail, kEmail, ConsentState::kUnsubscribed, "", kNow);
  CHECK(f.eval(f.email).reason == reason::kNoConsent);

  f.settings([](ShopSettings& s) { s.email_soft_opt_in = false; });
  CHECK(f.eval(f.email, std::nullopt, &guest).reason == reason::kNoConsent);
}

TEST_CASE("an SMS needs express consent with its wording", "[policy][db]") {
  Fixture f;
  testing::exec_sql(*f.db, "UPDATE consents SET wording = NULL WHERE channel = 'sms'");
  PolicyDecision d = f.eval(f.sms);
  CHECK(d.verdict == Verdict::kSkip);
  CHECK(d.reason == reason::kNoExpressSmsConsent);
  CHECK(d.detail.find("wording") != std::string::npos);

  testing::exec_sql(*f.db, "DELETE FROM consents WHERE channel = 'sms'");
  CHECK(f.eval(f.sms).reason == reason::kNoExpressSmsConsent);
  f.consent(AddressChannel::kSms, kPhone, ConsentState::kNotSubscribed, "", kNow);
  CHECK(f.eval(f.sms).reason == reason::kNoExpressSmsConsent);
  // Soft opt-in is an email rule: it never covers SMS.
  f.settings([](ShopSettings& s) { s.email_soft_opt_in = true; });
  f.order(kTriggerOrder, kCustomer, kEmail, kNow - 2 * kHour);
  CHECK(f.eval(f.sms).reason == reason::kNoExpressSmsConsent);
  f.consent(AddressChannel::kSms, kPhone, ConsentState::kSubscribed,
            "Yes, text me. Msg&data rates may apply.", kNow);
  CHECK(f.eval(f.sms).verdict == Verdict::kSend);
}

TEST_CASE("a suppressed address is skipped and the detail names the reason", "[policy][db]") {
  Fixture f;
  f.write([&](Tx& tx) -> Result<void> {
    return suppress_address(tx, f.shop, AddressChannel::kEmail, kEmail, "hard_bounce", kNow);
  });
  PolicyDecision d = f.eval(f.email);
  CHECK(d.verdict == Verdict::kSkip);
  CHECK(d.reason == reason::kSuppressed);
  CHECK(d.detail.find("hard_bounce") != std::string::npos);
  CHECK(f.eval(f.sms).verdict == Verdict::kSend);
}

TEST_CASE("a person inactive for 90 days is skipped unless a human did something", "[policy][db]") {
  Fixture f;
  testing::exec_sql(*f.db, "DELETE FROM consent_events");
  f.consent(AddressChannel::kEmail, kEmail, ConsentState::kSubscribed, "", kNow - 120 * kDay);
  testing::exec_sql(*f.db, "UPDATE consent_events SET at_ms = ?", {kNow - 120 * kDay});
  Enrolment old = f.enrol(kPerson, kCustomer, kEmail, kPhone, kNow - 100 * kDay);
  f.order(kTriggerOrder, kCustomer, kEmail, kNow - 100 * kDay);
  f.message("email", kNow - 95 * kDay, "delivered", kPerson, "", old.id);
  int64_t m = f.last_message_id();
  f.message_event(m, "open", /*machine=*/true, kNow - 10 * kDay);  // Apple MPP: not a person
  PolicyDecision d = f.eval(f.email, std::nullopt, &old);
  CHECK(d.verdict == Verdict::kSkip);
  CHECK(d.reason == reason::kInactive);

  // Someone who entered less than 90 days ago is not inactive, whatever else.
  Enrolment recent = f.enrol(kPerson, kCustomer, kEmail, kPhone, kNow - 89 * kDay);
  CHECK(f.eval(f.email, std::nullopt, &recent).verdict == Verdict::kSend);

  f.message_event(m, "click", /*machine=*/false, kNow - 10 * kDay);
  CHECK(f.eval(f.email, std::nullopt, &old).verdict == Verdict::kSend);
}

TEST_CASE("an order placed between steps ends the enrolment", "[policy][db]") {
  Fixture f;
  f.flow.exit_conditions = {ExitCondition::kOrderedSinceStart};
  // The triggering order, stored after the enrolment, is not a new order.
  f.order(kTriggerOrder, kCustomer, kEmail, kNow - kHour, {11});
  // An order before entering is not one either.
  f.order(900, kCustomer, kEmail, kNow - 3 * kHour);
  REQUIRE(f.eval(f.email).verdict == Verdict::kSend);
  f.order(1002, std::nullopt, "ADA@example.com", kNow - 30 * kMin);  // as a guest, same email
  PolicyDecision d = f.eval(f.email);
  CHECK(d.verdict == Verdict::kExit);
  CHECK(d.reason == reason::kExitOrdered);
  CHECK(d.detail.find("#1002") != std::string::npos);
  // Without the exit condition the same order changes nothing.
  f.flow.exit_conditions = {};
  CHECK(f.eval(f.email).verdict == Verdict::kSend);
}

TEST_CASE("a human click in the flow ends it and a scanner click does not", "[policy][db]") {
  Fixture f;
  f.flow.exit_conditions = {ExitCondition::kClicked};
  f.message("email", kNow - kDay, "delivered", kPerson, "", f.enrolment.id);
  int64_t m = f.last_message_id();
  f.message_event(m, "click", /*machine=*/true, kNow - kDay + kMin);
  f.message_event(m, "open", /*machine=*/false, kNow - kDay + kMin);
  f.settings([](ShopSettings& s) { s.frequency_caps.email_hours = 0; });
  REQUIRE(f.eval(f.email).verdict == Verdict::kSend);
  f.message_event(m, "click", /*machine=*/false, kNow - kHour);
  PolicyDecision d = f.eval(f.email);
  CHECK(d.verdict == Verdict::kExit);
  CHECK(d.reason == reason::kExitClicked);
}

TEST_CASE("a refunded or cancelled triggering order ends the enrolment", "[policy][db]") {
  Fixture f;
  f.flow.exit_conditions = {ExitCondition::kRefundedOrCancelled};
  f.order(kTriggerOrder, kCustomer, kEmail, kNow - 2 * kHour, {11}, "paid");
  REQUIRE(f.eval(f.email).verdict == Verdict::kSend);
  testing::exec_sql(*f.db, "UPDATE orders SET financial_status = 'partially_refunded'");
  PolicyDecision d = f.eval(f.email);
  CHECK(d.verdict == Verdict::kExit);
  CHECK(d.reason == reason::kExitRefundedOrCancelled);
  testing::exec_sql(*f.db,
                    "UPDATE orders SET financial_status = 'paid', "
                    "cancelled_at = '2025-04-16T11:00:00-04:00'");
  PolicyDecision c = f.eval(f.email);
  CHECK(c.reason == reason::kExitRefundedOrCancelled);
  CHECK(c.detail.find("cancelled") != std::string::npos);
}

TEST_CASE("accepting a recommended item on the thank-you page ends the enrolment", "[policy][db]") {
  Fixture f;
  f.flow.exit_conditions = {ExitCondition::kAcceptedRecommendedItem};
  f.settings([](ShopSettings& s) { s.frequency_caps.email_hours = 0; });
  f.message("email", kNow - kDay, "delivered", kPerson, "", f.enrolment.id, "[501, 502]");
  // Accepted before entering, or another product: no exit.
  f.offer_event("accept", 501, kNow - 3 * kHour);
  f.offer_event("accept", 777, kNow - kHour);
  f.offer_event("decline", 502, kNow - kHour);
  REQUIRE(f.eval(f.email).verdict == Verdict::kSend);
  f.offer_event("charge_succeeded", 502, kNow - 30 * kMin);
  PolicyDecision d = f.eval(f.email);
  CHECK(d.verdict == Verdict::kExit);
  CHECK(d.reason == reason::kExitAcceptedItem);
  CHECK(d.detail.find("502") != std::string::npos);
}

TEST_CASE("an offer-declined flow exits when the declined item is accepted later", "[policy][db]") {
  Fixture f;
  f.flow.exit_conditions = {ExitCondition::kAcceptedRecommendedItem};
  Enrolment declined = f.enrol("email:guest", std::nullopt, "guest@example.com", "",
                               kNow - 2 * kHour, FlowTrigger::kOfferDeclined);
  declined.data.product_ids = {321};
  f.consent(AddressChannel::kEmail, "guest@example.com", ConsentState::kSubscribed, "",
            kNow - 2 * kHour);
  f.order(kTriggerOrder, std::nullopt, "guest@example.com", kNow - 3 * kHour);
  REQUIRE(f.eval(f.email, std::nullopt, &declined).verdict == Verdict::kSend);
  // A guest's answer is found through their order.
  f.offer_event("accept", 321, kNow - kHour, std::nullopt, "1001");
  CHECK(f.eval(f.email, std::nullopt, &declined).reason == reason::kExitAcceptedItem);
}

TEST_CASE("a step past its expiry is skipped and exits come first", "[policy][db]") {
  Fixture f;
  CHECK(f.eval(f.email, kNow + kMin).verdict == Verdict::kSend);
  CHECK(f.eval(f.email, kNow).verdict == Verdict::kSend);
  PolicyDecision d = f.eval(f.email, kNow - kMin);
  CHECK(d.verdict == Verdict::kSkip);
  CHECK(d.reason == reason::kExpired);
  f.flow.exit_conditions = {ExitCondition::kOrderedSinceStart};
  f.order(1002, kCustomer, kEmail, kNow - kMin);
  CHECK(f.eval(f.email, kNow - kMin).reason == reason::kExitOrdered);
}

TEST_CASE("the per-channel cap counts from the last send", "[policy][db]") {
  Fixture f;
  f.message("email", kNow - (15 * kHour + 59 * kMin));
  PolicyDecision d = f.eval(f.email);
  CHECK(d.verdict == Verdict::kSkip);
  CHECK(d.reason == reason::kFrequencyCap);
  CHECK(d.detail == "last email 15 h 59 min ago; the cap is 16 h");
  // The SMS channel has its own clock.
  CHECK(f.eval(f.sms).verdict == Verdict::kSend);
  f.clock.advance(std::chrono::minutes(1));  // now exactly 16 h
  CHECK(f.eval(f.email).verdict == Verdict::kSend);
  // Failed sends never went out and do not count; a send of unknown fate does.
  f.message("email", f.clock.now_ms() - kHour, "failed");
  CHECK(f.eval(f.email).verdict == Verdict::kSend);
  f.message("email", f.clock.now_ms() - kHour, "unknown");
  CHECK(f.eval(f.email).reason == reason::kFrequencyCap);
}

TEST_CASE("a step is not capped by its own message", "[policy][db]") {
  Fixture f;
  testing::exec_sql(*f.db,
                    "INSERT INTO messages (shop_id, step_run_id, enrolment_id, flow_id, step_id, "
                    "person_key, channel, recipient, state, created_at_ms, updated_at_ms) VALUES "
                    "(?, 424242, ?, ?, 'e1', ?, 'email', ?, 'sending', ?, ?)",
                    {f.shop, f.enrolment.id, f.flow.id, kPerson, kEmail, kNow - kMin, kNow - kMin});
  CHECK(f.eval(f.email).verdict == Verdict::kSend);
}

TEST_CASE("the weekly cap counts both channels over 7 days", "[policy][db]") {
  Fixture f;
  f.settings([](ShopSettings& s) {
    s.frequency_caps.email_hours = 0;
    s.frequency_caps.sms_hours = 0;
    s.frequency_caps.weekly_max = 5;
  });
  f.message("email", kNow - 7 * kDay - kMin);  // outside the week
  f.message("email", kNow - 6 * kDay);
  f.message("sms", kNow - 5 * kDay);
  f.message("email", kNow - 4 * kDay);
  f.message("sms", kNow - 3 * kDay);
  CHECK(f.eval(f.email).verdict == Verdict::kSend);
  f.message("email", kNow - 2 * kDay);
  PolicyDecision d = f.eval(f.email);
  CHECK(d.verdict == Verdict::kSkip);
  CHECK(d.reason == reason::kWeeklyCap);
  CHECK(d.detail == "5 messages in the last 7 days; the cap is 5");
  // Another person's messages are theirs.
  Enrolment other = f.enrol("customer:9", 9, "cy@example.com", "", kNow - kHour);
  f.consent(AddressChannel::kEmail, "cy@example.com", ConsentState::kSubscribed, "", kNow);
  CHECK(f.eval(f.email, std::nullopt, &other).verdict == Verdict::kSend);
}

TEST_CASE("the preference centre's weekly and monthly choices cap the channel", "[policy][db]") {
  Fixture f;
  f.message("email", kNow - 3 * kDay);
  REQUIRE(f.eval(f.email).verdict == Verdict::kSend);
  f.write([&](Tx& tx) -> Result<void> {
    AG_CHECK(set_consent_frequency(tx, f.shop, AddressChannel::kEmail, kEmail, "weekly", kNow));
    return {};
  });
  PolicyDecision d = f.eval(f.email);
  CHECK(d.verdict == Verdict::kSkip);
  CHECK(d.reason == reason::kPreferenceFrequency);
  CHECK(d.detail.find("weekly") != std::string::npos);
  f.clock.advance(std::chrono::hours(24 * 5));  // 8 days after the last one
  CHECK(f.eval(f.email).verdict == Verdict::kSend);
  f.write([&](Tx& tx) -> Result<void> {
    AG_CHECK(set_consent_frequency(tx, f.shop, AddressChannel::kEmail, kEmail, "monthly", kNow));
    return {};
  });
  CHECK(f.eval(f.email).reason == reason::kPreferenceFrequency);
  f.clock.advance(std::chrono::hours(24 * 23));  // 31 days after
  CHECK(f.eval(f.email).verdict == Verdict::kSend);
}

TEST_CASE("a fourth SMS in 24 hours is refused even with the shop's SMS cap off", "[policy][db]") {
  Fixture f;
  f.settings([](ShopSettings& s) {
    s.frequency_caps.sms_hours = 0;
    s.frequency_caps.weekly_max = 0;
  });
  f.message("sms", kNow - 23 * kHour);
  f.message("sms", kNow - 5 * kHour);
  CHECK(f.eval(f.sms).verdict == Verdict::kSend);
  // The third went to the same number under another person key (a guest checkout).
  f.message("sms", kNow - kHour, "delivered", "phone:hash", kPhone);
  PolicyDecision d = f.eval(f.sms);
  CHECK(d.verdict == Verdict::kSkip);
  CHECK(d.reason == reason::kSmsDailyLimit);
  CHECK(d.detail.find("3 SMS in the last 24 h") != std::string::npos);
  f.clock.advance(std::chrono::hours(1) + std::chrono::minutes(1));
  CHECK(f.eval(f.sms).verdict == Verdict::kSend);
}

TEST_CASE("items the person accepted declined or bought are excluded", "[policy][db]") {
  Fixture f;
  f.order(kTriggerOrder, kCustomer, kEmail, kNow - 2 * kHour, {11, 12});
  f.order(800, kCustomer, kEmail, kNow - 50 * kDay, {40});
  f.offer_event("decline", 601, kNow - 2 * kHour);
  f.offer_event("accept", 602, kNow - 2 * kHour);
  f.offer_event("impression", 603, kNow - 2 * kHour);           // only shown: still fair game
  f.offer_event("decline", 604, kNow - 2 * kHour, 55, "5555");  // somebody else
  PolicyDecision d = f.eval(f.email);
  REQUIRE(d.verdict == Verdict::kSend);
  CHECK(d.excluded_product_ids == std::vector<int64_t>{11, 12, 40, 601, 602});
}

TEST_CASE("a recommendation step with nothing left to pitch is skipped", "[policy][db]") {
  Fixture f;
  FlowStep recs = send_step(StepType::kSendEmail, "e2",
                            "{{#items}}<a href=\"{{url}}\">{{title}}</a>{{/items}}");
  f.product(11);
  f.product(601);
  f.product(700, /*available=*/false);
  f.order(kTriggerOrder, kCustomer, kEmail, kNow - 2 * kHour, {11});
  f.offer_event("decline", 601, kNow - 2 * kHour);
  PolicyDecision d = f.eval(recs);
  CHECK(d.verdict == Verdict::kSkip);
  CHECK(d.reason == reason::kNothingToRecommend);
  // The same step without items goes out.
  CHECK(f.eval(f.email).verdict == Verdict::kSend);
  f.product(702);  // never sold, but active and in stock
  PolicyDecision ok = f.eval(recs);
  CHECK(ok.verdict == Verdict::kSend);
  CHECK(ok.excluded_product_ids == std::vector<int64_t>{11, 601});
}

TEST_CASE("a step offering an incentive needs one configured", "[policy][db]") {
  Fixture f;
  FlowStep offer = send_step(StepType::kSendSms, "t2", "Acme: use {{ incentive_code }} today");
  PolicyDecision d = f.eval(offer);
  CHECK(d.verdict == Verdict::kSkip);
  CHECK(d.reason == reason::kNoIncentive);
  f.settings([](ShopSettings& s) {
    s.incentive_code = "THANKS10";
    s.incentive_text = "10% off";
  });
  CHECK(f.eval(offer).verdict == Verdict::kSend);
}

TEST_CASE("the incentive placeholders are recognised in any text of the step", "[policy]") {
  FlowStep s = send_step(StepType::kSendEmail, "x", "Hello");
  CHECK_FALSE(step_offers_incentive(s));
  s.subject = "{{incentive_text|A gift}} inside";
  CHECK(step_offers_incentive(s));
  s.subject = "Hi";
  s.body = "{{#incentive_code}}Code {{{incentive_code}}}{{/incentive_code}}";
  CHECK(step_offers_incentive(s));
  s.body = "{{! incentive_code is not used here }} {{incentive_codes}}";
  CHECK_FALSE(step_offers_incentive(s));
  s.preview_text = "{{&incentive_text}}";
  CHECK(step_offers_incentive(s));
}

TEST_CASE("an SMS at 23:00 recipient time waits until 10:00 the next allowed day", "[policy][db]") {
  Fixture f;
  f.clock.set_ms(kNow + 11 * kHour);  // Wednesday 23:00 in Miami
  PolicyDecision d = f.eval(f.sms);
  CHECK(d.verdict == Verdict::kDelay);
  CHECK(d.reason == reason::kQuietHours);
  CHECK(d.delay_until_ms == kNow + 22 * kHour);  // Thursday 10:00 in Miami
  CHECK_FALSE(d.detail.empty());
  // Saturday night waits past the quiet Sunday.
  f.clock.set_ms(kNow + 3 * kDay + 11 * kHour);
  PolicyDecision sat = f.eval(f.sms);
  CHECK(sat.verdict == Verdict::kDelay);
  CHECK(sat.delay_until_ms == kNow + 4 * kDay + 22 * kHour);  // Monday 10:00
  // Email is not held unless the shop says so.
  f.clock.set_ms(kNow + 11 * kHour);
  CHECK(f.eval(f.email).verdict == Verdict::kSend);
  f.settings([](ShopSettings& s) { s.quiet_hours.apply_to_email = true; });
  PolicyDecision e = f.eval(f.email);
  CHECK(e.verdict == Verdict::kDelay);
  CHECK(e.delay_until_ms == kNow + 22 * kHour);
}

TEST_CASE("an address in a state spanning two zones waits for both", "[policy][db]") {
  Fixture f;
  f.enrolment.data.province_code = "FL";  // the panhandle is on Central time
  f.clock.set_ms(kNow + 11 * kHour);
  PolicyDecision d = f.eval(f.sms);
  CHECK(d.verdict == Verdict::kDelay);
  CHECK(d.delay_until_ms == kNow + 23 * kHour);  // 10:00 in Chicago, 11:00 in Miami
}

TEST_CASE("a quiet-hours hold that outlives the step expires it", "[policy][db]") {
  Fixture f;
  f.clock.set_ms(kNow + 11 * kHour);
  PolicyDecision d = f.eval(f.sms, kNow + 20 * kHour);
  CHECK(d.verdict == Verdict::kSkip);
  CHECK(d.reason == reason::kExpired);
  CHECK(f.eval(f.sms, kNow + 22 * kHour).verdict == Verdict::kDelay);
}

TEST_CASE("a suppressed person in quiet hours is suppressed and not delayed", "[policy][db]") {
  Fixture f;
  f.clock.set_ms(kNow + 11 * kHour);
  f.write([&](Tx& tx) -> Result<void> {
    return suppress_address(tx, f.shop, AddressChannel::kSms, kPhone, "invalid_number", kNow);
  });
  PolicyDecision d = f.eval(f.sms);
  CHECK(d.verdict == Verdict::kSkip);
  CHECK(d.reason == reason::kSuppressed);
}

TEST_CASE("earlier rules decide before later ones", "[policy][db]") {
  Fixture f;
  // Capped and without consent: the consent rule speaks.
  f.message("email", kNow - kHour);
  testing::exec_sql(*f.db, "DELETE FROM consents WHERE channel = 'email'");
  CHECK(f.eval(f.email).reason == reason::kNoConsent);
  // Capped and ordered since start: the exit.
  f.flow.exit_conditions = {ExitCondition::kOrderedSinceStart};
  f.order(1002, kCustomer, kEmail, kNow - kMin);
  f.message("sms", kNow - kHour);
  CHECK(f.eval(f.sms).reason == reason::kExitOrdered);
  // Capped and in quiet hours: the cap (a skip is final, a hold would only be skipped later).
  f.flow.exit_conditions = {};
  f.clock.set_ms(kNow + 11 * kHour);
  CHECK(f.eval(f.sms).reason == reason::kFrequencyCap);
  // A paused flow holds even a person who unsubscribed.
  f.consent(AddressChannel::kSms, kPhone, ConsentState::kUnsubscribed, "", kNow);
  f.flow.status = FlowStatus::kPaused;
  CHECK(f.eval(f.sms).reason == reason::kFlowPaused);
}

TEST_CASE("the first SMS to a number is flagged for HELP and STOP instructions", "[policy][db]") {
  Fixture f;
  f.settings([](ShopSettings& s) { s.frequency_caps.sms_hours = 0; });
  f.message("sms", kNow - 3 * kDay, "failed");  // never reached the phone
  f.message("email", kNow - 3 * kDay, "delivered");
  PolicyDecision first = f.eval(f.sms);
  REQUIRE(first.verdict == Verdict::kSend);
  CHECK(first.first_sms_to_number);
  f.message("sms", kNow - 3 * kDay, "delivered", "someone-else", kPhone);
  PolicyDecision later = f.eval(f.sms);
  REQUIRE(later.verdict == Verdict::kSend);
  CHECK_FALSE(later.first_sms_to_number);
  CHECK_FALSE(f.eval(f.email).first_sms_to_number);
}
