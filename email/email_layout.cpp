#include "email/email_layout.h"

#include <algorithm>
#include <optional>

namespace afterglow::email {
namespace {

constexpr std::string_view kFont = "font-family:Arial,Helvetica,sans-serif;";

std::string ascii_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

bool starts_with_http(std::string_view url) {
  std::string lower = ascii_lower(url.substr(0, 8));
  return lower.starts_with("http://") || lower.starts_with("https://");
}

// An absolute http(s) URL with a host and no whitespace, control characters, quotes or angle
// brackets (which would never be a URL we generate, and could break out of an attribute).
bool is_http_url(std::string_view url) {
  if (!starts_with_http(url)) return false;
  size_t host = url.find("://") + 3;
  if (host >= url.size() || url[host] == '/') return false;
  for (char c : url) {
    auto b = static_cast<unsigned char>(c);
    if (b <= 32 || b == 127 || c == '"' || c == '\'' || c == '<' || c == '>') return false;
  }
  return true;
}

std::string escape_html(std::string_view s) {
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

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// Character references as a browser reads them in text and attribute values; unknown names are
// kept literally.
std::string decode_entities(std::string_view s) {
  struct Named {
    std::string_view name;
    uint32_t cp;
  };
  static constexpr Named kNamed[] = {
      {"amp", '&'},       {"lt", '<'},         {"gt", '>'},        {"quot", '"'},
      {"apos", '\''},     {"nbsp", 0xA0},      {"copy", 0xA9},     {"reg", 0xAE},
      {"middot", 0xB7},   {"ndash", 0x2013},   {"mdash", 0x2014},  {"lsquo", 0x2018},
      {"rsquo", 0x2019},  {"ldquo", 0x201C},   {"rdquo", 0x201D},  {"hellip", 0x2026},
      {"trade", 0x2122},  {"euro", 0x20AC},    {"pound", 0xA3},    {"zwnj", 0x200C},
  };
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '&') {
      out += s[i];
      continue;
    }
    size_t semi = s.find(';', i + 1);
    if (semi == std::string_view::npos || semi - i > 12) {
      out += '&';
      continue;
    }
    std::string_view ref = s.substr(i + 1, semi - i - 1);
    std::optional<uint32_t> cp;
    if (ref.size() > 1 && ref[0] == '#') {
      bool hex = ref[1] == 'x' || ref[1] == 'X';
      std::string_view digits = ref.substr(hex ? 2 : 1);
      uint32_t v = 0;
      bool ok = !digits.empty();
      for (char c : digits) {
        int d = (c >= '0' && c <= '9')               ? c - '0'
                : hex && c >= 'a' && c <= 'f'        ? c - 'a' + 10
                : hex && c >= 'A' && c <= 'F'        ? c - 'A' + 10
                                                     : -1;
        if (d < 0 || v > 0x10FFFF) {
          ok = false;
          break;
        }
        v = v * (hex ? 16 : 10) + static_cast<uint32_t>(d);
      }
      if (ok && v > 0 && v <= 0x10FFFF && !(v >= 0xD800 && v <= 0xDFFF)) cp = v;
    } else {
      for (const auto& n : kNamed) {
        if (n.name == ref) cp = n.cp;
      }
    }
    if (!cp) {
      out += '&';
      continue;
    }
    append_utf8(out, *cp);
    i = semi;
  }
  return out;
}

struct Attr {
  std::string name;  // lower case
  size_t value_begin = 0;
  size_t value_end = 0;
  char quote = 0;    // '"', '\'' or 0 (unquoted, or no value)
};

struct Tag {
  std::string name;  // lower case
  bool closing = false;
  size_t end = 0;    // one past '>'
  std::vector<Attr> attrs;

  const Attr* attr(std::string_view n) const {
    for (const auto& a : attrs) {
      if (a.name == n) return &a;
    }
    return nullptr;
  }
};

bool name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
}

