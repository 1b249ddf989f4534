#pragma once

// An Ethernet (MAC-48) address as a value: parsed from and printed as the colon-separated
// lower-case hex that iproute2 and Docker show ("02:42:0a:00:0f:02"). Pure, no kernel.
//
// Overlay endpoints get deterministic MACs derived from their IPv4 address (Docker's scheme,
// macForIp), so any node can compute a remote endpoint's MAC without asking anyone.

#include <fmt/format.h>

#include <array>
#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/error.h"
#include "common/ip.h"

namespace overmesh {

class MacAddress {
 public:
  static constexpr std::size_t kLength = 6;
  using Bytes = std::array<std::uint8_t, kLength>;

  // 00:00:00:00:00:00.
  constexpr MacAddress() = default;

  // The address with these six bytes, in wire order.
  static constexpr MacAddress fromBytes(const Bytes& bytes) { return MacAddress(bytes); }

  // Parses six two-digit hex octets separated by ':' ("02:42:0a:00:0f:02"); upper- and
  // lower-case digits are both accepted. Fails with InvalidArgument, quoting the text, on
  // anything else: other separators, one-digit octets, too few or too many octets, spaces.
  static Result<MacAddress> parse(std::string_view text);

  // The six bytes in wire order.
  constexpr const Bytes& bytes() const { return bytes_; }

  // True for a group address (the I/G bit of the first octet is set): broadcast and
  // multicast. An endpoint's own MAC never is one.
  constexpr bool isMulticast() const { return (bytes_[0] & 0x01) != 0; }

  // Lower-case, colon-separated, two digits per octet; the inverse of parse().
  std::string toString() const;

  constexpr auto operator<=>(const MacAddress&) const = default;

 private:
  constexpr explicit MacAddress(const Bytes& bytes) : bytes_(bytes) {}

  Bytes bytes_{};
};

// Docker's deterministic MAC for an endpoint address a.b.c.d: 02:42:a:b:c:d (locally
// administered, unicast). Distinct addresses give distinct MACs.
MacAddress macForIp(Ipv4Address address);

}  // namespace overmesh

template <>
struct fmt::formatter<overmesh::MacAddress> : fmt::formatter<std::string_view> {
  template <typename FormatContext>
  auto format(const overmesh::MacAddress& mac, FormatContext& ctx) const {
    return fmt::formatter<std::string_view>::format(mac.toString(), ctx);
  }
};
