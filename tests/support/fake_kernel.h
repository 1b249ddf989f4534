#pragma once

// A NodeKernel for unit tests: an in-memory model of the node's namespace (devices, their
// FDB / neighbour / learned entries, named namespaces, wired sandboxes, the gateway) that
// records every change it makes in `mutations`, one line each ("create bridge ombr4096",
// "add fdb omvx4096 02:42:0a:00:0f:03 198.18.0.2", "add address ombr4097 10.0.0.3/24").
// Overlay changes are decided by the real diffNetwork()/staleDevices(), as in the Linux
// reconciler, so a test sees exactly the kernel changes the agent's decisions would
// cause; the mesh's and the ingress sides' by diffNodeMesh()/diffSandboxIngress(). Not
// thread-safe, like the agent's use of it.

#include <fmt/format.h>

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "dataplane/ingress_rules.h"
#include "dataplane/mesh_rules.h"
#include "dataplane/node_kernel.h"
#include "dataplane/service_lb_rules.h"

namespace overmesh::testing {

class FakeNodeKernel final : public dataplane::NodeKernel {
 public:
  struct Device {
    dataplane::kernel::LinkInfo link;
    std::optional<dataplane::kernel::VxlanInfo> vxlan;
    std::set<dataplane::kernel::FdbEntry> fdb;
    std::map<Ipv4Address, MacAddress> neighbours;  // permanent
    std::set<MacAddress> learned;
    std::set<Ipv4Prefix> addresses;  // a bridge's (the ingress network's node endpoint)
  };

  // ---- the model, readable (and adjustable) by tests ----
  std::map<std::string, Device> devices;
  std::set<std::string> namespaces;
  std::map<std::string, std::string> wiring;  // namespace -> description of its wiring
  std::map<std::string, std::optional<Ipv4Prefix>> egress;  // namespace -> egress address
  // namespace -> the load balancer applied there. Changes are decided by the real
  // diffSandboxLb(), one mutation per service changed ("lb NS add 10.0.0.2 -> 10.0.0.5"),
  // or one "lb NS replace (N services)" for the first apply to a namespace.
  std::map<std::string, dataplane::SandboxLb> loadBalancers;
  // The node's published ports. Changes are decided by the real diffNodeMesh(): one
  // "mesh replace (N ports)" for the first apply or a new ingress bridge, then one
  // mutation per port changed ("mesh set tcp/30080 -> 10.0.0.5:80,10.0.0.6:80"), and
  // "mesh remove" when it becomes empty.
  std::optional<dataplane::NodeMesh> mesh;
  // namespace -> the ingress side applied there, decided by diffSandboxIngress(): "ingress
  // NS replace eth1 (N nodes)" first, then "ingress NS add node 10.0.0.3", "ingress NS
  // remove node …", "ingress NS ports tcp 80,81 udp none", "ingress NS remove".
  std::map<std::string, dataplane::SandboxIngress> ingress;
  bool gatewayReady = false;
  std::vector<std::string> mutations;
  // When true, applyOverlay() reports the kernel unavailable (no netlink socket).
  bool unavailable = false;
  unsigned int mtu = 1500;

  // The bridge behind `vxlan` learned `mac` (traffic came from it).
  void learn(const std::string& vxlan, const MacAddress& mac) { devices.at(vxlan).learned.insert(mac); }

  unsigned int underlayMtu(Ipv4Address) override { return mtu; }

  dataplane::OverlayApplyReport applyOverlay(const std::vector<dataplane::NetworkPlan>& networks,
                                             Ipv4Address local) override {
    dataplane::OverlayApplyReport report;
    if (unavailable) {
      report.problems.push_back("open netlink: Too many open files");
      report.kernelUnavailable = true;
      return report;
    }
    for (const auto& plan : networks) {
      auto changes = dataplane::diffNetwork(plan, observe(plan), local);
      for (const auto& change : changes.links) {
        applyLink(plan, local, change, report);
      }
      applyPeers(plan.vxlan, changes.peers, report);
    }
    std::vector<dataplane::kernel::LinkInfo> links;
    for (const auto& [name, device] : devices) {
      links.push_back(device.link);
    }
    for (const auto& name : dataplane::staleDevices(networks, links)) {
      devices.erase(name);
      mutations.push_back("delete link " + name);
      ++report.devicesRemoved;
    }
    return report;
  }

