#pragma once

// Published ports of services (`--publish`), the pure half: the checks of a spec's ports,
// the conflicts with other services' ports and the choice of a published port when the
// spec leaves it 0. ServiceManager reads the cluster, calls these, and writes the result
// as Service::ports in a transaction that compares state::keys::kPublishedPortsGuard.
//
// The conflict rule (Docker's, plus one of our own): an ingress-mode port is opened on
// every node, so it conflicts with the same protocol and port of any other service in any
// mode; a host-mode port conflicts with another service's ingress-mode port, and also with
// another service's host-mode port, because overmesh opens a host port by DNAT on the node
// (one rule per node and port), so two services cannot share it even on different nodes.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "api/service_types.h"
#include "api/types.h"
#include "common/error.h"

namespace overmesh::manager {

// The most ports one service may publish: every node opens each, and every write checks
// each against every other service's ports.
inline constexpr std::size_t kMaxPublishedPorts = 1000;

// Where a published port of 0 is allocated from (Docker's range).
inline constexpr std::int64_t kFirstDynamicPort = 30000;
inline constexpr std::int64_t kLastDynamicPort = 32767;

// Ports the nodes use themselves, which no service may publish: the cluster API and the
// node API (overmeshd's defaults, src/daemon/daemon.h) and VXLAN (kVxlanPort in
// src/dataplane/overlay_plan.h; the manager does not link the data plane).
inline constexpr std::int64_t kClusterApiPort = 2377;
inline constexpr std::int64_t kNodeApiPort = 2378;
inline constexpr std::int64_t kVxlanUdpPort = 4789;

// How a port is named in messages, as --publish takes it: "8080:80" or "8080:80/udp" in
// ingress mode ("80" when the published port is left 0), else the long form
// "published=8080,target=80,protocol=tcp,mode=host".
std::string describePort(const api::PortConfig& port);

// True when one of `ports` is published in ingress mode: the service's tasks then join
// the ingress network.
bool publishesIngressPort(const std::vector<api::PortConfig>& ports);

// The checks that need no cluster state: at most kMaxPublishedPorts ports, protocol
// tcp|udp (sctp: not supported),
// mode ingress|host, target 1-65535, published 0 or 1-65535, one published port and
// protocol given twice, and the nodes' own ports (2377/tcp, 2378/tcp, 4789/udp).
// InvalidArgument naming --publish, the value and what is valid.
Status validatePorts(const std::vector<api::PortConfig>& ports);

// Host-mode ports reach the task through its node's gateway bridge, which a task has only
// when one of its networks is not --internal. InvalidArgument when the spec publishes a
// host-mode port and every network in `attachments` is internal (none at all is fine:
// such a task still has its gateway bridge).
Status checkHostPortsReachable(const std::vector<api::PortConfig>& ports,
                               const std::vector<api::ServiceAttachment>& attachments,
                               const std::vector<api::Network>& networks);

// `requested` (a validated spec's ports) with every published port decided, in order.
// `serviceId` is the service being created or updated; its own record in `services` is
// ignored, and `previous` holds the ports it had (empty on create): a requested port with
// published 0 whose target, protocol and mode match a previous port keeps that port.
// Other ports of 0 get the lowest port of kFirstDynamicPort-kLastDynamicPort that no other
// service uses on that protocol and that this spec does not use. Conflict naming the other
// service when a published port is taken (see the rule above); FailedPrecondition when the
// dynamic range is full for that protocol.
Result<std::vector<api::PortConfig>> decidePublishedPorts(
    const std::vector<api::PortConfig>& requested, const std::vector<api::PortConfig>& previous,
    const std::string& serviceId, const std::vector<api::Service>& services);

}  // namespace overmesh::manager
