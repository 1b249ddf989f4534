#pragma once

// The one rule for which addresses of a network are taken, shared by standalone tasks
// (TaskManager::run), service tasks and service VIPs (ServiceManager), so that no two of
// them can ever be given one address. Pure.
//
// Taken on a network: the network address, the broadcast address, the gateway, every
// service VIP on it, the address of every task attached to it that still holds its
// address (all tasks except those that are told to shut down AND observed terminal: their
// record stays as history, but nothing uses the address any more), and, on the ingress
// network, every node's ingress address (Node::ingressAddress).

#include <set>
#include <string>
#include <vector>

#include "api/service_types.h"
#include "api/types.h"
#include "common/error.h"
#include "common/ip.h"

namespace overmesh::manager {

// exited, failed, shutdown, rejected: the task's process is gone for good.
bool isTerminalState(const std::string& state);

// False only for a task that is desired shutdown and observed terminal.
bool holdsAddresses(const api::Task& task);

// The host addresses on `network` held by tasks, service VIPs and (when it is the ingress
// network) nodes (the network, broadcast and gateway addresses are excluded by
// allocateAddress itself). Records whose address does not parse are skipped: they cannot
// hold a valid address.
std::set<Ipv4Address> usedAddresses(const api::Network& network,
                                    const std::vector<api::Task>& tasks,
                                    const std::vector<api::Service>& services,
                                    const std::vector<api::Node>& nodes);

// The lowest free host address of `network`, as "A.B.C.D/len", added to `used` so that
// the next call gives another one. Internal when the network's record is corrupt;
// FailedPrecondition naming the network when its subnet is full.
Result<std::string> allocateAddress(const api::Network& network, std::set<Ipv4Address>& used);

}  // namespace overmesh::manager
