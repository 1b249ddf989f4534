#pragma once

// StackManager deploys and removes stacks (issue 11) on the manager, so that the checks
// that decide whether a deploy may happen and the writes it makes see one state.
//
// deploy(request):
//   1. validates the request completely before anything is written: the stack name, every
//      service spec (service_validation.h) with the stack's networks as if they existed,
//      and the network rules (stack_network_rules.h) against the cluster's networks:
//        - an external network must exist and be an overlay the services may join;
//        - a network to create whose name exists without this stack's label is refused;
//          one that carries this stack's label is reused as it is;
//      and that no service "<stack>_<key>" exists outside this stack.
//   2. creates the missing networks, then creates new services and updates changed ones
//      (stack_service_plan.h decides which: a service whose spec equals the stored one,
//      after image resolution per `resolveImage`, is left untouched), then, with
//      `prune`, removes the stack's services not in the request.
//   3. when a write fails midway, removes what this deploy created (networks and
//      services) and reports the failure; services already updated keep their new spec
//      (the message says which).
// Deploys are serialised on this manager (one mutex): two deploys of one stack cannot
// interleave.
//
// remove(stack): removes the stack's services, waits (bounded) for their tasks to leave
// the networks, then removes the networks carrying the stack's label. External networks
// never carry it, so they stay. Reports what was removed and what failed.

#include <chrono>
#include <mutex>
#include <string>
#include <vector>

#include "api/stack_types.h"
#include "common/error.h"
#include "manager/network_manager.h"
#include "manager/service_manager.h"
#include "store/store.h"

namespace overmesh::manager {

// How long remove() (and a deploy's rollback) waits for the tasks of removed services to
// leave the stack's networks before removing them (NetworkManager::remove refuses a
// network tasks are attached to), and how often it looks.
struct StackManagerOptions {
  std::chrono::milliseconds taskDrainTimeout{30000};
  std::chrono::milliseconds taskDrainPoll{100};
};

// The stacks `services` and `networks` make up (by their namespace label), ordered by
// name: what list() returns, and what a worker answers from its cached state. Pure.
std::vector<api::StackSummary> summarizeStacks(const std::vector<api::Service>& services,
                                               const std::vector<api::Network>& networks);

class StackManager {
 public:
  StackManager(store::Store& store, NetworkManager& networks, ServiceManager& services,
               StackManagerOptions options = {});

  Result<api::StackDeployReply> deploy(const api::StackDeployRequest& request);

  // Stacks (by namespace label of services and networks), ordered by name.
  Result<std::vector<api::StackSummary>> list();

  // NotFound ("Nothing found in stack: NAME") when no service or network carries the label.
  Result<api::StackRemoveReply> remove(const std::string& stack);

 private:
  // Waits (bounded by options_) until no task of `serviceIds` is left in the store.
  // Returns false when some are still there at the deadline.
  bool waitForTasksGone(const std::vector<std::string>& serviceIds);

  store::Store& store_;
  NetworkManager& networks_;
  ServiceManager& services_;
  StackManagerOptions options_;
  // Serialises deploy() and remove(): held for a whole deploy or removal.
  std::mutex mutex_;
};

}  // namespace overmesh::manager
