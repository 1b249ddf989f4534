#pragma once

// `swarm init|update --insecure-registry HOST[:PORT] --registry-mirror URL` (repeatable)
// and, on update, `--clear-insecure-registries` / `--clear-registry-mirrors`: a list given
// replaces the cluster's list, a clear flag empties it, a list not named is kept. The
// manager checks the values (manager/registry_settings.h); the CLI only refuses flags that
// contradict each other.

#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "api/container_types.h"
#include "common/error.h"

namespace overmesh::cli {

struct RegistryFlags {
  std::vector<std::string> insecureRegistries;
  std::vector<std::string> registryMirrors;
  bool clearInsecureRegistries = false;
  bool clearRegistryMirrors = false;
};

// InvalidArgument when a list and its clear flag are both given, or when nothing is
// (`swarm update` with no change).
Result<api::SwarmUpdateRequest> swarmUpdateFromFlags(const RegistryFlags& flags);

// "Insecure registries: a, b\nRegistry mirrors:    (none)\n" from a RegistrySettings
// JSON object (`swarm update`'s reply, `info`'s "registries").
std::string formatRegistrySettings(const nlohmann::json& settings);

}  // namespace overmesh::cli