  Status ensureNamespace(const std::string& name) override {
    if (namespaces.insert(name).second) {
      mutations.push_back("create namespace " + name);
    }
    return {};
  }
  Status deleteNamespace(const std::string& name) override {
    if (namespaces.erase(name) > 0) {
      wiring.erase(name);
      loadBalancers.erase(name);  // a namespace made again under this name starts empty
      ingress.erase(name);
      egress.erase(name);
      mutations.push_back("delete namespace " + name);
    }
    return {};
  }
  Result<std::vector<std::string>> listNamespaces(const std::string& prefix) override {
    std::vector<std::string> names;
    for (const auto& name : namespaces) {
      if (name.starts_with(prefix)) {
        names.push_back(name);
      }
    }
    return names;
  }
  std::string namespacePath(const std::string& name) override { return "/fake/netns/" + name; }

  Status ensureGateway(const dataplane::GatewayConfig& gateway, unsigned int) override {
    if (!gatewayReady) {
      gatewayReady = true;
      mutations.push_back("set up gateway " + gateway.bridge);
    }
    return {};
  }
  Status wireSandbox(const std::string& sandbox, const dataplane::SandboxPlan& plan,
                     const dataplane::GatewayConfig&,
                     std::optional<Ipv4Prefix> egressAddress) override {
    if (!namespaces.contains(sandbox)) {
      return errorf(ErrorKind::NotFound, "namespace {} does not exist", sandbox);
    }
    std::string wanted = describe(plan, egressAddress);
    if (wiring[sandbox] != wanted) {
      wiring[sandbox] = wanted;
      egress[sandbox] = egressAddress;
      mutations.push_back("wire " + sandbox + ": " + wanted);
    }
    return {};
  }
  Result<std::optional<Ipv4Prefix>> sandboxEgressAddress(
      const std::string& sandbox, const dataplane::GatewayConfig&) override {
    auto found = egress.find(sandbox);
    return found == egress.end() ? std::optional<Ipv4Prefix>() : found->second;
  }
  Status unwireSandbox(const std::string& taskId) override {
    for (auto it = wiring.begin(); it != wiring.end();) {
      if (it->first.ends_with("t-" + taskId)) {
        mutations.push_back("unwire " + it->first);
        egress.erase(it->first);
        it = wiring.erase(it);
      } else {
        ++it;
      }
    }
    return {};
  }

  Status applySandboxLb(const std::string& sandboxNamespace,
                        const dataplane::SandboxLb& lb) override {
    if (!namespaces.contains(sandboxNamespace)) {
      return errorf(ErrorKind::NotFound, "namespace {} does not exist", sandboxNamespace);
    }
    auto applied = loadBalancers.find(sandboxNamespace);
    if (applied == loadBalancers.end()) {
      loadBalancers[sandboxNamespace] = lb;
      mutations.push_back(
          fmt::format("lb {} replace ({} services)", sandboxNamespace, lb.services.size()));
      return {};
    }
    auto changes = dataplane::diffSandboxLb(applied->second, lb);
    for (const auto& service : changes.removed) {
      mutations.push_back(fmt::format("lb {} remove {}", sandboxNamespace, service.vip));
    }
    for (const auto& change : changes.changed) {
      mutations.push_back(fmt::format("lb {} set {} -> {}", sandboxNamespace, change.after.vip,
                                      backendsText(change.after)));
    }
    for (const auto& service : changes.added) {
      mutations.push_back(
          fmt::format("lb {} add {} -> {}", sandboxNamespace, service.vip, backendsText(service)));
    }
    applied->second = lb;
    return {};
  }
  Status applyNodeMesh(const dataplane::NodeMesh& wanted) override {
    if (wanted.empty()) {
      if (!mesh || !mesh->empty()) {
        mutations.push_back("mesh remove");
      }
      mesh = wanted;
      return {};
    }
    auto changes = dataplane::diffNodeMesh(mesh.value_or(dataplane::NodeMesh{}), wanted);
    if (!mesh || mesh->empty() || changes.rulesChanged) {
      mutations.push_back(fmt::format("mesh replace ({} ports)", wanted.ports.size()));
      mesh = wanted;
      return {};
    }
    for (const auto& port : changes.removed) {
      mutations.push_back(fmt::format("mesh remove {}/{}", port.protocol, port.publishedPort));
    }
    for (const auto& change : changes.changed) {
      mutations.push_back(fmt::format("mesh set {}/{} -> {}", change.after.protocol,
                                      change.after.publishedPort, meshBackendsText(change.after)));
    }
    for (const auto& port : changes.added) {
      mutations.push_back(fmt::format("mesh add {}/{} -> {}", port.protocol, port.publishedPort,
                                      meshBackendsText(port)));
    }
    mesh = wanted;
    return {};
  }

