#pragma once

// What agents may see of the Store: the objects they reconcile (networks, nodes, tasks,
// services) and the registry settings, never the cluster record (it holds the join token),
// credentials, name indexes or guards. One definition, used by the snapshot, the watch stream and
// the manager's own local agent alike. It lives outside the manager so that the agent can use it
// without depending on the manager.

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "store/store.h"

namespace overmesh::state {

bool isAgentVisibleKey(std::string_view key);

struct AgentSnapshot {
  std::vector<store::KeyValue> kvs;
  store::Revision revision = 0;
};

// Every agent-visible key at one revision.
Result<AgentSnapshot> agentSnapshot(store::Store& store);

// Agent-visible events from `fromRevision` on, waiting up to `wait` for some. Compacted
// when the history is gone (the agent then takes a new snapshot).
Result<store::WatchResult> agentWatch(store::Store& store, store::Revision fromRevision,
                                      std::chrono::milliseconds wait);

}  // namespace overmesh::state
