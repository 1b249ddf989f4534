#pragma once

// StackManager deploys and removes stacks (issue 11) on the manager, so that the checks
// that decide whether a deploy may happen and the writes it makes see one state.
//
// deploy(request):
//   1. checks the request alone: the stack name, --resolve-image, the bounds
//      (kMaxStackServices, kMaxStackNetworks, …), each service's stack label and spec
//      (storedServiceSpec, once per service: the plan and the writes use that form).
//   2. pins the images per `resolveImage` (registry I/O: no lock held, before the reads
//      the plan uses).
//   3. under the mutex, reads the cluster's services and networks and checks everything
//      else before anything is written: the network rules (stack_network_rules.h), each
//      service's networks as if the stack's existed, and the service plan
//      (stack_service_plan.h: no service "<stack>_<key>" outside this stack, no mode
//      change; a spec equal to the stored one is left untouched).
//   4. writes: with `prune`, removes the stack's services not in the request first (as
//      Docker), then creates the missing networks, creates new services, updates changed
//      ones. When a write fails, updated services get their previous spec back (with the
//      updateIndex of this deploy's write), then the services and networks this deploy
//      created are removed; the error says what was undone and what was not (a network
//      tasks still hold: how to clean it up). Pruned services are not restored.
//   Every refusal about one service starts with where the file declared it
//   (request.serviceSources: "web.yml:12: services.api: …").
// Deploys are serialised on this manager (one mutex): two deploys of one stack cannot
// interleave.
//
// remove(stack): removes the stack's services, waits (bounded) for their tasks to leave
// the networks, then removes the networks carrying the stack's label. External networks
// never carry it, so they stay. Reports what was removed and what failed.

#include <chrono>
#include <cstddef>
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

// The bounds of one StackDeployRequest, refused with the limit named before anything is
// read. Names and labels inside the specs are bounded by service validation.
inline constexpr std::size_t kMaxStackServices = 1000;
inline constexpr std::size_t kMaxStackNetworks = 200;
inline constexpr std::size_t kMaxStackKeyBytes = 255;      // a network key, a sources name
inline constexpr std::size_t kMaxStackSourceBytes = 1024;  // "web.yml:12: services.web"

// InvalidArgument when `request` exceeds a bound above (naming it). Pure.
Status checkStackDeployBounds(const api::StackDeployRequest& request);

// What a failed deploy undid and could not undo, for its error message.
struct RollbackOutcome {
  std::vector<std::string> restored;       // services given their previous spec back
  std::vector<std::string> removed;        // "service web_api", "network web_default"
  std::vector<std::string> failed;         // what could not be undone, with why
  std::vector<std::string> stuckNetworks;  // created networks tasks still held
  std::vector<std::string> pruned;         // removed by --prune before the failure
};

// The lines appended to a failed deploy's error (each starts with '\n'); for stuck
// networks, how to clean up (overmesh stack rm STACK). Pure.
std::string rollbackReport(const std::string& stack, const RollbackOutcome& outcome);

// The stacks `services` make up (by their namespace label), ordered by name, each with
// the count of its networks: what list() returns, and what a worker answers from its
// cached state. As Docker, a stack with networks but no service is not listed. Pure.
std::vector<api::StackSummary> summarizeStacks(const std::vector<api::Service>& services,
                                               const std::vector<api::Network>& networks);

class StackManager {
 public:
  StackManager(store::Store& store, NetworkManager& networks, ServiceManager& services,
               StackManagerOptions options = {});

  Result<api::StackDeployReply> deploy(const api::StackDeployRequest& request);

  // Stacks (by namespace label of their services), ordered by name.
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
