#pragma once

// The orchestrator's decisions: what must change so that every service has the tasks its
// spec asks for. Pure: it reads a view of the cluster (nodes, services, tasks, the time)
// and returns decisions; the manager's ServiceManager applies them (allocating addresses,
// writing records) and calls it again on the next change. Unit-tested without a Store.
//
// The rules (Docker Swarm's, with the differences named):
//  - replicated: slots 1..replicas, one task that should run per slot; global: one task
//    per ready node that satisfies the constraints.
//  - a task that exits or fails while it should run is shut down (its record stays as
//    history) and, per the restart policy, a new task takes its slot after the delay,
//    unless max attempts in the window are spent; an unhealthy task is treated as failed.
//  - the tasks of a node that is down are shut down and replaced on ready nodes (global
//    tasks stay: they run again when their node returns).
//  - scale down shuts down the highest slots; scale up adds the missing ones.
//  - tasks of an older spec version are replaced as a rolling update: `parallelism`
//    slots at a time, `delay` after the previous batch runs, stop-first or start-first.
//  - placement spreads a service's tasks over the eligible nodes (fewest tasks of this
//    service, then fewest tasks overall, then hostname).
//  - history: at most kTaskHistoryPerSlot finished tasks are kept per slot (per node for
//    global); older ones are deleted, as are the finished tasks of removed services.
//
// Details the implementation settles (orchestrator.cc, restart_policy.h, task_status.h):
//  - a task "ended by itself" when it exited, failed or was rejected, or is unhealthy;
//    only those are restarts. Replacing a task whose node is down or gone, that scale
//    down or an update stopped, or that no longer satisfies the constraints (a current-
//    version replicated task whose node's labels changed, as Docker's constraint
//    enforcer) is immediate and ignores the restart policy.
//  - max attempts counts restarts as Docker does: maxAttempts 2 = at most 2 replacements
//    of a slot's task that ended by itself (within the window); the history keeps
//    maxAttempts + 1 finished tasks when that is more than kTaskHistoryPerSlot.
//  - delays count from the ended task's updatedAtMs; wakeAtMs is the earliest due time.
//  - a rolling update slot is in flight while its new task is not running (and healthy)
//    or its old task has not stopped; start-first retries a failed new task per the
//    restart policy while the old one keeps serving; stop-first stops nothing while no
//    node can take the replacement (placementProblems says why).
//  - stop-first creates a slot's new task only once its old task has stopped (a terminal
//    state), or at once when the old task's node is down or gone (it will never report).
//  - a task of the current version that ends by itself pauses the update (Docker's
//    default --update-failure-action pause, both orders): no further batch starts while
//    its slot does not run the current version again; the restart policy still retries
//    the slot. A new version (`service update`, or --force) resumes it: the restart
//    policy judges one spec version at a time (restart_policy.h). No text says why yet:
//    the failed task's own state and message do.
//  - global tasks of a node that left the cluster are shut down ("constraints no longer
//    satisfied"); stopped tasks of a node that left are deleted.
//  - output is sorted (create by service, slot, node; shutDown and remove by task ID);
//    O(tasks + services × nodes + placements × log nodes).

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "api/service_types.h"
#include "api/types.h"

namespace overmesh::orchestrator {

inline constexpr std::size_t kTaskHistoryPerSlot = 5;

struct ClusterView {
  std::vector<api::Node> nodes;
  std::vector<api::Service> services;
  std::vector<api::Task> tasks;  // every task, standalone ones included (for load)
  std::int64_t nowMs = 0;        // wall clock, as Task::updatedAtMs
};

// A task to create. The manager gives it an ID, the name <service>.<slot>.<id> (or
// <service>.<node id>.<id> for global), addresses on the service's networks, and copies
// of the service's command, env, health check and stop grace at `specVersion`.
struct TaskToCreate {
  std::string serviceId;
  std::int64_t slot = 0;  // 0 for global
  std::string nodeId;
  std::int64_t specVersion = 0;
};

// A task to stop: its desiredState becomes "shutdown" (it leaves DNS and the load
// balancers at once; its node drains and stops it).
struct TaskToShutDown {
  std::string taskId;
  std::string reason;  // shown as the task's message, e.g. "replaced by rolling update"
};

struct Decisions {
  std::vector<TaskToCreate> create;
  std::vector<TaskToShutDown> shutDown;
  std::vector<std::string> remove;  // task IDs whose records are deleted (old history)
  // Per service whose placementProblem should change: the new text ("" = resolved).
  std::vector<std::pair<std::string, std::string>> placementProblems;
  // When the orchestrator must look again even if nothing changes (a restart delay or an
  // update delay ends): the earliest such time, ms since the epoch.
  std::optional<std::int64_t> wakeAtMs;

  bool empty() const {
    return create.empty() && shutDown.empty() && remove.empty() && placementProblems.empty();
  }
};

Decisions reconcile(const ClusterView& view);

}  // namespace overmesh::orchestrator
