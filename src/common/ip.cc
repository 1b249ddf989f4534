#include "common/ip.h"

#include <cstddef>
#include <expected>
#include <optional>

#include "common/quote.h"

namespace overmesh {
namespace {

constexpr std::string_view kAddressShape =
    "expected four numbers 0-255 separated by dots, like 10.0.15.1";

bool isDigit(char c) { return c >= '0' && c <= '9'; }

// A plain decimal number of at most `maxDigits` digits with no leading zero (other than "0"
// itself), or nullopt. Rejecting leading zeros keeps "010" from meaning 8 to inet_aton and 10
// to us.
std::optional<unsigned> parseDecimal(std::string_view text, std::size_t maxDigits) {
  if (text.empty() || text.size() > maxDigits || (text.size() > 1 && text[0] == '0')) {
    return std::nullopt;
  }
  unsigned value = 0;
  for (char c : text) {
    if (!isDigit(c)) {
      return std::nullopt;
    }
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  return value;
}

// The host-order value of a dotted quad, or the reason (without the quoted input) why the
// text is not one.
std::expected<std::uint32_t, std::string> parseDottedQuad(std::string_view text) {
  std::uint32_t value = 0;
  std::size_t start = 0;
  for (int octet = 0; octet < 4; ++octet) {
    std::size_t end = text.find('.', start);
    bool last = octet == 3;
    if (last != (end == std::string_view::npos)) {
      return std::unexpected(std::string(kAddressShape));
    }
    std::string_view part = text.substr(start, last ? std::string_view::npos : end - start);
    if (part.empty()) {
      return std::unexpected(std::string(kAddressShape));
    }
    for (char c : part) {
      if (!isDigit(c)) {
        return std::unexpected(std::string(kAddressShape));
      }
    }
    if (part.size() > 1 && part[0] == '0') {
      return std::unexpected(fmt::format(
          "{:?} has a leading zero; write each of the four numbers in plain decimal (0-255)",
          part));
    }
    std::optional<unsigned> number = parseDecimal(part, 3);
    if (!number || *number > 255) {
      return std::unexpected(
          fmt::format("{} is above 255; each of the four numbers must be 0-255", part));
    }
    value = (value << 8) | *number;
    start = end + 1;
  }
  return value;
}

}  // namespace

Result<Ipv4Address> Ipv4Address::parse(std::string_view text) {
  auto value = parseDottedQuad(text);
  if (!value) {
    return errorf(ErrorKind::InvalidArgument, "{} is not a valid IPv4 address: {}", quote(text),
                  value.error());
  }
  return Ipv4Address(*value);
}

std::string Ipv4Address::toString() const {
  return fmt::format("{}.{}.{}.{}", value_ >> 24, (value_ >> 16) & 0xff, (value_ >> 8) & 0xff,
                     value_ & 0xff);
}

Result<Ipv4Prefix> Ipv4Prefix::fromParts(Ipv4Address address, int length) {
  if (length < 0 || length > kMaxLength) {
    return errorf(ErrorKind::InvalidArgument,
                  "{}/{} is not a valid IPv4 CIDR: the prefix length must be 0-32", address,
                  length);
  }
  return Ipv4Prefix(address, length);
}

Result<Ipv4Prefix> Ipv4Prefix::parse(std::string_view text) {
  std::size_t slash = text.find('/');
  if (slash == std::string_view::npos) {
    return errorf(ErrorKind::InvalidArgument,
                  "{:?} is not a valid IPv4 CIDR: expected an address and a prefix length, "
                  "like 10.0.15.0/24",
                  quote(text));
  }
  auto address = parseDottedQuad(text.substr(0, slash));
  if (!address) {
    return errorf(ErrorKind::InvalidArgument, "{} is not a valid IPv4 CIDR: {}", quote(text),
                  address.error());
  }
  std::optional<unsigned> length = parseDecimal(text.substr(slash + 1), 2);
  if (!length || *length > static_cast<unsigned>(kMaxLength)) {
    return errorf(ErrorKind::InvalidArgument,
                  "{} is not a valid IPv4 CIDR: the prefix length must be 0-32", quote(text));
  }
  return Ipv4Prefix(Ipv4Address::fromValue(*address), static_cast<int>(*length));
}

std::string Ipv4Prefix::toString() const { return fmt::format("{}/{}", address_, length_); }

std::optional<Ipv4Address> addressOfRecord(std::string_view text) {
  if (text.find('/') != std::string_view::npos) {
    auto parsed = Ipv4Prefix::parse(text);
    return parsed ? std::optional(parsed->address()) : std::nullopt;
  }
  auto parsed = Ipv4Address::parse(text);
  return parsed ? std::optional(*parsed) : std::nullopt;
}

}  // namespace overmesh
