// Money as integer minor units. The platform sends amounts as decimal strings ("209.00");
// we keep them exact as int64 in the currency's minor unit (cents, yen, fils) and never pass
// them through a double.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "plugin/core/error.h"

namespace afterglow {

// The ISO 4217 minor-unit exponent of `currency` (three letters, any case): 0 for JPY, KRW, VND,
// CLP, ISK, UGX, XAF, XOF and the other zero-decimal currencies; 3 for BHD, IQD, JOD, KWD, LYD,
// OMR, TND; 4 for CLF and UYW; 2 for everything else (including codes we do not know, which is
// what ISO assigns to nearly every currency).
int currency_exponent(std::string_view currency);

// Parses a decimal amount such as "209.00", "1000", "0.5" or "-3.10" into minor units of
// `currency` ("0.5" USD is 50; "1000" JPY is 1000; "1.250" KWD is 1250).
// Fails with kInvalidArgument when:
//   - `currency` is not three ASCII letters;
//   - `amount` is not [-]digits[.digits] (no spaces, signs other than a leading '-', exponents,
//     thousands separators, or a bare ".");
//   - it has more decimals than the currency has and any of the extra digits is not zero
//     ("10.5" JPY fails, "1000.00" JPY is 1000: trailing zeros lose nothing);
//   - the result does not fit in int64.
// Pure and thread-safe.
Result<int64_t> parse_money(std::string_view amount, std::string_view currency);

}  // namespace afterglow

namespace afterglow {

// The decimal form of `minor` units of `currency` with exactly its exponent's decimals:
// (1250, "USD") → "12.50", (1000, "JPY") → "1000", (-5, "USD") → "-0.05". Pure and thread-safe.
std::string format_money(int64_t minor, std::string_view currency);

}  // namespace afterglow
