// Personalisation templates: escaping by mode, the fallback shorthand, and syntax errors that
// name their place.
#include "email/template.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

using namespace afterglow;
using namespace afterglow::email;
using nlohmann::json;

namespace {

std::string render(std::string_view source, const json& data, TemplateMode mode) {
  auto r = render_template(source, data, mode);
  INFO((r ? "" : r.error().message));
  REQUIRE(r);
  return *r;
}

std::string render_error(std::string_view source) {
  auto r = render_template(source, json::object(), TemplateMode::kHtml);
  REQUIRE_FALSE(r);
  CHECK(r.error().code == ErrorCode::kInvalidArgument);
  auto c = check_template(source);
  REQUIRE_FALSE(c);
  CHECK(c.error().message == r.error().message);
  return r.error().message;
}

}  // namespace

TEST_CASE("html mode escapes values and text mode does not", "[render][template]") {
  json data = {{"first_name", "<b>Tom</b> & \"Jerry's\""}};
  CHECK(render("Hi {{first_name}}", data, TemplateMode::kHtml) ==
        "Hi &lt;b&gt;Tom&lt;/b&gt; &amp; &quot;Jerry&#39;s&quot;");
  CHECK(render("Hi {{first_name}}", data, TemplateMode::kText) == "Hi <b>Tom</b> & \"Jerry's\"");
  // Triple braces and {{& }} are raw in both modes.
  CHECK(render("{{{first_name}}}|{{& first_name}}", data, TemplateMode::kHtml) ==
        "<b>Tom</b> & \"Jerry's\"|<b>Tom</b> & \"Jerry's\"");
  // Merchant-written markup around the tags is left alone.
  CHECK(render("<p>{{first_name}}</p>", {{"first_name", "A&B"}}, TemplateMode::kHtml) ==
        "<p>A&amp;B</p>");
}

TEST_CASE("the product variables render including item lists", "[render][template]") {
  json data = {{"first_name", "Ana"},
               {"shop_name", "Acme"},
               {"order_name", "#1001"},
               {"recovery_url", "https://acme.example/r?a=1&b=2"},
               {"items", json::array({{{"title", "Mug"}, {"price", "$12.00"}, {"url", "https://a/m"}},
                                      {{"title", "Tee"}, {"price", "$20.00"}, {"url", "https://a/t"}}})}};
  CHECK(render("{{shop_name}} {{order_name}}: {{#items}}[{{title}} {{price}}]{{/items}}", data,
               TemplateMode::kText) == "Acme #1001: [Mug $12.00][Tee $20.00]");
  // An attribute value is escaped too, so a URL with & stays a valid attribute.
  CHECK(render("<a href=\"{{recovery_url}}\">back</a>", data, TemplateMode::kHtml) ==
        "<a href=\"https://acme.example/r?a=1&amp;b=2\">back</a>");
  CHECK(render("{{^items}}none{{/items}}", {{"items", json::array()}}, TemplateMode::kText) ==
        "none");
  CHECK(render("{{missing}}.", data, TemplateMode::kText) == ".");
  CHECK(render("{{n}} {{x}}", {{"n", 42}, {"x", 1.5}}, TemplateMode::kText) == "42 1.5");
  CHECK(render("{{#vip}}VIP{{/vip}}{{^vip}}regular{{/vip}}", {{"vip", true}},
               TemplateMode::kText) == "VIP");
}

TEST_CASE("fallback shorthand and section fallbacks agree", "[render][template]") {
  const std::string shorthand = "Hi {{first_name|there}}!";
  const std::string sections =
      "Hi {{#first_name}}{{first_name}}{{/first_name}}{{^first_name}}there{{/first_name}}!";
  for (const auto& source : {shorthand, sections}) {
    CHECK(render(source, {{"first_name", "Ana"}}, TemplateMode::kText) == "Hi Ana!");
    CHECK(render(source, json::object(), TemplateMode::kText) == "Hi there!");
    CHECK(render(source, {{"first_name", ""}}, TemplateMode::kText) == "Hi there!");
    CHECK(render(source, {{"first_name", nullptr}}, TemplateMode::kText) == "Hi there!");
  }
  // Whitespace is trimmed; the value is still escaped in HTML mode; raw variants work.
  CHECK(render("{{ first_name | my friend }}", json::object(), TemplateMode::kHtml) ==
        "my friend");
  CHECK(render("{{first_name|x}}", {{"first_name", "<i>"}}, TemplateMode::kHtml) == "&lt;i&gt;");
  CHECK(render("{{{first_name|x}}}", {{"first_name", "<i>"}}, TemplateMode::kHtml) == "<i>");
  CHECK(render("{{&first_name|x}}", json::object(), TemplateMode::kHtml) == "x");
  CHECK(render("{{first_name|}}.", json::object(), TemplateMode::kText) == ".");
  // Inside a list section the fallback reads the element's fields.
  CHECK(render("{{#items}}{{price|ask}};{{/items}}",
               {{"items", json::array({{{"price", "$1"}}, json::object()})}},
               TemplateMode::kText) == "$1;ask;");
}

TEST_CASE("syntax errors are refused with their line and column", "[render][template]") {
  CHECK_THAT(render_error("Hi\n  {{first_name"),
             Catch::Contains("line 2, column 3") && Catch::Contains("unclosed tag"));
  CHECK_THAT(render_error("{{#items}}\n{{title}}\n"),
             Catch::Contains("line 1, column 1") && Catch::Contains("{{#items}} is never closed"));
  CHECK_THAT(render_error("{{#a}}x\n{{/b}}"),
             Catch::Contains("line 2, column 1") && Catch::Contains("closes {{#a}}"));
  CHECK_THAT(render_error("x{{/a}}"), Catch::Contains("never opened"));
  CHECK_THAT(render_error("{{> header}}"), Catch::Contains("partials"));
  CHECK_THAT(render_error("{{=<% %>=}}"), Catch::Contains("delimiters"));
  CHECK_THAT(render_error("{{first name}}"), Catch::Contains("bad name 'first name'"));
  CHECK_THAT(render_error("{{}}"), Catch::Contains("empty tag"));
  CHECK_THAT(render_error("{{a|{b}}"), Catch::Contains("fallback"));
  CHECK_THAT(render_error("{{{raw}}"), Catch::Contains("unclosed tag"));
  // Column counts characters, not bytes.
  CHECK_THAT(render_error("é{{x"), Catch::Contains("line 1, column 2"));

  CHECK(check_template("Hi {{first_name|there}} {{! note }}{{#items}}{{title}}{{/items}}"));
  CHECK(check_template("no tags at all"));
  auto not_object = render_template("x", json::array(), TemplateMode::kText);
  REQUIRE_FALSE(not_object);
  CHECK(not_object.error().code == ErrorCode::kInvalidArgument);
}

TEST_CASE("customer data is never parsed as a template", "[render][template]") {
  json data = {{"first_name", "{{secret}}"}, {"secret", "leak"}};
  CHECK(render("{{first_name}}", data, TemplateMode::kText) == "{{secret}}");
  CHECK(render("{{{first_name}}}", data, TemplateMode::kHtml) == "{{secret}}");
}
