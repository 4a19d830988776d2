// The email layout: wrapper, cards and footer, the text version, and click-tracking rewriting
// that leaves the unsubscribe and preference links direct.
#include "email/email_layout.h"

#include <catch2/catch.hpp>

using namespace afterglow;
using namespace afterglow::email;

namespace {

EmailLayoutInput layout_sample() {
  EmailLayoutInput in;
  in.shop_name = "Acme & Co";
  in.preheader = "Picked for you";
  in.body_html =
      "<p>Hi Ana,</p>\n<p>See <a href=\"https://acme.example/blog?a=1&amp;b=2\">our blog</a> "
      "or <a href='https://acme.example/sale'>the sale</a>. Mail "
      "<a href=\"mailto:help@acme.example\">us</a>. <a href=\"#top\">Top</a></p>";
  in.items = {{"Blue <Mug>", "https://acme.example/products/mug", "https://cdn.example/mug.jpg",
               "$12.00"},
              {"Tee", "https://acme.example/products/tee", "", ""}};
  in.unsubscribe_url = "https://app.example/u/TOKEN?s=1&x=2";
  in.preferences_url = "https://app.example/u/TOKEN/preferences";
  in.postal_address = "1 Main St\nSpringfield, IL 62701\nUSA";
  return in;
}

EmailLayout lay_out(const EmailLayoutInput& in) {
  auto r = lay_out_email(in);
  INFO((r ? "" : r.error().message));
  REQUIRE(r);
  return *r;
}

}  // namespace

TEST_CASE("the layout carries the footer address and both direct links", "[render][layout]") {
  EmailLayoutInput in = layout_sample();
  EmailLayout out = lay_out(in);
  const std::string& h = out.html;
  CHECK(h.find("max-width:600px") != std::string::npos);
  CHECK(h.find("display:none") != std::string::npos);
  CHECK(h.find("Picked for you") < h.find("Hi Ana"));
  CHECK(h.find("<p>Hi Ana,</p>") != std::string::npos);
  // Footer: the links (attribute-escaped), the address and the reason with the shop name.
  CHECK(h.find("href=\"https://app.example/u/TOKEN?s=1&amp;x=2\"") != std::string::npos);
  CHECK(h.find("href=\"https://app.example/u/TOKEN/preferences\"") != std::string::npos);
  CHECK(h.find("1 Main St<br>Springfield, IL 62701<br>USA") != std::string::npos);
  CHECK(h.find("because you shopped at Acme &amp; Co") != std::string::npos);
  // Cards: escaped title, image, price, a button to the item.
  CHECK(h.find("Blue &lt;Mug&gt;") != std::string::npos);
  CHECK(h.find("src=\"https://cdn.example/mug.jpg\"") != std::string::npos);
  CHECK(h.find("$12.00") != std::string::npos);
  CHECK(h.find("Shop now</a>") != std::string::npos);

  const std::string& t = out.text;
  CHECK(t.find("Hi Ana,\n\nSee our blog (https://acme.example/blog?a=1&b=2) or the sale "
               "(https://acme.example/sale). Mail us. Top") != std::string::npos);
  CHECK(t.find("- Blue <Mug> ($12.00)\n  https://acme.example/products/mug\n") !=
        std::string::npos);
  CHECK(t.find("- Tee\n  https://acme.example/products/tee\n") != std::string::npos);
  CHECK(t.find("Unsubscribe: https://app.example/u/TOKEN?s=1&x=2\n") != std::string::npos);
  CHECK(t.find("Manage preferences: https://app.example/u/TOKEN/preferences\n") !=
        std::string::npos);
  CHECK(t.find("Acme & Co\n1 Main St\nSpringfield, IL 62701\nUSA") != std::string::npos);
  CHECK(t.find('<' + std::string("p>")) == std::string::npos);
}