// Reads the tag starting at html[lt] == '<'; nullopt when it is not a tag ("<3", "<!--", an
// unterminated tag).
std::optional<Tag> read_tag(std::string_view html, size_t lt) {
  Tag tag;
  size_t i = lt + 1;
  if (i < html.size() && html[i] == '/') {
    tag.closing = true;
    ++i;
  }
  size_t name_begin = i;
  if (i >= html.size() || !((html[i] >= 'a' && html[i] <= 'z') || (html[i] >= 'A' && html[i] <= 'Z'))) {
    return std::nullopt;
  }
  while (i < html.size() && name_char(html[i])) ++i;
  tag.name = ascii_lower(html.substr(name_begin, i - name_begin));
  while (i < html.size()) {
    while (i < html.size() && (is_space(html[i]) || html[i] == '/')) ++i;
    if (i >= html.size()) return std::nullopt;
    if (html[i] == '>') {
      tag.end = i + 1;
      return tag;
    }
    size_t an = i;
    while (i < html.size() && !is_space(html[i]) && html[i] != '=' && html[i] != '>' &&
           html[i] != '/') {
      ++i;
    }
    Attr attr;
    attr.name = ascii_lower(html.substr(an, i - an));
    while (i < html.size() && is_space(html[i])) ++i;
    if (i < html.size() && html[i] == '=') {
      ++i;
      while (i < html.size() && is_space(html[i])) ++i;
      if (i >= html.size()) return std::nullopt;
      if (html[i] == '"' || html[i] == '\'') {
        attr.quote = html[i];
        size_t close = html.find(attr.quote, i + 1);
        if (close == std::string_view::npos) return std::nullopt;
        attr.value_begin = i + 1;
        attr.value_end = close;
        i = close + 1;
      } else {
        attr.value_begin = i;
        while (i < html.size() && !is_space(html[i]) && html[i] != '>') ++i;
        attr.value_end = i;
      }
    } else {
      attr.value_begin = attr.value_end = i;
    }
    tag.attrs.push_back(std::move(attr));
  }
  return std::nullopt;
}

bool looks_like_html(std::string_view s) {
  for (size_t i = 0; i + 1 < s.size(); ++i) {
    if (s[i] == '<' && read_tag(s, i)) return true;
  }
  return false;
}

bool is_direct(const std::string& url, const std::vector<std::string>& direct_urls) {
  return std::find(direct_urls.begin(), direct_urls.end(), url) != direct_urls.end();
}

// Plain text (already escaped by the template) as paragraphs and line breaks.
std::string text_to_html(std::string_view text) {
  std::string out;
  std::string paragraph;
  auto flush = [&] {
    std::string_view p = trim(paragraph);
    if (!p.empty()) {
      out += "<p style=\"margin:0 0 16px;\">" + std::string(p) + "</p>\n";
    }
    paragraph.clear();
  };
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t eol = text.find('\n', pos);
    std::string_view line = text.substr(pos, eol == std::string_view::npos ? text.npos : eol - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (trim(line).empty()) {
      flush();
    } else {
      if (!paragraph.empty()) paragraph += "<br>\n";
      paragraph += trim(line);
    }
    if (eol == std::string_view::npos) break;
    pos = eol + 1;
  }
  flush();
  return out;
}

std::string html_recommendations(const EmailLayoutInput& in) {
  std::string out;
  out += "<tr><td style=\"padding:0 24px 8px;" + std::string(kFont) + "color:#1f2937;\">\n";
  out += "<h2 style=\"margin:0 0 16px;font-size:20px;line-height:1.3;\">" +
         escape_html(in.items_heading) + "</h2>\n";
  out += "<table role=\"presentation\" width=\"100%\" cellpadding=\"0\" cellspacing=\"0\" "
         "border=\"0\">\n";
  for (const auto& item : in.items) {
    std::string url = escape_html(item.url);
    out += "<tr><td style=\"padding:16px 0;border-top:1px solid #e5e7eb;\">\n";
    if (!item.image_url.empty()) {
      out += "<a href=\"" + url + "\"><img src=\"" + escape_html(item.image_url) + "\" alt=\"" +
             escape_html(item.title) +
             "\" width=\"240\" style=\"display:block;width:240px;max-width:100%;height:auto;"
             "border:0;border-radius:6px;\"></a>\n";
    }
    out += "<p style=\"margin:12px 0 4px;font-size:16px;font-weight:bold;\">" +
           escape_html(item.title) + "</p>\n";
    if (!item.price.empty()) {
      out += "<p style=\"margin:0 0 12px;font-size:16px;\">" + escape_html(item.price) + "</p>\n";
    }
    out += "<a href=\"" + url +
           "\" style=\"display:inline-block;padding:10px 20px;background-color:#111827;"
           "color:#ffffff;text-decoration:none;border-radius:6px;font-size:15px;\">" +
           escape_html(in.button_label) + "</a>\n";
    out += "</td></tr>\n";
  }
  out += "</table>\n</td></tr>\n";
  return out;
}

