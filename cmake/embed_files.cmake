# Writes a .cpp holding text files (the merchant page's HTML, JS and CSS) as {name, content},
# sorted by file name, for plugin/app/admin_assets.h.
# Usage: cmake -DOUT=file.cpp -DFILES=a.html,b.js -P embed_files.cmake
string(REPLACE "," ";" FILES "${FILES}")
list(SORT FILES)
set(entries "")
foreach(f IN LISTS FILES)
  get_filename_component(n ${f} NAME)
  file(READ ${f} content)
  string(FIND "${content}" ")__asset__" clash)
  if(NOT clash EQUAL -1)
    message(FATAL_ERROR "${f} contains the raw-string delimiter )__asset__")
  endif()
  string(APPEND entries "  {\"${n}\", R\"__asset__(${content})__asset__\"},\n")
endforeach()
file(WRITE ${OUT}.tmp "// Generated from plugin/app/admin_page/. Do not edit.\n#include \"plugin/app/admin_assets.h\"\n\nnamespace afterglow::app {\nconst std::vector<AdminAsset>& admin_assets() {\n  static const std::vector<AdminAsset> kAll = {\n${entries}  };\n  return kAll;\n}\n}  // namespace afterglow::app\n")
file(COPY_FILE ${OUT}.tmp ${OUT} ONLY_IF_DIFFERENT)
