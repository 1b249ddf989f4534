#pragma once

// Loading the schema lane's compose fixtures (tests/fixtures/compose/schema/) for the
// unit tests: parseYaml only (interpolation and merging are tested elsewhere), files named
// relative to the fixture directory so that error texts are stable.

#include <fstream>
#include <sstream>
#include <string>

#include "common/error.h"
#include "compose/compose.h"
#include "compose/project_builder.h"
#include "compose/value.h"

namespace overmesh::compose::testing {

inline std::string schemaFixtureDir() {
  return std::string(OVERMESH_SOURCE_DIR) + "/tests/fixtures/compose/schema";
}

// Reads `relative` under the fixture directory: NotFound when it is not there.
inline Result<std::string> readSchemaFixture(const std::string& relative) {
  std::ifstream in(schemaFixtureDir() + "/" + relative, std::ios::binary);
  if (!in) {
    return errorf(ErrorKind::NotFound, "no such file: {}", relative);
  }
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// A FileReader over the fixture directory (env_file paths resolve against it).
inline FileReader fixtureReader() {
  return [](const std::string& path) { return readSchemaFixture(path); };
}

// parseYaml + buildProject of one fixture.
inline Result<Project> buildFixture(const std::string& relative, Warnings& warnings,
                                    const Environment& environment = {}) {
  auto text = readSchemaFixture(relative);
  if (!text) {
    return std::unexpected(text.error());
  }
  auto tree = parseYaml(*text, relative);
  if (!tree) {
    return std::unexpected(tree.error());
  }
  return buildProject(*tree, environment, fixtureReader(), warnings, workingDirectory(relative));
}

// parseYaml + buildProject of inline text named "stack.yml".
inline Result<Project> buildText(const std::string& text, Warnings& warnings,
                                 const Environment& environment = {},
                                 const FileReader& reader = fixtureReader()) {
  auto tree = parseYaml(text, "stack.yml");
  if (!tree) {
    return std::unexpected(tree.error());
  }
  return buildProject(*tree, environment, reader, warnings, ".");
}

}  // namespace overmesh::compose::testing