  Status applySandboxIngress(const std::string& sandboxNamespace,
                             const dataplane::SandboxIngress& wanted) override {
    if (!namespaces.contains(sandboxNamespace)) {
      return errorf(ErrorKind::NotFound, "namespace {} does not exist", sandboxNamespace);
    }
    auto applied = ingress.find(sandboxNamespace);
    if (wanted.empty()) {
      if (applied != ingress.end()) {
        mutations.push_back(fmt::format("ingress {} remove", sandboxNamespace));
        ingress.erase(applied);
      }
      return {};
    }
    if (applied == ingress.end() || applied->second.interface != wanted.interface) {
      mutations.push_back(fmt::format("ingress {} replace {} ({} nodes)", sandboxNamespace,
                                      wanted.interface, wanted.nodes.size()));
      ingress[sandboxNamespace] = wanted;
      return {};
    }
    auto changes = dataplane::diffSandboxIngress(applied->second, wanted);
    for (const auto& node : changes.nodesRemoved) {
      mutations.push_back(fmt::format("ingress {} remove node {}", sandboxNamespace, node.address));
    }
    for (const auto& node : changes.nodesAdded) {
      mutations.push_back(fmt::format("ingress {} add node {}", sandboxNamespace, node.address));
    }
    if (applied->second.tcpPorts != wanted.tcpPorts ||
        applied->second.udpPorts != wanted.udpPorts) {
      mutations.push_back(fmt::format("ingress {} ports tcp {} udp {}", sandboxNamespace,
                                      portsText(wanted.tcpPorts), portsText(wanted.udpPorts)));
    }
    applied->second = wanted;
    return {};
  }

  void forgetSandboxIngress(const std::string& sandboxNamespace) override {
    ingress.erase(sandboxNamespace);
  }

  // "10.0.0.5:80,10.0.0.6:80", or "none".
  static std::string meshBackendsText(const dataplane::MeshPort& port) {
    if (port.backends.empty()) {
      return "none";
    }
    std::vector<std::string> parts;
    for (const auto& backend : port.backends) {
      parts.push_back(fmt::format("{}:{}", backend.address, backend.port));
    }
    return fmt::format("{}", fmt::join(parts, ","));
  }

  // "80,81", or "none".
  static std::string portsText(const std::vector<std::uint16_t>& ports) {
    return ports.empty() ? std::string("none") : fmt::format("{}", fmt::join(ports, ","));
  }

  void forgetSandboxLb(const std::string& sandboxNamespace) override {
    loadBalancers.erase(sandboxNamespace);
  }

  // "10.0.0.5,10.0.0.6", or "none".
  static std::string backendsText(const dataplane::LbService& service) {
    if (service.backends.empty()) {
      return "none";
    }
    return fmt::format("{}", fmt::join(service.backends, ","));
  }

  // One line per interface: "eth0 10.0.15.2/24 on ombr4096 mtu 1450", then the egress.
  static std::string describe(const dataplane::SandboxPlan& plan,
                              std::optional<Ipv4Prefix> egressAddress) {
    std::string text;
    for (const auto& interface : plan.interfaces) {
      text += fmt::format("{} {} {} on {} mtu {}; ", interface.name, interface.address,
                          interface.mac, interface.bridge, interface.mtu);
    }
    if (plan.egress) {
      text += "egress " + (egressAddress ? egressAddress->toString() : std::string("none"));
    }
    return text;
  }

