#include "plugin/core/money.h"

#include <algorithm>
#include <array>
#include <limits>
#include <string>

namespace afterglow {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

bool is_alpha(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }

std::string upper3(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

// ISO 4217 (amendment 176): currencies whose minor unit is not 2.
constexpr std::array<std::string_view, 17> kZeroDecimal = {"BIF", "CLP", "DJF", "GNF", "ISK", "JPY",
                                                           "KMF", "KRW", "PYG", "RWF", "UGX", "UYI",
                                                           "VND", "VUV", "XAF", "XOF", "XPF"};
constexpr std::array<std::string_view, 7> kThreeDecimal = {"BHD", "IQD", "JOD", "KWD",
                                                           "LYD", "OMR", "TND"};
constexpr std::array<std::string_view, 2> kFourDecimal = {"CLF", "UYW"};

template <size_t N>
bool contains(const std::array<std::string_view, N>& list, std::string_view code) {
  return std::find(list.begin(), list.end(), code) != list.end();
}

}  // namespace

int currency_exponent(std::string_view currency) {
  std::string code = upper3(currency);
  if (contains(kZeroDecimal, code)) return 0;
  if (contains(kThreeDecimal, code)) return 3;
  if (contains(kFourDecimal, code)) return 4;
  return 2;
}

Result<int64_t> parse_money(std::string_view amount, std::string_view currency) {
  if (currency.size() != 3 || !std::all_of(currency.begin(), currency.end(), is_alpha)) {
    return fail(ErrorCode::kInvalidArgument, "currency must be a three-letter ISO 4217 code");
  }
  const int exponent = currency_exponent(currency);
  auto bad = [&] {
    return fail(ErrorCode::kInvalidArgument,
                "malformed amount \"" + std::string(amount.substr(0, 32)) + "\"");
  };

  std::string_view s = amount;
  bool negative = false;
  if (!s.empty() && s.front() == '-') {
    negative = true;
    s.remove_prefix(1);
  }
  size_t dot = s.find('.');
  std::string_view whole = s.substr(0, dot);
  std::string_view frac = dot == std::string_view::npos ? std::string_view{} : s.substr(dot + 1);
  if (whole.empty() || !std::all_of(whole.begin(), whole.end(), is_digit)) return bad();
  if (dot != std::string_view::npos &&
      (frac.empty() || !std::all_of(frac.begin(), frac.end(), is_digit))) {
    return bad();
  }
  if (frac.size() > static_cast<size_t>(exponent)) {
    std::string_view extra = frac.substr(exponent);
    if (extra.find_first_not_of('0') != std::string_view::npos) {
      return fail(ErrorCode::kInvalidArgument, "amount \"" + std::string(amount.substr(0, 32)) +
                                                   "\" has more than " + std::to_string(exponent) +
                                                   " decimal(s) for " + upper3(currency));
    }
    frac = frac.substr(0, exponent);
  }

  // Accumulate as a negative number so INT64_MIN stays reachable and overflow is checked once.
  constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
  int64_t acc = 0;
  auto push = [&](char c) -> bool {
    int digit = c - '0';
    if (acc < (kMin + digit) / 10) return false;
    acc = acc * 10 - digit;
    return true;
  };
  for (char c : whole) {
    if (!push(c)) return fail(ErrorCode::kInvalidArgument, "amount is too large");
  }
  for (int i = 0; i < exponent; ++i) {
    char c = i < static_cast<int>(frac.size()) ? frac[i] : '0';
    if (!push(c)) return fail(ErrorCode::kInvalidArgument, "amount is too large");
  }
  if (negative) return acc;
  if (acc == kMin) return fail(ErrorCode::kInvalidArgument, "amount is too large");
  return -acc;
}

}  // namespace afterglow

namespace afterglow {

std::string format_money(int64_t minor, std::string_view currency) {
  int exp = currency_exponent(currency);
  bool negative = minor < 0;
  // Through unsigned so INT64_MIN negates without overflow.
  uint64_t magnitude = negative ? 0 - static_cast<uint64_t>(minor) : static_cast<uint64_t>(minor);
  std::string digits = std::to_string(magnitude);
  if (exp > 0) {
    if (digits.size() <= static_cast<size_t>(exp)) {
      digits.insert(0, static_cast<size_t>(exp) + 1 - digits.size(), '0');
    }
    digits.insert(digits.size() - static_cast<size_t>(exp), ".");
  }
  return negative ? "-" + digits : digits;
}

}  // namespace afterglow
