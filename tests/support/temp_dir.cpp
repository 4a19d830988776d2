#include "tests/support/temp_dir.h"

#include <stdlib.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <vector>

namespace afterglow::testing {

TempDir::TempDir(std::string_view prefix) {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base && *base ? base : "/tmp") + "/" + std::string(prefix) +
                     "-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (mkdtemp(buf.data()) == nullptr) {
    throw std::runtime_error("mkdtemp(" + tmpl + ") failed: " + std::strerror(errno));
  }
  path_ = buf.data();
}

TempDir::~TempDir() {
  if (std::getenv("KEEP_TEST_DIRS") != nullptr) {
    std::fprintf(stderr, "KEEP_TEST_DIRS: kept %s\n", path_.c_str());
    return;
  }
  std::error_code ec;  // a destructor must not throw; a leftover temp dir is harmless
  std::filesystem::remove_all(path_, ec);
}

std::string TempDir::file(std::string_view name) const {
  return path_ + "/" + std::string(name);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

}  // namespace afterglow::testing
