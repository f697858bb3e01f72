// TestDir: a fresh temporary folder for one test, removed with everything in it at the end.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <stdexcept>
#include <string>

namespace layerscope::server::testing {

class TestDir {
 public:
  TestDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "layerscope-server-test-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TestDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TestDir(const TestDir&) = delete;
  TestDir& operator=(const TestDir&) = delete;

  const std::string& path() const { return path_; }
  // A subfolder, created.
  std::string Sub(const std::string& name) const {
    const std::string sub = (std::filesystem::path(path_) / name).string();
    std::filesystem::create_directories(sub);
    return sub;
  }

 private:
  std::string path_;
};

}  // namespace layerscope::server::testing
