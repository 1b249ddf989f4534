#include "manager/ingress_network.h"

#include <fmt/format.h>

#include <algorithm>

#include "manager/address_allocation.h"
#include "manager/published_ports.h"

namespace overmesh::manager {

const api::Network* findIngressNetwork(const std::vector<api::Network>& networks) {
  // The one with the smallest ID, as the data plane picks it (mesh_plan.cc, overlay_plan.cc),
  // should a second one ever exist (network create --ingress refuses it).
  const api::Network* found = nullptr;
  for (const auto& network : networks) {
    if (network.ingress && (found == nullptr || network.id < found->id)) {
      found = &network;
    }
  }
  return found;
}

Result<std::vector<std::size_t>> assignIngressAddresses(const api::Network& ingress,
                                                        std::vector<api::Node>& nodes,
                                                        std::set<Ipv4Address>& used) {
  std::vector<std::size_t> changed;
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    if (!nodes[i].ingressAddress.empty()) {
      continue;
    }
    auto address = allocateAddress(ingress, used);
    if (!address) {
      return std::unexpected(address.error().withContext(
          fmt::format("ingress address of node {}", nodes[i].hostname)));
    }
    nodes[i].ingressAddress = *address;
    changed.push_back(i);
  }
  return changed;
}

std::vector<std::string> servicesPublishingIngress(const std::vector<api::Service>& services) {
  std::vector<std::string> names;
  for (const auto& service : services) {
    if (publishesIngressPort(service.ports)) {
      names.push_back(service.spec.name);
    }
  }
  std::sort(names.begin(), names.end());
  return names;
}

Error noIngressNetworkError(const std::vector<api::PortConfig>& ports) {
  auto port = std::find_if(ports.begin(), ports.end(),
                           [](const api::PortConfig& p) { return p.publishMode == "ingress"; });
  std::string named = port == ports.end() ? std::string("(ingress mode)") : describePort(*port);
  return Error{ErrorKind::FailedPrecondition,
               fmt::format("--publish {}: no ingress network exists; create one with `overmesh "
                           "network create --driver overlay --ingress ingress`",
                           named)};
}

}  // namespace overmesh::manager
