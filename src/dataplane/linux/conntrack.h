#pragma once

// Conntrack entries of a namespace, through ctnetlink (netlink, no conntrack(8)).
//
// The load balancer uses it for one thing: when a backend leaves a service, the UDP flows
// the sandbox's conntrack still pins to it are deleted. A UDP "connection" lives as long
// as its client keeps sending within the UDP timeout (30 s, 120 s once replied both
// ways), so a client that reuses one socket (a stream, a resolver with a fixed port)
// would keep sending to the gone backend indefinitely; without the entry its next
// datagram is balanced afresh. TCP flows are left alone: a backend leaves the maps
// *before* it is stopped (the drain), and cutting its established connections would break
// the requests it is finishing; when it stops, its sockets close and the client sees it.
//
// Needs CAP_NET_ADMIN and CAP_SYS_ADMIN (setns). Uses the kernel's filtered flush
// (CTA_FILTER with tuple attributes), so one request deletes every matching entry. Its
// cost is a walk of the host's whole conntrack hash table (shared by all namespaces):
// ~12 ms with 262,144 buckets, whatever the namespace holds, which is why the load
// balancer runs it on a thread of its own, after the rules changed.

#include <cstdint>
#include <string_view>

#include "common/error.h"
#include "common/ip.h"

namespace overmesh::dataplane::kernel {

// Deletes the conntrack entries of the namespace behind `namespaceFd` (named
// `namespaceName` in messages) for IP protocol `protocol` (e.g. IPPROTO_UDP) whose
// original destination is `vip` and whose replies come from `backend`: the flows the
// load balancer sent from `vip` to `backend`. Succeeds when there are none. Fails with
// Unavailable and the kernel's errno text (e.g. a kernel without filtered flush:
// EOPNOTSUPP; setns refused).
Status deleteConntrackFlows(int namespaceFd, std::string_view namespaceName, Ipv4Address vip,
                            Ipv4Address backend, std::uint8_t protocol);

// The same for the routing mesh on a node: deletes the entries for IP protocol `protocol`
// whose replies come from `backend`:`backendPort`, whatever the original destination (a
// published port is open on every local address of the node).
Status deleteConntrackFlowsFrom(int namespaceFd, std::string_view namespaceName,
                                Ipv4Address backend, std::uint16_t backendPort,
                                std::uint8_t protocol);

}  // namespace overmesh::dataplane::kernel
