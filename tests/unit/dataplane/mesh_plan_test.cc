#include "dataplane/mesh_plan.h"

#include <gtest/gtest.h>

#include <map>

#include "support/ip_helpers.h"
#include "support/mesh_fixtures.h"
#include "support/overlay_fixtures.h"

namespace overmesh::dataplane {
namespace {

using ::overmesh::testing::ingressNetwork;
using ::overmesh::testing::ip;
using ::overmesh::testing::liveTask;
using ::overmesh::testing::meshNode;
using ::overmesh::testing::overlayNetwork;
using ::overmesh::testing::publish;
using ::overmesh::testing::publishingService;

// Three nodes (a has no replica), the ingress network, and "web" publishing tcp 30080 -> 80
// and udp 30053 -> 53 with replicas on b and c.
class MeshPlanTest : public ::testing::Test {
 protected:
  MeshIndex build(const std::string& self = "a") {
    return MeshIndex::build(self, networks_, services_, tasks_, nodes_,
                            [this](const std::string& taskId) -> std::optional<Ipv4Address> {
                              auto found = local_.find(taskId);
                              if (found == local_.end()) {
                                return std::nullopt;
                              }
                              return found->second;
                            });
  }

  std::vector<api::Network> networks_ = {overlayNetwork("n1", "chaos_net", 4096),
                                         ingressNetwork("ing", 4100)};
  std::vector<api::Node> nodes_ = {meshNode("a", "198.18.0.1", "10.0.0.2/24"),
                                   meshNode("b", "198.18.0.2", "10.0.0.3/24"),
                                   meshNode("c", "198.18.0.3", "10.0.0.4/24")};
  std::vector<api::Service> services_ = {
      publishingService("web", {publish("tcp", 30080, 80), publish("udp", 30053, 53)})};
  std::vector<api::Task> tasks_ = {
      liveTask("w1", "web", "b", {{"n1", "10.0.15.3/24"}, {"ing", "10.0.0.9/24"}}),
      liveTask("w2", "web", "c", {{"n1", "10.0.15.4/24"}, {"ing", "10.0.0.8/24"}})};
  std::map<std::string, Ipv4Address> local_;
};

TEST_F(MeshPlanTest, IngressPortsLeadToLiveReplicasOnAnyNode) {
  auto index = build("a");
  EXPECT_TRUE(index.meshActive());
  EXPECT_EQ(index.ingressNetworkId(), "ing");
  const NodeMesh& mesh = index.node();
  EXPECT_EQ(mesh.ingressBridge, "ombr4100");
  std::vector<MeshPort> expected = {
      {"tcp", 30080, "svc-web", {{ip("10.0.0.8"), 80}, {ip("10.0.0.9"), 80}}},
      {"udp", 30053, "svc-web", {{ip("10.0.0.8"), 53}, {ip("10.0.0.9"), 53}}}};
  EXPECT_EQ(mesh.ports, expected);
  // Every node opens the same ports.
  EXPECT_EQ(build("b").node(), mesh);
}

TEST_F(MeshPlanTest, TasksThatAreNotLiveAreNotBackendsAndAPortWithoutAnyIsRefused) {
  tasks_[0].state = "starting";
  tasks_[1].desiredState = "shutdown";
  tasks_.push_back(liveTask("w3", "web", "c", {{"ing", "10.0.0.7/24"}}));
  tasks_.back().health = "unhealthy";
  tasks_.back().healthCheck = api::HealthCheck{};
  auto mesh = build().node();
  ASSERT_EQ(mesh.ports.size(), 2u);
  EXPECT_TRUE(mesh.ports[0].backends.empty());
  EXPECT_TRUE(mesh.ports[1].backends.empty());

  // A replica on a node that is down is not live either.
  tasks_ = {liveTask("w1", "web", "b", {{"ing", "10.0.0.9/24"}})};
  nodes_[1].state = "down";
  EXPECT_TRUE(build().node().ports[0].backends.empty());
}

TEST_F(MeshPlanTest, HostPortsLeadOnlyToThisNodesOwnLiveTasks) {
  services_ = {publishingService("api", {publish("tcp", 8080, 80, "host")})};
  tasks_ = {liveTask("h1", "api", "a", {}), liveTask("h2", "api", "a", {}),
            liveTask("h3", "api", "b", {})};
  local_ = {{"h1", ip("172.18.0.2")}, {"h3", ip("172.18.0.9")}};  // h2 not wired yet
  auto index = build("a");
  EXPECT_FALSE(index.meshActive()) << "host mode needs no ingress network";
  std::vector<MeshPort> expected = {{"tcp", 8080, "svc-api", {{ip("172.18.0.2"), 80}}}};
  EXPECT_EQ(index.node().ports, expected);
  EXPECT_TRUE(index.node().ingressBridge.empty());

  // A node without a live local task does not open the port at all.
  tasks_[0].state = "failed";
  tasks_[1].state = "failed";
  EXPECT_TRUE(build("a").node().ports.empty());
}

TEST_F(MeshPlanTest, BadRecordsAreSkipped) {
  services_.push_back(publishingService(
      "bad", {publish("sctp", 40000, 80), publish("tcp", 0, 80), publish("tcp", 40001, 70000),
              publish("tcp", 40002, 80, "sideways")}));
  tasks_.push_back(liveTask("x1", "web", "b", {{"ing", "not-an-address"}}));
  tasks_.push_back(liveTask("x2", "web", "b", {}));  // no ingress attachment
  nodes_.push_back(meshNode("d", "198.18.0.4", "10.0.0.300/24"));
  auto index = build();
  EXPECT_EQ(index.node().ports.size(), 2u);
  EXPECT_EQ(index.node().ports[0].backends.size(), 2u);
  EXPECT_EQ(index.forSandbox(tasks_[0]).nodes.size(), 3u);
}

TEST_F(MeshPlanTest, IngressPortsNeedAnIngressNetwork) {
  networks_.pop_back();
  auto index = build();
  EXPECT_FALSE(index.meshActive());
  EXPECT_TRUE(index.node().empty());
  EXPECT_TRUE(index.forSandbox(tasks_[0]).empty());
}

TEST_F(MeshPlanTest, APublishedPortClaimedTwiceGoesToTheSmallestServiceId) {
  services_.push_back(publishingService("aaa", {publish("tcp", 30080, 8000)}));
  tasks_.push_back(liveTask("a1", "aaa", "c", {{"ing", "10.0.0.5/24"}}));
  auto mesh = build().node();
  ASSERT_EQ(mesh.ports.size(), 2u);
  EXPECT_EQ(mesh.ports[0].backends, (std::vector<MeshBackend>{{ip("10.0.0.5"), 8000}}));
  // The same number on the other protocol is another port.
  EXPECT_EQ(mesh.ports[1].protocol, "udp");
}

TEST_F(MeshPlanTest, NodeWithoutAnIngressAddressHasNoIngressBridgeButStillPublishes) {
  nodes_[0].ingressAddress = "";
  auto mesh = build("a").node();
  EXPECT_TRUE(mesh.ingressBridge.empty());
  EXPECT_EQ(mesh.ports.size(), 2u);
}

TEST_F(MeshPlanTest, SandboxIngressNamesTheInterfaceEveryNodeAndTheTargetPorts) {
  auto index = build("b");
  auto ingress = index.forSandbox(tasks_[0]);
  EXPECT_EQ(ingress.interface, "eth1");
  std::vector<IngressPeer> nodes = {{ip("10.0.0.2"), macForIp(ip("10.0.0.2"))},
                                    {ip("10.0.0.3"), macForIp(ip("10.0.0.3"))},
                                    {ip("10.0.0.4"), macForIp(ip("10.0.0.4"))}};
  EXPECT_EQ(ingress.nodes, nodes);
  EXPECT_EQ(ingress.tcpPorts, (std::vector<std::uint16_t>{80}));
  EXPECT_EQ(ingress.udpPorts, (std::vector<std::uint16_t>{53}));

  // A task not on the ingress network needs nothing.
  EXPECT_TRUE(index.forSandbox(liveTask("o1", "other", "b", {{"n1", "10.0.15.9/24"}})).empty());
  // A task on it whose service publishes nothing reaches no port through it.
  auto stray = index.forSandbox(liveTask("o2", "other", "b", {{"ing", "10.0.0.20/24"}}));
  EXPECT_EQ(stray.interface, "eth0");
  EXPECT_TRUE(stray.tcpPorts.empty());
  EXPECT_TRUE(stray.udpPorts.empty());
}

}  // namespace
}  // namespace overmesh::dataplane
