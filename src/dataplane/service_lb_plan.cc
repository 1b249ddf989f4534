#include "dataplane/service_lb_plan.h"

#include <algorithm>
#include <optional>
#include <set>
#include <tuple>
#include <utility>

namespace overmesh::dataplane {

LbIndex LbIndex::build(const std::vector<api::Service>& services,
                       const std::vector<api::Task>& tasks, const state::NodeReadiness& nodes) {
  LbIndex index;
  // (service ID, network ID) -> where that VIP's entry sits in byNetwork_.
  std::unordered_map<std::string, std::pair<std::string, std::size_t>> slots;
  auto key = [](const std::string& serviceId, const std::string& networkId) {
    return serviceId + '\n' + networkId;
  };
  for (const auto& service : services) {
    if (service.spec.endpointMode != "vip") {
      continue;
    }
    for (const auto& vip : service.vips) {
      auto address = addressOfRecord(vip.address);
      if (!address || vip.networkId.empty()) {
        continue;
      }
      auto& entries = index.byNetwork_[vip.networkId];
      if (!slots.emplace(key(service.id, vip.networkId), std::pair(vip.networkId, entries.size()))
               .second) {
        continue;  // a second VIP for the same service on the same network: keep the first
      }
      entries.push_back({service.id, service.spec.name, *address, {}});
    }
  }
  for (const auto& task : tasks) {
    if (task.serviceId.empty() || !state::isLive(task, nodes)) {
      continue;
    }
    for (const auto& attachment : task.attachments) {
      auto slot = slots.find(key(task.serviceId, attachment.networkId));
      if (slot == slots.end()) {
        continue;
      }
      auto address = addressOfRecord(attachment.address);
      if (!address) {
        continue;
      }
      index.byNetwork_[slot->second.first][slot->second.second].backends.push_back(*address);
    }
  }
  for (auto& [networkId, entries] : index.byNetwork_) {
    for (auto& entry : entries) {
      std::sort(entry.backends.begin(), entry.backends.end());
      entry.backends.erase(std::unique(entry.backends.begin(), entry.backends.end()),
                           entry.backends.end());
      // A backend that is the VIP itself would loop; the allocator never gives a task a
      // VIP, but the data is not ours to trust.
      std::erase(entry.backends, entry.vip);
    }
  }
  return index;
}

SandboxLb LbIndex::forSandbox(const std::vector<std::string>& networkIds) const {
  SandboxLb lb;
  std::set<std::string> seen;
  for (const auto& networkId : networkIds) {
    if (!seen.insert(networkId).second) {
      continue;
    }
    auto found = byNetwork_.find(networkId);
    if (found == byNetwork_.end()) {
      continue;
    }
    lb.services.insert(lb.services.end(), found->second.begin(), found->second.end());
  }
  std::sort(lb.services.begin(), lb.services.end(), [](const LbService& a, const LbService& b) {
    return std::tie(a.vip, a.serviceId) < std::tie(b.vip, b.serviceId);
  });
  lb.services.erase(
      std::unique(lb.services.begin(), lb.services.end(),
                  [](const LbService& a, const LbService& b) { return a.vip == b.vip; }),
      lb.services.end());
  return lb;
}

}  // namespace overmesh::dataplane
