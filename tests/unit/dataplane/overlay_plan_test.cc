#include "dataplane/overlay_plan.h"

#include <gtest/gtest.h>

#include "support/overlay_fixtures.h"

namespace overmesh::dataplane {
namespace {

using ::overmesh::testing::ip;
using ::overmesh::testing::overlayNetwork;
using ::overmesh::testing::readyNode;

api::Task task(std::string id, std::string nodeId,
               std::vector<std::pair<std::string, std::string>> attachments) {
  api::Task t;
  t.id = std::move(id);
  t.name = t.id;
  t.nodeId = std::move(nodeId);
  t.desiredState = "running";
  for (const auto& [networkId, address] : attachments) {
    auto ip = Ipv4Prefix::parse(address);
    t.attachments.push_back({networkId, networkId, address, macForIp(ip->address()).toString()});
  }
  return t;
}

class OverlayPlanTest : public ::testing::Test {
 protected:
  std::vector<api::Network> networks_ = {overlayNetwork("n1", "chaos_net", 4096),
                                         overlayNetwork("n2", "other", 4097),
                                         overlayNetwork("n3", "private", 4098, true)};
  std::vector<api::Node> nodes_ = {readyNode("a", "198.18.0.1"), readyNode("b", "198.18.0.2"),
                                   readyNode("c", "198.18.0.3")};
  Ipv4Address selfAddress_ = *Ipv4Address::parse("198.18.0.1");
};


TEST_F(OverlayPlanTest, NoLocalTaskMeansNoDevices) {
  std::vector<api::Task> tasks = {task("t2", "b", {{"n1", "10.0.15.3/24"}})};
  auto plan = planNode("a", selfAddress_, 1500, networks_, nodes_, tasks);
  EXPECT_TRUE(plan.networks.empty());
  EXPECT_TRUE(plan.sandboxes.empty());
}

TEST_F(OverlayPlanTest, LocalTaskGetsDevicesAndRemotePeers) {
  std::vector<api::Task> tasks = {task("t1", "a", {{"n1", "10.0.15.2/24"}}),
                                  task("t2", "b", {{"n1", "10.0.15.3/24"}}),
                                  task("t3", "c", {{"n1", "10.0.15.4/24"}}),
                                  task("t4", "b", {{"n2", "10.0.0.2/24"}})};
  auto plan = planNode("a", selfAddress_, 1500, networks_, nodes_, tasks);
  ASSERT_EQ(plan.networks.size(), 1u) << "only the network with a local task";
  const auto& n1 = plan.networks[0];
  EXPECT_EQ(n1.vni, 4096u);
  EXPECT_EQ(n1.bridge, "ombr4096");
  EXPECT_EQ(n1.vxlan, "omvx4096");
  EXPECT_EQ(n1.mtu, 1450u);
  ASSERT_EQ(n1.remotes.size(), 2u);
  EXPECT_EQ(n1.remotes[0].address.toString(), "10.0.15.3");
  EXPECT_EQ(n1.remotes[0].vtep.toString(), "198.18.0.2");
  EXPECT_EQ(n1.remotes[0].mac.toString(), "02:42:0a:00:0f:03");
  EXPECT_EQ(n1.remotes[1].vtep.toString(), "198.18.0.3");
}

TEST_F(OverlayPlanTest, ANetworksMtuOptionLowersItButNeverRaisesIt) {
  networks_[0].options[api::kNetworkMtuOption] = "1400";
  networks_[1].options[api::kNetworkMtuOption] = "9000";
  std::vector<api::Task> tasks = {task("t1", "a", {{"n1", "10.0.15.2/24"}, {"n2", "10.0.0.2/24"}})};
  auto plan = planNode("a", selfAddress_, 1500, networks_, nodes_, tasks);
  ASSERT_EQ(plan.networks.size(), 2u);
  ASSERT_EQ(plan.sandboxes.size(), 1u);
  ASSERT_EQ(plan.sandboxes[0].interfaces.size(), 2u);
  EXPECT_EQ(plan.networks[0].mtu, 1400u);
  EXPECT_EQ(plan.sandboxes[0].interfaces[0].mtu, 1400u);
  EXPECT_EQ(plan.networks[1].mtu, 1450u) << "the underlay allows 1450 at most";
  EXPECT_EQ(plan.sandboxes[0].interfaces[1].mtu, 1450u);
}

TEST_F(OverlayPlanTest, MtuFollowsTheUnderlay) {
  std::vector<api::Task> tasks = {task("t1", "a", {{"n1", "10.0.15.2/24"}})};
  auto plan = planNode("a", selfAddress_, 9000, networks_, nodes_, tasks);
  ASSERT_EQ(plan.sandboxes.size(), 1u);
  EXPECT_EQ(plan.networks[0].mtu, 8950u);
  EXPECT_EQ(plan.sandboxes[0].interfaces[0].mtu, 8950u);
}

TEST_F(OverlayPlanTest, InterfacesFollowTheTasksNetworkOrder) {
  std::vector<api::Task> tasks = {
      task("t1", "a", {{"n2", "10.0.0.2/24"}, {"n1", "10.0.15.2/24"}})};
  auto plan = planNode("a", selfAddress_, 1500, networks_, nodes_, tasks);
  ASSERT_EQ(plan.sandboxes.size(), 1u);
  const auto& interfaces = plan.sandboxes[0].interfaces;
  ASSERT_EQ(interfaces.size(), 2u);
  EXPECT_EQ(interfaces[0].name, "eth0");
  EXPECT_EQ(interfaces[0].bridge, "ombr4097");
  EXPECT_EQ(interfaces[1].name, "eth1");
  EXPECT_EQ(interfaces[1].bridge, "ombr4096");
  EXPECT_NE(interfaces[0].hostVeth, interfaces[1].hostVeth);
  EXPECT_LE(interfaces[0].hostVeth.size(), 15u);
  EXPECT_TRUE(plan.sandboxes[0].egress);
}

TEST_F(OverlayPlanTest, OnlyInternalNetworksMeansNoEgress) {
  std::vector<api::Task> tasks = {task("t1", "a", {{"n3", "10.0.15.2/24"}})};
  auto plan = planNode("a", selfAddress_, 1500, networks_, nodes_, tasks);
  ASSERT_EQ(plan.sandboxes.size(), 1u);
  EXPECT_FALSE(plan.sandboxes[0].egress);
}

TEST_F(OverlayPlanTest, StoppedTasksAreNeitherWiredNorPeers) {
  auto local = task("t1", "a", {{"n1", "10.0.15.2/24"}});
  auto remote = task("t2", "b", {{"n1", "10.0.15.3/24"}});
  remote.desiredState = "shutdown";
  auto plan = planNode("a", selfAddress_, 1500, networks_, nodes_, {local, remote});
  ASSERT_EQ(plan.networks.size(), 1u);
  EXPECT_TRUE(plan.networks[0].remotes.empty());
}

TEST_F(OverlayPlanTest, TaskOnAMissingNetworkIsAProblemNotACrash) {
  std::vector<api::Task> tasks = {task("t1", "a", {{"gone", "10.0.15.2/24"}})};
  auto plan = planNode("a", selfAddress_, 1500, networks_, nodes_, tasks);
  EXPECT_TRUE(plan.sandboxes.empty());
  ASSERT_EQ(plan.problems.size(), 1u);
}

TEST_F(OverlayPlanTest, TaskWithoutAnyNetworkStillGetsTheGatewayLink) {
  std::vector<api::Task> tasks = {task("t1", "a", {})};
  auto plan = planNode("a", selfAddress_, 1500, networks_, nodes_, tasks);
  ASSERT_EQ(plan.sandboxes.size(), 1u);
  EXPECT_TRUE(plan.sandboxes[0].interfaces.empty());
  EXPECT_TRUE(plan.sandboxes[0].egress) << "host-mode ports reach it through the gateway";
}

// ---- the routing mesh: the ingress network on every node ----

class IngressPlanTest : public OverlayPlanTest {
 protected:
  IngressPlanTest() {
    auto ingress = overlayNetwork("ing", "ingress", 4100);
    ingress.subnet = "10.0.0.0/24";
    ingress.ingress = true;
    networks_.push_back(ingress);
    nodes_[0].ingressAddress = "10.0.0.2/24";
    nodes_[1].ingressAddress = "10.0.0.3/24";
    nodes_[2].ingressAddress = "10.0.0.4/24";
  }
  const NetworkPlan* ingressPlan(const NodePlan& plan) {
    for (const auto& network : plan.networks) {
      if (network.networkId == "ing") {
        return &network;
      }
    }
    return nullptr;
  }
};

TEST_F(IngressPlanTest, MeshActiveJoinsTheIngressNetworkWithoutALocalTask) {
  auto replica = task("r1", "b", {{"n1", "10.0.15.3/24"}, {"ing", "10.0.0.9/24"}});
  auto plan = planNode("a", selfAddress_, 1500, networks_, nodes_, {replica}, true);
  const NetworkPlan* ingress = ingressPlan(plan);
  ASSERT_NE(ingress, nullptr);
  EXPECT_EQ(ingress->bridge, "ombr4100");
  ASSERT_TRUE(ingress->hostAddress.has_value());
  EXPECT_EQ(ingress->hostAddress->toString(), "10.0.0.2/24");
  // The other nodes' endpoints and the remote replica, each behind its node's VTEP.
  std::vector<RemoteEndpoint> expected = {
      {ip("10.0.0.3"), macForIp(ip("10.0.0.3")), ip("198.18.0.2")},
      {ip("10.0.0.4"), macForIp(ip("10.0.0.4")), ip("198.18.0.3")},
      {ip("10.0.0.9"), macForIp(ip("10.0.0.9")), ip("198.18.0.2")}};
  EXPECT_EQ(ingress->remotes, expected);
  EXPECT_EQ(plan.networks.size(), 1u) << "chaos_net has no local task";
}

TEST_F(IngressPlanTest, InactiveMeshOrNoOwnAddressMeansNoIngressDevices) {
  auto replica = task("r1", "b", {{"ing", "10.0.0.9/24"}});
  EXPECT_EQ(ingressPlan(planNode("a", selfAddress_, 1500, networks_, nodes_, {replica}, false)),
            nullptr);
  nodes_[0].ingressAddress = "not an address";
  EXPECT_EQ(ingressPlan(planNode("a", selfAddress_, 1500, networks_, nodes_, {replica}, true)),
            nullptr);
  networks_.pop_back();  // no ingress network at all
  nodes_[0].ingressAddress = "10.0.0.2/24";
  EXPECT_TRUE(
      planNode("a", selfAddress_, 1500, networks_, nodes_, {replica}, true).networks.empty());
}

TEST_F(IngressPlanTest, NodesWithoutAUsableAddressOrVtepAreNotEndpoints) {
  nodes_[1].ingressAddress = "";
  nodes_[2].address = "nowhere";
  auto plan = planNode("a", selfAddress_, 1500, networks_, nodes_, {}, true);
  const NetworkPlan* ingress = ingressPlan(plan);
  ASSERT_NE(ingress, nullptr);
  EXPECT_TRUE(ingress->remotes.empty());
}

TEST_F(IngressPlanTest, ALocalReplicaOnTheIngressNetworkIsWiredToTheSameBridge) {
  auto replica = task("r1", "a", {{"n1", "10.0.15.2/24"}, {"ing", "10.0.0.9/24"}});
  auto plan = planNode("a", selfAddress_, 1500, networks_, nodes_, {replica}, true);
  const NetworkPlan* ingress = ingressPlan(plan);
  ASSERT_NE(ingress, nullptr);
  EXPECT_TRUE(ingress->hostAddress.has_value());
  ASSERT_EQ(plan.sandboxes.size(), 1u);
  EXPECT_EQ(plan.sandboxes[0].interfaces[1].bridge, "ombr4100");
  EXPECT_EQ(ingress->remotes.size(), 2u);  // the other two nodes
}

TEST(DeviceNamesTest, ArePredictableAndFitIfnamsiz) {
  EXPECT_EQ(bridgeName(16777215), "ombr16777215");
  EXPECT_EQ(hostVethName("abcdefghijklmnopqrstuvwxy", 3),
            hostVethName("abcdefghijklmnopqrstuvwxy", 3));
  EXPECT_LE(hostVethName("abcdefghijklmnopqrstuvwxy", 9).size(), 15u);
  EXPECT_NE(hostVethName("task-one", 0), hostVethName("task-two", 0));
}

}  // namespace
}  // namespace overmesh::dataplane
