#include "stack/stack_networks.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <map>

#include "common/quote.h"
#include "stack/stack_errors.h"

namespace overmesh::stack {
namespace {

const compose::NetworkEntry* declaredNetwork(const compose::Project& project,
                                             const std::string& key) {
  auto found = std::find_if(project.networks.begin(), project.networks.end(),
                            [&](const compose::NetworkEntry& entry) { return entry.key == key; });
  return found == project.networks.end() ? nullptr : &*found;
}

std::string declaredNetworkKeys(const compose::Project& project) {
  if (project.networks.empty()) {
    return "none are declared";
  }
  std::vector<std::string> keys;
  for (const auto& entry : project.networks) {
    keys.push_back(entry.key);
  }
  return fmt::format("declared: {}", fmt::join(keys, ", "));
}

// The namespace label last, so that a file cannot take a network out of its stack.
api::Labels stackLabels(const compose::StringMap& fileLabels, const std::string& stack) {
  api::Labels labels(fileLabels.begin(), fileLabels.end());
  labels[api::kStackNamespaceLabel] = stack;
  return labels;
}

Result<api::StackNetwork> convertDeclared(const compose::NetworkEntry& entry,
                                          const std::string& stack) {
  const std::string path = "networks." + entry.key;
  api::StackNetwork network;
  network.key = entry.key;
  network.source =
      entry.mark.line > 0 ? fmt::format("{}:{}", entry.mark.file, entry.mark.line) : std::string();
  if (entry.external) {
    // Docker: an external network is looked up by its `name:` (or the legacy
    // `external: {name: X}`, which the schema folded into `name`), else by its key.
    network.name = entry.name.empty() ? entry.key : entry.name;
    network.external = true;
    network.create.name = network.name;
  } else {
    network.name = entry.name.empty() ? fmt::format("{}_{}", stack, entry.key) : entry.name;
    if (!entry.driver.empty() && entry.driver != "overlay") {
      return convertError(entry.mark, path + ".driver",
                          "{} is not supported: stack networks span the cluster's nodes, so "
                          "the only valid driver is overlay",
                          quote(entry.driver));
    }
    if (entry.subnets.size() > 1) {
      return convertError(entry.mark, path + ".ipam.config",
                          "{} subnets are given: an overmesh network has one subnet, so give "
                          "at most one ipam.config entry with a subnet",
                          entry.subnets.size());
    }
    network.create.name = network.name;
    network.create.driver = "overlay";
    if (!entry.subnets.empty()) {
      network.create.subnet = entry.subnets.front();
    }
    network.create.attachable = entry.attachable.value_or(false);
    network.create.internal = entry.internal.value_or(false);
    network.create.labels = stackLabels(entry.labels, stack);
    network.create.options = api::Labels(entry.driverOpts.begin(), entry.driverOpts.end());
  }
  if (!isValidObjectName(network.name)) {
    return convertError(entry.mark, path + (entry.name.empty() ? "" : ".name"),
                        "the network name {} is not valid: use 1 to 63 letters, digits, '_', "
                        "'.' and '-', starting with a letter or digit{}",
                        quote(network.name),
                        entry.name.empty() ? " (a shorter stack name or network key)" : "");
  }
  return network;
}

// Docker's implicit network: what a service without `networks:` joins when the file
// declares no `default`.
api::StackNetwork implicitDefault(const std::string& stack) {
  api::StackNetwork network;
  network.key = "default";
  network.name = stack + "_default";
  network.create.name = network.name;
  network.create.driver = "overlay";
  network.create.labels = stackLabels({}, stack);
  return network;
}

}  // namespace

bool isValidObjectName(const std::string& name) {
  auto isAlnum = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; };
  if (name.empty() || name.size() > 63 || !isAlnum(name.front())) {
    return false;
  }
  return std::all_of(name.begin(), name.end(),
                     [&](char c) { return isAlnum(c) || c == '_' || c == '.' || c == '-'; });
}

Result<std::vector<compose::ServiceNetworkEntry>> serviceNetworkEntries(
    const compose::Service& service, const compose::Project& project) {
  if (!service.networks || service.networks->empty()) {
    compose::ServiceNetworkEntry entry;
    entry.key = "default";
    entry.mark = service.mark;
    return std::vector<compose::ServiceNetworkEntry>{entry};
  }
  const std::string path = fmt::format("services.{}.networks", service.key);
  std::vector<std::string> seen;
  for (const auto& entry : *service.networks) {
    if (std::find(seen.begin(), seen.end(), entry.key) != seen.end()) {
      return convertError(entry.mark, path,
                          "network {} is listed twice: a service joins each network once "
                          "(give all its aliases in one entry)",
                          quote(entry.key));
    }
    seen.push_back(entry.key);
    if (entry.key != "default" && declaredNetwork(project, entry.key) == nullptr) {
      return convertError(entry.mark, path,
                          "service {} uses network {}, which is not declared: declare it under "
                          "the top-level networks: ({})",
                          quote(service.key), quote(entry.key), declaredNetworkKeys(project));
    }
  }
  return *service.networks;
}

Result<std::vector<api::StackNetwork>> convertNetworks(const compose::Project& project,
                                                       const std::string& stack,
                                                       const std::vector<std::string>& usedKeys) {
  std::vector<api::StackNetwork> networks;
  std::map<std::string, std::string> keyOfName;
  for (const auto& key : usedKeys) {
    const compose::NetworkEntry* entry = declaredNetwork(project, key);
    Result<api::StackNetwork> network = entry != nullptr
                                            ? convertDeclared(*entry, stack)
                                            : Result<api::StackNetwork>(implicitDefault(stack));
    if (!network) {
      return std::unexpected(network.error());
    }
    auto [previous, inserted] = keyOfName.emplace(network->name, key);
    if (!inserted) {
      return convertError(entry != nullptr ? entry->mark : compose::Mark{}, "networks." + key,
                          "its network name {} is also the name of networks.{}: a service "
                          "joins each network once, so give each key its own name",
                          quote(network->name), previous->second);
    }
    networks.push_back(std::move(*network));
  }
  return networks;
}

}  // namespace overmesh::stack
