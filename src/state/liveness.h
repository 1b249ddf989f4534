#pragma once

// Which tasks are *live*: in DNS answers and load-balancer maps. One definition, used by
// every agent's resolver and load balancer and by the manager's progress reports, so
// that they never disagree.
//
// A task is live when it should run (desiredState running), runs (observed running), is
// healthy if it has a health check, and its node is ready. A task leaves DNS and the
// maps the moment any of these stops being true: when the manager decides to stop it
// (desiredState becomes shutdown, before the node stops it), when it exits, when its
// health check fails, and when its node is declared down.

#include <string>
#include <unordered_map>
#include <vector>

#include "api/types.h"

namespace overmesh::state {

// The ready state of every node, by node ID, for isLive().
class NodeReadiness {
 public:
  explicit NodeReadiness(const std::vector<api::Node>& nodes);
  bool ready(const std::string& nodeId) const;

 private:
  std::unordered_map<std::string, bool> ready_;
};

bool isLive(const api::Task& task, const NodeReadiness& nodes);

}  // namespace overmesh::state
