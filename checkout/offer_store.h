// The offers table (checkout/migrations/0201_offers.sql). Every call is scoped to one shop: an
// offer of another shop is treated exactly like one that does not exist, so no call can read,
// change or even confirm the existence of another shop's offer.
//
// Calls run inside the caller's transaction. Writes validate the funnel against the shop's other
// offers (check_funnel) under a lock on the shop row, so two concurrent edits cannot together
// build a loop. Every write that changes an offer also bumps the shop's row in offer_versions
// (same transaction), which is how each process's OfferCache learns to reload. Thread-safe in
// the sense that they keep no state.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "checkout/offer_model.h"
#include "plugin/core/db.h"

namespace afterglow::checkout {

// Stores a new offer for `shop_id`; returns it with id and times set.
// kInvalidArgument naming the field when a funnel link is bad.
Result<Offer> insert_offer(Tx& tx, int64_t shop_id, Offer offer, int64_t now_ms);

// The offer, or nullopt when the shop has no offer with that id.
Result<std::optional<Offer>> find_offer(Tx& tx, int64_t shop_id, int64_t offer_id);

// Replaces the offer's fields; nullopt when the shop has no offer with that id.
Result<std::optional<Offer>> update_offer(Tx& tx, int64_t shop_id, int64_t offer_id, Offer offer,
                                          int64_t now_ms);

// Deletes the offer; false when the shop has no offer with that id. kConflict, naming the
// linking offer, when another offer's funnel leads to it (unlink that first).
Result<bool> delete_offer(Tx& tx, int64_t shop_id, int64_t offer_id);

// Up to `limit` offers of the shop with id > `after_id`, in id order.
Result<std::vector<Offer>> list_offers(Tx& tx, int64_t shop_id, int64_t after_id, int limit);

// The shop's active offers in the order the engine tries them (priority, then id).
Result<std::vector<Offer>> active_offers(Tx& tx, int64_t shop_id);

}  // namespace afterglow::checkout
