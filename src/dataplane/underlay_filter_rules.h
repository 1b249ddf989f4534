#pragma once

// The members-only underlay (issue 12, item 5) as nft text, no kernel: the table that drops
// VXLAN and node-port packets from any address that is not a current member's, and the
// element diffs that follow membership. For members 198.18.0.1 and 198.18.0.2 and the
// default ports:
//
//   table inet overmesh_underlay {
//     set members { type ipv4_addr; }
//     counter vxlan_dropped { }
//     counter node_port_dropped { }
//     chain input { type filter hook input priority -150; policy accept; }
//   }
//   add rule inet overmesh_underlay input udp dport 4789 ip saddr != @members
//       counter name "vxlan_dropped" drop
//   add rule inet overmesh_underlay input meta nfproto ipv6 udp dport 4789
//       counter name "vxlan_dropped" drop
//   (the same two for tcp dport 2378 and node_port_dropped)
//   add element inet overmesh_underlay members { 198.18.0.1, 198.18.0.2 }
//
// Why these choices:
// - inet, so that one table sees IPv4 and IPv6: the overlay's underlay is IPv4 only (VTEPs
//   are IPv4), so no IPv6 source is ever a member and IPv6 to these ports is dropped.
// - the input hook: VXLAN and the node API are delivered to this host (not forwarded);
//   the routing mesh's published ports, which must stay open to everyone, are DNATed in
//   prerouting and forwarded, so they never reach this chain.
// - priority -150 (mangle): after conntrack's defragmentation and lookup (-400, -200), so a
//   fragmented datagram is judged whole, and before every filter-priority (0) input chain,
//   ours (overmesh_mesh's) and a host firewall's. A drop anywhere is final, but an earlier
//   chain's drop would hide the packet from our counters, and an earlier chain's accept
//   never lets a packet skip ours (accept ends only its own base chain).
// - named counters, so `overmesh info` and the tests read the drops per port back by name.
// - policy accept and only these ports: the manager's cluster port stays open to everyone
//   (joins come from non-members; mutual TLS guards it) and the host's other traffic is
//   none of our business.
// - member lists go out in statements of at most kUnderlayElementsPerStatement addresses,
//   so that no single line of a script grows with the cluster.

#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "common/ip.h"

namespace overmesh::dataplane {

inline constexpr std::string_view kUnderlayFamily = "inet";
inline constexpr std::string_view kUnderlayTable = "overmesh_underlay";
inline constexpr std::string_view kUnderlayMembersSet = "members";
inline constexpr std::string_view kVxlanDropCounter = "vxlan_dropped";
inline constexpr std::string_view kNodePortDropCounter = "node_port_dropped";
inline constexpr int kUnderlayInputPriority = -150;
inline constexpr std::size_t kUnderlayElementsPerStatement = 256;

// The ports that only members may reach.
struct UnderlayPorts {
  std::uint16_t vxlanPort = 4789;  // UDP (dataplane::kVxlanPort)
  std::uint16_t nodePort = 2378;   // TCP (overmeshd --node-port)
  auto operator<=>(const UnderlayPorts&) const = default;
};

// The whole wanted filter of one node.
struct UnderlayFilterSpec {
  UnderlayPorts ports;
  std::set<Ipv4Address> members;
};

// Which members come and go between two sets, each sorted ascending.
struct UnderlayMemberChanges {
  std::vector<Ipv4Address> added;
  std::vector<Ipv4Address> removed;
  bool empty() const { return added.empty() && removed.empty(); }
  auto operator<=>(const UnderlayMemberChanges&) const = default;
};

// What the drop counters hold.
struct UnderlayDropCounters {
  std::uint64_t vxlanPackets = 0;
  std::uint64_t vxlanBytes = 0;
  std::uint64_t nodePortPackets = 0;
  std::uint64_t nodePortBytes = 0;
  auto operator<=>(const UnderlayDropCounters&) const = default;
};

// A script that atomically replaces the table with one for `spec` (creating it if missing;
// counters start at zero). Both ports must be non-zero: 0 is a caller bug and aborts.
std::string underlayReplaceScript(const UnderlayFilterSpec& spec);

// The members to add to and remove from `applied` to reach `wanted`. O(n).
UnderlayMemberChanges diffUnderlayMembers(const std::set<Ipv4Address>& applied,
                                          const std::set<Ipv4Address>& wanted);

// A script that applies `changes` to the table's member set in one batch: additions
// first, then deletions (within one batch the order only matters for the error nft
// reports; it keeps the set from ever being smaller than needed if the batch were split).
// Empty when nothing changes. Deleting an address the set does not hold fails the whole
// batch (ENOENT): the caller then replaces the table whole.
std::string underlayMembersScript(const UnderlayMemberChanges& changes);

// Reads the drop counters out of `list table inet overmesh_underlay` in nft's JSON.
// InvalidArgument when the text is not such a listing or a counter is missing (the table
// is not ours, or another version's).
Result<UnderlayDropCounters> parseUnderlayDropCounters(std::string_view listingJson);

}  // namespace overmesh::dataplane
