#include "dataplane/overlay_plan.h"

#include <algorithm>
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

}  // namespace

std::string bridgeName(std::uint32_t vni) { return fmt::format("ombr{}", vni); }
std::string vxlanName(std::uint32_t vni) { return fmt::format("omvx{}", vni); }
std::string hostVethName(const std::string& taskId, std::size_t index) {
  return fmt::format("omv{:08x}{}", stableHash(taskId), index % 10);
}

NodePlan planNode(const std::string& selfNodeId, Ipv4Address selfAddress,
                  unsigned int underlayMtu, const std::vector<api::Network>& networks,
                  const std::vector<api::Node>& nodes, const std::vector<api::Task>& tasks,
                  bool /*meshActive*/) {
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
      allInternal = allInternal && net.internal;
      auto& networkPlan = used[net.id];
      networkPlan.networkId = net.id;
      networkPlan.networkName = net.name;
      networkPlan.vni = net.vni;
      networkPlan.bridge = bridgeName(net.vni);
      networkPlan.vxlan = vxlanName(net.vni);
      networkPlan.mtu = overlayMtu;
      sandbox.interfaces.push_back(Interface{fmt::format("eth{}", i), hostVethName(task.id, i),
                                             networkPlan.bridge, *address, *mac, overlayMtu});
    }
    if (!complete) {
      continue;
    }
    sandbox.egress = !allInternal;
    plan.sandboxes.push_back(std::move(sandbox));
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
    plan.networks.push_back(std::move(networkPlan));
  }
  std::sort(plan.networks.begin(), plan.networks.end(),
            [](const auto& a, const auto& b) { return a.vni < b.vni; });
  std::sort(plan.sandboxes.begin(), plan.sandboxes.end(),
            [](const auto& a, const auto& b) { return a.taskId < b.taskId; });
  return plan;
}

}  // namespace overmesh::dataplane
