#include "common/mac.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>
#include <string_view>

namespace overmesh {
namespace {

using ::testing::HasSubstr;

TEST(MacAddressTest, DefaultIsAllZeros) {
  EXPECT_EQ(MacAddress().toString(), "00:00:00:00:00:00");
  EXPECT_FALSE(MacAddress().isMulticast());
}

TEST(MacAddressTest, ParsesAndRoundTripsLowerCase) {
  auto mac = MacAddress::parse("02:42:0a:00:0f:02");
  ASSERT_TRUE(mac) << mac.error().message;
  EXPECT_EQ(mac->bytes(), (MacAddress::Bytes{0x02, 0x42, 0x0a, 0x00, 0x0f, 0x02}));
  EXPECT_EQ(mac->toString(), "02:42:0a:00:0f:02");
}

TEST(MacAddressTest, AcceptsUpperCaseAndPrintsLowerCase) {
  auto mac = MacAddress::parse("AA:bb:Cc:0D:EE:ff");
  ASSERT_TRUE(mac) << mac.error().message;
  EXPECT_EQ(mac->toString(), "aa:bb:cc:0d:ee:ff");
  EXPECT_EQ(fmt::format("{}", *mac), "aa:bb:cc:0d:ee:ff");
}

TEST(MacAddressTest, FromBytesKeepsWireOrder) {
  auto mac = MacAddress::fromBytes({0xff, 0xff, 0xff, 0xff, 0xff, 0xff});
  EXPECT_EQ(mac.toString(), "ff:ff:ff:ff:ff:ff");
  EXPECT_TRUE(mac.isMulticast());
  EXPECT_EQ(MacAddress::parse("ff:ff:ff:ff:ff:ff").value(), mac);
}

TEST(MacAddressTest, OrdersByBytes) {
  auto low = MacAddress::parse("02:42:0a:00:0f:02").value();
  auto high = MacAddress::parse("02:42:0a:00:0f:03").value();
  EXPECT_LT(low, high);
  EXPECT_NE(low, high);
}

class InvalidMacTest : public ::testing::TestWithParam<std::string_view> {};

TEST_P(InvalidMacTest, IsRejectedQuotingTheText) {
  auto mac = MacAddress::parse(GetParam());
  ASSERT_FALSE(mac) << GetParam();
  EXPECT_EQ(mac.error().kind, ErrorKind::InvalidArgument);
  EXPECT_THAT(mac.error().message, HasSubstr(fmt::format("{:?}", GetParam())));
  EXPECT_THAT(mac.error().message, HasSubstr("02:42:0a:00:0f:02"));
}

INSTANTIATE_TEST_SUITE_P(Macs, InvalidMacTest,
                         ::testing::Values("", "02:42:0a:00:0f", "02:42:0a:00:0f:02:03",
                                           "02-42-0a-00-0f-02", "2:42:a:0:f:2", "02:42:0a:00:0f:0g",
                                           " 02:42:0a:00:0f:02", "02:42:0a:00:0f:02 ",
                                           "0242.0a00.0f02", "02:42:0a:00:0f::2",
                                           "+2:42:0a:00:0f:02"));

TEST(MacForIpTest, IsDockersDeterministicScheme) {
  EXPECT_EQ(macForIp(Ipv4Address::parse("10.0.15.2").value()).toString(), "02:42:0a:00:0f:02");
  EXPECT_EQ(macForIp(Ipv4Address::parse("172.18.255.1").value()).toString(), "02:42:ac:12:ff:01");
}

TEST(MacForIpTest, IsUnicastAndLocallyAdministered) {
  auto mac = macForIp(Ipv4Address::parse("255.255.255.255").value());
  EXPECT_FALSE(mac.isMulticast());
  EXPECT_EQ(mac.bytes()[0] & 0x02, 0x02);
}

TEST(MacForIpTest, DistinctAddressesGiveDistinctMacs) {
  std::set<MacAddress> macs;
  auto start = Ipv4Address::parse("10.0.15.0").value();
  Ipv4Address address = start;
  for (int i = 0; i < 256; ++i, address = address.next()) {
    macs.insert(macForIp(address));
  }
  EXPECT_EQ(macs.size(), 256u);
}

}  // namespace
}  // namespace overmesh
