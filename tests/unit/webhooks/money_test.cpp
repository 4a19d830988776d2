// plugin/core/money and plugin/core/time_format: the exact conversions the order handlers rely on.
// (They live here, not under tests/unit/core, because these handlers are their first users.)
#include "plugin/core/money.h"

#include <catch2/catch.hpp>

#include "plugin/core/time_format.h"

namespace afterglow {
namespace {

TEST_CASE("money strings become exact minor units per ISO 4217 exponent", "[money]") {
  struct Case {
    const char* amount;
    const char* currency;
    int64_t minor;
  };
  const Case cases[] = {
      {"209.00", "USD", 20900},
      {"0.5", "USD", 50},
      {"1000", "USD", 100000},
      {"0.01", "EUR", 1},
      {"-3.10", "USD", -310},
      {"1000", "JPY", 1000},
      {"1000.00", "JPY", 1000},
      {"0", "KRW", 0},
      {"1.250", "KWD", 1250},
      {"1.25", "KWD", 1250},
      {"12", "BHD", 12000},
      {"9.9", "usd", 990},
      {"92233720368547758.07", "USD", 9223372036854775807LL},
      {"0.0001", "CLF", 1},
  };
  for (const Case& c : cases) {
    INFO(c.amount << " " << c.currency);
    auto r = parse_money(c.amount, c.currency);
    REQUIRE(r);
    CHECK(*r == c.minor);
  }
}

TEST_CASE("malformed money strings and excess decimals are refused", "[money]") {
  struct Case {
    const char* amount;
    const char* currency;
  };
  const Case cases[] = {
      {"", "USD"},       {"abc", "USD"},   {"1,000.00", "USD"},
      {"209,00", "EUR"}, {"1.", "USD"},    {".5", "USD"},
      {"+1.00", "USD"},  {" 1.00", "USD"}, {"1.00 ", "USD"},
      {"1e3", "USD"},    {"--1", "USD"},   {"0x10", "USD"},
      {"1.005", "USD"},  {"10.5", "JPY"},  {"1.2345", "KWD"},
      {"1.00", "US"},    {"1.00", "U$D"},  {"92233720368547758.08", "USD"},
  };
  for (const Case& c : cases) {
    INFO('"' << c.amount << "\" " << c.currency);
    auto r = parse_money(c.amount, c.currency);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == ErrorCode::kInvalidArgument);
  }
}

TEST_CASE("currency exponents follow ISO 4217", "[money]") {
  for (const char* c : {"JPY", "KRW", "VND", "CLP", "ISK", "UGX", "XAF", "XOF"}) {
    CHECK(currency_exponent(c) == 0);
  }
  for (const char* c : {"BHD", "KWD", "OMR", "JOD", "TND", "IQD", "LYD"}) {
    CHECK(currency_exponent(c) == 3);
  }
  for (const char* c : {"USD", "EUR", "GBP", "CAD", "XYZ"}) CHECK(currency_exponent(c) == 2);
}

TEST_CASE("ISO 8601 times with offsets become UTC milliseconds", "[time_format]") {
  CHECK(parse_iso8601_ms("1970-01-01T00:00:00Z") == 0);
  CHECK(parse_iso8601_ms("2025-04-22T14:30:00-05:00") == 1745350200000);
  CHECK(parse_iso8601_ms("2025-04-22T19:30:00Z") == 1745350200000);
  CHECK(parse_iso8601_ms("2025-04-23T01:00:00+05:30") == 1745350200000);
  CHECK(parse_iso8601_ms("2025-04-22T19:30:00.123456Z") == 1745350200123);
  CHECK(parse_iso8601_ms("2024-02-29t12:00:00z") == 1709208000000);
  CHECK(parse_iso8601_ms("1969-12-31T23:59:59Z") == -1000);
  CHECK(format_iso8601_utc(1745350200123) == "2025-04-22T19:30:00.123Z");
  CHECK(format_iso8601_utc(0) == "1970-01-01T00:00:00.000Z");
}

TEST_CASE("times without an offset or with impossible fields are refused", "[time_format]") {
  for (const char* t :
       {"", "2025-04-22", "2025-04-22T14:30:00", "2025-04-22 14:30:00Z", "2025-04-22T14:30Z",
        "2025-4-22T14:30:00Z", "2025-02-29T00:00:00Z", "2025-13-01T00:00:00Z",
        "2025-04-22T24:00:00Z", "2025-04-22T14:60:00Z", "2025-04-22T14:30:00+0500",
        "2025-04-22T14:30:00.Z", "2025-04-22T14:30:00Zjunk", "2025-04-22T14:30:00+05:00:00"}) {
    INFO(t);
    auto r = parse_iso8601_ms(t);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == ErrorCode::kInvalidArgument);
  }
}

}  // namespace
}  // namespace afterglow
