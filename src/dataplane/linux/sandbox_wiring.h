#pragma once

// Wires a task's network namespace (its sandbox) to the node: one veth per network
// (eth0 = the first network, eth1…), its peer on that network's bridge, the task's
// overlay address and deterministic MAC, the overlay MTU; and, unless every network is
// internal, a last interface on the node's gateway bridge with the default route, NATed
// out of the node. Every step checks what is there first, so wiring a sandbox that is
// already right changes nothing (an agent restart does not disturb its traffic).

#include <optional>
#include <string>

#include "common/error.h"
#include "common/ip.h"
#include "dataplane/gateway_nat.h"
#include "dataplane/linux/netlink.h"
#include "dataplane/overlay_plan.h"

namespace overmesh::dataplane::kernel {

// The gateway bridge with its address, up, IPv4 forwarding on in the node's namespace,
// and our NAT table (masquerade of the gateway subnet leaving through other devices).
Status ensureGateway(Netlink& host, const GatewayConfig& gateway, unsigned int mtu);

// Host side name of a task's gateway veth.
std::string gatewayVethName(const std::string& taskId);

// Wires the sandbox in the named namespace `sandbox`. `egressAddress` is the task's
// address on the gateway subnet (needed when plan.egress).
Status wireSandbox(Netlink& host, const std::string& sandbox, const SandboxPlan& plan,
                   const GatewayConfig& gateway, std::optional<Ipv4Prefix> egressAddress);

// The gateway-subnet address a wired sandbox already has, if any (adoption after restart).
Result<std::optional<Ipv4Prefix>> sandboxEgressAddress(const std::string& sandbox,
                                                       const GatewayConfig& gateway);

// Deletes the task's host-side veths (their peers go with them). Missing ones are fine.
Status unwireSandbox(Netlink& host, const std::string& taskId);

}  // namespace overmesh::dataplane::kernel
