#pragma once

// One VXLAN datagram's UDP payload, built byte by byte for the underlay filter's tests
// (tests/tools/vxlan_inject.cc sends it): the 8-byte VXLAN header (RFC 7348: flags 0x08 =
// "VNI valid", 24-bit VNI) and an inner Ethernet frame carrying IPv4/UDP with a payload.
// The outer IPv4/UDP headers are the sending socket's. Pure.

#include <cstdint>
#include <string>
#include <vector>

#include "common/ip.h"
#include "common/mac.h"

namespace overmesh::testing {

struct InnerUdpPacket {
  MacAddress sourceMac;
  MacAddress destinationMac;
  Ipv4Address sourceIp;
  Ipv4Address destinationIp;
  std::uint16_t sourcePort = 0;
  std::uint16_t destinationPort = 0;
  std::string payload;
};

// The VXLAN header followed by the inner frame. `vni` must fit 24 bits (callers check).
// The inner IPv4 header carries a correct checksum, TTL 64 and DF; the inner UDP checksum
// is correct too (a receiver with checksum offload off would otherwise drop it).
std::vector<std::uint8_t> vxlanDatagram(std::uint32_t vni, const InnerUdpPacket& inner);

// The Internet checksum (RFC 1071) of `bytes`, as it goes on the wire (big-endian value).
std::uint16_t internetChecksum(const std::uint8_t* bytes, std::size_t size,
                               std::uint32_t initial = 0);

}  // namespace overmesh::testing
