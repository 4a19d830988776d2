#include "checkout/charge_ledger.h"

#include <nlohmann/json.hpp>

#include "plugin/core/money.h"

namespace afterglow::checkout {
namespace {

using nlohmann::json;

constexpr std::string_view kSelect =
    "SELECT id, charge_key, order_id, offer_id, product_id, variant_id, quantity, amount_minor, "
    "currency, discount_minor, payment_intent_id, state, reason, decline_code, refund_id, "
    "created_at_ms, updated_at_ms FROM charges WHERE shop_id = ? ";

json charge_json(const Row& r) {
  auto text_or_null = [&](size_t i) -> json {
    if (r.is_null(i)) return nullptr;
    return r.text(i);
  };
  std::string currency = r.text(8);
  return json{{"id", r.i64(0)},
              {"charge_key", r.text(1)},
              {"order_id", r.i64(2)},
              {"offer_id", r.i64(3)},
              {"product_id", r.i64(4)},
              {"variant_id", r.i64(5)},
              {"quantity", r.i64(6)},
              {"amount_minor", r.i64(7)},
              {"amount", format_money(r.i64(7), currency)},
              {"currency", currency},
              {"discount_minor", r.i64(9)},
              {"payment_intent_id", text_or_null(10)},
              {"state", r.text(11)},
              {"reason", text_or_null(12)},
              {"decline_code", text_or_null(13)},
              {"refund_id", text_or_null(14)},
              {"created_at_ms", r.i64(15)},
              {"updated_at_ms", r.i64(16)},
              {"events", json::array()}};
}

Result<void> attach_events(Tx& tx, json& charge) {
  auto rows = AG_TRY(tx.query(
      "SELECT state, reason, created_at_ms FROM charge_events WHERE charge_id = ? ORDER BY id",
      {charge["id"].get<int64_t>()}));
  for (const Row& r : rows) {
    charge["events"].push_back(
        json{{"state", r.text(0)}, {"reason", r.text(1)}, {"at_ms", r.i64(2)}});
  }
  return {};
}

}  // namespace

Result<json> list_charges(Tx& tx, int64_t shop_id, int limit, int64_t before_id) {
  std::string sql(kSelect);
  Params params{shop_id};
  if (before_id > 0) {
    sql += "AND id < ? ";
    params.push_back(before_id);
  }
  sql += "ORDER BY id DESC LIMIT ?";
  params.push_back(static_cast<int64_t>(limit));
  auto rows = AG_TRY(tx.query(sql, params));
  json out = json::array();
  for (const Row& r : rows) {
    json c = charge_json(r);
    AG_CHECK(attach_events(tx, c));
    out.push_back(std::move(c));
  }
  return out;
}

Result<std::optional<json>> charge_detail(Tx& tx, int64_t shop_id, int64_t charge_id) {
  auto row = AG_TRY(tx.query_one(std::string(kSelect) + "AND id = ?", {shop_id, charge_id}));
  if (!row) return std::optional<json>{};
  json c = charge_json(*row);
  AG_CHECK(attach_events(tx, c));
  return std::optional<json>(std::move(c));
}

}  // namespace afterglow::checkout
