#include "common/mac.h"

#include <optional>

namespace overmesh {
namespace {

std::optional<std::uint8_t> hexDigit(char c) {
  if (c >= '0' && c <= '9') {
    return static_cast<std::uint8_t>(c - '0');
  }
  if (c >= 'a' && c <= 'f') {
    return static_cast<std::uint8_t>(c - 'a' + 10);
  }
  if (c >= 'A' && c <= 'F') {
    return static_cast<std::uint8_t>(c - 'A' + 10);
  }
  return std::nullopt;
}

}  // namespace

Result<MacAddress> MacAddress::parse(std::string_view text) {
  // "xx:xx:xx:xx:xx:xx": 6 octets of 2 digits and 5 separators.
  constexpr std::size_t kTextLength = kLength * 3 - 1;
  auto invalid = [text] {
    return errorf(ErrorKind::InvalidArgument,
                  "{:?} is not a valid MAC address: expected six two-digit hex numbers "
                  "separated by colons, like 02:42:0a:00:0f:02",
                  text);
  };
  if (text.size() != kTextLength) {
    return invalid();
  }
  Bytes bytes{};
  for (std::size_t i = 0; i < kLength; ++i) {
    std::size_t at = i * 3;
    auto high = hexDigit(text[at]);
    auto low = hexDigit(text[at + 1]);
    if (!high || !low || (i + 1 < kLength && text[at + 2] != ':')) {
      return invalid();
    }
    bytes[i] = static_cast<std::uint8_t>((*high << 4) | *low);
  }
  return MacAddress(bytes);
}

std::string MacAddress::toString() const {
  return fmt::format("{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", bytes_[0], bytes_[1], bytes_[2],
                     bytes_[3], bytes_[4], bytes_[5]);
}

MacAddress macForIp(Ipv4Address address) {
  std::uint32_t value = address.value();
  return MacAddress::fromBytes(
      {0x02, 0x42, static_cast<std::uint8_t>(value >> 24), static_cast<std::uint8_t>(value >> 16),
       static_cast<std::uint8_t>(value >> 8), static_cast<std::uint8_t>(value)});
}

}  // namespace overmesh
