// A per-process cache of each shop's active offers (checkout::active_offers), so the offer
// decision (POST /checkout/offers) reads one small indexed row instead of every offer.
//
// Freshness: every offer write bumps the shop's row in offer_versions in the same transaction
// (offer_store.cpp). get() reads that version (one SELECT by primary key) and reloads the offers
// only when it differs from the cached one, so a change made by any process is seen by the next
// request of every process. A shop without a version row reads as version 0.
//
// Thread-safe: one mutex guards the map; the database is read outside it, so one shop's reload
// never blocks another shop's request. Two requests of one shop may both reload after a change
// (the last one keeps the slot). Entries are never evicted (one list per shop that asks).
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "checkout/offer_model.h"
#include "plugin/core/db.h"

namespace afterglow::checkout {

class OfferCache {
 public:
  using OfferList = std::shared_ptr<const std::vector<Offer>>;

  // The shop's active offers in engine order (priority, then id), read in `tx` when the shop's
  // version changed since the cached copy. The list is immutable and may be kept after the
  // cache moves on. Errors are the database's.
  Result<OfferList> get(Tx& tx, int64_t shop_id);

  // Drops every cached list (tests, or after restoring a database).
  void clear();

  // How many times offers were read from the database (tests and metrics).
  int64_t loads() const { return loads_.load(); }

 private:
  struct Entry {
    int64_t version = 0;
    OfferList offers;
  };
  std::mutex mutex_;
  std::map<int64_t, Entry> entries_;  // GUARDED_BY(mutex_)
  std::atomic<int64_t> loads_{0};
};

}  // namespace afterglow::checkout
