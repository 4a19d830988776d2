#include "plugin/core/json_fields.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <set>

namespace afterglow {

using nlohmann::json;

void FieldErrors::add(std::string field, std::string_view problem) {
  std::string message = field;
  message += ' ';
  message += problem;
  errors_.push_back(FieldError{std::move(field), std::move(message)});
}

Error FieldErrors::first() const {
  return Error{ErrorCode::kInvalidArgument,
               errors_.empty() ? std::string("invalid input") : errors_.front().message};
}

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::string format_number(double v) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return ec == std::errc() ? std::string(buf, end) : std::to_string(v);
}

std::optional<std::string> letters_upper(std::string_view code, size_t n) {
  if (code.size() != n) return std::nullopt;
  std::string out;
  for (char c : code) {
    if (!std::isalpha(static_cast<unsigned char>(c))) return std::nullopt;
    out += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return out;
}

}  // namespace

std::optional<int64_t> parse_platform_id(const json& value) {
  if (value.is_number_unsigned()) {
    uint64_t v = value.get<uint64_t>();
    if (v == 0 || v > static_cast<uint64_t>(INT64_MAX)) return std::nullopt;
    return static_cast<int64_t>(v);
  }
  if (value.is_number_integer()) {
    int64_t v = value.get<int64_t>();
    if (v <= 0) return std::nullopt;
    return v;
  }
  if (value.is_string()) {
    const std::string& s = value.get_ref<const std::string&>();
    if (s.empty() || s.size() > 19) return std::nullopt;
    int64_t v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || end != s.data() + s.size() || v <= 0) return std::nullopt;
    return v;
  }
  return std::nullopt;
}

std::optional<std::string> normalise_country(std::string_view code) {
  return letters_upper(trim(code), 2);
}

std::optional<std::string> normalise_currency(std::string_view code) {
  return letters_upper(trim(code), 3);
}

std::optional<std::string> normalise_tag(std::string_view tag) {
  std::string_view t = trim(tag);
  if (t.empty()) return std::nullopt;
  return std::string(t);
}

ObjectReader::ObjectReader(const json& value, std::string path, FieldErrors& errors)
    : obj_(value.is_object() ? &value : nullptr), path_(std::move(path)), errors_(errors) {
  if (!obj_) errors_.add(path_, "must be an object");
}

std::string ObjectReader::field(std::string_view key) const {
  return path_ + "." + std::string(key);
}

bool ObjectReader::has(std::string_view key) const {
  if (!obj_) return false;
  auto it = obj_->find(key);
  return it != obj_->end() && !it->is_null();
}

const json* ObjectReader::get(std::string_view key) {
  if (!obj_) return nullptr;
  read_.emplace_back(key);
  auto it = obj_->find(key);
  if (it == obj_->end() || it->is_null()) return nullptr;
  return &*it;
}

const json* ObjectReader::member(std::string_view key) { return get(key); }

std::string ObjectReader::text(std::string_view key, size_t max_len, bool required,
                               std::string fallback) {
  const json* v = get(key);
  if (!v) {
    if (required && obj_) errors_.add(field(key), "is required");
    return fallback;
  }
  if (!v->is_string()) {
    errors_.add(field(key), "must be a string");
    return fallback;
  }
  const std::string& s = v->get_ref<const std::string&>();
  if (s.size() > max_len) {
    errors_.add(field(key), "must be at most " + std::to_string(max_len) + " characters");
    return fallback;
  }
  if (required && trim(s).empty()) {
    errors_.add(field(key), "must not be empty");
    return fallback;
  }
  return s;
}

std::string ObjectReader::choice(std::string_view key,
                                 std::initializer_list<std::string_view> allowed, bool required,
                                 std::string fallback) {
  const json* v = get(key);
  std::string list;
  for (std::string_view a : allowed) {
    if (!list.empty()) list += ", ";
    list += a;
  }
  if (!v) {
    if (required && obj_) errors_.add(field(key), "is required (one of " + list + ")");
    return fallback;
  }
  if (v->is_string()) {
    const std::string& s = v->get_ref<const std::string&>();
    for (std::string_view a : allowed) {
      if (s == a) return s;
    }
  }
  errors_.add(field(key), "must be one of " + list);
  return fallback;
}

std::optional<int64_t> ObjectReader::integer(std::string_view key, int64_t min, int64_t max,
                                             bool required) {
  const json* v = get(key);
  if (!v) {
    if (required && obj_) errors_.add(field(key), "is required");
    return std::nullopt;
  }
  std::string range =
      "must be an integer between " + std::to_string(min) + " and " + std::to_string(max);
  int64_t n = 0;
  if (v->is_number_unsigned()) {
    uint64_t u = v->get<uint64_t>();
    if (u > static_cast<uint64_t>(INT64_MAX)) {
      errors_.add(field(key), range);
      return std::nullopt;
    }
    n = static_cast<int64_t>(u);
  } else if (v->is_number_integer()) {
    n = v->get<int64_t>();
  } else if (v->is_number_float() && std::isfinite(v->get<double>()) &&
             v->get<double>() == std::floor(v->get<double>()) &&
             std::fabs(v->get<double>()) < 9.0e15) {
    n = static_cast<int64_t>(v->get<double>());  // 5.0 from a form is still 5
  } else {
    errors_.add(field(key), range);
    return std::nullopt;
  }
  if (n < min || n > max) {
    errors_.add(field(key), range);
    return std::nullopt;
  }
  return n;
}

