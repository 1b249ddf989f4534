#pragma once

// What a node remembers about its own membership across restarts: its node ID, role and
// where its manager is (its keys and certificates are in <state-dir>/pki, see
// security/node_pki.h). Kept in <state-dir>/node.json, written atomically (common/atomic_file.h)
// so a crash leaves either the old or the new file, never half of one.

#include <optional>
#include <string>

#include "common/error.h"
#include "store/store_location.h"

namespace overmesh::daemon {

struct NodeState {
  std::string nodeId;
  std::string role;  // "manager" | "worker"
  std::string clusterId;
  std::string advertiseAddress;  // this node's underlay IP
  std::string managerAddress;    // IP:PORT of the manager's cluster API
  // A manager's store (issue 13): SQLite in <state-dir>/cluster.db (the default, also for
  // a node.json without "store") or the etcd cluster with this node's own client TLS
  // files, so that a restarted manager reopens the same store. Unused on a worker.
  store::StoreLocation store;
};

// The saved state, or nullopt when the node has never joined a swarm. A node.json of an
// earlier version, with the shared secrets that certificates replaced ("nodeSecret",
// "memberSecret"), loads: those fields are ignored and dropped at the next save. A "store"
// that is not {"kind": "sqlite"} or {"kind": "etcd", "endpoints": [1..16 "HOST:PORT"],
// "caFile", "certFile", "keyFile"} is refused (Internal, naming the file).
Result<std::optional<NodeState>> loadNodeState(const std::string& stateDir);
Status saveNodeState(const std::string& stateDir, const NodeState& state);
Status removeNodeState(const std::string& stateDir);

}  // namespace overmesh::daemon
