// A private scratch directory for one test (or one benchmark run): created with mkdtemp under
// $TMPDIR (or /tmp), removed with everything in it when the TempDir is destroyed — unless the
// environment sets KEEP_TEST_DIRS, in which case the path is printed to stderr and the directory
// is left for inspection (server logs, the SQLite file).
#pragma once

#include <string>
#include <string_view>

namespace afterglow::testing {

class TempDir {
 public:
  // Throws std::runtime_error when the directory cannot be created (test set-up failure).
  explicit TempDir(std::string_view prefix = "afterglow-test");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  // Absolute path of the directory, without a trailing slash.
  const std::string& path() const { return path_; }
  // path() + "/" + name; the file is not created.
  std::string file(std::string_view name) const;

 private:
  std::string path_;
};

// The whole content of a file ("" when it does not exist).
std::string read_file(const std::string& path);

}  // namespace afterglow::testing
