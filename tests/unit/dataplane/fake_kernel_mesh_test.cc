// The fake kernel's model of the routing mesh (tests/support/fake_kernel.h), which the
// agent's unit tests read: it must record what the Linux adapters would change, and
// nothing when nothing changes.

#include <gtest/gtest.h>

#include "support/fake_kernel.h"
#include "support/ip_helpers.h"
#include "support/overlay_fixtures.h"

namespace overmesh::dataplane {
namespace {

using ::overmesh::testing::FakeNodeKernel;
using ::overmesh::testing::ip;
using ::overmesh::testing::networkPlan;
using ::overmesh::testing::remoteEndpoint;

TEST(FakeKernelMeshTest, TheIngressBridgeGetsItsEndpointOnceAndKeepsIt) {
  FakeNodeKernel kernel;
  auto plan = networkPlan({remoteEndpoint("10.0.0.3", "198.18.0.2")});
  plan.hostAddress = Ipv4Prefix::parse("10.0.0.2/24").value();
  kernel.applyOverlay({plan}, ip("198.18.0.1"));
  const auto& bridge = kernel.devices.at("ombr4096");
  EXPECT_EQ(bridge.link.mac, macForIp(ip("10.0.0.2")));
  EXPECT_EQ(bridge.addresses, (std::set<Ipv4Prefix>{*plan.hostAddress}));
  kernel.mutations.clear();
  EXPECT_EQ(kernel.applyOverlay({plan}, ip("198.18.0.1")).mutations(), 0);
  EXPECT_TRUE(kernel.mutations.empty());

  plan.hostAddress.reset();
  kernel.applyOverlay({plan}, ip("198.18.0.1"));
  EXPECT_EQ(kernel.mutations, (std::vector<std::string>{"delete address ombr4096 10.0.0.2/24"}));
}

TEST(FakeKernelMeshTest, MeshChangesAreRecordedPerPort) {
  FakeNodeKernel kernel;
  NodeMesh mesh{{{"tcp", 30080, "web", {{ip("10.0.0.5"), 80}}}}, "ombr4100"};
  ASSERT_TRUE(kernel.applyNodeMesh(mesh));
  mesh.ports[0].backends.push_back({ip("10.0.0.6"), 80});
  ASSERT_TRUE(kernel.applyNodeMesh(mesh));
  ASSERT_TRUE(kernel.applyNodeMesh(mesh));
  ASSERT_TRUE(kernel.applyNodeMesh(NodeMesh{}));
  EXPECT_EQ(kernel.mutations, (std::vector<std::string>{
                                  "mesh replace (1 ports)",
                                  "mesh set tcp/30080 -> 10.0.0.5:80,10.0.0.6:80", "mesh remove"}));
}

TEST(FakeKernelMeshTest, SandboxIngressChangesAreRecordedPerNodeAndPortSet) {
  FakeNodeKernel kernel;
  ASSERT_TRUE(kernel.ensureNamespace("sb"));
  IngressPeer n1{ip("10.0.0.2"), macForIp(ip("10.0.0.2"))};
  IngressPeer n2{ip("10.0.0.3"), macForIp(ip("10.0.0.3"))};
  EXPECT_FALSE(kernel.applySandboxIngress("missing", {"eth1", {n1}, {80}, {}}));
  ASSERT_TRUE(kernel.applySandboxIngress("sb", {"eth1", {n1}, {80}, {}}));
  ASSERT_TRUE(kernel.applySandboxIngress("sb", {"eth1", {n1, n2}, {80}, {53}}));
  ASSERT_TRUE(kernel.applySandboxIngress("sb", {}));
  EXPECT_EQ(kernel.mutations,
            (std::vector<std::string>{"create namespace sb", "ingress sb replace eth1 (1 nodes)",
                                      "ingress sb add node 10.0.0.3",
                                      "ingress sb ports tcp 80 udp 53", "ingress sb remove"}));
}

}  // namespace
}  // namespace overmesh::dataplane