std::string lines_to_html(std::string_view text) {
  std::string out;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t eol = text.find('\n', pos);
    std::string_view line =
        trim(text.substr(pos, eol == std::string_view::npos ? text.npos : eol - pos));
    if (!line.empty()) {
      if (!out.empty()) out += "<br>";
      out += escape_html(line);
    }
    if (eol == std::string_view::npos) break;
    pos = eol + 1;
  }
  return out;
}

std::string lines_to_text(std::string_view text) {
  std::string out;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t eol = text.find('\n', pos);
    std::string_view line =
        trim(text.substr(pos, eol == std::string_view::npos ? text.npos : eol - pos));
    if (!line.empty()) {
      if (!out.empty()) out += '\n';
      out += line;
    }
    if (eol == std::string_view::npos) break;
    pos = eol + 1;
  }
  return out;
}

Result<void> require(bool ok, std::string message) {
  if (!ok) return fail(ErrorCode::kInvalidArgument, std::move(message));
  return {};
}

}  // namespace

std::string html_to_text(std::string_view html) {
  std::string out;
  bool pending_space = false;
  struct OpenLink {
    size_t label_start;
    std::string href;
  };
  std::vector<OpenLink> links;

  auto trim_trailing_spaces = [&] {
    while (!out.empty() && out.back() == ' ') out.pop_back();
  };
  auto line_break = [&](int newlines) {  // ensure the text ends with `newlines` line ends
    trim_trailing_spaces();
    pending_space = false;
    if (out.empty()) return;
    int have = 0;
    for (auto it = out.rbegin(); it != out.rend() && *it == '\n'; ++it) ++have;
    for (; have < newlines; ++have) out += '\n';
  };
  auto text = [&](std::string_view raw) {
    std::string decoded = decode_entities(raw);
    for (char c : decoded) {
      if (is_space(c)) {
        pending_space = true;
        continue;
      }
      if (pending_space && !out.empty() && out.back() != '\n') out += ' ';
      pending_space = false;
      out += c;
    }
  };

  size_t i = 0;
  while (i < html.size()) {
    size_t lt = html.find('<', i);
    if (lt == std::string_view::npos) {
      text(html.substr(i));
      break;
    }
    text(html.substr(i, lt - i));
    if (html.substr(lt, 4) == "<!--") {
      size_t end = html.find("-->", lt + 4);
      i = end == std::string_view::npos ? html.size() : end + 3;
      continue;
    }
    auto tag = read_tag(html, lt);
    if (!tag) {
      text("<");
      i = lt + 1;
      continue;
    }
    i = tag->end;
    const std::string& n = tag->name;
    if (!tag->closing && (n == "head" || n == "style" || n == "script" || n == "title")) {
      std::string closer = "</" + n;
      std::string lower_rest = ascii_lower(html.substr(i));
      size_t close = lower_rest.find(closer);
      if (close == std::string::npos) break;
      size_t gt = html.find('>', i + close);
      i = gt == std::string_view::npos ? html.size() : gt + 1;
      continue;
    }
    if (n == "br") {
      trim_trailing_spaces();
      pending_space = false;
      out += '\n';
    } else if (n == "p" || n == "h1" || n == "h2" || n == "h3" || n == "h4" || n == "h5" ||
               n == "h6" || n == "table" || n == "ul" || n == "ol" || n == "blockquote") {
      line_break(2);
    } else if (n == "div" || n == "tr" || n == "hr") {
      line_break(1);
    } else if (n == "li") {
      line_break(1);
      if (!tag->closing) out += "- ";
    } else if (n == "td" || n == "th") {
      pending_space = true;
    } else if (n == "a") {
      if (!tag->closing) {
        std::string href;
        if (const Attr* a = tag->attr("href")) {
          href = std::string(
              trim(decode_entities(html.substr(a->value_begin, a->value_end - a->value_begin))));
        }
        links.push_back({out.size(), href});
      } else if (!links.empty()) {
        OpenLink link = links.back();
        links.pop_back();
        if (starts_with_http(link.href)) {
          std::string_view label =
              trim(std::string_view(out).substr(std::min(link.label_start, out.size())));
          if (label.empty()) {
            if (!out.empty() && out.back() != '\n' && out.back() != ' ') out += ' ';
            out += link.href;
          } else if (label != link.href) {
            trim_trailing_spaces();
            out += " (" + link.href + ")";
          }
          pending_space = false;
        }
      }
    }
  }

  // Tidy: no trailing spaces on lines, at most one blank line in a row, no leading/trailing
  // blank lines; a no-break space reads as a space.
  std::string tidy;
  int newlines = 0;
  for (size_t k = 0; k < out.size(); ++k) {
    if (out.compare(k, 2, "\xC2\xA0") == 0) {
      tidy += ' ';
      ++k;
      newlines = 0;
      continue;
    }
    char c = out[k];
    if (c == '\n') {
      while (!tidy.empty() && tidy.back() == ' ') tidy.pop_back();
      if (++newlines <= 2 && !tidy.empty()) tidy += '\n';
      continue;
    }
    newlines = 0;
    tidy += c;
  }
  while (!tidy.empty() && (tidy.back() == '\n' || tidy.back() == ' ')) tidy.pop_back();
  return tidy;
}

