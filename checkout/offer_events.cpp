#include "checkout/offer_events.h"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <tuple>

#include "plugin/core/log.h"

namespace afterglow::checkout {
namespace {

using nlohmann::json;

DbValue opt(const std::optional<int64_t>& v) { return v ? DbValue{*v} : DbValue{}; }
DbValue text_or_null(const std::string& s) { return s.empty() ? DbValue{} : DbValue{s}; }

json decision_json(const Row& r) {
  json shown = json::parse(r.text(4), nullptr, false);
  json detail = json::parse(r.text(6), nullptr, false);
  json rejections = json::array();
  int64_t unmatched = 0;
  if (detail.is_object()) {
    if (auto it = detail.find("rejections"); it != detail.end() && it->is_array()) {
      rejections = *it;
    }
    if (auto it = detail.find("unmatched_not_listed"); it != detail.end() && it->is_number()) {
      unmatched = it->get<int64_t>();
    }
  }
  return json{{"id", r.i64(0)},
              {"surface", r.text(1)},
              {"order_key", r.text(2)},
              {"customer_id", r.is_null(3) ? json(nullptr) : json(r.i64(3))},
              {"shown", shown.is_array() ? shown : json::array()},
              {"reason", r.is_null(5) ? json(nullptr) : json(r.text(5))},
              {"rejections", std::move(rejections)},
              {"unmatched_not_listed", unmatched},
              {"created_at_ms", r.i64(7)}};
}

constexpr const char* kDecisionColumns =
    "SELECT id, surface, order_key, customer_id, shown, reason, detail, created_at_ms "
    "FROM offer_decisions ";

}  // namespace

Result<void> record_offer_event(Tx& tx, const OfferEvent& e) {
  AG_CHECK(tx.exec(
      "INSERT INTO offer_events (shop_id, surface, order_key, offer_id, customer_id, product_id, "
      "variant_id, arm, kind, amount_minor, currency, detail, created_at_ms) "
      // A repeated impression, holdout or expiry of the same order and offer is already
      // counted (the offer_events_once index, migration 0203).
      "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
      {e.shop_id, e.surface, e.order_key, opt(e.offer_id), opt(e.customer_id), opt(e.product_id),
       opt(e.variant_id), text_or_null(e.arm), e.kind, opt(e.amount_minor),
       text_or_null(e.currency), text_or_null(e.detail), e.created_at_ms}));
  return {};
}

OfferEvent offer_event_of(const OfferTokenClaims& c, std::string_view kind, int64_t now_ms) {
  OfferEvent e;
  e.shop_id = c.shop_id;
  e.surface = c.surface;
  e.order_key = c.order_key;
  e.offer_id = c.offer_id;
  e.customer_id = c.customer_id;
  e.product_id = c.product_id;
  e.variant_id = c.variant_id;
  e.arm = c.arm;
  e.kind = std::string(kind);
  e.amount_minor = c.amount_minor;
  e.currency = c.currency;
  e.created_at_ms = now_ms;
  return e;
}

DecisionRecord make_decision_record(int64_t shop_id, std::string surface, std::string order_key,
                                    std::optional<int64_t> customer_id, const Decision& decision,
                                    int64_t created_at_ms) {
  DecisionRecord r;
  r.shop_id = shop_id;
  r.surface = std::move(surface);
  r.order_key = std::move(order_key);
  r.customer_id = customer_id;
  r.created_at_ms = created_at_ms;
  r.reason = decision.offers.empty() ? decision.reason : "";
  r.shown.reserve(decision.offers.size());
  for (const ShownOffer& s : decision.offers) r.shown.push_back(s.offer_id);
  r.rejections = decision.rejections;
  const size_t listed =
      std::min(decision.unmatched_offer_ids.size(), DecisionRecord::kMaxListedUnmatched);
  for (size_t i = 0; i < listed; ++i) {
    r.rejections.push_back(
        Rejection{decision.unmatched_offer_ids[i], std::string(reason::kNoMatchingRule)});
  }
  r.unmatched_not_listed = static_cast<int64_t>(decision.unmatched_offer_ids.size() - listed);
  return r;
}

Result<void> record_decision(Tx& tx, const DecisionRecord& r) {
  json rejections = json::array();
  for (const Rejection& rej : r.rejections) {
    rejections.push_back({{"offer_id", rej.offer_id}, {"reason", rej.reason}});
  }
  json detail{{"rejections", std::move(rejections)},
              {"unmatched_not_listed", r.unmatched_not_listed}};
  AG_CHECK(tx.exec(
      "INSERT INTO offer_decisions (shop_id, surface, order_key, customer_id, shown, reason, "
      "detail, created_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
      {r.shop_id, r.surface, r.order_key, opt(r.customer_id), json(r.shown).dump(),
       text_or_null(r.reason), detail.dump(), r.created_at_ms}));
  return {};
}

// ---- EventSink ----

EventSink::EventSink(Db& db, std::chrono::milliseconds flush_interval, size_t max_batch,
                     size_t max_pending)
    : db_(db),
      flush_interval_(flush_interval),
      max_batch_(max_batch == 0 ? 1 : max_batch),
      max_pending_(max_pending),
      thread_([this] { run(); }) {}

EventSink::~EventSink() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void EventSink::add_decision(DecisionRecord record) { add(std::move(record)); }
void EventSink::add_event(OfferEvent event) { add(std::move(event)); }

void EventSink::add(Item item) {
  bool wake = false;
  {
    std::lock_guard lock(mutex_);
    if (pending_.size() >= max_pending_) {
      dropped_.fetch_add(1);
      if (!overflow_logged_.exchange(true)) {
        log::warn("offer event sink full: dropping decisions and impressions",
                  {{"max_pending", max_pending_}});
      }
      return;
    }
    pending_.push_back(std::move(item));
    ++queued_;
    // The writer sleeps without a deadline while idle: the first record starts its interval;
    // a full batch goes at once.
    wake = pending_.size() == 1 || pending_.size() >= max_batch_;
  }
  if (wake) wake_.notify_one();
}

void EventSink::flush() {
  std::unique_lock lock(mutex_);
  const uint64_t target = queued_;
  if (finished_ >= target) return;
  flush_target_ = std::max(flush_target_, target);
  wake_.notify_one();
  done_.wait(lock, [&] { return finished_ >= target; });
}

void EventSink::run() {
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait(lock, [&] { return stopping_ || !pending_.empty(); });
    if (pending_.empty()) break;  // stopping, and nothing left to write
    // Gather for up to one interval unless a batch is full, a flush waits or we are stopping.
    wake_.wait_for(lock, flush_interval_, [&] {
      return stopping_ || pending_.size() >= max_batch_ || finished_ < flush_target_;
    });
    std::vector<Item> batch;
    const size_t n = std::min(pending_.size(), max_batch_);
    batch.reserve(n);
    for (size_t i = 0; i < n; ++i) {
      batch.push_back(std::move(pending_.front()));
      pending_.pop_front();
    }
    lock.unlock();
    auto r = db_.write([&](Tx& tx) -> Result<void> {
      for (const Item& item : batch) {
        if (const auto* d = std::get_if<DecisionRecord>(&item)) {
          AG_CHECK(record_decision(tx, *d));
        } else {
          AG_CHECK(record_offer_event(tx, std::get<OfferEvent>(item)));
        }
      }
      return {};
    });
    if (r) {
      written_.fetch_add(static_cast<int64_t>(n));
    } else {
      dropped_.fetch_add(static_cast<int64_t>(n));
      log::error("offer event batch not written", {{"records", n}, {"error", r.error().message}});
    }
    lock.lock();
    finished_ += n;
    done_.notify_all();
  }
}

