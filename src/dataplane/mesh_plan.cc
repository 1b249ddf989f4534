#include "dataplane/mesh_plan.h"

#include <algorithm>
#include <map>
#include <set>
#include <tuple>
#include <utility>

#include "dataplane/ingress_rules.h"
#include "dataplane/overlay_plan.h"
#include "state/liveness.h"

namespace overmesh::dataplane {
namespace {

bool validPort(std::int64_t port) { return port >= 1 && port <= 65535; }

// A port of a service as the mesh can use it; nullopt for anything out of range.
struct UsablePort {
  std::string protocol;
  std::uint16_t published = 0;
  std::uint16_t target = 0;
  bool ingress = true;
};

std::optional<UsablePort> usable(const api::PortConfig& port) {
  if ((port.protocol != "tcp" && port.protocol != "udp") || !validPort(port.publishedPort) ||
      !validPort(port.targetPort) ||
      (port.publishMode != "ingress" && port.publishMode != "host")) {
    return std::nullopt;
  }
  return UsablePort{port.protocol, static_cast<std::uint16_t>(port.publishedPort),
                    static_cast<std::uint16_t>(port.targetPort), port.publishMode == "ingress"};
}

void sortUnique(std::vector<std::uint16_t>& ports) {
  std::sort(ports.begin(), ports.end());
  ports.erase(std::unique(ports.begin(), ports.end()), ports.end());
}

}  // namespace

MeshIndex MeshIndex::build(const std::string& selfNodeId, const std::vector<api::Network>& networks,
                           const std::vector<api::Service>& services,
                           const std::vector<api::Task>& tasks, const std::vector<api::Node>& nodes,
                           const LocalAddress& localAddress) {
  MeshIndex index;
  const api::Network* ingress = nullptr;
  for (const auto& network : networks) {
    // At most one exists (the manager sees to it); if the data says otherwise, the
    // smallest ID wins so that every node picks the same one.
    if (network.ingress && (ingress == nullptr || network.id < ingress->id)) {
      ingress = &network;
    }
  }
  if (ingress != nullptr) {
    index.ingressNetworkId_ = ingress->id;
  }

  std::optional<Ipv4Address> selfIngress;
  std::map<Ipv4Address, IngressPeer> peers;
  for (const auto& node : nodes) {
    // With its prefix, as planNode needs it for the bridge: both must agree on who is in.
    auto parsed = Ipv4Prefix::parse(node.ingressAddress);
    if (!parsed || !ingressMarkUsable(parsed->address())) {
      continue;
    }
    auto address = std::optional(parsed->address());
    peers.emplace(*address, IngressPeer{*address, macForIp(*address)});
    if (node.id == selfNodeId) {
      selfIngress = *address;
    }
  }
  for (const auto& [address, peer] : peers) {
    index.peers_.push_back(peer);
  }

  // The (protocol, published port) pairs, each owned by one service: the manager never
  // gives one pair to two services, but if the data does, the smallest service ID wins.
  struct Owner {
    std::string serviceId;
    std::string serviceName;
    UsablePort port;
  };
  std::map<std::pair<std::string, std::uint16_t>, Owner> owners;
  for (const auto& service : services) {
    for (const auto& config : service.ports) {
      auto port = usable(config);
      if (!port || (port->ingress && ingress == nullptr)) {
        continue;
      }
      auto key = std::pair(port->protocol, port->published);
      auto found = owners.find(key);
      if (found == owners.end() || service.id < found->second.serviceId) {
        owners[key] = Owner{service.id, service.spec.name, *port};
      }
    }
  }

  // service ID -> its (protocol, published) pairs, so that each task is looked at once.
  std::map<std::string, std::vector<std::pair<std::string, std::uint16_t>>> byService;
  std::map<std::pair<std::string, std::uint16_t>, MeshPort> ports;
  for (const auto& [key, owner] : owners) {
    byService[owner.serviceId].push_back(key);
    if (owner.port.ingress) {
      index.meshActive_ = true;
      ports[key] = MeshPort{owner.port.protocol, owner.port.published, owner.serviceName, {}};
      auto& targets = index.targets_;
      auto entry = std::find_if(targets.begin(), targets.end(),
                                [&](const auto& item) { return item.first == owner.serviceId; });
      if (entry == targets.end()) {
        targets.push_back({owner.serviceId, {}});
        entry = std::prev(targets.end());
      }
      (owner.port.protocol == "tcp" ? entry->second.first : entry->second.second)
          .push_back(owner.port.target);
    }
  }
  for (auto& [serviceId, targets] : index.targets_) {
    sortUnique(targets.first);
    sortUnique(targets.second);
  }
  std::sort(index.targets_.begin(), index.targets_.end());

  state::NodeReadiness readiness(nodes);
  for (const auto& task : tasks) {
    auto keys = byService.find(task.serviceId);
    if (task.serviceId.empty() || keys == byService.end() || !state::isLive(task, readiness)) {
      continue;
    }
    std::optional<Ipv4Address> ingressAddress;
    for (const auto& attachment : task.attachments) {
      if (ingress != nullptr && attachment.networkId == ingress->id) {
        ingressAddress = addressOfRecord(attachment.address);
        break;
      }
    }
    for (const auto& key : keys->second) {
      const Owner& owner = owners.at(key);
      if (owner.port.ingress) {
        if (ingressAddress) {
          ports[key].backends.push_back({*ingressAddress, owner.port.target});
        }
        continue;
      }
      // Host mode: this node's own live tasks only, where it reaches them.
      if (task.nodeId != selfNodeId || !localAddress) {
        continue;
      }
      if (auto local = localAddress(task.id)) {
        auto& port = ports[key];
        port.protocol = owner.port.protocol;
        port.publishedPort = owner.port.published;
        port.serviceName = owner.serviceName;
        port.backends.push_back({*local, owner.port.target});
      }
    }
  }
  for (auto& [key, port] : ports) {
    std::sort(port.backends.begin(), port.backends.end());
    port.backends.erase(std::unique(port.backends.begin(), port.backends.end()),
                        port.backends.end());
    index.node_.ports.push_back(std::move(port));
  }
  if (index.meshActive_ && selfIngress && ingress != nullptr) {
    index.node_.ingressBridge = bridgeName(ingress->vni);
  }
  return index;
}

SandboxIngress MeshIndex::forSandbox(const api::Task& task) const {
  SandboxIngress result;
  if (ingressNetworkId_.empty()) {
    return result;
  }
  for (std::size_t i = 0; i < task.attachments.size(); ++i) {
    if (task.attachments[i].networkId == ingressNetworkId_) {
      result.interface = "eth" + std::to_string(i);
      break;
    }
  }
  if (result.interface.empty()) {
    return result;
  }
  result.nodes = peers_;
  auto targets =
      std::lower_bound(targets_.begin(), targets_.end(), task.serviceId,
                       [](const auto& item, const std::string& id) { return item.first < id; });
  if (targets != targets_.end() && targets->first == task.serviceId) {
    result.tcpPorts = targets->second.first;
    result.udpPorts = targets->second.second;
  }
  return result;
}

}  // namespace overmesh::dataplane
