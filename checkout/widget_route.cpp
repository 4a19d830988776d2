#include "checkout/widget_route.h"

#include <httplib.h>

namespace afterglow::checkout {

std::string_view widget_js() {
  for (const WidgetFile& f : widget_files()) {
    if (f.name == "widget.js") return f.content;
  }
  return {};
}

void mount_widget_route(httplib::Server& server) {
  server.Get("/checkout/widget.js", [](const httplib::Request&, httplib::Response& res) {
    // Five minutes: a deploy reaches storefronts quickly, and a busy thank-you page still gets
    // the script from the browser's cache on repeat visits.
    res.set_header("Cache-Control", "public, max-age=300");
    // Any storefront embeds it. The server may already have set the /checkout CORS headers
    // (checkout_routes.h); a second copy would make browsers refuse the answer.
    if (!res.has_header("Access-Control-Allow-Origin")) {
      res.set_header("Access-Control-Allow-Origin", "*");
    }
    res.set_header("X-Content-Type-Options", "nosniff");
    std::string_view js = widget_js();
    res.set_content(js.data(), js.size(), "text/javascript; charset=utf-8");
  });
}

}  // namespace afterglow::checkout
