#pragma once

// What a node remembers about its own membership across restarts: its node ID, role and
// where its manager is (its keys and certificates are in <state-dir>/pki, see
// security/node_pki.h). Kept in <state-dir>/node.json, written atomically (common/atomic_file.h)
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
};

// The saved state, or nullopt when the node has never joined a swarm. A node.json of an
// earlier version, with the shared secrets that certificates replaced ("nodeSecret",
// "memberSecret"), loads: those fields are ignored and dropped at the next save.
Result<std::optional<NodeState>> loadNodeState(const std::string& stateDir);
Status saveNodeState(const std::string& stateDir, const NodeState& state);
Status removeNodeState(const std::string& stateDir);

}  // namespace overmesh::daemon
