#include "checkout/charge_fulfilment.h"

#include <nlohmann/json.hpp>

#include "checkout/charge_store.h"
#include "checkout/order_edit_turns.h"
#include "plugin/core/catalog.h"
#include "plugin/core/log.h"
#include "plugin/core/money.h"

namespace afterglow::checkout {
namespace {

using nlohmann::json;

// Errors worth another attempt later: the platform or the network is having a moment. Anything
// else (the edit refused, the shop gone, no access) will not get better by waiting.
bool transient(const Error& e) {
  return e.code == ErrorCode::kUnavailable || e.code == ErrorCode::kInternal;
}

std::optional<int64_t> minor_in(const Money& m, std::string_view currency) {
  if (m.currency != currency) return std::nullopt;
  auto v = parse_money(m.amount, m.currency);
  return v ? std::optional<int64_t>(*v) : std::nullopt;
}

// The edit added exactly what was charged, to an order that owed nothing before it: marking the
// order paid then records the shopper's payment and nothing else. (orderMarkAsPaid pays the
// whole balance, so a balance of the merchant's own must not be swept into it.)
bool adds_only_own_line(const Money& before, const Money& after, int64_t amount_minor,
                        std::string_view currency) {
  auto b = minor_in(before, currency), a = minor_in(after, currency);
  return b && a && *b == 0 && *a - *b == amount_minor;
}

// Past these states the charge's edit of the order is over and the order's turn is passed on.
bool edit_over(std::string_view state) { return state != "committing" && state != "committed"; }

}  // namespace

ChargeFulfilment::ChargeFulfilment(Db& db, JobQueue& queue, PlatformClient* platform,
                                   StripeClient& stripe, const Clock& clock)
    : db_(db), queue_(queue), platform_(platform), stripe_(stripe), clock_(clock) {}

Result<void> ChargeFulfilment::run(const Job& job) {
  json payload = json::parse(job.payload, nullptr, false);
  if (!payload.is_object() || !payload.contains("charge_id") ||
      !payload["charge_id"].is_number_integer()) {
    return fail(ErrorCode::kInvalidArgument, "append: payload has no charge_id");
  }
  const int64_t id = payload["charge_id"].get<int64_t>();
  const bool last_attempt = job.attempt >= job.max_attempts;

  auto load = [&]() -> Result<std::optional<ChargeRow>> {
    std::optional<ChargeRow> c;
    AG_CHECK(db_.read([&](Tx& tx) -> Result<void> {
      c = AG_TRY(load_charge(tx, id));
      return {};
    }));
    return c;
  };
  auto move = [&](const ChargeRow& c, std::string_view from, Transition t,
                  std::string_view offer_event = {}) -> Result<bool> {
    bool moved = false;
    AG_CHECK(db_.write([&](Tx& tx) -> Result<void> {
      int64_t now = clock_.now_ms();
      moved = AG_TRY(transition(tx, c.id, from, t, now));
      if (moved && !offer_event.empty()) {
        AG_CHECK(charge_offer_event(tx, c, offer_event, t.reason, now));
      }
      if (moved && edit_over(t.to)) AG_CHECK(pass_edit_turn(tx, queue_, c, now));
      return {};
    }));
    log::info("checkout.fulfilment", {{"charge_id", std::to_string(c.id)},
                                      {"from", std::string(from)},
                                      {"to", t.to},
                                      {"moved", moved ? "yes" : "no"}});
    return moved;
  };

  auto charge = AG_TRY(load());
  if (!charge) return {};

  // Gives the money back: the item could not be added to the order.
  auto refund = [&](ChargeRow c) -> Result<void> {
    RefundResult r = stripe_.create_refund(
        c.payment_intent_id, c.amount_minor, "requested_by_customer",
        {{"order_id", std::to_string(c.order_id)}, {"afterglow_charge", c.charge_key},
         {"why", "order_edit_failed"}},
        c.charge_key + ":refund", c.stripe_account);
    if (r.response.outcome == StripeOutcome::kOk && r.refund) {
      Transition t{"refunded", "refunded " + r.refund->id + " (" + r.refund->status + ")"};
      t.refund_id = r.refund->id;
      AG_CHECK(move(c, "refunding", t, "refunded"));
      return {};
    }
    if (r.response.outcome == StripeOutcome::kIndeterminate && !last_attempt) {
      return fail(ErrorCode::kUnavailable, "refund: no definite answer from Stripe; retrying");
    }
    std::string why = r.response.error ? r.response.error->code + ": " + r.response.error->message
                                       : "HTTP " + std::to_string(r.response.http_status);
    AG_CHECK(move(c, "refunding", {"refund_failed", "Stripe refused the refund: " + why}));
    return {};
  };
  auto start_refund = [&](const ChargeRow& c, std::string_view from,
                          std::string why) -> Result<void> {
    if (!AG_TRY(move(c, from, {"refunding", why}))) return {};
    ChargeRow now = c;
    now.state = "refunding";
    return refund(now);
  };
  // A step of the edit failed: wait and retry if that may help, else refund.
  auto edit_failed = [&](const ChargeRow& c, const Error& e) -> Result<void> {
    if (transient(e) && !last_attempt) return std::unexpected(e);
    return start_refund(c, "succeeded", "the order edit failed: " + e.message);
  };
  auto mark_paid = [&](const ChargeRow& c, const std::string& order_gid) -> Result<void> {
    auto paid = platform_->order_mark_as_paid(c.shop_domain, order_gid);
    if (!paid) return std::unexpected(paid.error());  // committed: retry marking paid only
    AG_CHECK(move(c, "committed",
                  {"appended", "added to the order and marked paid (" + paid->financial_status +
                                   ")"},
                  "appended"));
    return {};
  };

  const std::string order_gid = "gid://shopify/Order/" + std::to_string(charge->order_id);
  const std::string& state = charge->state;
  if (state == "refunding") return refund(*charge);
  if (state == "committing") {
    // We crashed (or lost the answer) while committing: the line may or may not be on the
    // order. Appending again could add it twice and refunding could give away a delivered item.
    AG_CHECK(move(*charge, "committing",
                  {"append_unknown",
                   "the order edit's commit was interrupted; check order " +
                       std::to_string(charge->order_id) + " for the item"}));
    return {};
  }
  if (state == "committed") {
    if (!platform_) return fail(ErrorCode::kUnavailable, "append: no platform client");
    AG_CHECK(db_.write(
        [&](Tx& tx) -> Result<void> { return hold_edit_turn(tx, *charge, clock_.now_ms()); }));
    return mark_paid(*charge, order_gid);
  }
  if (state != "succeeded") return {};
  if (!platform_) {
    return start_refund(*charge, "succeeded",
                        "the platform client is not configured (TOKEN_ENCRYPTION_KEY)");
  }

  // One edit at a time on this order (order_edit_turns.h).
  EditTurn turn;
  AG_CHECK(db_.write([&](Tx& tx) -> Result<void> {
    turn = AG_TRY(take_edit_turn(tx, *charge, clock_.now_ms()));
    if (!turn.ours) AG_CHECK(wait_for_edit_turn(tx, queue_, *charge, turn));
    return {};
  }));
  if (!turn.ours) {
    log::info("checkout.fulfilment", {{"charge_id", std::to_string(charge->id)},
                                      {"waiting_for", std::to_string(turn.ahead_charge_id)},
                                      {"order_id", std::to_string(charge->order_id)}});
    return {};
  }

  const std::string& shop = charge->shop_domain;
  auto begun = platform_->order_edit_begin(shop, order_gid);
  if (!begun) return edit_failed(*charge, begun.error());
  auto added = platform_->order_edit_add_variant(shop, begun->calculated_order_id,
                                                 variant_gid(charge->variant_id),
                                                 static_cast<int>(charge->quantity));
  if (!added) return edit_failed(*charge, added.error());
  Money owed_shop = added->outstanding_shop, owed_presentment = added->outstanding_presentment;
  if (charge->discount_minor > 0) {
    // The platform's fixed discount is per unit; the offer's is per line.
    LineDiscount d;
    d.fixed = Money{format_money(charge->discount_minor / charge->quantity, charge->currency),
                    charge->currency};
    d.description = "Post-purchase offer";
    auto discounted = platform_->order_edit_add_line_item_discount(
        shop, begun->calculated_order_id, added->calculated_line_item_id, d);
    if (!discounted) return edit_failed(*charge, discounted.error());
    owed_shop = discounted->outstanding_shop;
    owed_presentment = discounted->outstanding_presentment;
  }
  if (!adds_only_own_line(begun->outstanding_presentment, owed_presentment, charge->amount_minor,
                          charge->currency) &&
      !adds_only_own_line(begun->outstanding_shop, owed_shop, charge->amount_minor,
                          charge->currency)) {
    // Marking the order paid would record more (or less) than the shopper paid: taxes or
    // shipping the offer did not price, or a balance the order already had. The uncommitted
    // edit is simply abandoned.
    return start_refund(*charge, "succeeded",
                        "the edited order would owe " + owed_presentment.amount + " " +
                            owed_presentment.currency + " (it owed " +
                            begun->outstanding_presentment.amount + " before), not the " +
                            format_money(charge->amount_minor, charge->currency) + " " +
                            charge->currency + " charged");
  }
  if (!AG_TRY(move(*charge, "succeeded", {"committing", "committing the order edit"}))) return {};
  auto committed = platform_->order_edit_commit(
      shop, begun->calculated_order_id, /*notify_customer=*/false,
      "Afterglow one-click offer " + std::to_string(charge->offer_id) + ", Stripe payment " +
          charge->payment_intent_id);
  ChargeRow c = *charge;
  c.state = "committing";
  if (!committed) {
    if (committed.error().code == ErrorCode::kConflict) {
      // userErrors: the platform refused the commit, so nothing was added.
      return start_refund(c, "committing", "the order edit was refused: " +
                                               committed.error().message);
    }
    AG_CHECK(move(c, "committing",
                  {"append_unknown", "no definite answer to the commit: " +
                                         committed.error().message +
                                         "; check the order for the item"}));
    return {};
  }
  AG_CHECK(move(c, "committing", {"committed", "line added to " + committed->order_id}));
  c.state = "committed";
  return mark_paid(c, order_gid);
}

}  // namespace afterglow::checkout
