// What the offer engine decided and what shoppers did with it: offer_decisions (one row per
// decision, with the reason when nothing was shown and why each offer was passed over) and
// offer_events (impressions, holdouts, answers, charge outcomes), checkout/migrations/0202.
// Analytics, the merchant's "why no offer on order #1001?" and the email/SMS sequences' fatigue
// rule read them.
//
// Writers: record_decision / record_offer_event run in the caller's transaction. The decision
// route must not wait for a disk write, so it hands decisions and impressions to an EventSink,
// which writes them in batches on its own thread. Answers and charge outcomes are written
// synchronously by their routes (they decide what may happen next).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <variant>
#include <vector>

#include "checkout/offer_decider.h"
#include "checkout/offer_token.h"
#include "plugin/core/db.h"

namespace afterglow::checkout {

// One row of offer_events. `kind`: impression | accept | decline | expire | holdout |
// charge_succeeded | charge_declined | charge_requires_action | charge_failed | appended |
// refunded. `surface`: post_purchase | thank_you. Money in minor units of `currency`.
struct OfferEvent {
  int64_t shop_id = 0;
  std::string surface;
  std::string order_key;  // platform order id, or the post-purchase referenceId
  std::optional<int64_t> offer_id;
  std::optional<int64_t> customer_id;
  std::optional<int64_t> product_id;
  std::optional<int64_t> variant_id;
  std::string arm;  // "" without A/B (stored as NULL)
  std::string kind;
  std::optional<int64_t> amount_minor;
  std::string currency;  // "" when no amount (stored as NULL)
  std::string detail;    // free text or JSON, "" for none (stored as NULL)
  int64_t created_at_ms = 0;
};

Result<void> record_offer_event(Tx& tx, const OfferEvent& event);

// The event of a shopper's answer to the offer an offer token names (accept, decline, expire):
// shop, surface, order, offer, customer, item, arm and amount come from the token.
OfferEvent offer_event_of(const OfferTokenClaims& claims, std::string_view kind, int64_t now_ms);

// One decision as stored. Offers passed over for not matching their triggers
// (Decision::unmatched_offer_ids) are many when a shop has thousands of offers and say little, so
// only the first kMaxListedUnmatched of them are listed (after the other rejections, with reason
// no_matching_rule); the rest are counted in unmatched_not_listed. Every other rejection is
// listed.
struct DecisionRecord {
  static constexpr size_t kMaxListedUnmatched = 100;

  int64_t shop_id = 0;
  std::string surface;
  std::string order_key;
  std::optional<int64_t> customer_id;
  std::vector<int64_t> shown;  // offer ids, best first
  std::string reason;          // "" when something was shown
  std::vector<Rejection> rejections;
  int64_t unmatched_not_listed = 0;
  int64_t created_at_ms = 0;
};

// The record of `decision`, with the rejections trimmed as described above.
DecisionRecord make_decision_record(int64_t shop_id, std::string surface, std::string order_key,
                                    std::optional<int64_t> customer_id, const Decision& decision,
                                    int64_t created_at_ms);

// Writes offer_decisions: shown as a JSON array of ids, detail as
// {"rejections": [{"offer_id", "reason"}], "unmatched_not_listed": n}.
Result<void> record_decision(Tx& tx, const DecisionRecord& record);

// Asynchronous batch writer for decisions and impressions. add_* only queues (microseconds,
// never waits for the database); one background thread writes what is queued in one write
// transaction per batch of at most `max_batch` records, at the latest `flush_interval` after
// the first queued record, or at once when a batch is full or flush() is called.
//
// Durability: a crash loses what was queued and not yet written: at most about one
// flush_interval of decisions and impressions (analytics undercount; no money is involved).
// A batch whose transaction fails is logged and dropped, not retried. Beyond `max_pending`
// (kMaxPending) queued records new ones are dropped and counted (logged once), so a database
// outage cannot grow the process without bound.
//
// Thread-safe: add_*, flush() and the counters may be called from any thread. The destructor
// writes everything still queued, then stops the thread. `db` must outlive the sink.
class EventSink {
 public:
  static constexpr size_t kMaxPending = 100'000;

  explicit EventSink(Db& db,
                     std::chrono::milliseconds flush_interval = std::chrono::milliseconds(50),
                     size_t max_batch = 500, size_t max_pending = kMaxPending);
  ~EventSink();
  EventSink(const EventSink&) = delete;
  EventSink& operator=(const EventSink&) = delete;

  void add_decision(DecisionRecord record);
  void add_event(OfferEvent event);

  // Blocks until every record queued before the call has been written (or its batch failed).
  void flush();

  int64_t written() const { return written_.load(); }  // records committed
  int64_t dropped() const { return dropped_.load(); }  // refused when full, or in a failed batch

 private:
  using Item = std::variant<DecisionRecord, OfferEvent>;
  void add(Item item);
  void run();

  Db& db_;
  const std::chrono::milliseconds flush_interval_;
  const size_t max_batch_;
  const size_t max_pending_;

  std::mutex mutex_;
  std::condition_variable wake_;  // the writer: work arrived, flush asked, or stopping
  std::condition_variable done_;  // flush(): a batch finished
  std::deque<Item> pending_;      // GUARDED_BY(mutex_)
  uint64_t queued_ = 0;           // GUARDED_BY(mutex_): records ever accepted
  uint64_t finished_ = 0;         // GUARDED_BY(mutex_): records written or dropped by a batch
  uint64_t flush_target_ = 0;     // GUARDED_BY(mutex_): write at once until finished_ reaches it
  bool stopping_ = false;         // GUARDED_BY(mutex_)
  std::atomic<int64_t> written_{0};
  std::atomic<int64_t> dropped_{0};
  std::atomic<bool> overflow_logged_{false};
  std::thread thread_;  // last: starts after every member above is ready
};

// Readers for the admin API. Each decision: {id, surface, order_key, customer_id, shown,
// reason, rejections, unmatched_not_listed, created_at_ms}.

// Every decision for one order, oldest first (a JSON array).
Result<nlohmann::json> decisions_for_order(Tx& tx, int64_t shop_id, std::string_view order_key);
// Newest first: up to `limit` decisions older than the one with id `before_id` (0: from the
// newest). A JSON array.
Result<nlohmann::json> recent_decisions(Tx& tx, int64_t shop_id, int limit, int64_t before_id);
// Per offer and arm ("" without A/B), a JSON array sorted by offer id and arm, each:
// {offer_id, arm, impressions, accepts, declines, holdouts (orders with such an event, each
// order counted once), charged_minor (sum of charge_succeeded amounts), charges (their count),
// refunded_minor (sum of refunded amounts), currency (the shop's, null when unknown)}.
Result<nlohmann::json> offer_stats(Tx& tx, int64_t shop_id);

}  // namespace afterglow::checkout
