// Overlay subnets that would collide with the cluster's own networks, in a real lab
// (2 hosts on the 198.18.0.0/24 underlay, h1 the manager): a member's underlay network
// and gateway-bridge subnet are refused at network create (made on the manager: workers
// refuse every write), and a node whose underlay holds an existing network is refused at
// join. Each test makes its own lab and
// removes it in TearDown, also when it failed.
//
// Run:  ctest --test-dir BUILD -R SubnetLabTest   (as root)

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <iostream>
#include <memory>
#include <string>

#include "support/lab_session.h"
#include "support/process.h"

namespace overmesh::testing {
namespace {

using ::testing::HasSubstr;

class SubnetLabTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!canUseNamespaces()) {
      GTEST_SKIP() << "needs root to create network namespaces";
    }
    lab_ = std::make_unique<LabSession>("sub");
    ASSERT_TRUE(lab_->up(2)) << lab_->error();
  }

  void TearDown() override {
    if (lab_ && HasFailure()) {
      std::cerr << lab_->logs();
    }
    lab_.reset();
  }

  // The networks users created: the ingress network of `swarm init` is always there.
  std::string networkNames() {
    std::string names;
    for (const auto& network : lab_->json(1, {"network", "ls"})) {
      if (network.value("name", "") != "ingress") {
        names += network.value("name", "") + " ";
      }
    }
    return names;
  }

  std::unique_ptr<LabSession> lab_;
};

TEST_F(SubnetLabTest, NodesRecordTheirUnderlayAndGatewaySubnet) {
  auto nodes = lab_->json(1, {"node", "ls"});
  ASSERT_EQ(nodes.size(), 2u) << nodes.dump();
  for (const auto& node : nodes) {
    EXPECT_EQ(node.value("underlayPrefix", ""), "198.18.0.0/24") << node.dump();
    EXPECT_EQ(node.value("gatewaySubnet", ""), "172.18.0.0/16") << node.dump();
  }
}

TEST_F(SubnetLabTest, SubnetsOnTheMembersNetworksAreRefusedNamingTheNodes) {
  std::string nodes = "nodes " + lab_->hostNamespace(1) + ", " + lab_->hostNamespace(2);
  struct Refused {
    int host;
    std::string subnet;
    std::string message;
  };
  const Refused cases[] = {
      {1, "198.18.0.0/24",
       "network create: subnet 198.18.0.0/24 is in the underlay network 198.18.0.0/24 of " + nodes +
           "; choose a subnet outside it, e.g. 10.0.1.0/24"},
      {1, "198.18.0.128/25",
       "network create: subnet 198.18.0.128/25 is in the underlay network 198.18.0.0/24 of " +
           nodes},
      {1, "198.16.0.0/14", "subnet 198.16.0.0/14 overlaps the underlay network 198.18.0.0/24"},
      {1, "172.18.7.0/24",
       "network create: subnet 172.18.7.0/24 is in the gateway-bridge subnet 172.18.0.0/16 of " +
           nodes + " (overmeshd --gateway-subnet); choose a subnet outside it, e.g. 10.0.1.0/24"},
      {1, "127.0.0.0/24",
       "network create: subnet 127.0.0.0/24 is in the loopback range 127.0.0.0/8; choose a "
       "subnet outside it, e.g. 10.0.1.0/24"},
  };
  for (const auto& bad : cases) {
    auto refused = lab_->cli(bad.host, {"network", "create", "--subnet", bad.subnet, "x"});
    EXPECT_EQ(refused.exitCode, 1) << bad.subnet;
    EXPECT_THAT(refused.err, HasSubstr(bad.message)) << "on h" << bad.host;
  }
  EXPECT_EQ(networkNames(), "");
  // Next to the underlay is fine.
  auto next = lab_->cli(1, {"network", "create", "--subnet", "198.18.1.0/24", "next"});
  EXPECT_EQ(next.exitCode, 0) << next.err;
}

TEST_F(SubnetLabTest, NodeWhoseUnderlayHoldsANetworkCannotJoin) {
  auto left = lab_->cli(2, {"swarm", "leave"});
  ASSERT_EQ(left.exitCode, 0) << left.err;
  auto created = lab_->cli(1, {"network", "create", "--subnet", "198.19.5.0/24", "edge"});
  ASSERT_EQ(created.exitCode, 0) << created.err;
  // h2 gets a second underlay address, on the network's subnet (inside h2's namespace,
  // which this lab made).
  auto added = lab_->exec(2, {"ip", "addr", "add", "198.19.5.2/24", "dev", "eth0"});
  ASSERT_EQ(added.exitCode, 0) << added.err;
  // The manager checks an advertise address that is not where the node connects from by
  // connecting to it (issue 12): h1 gets an address on that subnet too, so that the check
  // passes and the overlap is what refuses the join.
  auto reach = lab_->exec(1, {"ip", "addr", "add", "198.19.5.1/24", "dev", "eth0"});
  ASSERT_EQ(reach.exitCode, 0) << reach.err;
  auto shown = lab_->cli(1, {"swarm", "join-token", "-q", "worker"});
  ASSERT_TRUE(shown.out.starts_with("OMTKN-1-")) << shown.out << shown.err;
  std::string token = shown.out.substr(0, shown.out.find_first_of(" \n"));

  auto refused = lab_->cli(2, {"swarm", "join", "--token", token, "--advertise-addr",
                               "198.19.5.2", "198.18.0.1:2377"});
  EXPECT_EQ(refused.exitCode, 1);
  EXPECT_THAT(refused.err,
              HasSubstr("swarm join: this node's underlay network 198.19.5.0/24 (of its "
                        "advertise address 198.19.5.2) overlaps network edge (198.19.5.0/24); "
                        "remove that network first, or join with an advertise address on "
                        "another network"));
  EXPECT_EQ(lab_->json(2, {"info"}).value("swarm", ""), "inactive");
  EXPECT_EQ(lab_->json(1, {"node", "ls"}).size(), 1u) << "the manager admitted nothing";

  auto joined = lab_->cli(2, {"swarm", "join", "--token", token, "--advertise-addr",
                              "198.18.0.2", "198.18.0.1:2377"});
  EXPECT_EQ(joined.exitCode, 0) << joined.err;
  EXPECT_EQ(lab_->json(1, {"node", "ls"}).size(), 2u);
}

}  // namespace
}  // namespace overmesh::testing
