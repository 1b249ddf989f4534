#pragma once

// The routing mesh's decisions for one node, without a kernel (DESIGN.md "Routing mesh").
// Built once per reconcile pass from the agent's cache, like LbIndex:
//
// - NodeMesh: the node's published ports. An ingress-mode port is open on every node and
//   leads to the live tasks of its service on any node, at their address on the ingress
//   network; a host-mode port is open only where the service has a live local task and
//   leads to the local ones, at the address the node reaches them by (their gateway-
//   bridge address). mesh_rules.h turns it into nftables text; NodeKernel::applyNodeMesh
//   programs it in the node's namespace.
// - SandboxIngress: what a backend's sandbox needs so that a connection that came in
//   through node N's ingress endpoint is answered through N (the client's address is
//   kept, there is no SNAT): which MAC is which node, and which target ports the ingress
//   network may reach. NodeKernel::applySandboxIngress programs it.
//
// "Live" is state::isLive(), the definition DNS and the VIP balancer use.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "api/service_types.h"
#include "api/types.h"
#include "common/ip.h"
#include "common/mac.h"

namespace overmesh::dataplane {

struct MeshBackend {
  Ipv4Address address;
  std::uint16_t port = 0;
  auto operator<=>(const MeshBackend&) const = default;
};

// One published port of this node.
struct MeshPort {
  std::string protocol;  // "tcp" | "udp"
  std::uint16_t publishedPort = 0;
  std::string serviceName;            // for messages only; not part of the rules
  std::vector<MeshBackend> backends;  // sorted; none: the port refuses (TCP reset, ICMP)
  auto operator<=>(const MeshPort&) const = default;
};

struct NodeMesh {
  std::vector<MeshPort> ports;  // sorted by (protocol, publishedPort), one per pair
  // The node's ingress bridge ("ombr4097"), when the node has an ingress endpoint and some
  // service publishes in ingress mode: new connections from it into the node itself are
  // dropped (tasks must not reach the node's own services through the ingress network).
  std::string ingressBridge;
  bool empty() const { return ports.empty() && ingressBridge.empty(); }
  auto operator<=>(const NodeMesh&) const = default;
};

// One node's endpoint on the ingress network, as a backend sandbox sees it.
struct IngressPeer {
  Ipv4Address address;  // the node's ingress address (no prefix)
  MacAddress mac;       // macForIp(address): the source MAC of what it forwards
  auto operator<=>(const IngressPeer&) const = default;
};

// The ingress side of one local sandbox.
struct SandboxIngress {
  // The sandbox's interface on the ingress network ("eth1"); empty when the task is not on
  // it (then nothing of this is wanted and what there is gets removed).
  std::string interface;
  std::vector<IngressPeer> nodes;        // every node's ingress endpoint, sorted
  std::vector<std::uint16_t> tcpPorts;   // target ports the ingress network may reach
  std::vector<std::uint16_t> udpPorts;   //   (sorted, unique); everything else is dropped
  bool empty() const { return interface.empty(); }
  auto operator<=>(const SandboxIngress&) const = default;
};

class MeshIndex {
 public:
  // The address at which this node reaches a local task (its gateway-bridge address), for
  // host-mode ports; nullopt when it has none (yet).
  using LocalAddress = std::function<std::optional<Ipv4Address>(const std::string& taskId)>;

  // O(networks + services + tasks + nodes). What cannot be used is skipped, never thrown:
  // ports out of range, unknown protocols or modes, addresses that do not parse, a service
  // with an ingress-mode port while there is no ingress network.
  static MeshIndex build(const std::string& selfNodeId, const std::vector<api::Network>& networks,
                         const std::vector<api::Service>& services,
                         const std::vector<api::Task>& tasks, const std::vector<api::Node>& nodes,
                         const LocalAddress& localAddress);

  // This node's published ports.
  const NodeMesh& node() const { return node_; }
  // Whether some service publishes a port in ingress mode: then every node with an ingress
  // address joins the ingress network (planNode's `meshActive`).
  bool meshActive() const { return meshActive_; }
  // The ingress network's ID; empty when there is none.
  const std::string& ingressNetworkId() const { return ingressNetworkId_; }
  // What `task`'s sandbox needs (interface "eth<i>" for its attachment i on the ingress
  // network; empty when it has none).
  SandboxIngress forSandbox(const api::Task& task) const;

 private:
  NodeMesh node_;
  bool meshActive_ = false;
  std::string ingressNetworkId_;
  std::vector<IngressPeer> peers_;
  // Target ports by service ID (ingress-mode ports only).
  std::vector<std::pair<std::string, std::pair<std::vector<std::uint16_t>, std::vector<std::uint16_t>>>>
      targets_;
};

}  // namespace overmesh::dataplane
