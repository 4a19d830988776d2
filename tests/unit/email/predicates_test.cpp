// Trigger filters and splits: the facts a predicate reads (trigger data, stored profile,
// behaviour since entering) and every field/operator pair.
#include "email/predicates.h"

#include <catch2/catch.hpp>
#include <functional>

#include "email/consent.h"
#include "plugin/core/catalog.h"
#include "plugin/core/migrations.h"
#include "tests/support/test_backend.h"
#include "tests/support/test_db.h"

using namespace afterglow;
using namespace afterglow::email;

namespace {

constexpr int64_t kMin = 60'000;
constexpr int64_t kHour = 60 * kMin;
constexpr int64_t kDay = 24 * kHour;
constexpr int64_t kNow = 1'744'819'200'000;
constexpr int64_t kCustomer = 7001;

struct Fixture {
  testing::TestDatabase tdb;
  std::unique_ptr<Db> db = tdb.open();
  int64_t shop = 0;
  int64_t next_id = 1;

  Fixture() {
    REQUIRE(migrate(*db));
    shop = testing::seed_installed_shop(*db, "facts.myshopify.com");
  }

  void write(const std::function<Result<void>(Tx&)>& fn) {
    auto r = db->write(fn);
    INFO((r ? "" : r.error().message));
    REQUIRE(r);
  }

  void order(int64_t order_id, std::optional<int64_t> customer, const std::string& email,
             int64_t total_minor, int64_t received_at_ms) {
    testing::exec_sql(
        *db,
        "INSERT INTO orders (shop_id, order_id, customer_id, email, currency, total_price, "
        "total_price_minor, platform_updated_at_ms, received_at_ms) "
        "VALUES (?, ?, ?, ?, 'USD', 'x', ?, ?, ?)",
        {shop, order_id, customer ? DbValue(*customer) : DbValue(), email, total_minor,
         received_at_ms, received_at_ms});
  }

  int64_t message(int64_t enrolment_id) {
    testing::exec_sql(*db,
                      "INSERT INTO messages (shop_id, step_run_id, enrolment_id, flow_id, step_id, "
                      "person_key, channel, recipient, state, created_at_ms, updated_at_ms) "
                      "VALUES (?, ?, ?, 1, 's1', 'customer:7001', 'email', 'ada@example.com', "
                      "'delivered', ?, ?)",
                      {shop, next_id++, enrolment_id, kNow, kNow});
    return testing::query_int(*db, "SELECT MAX(id) FROM messages");
  }

  void event(int64_t message_id, const std::string& kind, bool machine) {
    testing::exec_sql(*db,
                      "INSERT INTO message_events (shop_id, message_id, kind, machine, at_ms) "
                      "VALUES (?, ?, ?, ?, ?)",
                      {shop, message_id, kind, int64_t{machine ? 1 : 0}, kNow});
  }

  void consent(AddressChannel channel, const std::string& address, ConsentState state,
               const std::string& wording) {
    write([&](Tx& tx) -> Result<void> {
      ConsentChange c;
      c.channel = channel;
      c.address = address;
      c.state = state;
      c.source = "preference_centre";
      c.wording = wording;
      AG_CHECK(record_consent(tx, shop, c, kNow - kDay));
      return {};
    });
  }

  PersonFacts entry(const TriggerEvent& event, int64_t now_ms = kNow) {
    PersonFacts out;
    auto r = db->read([&](Tx& tx) -> Result<void> {
      out = AG_TRY(load_entry_facts(tx, shop, event, now_ms));
      return {};
    });
    INFO((r ? "" : r.error().message));
    REQUIRE(r);
    return out;
  }

