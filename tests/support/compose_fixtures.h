#pragma once

// Compose fixtures for the loader's tests (tests/fixtures/compose/<lane>/): their paths and
// text. OVERMESH_SOURCE_DIR is defined by the test binary's CMake target.

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace overmesh::testing {

inline std::filesystem::path composeFixtureDir(const std::string& lane) {
  return std::filesystem::path(OVERMESH_SOURCE_DIR) / "tests" / "fixtures" / "compose" / lane;
}

inline std::string readComposeFixture(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// Every *.yml / *.yaml file in the lane's fixture directory, sorted.
inline std::vector<std::filesystem::path> composeFixtures(const std::string& lane) {
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(composeFixtureDir(lane))) {
    auto extension = entry.path().extension();
    if (entry.is_regular_file() && (extension == ".yml" || extension == ".yaml")) {
      files.push_back(entry.path());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace overmesh::testing
