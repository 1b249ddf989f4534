#pragma once

// The scheduler: which node a new task of a service goes to. Pure; the orchestrator
// keeps a NodeLoad for the whole reconcile so that tasks chosen (or stopped) earlier in
// the same pass count, e.g. 6 new tasks over 3 equal nodes land 2/2/2.

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "api/types.h"
#include "orchestrator/constraints.h"

namespace overmesh::orchestrator {

// Tasks that should run (desiredState running) per node: overall, standalone ones
// included, and per service.
class NodeLoad {
 public:
  void add(const std::string& serviceId, const std::string& nodeId);
  // Undoes one add(); never goes below zero.
  void remove(const std::string& serviceId, const std::string& nodeId);
  std::int64_t overall(const std::string& nodeId) const;
  std::int64_t ofService(const std::string& serviceId, const std::string& nodeId) const;

 private:
  std::unordered_map<std::string, std::int64_t> overall_;
  std::unordered_map<std::string, std::unordered_map<std::string, std::int64_t>> byService_;
};

// The nodes a service may use, or why there are none.
struct EligibleNodes {
  std::vector<const api::Node*> nodes;  // ready, satisfying every constraint; readyNodes' order
  // When `nodes` is empty: "no node is ready", or "no suitable node (constraint
  // node.labels.zone==a: 0 of 3 ready nodes match)", or, when each constraint matches
  // some node but not all together, "no suitable node (constraints A, B: 0 of 3 ready
  // nodes match all)".
  std::string problem;
};

// `readyNodes`: the cluster's ready nodes. O(nodes × constraints).
EligibleNodes eligibleNodes(const std::vector<const api::Node*>& readyNodes,
                            const std::vector<Constraint>& constraints);

// Chooses a node for each of `count` new tasks of `serviceId`, one after the other: the
// eligible node with the fewest tasks of this service, then the fewest tasks overall,
// then the smallest hostname (then ID). Each choice is added to `load`. Returns the
// choices in order; empty when `eligible` is. O(eligible + count × log eligible).
std::vector<const api::Node*> spreadTasks(const std::string& serviceId,
                                          const std::vector<const api::Node*>& eligible,
                                          std::size_t count, NodeLoad& load);

}  // namespace overmesh::orchestrator
