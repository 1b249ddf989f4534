#include "stack/stack_networks.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "common/object_name.h"
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
// declares no `default`. (The schema refuses any other undeclared key; a Project built
// by hand gets the same treatment for it rather than a missing network.)
api::StackNetwork implicitNetwork(const std::string& stack, const std::string& key) {
  api::StackNetwork network;
  network.key = key;
  network.name = fmt::format("{}_{}", stack, key);
  network.create.name = network.name;
  network.create.driver = "overlay";
  network.create.labels = stackLabels({}, stack);
  return network;
}

// A used key as an error message names it: "networks.front (web.yml:20)", or the
// implicit default, which no line declares.
std::string describeKey(const std::string& key, const compose::NetworkEntry* entry) {
  if (entry == nullptr) {
    return fmt::format("networks.{} (implicit: no file declares it)", key);
  }
  if (entry->mark.line <= 0) {
    return "networks." + entry->key;
  }
  return fmt::format("networks.{} ({}:{})", entry->key, printable(entry->mark.file),
                     entry->mark.line);
}

// Two used keys whose networks have one name (`key` the later one): reported where a key
// was declared, naming both keys and where the other was declared. Only the implicit
// default is undeclared, and two undeclared keys cannot clash ("<stack>_<key>" differs).
std::unexpected<Error> duplicateNameError(const std::string& name, const std::string& key,
                                          const compose::NetworkEntry* entry,
                                          const std::string& otherKey,
                                          const compose::NetworkEntry* other) {
  if (entry == nullptr || other == nullptr) {
    const std::string& declaredKey = entry != nullptr ? key : otherKey;
    const std::string& implicitKey = entry != nullptr ? otherKey : key;
    const compose::NetworkEntry* declared = entry != nullptr ? entry : other;
    return convertError(declared != nullptr ? declared->mark : compose::Mark{},
                        "networks." + declaredKey,
                        "its network name {} is also the name of {}: two keys cannot name "
                        "one network: give networks.{} a different name:, or declare "
                        "networks.{} with the settings you want",
                        quote(name), describeKey(implicitKey, nullptr), declaredKey, implicitKey);
  }
  return convertError(entry->mark, "networks." + key,
                      "its network name {} is also the name of {}: two keys cannot name one "
                      "network: give one of them a different name:",
                      quote(name), describeKey(otherKey, other));
}

}  // namespace

std::vector<compose::ServiceNetworkEntry> serviceNetworkEntries(const compose::Service& service) {
  if (!service.networks || service.networks->empty()) {
    compose::ServiceNetworkEntry entry;
    entry.key = "default";
    entry.mark = service.mark;
    return {entry};
  }
  // The schema guarantees each key is listed once and is declared (or is "default").
  return *service.networks;
}

Result<std::vector<api::StackNetwork>> convertNetworks(const compose::Project& project,
                                                       const std::string& stack,
                                                       const std::vector<std::string>& usedKeys) {
  std::vector<api::StackNetwork> networks;
  std::map<std::string, std::string> keyOfName;
  for (const auto& key : usedKeys) {
    const compose::NetworkEntry* entry = declaredNetwork(project, key);
    Result<api::StackNetwork> network =
        entry != nullptr ? convertDeclared(*entry, stack)
                         : Result<api::StackNetwork>(implicitNetwork(stack, key));
    if (!network) {
      return std::unexpected(network.error());
    }
    auto [previous, inserted] = keyOfName.emplace(network->name, key);
    if (!inserted) {
      return duplicateNameError(network->name, key, entry, previous->second,
                                declaredNetwork(project, previous->second));
    }
    networks.push_back(std::move(*network));
  }
  return networks;
}

}  // namespace overmesh::stack
