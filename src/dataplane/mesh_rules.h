#pragma once

// The nftables rule set of a node's published ports (the routing mesh's front door, in the
// node's own namespace), as text (no kernel), and the diff between two plans that keeps
// each change small. For a node whose ingress bridge is ombr4097, with tcp/30080 led to
// two replicas and udp/30053 without any:
//
//   table ip overmesh_mesh {
//     set refused { typeof meta l4proto . th dport; elements = { udp . 30053 } }
//     map backends_2 { typeof meta l4proto . th dport . numgen random mod 2 : ip daddr . th dport;
//                      elements = { tcp . 30080 . 0 : 10.0.0.5 . 80,
//                                   tcp . 30080 . 1 : 10.0.0.6 . 80 } }
//     chain prerouting { type nat hook prerouting priority dstnat; policy accept;
//       iifname "ombr4097" return
//       fib daddr type local jump publish }
//     chain output { type nat hook output priority -100; policy accept;
//       ip daddr 127.0.0.0/8 return
//       fib daddr type local jump publish }
//     chain publish {
//       dnat to meta l4proto . th dport . numgen random mod 2 map @backends_2 }
//     chain input { type filter hook input priority filter; policy accept;
//       iifname "ombr4097" ct state new drop
//       ip daddr != 127.0.0.0/8 ct state new meta l4proto . th dport @refused reject with tcp reset
//       ip daddr != 127.0.0.0/8 ct state new meta l4proto . th dport @refused reject }
//     chain forward { type filter hook forward priority filter; policy accept;
//       iifname "ombr4097" oifname != "ombr4097" ct state new drop }
//   }
//
// The shape is the VIP balancer's (service_lb_rules.h says why: plain data maps changed by
// element, one rule per distinct backend count, cost per change independent of the number
// of ports): a port with K backends is K elements "protocol . port . slot : address . port"
// of map backends_K, whose rule draws a slot with numgen random mod K.
//
// What is published: new connections to any address of the node's own (fib daddr type
// local: the underlay address, the gateway bridge's, the ingress bridge's) on a published
// port, arriving from outside (prerouting) or made by the node itself (output; loopback
// addresses are left alone). A nat chain sees only a connection's first packet; conntrack
// keeps the rest of it on the backend chosen then, also across a replace of the whole
// table (an agent restart). Only the destination is rewritten: the backend sees the
// client's own address (no SNAT); its sandbox sends the replies back through this node
// (ingress_rules.h). Packets arriving on the ingress bridge are never published again (a
// backend's reply is not a new connection, but a task must not bounce off a node's port
// either), and new connections from the ingress bridge into the node itself are dropped:
// the ingress network reaches published target ports and nothing else.
//
// A port without backends is refused at once (TCP reset, ICMP port unreachable) in the
// input chain, where the undiverted connection arrives, instead of reaching whatever the
// node itself may listen on.

#include <cstddef>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "dataplane/mesh_plan.h"

namespace overmesh::dataplane {

inline constexpr std::string_view kMeshFamily = "ip";
inline constexpr std::string_view kMeshTable = "overmesh_mesh";

// The map that holds the ports with `backendCount` (≥ 1) backends: "backends_3".
std::string meshBackendMapName(std::size_t backendCount);

// One port whose backends changed (same protocol and published port).
struct MeshPortChange {
  MeshPort before;
  MeshPort after;
  auto operator<=>(const MeshPortChange&) const = default;
};

// What changes between two plans of one node, by (protocol, published port).
struct MeshChanges {
  std::vector<MeshPort> added;
  std::vector<MeshPort> removed;
  std::vector<MeshPortChange> changed;  // other backends
  // The ingress bridge differs: the rules themselves change, so the table is replaced.
  bool rulesChanged = false;
  bool empty() const {
    return !rulesChanged && added.empty() && removed.empty() && changed.empty();
  }
  auto operator<=>(const MeshChanges&) const = default;
};

// The difference from `applied` to `wanted`, both sorted by (protocol, publishedPort) with
// one entry per pair (as MeshIndex gives them). A port whose backends are unchanged is not
// in it, even if its service name changed. O(n).
MeshChanges diffNodeMesh(const NodeMesh& applied, const NodeMesh& wanted);

// The backend counts (≥ 1) that have a map and a rule in a table made for `mesh`.
std::set<std::size_t> meshBackendCounts(const NodeMesh& mesh);

// A script that atomically replaces the whole table with one for `mesh` (creating it if
// missing). `mesh.ingressBridge` must be empty or a plain device name (isPlainDeviceName);
// anything else is a caller bug and aborts. Ports must have protocol "tcp" or "udp".
std::string meshReplaceScript(const NodeMesh& mesh);

// A script that applies `changes` (rulesChanged false) to a table whose maps are those of
// `existingCounts`: elements of removed and changed ports are deleted, those of added and
// changed ports added, a map and its rule created first for a new backend count (which
// `existingCounts` gains). Empty when nothing changes. One batch.
std::string meshUpdateScript(const MeshChanges& changes, std::set<std::size_t>& existingCounts);

}  // namespace overmesh::dataplane
