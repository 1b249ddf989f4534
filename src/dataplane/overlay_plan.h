#pragma once

// The wanted overlay state of one node, computed from the desired cluster state alone
// (decide, then apply): which networks need a bridge and a VXLAN device here, which
// remote endpoints each needs an FDB and a neighbour entry for, and how each local task
// is wired. Pure: unit-tested without a kernel; the reconciler diffs it against what the
// kernel has and applies the difference.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "api/types.h"
#include "common/ip.h"
#include "common/mac.h"

namespace overmesh::dataplane {

inline constexpr std::uint16_t kVxlanPort = 4789;
// VXLAN adds 50 bytes (outer IPv4 20 + UDP 8 + VXLAN 8 + inner Ethernet 14).
inline constexpr unsigned int kVxlanOverhead = 50;

// Predictable device names (libnetwork's habit), so a restarted agent adopts its own
// devices and deletes only its own. At most 15 characters.
std::string bridgeName(std::uint32_t vni);  // "ombr4096"
std::string vxlanName(std::uint32_t vni);   // "omvx4096"
// Host side of a task's veth on network `index` (0 = eth0): "omv" + 8 hex + index.
std::string hostVethName(const std::string& taskId, std::size_t index);

struct RemoteEndpoint {
  Ipv4Address address;
  MacAddress mac;
  Ipv4Address vtep;  // the remote node's underlay address

  auto operator<=>(const RemoteEndpoint&) const = default;
};

struct NetworkPlan {
  std::string networkId;
  std::string networkName;
  std::uint32_t vni = 0;
  std::string bridge;
  std::string vxlan;
  unsigned int mtu = 0;
  std::vector<RemoteEndpoint> remotes;  // sorted
  // The node's own endpoint on this network (the ingress network only, from
  // api::Node::ingressAddress): the bridge holds this address, with the MAC
  // macForIp(address), so that the node forwards published ports into the network and
  // gets the replies. nullopt: the bridge has no address (every other network).
  std::optional<Ipv4Prefix> hostAddress;
};

struct Interface {
  std::string name;       // "eth0", "eth1"…
  std::string hostVeth;   // its peer in the node's namespace
  std::string bridge;     // the bridge the peer joins
  Ipv4Prefix address;     // 10.0.15.2/24
  MacAddress mac;
  unsigned int mtu = 0;
};

struct SandboxPlan {
  std::string taskId;
  std::vector<Interface> interfaces;
  // A default route through the node's gateway bridge, unless every network is internal.
  bool egress = false;
};

struct NodePlan {
  std::vector<NetworkPlan> networks;  // only networks with a local task; sorted by VNI
  std::vector<SandboxPlan> sandboxes; // local tasks that should run; sorted by task ID
  std::vector<std::string> problems;  // records that could not be planned, with why
};

// `underlayMtu` is the MTU of the node's underlay interface; overlay devices get 50 less.
// `meshActive` (MeshIndex::meshActive()): some service publishes a port in ingress mode,
// so this node joins the ingress network with its own endpoint even without a local task
// there, and every node's endpoint is a remote endpoint of it.
NodePlan planNode(const std::string& selfNodeId, Ipv4Address selfAddress,
                  unsigned int underlayMtu, const std::vector<api::Network>& networks,
                  const std::vector<api::Node>& nodes, const std::vector<api::Task>& tasks,
                  bool meshActive = false);

}  // namespace overmesh::dataplane