// ---- readers ----

Result<json> decisions_for_order(Tx& tx, int64_t shop_id, std::string_view order_key) {
  json out = json::array();
  for (const Row& r :
       AG_TRY(tx.query(std::string(kDecisionColumns) + "WHERE shop_id = ? AND order_key = ? "
                                                       "ORDER BY created_at_ms, id",
                       {shop_id, std::string(order_key)}))) {
    out.push_back(decision_json(r));
  }
  return out;
}

Result<json> recent_decisions(Tx& tx, int64_t shop_id, int limit, int64_t before_id) {
  json out = json::array();
  if (limit <= 0) return out;
  std::vector<Row> rows;
  // Ordered by (created_at_ms, id) so that offer_decisions_recent serves the scan; the cursor is
  // the last id seen, turned into its position in that order.
  if (before_id > 0) {
    auto at = AG_TRY(
        tx.query_one("SELECT created_at_ms FROM offer_decisions WHERE shop_id = ? AND id = ?",
                     {shop_id, before_id}));
    if (!at) return out;
    rows = AG_TRY(
        tx.query(std::string(kDecisionColumns) +
                     "WHERE shop_id = ? AND (created_at_ms < ? OR (created_at_ms = ? AND id < ?)) "
                     "ORDER BY created_at_ms DESC, id DESC LIMIT ?",
                 {shop_id, at->i64(0), at->i64(0), before_id, int64_t{limit}}));
  } else {
    rows = AG_TRY(tx.query(std::string(kDecisionColumns) +
                               "WHERE shop_id = ? ORDER BY created_at_ms DESC, id DESC LIMIT ?",
                           {shop_id, int64_t{limit}}));
  }
  for (const Row& r : rows) out.push_back(decision_json(r));
  return out;
}

