// The members' host networks (underlay prefixes, gateway-bridge subnets) against overlay
// subnets: at network create, at join (the reverse check) and for pools at swarm init.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>

#include "common/clock.h"
#include "manager/cluster_manager.h"
#include "manager/network_manager.h"
#include "manager/network_rules.h"
#include "manager/node_manager.h"
#include "store/sqlite/sqlite_store.h"
#include "support/manager_join.h"
#include "support/scratch.h"

namespace overmesh::manager {
namespace {

using ::testing::HasSubstr;
using overmesh::testing::must;
using overmesh::testing::ScratchDir;

api::Node node(std::string hostname, std::string underlay, std::string gateway) {
  api::Node n;
  n.hostname = std::move(hostname);
  n.underlayPrefix = std::move(underlay);
  n.gatewaySubnet = std::move(gateway);
  return n;
}

Ipv4Prefix prefix(std::string_view text) { return must(Ipv4Prefix::parse(text)); }

TEST(HostNetworksOfTest, EachRangeOnceNamingItsNodes) {
  auto ranges = hostNetworksOf({node("h2", "198.18.0.0/24", "172.18.0.0/16"),
                                node("h1", "198.18.0.0/24", "172.18.0.0/16"),
                                node("h3", "198.19.0.0/24", "172.20.0.0/16"),
                                node("old", "", "")});
  ASSERT_EQ(ranges.size(), 4u);
  std::vector<std::string> descriptions;
  for (const auto& range : ranges) {
    EXPECT_TRUE(range.hostNetwork);
    descriptions.push_back(range.description);
  }
  EXPECT_THAT(descriptions,
              ::testing::UnorderedElementsAre(
                  "the underlay network 198.18.0.0/24 of nodes h1, h2",
                  "the underlay network 198.19.0.0/24 of node h3",
                  "the gateway-bridge subnet 172.18.0.0/16 of nodes h1, h2 (overmeshd "
                  "--gateway-subnet)",
                  "the gateway-bridge subnet 172.20.0.0/16 of node h3 (overmeshd "
                  "--gateway-subnet)"));
}

TEST(CheckJoiningNodeTest, UnderlayOrGatewayOnANetworkIsAConflict) {
  std::vector<ipam::ExistingNetwork> networks = {{"edge", prefix("198.19.5.0/24"), 4096}};
  auto underlay = checkJoiningNode("198.19.5.0/24", "198.19.5.3", "172.18.0.0/16", networks);
  ASSERT_FALSE(underlay.has_value());
  EXPECT_EQ(underlay.error().kind, ErrorKind::Conflict);
  EXPECT_EQ(underlay.error().message,
            "this node's underlay network 198.19.5.0/24 (of its advertise address 198.19.5.3) "
            "overlaps network edge (198.19.5.0/24); remove that network first, or join with an "
            "advertise address on another network");
  auto gateway = checkJoiningNode("198.18.0.0/24", "198.18.0.3", "198.19.0.0/16", networks);
  ASSERT_FALSE(gateway.has_value());
  EXPECT_THAT(gateway.error().message,
              HasSubstr("this node's gateway-bridge subnet 198.19.0.0/16 (overmeshd "
                        "--gateway-subnet) overlaps network edge (198.19.5.0/24)"));
  EXPECT_TRUE(checkJoiningNode("198.18.0.0/24", "198.18.0.3", "172.18.0.0/16", networks));
  EXPECT_TRUE(checkJoiningNode("", "198.19.5.3", "", networks)) << "older nodes report nothing";
}

LocalNode self(std::string underlay = "192.0.2.0/24") {
  return LocalNode{"manager-1", "192.0.2.10", "192.0.2.10:2377", std::move(underlay),
                   "172.18.0.0/16"};
}

api::SwarmInitRequest withPools(std::vector<std::string> pools) {
  api::SwarmInitRequest request;
  request.defaultAddrPools = std::move(pools);
  return request;
}

TEST(InitPoolTest, ReservedPoolIsRefusedNamingTheFlag) {
  auto refused = ClusterManager::validateInit(withPools({"127.0.0.0/8"}), self());
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().kind, ErrorKind::InvalidArgument);
  EXPECT_EQ(refused.error().message,
            "swarm init: --default-addr-pool 127.0.0.0/8 is in the loopback range 127.0.0.0/8; "
            "choose a pool outside it, e.g. 10.0.0.0/8");
  for (std::string pool : {"169.254.0.0/16", "224.0.0.0/8", "0.0.0.0/8", "240.0.0.0/8"}) {
    EXPECT_FALSE(ClusterManager::validateInit(withPools({"10.0.0.0/8", pool}), self())) << pool;
  }
}

TEST(InitPoolTest, PoolOnTheManagersHostNetworksIsRefused) {
  auto underlay = ClusterManager::validateInit(withPools({"10.0.0.0/8"}), self("10.1.2.0/24"));
  ASSERT_FALSE(underlay.has_value());
  EXPECT_EQ(underlay.error().kind, ErrorKind::Conflict);
  EXPECT_EQ(underlay.error().message,
            "swarm init: --default-addr-pool 10.0.0.0/8 overlaps the underlay network "
            "10.1.2.0/24 of node manager-1; choose a pool outside it, e.g. 172.24.0.0/13");
  auto gateway = ClusterManager::validateInit(withPools({"172.16.0.0/12"}), self());
  ASSERT_FALSE(gateway.has_value());
  EXPECT_THAT(gateway.error().message,
              HasSubstr("--default-addr-pool 172.16.0.0/12 overlaps the gateway-bridge subnet "
                        "172.18.0.0/16 of node manager-1"));
  EXPECT_TRUE(ClusterManager::validateInit(withPools({"10.0.0.0/8"}), self()));
}

TEST(InitPoolTest, TheBuiltInPoolIsKeptAndSkipsTheUnderlay) {
  ScratchDir dir;
  SystemClock clock;
  auto store = must(store::SqliteStore::open((dir.path() / "state.db").string(), clock));
  must(ClusterManager(*store).init(api::SwarmInitRequest{}, self("10.0.0.0/23")));
  NetworkManager networks(*store);
  api::NetworkCreateRequest request;
  request.name = "first";
  EXPECT_EQ(must(networks.inspect("ingress")).subnet, "10.0.2.0/24");
  EXPECT_EQ(must(networks.create(request)).subnet, "10.0.3.0/24");
  store->close();
}

class MembersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = must(store::SqliteStore::open((dir_.path() / "state.db").string(), clock_));
    auto init = must(ClusterManager(*store_).init(api::SwarmInitRequest{}, self("198.18.0.0/24")));
    token_ = init.pki.workerToken;
    ca_ = init.pki.ca;
    nodes_ = std::make_unique<NodeManager>(*store_, clock_, init.node.id);
    must(nodes_->load());
    networks_ = std::make_unique<NetworkManager>(*store_);
  }
  void TearDown() override { store_->close(); }

  // Joins a node from its own address (the source check passes) with the worker token.
  Result<JoinResult> join(const std::string& hostname, const std::string& address,
                          const std::string& underlayPrefix, const std::string& gatewaySubnet) {
    auto joining = overmesh::testing::joinRequestFor(token_, hostname, address);
    joining.request.underlayPrefix = underlayPrefix;
    joining.request.gatewaySubnet = gatewaySubnet;
    return nodes_->join(joining.request, ca_, nullptr);
  }

  Result<api::Network> create(std::string name, std::optional<std::string> subnet) {
    api::NetworkCreateRequest request;
    request.name = std::move(name);
    request.subnet = std::move(subnet);
    return networks_->create(request);
  }

  ScratchDir dir_;
  SystemClock clock_;
  std::unique_ptr<store::SqliteStore> store_;
  std::string token_;
  security::CaMaterial ca_;
  std::unique_ptr<NodeManager> nodes_;
  std::unique_ptr<NetworkManager> networks_;
};

