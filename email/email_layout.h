// From a step's rendered body to the finished HTML and text of a marketing email: a responsive
// single-column wrapper, the recommended products as cards, and the footer every marketing email
// must carry (spec/messaging.md §1.1, §1.2: a visible unsubscribe link, the sender's postal
// address, why the person gets the email), plus click-tracking link rewriting.
//
// Order of use in the sender: render_template (email/template.h, kHtml) → lay_out_email →
// rewrite_links on the HTML and rewrite_text_links on the text (wrap = mint a click token for
// the URL) → build_mime_message (email/mime_message.h). The unsubscribe and preference links stay
// direct: a tracking redirect in front of them would make unsubscribing depend on the tracker,
// and RFC 8058 receivers compare the List-Unsubscribe URL with the visible one.
//
// Pure functions without state; thread-safe.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "plugin/core/error.h"

namespace afterglow::email {

struct LayoutItem {
  std::string title;      // plain text
  std::string url;        // http(s)://…, the product page
  std::string image_url;  // http(s)://…, may be empty (no image)
  std::string price;      // formatted, plain text ("$24.00"), may be empty
};

struct EmailLayoutInput {
  std::string shop_name;       // plain text, required
  std::string preheader;       // preview text shown next to the subject in inbox lists; may be empty
  // The step body rendered in kHtml mode. If it contains tags it is used as HTML; otherwise it is
  // plain text (values already escaped), and blank lines / line breaks become <p> / <br>.
  std::string body_html;
  std::vector<LayoutItem> items;                        // may be empty: no recommendation block
  std::string items_heading = "You might also like";    // plain text
  std::string button_label = "Shop now";                // plain text
  std::string unsubscribe_url;  // required, http(s)
  std::string preferences_url;  // required, http(s)
  std::string postal_address;   // required, plain text; line breaks are kept
  // "Why you get this", plain text. Empty: "You are receiving this email because you shopped
  // at <shop> or signed up for its emails."
  std::string reason;
  std::string open_pixel_url;   // optional, http(s): a 1x1 image at the end of the HTML
};

struct EmailLayout {
  std::string html;
  std::string text;
};

// Builds both versions. Plain-text inputs are HTML-escaped here; URLs are checked to be
// http(s) and attribute-escaped. The text version is the body as text (html_to_text), the items
// as a list ("- Title (price)" and the URL on the next line) and the footer with both links and
// the address. Fails with kInvalidArgument naming the field when a required field is empty or a
// URL is not http(s).
Result<EmailLayout> lay_out_email(const EmailLayoutInput& input);

// A readable text version of an HTML fragment: tags removed, <br> and block ends as line breaks,
// list items as "- ", links as "label (url)" (just the URL when the label is the URL), entities
// decoded, runs of whitespace collapsed as a browser would. <head>, <style> and <script> content
// is dropped.
std::string html_to_text(std::string_view html);

struct LinkRewrite {
  std::string content;                    // the input with the rewritten links
  std::vector<std::string> destinations;  // each original URL that was wrapped, in order
};

// Click tracking for HTML: every href="http(s)://…" (or href='…') of an <a> or <area> tag is
// replaced by wrap(url), with url entity-decoded as a browser would read it and the result
// attribute-escaped. Left alone: URLs in `direct_urls` (pass the unsubscribe and preference
// URLs), other schemes (mailto:, tel:, #anchors), and unquoted href values — the layout and
// the template editor always quote, and a tolerant HTML parser is not worth its risk here.
LinkRewrite rewrite_links(std::string_view html,
                          const std::function<std::string(const std::string& url)>& wrap,
                          const std::vector<std::string>& direct_urls);

// The same for a text part: every http:// or https:// URL (up to whitespace, a quote, '<', '>',
// '(' or ')', without trailing . , ; : ! ? ') not in `direct_urls` is replaced by wrap(url).
LinkRewrite rewrite_text_links(std::string_view text,
                               const std::function<std::string(const std::string& url)>& wrap,
                               const std::vector<std::string>& direct_urls);

}  // namespace afterglow::email