  PersonFacts enrolled(const Enrolment& e, int64_t now_ms = kNow) {
    PersonFacts out;
    auto r = db->read([&](Tx& tx) -> Result<void> {
      out = AG_TRY(load_enrolment_facts(tx, e, now_ms));
      return {};
    });
    INFO((r ? "" : r.error().message));
    REQUIRE(r);
    return out;
  }
};

TriggerEvent order_event() {
  TriggerEvent e;
  e.trigger = FlowTrigger::kOrderPaid;
  e.key = "order:1001";
  e.customer_id = kCustomer;
  e.email = "Ada@Example.com ";
  e.phone = "+1 (305) 555-0123";
  e.occurred_at_ms = kNow;
  e.data.order_id = 1001;
  e.data.value_minor = 5000;
  e.data.currency = "usd";
  e.data.country_code = "us";
  e.data.product_ids = {11};
  e.data.collection_ids = {77};
  e.data.customer_tags = {"Gift "};
  return e;
}

Predicate number(PredicateField field, PredicateOp op, int64_t value) {
  return Predicate{field, op, {value}, {}};
}
Predicate text(PredicateField field, PredicateOp op, std::vector<std::string> values) {
  return Predicate{field, op, {}, std::move(values)};
}
Predicate flag(PredicateField field, PredicateOp op) { return Predicate{field, op, {}, {}}; }

}  // namespace

TEST_CASE("entry facts join the trigger data with the stored profile", "[predicates][db]") {
  Fixture f;
  f.write([&](Tx& tx) -> Result<void> {
    CatalogProduct p;
    p.id = 11;
    p.title = "Socks";
    p.status = "active";
    p.collections = {{501, "Socks"}};
    p.updated_at_ms = kNow;
    AG_CHECK(upsert_product(tx, f.shop, p, "USD", kNow, true));
    return {};
  });
  testing::exec_sql(*f.db,
                    "INSERT INTO customers (shop_id, customer_id, tags, updated_at_ms) "
                    "VALUES (?, ?, ' VIP, Wholesale ,', ?)",
                    {f.shop, kCustomer, kNow});
  f.order(900, kCustomer, "ada@example.com", 2000, kNow - 10 * kDay);
  f.order(901, std::nullopt, " ADA@example.com", 3000, kNow - 40 * kDay);  // as a guest
  f.order(902, 55, "someone@example.com", 9900, kNow - kDay);              // somebody else
  f.consent(AddressChannel::kEmail, "ada@example.com", ConsentState::kSubscribed, "");
  f.consent(AddressChannel::kSms, "+13055550123", ConsentState::kSubscribed, "");  // no wording

  PersonFacts facts = f.entry(order_event());
  CHECK(facts.order_value_minor == 5000);
  CHECK(facts.order_product_ids == std::vector<int64_t>{11});
  CHECK(facts.order_collection_ids == std::vector<int64_t>{77, 501});
  CHECK(facts.country == "US");
  CHECK(facts.currency == "USD");
  CHECK(facts.customer_tags == std::vector<std::string>{"gift", "vip", "wholesale"});
  // The triggering order is not stored yet and still counts.
  CHECK(facts.order_count == 3);
  CHECK(facts.total_spent_minor == 10000);
  REQUIRE(facts.days_since_last_order);
  CHECK(*facts.days_since_last_order == 0);
  CHECK(facts.accepts_email_marketing);
  CHECK_FALSE(facts.accepts_sms_marketing);  // no express consent without wording
  CHECK_FALSE(facts.opened_message);
  CHECK_FALSE(facts.clicked_message);
  CHECK_FALSE(facts.ordered_since_start);

  // Once stored, the triggering order is counted once.
  f.order(1001, kCustomer, "ada@example.com", 5000, kNow);
  PersonFacts again = f.entry(order_event(), kNow + 3 * kDay + kHour);
  CHECK(again.order_count == 3);
  CHECK(again.total_spent_minor == 10000);
  CHECK(*again.days_since_last_order == 3);

  // A suppressed address does not accept marketing, whatever the consent row says.
  f.write([&](Tx& tx) -> Result<void> {
    return suppress_address(tx, f.shop, AddressChannel::kEmail, "ada@example.com", "complaint",
                            kNow);
  });
  CHECK_FALSE(f.entry(order_event()).accepts_email_marketing);
}

