#include "checkout/offer_store.h"

#include <nlohmann/json.hpp>

#include "plugin/core/crypto.h"
#include "plugin/core/json_fields.h"

namespace afterglow::checkout {
namespace {

using nlohmann::json;

constexpr const char* kColumns =
    "id, shop_id, kind, status, title, headline, product_id, variant_id, quantity, "
    "discount_type, discount_percent_bp, discount_amount_minor, free_shipping, priority, "
    "catch_all, after_accept_offer_id, after_decline_offer_id, triggers, ab_test, exclusions, "
    "created_at_ms, updated_at_ms";

DbValue opt(const std::optional<int64_t>& v) { return v ? DbValue{*v} : DbValue{}; }

std::string discount_type_name(DiscountType t) {
  switch (t) {
    case DiscountType::kPercent:
      return "percent";
    case DiscountType::kFixedAmount:
      return "fixed_amount";
    case DiscountType::kNone:
      break;
  }
  return "none";
}

// The stored row back into the model. The nested JSON parts were written by offer_to_json, so
// reading them through offer_from_json keeps one parser; a row that no longer parses is a bug
// (or a hand edit) and is reported as kInternal.
Result<Offer> from_row(const Row& r) {
  json j{{"kind", r.text(2)},
         {"status", r.text(3)},
         {"title", r.text(4)},
         {"headline", r.text(5)},
         {"product_id", r.i64(6)},
         {"quantity", r.i64(8)},
         {"free_shipping", r.i64(12) != 0},
         {"priority", r.i64(13)},
         {"catch_all", r.i64(14) != 0}};
  if (!r.is_null(7)) j["variant_id"] = r.i64(7);
  std::string dt = r.text(9);
  if (dt == "percent") {
    j["discount"] = {{"type", dt}, {"percent", static_cast<double>(r.i64(10)) / 100.0}};
  } else if (dt == "fixed_amount") {
    j["discount"] = {{"type", dt}, {"amount_minor", r.i64(11)}};
  }
  j["funnel"] = json::object();
  if (!r.is_null(15)) j["funnel"]["after_accept_offer_id"] = r.i64(15);
  if (!r.is_null(16)) j["funnel"]["after_decline_offer_id"] = r.i64(16);
  j["triggers"] = json::parse(r.text(17), nullptr, false);
  j["ab_test"] = json::parse(r.text(18), nullptr, false);
  j["exclusions"] = json::parse(r.text(19), nullptr, false);
  auto offer = offer_from_json(j);
  if (!offer) {
    return fail(ErrorCode::kInternal, "stored offer " + std::to_string(r.i64(0)) +
                                          " is invalid: " + offer.error().message);
  }
  offer->id = r.i64(0);
  offer->shop_id = r.i64(1);
  offer->created_at_ms = r.i64(20);
  offer->updated_at_ms = r.i64(21);
  return offer;
}

// Serialises funnel edits of one shop (PostgreSQL row lock; SQLite's write lock already does).
Result<void> lock_shop(Tx& tx, int64_t shop_id) {
  auto row = AG_TRY(tx.query_one("SELECT id FROM shops WHERE id = ? FOR UPDATE", {shop_id}));
  if (!row) return fail(ErrorCode::kNotFound, "no shop with id " + std::to_string(shop_id));
  return {};
}

Result<void> validate_funnel(Tx& tx, int64_t shop_id, const Offer& offer) {
  auto rows =
      AG_TRY(tx.query("SELECT id, kind, after_accept_offer_id, after_decline_offer_id FROM offers "
                      "WHERE shop_id = ?",
                      {shop_id}));
  std::vector<FunnelNode> nodes;
  nodes.reserve(rows.size());
  for (const Row& r : rows) {
    FunnelNode n;
    n.id = r.i64(0);
    n.kind = parse_offer_kind(r.text(1)).value_or(OfferKind::kUpsell);
    n.funnel.after_accept_offer_id = r.opt_i64(2);
    n.funnel.after_decline_offer_id = r.opt_i64(3);
    nodes.push_back(n);
  }
  return check_funnel(offer, nodes);
}

// Tells every process's OfferCache that the shop's offers changed (checkout/offer_cache.h), in
// the writer's transaction so the change and the bump commit together. A new row starts at a
// random version rather than 1: shop/redact deletes the row, and a cache still holding an old
// version must not mistake a restarted count for the list it has.
Result<void> bump_version(Tx& tx, int64_t shop_id) {
  uint64_t start = 0;
  for (unsigned char c : crypto::random_bytes(6)) start = (start << 8) | c;
  AG_CHECK(tx.exec(
      "INSERT INTO offer_versions (shop_id, version) VALUES (?, ?) ON CONFLICT (shop_id) "
      "DO UPDATE SET version = offer_versions.version + 1",
      {shop_id, static_cast<int64_t>(start) + 1}));
  return {};
}

Params row_params(const Offer& o) {
  json j = offer_to_json(o);  // the nested parts in their API form
  return {std::string(offer_kind_name(o.kind)),
          std::string(offer_status_name(o.status)),
          o.title,
          o.headline,
          o.product_id,
          opt(o.variant_id),
          o.quantity,
          discount_type_name(o.discount.type),
          o.discount.percent_bp,
          o.discount.amount_minor,
          int64_t{o.free_shipping ? 1 : 0},
          o.priority,
          int64_t{o.catch_all ? 1 : 0},
          opt(o.funnel.after_accept_offer_id),
          opt(o.funnel.after_decline_offer_id),
          j["triggers"].dump(),
          j["ab_test"].dump(),
          j["exclusions"].dump()};
}

}  // namespace

Result<Offer> insert_offer(Tx& tx, int64_t shop_id, Offer offer, int64_t now_ms) {
  AG_CHECK(lock_shop(tx, shop_id));
  offer.id = 0;
  AG_CHECK(validate_funnel(tx, shop_id, offer));
  Params p{shop_id};
  for (DbValue& v : row_params(offer)) p.push_back(std::move(v));
  p.push_back(now_ms);
  p.push_back(now_ms);
  auto row = AG_TRY(tx.query_one(
      std::string("INSERT INTO offers (shop_id, kind, status, title, headline, product_id, "
                  "variant_id, quantity, discount_type, discount_percent_bp, "
                  "discount_amount_minor, free_shipping, priority, catch_all, "
                  "after_accept_offer_id, after_decline_offer_id, triggers, ab_test, exclusions, "
                  "created_at_ms, updated_at_ms) "
                  "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                  "RETURNING ") +
          kColumns,
      p));
  if (!row) return fail(ErrorCode::kInternal, "offer insert returned no row");
  AG_CHECK(bump_version(tx, shop_id));
  return from_row(*row);
}

Result<std::optional<Offer>> find_offer(Tx& tx, int64_t shop_id, int64_t offer_id) {
  auto row = AG_TRY(
      tx.query_one(std::string("SELECT ") + kColumns + " FROM offers WHERE shop_id = ? AND id = ?",
                   {shop_id, offer_id}));
  if (!row) return std::optional<Offer>();
  return std::optional<Offer>(AG_TRY(from_row(*row)));
}

Result<std::optional<Offer>> update_offer(Tx& tx, int64_t shop_id, int64_t offer_id, Offer offer,
                                          int64_t now_ms) {
  AG_CHECK(lock_shop(tx, shop_id));
  auto exists = AG_TRY(
      tx.query_one("SELECT id FROM offers WHERE shop_id = ? AND id = ?", {shop_id, offer_id}));
  if (!exists) return std::optional<Offer>();
  offer.id = offer_id;
  AG_CHECK(validate_funnel(tx, shop_id, offer));
  Params p = row_params(offer);
  p.push_back(now_ms);
  p.push_back(shop_id);
  p.push_back(offer_id);
  auto row = AG_TRY(tx.query_one(
      std::string("UPDATE offers SET kind = ?, status = ?, title = ?, headline = ?, "
                  "product_id = ?, variant_id = ?, quantity = ?, discount_type = ?, "
                  "discount_percent_bp = ?, discount_amount_minor = ?, free_shipping = ?, "
                  "priority = ?, catch_all = ?, after_accept_offer_id = ?, "
                  "after_decline_offer_id = ?, triggers = ?, ab_test = ?, exclusions = ?, "
                  "updated_at_ms = ? WHERE shop_id = ? AND id = ? RETURNING ") +
          kColumns,
      p));
  if (!row) return std::optional<Offer>();
  AG_CHECK(bump_version(tx, shop_id));
  return std::optional<Offer>(AG_TRY(from_row(*row)));
}

Result<bool> delete_offer(Tx& tx, int64_t shop_id, int64_t offer_id) {
  AG_CHECK(lock_shop(tx, shop_id));
  auto linking = AG_TRY(tx.query_one(
      "SELECT id, CASE WHEN after_accept_offer_id = ? THEN 'after_accept_offer_id' "
      "ELSE 'after_decline_offer_id' END FROM offers WHERE shop_id = ? AND id <> ? AND "
      "(after_accept_offer_id = ? OR after_decline_offer_id = ?) ORDER BY id LIMIT 1",
      {offer_id, shop_id, offer_id, offer_id, offer_id}));
  if (linking) {
    return fail(ErrorCode::kConflict, "offer " + std::to_string(linking->i64(0)) +
                                          " leads to this offer (funnel." + linking->text(1) +
                                          "); change that offer's funnel first");
  }
  int64_t n =
      AG_TRY(tx.exec("DELETE FROM offers WHERE shop_id = ? AND id = ?", {shop_id, offer_id}));
  if (n > 0) AG_CHECK(bump_version(tx, shop_id));
  return n == 1;
}

Result<std::vector<Offer>> list_offers(Tx& tx, int64_t shop_id, int64_t after_id, int limit) {
  auto rows = AG_TRY(tx.query(std::string("SELECT ") + kColumns +
                                  " FROM offers WHERE shop_id = ? AND id > ? ORDER BY id LIMIT ?",
                              {shop_id, after_id, int64_t{limit}}));
  std::vector<Offer> out;
  out.reserve(rows.size());
  for (const Row& r : rows) out.push_back(AG_TRY(from_row(r)));
  return out;
}

Result<std::vector<Offer>> active_offers(Tx& tx, int64_t shop_id) {
  auto rows = AG_TRY(tx.query(std::string("SELECT ") + kColumns +
                                  " FROM offers WHERE shop_id = ? AND status = 'active' "
                                  "ORDER BY priority, id",
                              {shop_id}));
  std::vector<Offer> out;
  out.reserve(rows.size());
  for (const Row& r : rows) out.push_back(AG_TRY(from_row(r)));
  return out;
}

}  // namespace afterglow::checkout
