#pragma once

// Pure helpers about the managers of a cluster, for `node ls` (MANAGER STATUS) and for the
// heartbeat reply that tells agents where every manager is.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "api/types.h"

namespace overmesh::manager {

// Node::managerStatus for `node`: "leader" when it is `leaderNodeId`, "reachable" for
// another manager that is ready, "unreachable" for a manager that is down, "" for a
// worker. `leaderNodeId` is "" while none leads.
std::string managerStatusOf(const api::Node& node, std::string_view leaderNodeId);

// Fills managerStatus of every node in `nodes`.
void fillManagerStatus(std::vector<api::Node>& nodes, std::string_view leaderNodeId);

// A manager as the heartbeat reply lists it.
struct ManagerEndpoint {
  std::string nodeId;
  std::string address;  // the underlay IP (Node::address)
};

// Every manager's cluster address "IP:PORT", the leader's first as its record says it,
// then the others in the order given. The others' port is taken from the leader's
// address: every manager listens on the same cluster port (DaemonOptions::clusterPort,
// 2377 unless the operator changes it on every node, as Docker assumes too). With no
// leader ("" or no port in it), the port is `fallbackPort`.
std::vector<std::string> managerClusterAddresses(const std::vector<ManagerEndpoint>& managers,
                                                 std::string_view leaderNodeId,
                                                 std::string_view leaderAddress,
                                                 std::uint16_t fallbackPort);

}  // namespace overmesh::manager
