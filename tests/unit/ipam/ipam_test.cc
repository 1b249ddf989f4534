#include "ipam/ipam.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "support/ip_helpers.h"

namespace overmesh::ipam {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

Ipv4Address addr(std::string_view text) {
  auto address = Ipv4Address::parse(text);
  EXPECT_TRUE(address.has_value()) << text;
  return address.value_or(Ipv4Address());
}

using ::overmesh::testing::prefix;

PoolConfig pools(std::vector<std::string_view> texts, int subnetLength) {
  PoolConfig config;
  for (auto text : texts) {
    config.defaultPools.push_back(prefix(text));
  }
  config.subnetLength = subnetLength;
  return config;
}

NetworkRequest request(std::optional<std::string> subnet = std::nullopt,
                       std::optional<std::string> gateway = std::nullopt) {
  return NetworkRequest{"net", std::move(subnet), std::move(gateway)};
}

ExistingNetwork network(std::string name, std::string_view subnet, std::uint32_t vni) {
  return ExistingNetwork{std::move(name), prefix(subnet), vni};
}

// Allocates `count` networks one after another, each seeing the ones before it.
std::vector<Ipv4Prefix> allocateSeveral(int count, const PoolConfig& config,
                                        std::vector<ExistingNetwork> existing = {}) {
  std::vector<Ipv4Prefix> subnets;
  for (int i = 0; i < count; ++i) {
    auto allocation = allocateNetwork(request(), existing, config);
    EXPECT_TRUE(allocation.has_value()) << allocation.error().message;
    if (!allocation) {
      break;
    }
    subnets.push_back(allocation->subnet);
    existing.push_back(
        ExistingNetwork{"net" + std::to_string(i), allocation->subnet, allocation->vni});
  }
  return subnets;
}

// Names each parameterized case after its `label` field.
struct LabelName {
  template <typename Param>
  std::string operator()(const ::testing::TestParamInfo<Param>& testInfo) const {
    return std::string(testInfo.param.label);
  }
};

// --- Pool configuration --------------------------------------------------------------------

TEST(PoolConfigTest, DefaultsAreTenSlashEightInSlashTwentyFours) {
  PoolConfig config = PoolConfig::defaults();
  ASSERT_EQ(config.defaultPools.size(), 1u);
  EXPECT_EQ(config.defaultPools[0], prefix("10.0.0.0/8"));
  EXPECT_EQ(config.subnetLength, 24);
  EXPECT_TRUE(validatePoolConfig(config).has_value());
}

struct PoolConfigCase {
  std::string_view label;
  std::vector<std::string_view> pools;
  int subnetLength;
  bool valid;
  std::string_view message;  // a fragment of the error, when invalid
};

class PoolConfigValidationTest : public ::testing::TestWithParam<PoolConfigCase> {};

TEST_P(PoolConfigValidationTest, Validates) {
  const auto& c = GetParam();
  Status status = validatePoolConfig(pools(c.pools, c.subnetLength));
  ASSERT_EQ(status.has_value(), c.valid) << (status ? "" : status.error().message);
  if (!c.valid) {
    EXPECT_EQ(status.error().kind, ErrorKind::InvalidArgument);
    EXPECT_THAT(status.error().message, HasSubstr(c.message));
  }
}

INSTANTIATE_TEST_SUITE_P(
    Cases, PoolConfigValidationTest,
    ::testing::Values(
        PoolConfigCase{"TwoDisjointPools", {"10.0.0.0/8", "172.16.0.0/12"}, 24, true, ""},
        PoolConfigCase{"SmallestSubnets", {"10.9.0.0/22"}, 30, true, ""},
        PoolConfigCase{"LargestSubnets", {"10.0.0.0/8"}, 16, true, ""},
        PoolConfigCase{"SubnetAsLargeAsPool", {"10.9.0.0/24"}, 24, true, ""},
        PoolConfigCase{"NoPool", {}, 24, false, "--default-addr-pool: at least one pool"},
        PoolConfigCase{"HostBitsSet",
                       {"10.0.0.1/8"},
                       24,
                       false,
                       "--default-addr-pool 10.0.0.1/8 is not a network address (did you mean "
                       "10.0.0.0/8?)"},
        PoolConfigCase{"PoolsOverlap",
                       {"10.0.0.0/8", "10.1.0.0/16"},
                       24,
                       false,
                       "--default-addr-pool 10.1.0.0/16 overlaps --default-addr-pool 10.0.0.0/8"},
        PoolConfigCase{
            "SamePoolTwice", {"10.0.0.0/8", "10.0.0.0/8"}, 24, false, "pools must not overlap"},
        PoolConfigCase{"MaskTooShort",
                       {"10.0.0.0/8"},
                       15,
                       false,
                       "--default-addr-pool-mask-length 15 is out of range: it must be 16-30"},
        PoolConfigCase{"MaskTooLong",
                       {"10.0.0.0/8"},
                       31,
                       false,
                       "--default-addr-pool-mask-length 31 is out of range: it must be 16-30"},
        PoolConfigCase{"MaskLargerThanPool",
                       {"172.16.0.0/12", "10.9.0.0/26"},
                       24,
                       false,
                       "--default-addr-pool-mask-length 24 does not fit --default-addr-pool "
                       "10.9.0.0/26"}),
    LabelName());

// --- Default subnet allocation -------------------------------------------------------------

TEST(AllocateNetworkTest, FirstNetworkGetsFirstBlockFirstHostAndFirstVni) {
  auto allocation = allocateNetwork(request(), {}, PoolConfig::defaults());
  ASSERT_TRUE(allocation.has_value()) << allocation.error().message;
  EXPECT_EQ(allocation->subnet, prefix("10.0.0.0/24"));
  EXPECT_EQ(allocation->gateway, addr("10.0.0.1"));
  EXPECT_EQ(allocation->vni, kFirstVni);
}

TEST(AllocateNetworkTest, DefaultSubnetsFollowAddressOrder) {
  EXPECT_EQ(allocateSeveral(3, PoolConfig::defaults()),
            (std::vector<Ipv4Prefix>{prefix("10.0.0.0/24"), prefix("10.0.1.0/24"),
                                     prefix("10.0.2.0/24")}));
}

TEST(AllocateNetworkTest, DefaultSubnetFillsTheFirstGap) {
  auto allocation = allocateNetwork(
      request(), {network("a", "10.0.0.0/24", 4096), network("c", "10.0.2.0/24", 4097)},
      PoolConfig::defaults());
  ASSERT_TRUE(allocation.has_value()) << allocation.error().message;
  EXPECT_EQ(allocation->subnet, prefix("10.0.1.0/24"));
}

TEST(AllocateNetworkTest, UserSubnetInsideABlockMakesTheAllocatorSkipIt) {
  auto allocation = allocateNetwork(request(), {network("custom", "10.0.0.128/25", 4096)},
                                    PoolConfig::defaults());
  ASSERT_TRUE(allocation.has_value()) << allocation.error().message;
  EXPECT_EQ(allocation->subnet, prefix("10.0.1.0/24"));
}

TEST(AllocateNetworkTest, LargeExistingSubnetIsSkippedWhole) {
  auto allocation = allocateNetwork(
      request(), {network("big", "10.0.0.0/16", 4096), network("inner", "10.0.5.0/24", 4097)},
      PoolConfig::defaults());
  ASSERT_TRUE(allocation.has_value()) << allocation.error().message;
  EXPECT_EQ(allocation->subnet, prefix("10.1.0.0/24"));
}

TEST(AllocateNetworkTest, SubnetsOutsideThePoolsDoNotMatter) {
  auto allocation =
      allocateNetwork(request(), {network("lan", "192.168.0.0/24", 4096)}, PoolConfig::defaults());
  ASSERT_TRUE(allocation.has_value()) << allocation.error().message;
  EXPECT_EQ(allocation->subnet, prefix("10.0.0.0/24"));
}

TEST(AllocateNetworkTest, MaskLengthSetsTheSubnetSize) {
  EXPECT_EQ(allocateSeveral(3, pools({"10.9.0.0/22"}, 30)),
            (std::vector<Ipv4Prefix>{prefix("10.9.0.0/30"), prefix("10.9.0.4/30"),
                                     prefix("10.9.0.8/30")}));
  EXPECT_EQ(allocateSeveral(2, pools({"10.0.0.0/8"}, 16)),
            (std::vector<Ipv4Prefix>{prefix("10.0.0.0/16"), prefix("10.1.0.0/16")}));
}

TEST(AllocateNetworkTest, PoolsAreUsedInTheGivenOrderNotAddressOrder) {
  PoolConfig config = pools({"192.168.0.0/23", "10.0.0.0/24"}, 24);
  EXPECT_EQ(allocateSeveral(3, config),
            (std::vector<Ipv4Prefix>{prefix("192.168.0.0/24"), prefix("192.168.1.0/24"),
                                     prefix("10.0.0.0/24")}));
}

TEST(AllocateNetworkTest, MovesToTheNextPoolWhenAnExistingSubnetCoversTheFirst) {
  auto allocation = allocateNetwork(request(), {network("wide", "10.9.0.0/16", 4096)},
                                    pools({"10.9.0.0/22", "172.16.0.0/16"}, 24));
  ASSERT_TRUE(allocation.has_value()) << allocation.error().message;
  EXPECT_EQ(allocation->subnet, prefix("172.16.0.0/24"));
}

TEST(AllocateNetworkTest, SmallPoolGivesFourNetworksThenAClearError) {
  PoolConfig config = pools({"10.9.0.0/22"}, 24);
  std::vector<ExistingNetwork> existing;
  for (std::string_view expected : {"10.9.0.0/24", "10.9.1.0/24", "10.9.2.0/24", "10.9.3.0/24"}) {
    auto allocation = allocateNetwork(request(), existing, config);
    ASSERT_TRUE(allocation.has_value()) << allocation.error().message;
    EXPECT_EQ(allocation->subnet, prefix(expected));
    existing.push_back(ExistingNetwork{"n", allocation->subnet, allocation->vni});
  }
  auto exhausted = allocateNetwork(request(), existing, config);
  ASSERT_FALSE(exhausted.has_value());
  EXPECT_EQ(exhausted.error().kind, ErrorKind::FailedPrecondition);
  EXPECT_EQ(exhausted.error().message,
            "the default address pools (10.9.0.0/22) are exhausted: no free /24 subnet is left; "
            "give the network an explicit subnet (--subnet), or create the swarm with more or "
            "larger pools (swarm init --default-addr-pool)");
}

TEST(AllocateNetworkTest, ExhaustionListsEveryPool) {
  auto exhausted = allocateNetwork(request(), {network("all", "10.0.0.0/8", 4096)},
                                   pools({"10.1.0.0/16", "10.2.0.0/16"}, 24));
  ASSERT_FALSE(exhausted.has_value());
  EXPECT_THAT(exhausted.error().message, HasSubstr("(10.1.0.0/16, 10.2.0.0/16)"));
}

TEST(AllocateNetworkTest, ExhaustionOfAHugePoolIsFound) {
  // 2^22 /30 blocks, all covered by one existing network: the answer must not need a walk.
  auto exhausted =
      allocateNetwork(request(), {network("all", "10.0.0.0/8", 4096)}, pools({"10.0.0.0/8"}, 30));
  ASSERT_FALSE(exhausted.has_value());
  EXPECT_EQ(exhausted.error().kind, ErrorKind::FailedPrecondition);
}

TEST(AllocateNetworkTest, LastBlockOfTheAddressSpaceIsFoundWithoutOverflow) {
  // 255.255.255.0/24 is reserved, so the network allocator never hands it out; the block
  // search itself must still reach the top of the address space without wrapping.
  auto block = firstFreeBlock({prefix("255.255.255.0/24")}, 25, {prefix("255.255.255.0/25")});
  ASSERT_TRUE(block.has_value());
  EXPECT_EQ(*block, prefix("255.255.255.128/25"));
  auto allocation = allocateNetwork(request(), {network("low", "255.255.255.0/25", 4096)},
                                    pools({"255.255.255.0/24"}, 25));
  ASSERT_FALSE(allocation.has_value());
  EXPECT_EQ(allocation.error().kind, ErrorKind::FailedPrecondition);
}

TEST(AllocateNetworkTest, InvalidPoolConfigIsAFailedPrecondition) {
  auto allocation = allocateNetwork(request(), {}, pools({"10.0.0.0/8"}, 31));
  ASSERT_FALSE(allocation.has_value());
  EXPECT_EQ(allocation.error().kind, ErrorKind::FailedPrecondition);
  EXPECT_THAT(allocation.error().message, HasSubstr("--default-addr-pool-mask-length 31"));
}

TEST(AllocateNetworkTest, ThousandsOfExistingNetworksInAnyOrder) {
  // 5,000 /24s packed from 10.0.0.0 (10.0.0.0/24 .. 10.19.135.0/24), listed shuffled.
  std::vector<ExistingNetwork> existing;
  for (std::uint32_t i = 0; i < 5000; ++i) {
    auto subnet = Ipv4Prefix::fromParts(Ipv4Address::fromValue(0x0a000000 + (i << 8)), 24);
    ASSERT_TRUE(subnet.has_value());
    existing.push_back(ExistingNetwork{"net" + std::to_string(i), *subnet, kFirstVni + i});
  }
  std::shuffle(existing.begin(), existing.end(), std::mt19937(42));
  auto allocation = allocateNetwork(request(), existing, PoolConfig::defaults());
  ASSERT_TRUE(allocation.has_value()) << allocation.error().message;
  EXPECT_EQ(allocation->subnet, prefix("10.19.136.0/24"));
  EXPECT_EQ(allocation->vni, kFirstVni + 5000);
}

TEST(AllocateSubnetTest, InvalidPoolConfigIsRefused) {
  auto subnet = allocateSubnet({}, PoolConfig{});
  ASSERT_FALSE(subnet.has_value());
  EXPECT_EQ(subnet.error().kind, ErrorKind::FailedPrecondition);
  EXPECT_THAT(subnet.error().message, HasSubstr("misconfigured"));
}

TEST(AllocateSubnetTest, NestedAndDuplicateTakenSubnets) {
  auto subnet = allocateSubnet({prefix("10.0.1.0/24"), prefix("10.0.0.0/23"), prefix("10.0.0.0/23"),
                                prefix("10.0.0.64/26"), prefix("10.0.3.0/24")},
                               PoolConfig::defaults());
  ASSERT_TRUE(subnet.has_value()) << subnet.error().message;
  EXPECT_EQ(*subnet, prefix("10.0.2.0/24"));
}

// --- User-given subnet ---------------------------------------------------------------------

TEST(AllocateNetworkTest, UserSubnetIsUsedAsGiven) {
  auto allocation = allocateNetwork(request("10.0.15.0/24"), {}, PoolConfig::defaults());
  ASSERT_TRUE(allocation.has_value()) << allocation.error().message;
  EXPECT_EQ(allocation->subnet, prefix("10.0.15.0/24"));
  EXPECT_EQ(allocation->gateway, addr("10.0.15.1"));
  EXPECT_EQ(allocation->vni, kFirstVni);
}

TEST(AllocateNetworkTest, UserSubnetNeedsNoPools) {
  // Pools are only consulted when the subnet is omitted, even if they are exhausted or broken.
  auto allocation = allocateNetwork(request("192.168.50.0/24"), {}, PoolConfig{});
  ASSERT_TRUE(allocation.has_value()) << allocation.error().message;
  EXPECT_EQ(allocation->subnet, prefix("192.168.50.0/24"));
}

TEST(AllocateNetworkTest, UnparsableSubnetNamesFieldAndValue) {
  auto allocation = allocateNetwork(request("10.0.15.0/33"), {}, PoolConfig::defaults());
  ASSERT_FALSE(allocation.has_value());
  EXPECT_EQ(allocation.error().kind, ErrorKind::InvalidArgument);
  EXPECT_EQ(allocation.error().message,
            "subnet \"10.0.15.0/33\" is not a valid IPv4 CIDR: the prefix length must be 0-32");
}

TEST(AllocateNetworkTest, SubnetWithHostBitsSuggestsTheNetwork) {
  auto allocation = allocateNetwork(request("10.0.15.7/24"), {}, PoolConfig::defaults());
  ASSERT_FALSE(allocation.has_value());
  EXPECT_EQ(allocation.error().kind, ErrorKind::InvalidArgument);
  EXPECT_EQ(allocation.error().message,
            "subnet 10.0.15.7/24 is not a network address (did you mean 10.0.15.0/24?)");
}

TEST(AllocateNetworkTest, SlashThirtyIsTheSmallestSubnet) {
  auto allocation = allocateNetwork(request("10.0.15.4/30"), {}, PoolConfig::defaults());
  ASSERT_TRUE(allocation.has_value()) << allocation.error().message;
  EXPECT_EQ(allocation->gateway, addr("10.0.15.5"));
  for (std::string text : {"10.0.15.4/31", "10.0.15.4/32"}) {
    auto tooSmall = allocateNetwork(request(text), {}, PoolConfig::defaults());
    ASSERT_FALSE(tooSmall.has_value()) << text;
    EXPECT_EQ(tooSmall.error().kind, ErrorKind::InvalidArgument);
    EXPECT_THAT(tooSmall.error().message, StartsWith("subnet " + text + " is too small"));
    EXPECT_THAT(tooSmall.error().message,
                HasSubstr("needs room for a gateway and at least one task"));
  }
}

struct OverlapCase {
  std::string_view label;
  std::string_view requested;
  std::string_view existing;
};

class SubnetOverlapTest : public ::testing::TestWithParam<OverlapCase> {};

TEST_P(SubnetOverlapTest, IsAConflictNamingTheOtherNetwork) {
  const auto& c = GetParam();
  auto allocation = allocateNetwork(
      request(std::string(c.requested)),
      {network("lan", "192.168.0.0/24", 4096), network("chaos_net", c.existing, 4097)},
      PoolConfig::defaults());
  ASSERT_FALSE(allocation.has_value());
  EXPECT_EQ(allocation.error().kind, ErrorKind::Conflict);
  EXPECT_THAT(allocation.error().message,
              StartsWith(fmt::format(
                  "subnet {} overlaps network chaos_net ({}); choose a subnet outside it",
                  c.requested, c.existing)));
}

INSTANTIATE_TEST_SUITE_P(
    Arrangements, SubnetOverlapTest,
    ::testing::Values(OverlapCase{"Equal", "10.0.15.0/24", "10.0.15.0/24"},
                      OverlapCase{"Inside", "10.0.15.128/25", "10.0.15.0/24"},
                      OverlapCase{"Containing", "10.0.0.0/16", "10.0.15.0/24"},
                      OverlapCase{"ContainingAtTheEnd", "10.0.0.0/16", "10.0.255.252/30"},
                      OverlapCase{"InsideAtTheStart", "10.0.0.0/30", "10.0.0.0/8"}),
    LabelName());

TEST(AllocateNetworkTest, AdjacentSubnetsDoNotConflict) {
  std::vector<ExistingNetwork> existing{network("low", "10.0.14.0/24", 4096),
                                        network("high", "10.0.16.0/24", 4097)};
  auto allocation = allocateNetwork(request("10.0.15.0/24"), existing, PoolConfig::defaults());
  ASSERT_TRUE(allocation.has_value()) << allocation.error().message;
  EXPECT_EQ(allocation->vni, 4098u);
}

// --- Gateway -------------------------------------------------------------------------------

TEST(AllocateNetworkTest, GatewayAnywhereInsideTheHostRangeIsKept) {
  for (std::string gateway : {"10.0.15.1", "10.0.15.100", "10.0.15.254"}) {
    auto allocation = allocateNetwork(request("10.0.15.0/24", gateway), {}, PoolConfig::defaults());
    ASSERT_TRUE(allocation.has_value()) << allocation.error().message;
    EXPECT_EQ(allocation->gateway, addr(gateway));
  }
}

struct GatewayCase {
  std::string_view label;
  std::optional<std::string> subnet;
  std::string gateway;
  std::string message;
};

class InvalidGatewayTest : public ::testing::TestWithParam<GatewayCase> {};

TEST_P(InvalidGatewayTest, IsRejected) {
  const auto& c = GetParam();
  auto allocation = allocateNetwork(request(c.subnet, c.gateway), {}, PoolConfig::defaults());
  ASSERT_FALSE(allocation.has_value());
  EXPECT_EQ(allocation.error().kind, ErrorKind::InvalidArgument);
  EXPECT_EQ(allocation.error().message, c.message);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, InvalidGatewayTest,
    ::testing::Values(
        GatewayCase{"Unparsable", "10.0.15.0/24", "10.0.15",
                    "gateway \"10.0.15\" is not a valid IPv4 address: expected four numbers "
                    "0-255 separated by dots, like 10.0.15.1"},
        GatewayCase{"Outside", "10.0.15.0/24", "10.0.16.1",
                    "gateway 10.0.16.1 is outside subnet 10.0.15.0/24; choose an address in "
                    "10.0.15.1-10.0.15.254"},
        GatewayCase{"NetworkAddress", "10.0.15.0/24", "10.0.15.0",
                    "gateway 10.0.15.0 is the network address of subnet 10.0.15.0/24; choose an "
                    "address in 10.0.15.1-10.0.15.254"},
        GatewayCase{"BroadcastAddress", "10.0.15.0/24", "10.0.15.255",
                    "gateway 10.0.15.255 is the broadcast address of subnet 10.0.15.0/24; choose "
                    "an address in 10.0.15.1-10.0.15.254"},
        GatewayCase{"WithoutSubnet", std::nullopt, "10.0.0.1",
                    "gateway 10.0.0.1 was given without a subnet; a gateway must lie inside the "
                    "network's subnet, so give the subnet too"}),
    LabelName());

// --- Validation order ----------------------------------------------------------------------

TEST(AllocateNetworkTest, BadGatewayIsReportedBeforeAnOverlap) {
  auto allocation =
      allocateNetwork(request("10.0.15.0/24", "10.0.16.1"),
                      {network("chaos_net", "10.0.15.0/24", 4096)}, PoolConfig::defaults());
  ASSERT_FALSE(allocation.has_value());
  EXPECT_EQ(allocation.error().kind, ErrorKind::InvalidArgument);
}

TEST(AllocateNetworkTest, RequestIsNotModifiedAndResultIsDeterministic) {
  NetworkRequest req = request("10.0.15.0/24", "10.0.15.9");
  std::vector<ExistingNetwork> existing{network("a", "10.0.0.0/24", 4096)};
  auto first = allocateNetwork(req, existing, PoolConfig::defaults());
  auto second = allocateNetwork(req, existing, PoolConfig::defaults());
  ASSERT_TRUE(first.has_value()) << first.error().message;
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(*first, *second);
  EXPECT_EQ(req.subnet, "10.0.15.0/24");
  EXPECT_EQ(existing.size(), 1u);
}

// --- VNI -----------------------------------------------------------------------------------

TEST(AllocateNetworkTest, VniOfADeletedNetworkIsReusedLowestFirst) {
  // Networks with 4096, 4097, 4098 existed; 4097 and 4096 were deleted, in that order.
  auto allocation =
      allocateNetwork(request(), {network("c", "10.0.2.0/24", 4098)}, PoolConfig::defaults());
  ASSERT_TRUE(allocation.has_value()) << allocation.error().message;
  EXPECT_EQ(allocation->vni, 4096u);
  EXPECT_EQ(allocation->subnet, prefix("10.0.0.0/24"));
}

TEST(AllocateVniTest, LowestFreeFillsGaps) {
  EXPECT_EQ(allocateVni({}), kFirstVni);
  EXPECT_EQ(allocateVni({4096, 4098}), 4097u);
  EXPECT_EQ(allocateVni({4098, 4096, 4097}), 4099u);
  EXPECT_EQ(allocateVni({4097}), 4096u);
}

TEST(AllocateVniTest, IgnoresDuplicatesAndValuesOutsideTheRange) {
  EXPECT_EQ(allocateVni({4096, 4096, 4097, 4097}), 4098u);
  EXPECT_EQ(allocateVni({1, 100, 4095}), kFirstVni);
  EXPECT_EQ(allocateVni({kMaxVni + 1}, 10, 20), 10u);
}

TEST(AllocateVniTest, LastVniCanBeAllocated) {
  EXPECT_EQ(allocateVni({kMaxVni - 1}, kMaxVni - 1, kMaxVni), kMaxVni);
}

TEST(AllocateVniTest, ExhaustedRangeIsAClearError) {
  auto vni = allocateVni({kMaxVni, kMaxVni - 1}, kMaxVni - 1, kMaxVni);
  ASSERT_FALSE(vni.has_value());
  EXPECT_EQ(vni.error().kind, ErrorKind::FailedPrecondition);
  EXPECT_EQ(vni.error().message,
            "no free VNI is left: all VNIs in 16777214-16777215 are in use by networks; remove "
            "networks that are no longer needed");
}

TEST(AllocateVniTest, RangeEndingAtTheTopOfUint32DoesNotWrap) {
  constexpr std::uint32_t kTop = std::numeric_limits<std::uint32_t>::max();
  EXPECT_FALSE(allocateVni({kTop}, kTop, kTop).has_value());
  EXPECT_EQ(allocateVni({kTop - 1}, kTop - 1, kTop), kTop);
}

TEST(AllocateVniTest, LargeFullRangeIsExhaustedAndAGapIsFound) {
  // The whole 16.7M default range would only make the test slow; a 100,000-wide one exercises
  // the same code.
  constexpr std::uint32_t kLast = kFirstVni + 99'999;
  std::vector<std::uint32_t> used;
  for (std::uint32_t vni = kLast;; --vni) {
    used.push_back(vni);
    if (vni == kFirstVni) {
      break;
    }
  }
  auto vni = allocateVni(used, kFirstVni, kLast);
  ASSERT_FALSE(vni.has_value());
  EXPECT_EQ(vni.error().kind, ErrorKind::FailedPrecondition);
  EXPECT_THAT(vni.error().message, HasSubstr("4096-104095"));
  used.erase(used.begin() + 1000);  // kLast - 1000
  EXPECT_EQ(allocateVni(used, kFirstVni, kLast), kLast - 1000);
}

// --- Host addresses ------------------------------------------------------------------------

std::set<Ipv4Address> addresses(std::vector<std::string_view> texts) {
  std::set<Ipv4Address> result;
  for (auto text : texts) {
    result.insert(addr(text));
  }
  return result;
}

struct HostCase {
  std::string_view label;
  std::string_view subnet;
  std::string_view gateway;
  std::vector<std::string_view> used;
  std::string_view expected;
};

class AllocateHostAddressTest : public ::testing::TestWithParam<HostCase> {};

TEST_P(AllocateHostAddressTest, PicksLowestFree) {
  const auto& c = GetParam();
  auto host = allocateHostAddress(prefix(c.subnet), addr(c.gateway), addresses(c.used));
  ASSERT_TRUE(host.has_value()) << host.error().message;
  EXPECT_EQ(*host, addr(c.expected));
}

INSTANTIATE_TEST_SUITE_P(
    Cases, AllocateHostAddressTest,
    ::testing::Values(
        HostCase{"Empty", "10.0.15.0/24", "10.0.15.1", {}, "10.0.15.2"},
        HostCase{"AfterUsed", "10.0.15.0/24", "10.0.15.1", {"10.0.15.2", "10.0.15.3"}, "10.0.15.4"},
        HostCase{"GapFirst", "10.0.15.0/24", "10.0.15.1", {"10.0.15.3"}, "10.0.15.2"},
        HostCase{"GatewayInTheMiddle",
                 "10.0.15.0/24",
                 "10.0.15.4",
                 {"10.0.15.1", "10.0.15.2", "10.0.15.3", "10.0.15.5"},
                 "10.0.15.6"},
        HostCase{"GatewayNotFirst", "10.0.15.0/30", "10.0.15.2", {}, "10.0.15.1"},
        HostCase{"LastHost", "10.0.15.0/30", "10.0.15.1", {"10.0.15.9"}, "10.0.15.2"},
        HostCase{"UsedOutsideSubnetIgnored",
                 "10.0.15.0/24",
                 "10.0.15.1",
                 {"10.0.14.2", "10.0.16.2", "10.0.15.0"},
                 "10.0.15.2"},
        HostCase{
            "TopOfAddressSpace", "255.255.255.252/30", "255.255.255.253", {}, "255.255.255.254"}),
    LabelName());

TEST(AllocateHostAddressTest, FullSubnetIsAClearError) {
  auto host =
      allocateHostAddress(prefix("10.0.15.0/30"), addr("10.0.15.1"), addresses({"10.0.15.2"}));
  ASSERT_FALSE(host.has_value());
  EXPECT_EQ(host.error().kind, ErrorKind::FailedPrecondition);
  EXPECT_EQ(host.error().message,
            "subnet 10.0.15.0/30 is full: every host address (10.0.15.1-10.0.15.2) is the "
            "gateway or already in use; remove unused tasks, or use a network with a larger "
            "subnet");
}

TEST(AllocateHostAddressTest, FillsASlashTwentyFourInOrderThenFails) {
  Ipv4Prefix subnet = prefix("10.0.15.0/24");
  std::set<Ipv4Address> used;
  for (int i = 0; i < 253; ++i) {
    auto host = allocateHostAddress(subnet, addr("10.0.15.1"), used);
    ASSERT_TRUE(host.has_value()) << host.error().message;
    EXPECT_EQ(host->value(), subnet.network().value() + 2 + static_cast<std::uint32_t>(i));
    used.insert(*host);
  }
  auto full = allocateHostAddress(subnet, addr("10.0.15.1"), used);
  ASSERT_FALSE(full.has_value());
  EXPECT_THAT(full.error().message, HasSubstr("subnet 10.0.15.0/24 is full"));
}

TEST(AllocateHostAddressTest, SubnetsWithoutHostAddressesFail) {
  for (std::string_view text : {"10.0.15.0/31", "10.0.15.0/32"}) {
    auto host = allocateHostAddress(prefix(text), addr("10.0.15.0"), {});
    ASSERT_FALSE(host.has_value()) << text;
    EXPECT_EQ(host.error().kind, ErrorKind::FailedPrecondition);
    EXPECT_THAT(host.error().message, HasSubstr(text));
  }
}

struct StaticAddressCase {
  std::string_view label;
  std::string_view requested;
  bool valid;
  ErrorKind kind;
  std::string_view message;
};

class ValidateHostAddressTest : public ::testing::TestWithParam<StaticAddressCase> {};

TEST_P(ValidateHostAddressTest, Validates) {
  const auto& c = GetParam();
  Status status = validateHostAddress(prefix("10.0.15.0/24"), addr("10.0.15.1"),
                                      addresses({"10.0.15.2"}), addr(c.requested));
  ASSERT_EQ(status.has_value(), c.valid) << (status ? "" : status.error().message);
  if (!c.valid) {
    EXPECT_EQ(status.error().kind, c.kind);
    EXPECT_EQ(status.error().message, c.message);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Cases, ValidateHostAddressTest,
    ::testing::Values(
        StaticAddressCase{"Free", "10.0.15.3", true, ErrorKind::Internal, ""},
        StaticAddressCase{"LastHost", "10.0.15.254", true, ErrorKind::Internal, ""},
        StaticAddressCase{"Outside", "10.0.16.3", false, ErrorKind::InvalidArgument,
                          "address 10.0.16.3 is outside subnet 10.0.15.0/24; choose an address "
                          "in 10.0.15.1-10.0.15.254"},
        StaticAddressCase{"Network", "10.0.15.0", false, ErrorKind::InvalidArgument,
                          "address 10.0.15.0 is the network address of subnet 10.0.15.0/24; "
                          "choose an address in 10.0.15.1-10.0.15.254"},
        StaticAddressCase{"Broadcast", "10.0.15.255", false, ErrorKind::InvalidArgument,
                          "address 10.0.15.255 is the broadcast address of subnet "
                          "10.0.15.0/24; choose an address in 10.0.15.1-10.0.15.254"},
        StaticAddressCase{"Gateway", "10.0.15.1", false, ErrorKind::Conflict,
                          "address 10.0.15.1 is the gateway of subnet 10.0.15.0/24; choose "
                          "another address"},
        StaticAddressCase{"InUse", "10.0.15.2", false, ErrorKind::Conflict,
                          "address 10.0.15.2 is already in use in subnet 10.0.15.0/24"}),
    LabelName());

}  // namespace
}  // namespace overmesh::ipam
