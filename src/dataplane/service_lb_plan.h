#pragma once

// What the client-side VIP load balancer of one sandbox should be: for every vip-mode
// service with a VIP on a network the sandbox is attached to, the VIP and the addresses
// of the service's live tasks on that network. Pure: built from the agent's cache of
// services, tasks and nodes; service_lb_rules.h turns it into nftables scripts and
// NodeKernel::applySandboxLb() programs it.
//
// "Live" is state::isLive(), the one definition DNS and the manager use too, so a task
// leaves the maps exactly when it leaves DNS answers.

#include <string>
#include <unordered_map>
#include <vector>

#include "api/service_types.h"
#include "api/types.h"
#include "common/ip.h"
#include "state/liveness.h"

namespace overmesh::dataplane {

// One service as one sandbox's load balancer sees it: traffic to `vip` goes to one of
// `backends` (none: refused).
struct LbService {
  std::string serviceId;
  std::string serviceName;
  Ipv4Address vip;
  std::vector<Ipv4Address> backends;  // live tasks' addresses on the VIP's network, sorted
  auto operator<=>(const LbService&) const = default;
};

// The load balancer of one sandbox.
struct SandboxLb {
  std::vector<LbService> services;  // sorted by vip, one per vip
  auto operator<=>(const SandboxLb&) const = default;
};

// Built once per reconcile pass from the agent's cache, then asked per sandbox.
class LbIndex {
 public:
  // Indexes every vip-mode service's VIPs by network, with the addresses of its live
  // tasks (state::isLive) on each. O(services + tasks). What cannot be used is skipped,
  // never thrown: a dnsrr service, a VIP or task address that does not parse, a task
  // attachment on a network where its service has no VIP.
  static LbIndex build(const std::vector<api::Service>& services,
                       const std::vector<api::Task>& tasks, const state::NodeReadiness& nodes);

  // Every vip-mode service with a VIP on one of `networkIds`, with its live backends
  // there, sorted by VIP. Unknown network IDs and repeats are ignored; if two services
  // claim one VIP (the allocator never does that) the one with the smaller service ID
  // wins, so the answer is deterministic. O(services on those networks · log).
  SandboxLb forSandbox(const std::vector<std::string>& networkIds) const;

 private:
  std::unordered_map<std::string, std::vector<LbService>> byNetwork_;
};

}  // namespace overmesh::dataplane
