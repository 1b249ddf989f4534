#pragma once

// The nftables rule set of one sandbox's VIP load balancer, as text (no kernel), and the
// diff between two plans that keeps each change small. The technique is kube-proxy's
// nftables mode, reduced to what a client sandbox needs:
//
//   table ip overmesh_lb {
//     map vips { type ipv4_addr : verdict; elements = { VIP : goto svc_VIP, … } }
//     chain output { type nat hook output priority -100; policy accept;
//                    ip daddr vmap @vips; }
//     chain svc_10_0_0_2 { dnat to numgen random mod 3 map { 0 : b0, 1 : b1, 2 : b2 } }
//     chain svc_10_0_0_3 { meta l4proto tcp reject with tcp reset; reject }   (no backend)
//   }
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
//
// Changing one service touches one map element and/or one chain, whatever else the table
// holds: the cost of an endpoint change does not grow with the number of services.

#include <string>
#include <string_view>
#include <vector>

#include "common/ip.h"
#include "dataplane/service_lb_plan.h"

namespace overmesh::dataplane {

inline constexpr std::string_view kLbFamily = "ip";
inline constexpr std::string_view kLbTable = "overmesh_lb";

// The chain of the service at `vip`: "svc_10_0_0_2". Named from the VIP (unique in a
// sandbox, and only digits), never from names read from the cluster state.
std::string lbChainName(Ipv4Address vip);

// What changes between two plans of one sandbox, by VIP.
struct LbChanges {
  std::vector<LbService> added;    // a VIP that was not there: element + chain
  std::vector<LbService> removed;  // a VIP that is gone: element + chain deleted
  std::vector<LbService> changed;  // same VIP, other backends: that chain rewritten
  bool empty() const { return added.empty() && removed.empty() && changed.empty(); }
  auto operator<=>(const LbChanges&) const = default;
};

// The difference from `applied` to `wanted`, both sorted by VIP with one service per VIP
// (as LbIndex::forSandbox returns them). A service whose backends are unchanged is not in
// it, even if its ID or name changed (the kernel rules would be the same). O(n).
LbChanges diffSandboxLb(const SandboxLb& applied, const SandboxLb& wanted);

// A script that atomically replaces the whole table with `lb` (creating it if missing):
// what the first apply to a namespace runs, e.g. after an agent restart.
std::string lbReplaceScript(const SandboxLb& lb);

// A script that turns the table holding the `applied` plan into `changes` applied: for
// each removed service its map element and chain are deleted, for each added one its
// chain and element are created, for each changed one its chain is flushed and gets its
// new rule. Empty when `changes` is empty. One batch: the kernel applies it all or none.
std::string lbUpdateScript(const LbChanges& changes);

}  // namespace overmesh::dataplane
