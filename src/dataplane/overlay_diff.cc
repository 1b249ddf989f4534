#include "dataplane/overlay_diff.h"

#include <set>
#include <utility>

namespace overmesh::dataplane {
namespace {

using Action = LinkChange::Action;

bool isOurs(std::string_view name) { return name.starts_with("ombr") || name.starts_with("omvx"); }

bool vxlanIsRight(const kernel::VxlanInfo& have, std::uint32_t vni, Ipv4Address local) {
  return have.vni == vni && have.local == local && have.port == kVxlanPort && !have.learning &&
         have.proxy;
}

// The node's endpoint on the bridge (the ingress network only): its MAC is set
// explicitly, since a bridge otherwise takes the smallest MAC of its ports and changes it
// as ports come and go, while backends recognise the node by it (ingress_rules.h). Any
// other address is removed: an overlay bridge holds the node's endpoint or nothing.
void diffBridgeAddress(const NetworkPlan& plan, const ObservedNetwork& observed,
                       std::vector<LinkChange>& changes) {
  bool haveWanted = false;
  for (const auto& address : observed.bridgeAddresses) {
    if (plan.hostAddress && address == *plan.hostAddress) {
      haveWanted = true;
    } else {
      changes.push_back({Action::DeleteAddress, plan.bridge, address});
    }
  }
  if (!plan.hostAddress) {
    return;
  }
  if (!observed.bridge || observed.bridge->mac != macForIp(plan.hostAddress->address())) {
    changes.push_back({Action::SetMac, plan.bridge, {}});
  }
  if (!haveWanted) {
    changes.push_back({Action::AddAddress, plan.bridge, *plan.hostAddress});
  }
}

void diffBridge(const NetworkPlan& plan, const ObservedNetwork& observed,
                std::vector<LinkChange>& changes) {
  if (!observed.bridge) {
    // Created down with the plan's MTU.
    changes.push_back({Action::CreateBridge, plan.bridge, {}});
    diffBridgeAddress(plan, ObservedNetwork{}, changes);
    changes.push_back({Action::SetUp, plan.bridge, {}});
    return;
  }
  if (observed.bridge->mtu != plan.mtu) {
    changes.push_back({Action::SetMtu, plan.bridge, {}});
  }
  diffBridgeAddress(plan, observed, changes);
  if (!observed.bridge->up) {
    changes.push_back({Action::SetUp, plan.bridge, {}});
  }
}

// Returns true when the VXLAN device is (re)created, i.e. starts without entries.
bool diffVxlan(const NetworkPlan& plan, const ObservedNetwork& observed, Ipv4Address local,
               std::vector<LinkChange>& changes) {
  bool keep = observed.vxlan && observed.vxlanParameters &&
              vxlanIsRight(*observed.vxlanParameters, plan.vni, local);
  if (!keep) {
    if (observed.vxlan) {
      changes.push_back({Action::Delete, plan.vxlan, {}});
    }
    // Created down, with the plan's MTU, on no bridge.
    changes.push_back({Action::CreateVxlan, plan.vxlan, {}});
    changes.push_back({Action::SetMaster, plan.vxlan, {}});
    changes.push_back({Action::SetUp, plan.vxlan, {}});
    return true;
  }
  if (observed.vxlan->mtu != plan.mtu) {
    changes.push_back({Action::SetMtu, plan.vxlan, {}});
  }
  // A bridge about to be created has no index yet: the device cannot be on it.
  if (!observed.bridge || observed.vxlan->masterIndex != observed.bridge->index) {
    changes.push_back({Action::SetMaster, plan.vxlan, {}});
  }
  if (!observed.vxlan->up) {
    changes.push_back({Action::SetUp, plan.vxlan, {}});
  }
  return false;
}

PeerChanges diffPeers(const NetworkPlan& plan, const ObservedNetwork& observed) {
  std::set<kernel::FdbEntry> wantedFdb;
  std::set<std::pair<Ipv4Address, MacAddress>> wantedNeighbours;
  std::set<MacAddress> wantedMacs;
  for (const auto& remote : plan.remotes) {
    wantedFdb.insert({remote.mac, remote.vtep});
    wantedNeighbours.insert({remote.address, remote.mac});
    wantedMacs.insert(remote.mac);
  }
  std::set<kernel::FdbEntry> haveFdb(observed.fdb.begin(), observed.fdb.end());
  std::set<std::pair<Ipv4Address, MacAddress>> haveNeighbours;
  for (const auto& entry : observed.neighbours) {
    if (entry.permanent) {
      haveNeighbours.insert({entry.ip, entry.mac});
    }
  }

  PeerChanges changes;
  for (const auto& entry : observed.fdb) {
    if (!wantedFdb.contains(entry)) {
      changes.fdbToRemove.push_back(entry);
    }
  }
  for (const auto& [ip, mac] : haveNeighbours) {
    if (!wantedNeighbours.contains({ip, mac})) {
      changes.neighboursToRemove.push_back(ip);
    }
  }
  // The bridge keeps what it learned for an endpoint that is gone until it ages out;
  // traffic to the old MAC would meanwhile go to the wrong place.
  for (const auto& mac : observed.learned) {
    if (!wantedMacs.contains(mac)) {
      changes.learnedToRemove.push_back(mac);
    }
  }
  for (const auto& remote : plan.remotes) {
    if (!haveFdb.contains({remote.mac, remote.vtep})) {
      changes.fdbToAdd.push_back({remote.mac, remote.vtep});
    }
    if (!haveNeighbours.contains({remote.address, remote.mac})) {
      changes.neighboursToAdd.push_back({remote.address, remote.mac, true});
    }
  }
  return changes;
}

}  // namespace

std::size_t PeerChanges::removals() const {
  return fdbToRemove.size() + neighboursToRemove.size() + learnedToRemove.size();
}

std::size_t PeerChanges::additions() const { return fdbToAdd.size() + neighboursToAdd.size(); }

NetworkChanges diffNetwork(const NetworkPlan& plan, const ObservedNetwork& observed,
                           Ipv4Address local) {
  NetworkChanges changes;
  diffBridge(plan, observed, changes.links);
  bool freshVxlan = diffVxlan(plan, observed, local, changes.links);
  // A new VXLAN device has no entries (the old device's went with it).
  changes.peers = diffPeers(plan, freshVxlan ? ObservedNetwork{} : observed);
  return changes;
}

std::vector<std::string> staleDevices(const std::vector<NetworkPlan>& plans,
                                      const std::vector<kernel::LinkInfo>& links) {
  std::set<std::string> wanted;
  for (const auto& plan : plans) {
    wanted.insert(plan.bridge);
    wanted.insert(plan.vxlan);
  }
  std::vector<std::string> stale;
  for (const auto& link : links) {
    if (isOurs(link.name) && !wanted.contains(link.name)) {
      stale.push_back(link.name);
    }
  }
  return stale;
}

}  // namespace overmesh::dataplane
