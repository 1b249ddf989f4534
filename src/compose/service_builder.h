#pragma once

// One entry under `services:` → a typed Service (project_builder.h's schema for a
// service). Keys overmesh ignores are gathered in IgnoredOptions so that buildProject
// prints each warning once for the whole file.

#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "compose/compose.h"
#include "compose/project.h"
#include "compose/value.h"

namespace overmesh::compose {

// What services said that overmesh does not run, across all services.
struct IgnoredOptions {
  std::set<std::string> unsupported;  // service keys: "Ignoring unsupported options: …"
  std::set<std::string> deprecated;   // service keys: "Ignoring deprecated options: …"
  // "deploy.resources (services.web)": options Swarm runs and overmesh does not yet, in the
  // order found.
  std::vector<std::string> notYet;
  // Other lines to print as they are ("services.web.healthcheck: no test: …").
  std::vector<std::string> otherWarnings;
};

struct ServiceContext {
  const Environment& environment;
  const FileReader& readFile;
  IgnoredOptions& ignored;
  // Relative env_file paths and Service::directory: the first -c file's directory.
  const std::string& workingDirectory;
};

// Builds the service `key` from its mapping `body` (null: an empty service, refused for
// lacking an image). `path` is "services.<key>". Fails with the first schema error.
Result<Service> buildService(const Value& key, const Value& body, const std::string& path,
                             ServiceContext& context);

// Why a deprecated service key is ignored ("container_name" → "a service runs many …"),
// for the warning; "" for other keys.
std::string deprecatedExplanation(std::string_view key);

// The directory part of a compose file's name as given ("stacks/web.yml" → "stacks",
// "web.yml" or "-" → ".").
std::string composeDirectory(const std::string& file);

}  // namespace overmesh::compose
