#include "manager/network_detail.h"

#include <algorithm>

#include "manager/address_allocation.h"

namespace overmesh::manager {

api::NetworkDetail describeNetwork(const api::Network& network,
                                   const std::vector<api::Service>& services,
                                   const std::vector<api::Task>& tasks) {
  api::NetworkDetail detail;
  detail.network = network;
  for (const auto& service : services) {
    for (const auto& attachment : service.attachments) {
      if (attachment.networkId != network.id) {
        continue;
      }
      api::NetworkServiceEntry entry{service.id, service.spec.name, service.spec.endpointMode, "",
                                     attachment.aliases};
      for (const auto& vip : service.vips) {
        if (vip.networkId == network.id) {
          entry.vip = vip.address;
        }
      }
      detail.services.push_back(std::move(entry));
    }
  }
  for (const auto& task : tasks) {
    if (!holdsAddresses(task)) {
      continue;
    }
    for (const auto& attachment : task.attachments) {
      if (attachment.networkId == network.id) {
        detail.endpoints.push_back({task.id, task.name, attachment.address, attachment.mac,
                                    task.nodeId, task.nodeName, task.serviceId, task.serviceName});
      }
    }
  }
  std::sort(detail.services.begin(), detail.services.end(),
            [](const auto& a, const auto& b) { return a.name < b.name; });
  std::sort(detail.endpoints.begin(), detail.endpoints.end(),
            [](const auto& a, const auto& b) { return a.taskName < b.taskName; });
  return detail;
}

}  // namespace overmesh::manager
