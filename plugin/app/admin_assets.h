// The merchant page's files (plugin/app/admin_page/*), embedded in the binary at build time by
// cmake/embed_files.cmake, so the page ships with the server and can never drift from it.
#pragma once

#include <string_view>
#include <vector>

namespace afterglow::app {

struct AdminAsset {
  std::string_view name;     // file name, e.g. "admin.js"
  std::string_view content;  // the file's bytes
};

// Every embedded file, sorted by name.
const std::vector<AdminAsset>& admin_assets();

}  // namespace afterglow::app
