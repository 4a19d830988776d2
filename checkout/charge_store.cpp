#include "checkout/charge_store.h"

#include <nlohmann/json.hpp>

#include "checkout/offer_events.h"
#include "checkout/one_click.h"

namespace afterglow::checkout {
namespace {

DbValue nullable(const std::optional<int64_t>& v) {
  if (v) return *v;
  return std::monostate{};
}

constexpr std::string_view kColumns =
    "c.id, c.shop_id, s.domain, c.order_id, c.offer_id, c.charge_key, c.idempotency_key, "
    "c.stripe_account, c.customer, c.payment_method, c.product_id, c.variant_id, c.quantity, "
    "c.amount_minor, c.discount_minor, c.currency, c.payment_intent_id, c.state, c.reason, "
    "c.decline_code, c.message, c.refund_id, c.lease_until_ms, c.customer_id, "
    "c.reconcile_deadline_ms, c.reconcile_seq, c.created_at_ms";

ChargeRow read_row(const Row& r) {
  ChargeRow c;
  c.id = r.i64(0);
  c.shop_id = r.i64(1);
  c.shop_domain = r.text(2);
  c.order_id = r.i64(3);
  c.offer_id = r.i64(4);
  c.charge_key = r.text(5);
  c.idempotency_key = r.text(6);
  c.stripe_account = r.text(7);
  c.customer = r.text(8);
  c.payment_method = r.text(9);
  c.product_id = r.i64(10);
  c.variant_id = r.i64(11);
  c.quantity = r.i64(12);
  c.amount_minor = r.i64(13);
  c.discount_minor = r.i64(14);
  c.currency = r.text(15);
  c.payment_intent_id = r.text(16);
  c.state = r.text(17);
  c.reason = r.text(18);
  c.decline_code = r.text(19);
  c.message = r.text(20);
  c.refund_id = r.text(21);
  c.lease_until_ms = r.opt_i64(22);
  c.customer_id = r.opt_i64(23);
  c.reconcile_deadline_ms = r.opt_i64(24);
  c.reconcile_seq = r.i64(25);
  c.created_at_ms = r.i64(26);
  return c;
}

Result<std::optional<ChargeRow>> load_where(Tx& tx, std::string_view where, const Params& p) {
  std::string sql = "SELECT " + std::string(kColumns) +
                    " FROM charges c JOIN shops s ON s.id = c.shop_id WHERE " + std::string(where);
  auto row = AG_TRY(tx.query_one(sql, p));
  if (!row) return std::optional<ChargeRow>{};
  return std::optional<ChargeRow>(read_row(*row));
}

Result<void> add_event(Tx& tx, int64_t charge_id, std::string_view state, std::string_view reason,
                       int64_t now_ms) {
  AG_CHECK(tx.exec(
      "INSERT INTO charge_events (charge_id, state, reason, created_at_ms) VALUES (?, ?, ?, ?)",
      {charge_id, std::string(state), std::string(reason), now_ms}));
  return {};
}

}  // namespace

std::string charge_key(int64_t shop_id, int64_t order_id, int64_t offer_id) {
  return "ag:" + std::to_string(shop_id) + ":" + std::to_string(order_id) + ":" +
         std::to_string(offer_id);
}

Result<std::optional<ChargeRow>> load_charge(Tx& tx, int64_t charge_id) {
  return load_where(tx, "c.id = ?", {charge_id});
}

Result<std::optional<ChargeRow>> load_charge_by_key(Tx& tx, std::string_view key) {
  return load_where(tx, "c.charge_key = ?", {std::string(key)});
}

Result<int64_t> insert_charge(Tx& tx, const ChargeRow& c, int64_t lease_until_ms,
                              int64_t now_ms) {
  auto row = AG_TRY(tx.query_one(
      "INSERT INTO charges (shop_id, order_id, offer_id, charge_key, idempotency_key, "
      "customer_id, stripe_account, customer, payment_method, product_id, variant_id, quantity, "
      "amount_minor, discount_minor, currency, state, reason, lease_until_ms, "
      "reconcile_deadline_ms, created_at_ms, updated_at_ms) "
      "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?, ?, ?) "
      "ON CONFLICT DO NOTHING RETURNING id",
      {c.shop_id, c.order_id, c.offer_id, c.charge_key, c.idempotency_key, nullable(c.customer_id),
       c.stripe_account, c.customer, c.payment_method, c.product_id, c.variant_id, c.quantity,
       c.amount_minor, c.discount_minor, c.currency, c.reason, lease_until_ms,
       nullable(c.reconcile_deadline_ms), now_ms, now_ms}));
  if (!row) return fail(ErrorCode::kConflict, "a charge for this offer and order exists");
  int64_t id = row->i64(0);
  AG_CHECK(add_event(tx, id, "pending", c.reason, now_ms));
  return id;
}

Result<int64_t> next_reconcile_seq(Tx& tx, int64_t charge_id) {
  auto row = AG_TRY(tx.query_one(
      "UPDATE charges SET reconcile_seq = reconcile_seq + 1 WHERE id = ? RETURNING reconcile_seq",
      {charge_id}));
  if (!row) return fail(ErrorCode::kNotFound, "no charge " + std::to_string(charge_id));
  return row->i64(0);
}

Result<bool> lease_charge(Tx& tx, int64_t charge_id, int64_t lease_until_ms, int64_t now_ms) {
  int64_t n = AG_TRY(tx.exec(
      "UPDATE charges SET lease_until_ms = ?, updated_at_ms = ? WHERE id = ? AND state = "
      "'pending' AND (lease_until_ms IS NULL OR lease_until_ms <= ?)",
      {lease_until_ms, now_ms, charge_id, now_ms}));
  return n == 1;
}

Result<bool> transition(Tx& tx, int64_t charge_id, std::string_view from, const Transition& t,
                        int64_t now_ms) {
  auto opt = [](const std::optional<std::string>& v) -> DbValue {
    if (v) return *v;
    return std::monostate{};
  };
  // COALESCE keeps what an earlier stage recorded (the PaymentIntent id stays when a refund
  // arrives) unless this transition names a new value.
  int64_t n = AG_TRY(tx.exec(
      "UPDATE charges SET state = ?, reason = ?, "
      "payment_intent_id = COALESCE(?, payment_intent_id), "
      "decline_code = COALESCE(?, decline_code), message = COALESCE(?, message), "
      "refund_id = COALESCE(?, refund_id), lease_until_ms = NULL, updated_at_ms = ? "
      "WHERE id = ? AND state = ?",
      {t.to, t.reason, opt(t.payment_intent_id), opt(t.decline_code), opt(t.message),
       opt(t.refund_id), now_ms, charge_id, std::string(from)}));
  if (n != 1) return false;
  AG_CHECK(add_event(tx, charge_id, t.to, t.reason, now_ms));
  return true;
}

Result<bool> refund_late_payment(Tx& tx, const ChargeRow& charge, const PaymentIntent& intent,
                                 JobQueue& queue, int64_t now_ms) {
  if (charge.state != "failed" || !charge.reason.starts_with(kNotChargedReason)) return false;
  if (intent.status != "succeeded") return false;
  Transition t{"refunding", "payment " + intent.id +
                                " turned up after the charge was settled as not charged; "
                                "refunding it"};
  t.payment_intent_id = intent.id;
  if (!AG_TRY(transition(tx, charge.id, "failed", t, now_ms))) return false;
  AG_CHECK(enqueue_append(tx, queue, charge, now_ms));
  return true;
}

Result<void> enqueue_append(Tx& tx, JobQueue& queue, const ChargeRow& charge, int64_t now_ms) {
  return enqueue_append_run(tx, queue, charge.shop_id, charge.id, now_ms, "");
}

Result<void> enqueue_append_run(Tx& tx, JobQueue& queue, int64_t shop_id, int64_t charge_id,
                                int64_t run_at_ms, std::string_view key_suffix) {
  JobSpec spec;
  spec.kind = std::string(kAppendJobKind);
  spec.payload = nlohmann::json{{"charge_id", charge_id}}.dump();
  spec.unique_key = "checkout.append:" + std::to_string(charge_id) + std::string(key_suffix);
  spec.shop_id = shop_id;
  spec.run_at_ms = run_at_ms;
  spec.max_attempts = 10;
  AG_CHECK(queue.enqueue(tx, spec));
  return {};
}

Result<void> charge_offer_event(Tx& tx, const ChargeRow& charge, std::string_view kind,
                                std::string_view detail, int64_t now_ms) {
  OfferEvent e;
  e.shop_id = charge.shop_id;
  e.surface = "thank_you";
  e.order_key = std::to_string(charge.order_id);
  e.offer_id = charge.offer_id;
  e.customer_id = charge.customer_id;
  e.product_id = charge.product_id;
  e.variant_id = charge.variant_id;
  e.kind = std::string(kind);
  e.amount_minor = charge.amount_minor;
  e.currency = charge.currency;
  e.detail = std::string(detail);
  e.created_at_ms = now_ms;
  return record_offer_event(tx, e);
}

Result<std::string> apply_intent(Tx& tx, const ChargeRow& charge, std::string_view from,
                                 const PaymentIntent& pi, JobQueue& queue, int64_t now_ms) {
  Transition t;
  t.payment_intent_id = pi.id;
  std::string event_kind;
  if (pi.status == "succeeded") {
    t.to = "succeeded";
    t.reason = "payment " + pi.id + " succeeded";
    event_kind = "charge_succeeded";
  } else if (pi.status == "requires_action") {
    t.to = "requires_action";
    t.reason = "the bank asks the shopper to authenticate (3-D Secure)";
    event_kind = "charge_requires_action";
  } else if (pi.status == "processing") {
    t.to = "processing";
    t.reason = "Stripe is processing the payment";
  } else if (pi.status == "requires_payment_method" && pi.last_payment_error) {
    const StripeApiError& e = *pi.last_payment_error;
    t.to = "declined";
    t.decline_code = e.decline_code.empty() ? e.code : e.decline_code;
    t.message = e.message.empty() ? "Your card was declined." : e.message;
    t.reason = "declined: " + *t.decline_code;
    event_kind = "charge_declined";
  } else if (pi.status == "canceled") {
    t.to = "failed";
    t.reason = "payment " + pi.id + " was canceled";
    t.message = "The payment was canceled.";
    event_kind = "charge_failed";
  } else {
    return std::string();
  }
  if (t.to == from) return std::string();
  if (!AG_TRY(transition(tx, charge.id, from, t, now_ms))) return std::string();
  if (t.to == "succeeded") AG_CHECK(enqueue_append(tx, queue, charge, now_ms));
  if (!event_kind.empty()) AG_CHECK(charge_offer_event(tx, charge, event_kind, t.reason, now_ms));
  return t.to;
}

CreatePaymentIntent payment_intent_request(const ChargeRow& c) {
  CreatePaymentIntent p;
  p.amount = c.amount_minor;
  p.currency = c.currency;
  p.customer = c.customer;
  p.payment_method = c.payment_method;
  p.confirm = true;
  // On-session (the shopper is on the thank-you page and clicked): a customer-initiated payment.
  // When the bank insists on 3-D Secure the page completes it (spec/stripe.md §3a, §7).
  p.off_session = false;
  p.payment_method_types = {"card"};
  p.description = "Post-purchase offer " + std::to_string(c.offer_id) + " on order " +
                  std::to_string(c.order_id);
  p.metadata = {{"shop", c.shop_domain},
                {"order_id", std::to_string(c.order_id)},
                {"offer_id", std::to_string(c.offer_id)},
                {"afterglow_charge", c.charge_key}};
  return p;
}

}  // namespace afterglow::checkout