TEST_CASE("someone who never ordered has no days since their last order", "[predicates][db]") {
  Fixture f;
  TriggerEvent e;
  e.trigger = FlowTrigger::kCheckoutAbandoned;
  e.email = "new@example.com";
  e.occurred_at_ms = kNow;
  e.data.value_minor = 1200;
  PersonFacts facts = f.entry(e);
  CHECK(facts.order_count == 0);
  CHECK(facts.total_spent_minor == 0);
  CHECK_FALSE(facts.days_since_last_order);
  CHECK_FALSE(
      predicate_holds(number(PredicateField::kDaysSinceLastOrder, PredicateOp::kGte, 0), facts));
  CHECK_FALSE(
      predicate_holds(number(PredicateField::kDaysSinceLastOrder, PredicateOp::kLt, 1000), facts));
  CHECK(predicate_holds(number(PredicateField::kOrderCount, PredicateOp::kEq, 0), facts));
}

TEST_CASE("enrolment facts see what the person did since entering", "[predicates][db]") {
  Fixture f;
  Enrolment e;
  e.id = 555;
  e.shop_id = f.shop;
  e.customer_id = kCustomer;
  e.email = "ada@example.com";
  e.trigger = FlowTrigger::kOrderPaid;
  e.data.order_id = 1001;
  e.entered_at_ms = kNow - kDay;
  f.order(1001, kCustomer, "ada@example.com", 5000, kNow - kDay + kMin);  // stored late
  f.order(800, kCustomer, "ada@example.com", 5000, kNow - 2 * kDay);
  int64_t mine = f.message(555);
  int64_t other = f.message(556);
  f.event(mine, "open", /*machine=*/true);     // Apple Mail Privacy Protection
  f.event(other, "click", /*machine=*/false);  // another enrolment's message

  PersonFacts before = f.enrolled(e);
  CHECK_FALSE(before.opened_message);
  CHECK_FALSE(before.clicked_message);
  CHECK_FALSE(before.ordered_since_start);
  CHECK(before.order_count == 2);

  f.event(mine, "open", /*machine=*/false);
  PersonFacts opened = f.enrolled(e);
  CHECK(opened.opened_message);
  CHECK_FALSE(opened.clicked_message);

  f.event(mine, "click", /*machine=*/false);
  f.order(1002, std::nullopt, "ada@example.com", 700, kNow - kHour);
  PersonFacts after = f.enrolled(e);
  CHECK(after.clicked_message);
  CHECK(after.ordered_since_start);
  CHECK(predicate_holds(flag(PredicateField::kOrderedSinceStart, PredicateOp::kIsTrue), after));
  CHECK(predicate_holds(flag(PredicateField::kClickedMessage, PredicateOp::kIsTrue), after));
  CHECK_FALSE(predicate_holds(flag(PredicateField::kOpenedMessage, PredicateOp::kIsFalse), after));
}

TEST_CASE("number predicates compare with every operator", "[predicates]") {
  PersonFacts facts;
  facts.order_value_minor = 5000;
  facts.total_spent_minor = 12000;
  facts.order_count = 2;
  facts.days_since_last_order = 30;
  using F = PredicateField;
  using O = PredicateOp;
  CHECK(predicate_holds(number(F::kOrderValueMinor, O::kEq, 5000), facts));
  CHECK_FALSE(predicate_holds(number(F::kOrderValueMinor, O::kEq, 4999), facts));
  CHECK(predicate_holds(number(F::kOrderValueMinor, O::kNeq, 4999), facts));
  CHECK_FALSE(predicate_holds(number(F::kOrderValueMinor, O::kNeq, 5000), facts));
  CHECK(predicate_holds(number(F::kTotalSpentMinor, O::kGt, 11999), facts));
  CHECK_FALSE(predicate_holds(number(F::kTotalSpentMinor, O::kGt, 12000), facts));
  CHECK(predicate_holds(number(F::kOrderCount, O::kGte, 2), facts));
  CHECK_FALSE(predicate_holds(number(F::kOrderCount, O::kGte, 3), facts));
  CHECK(predicate_holds(number(F::kDaysSinceLastOrder, O::kLt, 31), facts));
  CHECK_FALSE(predicate_holds(number(F::kDaysSinceLastOrder, O::kLt, 30), facts));
  CHECK(predicate_holds(number(F::kDaysSinceLastOrder, O::kLte, 30), facts));
  CHECK_FALSE(predicate_holds(number(F::kDaysSinceLastOrder, O::kLte, 29), facts));
  // Operators that do not fit the field, or a missing value, never hold.
  CHECK_FALSE(predicate_holds(number(F::kOrderValueMinor, O::kContains, 5000), facts));
  CHECK_FALSE(predicate_holds(Predicate{F::kOrderValueMinor, O::kEq, {}, {}}, facts));
}

