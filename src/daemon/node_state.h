#pragma once

// What a node remembers about its own membership across restarts: its node ID, role and
// where its manager is. Kept in <state-dir>/node.json, written atomically (common/atomic_file.h)
// so a crash leaves either the old or the new file, never half of one.

#include <optional>
#include <string>

#include "common/error.h"

namespace overmesh::daemon {

struct NodeState {
  std::string nodeId;
  std::string role;  // "manager" | "worker"
  std::string clusterId;
  std::string advertiseAddress;  // this node's underlay IP
  std::string managerAddress;    // IP:PORT of the manager's cluster API
  std::string nodeSecret;        // credential a worker presents to the manager
  std::string memberSecret;      // shared by members for node-to-node calls
};

// The saved state, or nullopt when the node has never joined a swarm.
Result<std::optional<NodeState>> loadNodeState(const std::string& stateDir);
Status saveNodeState(const std::string& stateDir, const NodeState& state);
Status removeNodeState(const std::string& stateDir);

}  // namespace overmesh::daemon
