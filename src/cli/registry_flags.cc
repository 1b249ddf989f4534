#include "cli/registry_flags.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <nlohmann/json.hpp>

namespace overmesh::cli {
namespace {

std::string joinedList(const nlohmann::json& settings, const char* field) {
  std::vector<std::string> values;
  auto list = settings.find(field);
  if (list != settings.end() && list->is_array()) {
    for (const auto& value : *list) {
      if (value.is_string()) {
        values.push_back(value.get<std::string>());
      }
    }
  }
  return values.empty() ? "(none)" : fmt::format("{}", fmt::join(values, ", "));
}

}  // namespace

Result<api::SwarmUpdateRequest> swarmUpdateFromFlags(const RegistryFlags& flags) {
  if (flags.clearInsecureRegistries && !flags.insecureRegistries.empty()) {
    return errorf(ErrorKind::InvalidArgument,
                  "--clear-insecure-registries and --insecure-registry contradict each other: "
                  "give the new list with --insecure-registry alone (it replaces the old one)");
  }
  if (flags.clearRegistryMirrors && !flags.registryMirrors.empty()) {
    return errorf(ErrorKind::InvalidArgument,
                  "--clear-registry-mirrors and --registry-mirror contradict each other: give "
                  "the new list with --registry-mirror alone (it replaces the old one)");
  }
  api::SwarmUpdateRequest request;
  if (flags.clearInsecureRegistries || !flags.insecureRegistries.empty()) {
    request.insecureRegistries = flags.insecureRegistries;
  }
  if (flags.clearRegistryMirrors || !flags.registryMirrors.empty()) {
    request.registryMirrors = flags.registryMirrors;
  }
  if (!request.insecureRegistries && !request.registryMirrors) {
    return errorf(ErrorKind::InvalidArgument,
                  "swarm update: nothing to change; give --insecure-registry, --registry-mirror, "
                  "--clear-insecure-registries or --clear-registry-mirrors");
  }
  return request;
}

std::string formatRegistrySettings(const nlohmann::json& settings) {
  return fmt::format("Insecure registries: {}\nRegistry mirrors:    {}\n",
                     joinedList(settings, "insecureRegistries"),
                     joinedList(settings, "registryMirrors"));
}

}  // namespace overmesh::cli
