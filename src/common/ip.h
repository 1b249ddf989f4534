#pragma once

// IPv4 value types: an address and a CIDR prefix. Pure values with no kernel dependency;
// IPAM, the data plane and the API all speak in these. Parsing is strict so that user input
// means exactly one thing: four decimal octets 0-255, no leading zeros (inet_aton would read
// "010" as octal 8), no surrounding whitespace.

#include <fmt/format.h>

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/error.h"

namespace overmesh {

class Ipv4Address {
 public:
  // 0.0.0.0.
  constexpr Ipv4Address() = default;

  // The address whose host-order value is `value` (10.0.0.1 is 0x0a000001).
  static constexpr Ipv4Address fromValue(std::uint32_t value) { return Ipv4Address(value); }

  // Parses a strict dotted quad ("10.0.15.1"). Fails with InvalidArgument on anything else:
  // fewer or more than four parts, an octet above 255, leading zeros ("01.2.3.4"), signs,
  // spaces or trailing characters.
  static Result<Ipv4Address> parse(std::string_view text);

  // The host-order value.
  constexpr std::uint32_t value() const { return value_; }

  // The following address; wraps from 255.255.255.255 to 0.0.0.0, so callers that walk a
  // range compare against its end rather than waiting for a wrap.
  constexpr Ipv4Address next() const { return Ipv4Address(value_ + 1); }
  // The preceding address; wraps from 0.0.0.0 to 255.255.255.255.
  constexpr Ipv4Address previous() const { return Ipv4Address(value_ - 1); }

  // Dotted-quad text, the inverse of parse().
  std::string toString() const;

  constexpr auto operator<=>(const Ipv4Address&) const = default;

 private:
  constexpr explicit Ipv4Address(std::uint32_t value) : value_(value) {}

  std::uint32_t value_ = 0;
};

// A CIDR prefix. It keeps the address as written, host bits included, so that callers can
// tell "10.0.15.7/24" (a typo for a network) from "10.0.15.0/24"; every set operation
// (contains, overlaps, size) works on the masked network. Ordering and equality compare the
// address as written, then the length.
class Ipv4Prefix {
 public:
  static constexpr int kMaxLength = 32;

  // 0.0.0.0/0.
  constexpr Ipv4Prefix() = default;

  // The prefix address/length. Fails with InvalidArgument if length is not 0-32.
  static Result<Ipv4Prefix> fromParts(Ipv4Address address, int length);

  // Parses "a.b.c.d/n" with n in 0-32, written in decimal without leading zeros. Host bits
  // are kept as written (see isNetworkAddress()). Fails with InvalidArgument, naming the
  // text and what would be valid.
  static Result<Ipv4Prefix> parse(std::string_view text);

  // The address as written, host bits included.
  constexpr Ipv4Address address() const { return address_; }
  constexpr int length() const { return length_; }
  // The netmask as a host-order value (/24 is 0xffffff00; /0 is 0).
  constexpr std::uint32_t mask() const {
    return length_ == 0 ? 0 : ~std::uint32_t{0} << (kMaxLength - length_);
  }

  // The first address of the prefix (host bits cleared).
  constexpr Ipv4Address network() const {
    return Ipv4Address::fromValue(address_.value() & mask());
  }
  // The last address of the prefix (host bits set), whether or not it is used as broadcast.
  constexpr Ipv4Address broadcast() const {
    return Ipv4Address::fromValue(address_.value() | ~mask());
  }
  // The same prefix with host bits cleared.
  constexpr Ipv4Prefix masked() const { return Ipv4Prefix(network(), length_); }
  // True if no host bit is set, i.e. the address as written is the network address.
  constexpr bool isNetworkAddress() const { return address_ == network(); }

  // True if `address` lies in the prefix (network and broadcast included).
  constexpr bool contains(Ipv4Address address) const {
    return (address.value() & mask()) == network().value();
  }
  // True if every address of `other` lies in this prefix (equal prefixes contain each other).
  constexpr bool contains(const Ipv4Prefix& other) const {
    return other.length_ >= length_ && contains(other.network());
  }
  // True if the two prefixes share at least one address. Two CIDR blocks either are disjoint
  // or one contains the other, so this is containment in either direction.
  constexpr bool overlaps(const Ipv4Prefix& other) const {
    return contains(other) || other.contains(*this);
  }

  // The number of addresses, 1 (/32) to 2^32 (/0).
  constexpr std::uint64_t size() const { return std::uint64_t{1} << (kMaxLength - length_); }

  // "a.b.c.d/n" with the address as written; the inverse of parse().
  std::string toString() const;

  constexpr auto operator<=>(const Ipv4Prefix&) const = default;

 private:
  constexpr Ipv4Prefix(Ipv4Address address, int length) : address_(address), length_(length) {}

  Ipv4Address address_;
  int length_ = 0;
};

// The address of "a.b.c.d/n" (as records store attachment addresses and VIPs) or of a
// bare "a.b.c.d"; nullopt for anything else.
std::optional<Ipv4Address> addressOfRecord(std::string_view text);

}  // namespace overmesh

// fmt support, so that messages can say fmt::format("{}", prefix).
template <>
struct fmt::formatter<overmesh::Ipv4Address> : fmt::formatter<std::string_view> {
  template <typename FormatContext>
  auto format(const overmesh::Ipv4Address& address, FormatContext& ctx) const {
    return fmt::formatter<std::string_view>::format(address.toString(), ctx);
  }
};

template <>
struct fmt::formatter<overmesh::Ipv4Prefix> : fmt::formatter<std::string_view> {
  template <typename FormatContext>
  auto format(const overmesh::Ipv4Prefix& prefix, FormatContext& ctx) const {
    return fmt::formatter<std::string_view>::format(prefix.toString(), ctx);
  }
};
