// Subnets that cannot work as an overlay: reserved address classes and the hosts' own
// networks, for a user's --subnet, for the example in the refusal and for pool allocation.

#include "ipam/subnet_rules.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "ipam/ipam.h"
#include "support/ip_helpers.h"

namespace overmesh::ipam {
namespace {

using ::testing::HasSubstr;

using ::overmesh::testing::prefix;

NetworkRequest requestFor(std::string subnet) { return NetworkRequest{"net", subnet, std::nullopt}; }

AvoidedRange hostNetwork(std::string_view text, std::string description) {
  return AvoidedRange{prefix(text), std::move(description), true};
}

struct ReservedCase {
  std::string_view subnet;
  std::string_view message;
};

class ReservedSubnetTest : public ::testing::TestWithParam<ReservedCase> {};

TEST_P(ReservedSubnetTest, IsRefusedNamingTheRangeWithAnExample) {
  auto allocation = allocateNetwork(requestFor(std::string(GetParam().subnet)), {},
                                    PoolConfig::defaults());
  ASSERT_FALSE(allocation.has_value());
  EXPECT_EQ(allocation.error().kind, ErrorKind::InvalidArgument);
  EXPECT_EQ(allocation.error().message, GetParam().message);
}

INSTANTIATE_TEST_SUITE_P(
    Classes, ReservedSubnetTest,
    ::testing::Values(
        ReservedCase{"127.0.0.0/24",
                     "subnet 127.0.0.0/24 is in the loopback range 127.0.0.0/8; choose a subnet "
                     "outside it, e.g. 10.0.0.0/24"},
        ReservedCase{"169.254.10.0/24",
                     "subnet 169.254.10.0/24 is in the link-local range 169.254.0.0/16; choose "
                     "a subnet outside it, e.g. 10.0.0.0/24"},
        ReservedCase{"224.1.0.0/16",
                     "subnet 224.1.0.0/16 is in the multicast range 224.0.0.0/4; choose a "
                     "subnet outside it, e.g. 10.0.0.0/16"},
        ReservedCase{"0.0.0.0/24",
                     "subnet 0.0.0.0/24 is in the reserved range 0.0.0.0/8; choose a subnet "
                     "outside it, e.g. 10.0.0.0/24"},
        ReservedCase{"240.0.0.0/24",
                     "subnet 240.0.0.0/24 is in the reserved range 240.0.0.0/4; choose a "
                     "subnet outside it, e.g. 10.0.0.0/24"},
        ReservedCase{"255.255.255.0/24",
                     "subnet 255.255.255.0/24 is in the reserved range 240.0.0.0/4; choose a "
                     "subnet outside it, e.g. 10.0.0.0/24"},
        ReservedCase{"0.0.0.0/0",
                     "subnet 0.0.0.0/0 overlaps the reserved range 0.0.0.0/8; choose a subnet "
                     "outside it, e.g. 10.0.0.0/24"},
        ReservedCase{"126.0.0.0/7",
                     "subnet 126.0.0.0/7 overlaps the loopback range 127.0.0.0/8; choose a "
                     "subnet outside it, e.g. 10.0.0.0/24"}));

TEST(ReservedSubnetTest, NeighboursOfTheReservedRangesAreAccepted) {
  for (std::string subnet : {"1.0.0.0/24", "126.255.255.0/24", "128.0.0.0/24",
                             "169.253.255.0/24", "169.255.0.0/24", "223.255.255.0/24"}) {
    auto allocation = allocateNetwork(requestFor(subnet), {}, PoolConfig::defaults());
    EXPECT_TRUE(allocation.has_value()) << subnet << ": " << allocation.error().message;
  }
}

TEST(HostNetworkTest, SubnetOnAnUnderlayIsAConflictNamingTheNodes) {
  std::vector<AvoidedRange> hosts = {
      hostNetwork("198.18.0.0/24", "the underlay network 198.18.0.0/24 of nodes h1, h2")};
  auto inside = allocateNetwork(requestFor("198.18.0.0/24"), {}, PoolConfig::defaults(), hosts);
  ASSERT_FALSE(inside.has_value());
  EXPECT_EQ(inside.error().kind, ErrorKind::Conflict);
  EXPECT_EQ(inside.error().message,
            "subnet 198.18.0.0/24 is in the underlay network 198.18.0.0/24 of nodes h1, h2; "
            "choose a subnet outside it, e.g. 10.0.0.0/24");
  auto around = allocateNetwork(requestFor("198.16.0.0/12"), {}, PoolConfig::defaults(), hosts);
  ASSERT_FALSE(around.has_value());
  EXPECT_THAT(around.error().message,
              HasSubstr("subnet 198.16.0.0/12 overlaps the underlay network 198.18.0.0/24"));
  EXPECT_TRUE(allocateNetwork(requestFor("198.18.1.0/24"), {}, PoolConfig::defaults(), hosts));
}

TEST(HostNetworkTest, ExampleSkipsNetworksHostsAndReservedRanges) {
  std::vector<AvoidedRange> hosts = {hostNetwork("10.0.1.0/24", "the underlay network")};
  auto refused = allocateNetwork(requestFor("127.0.0.0/24"), {{"a", prefix("10.0.0.0/24"), 4096}},
                                 PoolConfig::defaults(), hosts);
  ASSERT_FALSE(refused.has_value());
  EXPECT_THAT(refused.error().message, HasSubstr("e.g. 10.0.2.0/24"));
}

TEST(HostNetworkTest, PoolAllocationSkipsHostNetworks) {
  std::vector<AvoidedRange> hosts = {
      hostNetwork("10.0.0.0/23", "the underlay network 10.0.0.0/23 of node h1"),
      hostNetwork("10.0.3.0/24", "the gateway-bridge subnet 10.0.3.0/24 of node h1")};
  auto first = allocateNetwork(NetworkRequest{"a", std::nullopt, std::nullopt}, {},
                               PoolConfig::defaults(), hosts);
  ASSERT_TRUE(first.has_value()) << first.error().message;
  EXPECT_EQ(first->subnet, prefix("10.0.2.0/24"));
  auto second = allocateNetwork(NetworkRequest{"b", std::nullopt, std::nullopt},
                                {{"a", first->subnet, first->vni}}, PoolConfig::defaults(), hosts);
  ASSERT_TRUE(second.has_value()) << second.error().message;
  EXPECT_EQ(second->subnet, prefix("10.0.4.0/24"));
}

TEST(HostNetworkTest, PoolAllocationSkipsReservedRanges) {
  PoolConfig config{{prefix("127.0.0.0/16"), prefix("10.0.0.0/16")}, 24};
  auto allocated = allocateSubnet({}, config);
  ASSERT_TRUE(allocated.has_value()) << allocated.error().message;
  EXPECT_EQ(*allocated, prefix("10.0.0.0/24"));
}

TEST(FirstFreeBlockTest, BlockLargerThanEveryCandidateIsNone) {
  EXPECT_FALSE(firstFreeBlock({prefix("10.0.0.0/16")}, 8, {}).has_value());
  EXPECT_EQ(firstFreeBlock(privateRanges(), 12, {prefix("10.0.0.0/8")}),
            prefix("172.16.0.0/12"));
}

TEST(DescribeCollisionTest, SaysInOrOverlaps) {
  AvoidedRange range{prefix("127.0.0.0/8"), "the loopback range 127.0.0.0/8", false};
  EXPECT_EQ(describeCollision("subnet", prefix("127.1.0.0/16"), range),
            "subnet 127.1.0.0/16 is in the loopback range 127.0.0.0/8");
  EXPECT_EQ(describeCollision("subnet", prefix("126.0.0.0/7"), range),
            "subnet 126.0.0.0/7 overlaps the loopback range 127.0.0.0/8");
}

}  // namespace
}  // namespace overmesh::ipam
