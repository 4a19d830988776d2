#include "checkout/offer_cache.h"

#include "checkout/offer_store.h"

namespace afterglow::checkout {

Result<OfferCache::OfferList> OfferCache::get(Tx& tx, int64_t shop_id) {
  auto row =
      AG_TRY(tx.query_one("SELECT version FROM offer_versions WHERE shop_id = ?", {shop_id}));
  const int64_t version = row ? row->i64(0) : 0;
  {
    std::lock_guard lock(mutex_);
    auto it = entries_.find(shop_id);
    if (it != entries_.end() && it->second.version == version) return it->second.offers;
  }
  // Read after the version: a write committed in between leaves newer offers under the older
  // version, which only costs one more reload on the next request (never stale offers).
  auto offers = std::make_shared<const std::vector<Offer>>(AG_TRY(active_offers(tx, shop_id)));
  loads_.fetch_add(1);
  std::lock_guard lock(mutex_);
  // Last reload wins the slot. A concurrent reload that stores an older version only makes the
  // next request reload once more: the slot is compared for equality, never trusted as newer.
  entries_[shop_id] = Entry{version, offers};
  return OfferList(offers);
}

void OfferCache::clear() {
  std::lock_guard lock(mutex_);
  entries_.clear();
}

}  // namespace afterglow::checkout
