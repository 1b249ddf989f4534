#include "manager/stack_network_rules.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <map>

#include "common/json.h"
#include "common/quote.h"
#include "manager/network_rules.h"
#include "manager/problem_list.h"

namespace overmesh::manager {
namespace {

// " (declared at web.yml:14)", or nothing for the implicit default network.
std::string declaredAt(const api::StackNetwork& network) {
  return network.source.empty() ? std::string() : fmt::format(" (declared at {})", network.source);
}

const api::Network* findByName(const std::vector<api::Network>& networks, const std::string& name) {
  auto it = std::find_if(networks.begin(), networks.end(),
                         [&](const api::Network& network) { return network.name == name; });
  return it == networks.end() ? nullptr : &*it;
}

// Two declarations of one network name mean the same network when they agree on whether
// it is external and, if not, on what to create.
bool sameDefinition(const api::StackNetwork& a, const api::StackNetwork& b) {
  return a.external == b.external && (a.external || encodeJson(a.create) == encodeJson(b.create));
}

void checkExternal(const api::StackNetwork& network, const std::vector<api::Network>& existing,
                   StackNetworkPlan& plan, ProblemList& problems) {
  const api::Network* found = findByName(existing, network.name);
  if (found == nullptr) {
    problems.add(ErrorKind::NotFound,
                 fmt::format("network {} is declared as external, but could not be found. You "
                             "need to create a swarm-scoped network before the stack is "
                             "deployed: overmesh network create -d overlay {}{}",
                             quote(network.name), network.name, declaredAt(network)));
    return;
  }
  if (found->ingress) {
    problems.add(ErrorKind::FailedPrecondition,
                 fmt::format("network {} is declared as external, but it is the routing mesh's "
                             "ingress network: services join it by publishing a port (ports:), "
                             "not by name{}",
                             quote(network.name), declaredAt(network)));
    return;
  }
  if (found->driver != "overlay") {
    problems.add(ErrorKind::FailedPrecondition,
                 fmt::format("network {} is declared as external, but its driver is {}, not "
                             "overlay: a stack's services join swarm-scoped overlay networks "
                             "only; create one with overmesh network create -d overlay NAME{}",
                             quote(network.name), quote(found->driver), declaredAt(network)));
    return;
  }
  plan.external.push_back(network.name);
}

void checkToCreate(const std::string& stack, const api::StackNetwork& network,
                   const std::vector<api::Network>& existing, StackNetworkPlan& plan,
                   ProblemList& problems) {
  if (!network.create.name.empty() && network.create.name != network.name) {
    problems.add(ErrorKind::InvalidArgument,
                 fmt::format("network {}: the network to create is named {}, not {}: a stack "
                             "network is created under its own name{}",
                             quote(network.key), quote(network.create.name), quote(network.name),
                             declaredAt(network)));
    return;
  }
  auto label = network.create.labels.find(api::kStackNamespaceLabel);
  if (label != network.create.labels.end() && label->second != stack) {
    problems.add(
        ErrorKind::InvalidArgument,
        fmt::format("network {}: label {}={} names another stack than {}{}", quote(network.name),
                    api::kStackNamespaceLabel, quote(label->second), stack, declaredAt(network)));
    return;
  }
  if (network.create.ingress) {
    problems.add(ErrorKind::InvalidArgument,
                 fmt::format("network {}: a stack cannot create an ingress network (the routing "
                             "mesh's network is made with overmesh network create --ingress){}",
                             quote(network.name), declaredAt(network)));
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
                             network.name, stack, network.key, network.name, declaredAt(network)));
    return;
  }
  api::NetworkCreateRequest create = network.create;
  create.name = network.name;
  create.labels[api::kStackNamespaceLabel] = stack;
  if (auto valid = validateNetworkCreate(create); !valid) {
    problems.add(valid.error().kind, fmt::format("network {}: {}{}", network.name,
                                                 valid.error().message, declaredAt(network)));
    return;
  }
  plan.toCreate.push_back(std::move(create));
}

}  // namespace

Result<StackNetworkPlan> planStackNetworks(const std::string& stack,
                                           const std::vector<api::StackNetwork>& declared,
                                           const std::vector<api::Network>& existing) {
  StackNetworkPlan plan;
  ProblemList problems;
  std::map<std::string, const api::StackNetwork*> seen;  // by name
  for (const auto& network : declared) {
    if (auto valid = validateObjectName("network", network.name); !valid) {
      problems.add(ErrorKind::InvalidArgument,
                   fmt::format("network key {}: {}{}", quote(network.key), valid.error().message,
                               declaredAt(network)));
      continue;
    }
    auto [it, inserted] = seen.emplace(network.name, &network);
    if (!inserted) {
      if (!sameDefinition(*it->second, network)) {
        problems.add(ErrorKind::InvalidArgument,
                     fmt::format("networks {} and {} are both named {} but are defined "
                                 "differently: give them one definition, or different names{}",
                                 quote(it->second->key), quote(network.key), network.name,
                                 declaredAt(network)));
      }
      continue;
    }
    if (network.external) {
      checkExternal(network, existing, plan, problems);
    } else {
      checkToCreate(stack, network, existing, plan, problems);
    }
  }
  if (!problems.empty()) {
    return std::unexpected(problems.error());
  }
  return plan;
}

}  // namespace overmesh::manager
