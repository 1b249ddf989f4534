#include "dataplane/linux/sandbox_wiring.h"

#include <fmt/format.h>

#include "api/types.h"
#include "dataplane/gateway_nat.h"
#include "dataplane/linux/netns.h"
#include "dataplane/linux/nftables.h"
#include "dataplane/linux/sysctl.h"

namespace overmesh::dataplane::kernel {
namespace {

constexpr std::size_t kMaxInterfaces = api::kMaxTaskInterfaces;  // hostVethName: one digit

Status ignoreConflict(Status status) {
  if (!status && status.error().kind == ErrorKind::Conflict) {
    return {};
  }
  return status;
}

// One interface: the veth pair (created when the host side is missing), the peer's MAC,
// address, MTU and state inside the sandbox, the host side on its bridge and up.
Status wireInterface(Netlink& host, Netlink& inside, int sandboxFd, const std::string& hostVeth,
                     const std::string& name, const std::string& bridge, const Ipv4Prefix& address,
                     std::optional<MacAddress> mac, unsigned int mtu) {
  auto exists = host.linkExists(hostVeth);
  if (!exists) {
    return std::unexpected(exists.error());
  }
  if (!*exists) {
    // A stale peer from a half-finished earlier attempt would make the create fail.
    if (auto stale = inside.deleteLink(name); !stale) {
      return stale;
    }
    if (auto created = host.createVethPair(hostVeth, name, sandboxFd, mtu); !created) {
      return created;
    }
  }
  if (mac) {
    // The MAC must be the deterministic one: remote nodes' FDB and neighbour entries
    // point at it.
    if (auto set = inside.setMacAddress(name, *mac); !set) {
      return set;
    }
  }
  if (auto added = ignoreConflict(inside.addAddress(name, address)); !added) {
    return added;
  }
  if (auto up = inside.setUp(name); !up) {
    return up;
  }
  auto hostInfo = host.link(hostVeth);
  if (!hostInfo) {
    return std::unexpected(hostInfo.error());
  }
  auto bridgeIndex = host.linkIndex(bridge);
  if (!bridgeIndex) {
    return std::unexpected(bridgeIndex.error());
  }
  if (hostInfo->masterIndex != *bridgeIndex) {
    if (auto enslaved = host.setMaster(hostVeth, bridge); !enslaved) {
      return enslaved;
    }
  }
  if (!hostInfo->up) {
    return host.setUp(hostVeth);
  }
  return {};
}

}  // namespace

std::string gatewayVethName(const std::string& taskId) {
  // Same hash as the overlay veths, with a 'g' so the names never collide.
  std::string overlay = hostVethName(taskId, 0);
  return "omg" + overlay.substr(3, 8);
}

Status ensureGateway(Netlink& host, const GatewayConfig& gateway, unsigned int mtu) {
  auto exists = host.linkExists(gateway.bridge);
  if (!exists) {
    return std::unexpected(exists.error());
  }
  if (!*exists) {
    if (auto created = host.createBridge(gateway.bridge, mtu); !created) {
      return created;
    }
  }
  Ipv4Prefix bridgeAddress = *Ipv4Prefix::fromParts(gateway.address(), gateway.subnet.length());
  if (auto added = ignoreConflict(host.addAddress(gateway.bridge, bridgeAddress)); !added) {
    return added;
  }
  if (auto up = host.setUp(gateway.bridge); !up) {
    return up;
  }
  if (auto forwarding = enableIpv4Forwarding(); !forwarding) {
    return forwarding;
  }
  auto nft = Nftables::open("");
  if (!nft) {
    return std::unexpected(nft.error());
  }
  return nft->run(gatewayNatRuleset(gateway.subnet, gateway.bridge));
}

Status wireSandbox(Netlink& host, const std::string& sandbox, const SandboxPlan& plan,
                   const GatewayConfig& gateway, std::optional<Ipv4Prefix> egressAddress) {
  if (plan.interfaces.size() + (plan.egress ? 1 : 0) > kMaxInterfaces) {
    return errorf(ErrorKind::InvalidArgument, "task {} has more than {} interfaces", plan.taskId,
                  kMaxInterfaces);
  }
  auto sandboxFd = openNamespace(sandbox);
  if (!sandboxFd) {
    return std::unexpected(sandboxFd.error());
  }
  auto inside = Netlink::open(sandbox);
  if (!inside) {
    return std::unexpected(inside.error());
  }
  if (auto up = inside->setUp("lo"); !up) {
    return up;
  }
  for (const auto& interface : plan.interfaces) {
    auto wired = wireInterface(host, *inside, sandboxFd->get(), interface.hostVeth, interface.name,
                               interface.bridge, interface.address, interface.mac, interface.mtu);
    if (!wired) {
      return std::unexpected(wired.error().withContext(fmt::format("wire {}", interface.name)));
    }
  }
  if (!plan.egress) {
    return {};
  }
  if (!egressAddress) {
    return errorf(ErrorKind::Internal, "task {} needs an egress address", plan.taskId);
  }
  std::string name = fmt::format("eth{}", plan.interfaces.size());
  unsigned int mtu = plan.interfaces.empty() ? 1450 : plan.interfaces.front().mtu;
  auto wired = wireInterface(host, *inside, sandboxFd->get(), gatewayVethName(plan.taskId), name,
                             gateway.bridge, *egressAddress, std::nullopt, mtu);
  if (!wired) {
    return std::unexpected(wired.error().withContext(fmt::format("wire {} (egress)", name)));
  }
  auto defaultRoute = Ipv4Prefix::parse("0.0.0.0/0");
  return inside->addRoute(*defaultRoute, gateway.address(), name);
}

Result<std::optional<Ipv4Prefix>> sandboxEgressAddress(const std::string& sandbox,
                                                       const GatewayConfig& gateway) {
  auto inside = Netlink::open(sandbox);
  if (!inside) {
    return std::unexpected(inside.error());
  }
  auto addresses = inside->listAddresses("");
  if (!addresses) {
    return std::unexpected(addresses.error());
  }
  for (const auto& entry : *addresses) {
    if (gateway.subnet.contains(entry.address.address())) {
      return std::optional<Ipv4Prefix>(entry.address);
    }
  }
  return std::optional<Ipv4Prefix>();
}

Status unwireSandbox(Netlink& host, const std::string& taskId) {
  for (std::size_t i = 0; i < kMaxInterfaces; ++i) {
    if (auto removed = host.deleteLink(hostVethName(taskId, i)); !removed) {
      return removed;
    }
  }
  return host.deleteLink(gatewayVethName(taskId));
}

}  // namespace overmesh::dataplane::kernel
