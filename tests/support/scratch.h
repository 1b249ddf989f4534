#pragma once

// Small helpers shared by the unit tests: a scratch directory that is removed whatever
// the test's outcome, and must() to unwrap a Result inside a test body.

#include <stdlib.h>

#include <filesystem>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "common/error.h"

namespace overmesh::testing {

// Unwraps a Result in a test body; an error throws, which gtest reports as a failure of the
// test with the error's kind and message.
template <typename T>
T must(Result<T> result) {
  if (!result) {
    throw std::runtime_error(std::string(errorKindName(result.error().kind)) + ": " +
                             result.error().message);
  }
  if constexpr (!std::is_void_v<T>) {
    return std::move(*result);
  }
}

// A fresh directory under the system temp dir, removed with everything in it when the test
// ends, whether it passed or not. The name is short: a unix socket path inside it must stay
// under 108 bytes.
class ScratchDir {
 public:
  ScratchDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "om-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) {
      throw std::runtime_error("mkdtemp: " + errnoText(errno));
    }
    path_ = pattern;
  }
  ~ScratchDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace overmesh::testing
