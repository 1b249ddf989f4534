#include "tools/vxlan_frame.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "support/ip_helpers.h"

namespace overmesh::testing {
namespace {

InnerUdpPacket packet(std::string payload) {
  return {MacAddress::parse("02:00:00:00:00:fe").value(),
          MacAddress::parse("02:42:0a:00:0f:03").value(),
          ip("10.0.15.250"),
          ip("10.0.15.3"),
          40000,
          9999,
          std::move(payload)};
}

TEST(VxlanFrameTest, StartsWithTheVxlanHeaderCarryingTheVni) {
  auto datagram = vxlanDatagram(0x123456, packet("x"));
  std::vector<std::uint8_t> header(datagram.begin(), datagram.begin() + 8);
  EXPECT_EQ(header, (std::vector<std::uint8_t>{0x08, 0, 0, 0, 0x12, 0x34, 0x56, 0}));
}

TEST(VxlanFrameTest, CarriesTheInnerEthernetFrameToTheTasksMac) {
  auto datagram = vxlanDatagram(4097, packet("x"));
  std::vector<std::uint8_t> ethernet(datagram.begin() + 8, datagram.begin() + 22);
  EXPECT_EQ(ethernet, (std::vector<std::uint8_t>{0x02, 0x42, 0x0a, 0x00, 0x0f, 0x03, 0x02, 0, 0, 0,
                                                 0, 0xfe, 0x08, 0x00}));
}

TEST(VxlanFrameTest, InnerIpv4AndUdpHeadersAreCompleteAndTheirChecksumsVerify) {
  std::string payload = "INJECTED-12345";  // even length
  for (const auto& text : {payload, payload + "!"}) {
    auto datagram = vxlanDatagram(4097, packet(text));
    ASSERT_EQ(datagram.size(), 8u + 14u + 20u + 8u + text.size());
    const std::uint8_t* ipHeader = &datagram[22];
    EXPECT_EQ(ipHeader[0], 0x45);
    EXPECT_EQ(ipHeader[2] << 8 | ipHeader[3], static_cast<int>(28 + text.size()));
    EXPECT_EQ(ipHeader[9], 17);
    EXPECT_EQ(std::vector<std::uint8_t>(ipHeader + 12, ipHeader + 20),
              (std::vector<std::uint8_t>{10, 0, 15, 250, 10, 0, 15, 3}));
    // A header with its checksum in place sums to zero.
    EXPECT_EQ(internetChecksum(ipHeader, 20), 0);

    const std::uint8_t* udp = ipHeader + 20;
    std::size_t udpLength = 8 + text.size();
    EXPECT_EQ(udp[0] << 8 | udp[1], 40000);
    EXPECT_EQ(udp[2] << 8 | udp[3], 9999);
    EXPECT_EQ(static_cast<std::size_t>(udp[4] << 8 | udp[5]), udpLength);
    std::uint32_t pseudo = 0x0a00 + 0x0ffa + 0x0a00 + 0x0f03 + 17 + udpLength;
    EXPECT_EQ(internetChecksum(udp, udpLength, pseudo), 0) << text;
    EXPECT_EQ(std::string(udp + 8, udp + udpLength), text);
  }
}

TEST(VxlanFrameTest, ChecksumOfKnownBytes) {
  // RFC 1071's example words 0001 f203 f4f5 f6f7 sum to ddf2; the checksum is its complement.
  std::vector<std::uint8_t> bytes = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
  EXPECT_EQ(internetChecksum(bytes.data(), bytes.size()), 0xffff - 0xddf2);
}

}  // namespace
}  // namespace overmesh::testing
