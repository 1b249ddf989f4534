#pragma once

// The ingress side of a backend's sandbox (the routing mesh's back door), as text and
// decisions, no kernel. A connection that node N's published port DNATed to this sandbox
// arrives on the sandbox's ingress interface with the client's own address as source, in
// a frame whose source MAC is N's ingress bridge (macForIp of N's ingress address). The
// reply must leave through N (whose conntrack undoes the DNAT), not through the sandbox's
// default route. So, for the sandbox with ingress interface eth1 and two nodes:
//
//   table ip overmesh_ingress {
//     map nodes { type ether_addr : mark;
//                 elements = { 02:42:0a:00:00:02 : 0x0a000002, 02:42:0a:00:00:03 : 0x0a000003 } }
//     set tcp_ports { type inet_service; elements = { 80 } }
//     set udp_ports { type inet_service; }
//     chain prerouting { type filter hook prerouting priority mangle; policy accept;
//       iifname "eth1" ct state new ct mark set ether saddr map @nodes }
//     chain input { type filter hook input priority filter; policy accept;
//       iifname != "eth1" accept
//       ct state established,related accept
//       ct state new tcp dport @tcp_ports accept
//       ct state new udp dport @udp_ports accept
//       drop }
//     chain output { type route hook output priority mangle; policy accept;
//       ct mark != 0 meta mark set ct mark }
//   }
//
// plus, per node, the policy rule "fwmark M lookup M" (priority kIngressRulePriority) and
// in routing table M the route "default via <node's ingress address> dev eth1". A new
// connection gets the mark of the node it came through (the lookup misses for a frame
// from any other MAC: no mark, normal routing); every packet the sandbox sends on a marked
// connection carries the mark, and the route-type output chain makes the kernel route it
// again with it, into table M. The client's address is never rewritten.
//
// UDP needs one more step. A TCP reply leaves from the address the connection came to,
// but a UDP server on a wildcard socket (bound to 0.0.0.0, as most are) gets its source
// address from a route lookup made without any mark: the default route, the gateway link,
// whose address is not the one the client's node translated to, so conntrack would not
// recognise the reply. So for each UDP target port T the sandbox also has the rules
// "lookup main suppress_prefixlength 0" (every main-table route but the default one
// first) and "ipproto udp sport T lookup kIngressSourceTable", a table holding only
// "default dev eth1": what would leave by the default route from port T takes the ingress
// interface's address instead, then matches its connection and is marked and routed back
// through its node as above. (A datagram from port T that answers nobody leaves through
// the ingress interface too and is dropped for want of a neighbour: a server that also
// speaks first from its service port should bind to its address.)
//
// The mark of a node is its ingress IPv4 address as a 32-bit number: unique per node,
// stable, and readable in `nft list` and `ip rule`. It is also the routing table's number,
// so an address below 256 (the kernel's reserved tables) cannot be a node's mark
// (ingressMarkUsable()).

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/ip.h"
#include "dataplane/mesh_plan.h"

namespace overmesh::dataplane {

inline constexpr std::string_view kIngressFamily = "ip";
inline constexpr std::string_view kIngressTable = "overmesh_ingress";
// The priorities of the sandbox's rules, all before the main table's (32766): the fwmark
// rules, then the main table without its default route, then the UDP source-port rules.
// Rules at these priorities are overmesh's; anything else is left alone.
inline constexpr std::uint32_t kIngressRulePriority = 1000;
inline constexpr std::uint32_t kIngressMainRulePriority = 1001;
inline constexpr std::uint32_t kIngressSourceRulePriority = 1002;
// The routing table of the UDP source-port rules (not a mark: marks are above 255).
inline constexpr std::uint32_t kIngressSourceTable = 250;

// The connection mark and routing table of the node whose ingress address is `address`.
inline std::uint32_t ingressMark(Ipv4Address address) { return address.value(); }
// Whether `address` can serve as a mark and table number (not a reserved table, 0-255).
inline bool ingressMarkUsable(Ipv4Address address) { return address.value() > 255; }

// What changes between two ingress plans of one sandbox.
struct IngressChanges {
  // The interface differs (or one side is empty): everything is made again.
  bool interfaceChanged = false;
  std::vector<IngressPeer> nodesRemoved;
  std::vector<IngressPeer> nodesAdded;
  std::vector<std::uint16_t> tcpRemoved;
  std::vector<std::uint16_t> tcpAdded;
  std::vector<std::uint16_t> udpRemoved;
  std::vector<std::uint16_t> udpAdded;
  bool empty() const {
    return !interfaceChanged && nodesRemoved.empty() && nodesAdded.empty() && tcpRemoved.empty() &&
           tcpAdded.empty() && udpRemoved.empty() && udpAdded.empty();
  }
  auto operator<=>(const IngressChanges&) const = default;
};

// The difference from `applied` to `wanted` (both as MeshIndex::forSandbox gives them:
// sorted, unique). A node whose MAC changed is removed and added. O(n).
IngressChanges diffSandboxIngress(const SandboxIngress& applied, const SandboxIngress& wanted);

// A script that atomically replaces the sandbox's table with one for `ingress` (not empty;
// its interface a plain device name, every node's mark usable: caller bugs otherwise,
// which abort).
std::string ingressReplaceScript(const SandboxIngress& ingress);

// A script that applies the element changes of `changes` (interfaceChanged false) to the
// table: map and set elements only. Empty when there are none.
std::string ingressUpdateScript(const IngressChanges& changes);

}  // namespace overmesh::dataplane