TEST_CASE("id and tag sets are searched and tags ignore case", "[predicates]") {
  PersonFacts facts;
  facts.order_product_ids = {11, 12};
  facts.order_collection_ids = {501};
  facts.customer_tags = {"vip", "wholesale"};
  using F = PredicateField;
  using O = PredicateOp;
  CHECK(predicate_holds(number(F::kOrderProductIds, O::kContains, 12), facts));
  CHECK_FALSE(predicate_holds(number(F::kOrderProductIds, O::kContains, 13), facts));
  CHECK(predicate_holds(number(F::kOrderProductIds, O::kNotContains, 13), facts));
  CHECK_FALSE(predicate_holds(number(F::kOrderCollectionIds, O::kNotContains, 501), facts));
  CHECK(predicate_holds(text(F::kCustomerTags, O::kContains, {" VIP "}), facts));
  CHECK_FALSE(predicate_holds(text(F::kCustomerTags, O::kContains, {"gold"}), facts));
  CHECK(predicate_holds(text(F::kCustomerTags, O::kNotContains, {"Gold"}), facts));
  CHECK_FALSE(predicate_holds(text(F::kCustomerTags, O::kNotContains, {"Wholesale"}), facts));
  CHECK_FALSE(predicate_holds(text(F::kCustomerTags, O::kEq, {"vip"}), facts));
}

TEST_CASE("country and currency codes match in any case", "[predicates]") {
  PersonFacts facts;
  facts.country = "US";
  facts.currency = "USD";
  using F = PredicateField;
  using O = PredicateOp;
  CHECK(predicate_holds(text(F::kCountry, O::kEq, {"us"}), facts));
  CHECK_FALSE(predicate_holds(text(F::kCountry, O::kEq, {"CA"}), facts));
  CHECK(predicate_holds(text(F::kCountry, O::kNeq, {"CA"}), facts));
  CHECK_FALSE(predicate_holds(text(F::kCountry, O::kNeq, {"US"}), facts));
  CHECK(predicate_holds(text(F::kCurrency, O::kIn, {"EUR", "usd"}), facts));
  CHECK_FALSE(predicate_holds(text(F::kCurrency, O::kIn, {"EUR", "GBP"}), facts));
  CHECK(predicate_holds(text(F::kCurrency, O::kNotIn, {"EUR", "GBP"}), facts));
  CHECK_FALSE(predicate_holds(text(F::kCurrency, O::kNotIn, {"EUR", "USD"}), facts));
  CHECK_FALSE(predicate_holds(text(F::kCountry, O::kGt, {"CA"}), facts));
}

TEST_CASE("flags are true or false", "[predicates]") {
  PersonFacts facts;
  facts.accepts_email_marketing = true;
  using F = PredicateField;
  using O = PredicateOp;
  CHECK(predicate_holds(flag(F::kAcceptsEmailMarketing, O::kIsTrue), facts));
  CHECK_FALSE(predicate_holds(flag(F::kAcceptsEmailMarketing, O::kIsFalse), facts));
  CHECK(predicate_holds(flag(F::kAcceptsSmsMarketing, O::kIsFalse), facts));
  CHECK(predicate_holds(flag(F::kOpenedMessage, O::kIsFalse), facts));
  CHECK(predicate_holds(flag(F::kClickedMessage, O::kIsFalse), facts));
  CHECK(predicate_holds(flag(F::kOrderedSinceStart, O::kIsFalse), facts));
  CHECK_FALSE(predicate_holds(flag(F::kAcceptsEmailMarketing, O::kEq), facts));
}
