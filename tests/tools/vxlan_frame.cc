#include "tools/vxlan_frame.h"

namespace overmesh::testing {
namespace {

constexpr std::size_t kVxlanHeader = 8;
constexpr std::size_t kEthernetHeader = 14;
constexpr std::size_t kIpv4Header = 20;
constexpr std::size_t kUdpHeader = 8;

void put16(std::vector<std::uint8_t>& out, std::size_t at, std::uint16_t value) {
  out[at] = static_cast<std::uint8_t>(value >> 8);
  out[at + 1] = static_cast<std::uint8_t>(value & 0xff);
}

void put32(std::vector<std::uint8_t>& out, std::size_t at, std::uint32_t value) {
  put16(out, at, static_cast<std::uint16_t>(value >> 16));
  put16(out, at + 2, static_cast<std::uint16_t>(value & 0xffff));
}

}  // namespace

std::uint16_t internetChecksum(const std::uint8_t* bytes, std::size_t size, std::uint32_t initial) {
  std::uint32_t sum = initial;
  for (std::size_t i = 0; i + 1 < size; i += 2) {
    sum += static_cast<std::uint32_t>(bytes[i] << 8 | bytes[i + 1]);
  }
  if (size % 2 == 1) {
    sum += static_cast<std::uint32_t>(bytes[size - 1] << 8);
  }
  while (sum >> 16 != 0) {
    sum = (sum & 0xffff) + (sum >> 16);
  }
  return static_cast<std::uint16_t>(~sum & 0xffff);
}

std::vector<std::uint8_t> vxlanDatagram(std::uint32_t vni, const InnerUdpPacket& inner) {
  const std::size_t udpLength = kUdpHeader + inner.payload.size();
  const std::size_t ipLength = kIpv4Header + udpLength;
  std::vector<std::uint8_t> out(kVxlanHeader + kEthernetHeader + ipLength, 0);

  // VXLAN: flags (I bit), 3 reserved bytes, VNI (24 bits), 1 reserved byte.
  out[0] = 0x08;
  put32(out, 4, (vni & 0xffffff) << 8);

  // Ethernet.
  std::size_t at = kVxlanHeader;
  for (std::size_t i = 0; i < 6; ++i) {
    out[at + i] = inner.destinationMac.bytes()[i];
    out[at + 6 + i] = inner.sourceMac.bytes()[i];
  }
  put16(out, at + 12, 0x0800);

  // IPv4: version 4, IHL 5, total length, DF, TTL 64, protocol UDP (17).
  const std::size_t ip = at + kEthernetHeader;
  out[ip] = 0x45;
  put16(out, ip + 2, static_cast<std::uint16_t>(ipLength));
  put16(out, ip + 6, 0x4000);
  out[ip + 8] = 64;
  out[ip + 9] = 17;
  put32(out, ip + 12, inner.sourceIp.value());
  put32(out, ip + 16, inner.destinationIp.value());
  put16(out, ip + 10, internetChecksum(&out[ip], kIpv4Header));

  // UDP, with its checksum over the pseudo-header (addresses, protocol, length).
  const std::size_t udp = ip + kIpv4Header;
  put16(out, udp, inner.sourcePort);
  put16(out, udp + 2, inner.destinationPort);
  put16(out, udp + 4, static_cast<std::uint16_t>(udpLength));
  for (std::size_t i = 0; i < inner.payload.size(); ++i) {
    out[udp + kUdpHeader + i] = static_cast<std::uint8_t>(inner.payload[i]);
  }
  std::uint32_t pseudo = (inner.sourceIp.value() >> 16) + (inner.sourceIp.value() & 0xffff) +
                         (inner.destinationIp.value() >> 16) +
                         (inner.destinationIp.value() & 0xffff) + 17 +
                         static_cast<std::uint32_t>(udpLength);
  std::uint16_t checksum = internetChecksum(&out[udp], udpLength, pseudo);
  put16(out, udp + 6, checksum == 0 ? 0xffff : checksum);
  return out;
}

}  // namespace overmesh::testing
