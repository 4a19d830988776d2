#include "checkout/one_click.h"

#include <map>
#include <nlohmann/json.hpp>

#include "checkout/charge_store.h"
#include "checkout/offer_events.h"
#include "plugin/core/log.h"
#include "plugin/core/shop_settings.h"

namespace afterglow::checkout {
namespace {

using nlohmann::json;

constexpr std::string_view kUnchargeable = "This offer can't be added to your order.";
constexpr std::string_view kRefundedMessage =
    "We couldn't add this item to your order, so the payment was refunded.";

enum class Answer { kFresh, kReplay, kConflict };

// The shopper's answer to an offer: the first one per (order, offer) and per token wins.
Result<Answer> record_response(Tx& tx, const OfferTokenClaims& c, std::string_view action,
                               int64_t now_ms) {
  int64_t inserted = AG_TRY(tx.exec(
      "INSERT INTO offer_responses (shop_id, order_key, offer_id, token_id, action, "
      "created_at_ms) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
      {c.shop_id, c.order_key, c.offer_id, c.token_id, std::string(action), now_ms}));
  if (inserted == 1) return Answer::kFresh;
  auto row = AG_TRY(tx.query_one(
      "SELECT token_id, action FROM offer_responses WHERE shop_id = ? AND "
      "order_key = ? AND offer_id = ?",
      {c.shop_id, c.order_key, c.offer_id}));
  if (!row) {
    // The token was spent on another order or offer (its jti is unique): a forged reuse.
    return Answer::kConflict;
  }
  if (row->text(0) != c.token_id || row->text(1) != action) return Answer::kConflict;
  return Answer::kReplay;
}

Result<void> answer_event(Tx& tx, const OfferTokenClaims& c, std::string_view kind,
                          int64_t now_ms) {
  return record_offer_event(tx, offer_event_of(c, kind, now_ms));
}

JobSpec offer_declined_job(const OfferTokenClaims& c) {
  json payload{{"shop_id", c.shop_id}, {"order_id", *c.order_id}, {"offer_id", c.offer_id}};
  if (c.customer_id) payload["customer_id"] = *c.customer_id;
  JobSpec spec;
  spec.kind = std::string(kOfferDeclinedJobKind);
  spec.payload = payload.dump();
  spec.unique_key = "offer.declined:" + std::to_string(c.shop_id) + ":" +
                    std::to_string(*c.order_id) + ":" + std::to_string(c.offer_id);
  spec.shop_id = c.shop_id;
  return spec;
}

struct StoredPayment {
  std::string account, customer, payment_method;
};

// The card the order was paid with: order_payments by order id, else by the order's checkout.
Result<std::optional<StoredPayment>> stored_payment(Tx& tx, int64_t shop_id, int64_t order_id) {
  auto row = AG_TRY(tx.query_one(
      "SELECT stripe_account, customer, payment_method FROM order_payments WHERE shop_id = ? AND "
      "(order_id = ? OR checkout_token IN (SELECT checkout_token FROM orders WHERE shop_id = ? "
      "AND order_id = ? AND checkout_token IS NOT NULL)) ORDER BY id DESC LIMIT 1",
      {shop_id, order_id, shop_id, order_id}));
  if (!row) return std::optional<StoredPayment>{};
  return std::optional<StoredPayment>(StoredPayment{row->text(0), row->text(1), row->text(2)});
}

}  // namespace

struct OneClick::Impl {
  Impl(Db& d, JobQueue& q, StripeClient& s, const Clock& c, OneClickOptions o)
      : db(d), queue(q), stripe(s), clock(c), options(o) {}

  Db& db;
  JobQueue& queue;
  StripeClient& stripe;
  const Clock& clock;
  OneClickOptions options;

  std::mutex locks_mutex;
  std::map<std::string, std::weak_ptr<std::mutex>> locks;  // GUARDED_BY(locks_mutex)

  // One mutex per charge key while anyone uses it: identical accepts in this process queue
  // here, so only the first talks to Stripe and the rest read its result.
  std::shared_ptr<std::mutex> lock_for(const std::string& key) {
    std::lock_guard g(locks_mutex);
    if (locks.size() > 1024) {
      std::erase_if(locks, [](const auto& kv) { return kv.second.expired(); });
    }
    auto& slot = locks[key];
    auto m = slot.lock();
    if (!m) {
      m = std::make_shared<std::mutex>();
      slot = m;
    }
    return m;
  }

