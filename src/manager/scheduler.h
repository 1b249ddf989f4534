#pragma once

// Placement of a task on a node: a pure decision over the nodes and the tasks already
// placed, unit-tested without a cluster.

#include <optional>
#include <string>
#include <vector>

#include "api/types.h"
#include "common/error.h"

namespace overmesh::manager {

// The node for a new task. `pinned` (a hostname or node ID) must name a ready node;
// otherwise the ready node with the fewest tasks that should be running, ties broken by
// hostname so placement is predictable. FailedPrecondition when no node is ready or the
// pinned one is down; NotFound when it does not exist.
Result<api::Node> pickNode(const std::vector<api::Node>& nodes,
                           const std::vector<api::Task>& tasks,
                           const std::optional<std::string>& pinned);

}  // namespace overmesh::manager
