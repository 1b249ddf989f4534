#pragma once

// Builders of the cluster records the routing mesh decides on (MeshIndex, planNode with
// the mesh active), for unit and kernel tests: an ingress network, nodes with ingress
// addresses, services publishing ports, live tasks with attachments. Tests change the
// fields they care about on the returned values.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "api/service_types.h"
#include "api/types.h"
#include "common/ip.h"
#include "common/mac.h"

namespace overmesh::testing {

// The ingress overlay: VNI `vni`, subnet `subnet`.
inline api::Network ingressNetwork(std::string id = "ing", std::uint32_t vni = 4100,
                                   std::string subnet = "10.0.0.0/24") {
  api::Network network;
  network.id = std::move(id);
  network.name = "ingress";
  network.vni = vni;
  network.subnet = std::move(subnet);
  network.ingress = true;
  return network;
}

// A ready node at underlay `address` with ingress endpoint `ingressAddress` ("" = none).
inline api::Node meshNode(std::string id, std::string address, std::string ingressAddress) {
  api::Node node;
  node.id = std::move(id);
  node.hostname = node.id;
  node.address = std::move(address);
  node.state = "ready";
  node.ingressAddress = std::move(ingressAddress);
  return node;
}

inline api::PortConfig publish(std::string protocol, std::int64_t published, std::int64_t target,
                               std::string mode = "ingress") {
  return {std::move(protocol), target, published, std::move(mode)};
}

inline api::Service publishingService(std::string id, std::vector<api::PortConfig> ports) {
  api::Service service;
  service.id = std::move(id);
  service.spec.name = "svc-" + service.id;
  service.spec.ports = ports;
  service.ports = std::move(ports);
  return service;
}

// A live task (desired and observed running) of `serviceId` on `nodeId`, attached to
// each (network ID, "address/len") in order; MACs are macForIp of the addresses.
inline api::Task liveTask(std::string id, std::string serviceId, std::string nodeId,
                          std::vector<std::pair<std::string, std::string>> attachments) {
  api::Task task;
  task.id = std::move(id);
  task.name = task.id;
  task.serviceId = std::move(serviceId);
  task.nodeId = std::move(nodeId);
  task.desiredState = "running";
  task.state = "running";
  for (const auto& [networkId, address] : attachments) {
    auto parsed = Ipv4Prefix::parse(address);
    std::string mac = parsed ? macForIp(parsed->address()).toString() : "";
    task.attachments.push_back({networkId, networkId, address, mac});
  }
  return task;
}

}  // namespace overmesh::testing