Result<EmailLayout> lay_out_email(const EmailLayoutInput& in) {
  AG_CHECK(require(!trim(in.shop_name).empty(), "layout.shop_name must not be empty"));
  AG_CHECK(require(is_http_url(in.unsubscribe_url), "layout.unsubscribe_url must be an http(s) URL"));
  AG_CHECK(require(is_http_url(in.preferences_url), "layout.preferences_url must be an http(s) URL"));
  AG_CHECK(require(!trim(in.postal_address).empty(),
                   "layout.postal_address must not be empty (CAN-SPAM requires it)"));
  AG_CHECK(require(in.open_pixel_url.empty() || is_http_url(in.open_pixel_url),
                   "layout.open_pixel_url must be an http(s) URL"));
  for (size_t k = 0; k < in.items.size(); ++k) {
    std::string field = "layout.items[" + std::to_string(k) + "]";
    AG_CHECK(require(is_http_url(in.items[k].url), field + ".url must be an http(s) URL"));
    AG_CHECK(require(in.items[k].image_url.empty() || is_http_url(in.items[k].image_url),
                     field + ".image_url must be an http(s) URL"));
    AG_CHECK(require(!trim(in.items[k].title).empty(), field + ".title must not be empty"));
  }
  std::string reason = trim(in.reason).empty()
                           ? "You are receiving this email because you shopped at " +
                                 std::string(trim(in.shop_name)) + " or signed up for its emails."
                           : std::string(trim(in.reason));
  bool is_html = looks_like_html(in.body_html);
  std::string body_html = is_html ? in.body_html : text_to_html(in.body_html);
  std::string body_text = is_html ? html_to_text(in.body_html)
                                  : html_to_text(text_to_html(in.body_html));

  EmailLayout out;
  std::string& h = out.html;
  h += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
       "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
       "<meta name=\"x-apple-disable-message-reformatting\">\n<title>" +
       escape_html(in.shop_name) + "</title>\n</head>\n";
  h += "<body style=\"margin:0;padding:0;background-color:#f4f4f5;\">\n";
  if (!trim(in.preheader).empty()) {
    // Hidden everywhere but in the inbox preview; the filler keeps clients from pulling the
    // body's first words into the preview after it.
    h += "<div style=\"display:none;font-size:1px;line-height:1px;max-height:0;max-width:0;"
         "opacity:0;overflow:hidden;mso-hide:all;color:#f4f4f5;\">" +
         escape_html(trim(in.preheader));
    for (int k = 0; k < 40; ++k) h += "&#847;&zwnj;&nbsp;";
    h += "</div>\n";
  }
  h += "<table role=\"presentation\" width=\"100%\" cellpadding=\"0\" cellspacing=\"0\" "
       "border=\"0\" style=\"background-color:#f4f4f5;\">\n"
       "<tr><td align=\"center\" style=\"padding:24px 12px;\">\n"
       "<table role=\"presentation\" width=\"100%\" cellpadding=\"0\" cellspacing=\"0\" "
       "border=\"0\" style=\"width:100%;max-width:600px;background-color:#ffffff;"
       "border-radius:8px;\">\n";
  h += "<tr><td style=\"padding:32px 24px 16px;" + std::string(kFont) +
       "font-size:16px;line-height:1.5;color:#1f2937;\">\n" + body_html + "\n</td></tr>\n";
  if (!in.items.empty()) h += html_recommendations(in);
  h += "<tr><td style=\"padding:24px;border-top:1px solid #e5e7eb;" + std::string(kFont) +
       "font-size:12px;line-height:1.5;color:#6b7280;\">\n";
  h += "<p style=\"margin:0 0 8px;\">" + escape_html(reason) + "</p>\n";
  h += "<p style=\"margin:0 0 8px;\"><a href=\"" + escape_html(in.unsubscribe_url) +
       "\" style=\"color:#6b7280;text-decoration:underline;\">Unsubscribe</a> &middot; "
       "<a href=\"" + escape_html(in.preferences_url) +
       "\" style=\"color:#6b7280;text-decoration:underline;\">Manage preferences</a></p>\n";
  h += "<p style=\"margin:0;\">" + escape_html(trim(in.shop_name)) + "<br>" +
       lines_to_html(in.postal_address) + "</p>\n";
  h += "</td></tr>\n</table>\n</td></tr>\n</table>\n";
  if (!in.open_pixel_url.empty()) {
    h += "<img src=\"" + escape_html(in.open_pixel_url) +
         "\" width=\"1\" height=\"1\" alt=\"\" style=\"display:block;width:1px;height:1px;"
         "border:0;\">\n";
  }
  h += "</body>\n</html>\n";

  std::string& t = out.text;
  t += body_text;
  t += "\n\n";
  if (!in.items.empty()) {
    t += std::string(trim(in.items_heading)) + "\n\n";
    for (const auto& item : in.items) {
      t += "- " + std::string(trim(item.title));
      if (!trim(item.price).empty()) t += " (" + std::string(trim(item.price)) + ")";
      t += "\n  " + item.url + "\n";
    }
    t += "\n";
  }
  t += "--\n" + reason + "\n";
  t += "Unsubscribe: " + in.unsubscribe_url + "\n";
  t += "Manage preferences: " + in.preferences_url + "\n";
  t += std::string(trim(in.shop_name)) + "\n" + lines_to_text(in.postal_address) + "\n";
  return out;
}