 private:
  dataplane::ObservedNetwork observe(const dataplane::NetworkPlan& plan) const {
    dataplane::ObservedNetwork observed;
    if (auto bridge = devices.find(plan.bridge); bridge != devices.end()) {
      observed.bridge = bridge->second.link;
      observed.bridgeAddresses.assign(bridge->second.addresses.begin(),
                                      bridge->second.addresses.end());
    }
    auto vxlan = devices.find(plan.vxlan);
    if (vxlan == devices.end()) {
      return observed;
    }
    observed.vxlan = vxlan->second.link;
    observed.vxlanParameters = vxlan->second.vxlan;
    observed.fdb.assign(vxlan->second.fdb.begin(), vxlan->second.fdb.end());
    for (const auto& [ip, mac] : vxlan->second.neighbours) {
      observed.neighbours.push_back({ip, mac, true});
    }
    observed.learned.assign(vxlan->second.learned.begin(), vxlan->second.learned.end());
    return observed;
  }

  void applyLink(const dataplane::NetworkPlan& plan, Ipv4Address local,
                 const dataplane::LinkChange& change, dataplane::OverlayApplyReport& report) {
    using Action = dataplane::LinkChange::Action;
    switch (change.action) {
      case Action::CreateBridge:
      case Action::CreateVxlan: {
        bool bridge = change.action == Action::CreateBridge;
        Device device;
        device.link = {change.device, nextIndex_++, bridge ? "bridge" : "vxlan", plan.mtu, false,
                       0, {}};
        if (!bridge) {
          device.vxlan = dataplane::kernel::VxlanInfo{plan.vni, local, false, true,
                                                      dataplane::kVxlanPort, plan.mtu};
        }
        devices[change.device] = device;
        mutations.push_back(fmt::format("create {} {}", bridge ? "bridge" : "vxlan", change.device));
        ++report.devicesCreated;
        return;
      }
      case Action::Delete:
        devices.erase(change.device);
        mutations.push_back("delete link " + change.device);
        ++report.devicesRemoved;
        return;
      case Action::SetMtu:
        devices.at(change.device).link.mtu = plan.mtu;
        mutations.push_back(fmt::format("set mtu {} {}", change.device, plan.mtu));
        return;
      case Action::SetMaster:
        devices.at(change.device).link.masterIndex = devices.at(plan.bridge).link.index;
        mutations.push_back(fmt::format("set master {} {}", change.device, plan.bridge));
        return;
      case Action::SetUp:
        devices.at(change.device).link.up = true;
        mutations.push_back("set up " + change.device);
        return;
      case Action::SetMac: {
        auto mac = macForIp(plan.hostAddress.value().address());
        devices.at(change.device).link.mac = mac;
        mutations.push_back(fmt::format("set mac {} {}", change.device, mac));
        return;
      }
      case Action::AddAddress:
        devices.at(change.device).addresses.insert(change.address);
        mutations.push_back(fmt::format("add address {} {}", change.device, change.address));
        return;
      case Action::DeleteAddress:
        devices.at(change.device).addresses.erase(change.address);
        mutations.push_back(fmt::format("delete address {} {}", change.device, change.address));
        return;
    }
  }

  void applyPeers(const std::string& vxlan, const dataplane::PeerChanges& changes,
                  dataplane::OverlayApplyReport& report) {
    Device& device = devices.at(vxlan);
    for (const auto& entry : changes.fdbToRemove) {
      device.fdb.erase(entry);
      mutations.push_back(fmt::format("delete fdb {} {} {}", vxlan, entry.mac, entry.remote));
    }
    for (const auto& ip : changes.neighboursToRemove) {
      device.neighbours.erase(ip);
      mutations.push_back(fmt::format("delete neighbour {} {}", vxlan, ip));
    }
    for (const auto& mac : changes.learnedToRemove) {
      device.learned.erase(mac);
      mutations.push_back(fmt::format("delete learned {} {}", vxlan, mac));
    }
    for (const auto& entry : changes.fdbToAdd) {
      device.fdb.insert(entry);
      mutations.push_back(fmt::format("add fdb {} {} {}", vxlan, entry.mac, entry.remote));
    }
    for (const auto& entry : changes.neighboursToAdd) {
      device.neighbours[entry.ip] = entry.mac;
      mutations.push_back(fmt::format("add neighbour {} {} {}", vxlan, entry.ip, entry.mac));
    }
    report.entriesRemoved += static_cast<int>(changes.removals());
    report.entriesAdded += static_cast<int>(changes.additions());
  }

  int nextIndex_ = 100;
};

}  // namespace overmesh::testing
