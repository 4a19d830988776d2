#include "email/template.h"

#include <kainjow/mustache.hpp>
#include <nlohmann/json.hpp>
#include <vector>

namespace afterglow::email {
namespace {

namespace mustache = kainjow::mustache;

struct Position {
  size_t line = 1;
  size_t column = 1;
};

Position position_of(std::string_view source, size_t offset) {
  Position p;
  for (size_t i = 0; i < offset && i < source.size(); ++i) {
    if (source[i] == '\n') {
      ++p.line;
      p.column = 1;
    } else if ((static_cast<unsigned char>(source[i]) & 0xC0) != 0x80) {
      ++p.column;  // count characters, not UTF-8 continuation bytes
    }
  }
  return p;
}

std::string where(std::string_view source, size_t offset) {
  Position p = position_of(source, offset);
  return "line " + std::to_string(p.line) + ", column " + std::to_string(p.column);
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r' ||
                        s.front() == '\n')) {
    s.remove_prefix(1);
  }
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

bool valid_name(std::string_view name) {
  if (name == ".") return true;
  if (name.empty() || name.front() == '.' || name.back() == '.') return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.';
    if (!ok) return false;
  }
  return true;
}

struct OpenSection {
  std::string name;
  size_t offset;
};

// Checks the template and rewrites the {{name|fallback}} shorthand into sections. Knowing every
// tag here (delimiters cannot change) lets errors carry a line and column, which kainjow's byte
// offsets into the rewritten text could not.
Result<std::string> prepare(std::string_view source) {
  std::string out;
  out.reserve(source.size() + 64);
  std::vector<OpenSection> open;
  size_t i = 0;
  auto error = [&](size_t offset, const std::string& what) {
    return fail(ErrorCode::kInvalidArgument, "template " + where(source, offset) + ": " + what);
  };
  while (i < source.size()) {
    size_t start = source.find("{{", i);
    if (start == std::string_view::npos) {
      out.append(source.substr(i));
      break;
    }
    out.append(source.substr(i, start - i));
    bool triple = start + 2 < source.size() && source[start + 2] == '{';
    std::string_view closer = triple ? "}}}" : "}}";
    size_t inner_begin = start + (triple ? 3 : 2);
    size_t end = source.find(closer, inner_begin);
    if (end == std::string_view::npos) {
      return error(start, std::string("unclosed tag (no '") + std::string(closer) + "')");
    }
    std::string_view inner = source.substr(inner_begin, end - inner_begin);
    size_t next = end + closer.size();
    std::string_view raw_tag = source.substr(start, next - start);

    char sigil = triple || inner.empty() ? '\0' : trim(inner).empty() ? '\0' : trim(inner)[0];
    if (!triple && sigil == '!') {  // comment: anything goes, kainjow drops it
      out.append(raw_tag);
      i = next;
      continue;
    }
    if (inner.find("{{") != std::string_view::npos) {
      return error(start, "tag contains '{{' (a tag left unclosed before it?)");
    }
    if (!triple && sigil == '>') return error(start, "partials ({{> name}}) are not supported");
    if (!triple && sigil == '=') {
      return error(start, "changing delimiters ({{=… …=}}) is not supported");
    }

    if (!triple && (sigil == '#' || sigil == '^' || sigil == '/')) {
      std::string_view name = trim(trim(inner).substr(1));
      if (!valid_name(name)) {
        return error(start, "bad name '" + std::string(name) + "' in " + std::string(raw_tag));
      }
      if (sigil == '/') {
        if (open.empty()) {
          return error(start, std::string(raw_tag) + " closes a section that was never opened");
        }
        if (open.back().name != name) {
          return error(start, std::string(raw_tag) + " closes {{#" + open.back().name +
                                  "}} opened at " + where(source, open.back().offset));
        }
        open.pop_back();
      } else {
        open.push_back({std::string(name), start});
      }
      out.append(raw_tag);
      i = next;
      continue;
    }

    // A variable: {{x}}, {{&x}} or {{{x}}}, perhaps with a |fallback.
    std::string_view body = trim(inner);
    bool ampersand = !triple && sigil == '&';
    if (ampersand) body = trim(body.substr(1));
    std::string_view name = body;
    std::string_view fallback;
    size_t bar = body.find('|');
    bool has_fallback = bar != std::string_view::npos;
    if (has_fallback) {
      name = trim(body.substr(0, bar));
      fallback = trim(body.substr(bar + 1));
      if (fallback.find_first_of("{}") != std::string_view::npos) {
        return error(start, "a fallback may not contain '{' or '}'");
      }
    }
    if (name.empty()) return error(start, "empty tag " + std::string(raw_tag));
    if (!valid_name(name)) {
      return error(start, "bad name '" + std::string(name) + "' in " + std::string(raw_tag));
    }
    std::string value_tag = triple      ? "{{{" + std::string(name) + "}}}"
                            : ampersand ? "{{&" + std::string(name) + "}}"
                                        : "{{" + std::string(name) + "}}";
    if (has_fallback) {
      std::string n(name);
      out += "{{#" + n + "}}" + value_tag + "{{/" + n + "}}{{^" + n + "}}";
      out.append(fallback);
      out += "{{/" + n + "}}";
    } else {
      out += value_tag;
    }
    i = next;
  }
  if (!open.empty()) {
    return error(open.back().offset, "{{#" + open.back().name + "}} is never closed");
  }
  return out;
}