TEST_CASE("link rewriting wraps every link except the unsubscribe and preference ones",
          "[render][layout]") {
  EmailLayoutInput in = layout_sample();
  in.body_html += " <a href=\"https://app.example/u/TOKEN?s=1&amp;x=2\">unsubscribe here</a>";
  EmailLayout out = lay_out(in);
  int calls = 0;
  auto wrap = [&](const std::string& url) {
    ++calls;
    return "https://app.example/t/c/" + std::to_string(calls) + "?u=" + url;
  };
  std::vector<std::string> direct = {in.unsubscribe_url, in.preferences_url};
  LinkRewrite html = rewrite_links(out.html, wrap, direct);
  std::vector<std::string> expected = {
      "https://acme.example/blog?a=1&b=2",   "https://acme.example/sale",
      "https://acme.example/products/mug",   "https://acme.example/products/mug",
      "https://acme.example/products/tee"};
  CHECK(html.destinations == expected);
  CHECK(calls == 5);
  // Wrapped values are attribute-escaped; direct, mailto and anchor links are untouched.
  CHECK(html.content.find("href=\"https://app.example/t/c/1?u=https://acme.example/blog?a=1&amp;"
                          "b=2\"") != std::string::npos);
  CHECK(html.content.find("href='https://app.example/t/c/2?u=https://acme.example/sale'") !=
        std::string::npos);
  CHECK(html.content.find("href=\"https://acme.example/blog") == std::string::npos);
  CHECK(html.content.find("href=\"https://app.example/u/TOKEN?s=1&amp;x=2\"") !=
        std::string::npos);
  CHECK(html.content.find("href=\"https://app.example/u/TOKEN/preferences\"") !=
        std::string::npos);
  CHECK(html.content.find("href=\"mailto:help@acme.example\"") != std::string::npos);
  CHECK(html.content.find("href=\"#top\"") != std::string::npos);
  // Images are not links.
  CHECK(html.content.find("src=\"https://cdn.example/mug.jpg\"") != std::string::npos);

  calls = 0;
  LinkRewrite text = rewrite_text_links(out.text, wrap, direct);
  std::vector<std::string> expected_text = {
      "https://acme.example/blog?a=1&b=2", "https://acme.example/sale",
      "https://acme.example/products/mug", "https://acme.example/products/tee"};
  CHECK(text.destinations == expected_text);
  CHECK(text.content.find("(https://app.example/t/c/2?u=https://acme.example/sale).") !=
        std::string::npos);
  CHECK(text.content.find("Unsubscribe: https://app.example/u/TOKEN?s=1&x=2\n") !=
        std::string::npos);
  CHECK(text.content.find("Manage preferences: https://app.example/u/TOKEN/preferences\n") !=
        std::string::npos);
}

TEST_CASE("plain text bodies become paragraphs and bad layout input is refused",
          "[render][layout]") {
  EmailLayoutInput in = layout_sample();
  in.body_html = "Hi Ana,\n\nYour order shipped.\nThanks &amp; see you!";
  in.items.clear();
  EmailLayout out = lay_out(in);
  CHECK(out.html.find("<p style=\"margin:0 0 16px;\">Hi Ana,</p>") != std::string::npos);
  CHECK(out.html.find("Your order shipped.<br>\nThanks &amp; see you!") != std::string::npos);
  CHECK(out.text.starts_with("Hi Ana,\n\nYour order shipped.\nThanks & see you!\n"));
  CHECK(out.html.find("You might also like") == std::string::npos);

  auto refused = [](auto mutate, std::string_view field) {
    EmailLayoutInput bad = layout_sample();
    mutate(bad);
    auto r = lay_out_email(bad);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == ErrorCode::kInvalidArgument);
    CHECK_THAT(r.error().message, Catch::Contains(std::string(field)));
  };
  refused([](EmailLayoutInput& b) { b.postal_address = " "; }, "postal_address");
  refused([](EmailLayoutInput& b) { b.unsubscribe_url = ""; }, "unsubscribe_url");
  refused([](EmailLayoutInput& b) { b.preferences_url = "javascript:alert(1)"; },
          "preferences_url");
  refused([](EmailLayoutInput& b) { b.shop_name = ""; }, "shop_name");
  refused([](EmailLayoutInput& b) { b.items[1].url = "https://a.example/\"onclick=x"; },
          "items[1].url");
  refused([](EmailLayoutInput& b) { b.open_pixel_url = "ftp://x.example/p.gif"; },
          "open_pixel_url");
}

TEST_CASE("html to text handles structure entities and hidden content", "[render][layout]") {
  CHECK(html_to_text("<html><head><title>T</title><style>p{color:red}</style></head><body>"
                     "<h1>Title</h1><p>One\n   two&nbsp;three &#8364;5 &#x41;</p>"
                     "<ul><li>a</li><li>b</li></ul>line<br>break<script>x()</script>"
                     "<!-- hidden --> <a href=\"https://x.example/\">https://x.example/</a>"
                     "<a href=\"https://y.example/\"><img src=\"i.png\"></a></body></html>") ==
        "Title\n\nOne two three \xE2\x82\xAC" "5 A\n\n- a\n- b\n\nline\nbreak "
        "https://x.example/ https://y.example/");
}