int64_t ObjectReader::integer_or(std::string_view key, int64_t min, int64_t max, int64_t fallback) {
  return integer(key, min, max).value_or(fallback);
}

std::optional<double> ObjectReader::number(std::string_view key, double min, double max,
                                           int decimals, bool required) {
  const json* v = get(key);
  if (!v) {
    if (required && obj_) errors_.add(field(key), "is required");
    return std::nullopt;
  }
  std::string range = "must be between " + format_number(min) + " and " + format_number(max);
  if (!v->is_number() || !std::isfinite(v->get<double>())) {
    errors_.add(field(key), range);
    return std::nullopt;
  }
  double d = v->get<double>();
  if (d < min || d > max) {
    errors_.add(field(key), range);
    return std::nullopt;
  }
  double scale = std::pow(10.0, decimals);
  if (std::fabs(d * scale - std::round(d * scale)) > 1e-6) {
    errors_.add(field(key), "must have at most " + std::to_string(decimals) + " decimal places");
    return std::nullopt;
  }
  return d;
}

bool ObjectReader::boolean(std::string_view key, bool fallback) {
  const json* v = get(key);
  if (!v) return fallback;
  if (!v->is_boolean()) {
    errors_.add(field(key), "must be true or false");
    return fallback;
  }
  return v->get<bool>();
}

std::optional<int64_t> ObjectReader::id(std::string_view key, bool required) {
  const json* v = get(key);
  if (!v) {
    if (required && obj_) errors_.add(field(key), "is required");
    return std::nullopt;
  }
  auto parsed = parse_platform_id(*v);
  if (!parsed) errors_.add(field(key), "must be a positive integer id");
  return parsed;
}

std::vector<int64_t> ObjectReader::id_list(std::string_view key, size_t max_items) {
  std::vector<int64_t> out;
  const json* v = get(key);
  if (!v) return out;
  if (!v->is_array()) {
    errors_.add(field(key), "must be a list of ids");
    return out;
  }
  if (v->size() > max_items) {
    errors_.add(field(key), "must have at most " + std::to_string(max_items) + " items");
    return out;
  }
  std::set<int64_t> seen;
  for (size_t i = 0; i < v->size(); ++i) {
    std::string item = field(key) + "[" + std::to_string(i) + "]";
    auto id = parse_platform_id((*v)[i]);
    if (!id) {
      errors_.add(item, "must be a positive integer id");
      continue;
    }
    if (!seen.insert(*id).second) {
      errors_.add(item, "repeats id " + std::to_string(*id));
      continue;
    }
    out.push_back(*id);
  }
  return out;
}

std::vector<std::string> ObjectReader::text_list(
    std::string_view key, size_t max_items, size_t max_len,
    const std::function<std::optional<std::string>(std::string_view)>& normalise,
    std::string_view bad_item_problem) {
  std::vector<std::string> out;
  const json* v = get(key);
  if (!v) return out;
  if (!v->is_array()) {
    errors_.add(field(key), "must be a list of strings");
    return out;
  }
  if (v->size() > max_items) {
    errors_.add(field(key), "must have at most " + std::to_string(max_items) + " items");
    return out;
  }
  std::set<std::string> seen;
  for (size_t i = 0; i < v->size(); ++i) {
    std::string item = field(key) + "[" + std::to_string(i) + "]";
    const json& e = (*v)[i];
    if (!e.is_string() || e.get_ref<const std::string&>().size() > max_len) {
      errors_.add(item, "must be a string of at most " + std::to_string(max_len) + " characters");
      continue;
    }
    std::optional<std::string> value = normalise ? normalise(e.get_ref<const std::string&>())
                                                 : normalise_tag(e.get<std::string>());
    if (!value) {
      errors_.add(item, bad_item_problem);
      continue;
    }
    std::string key_lower = *value;
    std::transform(key_lower.begin(), key_lower.end(), key_lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (!seen.insert(key_lower).second) {
      errors_.add(item, "repeats \"" + *value + "\"");
      continue;
    }
    out.push_back(std::move(*value));
  }
  return out;
}

void ObjectReader::reject_unknown(std::initializer_list<std::string_view> ignored) {
  if (!obj_) return;
  for (auto it = obj_->begin(); it != obj_->end(); ++it) {
    const std::string& k = it.key();
    if (std::find(read_.begin(), read_.end(), k) != read_.end()) continue;
    if (std::find(ignored.begin(), ignored.end(), k) != ignored.end()) continue;
    errors_.add(field(k), "is not a known field");
  }
}

}  // namespace afterglow
