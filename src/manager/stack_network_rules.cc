#include "manager/stack_network_rules.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <map>

#include "common/quote.h"
#include "manager/network_rules.h"
#include "manager/problem_list.h"

namespace overmesh::manager {
namespace {

// Names a network's place in the file at the end of every message about it, so the user
// finds the key to fix: " (networks.back declared at web.yml:14)"; for the implicit
// default network, which no line declares, the services that use it:
// " (networks.default: the stack's default network, used by services web_api, web_web)".
std::string declaredAt(const api::StackNetwork& network,
                       const std::vector<api::ServiceSpec>& services) {
  if (!network.source.empty()) {
    return fmt::format(" (networks.{} declared at {})", network.key, network.source);
  }
  if (network.key != "default") {
    return fmt::format(" (networks.{})", network.key);
  }
  std::vector<std::string> users;
  for (const auto& service : services) {
    if (std::any_of(
            service.networks.begin(), service.networks.end(),
            [&](const api::ServiceNetworkSpec& use) { return use.target == network.name; })) {
      users.push_back(service.name);
    }
  }
  std::sort(users.begin(), users.end());
  if (users.empty()) {
    return " (networks.default: the stack's default network)";
  }
  return fmt::format(" (networks.default: the stack's default network, used by service{} {})",
                     users.size() == 1 ? "" : "s", fmt::join(users, ", "));
}

// Docker's predefined networks. Swarm stacks name `host` (external) to get host
// networking; overmesh has no such mode, and a network of that name here would be an
// ordinary overlay, not what the file means.
bool isDockerPredefined(const std::string& name) {
  return name == "host" || name == "bridge" || name == "none";
}

std::string predefinedMeaning(const std::string& name) {
  if (name == "host") {
    return "Docker's host networking";
  }
  if (name == "bridge") {
    return "Docker's default bridge network";
  }
  return "Docker's \"no network\" mode";
}

const api::Network* findByName(const std::vector<api::Network>& networks, const std::string& name) {
  auto it = std::find_if(networks.begin(), networks.end(),
                         [&](const api::Network& network) { return network.name == name; });
  return it == networks.end() ? nullptr : &*it;
}

void checkExternal(const api::StackNetwork& network, const std::string& where,
                   const std::vector<api::Network>& existing, StackNetworkPlan& plan,
                   ProblemList& problems) {
  if (isDockerPredefined(network.name)) {
    problems.add(ErrorKind::FailedPrecondition,
                 fmt::format("network {} is {}: overmesh tasks always run in a sandbox of their "
                             "own; remove it from the stack's networks{}",
                             quote(network.name), predefinedMeaning(network.name), where));
    return;
  }
  const api::Network* found = findByName(existing, network.name);
  if (found == nullptr) {
    problems.add(ErrorKind::NotFound,
                 fmt::format("network {} is declared as external, but could not be found. You "
                             "need to create a swarm-scoped network before the stack is "
                             "deployed: overmesh network create -d overlay {}{}",
                             quote(network.name), network.name, where));
    return;
  }
  if (found->ingress) {
    problems.add(ErrorKind::FailedPrecondition,
                 fmt::format("network {} is declared as external, but it is the routing mesh's "
                             "ingress network: services join it by publishing a port (ports:), "
                             "not by name{}",
                             quote(network.name), where));
    return;
  }
  if (found->driver != "overlay") {
    problems.add(ErrorKind::FailedPrecondition,
                 fmt::format("network {} is declared as external, but its driver is {}, not "
                             "overlay: a stack's services join swarm-scoped overlay networks "
                             "only; create one with overmesh network create -d overlay NAME{}",
                             quote(network.name), quote(found->driver), where));
    return;
  }
  plan.external.push_back(network.name);
}

void checkToCreate(const std::string& stack, const api::StackNetwork& network,
                   const std::string& where, const std::vector<api::Network>& existing,
                   StackNetworkPlan& plan, ProblemList& problems) {
  if (!network.create.name.empty() && network.create.name != network.name) {
    problems.add(
        ErrorKind::InvalidArgument,
        fmt::format("network {}: the network to create is named {}, not {}: a stack "
                    "network is created under its own name{}",
                    quote(network.key), quote(network.create.name), quote(network.name), where));
    return;
  }
  auto label = network.create.labels.find(api::kStackNamespaceLabel);
  if (label != network.create.labels.end() && label->second != stack) {
    problems.add(
        ErrorKind::InvalidArgument,
        fmt::format("network {}: label {}={} names another stack than {}{}", quote(network.name),
                    api::kStackNamespaceLabel, quote(label->second), stack, where));
    return;
  }
  if (network.create.ingress) {
    problems.add(ErrorKind::InvalidArgument,
                 fmt::format("network {}: a stack cannot create an ingress network (the routing "
                             "mesh's network is made with overmesh network create --ingress){}",
                             quote(network.name), where));
    return;
  }
  if (const api::Network* found = findByName(existing, network.name)) {
    auto owner = found->labels.find(api::kStackNamespaceLabel);
    if (owner != found->labels.end() && owner->second == stack) {
      plan.reused.push_back(network.name);
      return;
    }
    problems.add(ErrorKind::Conflict,
                 fmt::format("network with name {} already exists (not created by stack {}). To "
                             "share it, declare it external (networks: {}: external: true, name: "
                             "{}); to get a network of the stack's own, give it another name:{}",
                             network.name, stack, network.key, network.name, where));
    return;
  }
  api::NetworkCreateRequest create = network.create;
  create.name = network.name;
  create.labels[api::kStackNamespaceLabel] = stack;
  if (auto valid = validateNetworkCreate(create); !valid) {
    problems.add(valid.error().kind,
                 fmt::format("network {}: {}{}", network.name, valid.error().message, where));
    return;
  }
  plan.toCreate.push_back(std::move(create));
}

}  // namespace

Result<StackNetworkPlan> planStackNetworks(const std::string& stack,
                                           const std::vector<api::StackNetwork>& declared,
                                           const std::vector<api::Network>& existing,
                                           const std::vector<api::ServiceSpec>& services) {
  StackNetworkPlan plan;
  ProblemList problems;
  std::map<std::string, const api::StackNetwork*> seen;  // by name
  for (const auto& network : declared) {
    std::string where = declaredAt(network, services);
    if (auto valid = validateObjectName("network", network.name); !valid) {
      problems.add(ErrorKind::InvalidArgument, fmt::format("{}{}", valid.error().message, where));
      continue;
    }
    // One rule with the converter's: two keys never name one network, even alike (which
    // of them would the services' aliases and the file's settings belong to?).
    auto [it, inserted] = seen.emplace(network.name, &network);
    if (!inserted) {
      problems.add(ErrorKind::InvalidArgument,
                   fmt::format("network {} is named by networks.{} and networks.{}: two keys "
                               "cannot name one network: give one of them a different name:{}",
                               quote(network.name), it->second->key, network.key, where));
      continue;
    }
    if (network.external) {
      checkExternal(network, where, existing, plan, problems);
    } else {
      checkToCreate(stack, network, where, existing, plan, problems);
    }
  }
  if (!problems.empty()) {
    return std::unexpected(problems.error());
  }
  return plan;
}

}  // namespace overmesh::manager