  int64_t lease_until() const { return clock.now_ms() + options.lease.count(); }

  // How long an accept may be reconciled by sending it again: the offer's window, capped.
  int64_t reconcile_bound(const OfferTokenClaims& c) const {
    const int64_t cap = options.reconcile_bound.count();
    const int64_t window = c.expires_at_ms - c.issued_at_ms;
    return c.issued_at_ms > 0 && window > 0 ? std::min(window, cap) : cap;
  }

  // The charge's deadline: set at accept; rows made before it existed get the bound from
  // their creation.
  int64_t deadline_of(const ChargeRow& c) const {
    return c.reconcile_deadline_ms.value_or(c.created_at_ms + options.reconcile_bound.count());
  }

  // Schedules the charge's next reconcile job and makes it the only one that acts: every
  // earlier job, still queued or not, sees a stale seq and does nothing.
  Result<void> schedule_reconcile(Tx& tx, const ChargeRow& c, int64_t run_at_ms,
                                 int after_check = 0) {
    int64_t seq = AG_TRY(next_reconcile_seq(tx, c.id));
    json payload{{"charge_id", c.id}, {"seq", seq}};
    if (after_check > 0) payload["after_check"] = after_check;
    JobSpec spec;
    spec.kind = std::string(kReconcileJobKind);
    spec.payload = payload.dump();
    spec.unique_key = "checkout.reconcile:" + std::to_string(c.id) + ":" + std::to_string(seq);
    spec.shop_id = c.shop_id;
    spec.run_at_ms = run_at_ms;
    spec.max_attempts = 12;
    AG_CHECK(queue.enqueue(tx, spec));
    return {};
  }

  // The next try of the loop: reconcile_delay doubling per job the charge had, capped, and
  // never later than the deadline (which settles the charge).
  int64_t next_try_ms(const ChargeRow& c, int64_t now) const {
    const int64_t n = std::max<int64_t>(c.reconcile_seq - 1, 0);  // seq 1 is the safety net
    int64_t delay = options.reconcile_delay.count();
    for (int64_t i = 0; i < n && delay < options.reconcile_max_delay.count(); ++i) delay *= 2;
    delay = std::min<int64_t>(delay, options.reconcile_max_delay.count());
    const int64_t deadline = deadline_of(c);
    return now >= deadline ? now + delay : std::min(now + delay, deadline);
  }

  Result<void> schedule_next(const ChargeRow& c) {
    return db.write([&](Tx& tx) -> Result<void> {
      auto now = AG_TRY(load_charge(tx, c.id));
      if (!now) return {};
      return schedule_reconcile(tx, *now, next_try_ms(*now, clock.now_ms()));
    });
  }

