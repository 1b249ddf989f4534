#pragma once

// The nftables rule set of one sandbox's VIP load balancer, as text (no kernel), and the
// diff between two plans that keeps each change small. For a sandbox whose services have
// 1 and 3 live backends, and one with none:
//
//   table ip overmesh_lb {
//     set refused { type ipv4_addr; elements = { 10.0.0.4 } }
//     map backends_1 { typeof ip daddr . numgen random mod 1 : ip daddr;
//                      elements = { 10.0.0.3 . 0 : 10.0.0.9 } }
//     map backends_3 { typeof ip daddr . numgen random mod 3 : ip daddr;
//                      elements = { 10.0.0.2 . 0 : 10.0.0.5, 10.0.0.2 . 1 : 10.0.0.6,
//                                   10.0.0.2 . 2 : 10.0.0.7 } }
//     chain output { type nat hook output priority -100; policy accept;
//       ip daddr @refused meta l4proto tcp reject with tcp reset
//       ip daddr @refused reject
//       dnat to ip daddr . numgen random mod 1 map @backends_1
//       dnat to ip daddr . numgen random mod 3 map @backends_3 }
//   }
//
// A service with K backends lives in map backends_K as K elements "VIP . slot : backend";
// the rule of that map draws a slot uniformly (numgen random mod K) and DNATs to it. A
// lookup that misses (the VIP is in another map) makes the rule do nothing, so the packet
// tries the next one; only one map holds a VIP. There is one rule per distinct backend
// count, not per service.
//
// Why not kube-proxy's shape (a VIP → `goto` chain vmap with one chain per service): on
// this kernel and nft 1.0.6 its cost per change grows with the number of services, which
// the issue forbids. Measured with 10,000 services: ~30 ms per change, because (1) a new
// rule holding a nat or reject expression makes the kernel re-validate the whole table at
// commit, walking every chain the vmap reaches; (2) libnftables lists every chain of the
// table before it adds a rule or a verdict-map element; (3) an inline map (`numgen … map
// { … }`) is an anonymous set, and the kernel names each by scanning all sets of the
// table (initial load: 17 s). Plain data maps have none of these: a change is a few
// element deletions and additions, validated by nobody, in tables with a handful of sets.
//
// Only locally generated traffic is balanced (hook output): the sandbox is the client.
// Only the destination address is rewritten, so every protocol and port goes through
// (TCP, UDP, ICMP echo) and the backend sees the client's own address (no SNAT). A nat
// chain sees only a connection's first packet; conntrack keeps the rest of the connection
// on the backend chosen then, for as long as conntrack keeps the entry (no timeout of
// ours). A service without a live backend is refused at once instead of letting the
// client hang on an address nobody owns: TCP connect() fails with ECONNREFUSED (a reset),
// a UDP send() with EPERM (the datagram is dropped on its way out; an ICMP port
// unreachable follows), ping gets "port unreachable".

#include <cstddef>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/ip.h"
#include "dataplane/service_lb_plan.h"

namespace overmesh::dataplane {

inline constexpr std::string_view kLbFamily = "ip";
inline constexpr std::string_view kLbTable = "overmesh_lb";

// The map that holds the services with `backendCount` (≥ 1) backends: "backends_3".
std::string lbBackendMapName(std::size_t backendCount);

// One service whose backends changed (same VIP).
struct LbServiceChange {
  LbService before;
  LbService after;
  auto operator<=>(const LbServiceChange&) const = default;
};

// What changes between two plans of one sandbox, by VIP.
struct LbChanges {
  std::vector<LbService> added;          // a VIP that was not there
  std::vector<LbService> removed;        // a VIP that is gone
  std::vector<LbServiceChange> changed;  // same VIP, other backends
  bool empty() const { return added.empty() && removed.empty() && changed.empty(); }
  auto operator<=>(const LbChanges&) const = default;
};

// The difference from `applied` to `wanted`, both sorted by VIP with one service per VIP
// (as LbIndex::forSandbox returns them). A service whose backends are unchanged is not in
// it, even if its ID or name changed (the kernel rules would be the same). O(n).
LbChanges diffSandboxLb(const SandboxLb& applied, const SandboxLb& wanted);

// The backend counts (≥ 1) that have a map and a rule in a table made for `lb`.
std::set<std::size_t> lbBackendCounts(const SandboxLb& lb);

// A script that atomically replaces the whole table with one for `lb` (creating it if
// missing): what the first apply to a namespace runs, e.g. after an agent restart.
std::string lbReplaceScript(const SandboxLb& lb);

// A script that applies `changes` to a table whose maps are those of `existingCounts`:
// each removed or changed service's elements are deleted from its old map (or from
// `refused`), each added or changed one's are added to its new map, and a map with its
// rule is created first for a backend count the table does not have yet. Its cost
// depends on the services changed and their backends only. Empty when `changes` is
// empty. One batch: the kernel applies it all or none. `existingCounts` gains the counts
// created (maps left empty stay: an empty map costs a lookup that misses).
std::string lbUpdateScript(const LbChanges& changes, std::set<std::size_t>& existingCounts);

// A backend that a service's VIP no longer leads to.
struct LbDeparture {
  Ipv4Address vip;
  Ipv4Address backend;
  auto operator<=>(const LbDeparture&) const = default;
};

// Every (VIP, backend) pair of `changes` that is gone: all backends of a removed service,
// the backends a changed service lost. In plan order. The caller deletes the UDP flows
// conntrack still pins to them (see linux/conntrack.h for why UDP only).
std::vector<LbDeparture> lbDepartures(const LbChanges& changes);

}  // namespace overmesh::dataplane
