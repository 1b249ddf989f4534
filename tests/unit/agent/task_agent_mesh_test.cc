// The task agent's routing-mesh wiring, against the fake kernel: every pass programs the
// node's published ports from the cache (ports equal to what the node itself needs are
// left out), joins the ingress network with the node's own endpoint, and gives a local
// replica's sandbox its ingress side; the ingress network stays out of DNS.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "support/task_agent_fixture.h"

namespace overmesh::testing {
namespace {

api::Network ingressNetwork() {
  api::Network network = overlayNetwork("ing", "ingress", 4097);
  network.subnet = "10.0.0.0/24";
  network.gateway = "10.0.0.1";
  network.ingress = true;
  return network;
}

std::vector<api::Node> nodesWithIngress() {
  std::vector<api::Node> nodes = {readyNode("node-a", "198.18.0.1"),
                                  readyNode("node-b", "198.18.0.2"),
                                  readyNode("node-c", "198.18.0.3")};
  nodes[0].ingressAddress = "10.0.0.2/24";
  nodes[1].ingressAddress = "10.0.0.3/24";
  nodes[2].ingressAddress = "10.0.0.4/24";
  return nodes;
}

api::Service webPublishing(std::vector<api::PortConfig> ports) {
  api::Service service;
  service.id = "svc-web";
  service.spec.name = "web";
  service.spec.ports = ports;
  service.ports = ports;
  return service;
}

// A replica of web on `nodeId`: on n1 with `address`, and on the ingress network.
api::Task replica(std::string id, std::string nodeId, std::string address,
                  std::string ingressAddress, std::string state) {
  api::Task t = task(std::move(id), std::move(nodeId), std::move(address), std::move(state));
  t.serviceId = "svc-web";
  t.serviceName = "web";
  auto ip = Ipv4Prefix::parse(ingressAddress);
  t.attachments.push_back(
      {"ing", "ingress", ingressAddress, macForIp(ip->address()).toString()});
  return t;
}

class TaskAgentMeshTest : public TaskAgentTest {};

TEST_F(TaskAgentMeshTest, PublishesThePortOverEveryLiveReplicaAndJoinsTheIngressNetwork) {
  api::PortConfig port{"tcp", 80, 8080, "ingress"};
  setTasks({replica("t1", "node-b", "10.0.15.3/24", "10.0.0.5/24", "running")},
           {webPublishing({port})}, {ingressNetwork()}, nodesWithIngress());
  auto agent = makeAgent();
  agent->reconcile();

  ASSERT_TRUE(kernel_.mesh.has_value());
  ASSERT_EQ(kernel_.mesh->ports.size(), 1u);
  EXPECT_EQ(kernel_.mesh->ports[0].publishedPort, 8080);
  ASSERT_EQ(kernel_.mesh->ports[0].backends.size(), 1u);
  EXPECT_EQ(kernel_.mesh->ports[0].backends[0].address.toString(), "10.0.0.5");
  EXPECT_EQ(kernel_.mesh->ports[0].backends[0].port, 80);
  // node-a has no task, yet it has the ingress bridge with its own endpoint.
  ASSERT_TRUE(kernel_.devices.contains("ombr4097"));
  EXPECT_EQ(kernel_.mesh->ingressBridge, "ombr4097");
}

TEST_F(TaskAgentMeshTest, APortTheNodeNeedsItselfIsNotOpened) {
  setTasks({replica("t1", "node-b", "10.0.15.3/24", "10.0.0.5/24", "running")},
           {webPublishing({{"tcp", 80, 8080, "ingress"}, {"tcp", 80, 7946, "ingress"}})},
           {ingressNetwork()}, nodesWithIngress());
  auto agent = makeAgent({{"tcp", 7946}});
  agent->reconcile();

  ASSERT_TRUE(kernel_.mesh.has_value());
  ASSERT_EQ(kernel_.mesh->ports.size(), 1u) << "7946/tcp is this node's own port";
  EXPECT_EQ(kernel_.mesh->ports[0].publishedPort, 8080);
}

TEST_F(TaskAgentMeshTest, ALocalReplicaGetsItsIngressSideAndNoNamesOnTheIngressNetwork) {
  setTasks({replica("t1", kSelf, "10.0.15.3/24", "10.0.0.5/24", "pending")},
           {webPublishing({{"tcp", 80, 8080, "ingress"}})}, {ingressNetwork()},
           nodesWithIngress());
  auto agent = makeAgent();
  agent->reconcile();

  auto ingress = kernel_.ingress.find("om-t-t1");
  ASSERT_NE(ingress, kernel_.ingress.end());
  EXPECT_EQ(ingress->second.interface, "eth1");
  EXPECT_EQ(ingress->second.tcpPorts, std::vector<std::uint16_t>{80});
  EXPECT_EQ(ingress->second.nodes.size(), 3u);
  auto attached = dns_.sandboxes.find("t1");
  ASSERT_NE(attached, dns_.sandboxes.end());
  EXPECT_EQ(attached->second.networkIds, std::vector<std::string>{"n1"})
      << "the ingress network has no names";
}

}  // namespace
}  // namespace overmesh::testing
