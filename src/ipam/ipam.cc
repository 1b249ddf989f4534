#include "ipam/ipam.h"

#include <fmt/format.h>

#include <algorithm>
#include <utility>

namespace overmesh::ipam {
namespace {

// Subnets smaller than /30 (/31, /32) have no address left once network, broadcast and
// gateway are set aside.
bool hasHostAddresses(const Ipv4Prefix& subnet) { return subnet.length() <= kMaxSubnetLength; }

// "10.0.15.1-10.0.15.254": the addresses a gateway or task may take, for messages.
std::string hostRange(const Ipv4Prefix& subnet) {
  if (!hasHostAddresses(subnet)) {
    return "none";
  }
  return fmt::format("{}-{}", subnet.network().next(), subnet.broadcast().previous());
}

// Checks that `address` can be a host (gateway or task) of `subnet`; `field` names it in the
// message. InvalidArgument if it is outside the subnet or its network or broadcast address.
Status checkHostInSubnet(std::string_view field, const Ipv4Prefix& subnet, Ipv4Address address) {
  if (!subnet.contains(address)) {
    return errorf(ErrorKind::InvalidArgument, "{} {} is outside subnet {}; choose an address in {}",
                  field, address, subnet, hostRange(subnet));
  }
  if (address == subnet.network()) {
    return errorf(ErrorKind::InvalidArgument,
                  "{} {} is the network address of subnet {}; choose an address in {}", field,
                  address, subnet, hostRange(subnet));
  }
  if (address == subnet.broadcast()) {
    return errorf(ErrorKind::InvalidArgument,
                  "{} {} is the broadcast address of subnet {}; choose an address in {}", field,
                  address, subnet, hostRange(subnet));
  }
  return {};
}

// Parses and checks a user-given subnet (InvalidArgument); conflicts are checked later.
Result<Ipv4Prefix> parseSubnet(const std::string& text) {
  auto subnet = Ipv4Prefix::parse(text);
  if (!subnet) {
    return errorf(ErrorKind::InvalidArgument, "subnet {}", subnet.error().message);
  }
  if (subnet->length() > kMaxSubnetLength) {
    return errorf(ErrorKind::InvalidArgument,
                  "subnet {} is too small: an overlay subnet needs room for a gateway and at "
                  "least one task, so its prefix length must be at most /{}",
                  *subnet, kMaxSubnetLength);
  }
  if (!subnet->isNetworkAddress()) {
    return errorf(ErrorKind::InvalidArgument,
                  "subnet {} is not a network address (did you mean {}?)", *subnet,
                  subnet->masked());
  }
  return *subnet;
}

// Parses a user-given gateway and checks it against the subnet it must lie in.
Result<Ipv4Address> parseGateway(const std::string& text, const std::optional<Ipv4Prefix>& subnet) {
  auto gateway = Ipv4Address::parse(text);
  if (!gateway) {
    return errorf(ErrorKind::InvalidArgument, "gateway {}", gateway.error().message);
  }
  if (!subnet) {
    return errorf(ErrorKind::InvalidArgument,
                  "gateway {} was given without a subnet; a gateway must lie inside the "
                  "network's subnet, so give the subnet too",
                  *gateway);
  }
  if (auto status = checkHostInSubnet("gateway", *subnet, *gateway); !status) {
    return std::unexpected(status.error());
  }
  return *gateway;
}

}  // namespace

PoolConfig PoolConfig::defaults() { return PoolConfig{{*Ipv4Prefix::parse("10.0.0.0/8")}, 24}; }

Status validatePoolConfig(const PoolConfig& config) {
  if (config.defaultPools.empty()) {
    return errorf(ErrorKind::InvalidArgument,
                  "--default-addr-pool: at least one pool is required, like 10.0.0.0/8");
  }
  for (std::size_t i = 0; i < config.defaultPools.size(); ++i) {
    const Ipv4Prefix& pool = config.defaultPools[i];
    if (!pool.isNetworkAddress()) {
      return errorf(ErrorKind::InvalidArgument,
                    "--default-addr-pool {} is not a network address (did you mean {}?)", pool,
                    pool.masked());
    }
    for (std::size_t j = 0; j < i; ++j) {
      if (pool.overlaps(config.defaultPools[j])) {
        return errorf(ErrorKind::InvalidArgument,
                      "--default-addr-pool {} overlaps --default-addr-pool {}; pools must not "
                      "overlap",
                      pool, config.defaultPools[j]);
      }
    }
  }
  if (config.subnetLength < kMinDefaultSubnetLength ||
      config.subnetLength > kMaxDefaultSubnetLength) {
    return errorf(ErrorKind::InvalidArgument,
                  "--default-addr-pool-mask-length {} is out of range: it must be {}-{} (/{} is "
                  "the smallest subnet that holds a gateway and a task)",
                  config.subnetLength, kMinDefaultSubnetLength, kMaxDefaultSubnetLength,
                  kMaxDefaultSubnetLength);
  }
  for (const Ipv4Prefix& pool : config.defaultPools) {
    if (config.subnetLength < pool.length()) {
      return errorf(ErrorKind::InvalidArgument,
                    "--default-addr-pool-mask-length {} does not fit --default-addr-pool {}: a "
                    "/{} subnet is larger than the pool; use a mask length of at least {} or a "
                    "larger pool",
                    config.subnetLength, pool, config.subnetLength, pool.length());
    }
  }
  return {};
}

Result<Ipv4Prefix> allocateSubnet(std::vector<Ipv4Prefix> taken, const PoolConfig& pools) {
  if (auto status = validatePoolConfig(pools); !status) {
    return errorf(ErrorKind::FailedPrecondition,
                  "the swarm's default address pools are misconfigured: {}",
                  status.error().message);
  }
  // A pool may span a reserved class (a cluster created before pools were checked): never
  // hand out a subnet there.
  for (const AvoidedRange& range : reservedRanges()) {
    taken.push_back(range.prefix);
  }
  if (auto block = firstFreeBlock(pools.defaultPools, pools.subnetLength, std::move(taken))) {
    return *block;
  }
  return errorf(ErrorKind::FailedPrecondition,
                "the default address pools ({}) are exhausted: no free /{} subnet is left; "
                "give the network an explicit subnet (--subnet), or create the swarm with more "
                "or larger pools (swarm init --default-addr-pool)",
                fmt::join(pools.defaultPools, ", "), pools.subnetLength);
}

Result<std::uint32_t> allocateVni(std::vector<std::uint32_t> used, std::uint32_t first,
                                  std::uint32_t last) {
  std::sort(used.begin(), used.end());
  // 64-bit so that a range ending at 2^32-1 cannot wrap.
  std::uint64_t candidate = first;
  for (auto it = std::lower_bound(used.begin(), used.end(), first); it != used.end(); ++it) {
    if (*it > candidate) {
      break;
    }
    candidate = std::uint64_t{*it} + 1;
  }
  if (candidate > last) {
    return errorf(ErrorKind::FailedPrecondition,
                  "no free VNI is left: all VNIs in {}-{} are in use by networks; remove "
                  "networks that are no longer needed",
                  first, last);
  }
  return static_cast<std::uint32_t>(candidate);
}

Result<NetworkAllocation> allocateNetwork(const NetworkRequest& request,
                                          const std::vector<ExistingNetwork>& existing,
                                          const PoolConfig& pools,
                                          const std::vector<AvoidedRange>& hostNetworks) {
  // Everything a subnet must not overlap besides the reserved classes: the example in a
  // refusal and the pool allocation both skip it.
  std::vector<Ipv4Prefix> taken;
  taken.reserve(existing.size() + hostNetworks.size() + reservedRanges().size());
  for (const ExistingNetwork& other : existing) {
    taken.push_back(other.subnet);
  }
  for (const AvoidedRange& range : hostNetworks) {
    taken.push_back(range.prefix);
  }

  // The request on its own.
  std::optional<Ipv4Prefix> subnet;
  if (request.subnet) {
    auto parsed = parseSubnet(*request.subnet);
    if (!parsed) {
      return std::unexpected(parsed.error());
    }
    subnet = *parsed;
  }
  std::optional<Ipv4Address> gateway;
  if (request.gateway) {
    auto parsed = parseGateway(*request.gateway, subnet);
    if (!parsed) {
      return std::unexpected(parsed.error());
    }
    gateway = *parsed;
  }

  // The request against the address classes, the hosts' networks and existing networks.
  if (subnet) {
    // For a refusal only (it searches the pools): a free subnet of the same size, else one
    // of the pools' usual size.
    auto example = [&]() -> std::optional<Ipv4Prefix> {
      std::vector<Ipv4Prefix> avoided = taken;
      for (const AvoidedRange& range : reservedRanges()) {
        avoided.push_back(range.prefix);
      }
      auto sameSize = firstFreeBlock(pools.defaultPools, subnet->length(), avoided);
      return sameSize ? sameSize : firstFreeBlock(pools.defaultPools, pools.subnetLength, avoided);
    };
    if (findCollision(*subnet, hostNetworks)) {
      return std::unexpected(
          checkAvoided("subnet", "subnet", *subnet, hostNetworks, example()).error());
    }
    for (const ExistingNetwork& other : existing) {
      if (subnet->overlaps(other.subnet)) {
        auto suggestion = example();
        return errorf(ErrorKind::Conflict,
                      "subnet {} overlaps network {} ({}); choose a subnet outside it{}", *subnet,
                      other.name, other.subnet,
                      suggestion ? fmt::format(", e.g. {}", *suggestion) : std::string());
      }
    }
  }

  // Allocation.
  if (!subnet) {
    auto allocated = allocateSubnet(taken, pools);
    if (!allocated) {
      return std::unexpected(allocated.error());
    }
    subnet = *allocated;
  }
  if (!gateway) {
    gateway = subnet->network().next();
  }
  std::vector<std::uint32_t> vnis;
  vnis.reserve(existing.size());
  for (const ExistingNetwork& other : existing) {
    vnis.push_back(other.vni);
  }
  auto vni = allocateVni(std::move(vnis));
  if (!vni) {
    return std::unexpected(vni.error());
  }
  return NetworkAllocation{*subnet, *gateway, *vni};
}

Result<Ipv4Address> allocateHostAddress(const Ipv4Prefix& subnet, Ipv4Address gateway,
                                        const std::set<Ipv4Address>& used) {
  if (!hasHostAddresses(subnet)) {
    return errorf(ErrorKind::FailedPrecondition,
                  "subnet {} has no host addresses: a /{} has no room beside its network and "
                  "broadcast addresses",
                  subnet, subnet.length());
  }
  const std::uint64_t last = subnet.broadcast().value() - 1;
  std::uint64_t candidate = subnet.network().value() + std::uint64_t{1};
  auto it = used.lower_bound(Ipv4Address::fromValue(static_cast<std::uint32_t>(candidate)));
  while (candidate <= last) {
    if (candidate == gateway.value()) {
      ++candidate;
      continue;
    }
    while (it != used.end() && it->value() < candidate) {
      ++it;
    }
    if (it != used.end() && it->value() == candidate) {
      ++candidate;
      ++it;
      continue;
    }
    return Ipv4Address::fromValue(static_cast<std::uint32_t>(candidate));
  }
  return errorf(ErrorKind::FailedPrecondition,
                "subnet {} is full: every host address ({}) is the gateway or already in use; "
                "remove unused tasks, or use a network with a larger subnet",
                subnet, hostRange(subnet));
}

Status validateHostAddress(const Ipv4Prefix& subnet, Ipv4Address gateway,
                           const std::set<Ipv4Address>& used, Ipv4Address requested) {
  if (auto status = checkHostInSubnet("address", subnet, requested); !status) {
    return status;
  }
  if (requested == gateway) {
    return errorf(ErrorKind::Conflict,
                  "address {} is the gateway of subnet {}; choose another address", requested,
                  subnet);
  }
  if (used.contains(requested)) {
    return errorf(ErrorKind::Conflict, "address {} is already in use in subnet {}", requested,
                  subnet);
  }
  return {};
}

}  // namespace overmesh::ipam