Result<json> offer_stats(Tx& tx, int64_t shop_id) {
  struct Stats {
    int64_t impressions = 0, accepts = 0, declines = 0, holdouts = 0;
    int64_t charged_minor = 0, charges = 0, refunded_minor = 0;
  };
  std::map<std::pair<int64_t, std::string>, Stats> by_arm;
  for (const Row& r : AG_TRY(tx.query(
           "SELECT offer_id, COALESCE(arm, ''), kind, COUNT(DISTINCT order_key), COUNT(*), "
           "COALESCE(SUM(amount_minor), 0) FROM offer_events WHERE shop_id = ? AND offer_id IS "
           "NOT NULL AND kind IN ('impression', 'accept', 'decline', 'holdout', "
           "'charge_succeeded', 'refunded') GROUP BY offer_id, COALESCE(arm, ''), kind",
           {shop_id}))) {
    Stats& s = by_arm[{r.i64(0), r.text(1)}];
    const std::string kind = r.text(2);
    const int64_t orders = r.i64(3);
    if (kind == "impression") s.impressions = orders;
    if (kind == "accept") s.accepts = orders;
    if (kind == "decline") s.declines = orders;
    if (kind == "holdout") s.holdouts = orders;
    if (kind == "charge_succeeded") {
      s.charges = r.i64(4);
      s.charged_minor = r.i64(5);
    }
    if (kind == "refunded") s.refunded_minor = r.i64(5);
  }
  auto currency = AG_TRY(tx.query_one("SELECT currency FROM shops WHERE id = ?", {shop_id}));
  json cur = currency && !currency->is_null(0) ? json(currency->text(0)) : json(nullptr);
  json out = json::array();
  for (const auto& [key, s] : by_arm) {
    out.push_back({{"offer_id", key.first},
                   {"arm", key.second},
                   {"impressions", s.impressions},
                   {"accepts", s.accepts},
                   {"declines", s.declines},
                   {"holdouts", s.holdouts},
                   {"charged_minor", s.charged_minor},
                   {"charges", s.charges},
                   {"refunded_minor", s.refunded_minor},
                   {"currency", cur}});
  }
  return out;
}

}  // namespace afterglow::checkout
