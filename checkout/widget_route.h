// GET /checkout/widget.js: the thank-you widget for storefronts that are not Shopify
// (checkout/widget/widget.js, embedded in the binary at build time by cmake/embed_files.cmake, so
// the script a page loads always matches the server that answers it). Public and cacheable for a
// few minutes; any origin may load it (CORS *), as any storefront embeds it.
#pragma once

#include <string_view>
#include <vector>

namespace httplib {
class Server;
}  // namespace httplib

namespace afterglow::checkout {

struct WidgetFile {
  std::string_view name;     // "widget.js"
  std::string_view content;  // the file's bytes
};

// Every embedded file of checkout/widget/, sorted by name (generated).
const std::vector<WidgetFile>& widget_files();

// widget.js as served.
std::string_view widget_js();

// Registers GET /checkout/widget.js on `server` (call once per listener).
void mount_widget_route(httplib::Server& server);

}  // namespace afterglow::checkout
