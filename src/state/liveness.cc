#include "state/liveness.h"

namespace overmesh::state {

NodeReadiness::NodeReadiness(const std::vector<api::Node>& nodes) {
  ready_.reserve(nodes.size());
  for (const auto& node : nodes) {
    ready_[node.id] = node.state == "ready";
  }
}

bool NodeReadiness::ready(const std::string& nodeId) const {
  auto it = ready_.find(nodeId);
  return it != ready_.end() && it->second;
}

bool isLive(const api::Task& task, const NodeReadiness& nodes) {
  if (task.desiredState != "running" || task.state != "running") {
    return false;
  }
  if (task.healthCheck && task.health != "healthy") {
    return false;
  }
  return nodes.ready(task.nodeId);
}

}  // namespace overmesh::state
