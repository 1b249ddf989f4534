#include "ipam/subnet_rules.h"

#include <fmt/format.h>

#include <algorithm>
#include <utility>

namespace overmesh::ipam {
namespace {

AvoidedRange reserved(std::string_view prefix, std::string_view kind) {
  auto parsed = Ipv4Prefix::parse(prefix);
  return AvoidedRange{*parsed, fmt::format("the {} range {}", kind, *parsed), false};
}

}  // namespace

const std::vector<AvoidedRange>& reservedRanges() {
  // 0.0.0.0/8 means "this host on this network" (RFC 1122), 240.0.0.0/4 (with the limited
  // broadcast address) is reserved for future use: the kernel routes neither like a
  // normal subnet, so an overlay there cannot work.
  static const std::vector<AvoidedRange> ranges = {
      reserved("0.0.0.0/8", "reserved"),
      reserved("127.0.0.0/8", "loopback"),
      reserved("169.254.0.0/16", "link-local"),
      reserved("224.0.0.0/4", "multicast"),
      reserved("240.0.0.0/4", "reserved"),
  };
  return ranges;
}

const std::vector<Ipv4Prefix>& privateRanges() {
  static const std::vector<Ipv4Prefix> ranges = {*Ipv4Prefix::parse("10.0.0.0/8"),
                                                 *Ipv4Prefix::parse("172.16.0.0/12"),
                                                 *Ipv4Prefix::parse("192.168.0.0/16")};
  return ranges;
}

std::optional<AvoidedRange> findCollision(const Ipv4Prefix& subnet,
                                          const std::vector<AvoidedRange>& hostNetworks) {
  for (const auto* ranges : {&reservedRanges(), &hostNetworks}) {
    for (const AvoidedRange& range : *ranges) {
      if (subnet.overlaps(range.prefix)) {
        return range;
      }
    }
  }
  return std::nullopt;
}

std::string describeCollision(std::string_view field, const Ipv4Prefix& subnet,
                              const AvoidedRange& range) {
  return fmt::format("{} {} {} {}", field, subnet,
                     range.prefix.contains(subnet) ? "is in" : "overlaps", range.description);
}

Status checkAvoided(std::string_view field, std::string_view noun, const Ipv4Prefix& subnet,
                    const std::vector<AvoidedRange>& hostNetworks,
                    const std::optional<Ipv4Prefix>& suggestion) {
  auto collision = findCollision(subnet, hostNetworks);
  if (!collision) {
    return {};
  }
  std::string example = suggestion ? fmt::format(", e.g. {}", *suggestion) : "";
  return errorf(collision->hostNetwork ? ErrorKind::Conflict : ErrorKind::InvalidArgument,
                "{}; choose a {} outside it{}", describeCollision(field, subnet, *collision),
                noun, example);
}

std::optional<Ipv4Prefix> firstFreeBlock(const std::vector<Ipv4Prefix>& candidates, int length,
                                         std::vector<Ipv4Prefix> taken) {
  if (length < 0 || length > Ipv4Prefix::kMaxLength) {
    return std::nullopt;
  }
  // Taken subnets as closed ranges, sorted by start. CIDR blocks either nest or are
  // disjoint, so one pass in start order skips every taken block without visiting free
  // addresses.
  std::vector<std::pair<std::uint64_t, std::uint64_t>> spans;
  spans.reserve(taken.size());
  for (const Ipv4Prefix& prefix : taken) {
    spans.emplace_back(prefix.network().value(), prefix.broadcast().value());
  }
  std::sort(spans.begin(), spans.end());

  const std::uint64_t step = std::uint64_t{1} << (Ipv4Prefix::kMaxLength - length);
  for (const Ipv4Prefix& pool : candidates) {
    if (length < pool.length()) {
      continue;
    }
    const std::uint64_t poolLast = pool.broadcast().value();
    std::uint64_t candidate = pool.network().value();
    for (const auto& [first, last] : spans) {
      if (last < candidate) {
        continue;
      }
      if (candidate + step - 1 < first || candidate > poolLast) {
        break;
      }
      // Overlaps: jump to the first aligned block after this taken subnet.
      candidate = (last + 1 + step - 1) / step * step;
    }
    if (candidate + step - 1 <= poolLast) {
      auto block = Ipv4Prefix::fromParts(
          Ipv4Address::fromValue(static_cast<std::uint32_t>(candidate)), length);
      if (block) {
        return *block;
      }
    }
  }
  return std::nullopt;
}

}  // namespace overmesh::ipam
