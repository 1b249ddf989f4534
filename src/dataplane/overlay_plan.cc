#include "dataplane/overlay_plan.h"

#include <algorithm>
#include <charconv>
#include <map>

#include <fmt/format.h>

namespace overmesh::dataplane {
namespace {

// FNV-1a: a stable short hash for device names (std::hash may change across builds).
std::uint32_t stableHash(std::string_view text) {
  std::uint32_t hash = 2166136261u;
  for (unsigned char c : text) {
    hash ^= c;
    hash *= 16777619u;
  }
  return hash;
}

bool wantsToRun(const api::Task& task) { return task.desiredState == "running"; }

// A remote task stays reachable while it should run, and also while it drains: told to
// shut down but still running, it has left every DNS answer and load-balancer map, yet
// its open connections must finish (its address is not handed out again until it is
// reported stopped, see manager/address_allocation.h).
bool reachable(const api::Task& task) { return wantsToRun(task) || task.state == "running"; }

// The network's MTU option when it is smaller than what the underlay allows; the
// manager checked its form (an option it cannot read leaves the underlay's figure).
unsigned int networkMtu(const api::Network& net, unsigned int overlayMtu) {
  auto option = net.options.find(api::kNetworkMtuOption);
  if (option == net.options.end()) {
    return overlayMtu;
  }
  unsigned int mtu = 0;
  auto [end, error] = std::from_chars(option->second.data(),
                                      option->second.data() + option->second.size(), mtu);
  if (error != std::errc() || end != option->second.data() + option->second.size() || mtu == 0) {
    return overlayMtu;
  }
  return std::min(mtu, overlayMtu);
}

NetworkPlan& planFor(std::map<std::string, NetworkPlan>& used, const api::Network& net,
                     unsigned int overlayMtu) {
  auto& networkPlan = used[net.id];
  networkPlan.networkId = net.id;
  networkPlan.networkName = net.name;
  networkPlan.vni = net.vni;
  networkPlan.bridge = bridgeName(net.vni);
  networkPlan.vxlan = vxlanName(net.vni);
  networkPlan.mtu = networkMtu(net, overlayMtu);
  return networkPlan;
}

// The ingress network on this node when the mesh is active and the node has a usable
// ingress address: the bridge holds it, and every other node's address is a remote
// endpoint. Without an ingress network or an own address, nothing (the local tasks on it,
// if any, still get it the usual way).
void planIngress(const std::string& selfNodeId, Ipv4Address selfAddress, unsigned int overlayMtu,
                 const std::vector<api::Network>& networks, const std::vector<api::Node>& nodes,
                 const std::map<std::string, Ipv4Address>& vtepOf,
                 std::map<std::string, NetworkPlan>& used) {
  const api::Network* ingress = nullptr;
  for (const auto& network : networks) {
    // The same choice as MeshIndex: the smallest ID if the data holds several.
    if (network.ingress && (ingress == nullptr || network.id < ingress->id)) {
      ingress = &network;
    }
  }
  if (ingress == nullptr) {
    return;
  }
  std::optional<Ipv4Prefix> own;
  for (const auto& node : nodes) {
    if (node.id == selfNodeId) {
      if (auto parsed = Ipv4Prefix::parse(node.ingressAddress)) {
        own = *parsed;
      }
    }
  }
  if (!own) {
    return;
  }
  NetworkPlan& plan = planFor(used, *ingress, overlayMtu);
  plan.hostAddress = *own;
  for (const auto& node : nodes) {
    if (node.id == selfNodeId) {
      continue;
    }
    auto address = Ipv4Prefix::parse(node.ingressAddress);
    auto vtep = vtepOf.find(node.id);
    if (!address || vtep == vtepOf.end() || vtep->second == selfAddress ||
        address->address() == own->address()) {
      continue;
    }
    plan.remotes.push_back({address->address(), macForIp(address->address()), vtep->second});
  }
}

}  // namespace

std::string bridgeName(std::uint32_t vni) { return fmt::format("ombr{}", vni); }
std::string vxlanName(std::uint32_t vni) { return fmt::format("omvx{}", vni); }
std::string hostVethName(const std::string& taskId, std::size_t index) {
  return fmt::format("omv{:08x}{}", stableHash(taskId), index % 10);
}

NodePlan planNode(const std::string& selfNodeId, Ipv4Address selfAddress, unsigned int underlayMtu,
                  const std::vector<api::Network>& networks, const std::vector<api::Node>& nodes,
                  const std::vector<api::Task>& tasks, bool meshActive) {
  NodePlan plan;
  unsigned int overlayMtu = underlayMtu > kVxlanOverhead ? underlayMtu - kVxlanOverhead : 0;
  std::map<std::string, const api::Network*> networksById;
  for (const auto& network : networks) {
    networksById[network.id] = &network;
  }
  std::map<std::string, Ipv4Address> vtepOf;
  for (const auto& node : nodes) {
    if (auto address = Ipv4Address::parse(node.address)) {
      vtepOf[node.id] = *address;
    }
  }

  std::map<std::string, NetworkPlan> used;  // by network ID: networks with a local task
  for (const auto& task : tasks) {
    if (task.nodeId != selfNodeId || !wantsToRun(task)) {
      continue;
    }
    SandboxPlan sandbox;
    sandbox.taskId = task.id;
    bool allInternal = true;
    bool userNetworks = false;  // attachments other than the ingress network
    bool complete = true;
    for (std::size_t i = 0; i < task.attachments.size(); ++i) {
      const auto& attachment = task.attachments[i];
      auto network = networksById.find(attachment.networkId);
      auto address = Ipv4Prefix::parse(attachment.address);
      auto mac = MacAddress::parse(attachment.mac);
      if (network == networksById.end() || !address || !mac) {
        plan.problems.push_back(fmt::format("task {}: attachment {} ({}) is not usable: {}",
                                            task.name, i, attachment.networkName,
                                            network == networksById.end() ? "network is gone"
                                                                          : "bad address/MAC"));
        complete = false;
        break;
      }
      const api::Network& net = *network->second;
      // The ingress network is no way out: a service on --internal networks that
      // publishes a port stays internal (its replies go back through the ingress nodes by
      // policy routing, which needs no default route).
      if (!net.ingress) {
        allInternal = allInternal && net.internal;
        userNetworks = true;
      }
      auto& networkPlan = planFor(used, net, overlayMtu);
      sandbox.interfaces.push_back(Interface{fmt::format("eth{}", i), hostVethName(task.id, i),
                                             networkPlan.bridge, *address, *mac,
                                             networkPlan.mtu});
    }
    if (!complete) {
      continue;
    }
    // A task with no network of its own (none at all, or only the ingress network) still
    // gets the gateway link: it is how host-mode published ports reach it, and how it
    // reaches anything.
    sandbox.egress = !allInternal || !userNetworks;
    plan.sandboxes.push_back(std::move(sandbox));
  }

  // The routing mesh: every node with an ingress address joins the ingress network, task
  // or not, with its own endpoint on the bridge, and knows every other node's endpoint.
  if (meshActive) {
    planIngress(selfNodeId, selfAddress, overlayMtu, networks, nodes, vtepOf, used);
  }

  for (const auto& task : tasks) {
    if (task.nodeId == selfNodeId || !reachable(task)) {
      continue;
    }
    auto vtep = vtepOf.find(task.nodeId);
    if (vtep == vtepOf.end() || vtep->second == selfAddress) {
      continue;
    }
    for (const auto& attachment : task.attachments) {
      auto networkPlan = used.find(attachment.networkId);
      if (networkPlan == used.end()) {
        continue;  // no local task on that network: nothing to program here
      }
      auto address = Ipv4Prefix::parse(attachment.address);
      auto mac = MacAddress::parse(attachment.mac);
      if (!address || !mac) {
        continue;
      }
      networkPlan->second.remotes.push_back({address->address(), *mac, vtep->second});
    }
  }
  for (auto& [id, networkPlan] : used) {
    std::sort(networkPlan.remotes.begin(), networkPlan.remotes.end());
    // A remote task and a node's endpoint could claim one address only through bad data;
    // keep one entry per address so that the kernel gets no contradiction.
    networkPlan.remotes.erase(
        std::unique(networkPlan.remotes.begin(), networkPlan.remotes.end(),
                    [](const auto& a, const auto& b) { return a.address == b.address; }),
        networkPlan.remotes.end());
    plan.networks.push_back(std::move(networkPlan));
  }
  std::sort(plan.networks.begin(), plan.networks.end(),
            [](const auto& a, const auto& b) { return a.vni < b.vni; });
  std::sort(plan.sandboxes.begin(), plan.sandboxes.end(),
            [](const auto& a, const auto& b) { return a.taskId < b.taskId; });
  return plan;
}

}  // namespace overmesh::dataplane
