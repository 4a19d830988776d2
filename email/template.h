// Personalisation of a message's subject, preview text and body: {{placeholders}} filled from the
// person, the order and the recommendations.
//
// Why Mustache (Debian's libkainjow-mustache-dev, header-only): it is logic-less, so a merchant
// template can only show values and choose between "present" and "absent", never compute or
// reach outside the data it is given; {{x}} escapes HTML by default, so a customer named
// `<script>` stays text; and it is packaged in Debian. Google's ctemplate was the alternative
// (also logic-less, also packaged) but needs a dictionary built call by call and knows no JSON.
//
// Syntax (a strict subset of Mustache, checked here before kainjow parses it):
//   {{name}}            the value, HTML-escaped in kHtml mode (& < > " ' become entities)
//   {{{name}}} {{&name}} the value as is (for trusted HTML; avoid for customer data)
//   {{#name}}…{{/name}} shown when `name` is present and not empty; repeated for each element of
//                       a list, with the element's fields in scope ({{#items}}{{title}}{{/items}})
//   {{^name}}…{{/name}} shown when `name` is missing, null, false, "" or []
//   {{! comment }}      dropped
//   {{name|fallback}}   shorthand for {{#name}}{{name}}{{/name}}{{^name}}fallback{{/name}}, so
//                       "Hi {{first_name|there}}" reads "Hi there" without a first name. Also
//                       {{{name|fallback}}} and {{&name|fallback}}. Whitespace around the name
//                       and the fallback is dropped; the fallback is template text written by
//                       the merchant (not escaped) and may not contain '{' or '}'.
// Names are `.` or letters, digits, '_', '-' and '.' (a dotted path: {{shop.name}}). Partials
// ({{> x}}) and delimiter changes ({{=<% %>=}}) are refused: we supply no partials, a partial
// named like a data field would parse customer data as a template, and fixed delimiters keep the
// fallback shorthand unambiguous.
//
// Data is a JSON object. Strings render as they are, integers in decimal, other numbers as JSON
// writes them, true renders nothing (it only opens sections); null and "" count as absent. The
// product provides these variables (missing ones render as empty):
//   first_name, last_name     the person, as the platform knows them (often empty: use fallbacks)
//   shop_name                 the shop's brand name
//   order_name                "#1001" (order triggers)
//   items                     list of recommended products, each {title, url, image_url, price}
//                             (price already formatted in the shop currency, "$24.00")
//   recovery_url              the platform's link back to an abandoned checkout
//   incentive_code            the shop's discount code, if it configured one
//   incentive_text            its description ("10% off your next order")
//   unsubscribe_url           the one-click unsubscribe / preference page for this message
//   preferences_url           the preference centre
//
// Errors: kInvalidArgument naming the problem and its place ("template line 3, column 7: {{/x}}
// closes {{#y}} opened at line 1, column 1"). Pure functions without state; thread-safe.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>

#include "plugin/core/error.h"

namespace afterglow::email {

enum class TemplateMode {
  kHtml,  // {{x}} is HTML-escaped (bodies of HTML email)
  kText,  // nothing is escaped (subjects, preview text, text parts, SMS)
};

// Renders `source` with `data` (a JSON object). Fails with kInvalidArgument when the template is
// malformed (see check_template) or `data` is not an object.
Result<std::string> render_template(std::string_view source, const nlohmann::json& data,
                                    TemplateMode mode);

// Checks the syntax only (tags closed, sections balanced, names well formed, no partials), for
// validating a flow when it is saved. Does not know which variables exist.
Result<void> check_template(std::string_view source);

}  // namespace afterglow::email
