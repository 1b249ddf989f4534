#include "common/ip.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace overmesh {
namespace {

using ::testing::HasSubstr;

Ipv4Address addr(std::string_view text) {
  auto address = Ipv4Address::parse(text);
  EXPECT_TRUE(address.has_value()) << text;
  return address.value_or(Ipv4Address());
}

Ipv4Prefix prefix(std::string_view text) {
  auto parsed = Ipv4Prefix::parse(text);
  EXPECT_TRUE(parsed.has_value()) << text;
  return parsed.value_or(Ipv4Prefix());
}

// --- Ipv4Address ---------------------------------------------------------------------------

struct ValidAddressCase {
  std::string_view text;
  std::uint32_t value;
};

class ValidAddressTest : public ::testing::TestWithParam<ValidAddressCase> {};

TEST_P(ValidAddressTest, ParsesAndRoundTrips) {
  auto address = Ipv4Address::parse(GetParam().text);
  ASSERT_TRUE(address.has_value()) << address.error().message;
  EXPECT_EQ(address->value(), GetParam().value);
  EXPECT_EQ(address->toString(), GetParam().text);
  EXPECT_EQ(Ipv4Address::fromValue(GetParam().value), *address);
}

INSTANTIATE_TEST_SUITE_P(Addresses, ValidAddressTest,
                         ::testing::Values(ValidAddressCase{"0.0.0.0", 0},
                                           ValidAddressCase{"255.255.255.255", 0xffffffff},
                                           ValidAddressCase{"10.0.15.1", 0x0a000f01},
                                           ValidAddressCase{"192.168.0.10", 0xc0a8000a},
                                           ValidAddressCase{"1.2.3.4", 0x01020304},
                                           ValidAddressCase{"100.200.10.0", 0x64c80a00}));

struct InvalidAddressCase {
  std::string_view text;
  std::string_view reason;  // a fragment the message must contain
};

class InvalidAddressTest : public ::testing::TestWithParam<InvalidAddressCase> {};

TEST_P(InvalidAddressTest, IsRejectedWithReason) {
  auto address = Ipv4Address::parse(GetParam().text);
  ASSERT_FALSE(address.has_value()) << GetParam().text;
  EXPECT_EQ(address.error().kind, ErrorKind::InvalidArgument);
  EXPECT_THAT(address.error().message, HasSubstr("is not a valid IPv4 address"));
  EXPECT_THAT(address.error().message, HasSubstr(GetParam().reason));
}

constexpr std::string_view kShape = "expected four numbers 0-255 separated by dots";

INSTANTIATE_TEST_SUITE_P(
    Addresses, InvalidAddressTest,
    ::testing::Values(
        InvalidAddressCase{"", kShape}, InvalidAddressCase{"1.2.3", kShape},
        InvalidAddressCase{"1.2.3.4.5", kShape}, InvalidAddressCase{"1.2.3.", kShape},
        InvalidAddressCase{".1.2.3", kShape}, InvalidAddressCase{"1..2.3", kShape},
        InvalidAddressCase{"1.2.3.256", "256 is above 255"},
        InvalidAddressCase{"1.2.3.1000", "1000 is above 255"},
        InvalidAddressCase{"01.2.3.4", "leading zero"},
        InvalidAddressCase{"1.2.3.00", "leading zero"}, InvalidAddressCase{" 1.2.3.4", kShape},
        InvalidAddressCase{"1.2.3.4 ", kShape}, InvalidAddressCase{"x1.2.3.4", kShape},
        InvalidAddressCase{"1.2.3.4x", kShape}, InvalidAddressCase{"+1.2.3.4", kShape},
        InvalidAddressCase{"-1.2.3.4", kShape}, InvalidAddressCase{"1.2.3.4/24", kShape},
        InvalidAddressCase{"0x1.2.3.4", kShape}));

TEST(Ipv4AddressTest, MessageQuotesTheInput) {
  auto address = Ipv4Address::parse("1.2.3");
  ASSERT_FALSE(address.has_value());
  EXPECT_EQ(address.error().message,
            "\"1.2.3\" is not a valid IPv4 address: expected four numbers 0-255 separated by "
            "dots, like 10.0.15.1");
}

TEST(Ipv4AddressTest, DefaultIsZero) { EXPECT_EQ(Ipv4Address().value(), 0u); }

TEST(Ipv4AddressTest, OrdersByNumericValue) {
  EXPECT_LT(addr("9.255.255.255"), addr("10.0.0.0"));
  EXPECT_LT(addr("10.0.0.2"), addr("10.0.0.10"));
  EXPECT_EQ(addr("10.0.0.1"), Ipv4Address::fromValue(0x0a000001));
  EXPECT_GT(addr("255.255.255.255"), addr("0.0.0.0"));
}

TEST(Ipv4AddressTest, NextAndPreviousCarryAcrossOctets) {
  EXPECT_EQ(addr("10.0.0.255").next(), addr("10.0.1.0"));
  EXPECT_EQ(addr("10.0.1.0").previous(), addr("10.0.0.255"));
}

TEST(Ipv4AddressTest, NextAndPreviousWrapAtTheEnds) {
  EXPECT_EQ(addr("255.255.255.255").next(), addr("0.0.0.0"));
  EXPECT_EQ(addr("0.0.0.0").previous(), addr("255.255.255.255"));
}

TEST(Ipv4AddressTest, FormatsWithFmt) {
  EXPECT_EQ(fmt::format("[{}]", addr("10.0.15.1")), "[10.0.15.1]");
}

// --- Ipv4Prefix ----------------------------------------------------------------------------

struct ValidPrefixCase {
  std::string_view text;
  std::string_view network;
  std::string_view broadcast;
  std::uint64_t size;
  bool isNetworkAddress;
};

class ValidPrefixTest : public ::testing::TestWithParam<ValidPrefixCase> {};

TEST_P(ValidPrefixTest, ParsesWithBoundaries) {
  const auto& c = GetParam();
  auto parsed = Ipv4Prefix::parse(c.text);
  ASSERT_TRUE(parsed.has_value()) << parsed.error().message;
  EXPECT_EQ(parsed->toString(), c.text);
  EXPECT_EQ(parsed->network(), addr(c.network));
  EXPECT_EQ(parsed->broadcast(), addr(c.broadcast));
  EXPECT_EQ(parsed->size(), c.size);
  EXPECT_EQ(parsed->isNetworkAddress(), c.isNetworkAddress);
  EXPECT_EQ(parsed->masked().address(), addr(c.network));
  EXPECT_EQ(parsed->masked().length(), parsed->length());
  EXPECT_TRUE(parsed->masked().isNetworkAddress());
}

INSTANTIATE_TEST_SUITE_P(
    Prefixes, ValidPrefixTest,
    ::testing::Values(
        ValidPrefixCase{"0.0.0.0/0", "0.0.0.0", "255.255.255.255", 4294967296ull, true},
        ValidPrefixCase{"10.1.2.3/0", "0.0.0.0", "255.255.255.255", 4294967296ull, false},
        ValidPrefixCase{"10.0.0.0/8", "10.0.0.0", "10.255.255.255", 16777216, true},
        ValidPrefixCase{"10.0.15.0/24", "10.0.15.0", "10.0.15.255", 256, true},
        ValidPrefixCase{"10.0.15.7/24", "10.0.15.0", "10.0.15.255", 256, false},
        ValidPrefixCase{"10.0.15.4/30", "10.0.15.4", "10.0.15.7", 4, true},
        ValidPrefixCase{"10.0.15.6/31", "10.0.15.6", "10.0.15.7", 2, true},
        ValidPrefixCase{"10.0.15.7/31", "10.0.15.6", "10.0.15.7", 2, false},
        ValidPrefixCase{"10.0.15.7/32", "10.0.15.7", "10.0.15.7", 1, true},
        ValidPrefixCase{"255.255.255.255/32", "255.255.255.255", "255.255.255.255", 1, true},
        ValidPrefixCase{"255.255.255.255/1", "128.0.0.0", "255.255.255.255", 2147483648ull,
                        false}));

struct InvalidPrefixCase {
  std::string_view text;
  std::string_view reason;
};

class InvalidPrefixTest : public ::testing::TestWithParam<InvalidPrefixCase> {};

TEST_P(InvalidPrefixTest, IsRejectedWithReason) {
  auto parsed = Ipv4Prefix::parse(GetParam().text);
  ASSERT_FALSE(parsed.has_value()) << GetParam().text;
  EXPECT_EQ(parsed.error().kind, ErrorKind::InvalidArgument);
  EXPECT_THAT(parsed.error().message, HasSubstr("is not a valid IPv4 CIDR"));
  EXPECT_THAT(parsed.error().message, HasSubstr(GetParam().reason));
}

constexpr std::string_view kLength = "the prefix length must be 0-32";
constexpr std::string_view kNoSlash = "expected an address and a prefix length";

INSTANTIATE_TEST_SUITE_P(
    Prefixes, InvalidPrefixTest,
    ::testing::Values(
        InvalidPrefixCase{"", kNoSlash}, InvalidPrefixCase{"10.0.15.0", kNoSlash},
        InvalidPrefixCase{"10.0.15.0/33", kLength}, InvalidPrefixCase{"10.0.15.0/", kLength},
        InvalidPrefixCase{"10.0.15.0/-1", kLength}, InvalidPrefixCase{"10.0.15.0/024", kLength},
        InvalidPrefixCase{"10.0.15.0/08", kLength}, InvalidPrefixCase{"10.0.15.0/100", kLength},
        InvalidPrefixCase{"10.0.15.0/24 ", kLength}, InvalidPrefixCase{"10.0.15.0/24/8", kLength},
        InvalidPrefixCase{"10.0.15/24", kShape},
        InvalidPrefixCase{"10.0.15.256/24", "256 is above 255"},
        InvalidPrefixCase{"010.0.15.0/24", "leading zero"}, InvalidPrefixCase{"/24", kShape}));

TEST(Ipv4PrefixTest, LengthMessageNamesTheValue) {
  auto parsed = Ipv4Prefix::parse("10.0.15.0/33");
  ASSERT_FALSE(parsed.has_value());
  EXPECT_EQ(parsed.error().message,
            "\"10.0.15.0/33\" is not a valid IPv4 CIDR: the prefix length must be 0-32");
}

TEST(Ipv4PrefixTest, FromPartsChecksTheLength) {
  auto ok = Ipv4Prefix::fromParts(addr("10.0.0.0"), 8);
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ(*ok, prefix("10.0.0.0/8"));
  EXPECT_TRUE(Ipv4Prefix::fromParts(addr("0.0.0.0"), 0).has_value());
  EXPECT_TRUE(Ipv4Prefix::fromParts(addr("1.2.3.4"), 32).has_value());
  for (int length : {-1, 33, 64}) {
    auto bad = Ipv4Prefix::fromParts(addr("10.0.0.0"), length);
    ASSERT_FALSE(bad.has_value()) << length;
    EXPECT_EQ(bad.error().kind, ErrorKind::InvalidArgument);
    EXPECT_THAT(bad.error().message, HasSubstr("the prefix length must be 0-32"));
  }
}

TEST(Ipv4PrefixTest, MaskMatchesLength) {
  EXPECT_EQ(prefix("0.0.0.0/0").mask(), 0u);
  EXPECT_EQ(prefix("10.0.0.0/8").mask(), 0xff000000u);
  EXPECT_EQ(prefix("10.0.15.0/24").mask(), 0xffffff00u);
  EXPECT_EQ(prefix("10.0.15.4/30").mask(), 0xfffffffcu);
  EXPECT_EQ(prefix("10.0.15.7/32").mask(), 0xffffffffu);
}

TEST(Ipv4PrefixTest, KeepsHostBitsAsWritten) {
  Ipv4Prefix written = prefix("10.0.15.7/24");
  EXPECT_EQ(written.address(), addr("10.0.15.7"));
  EXPECT_EQ(written.toString(), "10.0.15.7/24");
  EXPECT_EQ(written.masked().toString(), "10.0.15.0/24");
  EXPECT_NE(written, written.masked());
}

TEST(Ipv4PrefixTest, ContainsAddressAtTheEdges) {
  Ipv4Prefix subnet = prefix("10.0.15.0/24");
  EXPECT_TRUE(subnet.contains(addr("10.0.15.0")));
  EXPECT_TRUE(subnet.contains(addr("10.0.15.255")));
  EXPECT_TRUE(subnet.contains(addr("10.0.15.77")));
  EXPECT_FALSE(subnet.contains(addr("10.0.14.255")));
  EXPECT_FALSE(subnet.contains(addr("10.0.16.0")));
}

TEST(Ipv4PrefixTest, ContainsAddressWithHostBitsSetUsesTheNetwork) {
  EXPECT_TRUE(prefix("10.0.15.7/24").contains(addr("10.0.15.200")));
}

TEST(Ipv4PrefixTest, SlashZeroContainsEverything) {
  Ipv4Prefix all = prefix("0.0.0.0/0");
  EXPECT_TRUE(all.contains(addr("0.0.0.0")));
  EXPECT_TRUE(all.contains(addr("255.255.255.255")));
  EXPECT_TRUE(all.contains(prefix("10.0.0.0/8")));
  EXPECT_TRUE(all.overlaps(prefix("255.255.255.255/32")));
}

TEST(Ipv4PrefixTest, SlashThirtyTwoContainsOnlyItself) {
  Ipv4Prefix one = prefix("10.0.15.7/32");
  EXPECT_TRUE(one.contains(addr("10.0.15.7")));
  EXPECT_FALSE(one.contains(addr("10.0.15.6")));
  EXPECT_FALSE(one.contains(addr("10.0.15.8")));
}

// Every arrangement of two prefixes: a, b, a contains b, b contains a, a overlaps b.
struct PairCase {
  std::string_view a;
  std::string_view b;
  bool aContainsB;
  bool bContainsA;
  bool overlap;
};

class PrefixPairTest : public ::testing::TestWithParam<PairCase> {};

TEST_P(PrefixPairTest, ContainsAndOverlaps) {
  const auto& c = GetParam();
  Ipv4Prefix a = prefix(c.a);
  Ipv4Prefix b = prefix(c.b);
  EXPECT_EQ(a.contains(b), c.aContainsB);
  EXPECT_EQ(b.contains(a), c.bContainsA);
  EXPECT_EQ(a.overlaps(b), c.overlap);
  EXPECT_EQ(b.overlaps(a), c.overlap);  // symmetric
}

INSTANTIATE_TEST_SUITE_P(
    Arrangements, PrefixPairTest,
    ::testing::Values(
        // equal
        PairCase{"10.0.15.0/24", "10.0.15.0/24", true, true, true},
        // b inside a
        PairCase{"10.0.0.0/16", "10.0.15.0/24", true, false, true},
        PairCase{"10.0.0.0/8", "10.255.255.252/30", true, false, true},
        // a inside b
        PairCase{"10.0.15.128/25", "10.0.15.0/24", false, true, true},
        // adjacent, disjoint
        PairCase{"10.0.15.0/24", "10.0.16.0/24", false, false, false},
        PairCase{"10.0.14.0/24", "10.0.15.0/24", false, false, false},
        // disjoint, different sizes
        PairCase{"10.0.0.0/16", "10.1.0.0/24", false, false, false},
        // same network written with host bits
        PairCase{"10.0.15.7/24", "10.0.15.0/24", true, true, true},
        // host bits make a large prefix cover a small one elsewhere
        PairCase{"10.0.15.7/16", "10.0.200.0/24", true, false, true},
        // /0 and /32 at the top of the space
        PairCase{"0.0.0.0/0", "255.255.255.255/32", true, false, true},
        PairCase{"255.255.255.254/32", "255.255.255.255/32", false, false, false},
        PairCase{"255.255.255.254/31", "255.255.255.255/32", true, false, true}));

TEST(Ipv4PrefixTest, OrdersByAddressThenLength) {
  EXPECT_LT(prefix("10.0.0.0/8"), prefix("10.0.0.0/24"));
  EXPECT_LT(prefix("10.0.0.0/24"), prefix("10.0.1.0/24"));
  EXPECT_LT(prefix("9.0.0.0/24"), prefix("10.0.0.0/8"));
  EXPECT_EQ(prefix("10.0.0.0/8"), prefix("10.0.0.0/8"));
}

TEST(Ipv4PrefixTest, DefaultIsEverything) {
  Ipv4Prefix all;
  EXPECT_EQ(all.toString(), "0.0.0.0/0");
  EXPECT_EQ(all.size(), 4294967296ull);
}

TEST(Ipv4PrefixTest, FormatsWithFmt) {
  EXPECT_EQ(fmt::format("{}", prefix("10.0.15.0/24")), "10.0.15.0/24");
}

}  // namespace
}  // namespace overmesh
