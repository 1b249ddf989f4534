#pragma once

// The routing mesh's ingress network as the manager sees it (pure): which network it is,
// which services keep it in use, and the nodes' own addresses on it. At most one network
// has ingress=true; `swarm init` creates it ("ingress"), `network create --ingress`
// replaces it once `network rm` removed it. Every node holds one address on it
// (Node::ingressAddress): published ports are forwarded from it and replies return to it.

#include <set>
#include <string>
#include <vector>

#include "api/service_types.h"
#include "api/types.h"
#include "common/error.h"
#include "common/ip.h"

namespace overmesh::manager {

// The name `swarm init` gives the ingress network (Docker's).
inline constexpr std::string_view kIngressNetworkName = "ingress";

// The ingress network among `networks`; nullptr when there is none.
const api::Network* findIngressNetwork(const std::vector<api::Network>& networks);

// Gives every node of `nodes` that has no ingress address one from `ingress`, in order, and
// marks it in `used` (which must hold the network's taken addresses, usedAddresses()).
// Returns the indexes of the nodes changed. FailedPrecondition naming the network when its
// subnet runs out; `nodes` may then be partly changed (the caller writes nothing).
Result<std::vector<std::size_t>> assignIngressAddresses(const api::Network& ingress,
                                                        std::vector<api::Node>& nodes,
                                                        std::set<Ipv4Address>& used);

// The names, sorted, of the services that publish a port in ingress mode (in their
// decided ports, Service::ports): the ones the ingress network cannot be removed under.
std::vector<std::string> servicesPublishingIngress(const std::vector<api::Service>& services);

// FailedPrecondition for a service that publishes an ingress-mode port while no ingress
// network exists, naming the first such port and how to create the network.
Error noIngressNetworkError(const std::vector<api::PortConfig>& ports);

}  // namespace overmesh::manager
