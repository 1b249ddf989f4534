#pragma once

// The nftables rule set of a node's gateway bridge (Docker's docker_gwbridge): tasks leave
// the node through it, masqueraded behind the node's own address. Pure text, no kernel;
// the agent runs it through Nftables::run() in the node's namespace.

#include <string>
#include <string_view>

#include "common/ip.h"

namespace overmesh::dataplane {

// The node's gateway bridge: its subnet (the node-local egress subnet) and name.
struct GatewayConfig {
  Ipv4Prefix subnet;              // e.g. 172.18.0.0/16
  std::string bridge = "omgwbridge";
  Ipv4Address address() const { return subnet.network().next(); }  // the bridge's own
};

// Whether `name` can be written into an nft script as a device name: device names reach nft
// inside double quotes, where nothing can be escaped, so only 1-15 characters of
// [A-Za-z0-9_.-] are plain.
bool isPlainDeviceName(std::string_view name);

// The one table the gateway rule set owns.
inline constexpr std::string_view kGatewayNatFamily = "ip";
inline constexpr std::string_view kGatewayNatTable = "overmesh_gw";

// An nft script that atomically (re)creates `table ip overmesh_gw` and touches nothing
// else: it creates the table if missing, deletes it and adds it back whole, in one batch.
// Its chains:
//   postrouting (nat, srcnat): traffic from `gatewaySubnet` leaving through any device but
//     the bridge is masqueraded;
//   forward (filter): traffic between two ports of the bridge is dropped, so that tasks
//     that share only the gateway bridge cannot reach each other through it (their
//     networks are the overlays), as Docker's gateway bridge does with icc off.
// The subnet is written masked (host bits cleared). `bridgeName` must be a valid device
// name (1-15 characters, no quotes, spaces or '/'); anything else is a caller bug and
// aborts.
std::string gatewayNatRuleset(const Ipv4Prefix& gatewaySubnet, std::string_view bridgeName);

}  // namespace overmesh::dataplane
