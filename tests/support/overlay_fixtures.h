#pragma once

// Builders of the objects the overlay's decisions take, for unit and kernel tests: a ready
// node, an overlay network in 10.0.15.0/24, a remote endpoint whose MAC is derived from
// its address as the manager derives it, and one network's plan. Tests change the fields
// they care about on the returned value.

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "api/types.h"
#include "common/mac.h"
#include "dataplane/overlay_plan.h"
#include "support/ip_helpers.h"

namespace overmesh::testing {

inline api::Node readyNode(std::string id, std::string address) {
  api::Node n;
  n.id = std::move(id);
  n.hostname = n.id;
  n.address = std::move(address);
  n.state = "ready";
  return n;
}

inline api::Network overlayNetwork(std::string id = "n1", std::string name = "chaos_net",
                                   std::uint32_t vni = 4096, bool internal = false) {
  api::Network n;
  n.id = std::move(id);
  n.name = std::move(name);
  n.vni = vni;
  n.subnet = "10.0.15.0/24";
  n.gateway = "10.0.15.1";
  n.internal = internal;
  return n;
}

inline dataplane::RemoteEndpoint remoteEndpoint(std::string_view address, std::string_view vtep) {
  return {ip(address), macForIp(ip(address)), ip(vtep)};
}

// chaos_net's plan on VNI 4096 (devices ombr4096/omvx4096, MTU 1450) with `remotes`.
inline dataplane::NetworkPlan networkPlan(std::vector<dataplane::RemoteEndpoint> remotes) {
  dataplane::NetworkPlan plan;
  plan.networkId = "n1";
  plan.networkName = "chaos_net";
  plan.vni = 4096;
  plan.bridge = dataplane::bridgeName(4096);
  plan.vxlan = dataplane::vxlanName(4096);
  plan.mtu = 1450;
  plan.remotes = std::move(remotes);
  return plan;
}

}  // namespace overmesh::testing
