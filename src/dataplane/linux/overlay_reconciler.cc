#include "dataplane/linux/overlay_reconciler.h"

#include <fmt/format.h>

namespace overmesh::dataplane::kernel {
namespace {

// The link, or nullopt when it does not exist.
Result<std::optional<LinkInfo>> linkIfPresent(Netlink& host, const std::string& name) {
  auto info = host.link(name);
  if (info) {
    return std::optional<LinkInfo>(std::move(*info));
  }
  if (info.error().kind == ErrorKind::NotFound) {
    return std::optional<LinkInfo>();
  }
  return std::unexpected(info.error());
}

Status applyLinkChange(Netlink& host, const NetworkPlan& plan, Ipv4Address local,
                       const LinkChange& change, OverlayApplyReport& report) {
  using Action = LinkChange::Action;
  Status applied;
  switch (change.action) {
    case Action::CreateBridge:
      applied = host.createBridge(change.device, plan.mtu);
      report.devicesCreated += applied ? 1 : 0;
      return applied;
    case Action::CreateVxlan:
      applied = host.createVxlan(change.device, plan.vni, local, kVxlanPort, plan.mtu);
      report.devicesCreated += applied ? 1 : 0;
      return applied;
    case Action::Delete:
      applied = host.deleteLink(change.device);
      report.devicesRemoved += applied ? 1 : 0;
      return applied;
    case Action::SetMtu:
      return host.setMtu(change.device, plan.mtu);
    case Action::SetMaster:
      return host.setMaster(change.device, plan.bridge);
    case Action::SetUp:
      return host.setUp(change.device);
    case Action::SetMac:
      if (!plan.hostAddress) {
        return errorf(ErrorKind::Internal, "network {}: a bridge MAC without a host address",
                      plan.networkName);
      }
      return host.setMacAddress(change.device, macForIp(plan.hostAddress->address()));
    case Action::AddAddress:
      return host.addAddress(change.device, change.address);
    case Action::DeleteAddress:
      return host.deleteAddress(change.device, change.address);
  }
  return {};
}

// Applies `apply` to each item, counting successes in `counter`; stops at the first failure.
template <typename Items, typename Apply>
Status applyEach(const Items& items, int& counter, Apply apply) {
  for (const auto& item : items) {
    if (auto applied = apply(item); !applied) {
      return applied;
    }
    ++counter;
  }
  return {};
}

// Removes first (a remote that moved must lose its old entry before it gets the new one),
// and stops at the first failure: the next pass starts again from what the kernel then has.
Status applyPeerChanges(Netlink& host, const std::string& vxlan, const PeerChanges& changes,
                        OverlayApplyReport& report) {
  Status status = applyEach(changes.fdbToRemove, report.entriesRemoved, [&](const auto& entry) {
    return host.deleteFdbEntry(vxlan, entry.mac, entry.remote);
  });
  if (status) {
    status = applyEach(changes.neighboursToRemove, report.entriesRemoved,
                       [&](const auto& ip) { return host.deleteNeighbour(vxlan, ip); });
  }
  if (status) {
    status = applyEach(changes.learnedToRemove, report.entriesRemoved,
                       [&](const auto& mac) { return host.deleteLearnedFdbEntry(vxlan, mac); });
  }
  if (status) {
    status = applyEach(changes.fdbToAdd, report.entriesAdded, [&](const auto& entry) {
      return host.addFdbEntry(vxlan, entry.mac, entry.remote);
    });
  }
  if (status) {
    status = applyEach(changes.neighboursToAdd, report.entriesAdded, [&](const auto& entry) {
      return host.addNeighbour(vxlan, entry.ip, entry.mac);
    });
  }
  return status;
}

Status reconcileNetwork(Netlink& host, const NetworkPlan& plan, Ipv4Address local,
                        OverlayApplyReport& report) {
  auto observed = observeNetwork(host, plan);
  if (!observed) {
    return std::unexpected(observed.error());
  }
  NetworkChanges changes = diffNetwork(plan, *observed, local);
  for (const auto& change : changes.links) {
    if (auto applied = applyLinkChange(host, plan, local, change, report); !applied) {
      return applied;
    }
  }
  return applyPeerChanges(host, plan.vxlan, changes.peers, report);
}

}  // namespace

Result<ObservedNetwork> observeNetwork(Netlink& host, const NetworkPlan& plan) {
  ObservedNetwork observed;
  auto bridge = linkIfPresent(host, plan.bridge);
  if (!bridge) {
    return std::unexpected(bridge.error());
  }
  observed.bridge = std::move(*bridge);
  if (observed.bridge) {
    auto addresses = host.listAddresses(plan.bridge);
    if (!addresses) {
      return std::unexpected(addresses.error());
    }
    for (const auto& entry : *addresses) {
      observed.bridgeAddresses.push_back(entry.address);
    }
  }
  auto vxlan = linkIfPresent(host, plan.vxlan);
  if (!vxlan) {
    return std::unexpected(vxlan.error());
  }
  observed.vxlan = std::move(*vxlan);
  if (!observed.vxlan) {
    return observed;
  }
  // A device of that name that is not VXLAN (or cannot be read as one) is replaced.
  auto parameters = host.vxlanInfo(plan.vxlan);
  if (!parameters) {
    return observed;
  }
  observed.vxlanParameters = *parameters;
  auto fdb = host.listFdbEntries(plan.vxlan);
  if (!fdb) {
    return std::unexpected(fdb.error());
  }
  observed.fdb = std::move(*fdb);
  auto neighbours = host.listNeighbours(plan.vxlan);
  if (!neighbours) {
    return std::unexpected(neighbours.error());
  }
  observed.neighbours = std::move(*neighbours);
  auto learned = host.listLearnedFdbEntries(plan.vxlan);
  if (!learned) {
    return std::unexpected(learned.error());
  }
  observed.learned = std::move(*learned);
  return observed;
}

OverlayApplyReport applyOverlay(Netlink& host, const std::vector<NetworkPlan>& networks,
                                Ipv4Address local) {
  OverlayApplyReport report;
  for (const auto& plan : networks) {
    if (auto applied = reconcileNetwork(host, plan, local, report); !applied) {
      report.problems.push_back(
          fmt::format("network {}: {}", plan.networkName, applied.error().message));
    }
  }
  auto links = host.listLinks();
  if (!links) {
    report.problems.push_back(links.error().message);
    return report;
  }
  for (const auto& device : staleDevices(networks, *links)) {
    if (auto removed = host.deleteLink(device); !removed) {
      report.problems.push_back(removed.error().message);
      continue;
    }
    ++report.devicesRemoved;
  }
  return report;
}

}  // namespace overmesh::dataplane::kernel