TEST_F(MembersTest, NetworkCreateRefusesAMembersUnderlayAndGatewaySubnet) {
  must(join("worker-1", "198.19.7.5", "198.19.7.0/24", "172.30.0.0/16"));
  auto manager = create("a", "198.18.0.0/25");
  ASSERT_FALSE(manager.has_value());
  EXPECT_EQ(manager.error().message,
            "network create: subnet 198.18.0.0/25 is in the underlay network 198.18.0.0/24 of "
            "node manager-1; choose a subnet outside it, e.g. 10.0.1.0/25");
  auto worker = create("b", "198.19.7.0/24");
  ASSERT_FALSE(worker.has_value());
  EXPECT_THAT(worker.error().message, HasSubstr("underlay network 198.19.7.0/24 of node worker-1"));
  auto gateway = create("c", "172.30.1.0/24");
  ASSERT_FALSE(gateway.has_value());
  EXPECT_THAT(gateway.error().message,
              HasSubstr("gateway-bridge subnet 172.30.0.0/16 of node worker-1"));
  auto listed = must(networks_->list());
  ASSERT_EQ(listed.size(), 1u) << "only the ingress network of swarm init";
  EXPECT_EQ(listed[0].name, "ingress");
}

TEST_F(MembersTest, JoinOfANodeWhoseUnderlayHoldsANetworkIsRefusedAndWritesNothing) {
  must(create("edge", "198.19.5.0/24"));
  auto before = must(store_->currentRevision());
  auto refused = join("worker-1", "198.19.5.3", "198.19.5.0/24", "172.18.0.0/16");
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().kind, ErrorKind::Conflict);
  EXPECT_THAT(refused.error().message,
              HasSubstr("swarm join: this node's underlay network 198.19.5.0/24 (of its "
                        "advertise address 198.19.5.3) overlaps network edge (198.19.5.0/24)"));
  EXPECT_EQ(must(store_->currentRevision()), before);
  EXPECT_TRUE(join("worker-2", "198.18.0.3", "198.18.0.0/24", "172.18.0.0/16"));
}

}  // namespace
}  // namespace overmesh::manager
