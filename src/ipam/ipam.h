#pragma once

// IPAM: choosing an overlay network's subnet, gateway and VNI, and a task's address. Pure
// functions of (request, existing state, configuration): they never store anything, so the
// manager calls them inside its store transaction and commits the result.
//
// Error kinds: a malformed or self-contradictory request is InvalidArgument; a request that
// clashes with an existing network or address is Conflict; running out of subnets, VNIs or
// host addresses (or a bad pool configuration) is FailedPrecondition.

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/ip.h"
#include "ipam/subnet_rules.h"

namespace overmesh::ipam {

// VNIs below 4096 are left alone (Docker Swarm starts at 4096 too); 2^24-1 is the VXLAN max.
inline constexpr std::uint32_t kFirstVni = 4096;
inline constexpr std::uint32_t kMaxVni = 16777215;

// Bounds of --default-addr-pool-mask-length: /16 is the largest default subnet we hand out
// and /30 the smallest that holds a gateway and one task.
inline constexpr int kMinDefaultSubnetLength = 16;
inline constexpr int kMaxDefaultSubnetLength = 30;
// A user-given subnet may be larger than /16, but no smaller than /30 for the same reason.
inline constexpr int kMaxSubnetLength = 30;

// Where subnets come from when a network is created without --subnet.
struct PoolConfig {
  std::vector<Ipv4Prefix> defaultPools;  // --default-addr-pool, in preference order
  int subnetLength = 24;                 // --default-addr-pool-mask-length

  // {10.0.0.0/8}, /24: what `swarm init` uses when given no pool flags.
  static PoolConfig defaults();
};

// Checks a pool configuration as `swarm init` receives it. Fails with InvalidArgument, naming
// the CLI flag, if there is no pool, a pool is not a network address, two pools overlap, or
// subnetLength is outside 16-30 or shorter than some pool's length.
Status validatePoolConfig(const PoolConfig& config);

// A network create request as the user typed it; strings are parsed here.
struct NetworkRequest {
  std::string name;
  std::optional<std::string> subnet;   // CIDR; omitted: allocate from the default pools
  std::optional<std::string> gateway;  // address; omitted: the subnet's first host address
};

// A network that already holds a subnet and a VNI.
struct ExistingNetwork {
  std::string name;
  Ipv4Prefix subnet;
  std::uint32_t vni = 0;
};

struct NetworkAllocation {
  Ipv4Prefix subnet;  // always a network address
  Ipv4Address gateway;
  std::uint32_t vni = 0;

  friend bool operator==(const NetworkAllocation&, const NetworkAllocation&) = default;
};

// Chooses subnet, gateway and VNI for a new overlay network. Request checks come first, then
// conflicts with `hostNetworks` (the nodes' underlay networks and gateway-bridge subnets)
// and `existing`, then allocation, which skips reserved ranges and `hostNetworks`. Fails with:
//  - InvalidArgument: subnet or gateway does not parse; subnet has host bits set, is
//    smaller than /30 or lies in a reserved address class (loopback, link-local,
//    multicast, 0.0.0.0/8, 240.0.0.0/4); gateway given without subnet, outside it, or its
//    network/broadcast address.
//  - Conflict: the given subnet overlaps a host network or an existing network's subnet
//    (named in the message, with a free subnet of the same size as an example).
//  - FailedPrecondition: no subnet is left in the default pools, no VNI is left, or `pools`
//    is invalid (only checked when the subnet is omitted).
Result<NetworkAllocation> allocateNetwork(const NetworkRequest& request,
                                          const std::vector<ExistingNetwork>& existing,
                                          const PoolConfig& pools,
                                          const std::vector<AvoidedRange>& hostNetworks = {});

// The first pools.subnetLength-sized block, in pool order then address order, that overlaps
// no subnet in `taken` and no reserved range. O(n log n) in taken.size(), independent of the
// pool sizes. Fails with FailedPrecondition when every block is taken or `pools` fails
// validatePoolConfig().
Result<Ipv4Prefix> allocateSubnet(std::vector<Ipv4Prefix> taken, const PoolConfig& pools);

// The lowest VNI in [first, last] not in `used` (values outside the range are ignored).
// O(n log n). Fails with FailedPrecondition when every VNI in the range is used.
Result<std::uint32_t> allocateVni(std::vector<std::uint32_t> used, std::uint32_t first = kFirstVni,
                                  std::uint32_t last = kMaxVni);

// The lowest host address of `subnet` (a network address) that is not the network address,
// the broadcast address, `gateway` or in `used`. O(|used|). Fails with FailedPrecondition,
// naming the subnet, when none is left (always for /31 and /32).
Result<Ipv4Address> allocateHostAddress(const Ipv4Prefix& subnet, Ipv4Address gateway,
                                        const std::set<Ipv4Address>& used);

// Checks a user-requested static task address. Fails with InvalidArgument if it lies outside
// `subnet` or is its network or broadcast address, and with Conflict if it is the gateway or
// in `used`.
Status validateHostAddress(const Ipv4Prefix& subnet, Ipv4Address gateway,
                           const std::set<Ipv4Address>& used, Ipv4Address requested);

}  // namespace overmesh::ipam