LinkRewrite rewrite_links(std::string_view html,
                          const std::function<std::string(const std::string& url)>& wrap,
                          const std::vector<std::string>& direct_urls) {
  LinkRewrite result;
  std::string& out = result.content;
  out.reserve(html.size() + html.size() / 4);
  size_t copied = 0;
  size_t i = 0;
  while (true) {
    size_t lt = html.find('<', i);
    if (lt == std::string_view::npos) break;
    auto tag = read_tag(html, lt);
    if (!tag) {
      i = lt + 1;
      continue;
    }
    i = tag->end;
    if (tag->closing || (tag->name != "a" && tag->name != "area")) continue;
    const Attr* href = tag->attr("href");
    if (!href || href->quote == 0) continue;
    std::string url = std::string(
        trim(decode_entities(html.substr(href->value_begin, href->value_end - href->value_begin))));
    if (!starts_with_http(url) || is_direct(url, direct_urls)) continue;
    out.append(html.substr(copied, href->value_begin - copied));
    out += escape_html(wrap(url));
    copied = href->value_end;
    result.destinations.push_back(std::move(url));
  }
  out.append(html.substr(copied));
  return result;
}

LinkRewrite rewrite_text_links(std::string_view text,
                               const std::function<std::string(const std::string& url)>& wrap,
                               const std::vector<std::string>& direct_urls) {
  LinkRewrite result;
  std::string& out = result.content;
  std::string lower = ascii_lower(text);
  size_t copied = 0;
  size_t i = 0;
  while (i < text.size()) {
    size_t a = lower.find("http://", i);
    size_t b = lower.find("https://", i);
    size_t start = std::min(a, b);
    if (start == std::string::npos) break;
    size_t end = start;
    while (end < text.size()) {
      char c = text[end];
      if (is_space(c) || c == '"' || c == '<' || c == '>' || c == '(' || c == ')') break;
      ++end;
    }
    while (end > start && std::string_view(".,;:!?'").find(text[end - 1]) != std::string_view::npos) {
      --end;
    }
    std::string url(text.substr(start, end - start));
    i = std::max(end, start + 1);
    if (!is_http_url(url) || is_direct(url, direct_urls)) continue;
    out.append(text.substr(copied, start - copied));
    out += wrap(url);
    copied = end;
    result.destinations.push_back(std::move(url));
  }
  out.append(text.substr(copied));
  return result;
}

}  // namespace afterglow::email
