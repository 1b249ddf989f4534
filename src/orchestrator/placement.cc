#include "orchestrator/placement.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <queue>
#include <tuple>

namespace overmesh::orchestrator {

void NodeLoad::add(const std::string& serviceId, const std::string& nodeId) {
  ++overall_[nodeId];
  if (!serviceId.empty()) {
    ++byService_[serviceId][nodeId];
  }
}

void NodeLoad::remove(const std::string& serviceId, const std::string& nodeId) {
  if (auto found = overall_.find(nodeId); found != overall_.end() && found->second > 0) {
    --found->second;
  }
  if (serviceId.empty()) {
    return;
  }
  auto service = byService_.find(serviceId);
  if (service == byService_.end()) {
    return;
  }
  if (auto found = service->second.find(nodeId);
      found != service->second.end() && found->second > 0) {
    --found->second;
  }
}

std::int64_t NodeLoad::overall(const std::string& nodeId) const {
  auto found = overall_.find(nodeId);
  return found == overall_.end() ? 0 : found->second;
}

std::int64_t NodeLoad::ofService(const std::string& serviceId, const std::string& nodeId) const {
  auto service = byService_.find(serviceId);
  if (service == byService_.end()) {
    return 0;
  }
  auto found = service->second.find(nodeId);
  return found == service->second.end() ? 0 : found->second;
}

EligibleNodes eligibleNodes(const std::vector<const api::Node*>& readyNodes,
                            const std::vector<Constraint>& constraints) {
  EligibleNodes result;
  for (const api::Node* node : readyNodes) {
    if (matches(*node, constraints)) {
      result.nodes.push_back(node);
    }
  }
  if (!result.nodes.empty()) {
    return result;
  }
  if (readyNodes.empty()) {
    result.problem = "no node is ready";
    return result;
  }
  // Name the constraint that rules out every node on its own, when one does: that is
  // the one the user has to fix.
  for (const Constraint& constraint : constraints) {
    const bool anyMatch =
        std::any_of(readyNodes.begin(), readyNodes.end(),
                    [&](const api::Node* node) { return matches(*node, constraint); });
    if (!anyMatch) {
      result.problem = fmt::format("no suitable node (constraint {}: 0 of {} ready nodes match)",
                                   toString(constraint), readyNodes.size());
      return result;
    }
  }
  std::vector<std::string> all;
  all.reserve(constraints.size());
  for (const Constraint& constraint : constraints) {
    all.push_back(toString(constraint));
  }
  result.problem = fmt::format("no suitable node (constraints {}: 0 of {} ready nodes match all)",
                               fmt::join(all, ", "), readyNodes.size());
  return result;
}

std::vector<const api::Node*> spreadTasks(const std::string& serviceId,
                                          const std::vector<const api::Node*>& eligible,
                                          std::size_t count, NodeLoad& load) {
  std::vector<const api::Node*> chosen;
  if (eligible.empty() || count == 0) {
    return chosen;
  }
  chosen.reserve(count);
  // Only this service's choices change the loads while it is placed, so a heap built
  // once stays valid: the chosen node is popped, charged and pushed back.
  using Key = std::tuple<std::int64_t, std::int64_t, const std::string*, const std::string*,
                         const api::Node*>;
  auto greater = [](const Key& a, const Key& b) {
    return std::tie(std::get<0>(a), std::get<1>(a), *std::get<2>(a), *std::get<3>(a)) >
           std::tie(std::get<0>(b), std::get<1>(b), *std::get<2>(b), *std::get<3>(b));
  };
  std::priority_queue<Key, std::vector<Key>, decltype(greater)> heap(greater);
  for (const api::Node* node : eligible) {
    heap.emplace(load.ofService(serviceId, node->id), load.overall(node->id), &node->hostname,
                 &node->id, node);
  }
  for (std::size_t i = 0; i < count; ++i) {
    Key top = heap.top();
    heap.pop();
    const api::Node* node = std::get<4>(top);
    chosen.push_back(node);
    load.add(serviceId, node->id);
    std::get<0>(top) += 1;
    std::get<1>(top) += 1;
    heap.push(top);
  }
  return chosen;
}

}  // namespace overmesh::orchestrator
