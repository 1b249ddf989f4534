#include "manager/address_allocation.h"

#include <fmt/format.h>

#include "ipam/ipam.h"

namespace overmesh::manager {

bool isTerminalState(const std::string& state) {
  return state == "exited" || state == "failed" || state == "shutdown" || state == "rejected";
}

bool holdsAddresses(const api::Task& task) {
  return !(task.desiredState == "shutdown" && isTerminalState(task.state));
}

std::set<Ipv4Address> usedAddresses(const api::Network& network,
                                    const std::vector<api::Task>& tasks,
                                    const std::vector<api::Service>& services,
                                    const std::vector<api::Node>& nodes) {
  const std::string& networkId = network.id;
  std::set<Ipv4Address> used;
  for (const auto& task : tasks) {
    if (!holdsAddresses(task)) {
      continue;
    }
    for (const auto& attachment : task.attachments) {
      if (attachment.networkId != networkId) {
        continue;
      }
      if (auto address = Ipv4Prefix::parse(attachment.address)) {
        used.insert(address->address());
      }
    }
  }
  for (const auto& service : services) {
    for (const auto& vip : service.vips) {
      if (vip.networkId != networkId) {
        continue;
      }
      if (auto address = Ipv4Prefix::parse(vip.address)) {
        used.insert(address->address());
      }
    }
  }
  if (network.ingress) {
    for (const auto& node : nodes) {
      if (auto address = Ipv4Prefix::parse(node.ingressAddress)) {
        used.insert(address->address());
      }
    }
  }
  return used;
}

Result<std::string> allocateAddress(const api::Network& network, std::set<Ipv4Address>& used) {
  auto subnet = Ipv4Prefix::parse(network.subnet);
  auto gateway = Ipv4Address::parse(network.gateway);
  if (!subnet || !gateway) {
    return errorf(ErrorKind::Internal, "network {} has a corrupt subnet {} or gateway {}",
                  network.name, network.subnet, network.gateway);
  }
  auto address = ipam::allocateHostAddress(*subnet, *gateway, used);
  if (!address) {
    return std::unexpected(address.error().withContext(fmt::format("network {}", network.name)));
  }
  used.insert(*address);
  return fmt::format("{}/{}", address->toString(), subnet->length());
}

}  // namespace overmesh::manager