// JSON to kainjow's data. null and "" become false so that sections and the fallback shorthand
// treat them as absent (kainjow would show a section for an empty string).
mustache::data to_data(const nlohmann::json& v) {
  switch (v.type()) {
    case nlohmann::json::value_t::object: {
      mustache::data obj{mustache::data::type::object};
      for (auto it = v.begin(); it != v.end(); ++it) obj.set(it.key(), to_data(it.value()));
      return obj;
    }
    case nlohmann::json::value_t::array: {
      mustache::data list{mustache::data::type::list};
      for (const auto& e : v) list.push_back(to_data(e));
      return list;
    }
    case nlohmann::json::value_t::string: {
      const auto& s = v.get_ref<const std::string&>();
      if (s.empty()) return mustache::data{false};
      return mustache::data{s};
    }
    case nlohmann::json::value_t::boolean:
      return mustache::data{v.get<bool>()};
    case nlohmann::json::value_t::number_integer:
      return mustache::data{std::to_string(v.get<int64_t>())};
    case nlohmann::json::value_t::number_unsigned:
      return mustache::data{std::to_string(v.get<uint64_t>())};
    case nlohmann::json::value_t::number_float:
      return mustache::data{v.dump()};
    default:
      return mustache::data{false};
  }
}

// &#39; rather than kainjow's &apos;, which older Outlook versions show literally.
std::string html_escape(const std::string& s) {
  std::string out;
  out.reserve(s.size() + 16);
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

// Partials are refused by prepare(); this context also never resolves one, so no data value
// can ever be parsed as a template.
class NoPartialsContext : public mustache::context<std::string> {
 public:
  using mustache::context<std::string>::context;
  const mustache::data* get_partial(const std::string&) const override { return nullptr; }
};

}  // namespace

Result<void> check_template(std::string_view source) {
  std::string prepared = AG_TRY(prepare(source));
  mustache::mustache tmpl{prepared};
  if (!tmpl.is_valid()) {
    return fail(ErrorCode::kInvalidArgument, "template: " + tmpl.error_message());
  }
  return {};
}

Result<std::string> render_template(std::string_view source, const nlohmann::json& data,
                                    TemplateMode mode) {
  if (!data.is_object()) {
    return fail(ErrorCode::kInvalidArgument, "template data must be a JSON object");
  }
  std::string prepared = AG_TRY(prepare(source));
  mustache::mustache tmpl{prepared};
  if (!tmpl.is_valid()) {
    return fail(ErrorCode::kInvalidArgument, "template: " + tmpl.error_message());
  }
  if (mode == TemplateMode::kHtml) {
    tmpl.set_custom_escape(html_escape);
  } else {
    tmpl.set_custom_escape([](const std::string& s) { return s; });
  }
  mustache::data root = to_data(data);
  NoPartialsContext ctx{&root};
  std::string out = tmpl.render(ctx);
  if (!tmpl.is_valid()) {
    return fail(ErrorCode::kInvalidArgument, "template: " + tmpl.error_message());
  }
  return out;
}

}  // namespace afterglow::email
