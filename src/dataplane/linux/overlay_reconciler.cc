#include "dataplane/linux/overlay_reconciler.h"

#include <algorithm>
#include <set>

#include <fmt/format.h>

namespace overmesh::dataplane::kernel {
namespace {

bool isOurs(std::string_view name) { return name.starts_with("ombr") || name.starts_with("omvx"); }

// The bridge exists, is up, has the MTU; created when missing.
Status ensureBridge(Netlink& host, const NetworkPlan& plan, OverlayApplyReport& report) {
  auto exists = host.linkExists(plan.bridge);
  if (!exists) {
    return std::unexpected(exists.error());
  }
  if (!*exists) {
    if (auto created = host.createBridge(plan.bridge, plan.mtu); !created) {
      return created;
    }
    ++report.devicesCreated;
  }
  auto info = host.link(plan.bridge);
  if (!info) {
    return std::unexpected(info.error());
  }
  if (info->mtu != plan.mtu) {
    if (auto set = host.setMtu(plan.bridge, plan.mtu); !set) {
      return set;
    }
  }
  if (!info->up) {
    return host.setUp(plan.bridge);
  }
  return {};
}

// The VXLAN device exists with the plan's VNI, source and port, learning off and proxy on,
// enslaved to the bridge and up. A device with other parameters is replaced.
Status ensureVxlan(Netlink& host, const NetworkPlan& plan, Ipv4Address local,
                   OverlayApplyReport& report) {
  auto exists = host.linkExists(plan.vxlan);
  if (!exists) {
    return std::unexpected(exists.error());
  }
  if (*exists) {
    auto info = host.vxlanInfo(plan.vxlan);
    bool right = info && info->vni == plan.vni && info->local == local &&
                 info->port == kVxlanPort && !info->learning && info->proxy;
    if (!right) {
      if (auto removed = host.deleteLink(plan.vxlan); !removed) {
        return removed;
      }
      ++report.devicesRemoved;
      *exists = false;
    }
  }
  if (!*exists) {
    if (auto created = host.createVxlan(plan.vxlan, plan.vni, local, kVxlanPort, plan.mtu);
        !created) {
      return created;
    }
    ++report.devicesCreated;
  }
  auto info = host.link(plan.vxlan);
  if (!info) {
    return std::unexpected(info.error());
  }
  if (info->mtu != plan.mtu) {
    if (auto set = host.setMtu(plan.vxlan, plan.mtu); !set) {
      return set;
    }
  }
  auto bridgeIndex = host.linkIndex(plan.bridge);
  if (!bridgeIndex) {
    return std::unexpected(bridgeIndex.error());
  }
  if (info->masterIndex != *bridgeIndex) {
    if (auto enslaved = host.setMaster(plan.vxlan, plan.bridge); !enslaved) {
      return enslaved;
    }
  }
  if (!info->up) {
    return host.setUp(plan.vxlan);
  }
  return {};
}

// Makes the VXLAN device's static FDB and neighbour entries exactly the plan's remotes.
Status syncPeers(Netlink& host, const NetworkPlan& plan, OverlayApplyReport& report) {
  auto fdb = host.listFdbEntries(plan.vxlan);
  if (!fdb) {
    return std::unexpected(fdb.error());
  }
  auto neighbours = host.listNeighbours(plan.vxlan);
  if (!neighbours) {
    return std::unexpected(neighbours.error());
  }
  std::set<std::pair<std::string, Ipv4Address>> wantedFdb;
  std::set<std::pair<Ipv4Address, std::string>> wantedNeighbours;
  for (const auto& remote : plan.remotes) {
    wantedFdb.insert({remote.mac.toString(), remote.vtep});
    wantedNeighbours.insert({remote.address, remote.mac.toString()});
  }
  // Remove first: a remote that moved (same MAC, new VTEP) must lose its old entry.
  for (const auto& entry : *fdb) {
    if (!wantedFdb.contains({entry.mac.toString(), entry.remote})) {
      if (auto removed = host.deleteFdbEntry(plan.vxlan, entry.mac, entry.remote); !removed) {
        return removed;
      }
      ++report.entriesRemoved;
    }
  }
  for (const auto& entry : *neighbours) {
    if (!entry.permanent) {
      continue;
    }
    if (!wantedNeighbours.contains({entry.ip, entry.mac.toString()})) {
      if (auto removed = host.deleteNeighbour(plan.vxlan, entry.ip); !removed) {
        return removed;
      }
      ++report.entriesRemoved;
    }
  }
  // Entries the bridge learned for endpoints that are gone would otherwise linger until
  // they age out.
  auto learned = host.listLearnedFdbEntries(plan.vxlan);
  if (!learned) {
    return std::unexpected(learned.error());
  }
  std::set<std::string> wantedMacs;
  for (const auto& remote : plan.remotes) {
    wantedMacs.insert(remote.mac.toString());
  }
  for (const auto& mac : *learned) {
    if (!wantedMacs.contains(mac.toString())) {
      if (auto removed = host.deleteLearnedFdbEntry(plan.vxlan, mac); !removed) {
        return removed;
      }
      ++report.entriesRemoved;
    }
  }
  std::set<std::pair<std::string, Ipv4Address>> haveFdb;
  for (const auto& entry : *fdb) {
    haveFdb.insert({entry.mac.toString(), entry.remote});
  }
  std::set<std::pair<Ipv4Address, std::string>> haveNeighbours;
  for (const auto& entry : *neighbours) {
    if (entry.permanent) {
      haveNeighbours.insert({entry.ip, entry.mac.toString()});
    }
  }
  for (const auto& remote : plan.remotes) {
    if (!haveFdb.contains({remote.mac.toString(), remote.vtep})) {
      if (auto added = host.addFdbEntry(plan.vxlan, remote.mac, remote.vtep); !added) {
        return added;
      }
      ++report.entriesAdded;
    }
    if (!haveNeighbours.contains({remote.address, remote.mac.toString()})) {
      if (auto added = host.addNeighbour(plan.vxlan, remote.address, remote.mac); !added) {
        return added;
      }
      ++report.entriesAdded;
    }
  }
  return {};
}

}  // namespace

OverlayApplyReport applyOverlay(Netlink& host, const std::vector<NetworkPlan>& networks,
                                Ipv4Address local) {
  OverlayApplyReport report;
  std::set<std::string> wantedDevices;
  for (const auto& plan : networks) {
    wantedDevices.insert(plan.bridge);
    wantedDevices.insert(plan.vxlan);
    Status applied = ensureBridge(host, plan, report);
    if (applied) {
      applied = ensureVxlan(host, plan, local, report);
    }
    if (applied) {
      applied = syncPeers(host, plan, report);
    }
    if (!applied) {
      report.problems.push_back(
          fmt::format("network {}: {}", plan.networkName, applied.error().message));
    }
  }
  auto links = host.listLinks();
  if (!links) {
    report.problems.push_back(links.error().message);
    return report;
  }
  for (const auto& link : *links) {
    if (isOurs(link.name) && !wantedDevices.contains(link.name)) {
      if (auto removed = host.deleteLink(link.name); !removed) {
        report.problems.push_back(removed.error().message);
        continue;
      }
      ++report.devicesRemoved;
    }
  }
  return report;
}

}  // namespace overmesh::dataplane::kernel
