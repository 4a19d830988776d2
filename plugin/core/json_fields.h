// Reading merchant-supplied JSON into typed models, with errors that name the field.
//
// Every problem becomes a FieldError whose `field` is a dotted path rooted at the resource
// ("offers.discount.percent", "flows.steps[2].subject") and whose `message` is a full sentence
// that starts with that path ("offers.discount.percent must be between 0 and 100"). A reader
// keeps going after a problem, so a form can show every bad field at once; the first error is
// what a Result carries (kInvalidArgument, mapped to 400 in http_reply.h).
//
// Include this only from .cpp files: it brings in nlohmann/json.hpp. Not thread-safe (one
// reader per request); holds references to the JSON it reads and the error list it fills.
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "plugin/core/error.h"

namespace afterglow {

struct FieldError {
  std::string field;    // "offers.discount.percent"
  std::string message;  // "offers.discount.percent must be between 0 and 100"
};

class FieldErrors {
 public:
  // Records "<field> <problem>".
  void add(std::string field, std::string_view problem);
  bool empty() const { return errors_.empty(); }
  const std::vector<FieldError>& all() const { return errors_; }
  // kInvalidArgument with the first message. Call only when !empty().
  Error first() const;

 private:
  std::vector<FieldError> errors_;
};

// Typed reads of the members of one JSON object at `path`. A missing optional member yields the
// default; a missing required member, a wrong type or a value out of range records an error and
// yields the default (so parsing can continue). Members never read are reported by
// reject_unknown(), which catches typos such as "dicount".
class ObjectReader {
 public:
  // When `value` is not an object, records "<path> must be an object" and every read returns
  // its default.
  ObjectReader(const nlohmann::json& value, std::string path, FieldErrors& errors);

  bool valid() const { return obj_ != nullptr; }
  const std::string& path() const { return path_; }
  std::string field(std::string_view key) const;
  bool has(std::string_view key) const;  // present and not null

  // A string of at most `max_len` bytes; when `required`, also not empty (after trimming).
  std::string text(std::string_view key, size_t max_len, bool required = false,
                   std::string fallback = "");
  // One of `allowed`; `fallback` when absent and not required.
  std::string choice(std::string_view key, std::initializer_list<std::string_view> allowed,
                     bool required, std::string fallback = "");
  // An integer in [min, max]. Accepts a JSON integer only (no fractions, no strings).
  std::optional<int64_t> integer(std::string_view key, int64_t min, int64_t max,
                                 bool required = false);
  int64_t integer_or(std::string_view key, int64_t min, int64_t max, int64_t fallback);
  // A number in [min, max] with at most `decimals` digits after the point.
  std::optional<double> number(std::string_view key, double min, double max, int decimals,
                               bool required = false);
  bool boolean(std::string_view key, bool fallback = false);
  // A platform id: a positive 64-bit integer, as a JSON number or a decimal string (ids past
  // 2^53 do not survive a JavaScript number).
  std::optional<int64_t> id(std::string_view key, bool required = false);
  // A list of at most `max_items` distinct platform ids.
  std::vector<int64_t> id_list(std::string_view key, size_t max_items);
  // A list of at most `max_items` distinct non-empty strings of at most `max_len` bytes, each
  // passed through `normalise` (e.g. upper-casing), which returns nullopt for a bad item; the
  // problem is then "<path>[i] <bad_item_problem>".
  std::vector<std::string> text_list(
      std::string_view key, size_t max_items, size_t max_len,
      const std::function<std::optional<std::string>(std::string_view)>& normalise = nullptr,
      std::string_view bad_item_problem = "is not valid");
  // The member itself (nullptr when absent or null); marks it as read.
  const nlohmann::json* member(std::string_view key);

  // Records "<path>.<key> is not a known field" for every member not read so far, except
  // those in `ignored` (read-only fields a client may echo back, such as "id").
  void reject_unknown(std::initializer_list<std::string_view> ignored = {});

  FieldErrors& errors() { return errors_; }

 private:
  const nlohmann::json* get(std::string_view key);

  const nlohmann::json* obj_;
  std::string path_;
  FieldErrors& errors_;
  std::vector<std::string> read_;
};

// Parses one platform id from a JSON number or decimal string; nullopt unless it is a positive
// 64-bit integer.
std::optional<int64_t> parse_platform_id(const nlohmann::json& value);

// "US" for "us"; nullopt unless two ASCII letters (ISO 3166-1 alpha-2).
std::optional<std::string> normalise_country(std::string_view code);
// "USD" for "usd"; nullopt unless three ASCII letters (ISO 4217).
std::optional<std::string> normalise_currency(std::string_view code);
// `tag` trimmed; nullopt when empty. Shopify compares tags case-insensitively, so the case the
// merchant typed is kept for display and matching lower-cases both sides.
std::optional<std::string> normalise_tag(std::string_view tag);

}  // namespace afterglow
