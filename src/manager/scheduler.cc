#include "manager/scheduler.h"

#include <algorithm>
#include <map>

#include "manager/object_lookup.h"

namespace overmesh::manager {

Result<api::Node> pickNode(const std::vector<api::Node>& nodes,
                           const std::vector<api::Task>& tasks,
                           const std::optional<std::string>& pinned) {
  if (pinned) {
    std::vector<NamedObject> named;
    for (const auto& node : nodes) {
      named.push_back({node.id, node.hostname});
    }
    auto index = findByReference("node", named, *pinned);
    if (!index) {
      return std::unexpected(index.error());
    }
    const api::Node& node = nodes[*index];
    if (node.state != "ready") {
      return errorf(ErrorKind::FailedPrecondition,
                    "node {} is {}: a task can only be placed on a ready node", node.hostname,
                    node.state);
    }
    return node;
  }
  std::map<std::string, int> load;
  for (const auto& task : tasks) {
    if (task.desiredState == "running") {
      ++load[task.nodeId];
    }
  }
  const api::Node* best = nullptr;
  for (const auto& node : nodes) {
    if (node.state != "ready") {
      continue;
    }
    if (best == nullptr || load[node.id] < load[best->id] ||
        (load[node.id] == load[best->id] && node.hostname < best->hostname)) {
      best = &node;
    }
  }
  if (best == nullptr) {
    return errorf(ErrorKind::FailedPrecondition,
                  "no node is ready to run the task ({} node(s) in the swarm, none ready)",
                  nodes.size());
  }
  return *best;
}

}  // namespace overmesh::manager