  // Past the deadline with no PaymentIntent at Stripe: nothing was charged, and nothing ever
  // will be under this charge.
  Result<void> settle_not_charged(const ChargeRow& c) {
    const int64_t bound_min =
        std::max<int64_t>((deadline_of(c) - c.created_at_ms) / 60'000, 1);
    return db.write([&](Tx& tx) -> Result<void> {
      int64_t now = clock.now_ms();
      Transition t{"failed", std::string(kNotChargedReason) + ": no payment found at Stripe within " +
                                 std::to_string(bound_min) + " min of the accept; never sent again"};
      t.message = std::string(kNotChargedMessage);
      if (!AG_TRY(transition(tx, c.id, c.state, t, now))) return {};
      AG_CHECK(charge_offer_event(tx, c, "charge_failed", t.reason, now));
      return schedule_reconcile(tx, c, now + options.after_check_delay.count(), 1);
    });
  }

  // A not_charged charge, searched once more: a payment found now is given back.
  Result<void> after_check(const ChargeRow& c, int n) {
    SearchResult found = stripe.search_payment_intents_by_metadata("afterglow_charge", c.charge_key,
                                                                   c.stripe_account);
    if (found.response.outcome != StripeOutcome::kOk) {
      if (n >= options.after_checks) {
        log::warn("checkout.reconcile", {{"charge_id", std::to_string(c.id)},
                                         {"outcome", "after-check gave up: Stripe search failed"}});
        return {};
      }
      return db.write([&](Tx& tx) -> Result<void> {
        return schedule_reconcile(tx, c, clock.now_ms() + options.after_check_delay.count(),
                                  n + 1);
      });
    }
    for (const PaymentIntent& pi : found.intents) {
      AG_CHECK(db.write([&](Tx& tx) -> Result<void> {
        AG_CHECK(refund_late_payment(tx, c, pi, queue, clock.now_ms()));
        return {};
      }));
    }
    return {};
  }

  // Sends the charge's PaymentIntent (the caller holds the lease) and records what Stripe said.
  // Returns the new state and, for requires_action, the client secret.
  // `schedule`: an indeterminate answer schedules the next reconcile (the reconcile job
  // schedules its own instead).
  Result<std::pair<std::string, std::string>> submit(const ChargeRow& c, bool schedule = true) {
    auto started = std::chrono::steady_clock::now();
    PaymentIntentResult r =
        stripe.create_payment_intent(payment_intent_request(c), c.idempotency_key,
                                     c.stripe_account);
    // Measured, not injected: the benchmark separates our time from Stripe's with it.
    auto stripe_us = std::chrono::duration_cast<std::chrono::microseconds>(
                         std::chrono::steady_clock::now() - started)
                         .count();
    std::string state, secret;
    AG_CHECK(db.write([&](Tx& tx) -> Result<void> {
      int64_t now = clock.now_ms();
      state.clear();
      if ((r.response.outcome == StripeOutcome::kOk ||
           r.response.outcome == StripeOutcome::kCardError) &&
          r.intent) {
        state = AG_TRY(apply_intent(tx, c, "pending", *r.intent, queue, now));
        if (state == "requires_action") secret = r.intent->client_secret;
        if (!state.empty()) return {};
      }
      Transition t;
      if (r.response.outcome == StripeOutcome::kCardError) {
        const StripeApiError e = r.response.error.value_or(StripeApiError{});
        t.to = "declined";
        t.decline_code = e.decline_code.empty() ? e.code : e.decline_code;
        t.message = e.message.empty() ? "Your card was declined." : e.message;
        t.reason = "declined: " + *t.decline_code;
        if (r.intent) t.payment_intent_id = r.intent->id;
        if (AG_TRY(transition(tx, c.id, "pending", t, now))) {
          AG_CHECK(charge_offer_event(tx, c, "charge_declined", t.reason, now));
          state = t.to;
        }
      } else if (r.response.outcome == StripeOutcome::kRejected) {
        const StripeApiError e = r.response.error.value_or(StripeApiError{});
        t.to = "failed";
        t.reason = "Stripe refused the request (HTTP " + std::to_string(r.response.http_status) +
                   (e.code.empty() ? "" : ", " + e.code) + "): " + e.message;
        t.message = std::string(kUnchargeable);
        if (AG_TRY(transition(tx, c.id, "pending", t, now))) {
          AG_CHECK(charge_offer_event(tx, c, "charge_failed", t.reason, now));
          state = t.to;
        }
      } else {
        // Stripe may or may not have acted (a stored 500, or no answer after the retries).
        t.to = "unknown";
        t.reason = r.response.http_status == 0
                       ? "no answer from Stripe after " + std::to_string(r.response.attempts) +
                             " attempts; reconciling"
                       : "Stripe answered HTTP " + std::to_string(r.response.http_status) +
                             "; reconciling";
        if (AG_TRY(transition(tx, c.id, "pending", t, now))) {
          if (schedule) {
            auto row = AG_TRY(load_charge(tx, c.id));
            if (row) AG_CHECK(schedule_reconcile(tx, *row, next_try_ms(*row, now)));
          }
          state = t.to;
        }
      }
      return {};
    }));
    if (state.empty()) {
      // A webhook moved the row first: report what is stored now.
      std::optional<ChargeRow> now;
      AG_CHECK(db.read([&](Tx& tx) -> Result<void> {
        now = AG_TRY(load_charge(tx, c.id));
        return {};
      }));
      if (now) state = now->state;
    }
    log::info("checkout.charge", {{"charge_id", std::to_string(c.id)},
                                  {"state", state},
                                  {"stripe_status", std::to_string(r.response.http_status)},
                                  {"attempts", std::to_string(r.response.attempts)},
                                  {"stripe_us", std::to_string(stripe_us)},
                                  {"request_id", r.response.request_id}});
    return std::make_pair(state, secret);
  }

  AcceptOutcome outcome_of(const ChargeRow& c, std::string secret) {
    AcceptOutcome o;
    o.charge_id = c.id;
    o.payment_intent_id = c.payment_intent_id;
    o.currency = c.currency;
    const std::string& s = c.state;
    if (s == "succeeded" || s == "committing" || s == "committed" || s == "appended" ||
        s == "append_unknown") {
      o.status = "succeeded";
      o.charged_minor = c.amount_minor;
    } else if (s == "requires_action") {
      o.status = "requires_action";
      if (secret.empty() && !c.payment_intent_id.empty()) {
        // Not stored (spec/stripe.md §3a): fetch it again for the shopper who asks.
        auto pi = stripe.retrieve_payment_intent(c.payment_intent_id, c.stripe_account);
        if (pi.intent) {
          if (pi.intent->status == "requires_action") {
            secret = pi.intent->client_secret;
          } else {
            o.status = "processing";  // the webhook with the final state is on its way
          }
        }
      }
      o.client_secret = secret;
      if (o.client_secret.empty()) o.status = "processing";
      o.message = "Your bank needs you to confirm this payment.";
    } else if (s == "declined") {
      o.status = "declined";
      o.message = c.message.empty() ? "Your card was declined." : c.message;
    } else if (s == "failed") {
      o.status = "failed";
      o.message = c.message.empty() ? std::string(kUnchargeable) : c.message;
    } else if (s == "refunding" || s == "refunded" || s == "refund_failed") {
      o.status = "refunded";
      o.message = std::string(kRefundedMessage);
    } else {
      o.status = "processing";  // pending, processing, unknown
    }
    return o;
  }
};

OneClick::OneClick(Db& db, JobQueue& queue, StripeClient& stripe, const Clock& clock,
                   OneClickOptions options)
    : impl_(std::make_shared<Impl>(db, queue, stripe, clock, options)) {}

Result<AcceptOutcome> OneClick::accept(const OfferTokenClaims& claims) {
  Impl& m = *impl_;
  if (claims.surface != "thank_you") {
    return fail(ErrorCode::kForbidden,
                "this offer is for the post-purchase page, where the platform charges");
  }
  if (!claims.order_id) return fail(ErrorCode::kInvalidArgument, "the offer names no order");
  const std::string key = charge_key(claims.shop_id, *claims.order_id, claims.offer_id);
  auto key_lock = m.lock_for(key);
  std::lock_guard guard(*key_lock);

  std::optional<ChargeRow> charge;
  bool leased = false;
  bool replay = false;
  AG_CHECK(m.db.write([&](Tx& tx) -> Result<void> {
    int64_t now = m.clock.now_ms();
    auto shop = AG_TRY(tx.query_one("SELECT state FROM shops WHERE id = ?", {claims.shop_id}));
    if (!shop || shop->text(0) != "installed") {
      return fail(ErrorCode::kNotFound, "the shop is not installed");
    }
    Answer answer = AG_TRY(record_response(tx, claims, "accept", now));
    if (answer == Answer::kConflict) {
      return fail(ErrorCode::kForbidden, "this offer was already answered on this order");
    }
    charge = AG_TRY(load_charge_by_key(tx, key));
    if (charge) {
      replay = true;
      // Past its deadline a charge is reconciliation's to settle, never sent again from here.
      leased = now < m.deadline_of(*charge) &&
               AG_TRY(lease_charge(tx, charge->id, m.lease_until(), now));
      return {};
    }
    ShopSettings settings = AG_TRY(load_shop_settings(tx, claims.shop_id));
    if (settings.stripe_account_id.empty()) {
      return fail(ErrorCode::kConflict, "the shop has no Stripe account configured");
    }
    auto payment = AG_TRY(stored_payment(tx, claims.shop_id, *claims.order_id));
    if (!payment) return fail(ErrorCode::kConflict, "no stored payment method for this order");
    if (payment->account != settings.stripe_account_id) {
      return fail(ErrorCode::kConflict,
                  "the order was paid in another Stripe account than the shop's");
    }
    ChargeRow c;
    c.shop_id = claims.shop_id;
    c.shop_domain = claims.shop_domain;
    c.order_id = *claims.order_id;
    c.offer_id = claims.offer_id;
    c.charge_key = key;
    c.idempotency_key = key + ":pi";
    c.customer_id = claims.customer_id;
    c.stripe_account = settings.stripe_account_id;
    c.customer = payment->customer;
    c.payment_method = payment->payment_method;
    c.product_id = claims.product_id;
    c.variant_id = claims.variant_id;
    c.quantity = claims.quantity;
    c.amount_minor = claims.amount_minor;
    c.discount_minor = claims.discount_minor;
    c.currency = claims.currency;
    c.state = "pending";
    c.reason = "accepted by the shopper";
    c.reconcile_deadline_ms = now + m.reconcile_bound(claims);
    c.created_at_ms = now;
    c.id = AG_TRY(insert_charge(tx, c, m.lease_until(), now));
    AG_CHECK(answer_event(tx, claims, "accept", now));
    // The safety net: should this process die before Stripe's answer is recorded, this job
    // settles the charge once the lease has run out.
    AG_CHECK(m.schedule_reconcile(tx, c, now + (m.options.lease + m.options.reconcile_delay).count()));
    c.reconcile_seq = 1;
    charge = c;
    leased = true;
    return {};
  }));

  std::string secret;
  if (leased) {
    // Ours to send: a first accept, or a repeat that found the row pending with no live lease
    // (the request that made it died mid-call). The same Idempotency-Key makes either safe.
    auto [state, s] = AG_TRY(m.submit(*charge));
    charge->state = state;
    secret = s;
  }
  AG_CHECK(m.db.read([&](Tx& tx) -> Result<void> {
    auto now = AG_TRY(load_charge(tx, charge->id));
    if (now) charge = now;
    return {};
  }));
  AcceptOutcome out = m.outcome_of(*charge, secret);
  out.replayed = replay;
  return out;
}

Result<void> OneClick::decline(const OfferTokenClaims& claims) {
  Impl& m = *impl_;
  return m.db.write([&](Tx& tx) -> Result<void> {
    int64_t now = m.clock.now_ms();
    Answer answer = AG_TRY(record_response(tx, claims, "decline", now));
    if (answer == Answer::kConflict) {
      return fail(ErrorCode::kForbidden, "this offer was already answered on this order");
    }
    if (answer == Answer::kFresh) {
      AG_CHECK(answer_event(tx, claims, "decline", now));
      if (claims.order_id) AG_CHECK(m.queue.enqueue(tx, offer_declined_job(claims)));
    }
    return {};
  });
}

Result<void> OneClick::record_signed(const OfferTokenClaims& claims) {
  Impl& m = *impl_;
  return m.db.write([&](Tx& tx) -> Result<void> {
    int64_t now = m.clock.now_ms();
    Answer answer = AG_TRY(record_response(tx, claims, "sign", now));
    if (answer == Answer::kConflict) {
      return fail(ErrorCode::kForbidden, "this offer was already answered on this order");
    }
    if (answer == Answer::kFresh) AG_CHECK(answer_event(tx, claims, "accept", now));
    return {};
  });
}

Result<void> OneClick::reconcile(const Job& job) {
  Impl& m = *impl_;
  json payload = json::parse(job.payload, nullptr, false);
  if (!payload.is_object() || !payload.contains("charge_id") ||
      !payload["charge_id"].is_number_integer()) {
    return fail(ErrorCode::kInvalidArgument, "reconcile: payload has no charge_id");
  }
  int64_t id = payload["charge_id"].get<int64_t>();
  std::optional<ChargeRow> charge;
  AG_CHECK(m.db.read([&](Tx& tx) -> Result<void> {
    charge = AG_TRY(load_charge(tx, id));
    return {};
  }));
  if (!charge) return {};  // deleted with its shop
  // A newer job of this charge's loop exists: it acts, not this one. (Jobs queued before seq
  // existed carry none and act.)
  if (payload.contains("seq") && payload["seq"].is_number_integer() &&
      payload["seq"].get<int64_t>() != charge->reconcile_seq) {
    return {};
  }
  const std::string& s = charge->state;
  if (payload.contains("after_check") && payload["after_check"].is_number_integer()) {
    if (s != "failed" || !charge->reason.starts_with(kNotChargedReason)) return {};
    return m.after_check(*charge, payload["after_check"].get<int>());
  }
  if (s != "pending" && s != "unknown" && s != "processing") return {};

  // 1. Did Stripe make a PaymentIntent under this key? Its metadata names the charge.
  SearchResult found =
      m.stripe.search_payment_intents_by_metadata("afterglow_charge", charge->charge_key,
                                                  charge->stripe_account);
  if (found.response.outcome != StripeOutcome::kOk) {
    // Nothing is known, so nothing is settled, deadline or not: try again later.
    log::warn("checkout.reconcile", {{"charge_id", std::to_string(id)},
                                     {"outcome", "Stripe search failed"},
                                     {"stripe_status", std::to_string(found.response.http_status)}});
    return m.schedule_next(*charge);
  }
  if (!found.intents.empty()) {
    std::string to;
    AG_CHECK(m.db.write([&](Tx& tx) -> Result<void> {
      to = AG_TRY(apply_intent(tx, *charge, charge->state, found.intents.front(), m.queue,
                               m.clock.now_ms()));
      return {};
    }));
    // Still settling at Stripe (e.g. requires_confirmation): look again later.
    if (to.empty() && charge->state != "processing") return m.schedule_next(*charge);
    return {};
  }
  if (s == "processing") return m.schedule_next(*charge);  // its webhook is on the way
  const int64_t now = m.clock.now_ms();
  if (s == "pending" && charge->lease_until_ms && *charge->lease_until_ms > now) {
    return m.schedule_next(*charge);  // a request is talking to Stripe right now
  }
  // 2. Nothing there. Past the deadline the charge is settled as not charged.
  if (now >= m.deadline_of(*charge)) return m.settle_not_charged(*charge);
  // 3. Within it: send again under the same key. Stripe either replays what it stored (a 500
  // stays indeterminate and we try later) or runs it for the first time, once.
  bool leased = false;
  AG_CHECK(m.db.write([&](Tx& tx) -> Result<void> {
    if (s == "unknown") {
      Transition t{"pending", "reconciling: no payment found, sending again with the same key"};
      if (!AG_TRY(transition(tx, id, "unknown", t, now))) return {};
    }
    leased = AG_TRY(lease_charge(tx, id, m.lease_until(), now));
    return {};
  }));
  if (!leased) return m.schedule_next(*charge);
  auto [state, secret] = AG_TRY(m.submit(*charge, /*schedule=*/false));
  if (state == "unknown" || state == "pending") return m.schedule_next(*charge);
  return {};
}

Result<std::optional<AcceptOutcome>> OneClick::accepted_outcome(const OfferTokenClaims& claims) {
  Impl& m = *impl_;
  if (!claims.order_id) return std::optional<AcceptOutcome>{};
  std::optional<ChargeRow> charge;
  AG_CHECK(m.db.read([&](Tx& tx) -> Result<void> {
    auto used = AG_TRY(tx.query_one(
        "SELECT 1 FROM offer_responses WHERE token_id = ? AND shop_id = ? AND action = 'accept'",
        {claims.token_id, claims.shop_id}));
    if (!used) return {};
    charge = AG_TRY(
        load_charge_by_key(tx, charge_key(claims.shop_id, *claims.order_id, claims.offer_id)));
    return {};
  }));
  if (!charge) return std::optional<AcceptOutcome>{};
  AcceptOutcome out = m.outcome_of(*charge, "");
  out.replayed = true;
  return std::optional<AcceptOutcome>(std::move(out));
}

}  // namespace afterglow::checkout
