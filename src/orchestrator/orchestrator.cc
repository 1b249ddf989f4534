#include "orchestrator/orchestrator.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <string_view>
#include <tuple>
#include <unordered_map>

#include "orchestrator/constraints.h"
#include "orchestrator/placement.h"
#include "orchestrator/restart_policy.h"
#include "orchestrator/task_status.h"

namespace overmesh::orchestrator {

namespace {

constexpr std::string_view kReplacedByUpdate = "replaced by rolling update";

// The tasks of one slot of a replicated service, or of one node of a global service.
struct TaskGroup {
  std::int64_t slot = 0;
  const api::Node* node = nullptr;  // global only
  std::vector<const api::Task*> tasks;
};

// An outdated task that runs alone in its group: the rolling update replaces it.
struct OutdatedTask {
  const TaskGroup* group = nullptr;
  const api::Task* task = nullptr;
};

// What reconcile() decided for one service before placement.
struct ServicePlan {
  const api::Service* service = nullptr;
  bool global = false;
  std::vector<Constraint> constraints;
  EligibleNodes eligible;
  std::string problem;
  std::vector<std::int64_t> slotsToPlace;     // replicated: new tasks that need a node
  std::vector<const api::Node*> nodesToFill;  // global: new tasks on these nodes
  // Rolling update: groups whose only task is outdated, groups still changing over, and
  // when the latest new-version task started running.
  std::vector<OutdatedTask> outdated;
  std::size_t inFlight = 0;
  std::optional<std::int64_t> lastNewRunningAtMs;
  // A task of the current version ended by itself and its slot does not run the current
  // version again yet: the update starts no further batch (Docker's default
  // --update-failure-action pause). Lifts once the slot's retry runs, or with a new version.
  bool updatePaused = false;
};

// Most recent first: by updatedAtMs, then ID so that equal times still give one order.
bool moreRecent(const api::Task* a, const api::Task* b) {
  return std::tie(a->updatedAtMs, b->id) > std::tie(b->updatedAtMs, a->id);
}

class Reconciler {
 public:
  explicit Reconciler(const ClusterView& view) : view_(view) {}

  Decisions run() {
    indexNodes();
    std::unordered_map<std::string_view, std::vector<const api::Task*>> tasksByService;
    for (const api::Task& task : view_.tasks) {
      if (shouldRun(task)) {
        load_.add(task.serviceId, task.nodeId);
      }
      if (!task.serviceId.empty()) {
        tasksByService[task.serviceId].push_back(&task);
      }
    }

    std::vector<const api::Service*> services;
    services.reserve(view_.services.size());
    for (const api::Service& service : view_.services) {
      services.push_back(&service);
    }
    std::sort(services.begin(), services.end(),
              [](const api::Service* a, const api::Service* b) { return a->id < b->id; });

    // Phase 1: every shutdown first, so that placement sees the load they free.
    const std::vector<const api::Task*> noTasks;
    std::vector<ServicePlan> plans;
    plans.reserve(services.size());
    for (const api::Service* service : services) {
      auto found = tasksByService.find(service->id);
      const auto& tasks = found == tasksByService.end() ? noTasks : found->second;
      plans.push_back(planService(*service, tasks));
      if (found != tasksByService.end()) {
        tasksByService.erase(found);
      }
    }
    for (const auto& [serviceId, tasks] : tasksByService) {
      planRemovedService(tasks);
    }

    // Phase 2: placement, service by service in ID order.
    for (ServicePlan& plan : plans) {
      place(plan);
    }
    return finish();
  }

 private:
  void indexNodes() {
    for (const api::Node& node : view_.nodes) {
      nodesById_.emplace(node.id, &node);
      nodesSorted_.push_back(&node);
    }
    std::sort(nodesSorted_.begin(), nodesSorted_.end(), [](const api::Node* a, const api::Node* b) {
      return std::tie(a->hostname, a->id) < std::tie(b->hostname, b->id);
    });
    for (const api::Node* node : nodesSorted_) {
      if (node->state == "ready") {
        readyNodes_.push_back(node);
      }
    }
  }

  const api::Node* findNode(const std::string& id) const {
    auto found = nodesById_.find(id);
    return found == nodesById_.end() ? nullptr : found->second;
  }

  bool nodeReady(const std::string& id) const {
    const api::Node* node = findNode(id);
    return node != nullptr && node->state == "ready";
  }

  std::string hostOf(const api::Task& task) const {
    if (const api::Node* node = findNode(task.nodeId)) {
      return node->hostname;
    }
    return task.nodeName.empty() ? task.nodeId : task.nodeName;
  }

  void shutDown(const api::Task& task, std::string reason) {
    decisions_.shutDown.push_back(TaskToShutDown{task.id, std::move(reason)});
    load_.remove(task.serviceId, task.nodeId);
  }

  void wakeAt(std::int64_t atMs) {
    if (!decisions_.wakeAtMs || atMs < *decisions_.wakeAtMs) {
      decisions_.wakeAtMs = atMs;
    }
  }

  ServicePlan planService(const api::Service& service, const std::vector<const api::Task*>& tasks) {
    ServicePlan plan;
    plan.service = &service;
    plan.global = service.spec.mode == "global";
    auto constraints = parseConstraints(service.spec.constraints);
    if (!constraints) {
      // The manager validates constraints before it stores them; a record that still
      // holds a bad one places nothing and stops nothing until it is fixed.
      plan.problem = fmt::format("cannot place tasks: {}", constraints.error().message);
      return plan;
    }
    plan.constraints = std::move(*constraints);
    plan.eligible = eligibleNodes(readyNodes_, plan.constraints);
    if (plan.global) {
      planGlobal(plan, tasks);
    } else {
      planReplicated(plan, tasks);
    }
    return plan;
  }

  void planReplicated(ServicePlan& plan, const std::vector<const api::Task*>& tasks) {
    std::map<std::int64_t, TaskGroup> slots;
    for (const api::Task* task : tasks) {
      slots[task->slot].tasks.push_back(task);
    }
    const std::int64_t replicas = std::max<std::int64_t>(plan.service->spec.replicas, 0);
    for (std::int64_t slot = 1; slot <= replicas; ++slot) {
      slots.try_emplace(slot);
    }
    for (auto& [slot, group] : slots) {
      group.slot = slot;
      const bool wanted = slot >= 1 && slot <= replicas;
      planGroup(plan, group, wanted, "scaled down");
      trimHistory(plan, group);
    }
    // The groups live in `slots`, which plan.outdated points into: update while it exists.
    planRollingUpdate(plan);
  }

  void planGlobal(ServicePlan& plan, const std::vector<const api::Task*>& tasks) {
    std::unordered_map<std::string_view, TaskGroup> byNode;
    for (const api::Task* task : tasks) {
      byNode[task->nodeId].tasks.push_back(task);
    }
    std::vector<TaskGroup> groups;
    groups.reserve(nodesSorted_.size());
    for (const api::Node* node : nodesSorted_) {
      TaskGroup group;
      if (auto found = byNode.find(node->id); found != byNode.end()) {
        group = std::move(found->second);
        byNode.erase(found);
      }
      group.node = node;
      groups.push_back(std::move(group));
    }
    for (TaskGroup& group : groups) {
      // A down node keeps its tasks: they run again when it returns.
      if (group.node->state == "ready") {
        planGroup(plan, group, matches(*group.node, plan.constraints),
                  "constraints no longer satisfied");
      }
      trimHistory(plan, group);
    }
    // Tasks of nodes that left the cluster.
    for (const auto& [nodeId, group] : byNode) {
      for (const api::Task* task : group.tasks) {
        if (shouldRun(*task)) {
          shutDown(*task, "constraints no longer satisfied");
        } else {
          decisions_.remove.push_back(task->id);
        }
      }
    }
    planRollingUpdate(plan);
  }

  // The rules for one slot (replicated) or one node (global): stop what ended or lost
  // its node, refill per the restart policy, resolve duplicates, and note the group's
  // part in a rolling update.
  void planGroup(ServicePlan& plan, const TaskGroup& group, bool wanted,
                 std::string_view unwantedReason) {
    const std::int64_t version = plan.service->version;
    std::vector<const api::Task*> kept;
    bool movedAway = false;  // a task left because of its node: replaced without policy
    const api::Task* endedNow = nullptr;
    for (const api::Task* task : group.tasks) {
      if (!shouldRun(*task)) {
        continue;
      }
      if (!plan.global && !nodeReady(task->nodeId)) {
        shutDown(*task, fmt::format("node {} is down", hostOf(*task)));
        movedAway = true;
        continue;
      }
      if (auto reason = endReason(*task)) {
        shutDown(*task, std::move(*reason));
        if (endedNow == nullptr || moreRecent(task, endedNow)) {
          endedNow = task;
        }
        continue;
      }
      // A node whose labels (or role) changed no longer takes the service's current
      // tasks, as Docker's constraint enforcer decides. Outdated tasks ran under older
      // constraints: the rolling update replaces them at its own pace.
      if (!plan.global && task->specVersion >= version &&
          !matches(*findNode(task->nodeId), plan.constraints)) {
        shutDown(*task, "constraints no longer satisfied");
        movedAway = true;
        continue;
      }
      kept.push_back(task);
    }
    if (!wanted) {
      for (const api::Task* task : kept) {
        shutDown(*task, std::string(unwantedReason));
      }
      return;
    }

    // Normally at most one task per version class remains: the new one and, during a
    // start-first update, the old one it replaces. More is a duplicate: keep the best.
    std::sort(kept.begin(), kept.end(), [version](const api::Task* a, const api::Task* b) {
      auto rank = [version](const api::Task* t) {
        return std::make_tuple(t->specVersion >= version, runsHealthy(*t), t->state == "running");
      };
      if (rank(a) != rank(b)) {
        return rank(a) > rank(b);
      }
      return moreRecent(a, b);
    });
    const api::Task* current = nullptr;
    const api::Task* outdated = nullptr;
    for (const api::Task* task : kept) {
      const bool isCurrent = task->specVersion >= version;
      if (isCurrent && current == nullptr) {
        current = task;
      } else if (!isCurrent && outdated == nullptr) {
        outdated = task;
      } else {
        shutDown(*task, "duplicate task in its slot");
      }
    }

    if (current == nullptr && outdated == nullptr) {
      refill(plan, group, movedAway, endedNow);
      return;
    }
    if (current == nullptr) {
      const api::Task* ended = restartCandidate(group, endedNow);
      if (ended != nullptr && ended->specVersion >= version) {
        // start-first: the new task of this slot ended by itself while the old one still
        // serves. The update pauses; the slot's retry is a restart like any other (not a
        // new batch), and the slot stays in flight meanwhile.
        plan.updatePaused = true;
        RestartVerdict verdict = restartVerdict(plan.service->spec.restartPolicy, *ended,
                                                group.tasks, version, view_.nowMs);
        if (verdict.when == RestartVerdict::When::Now) {
          addTask(plan, group);
          return;
        }
        if (verdict.when == RestartVerdict::When::Later) {
          wakeAt(verdict.dueMs);
        }
        ++plan.inFlight;
        return;
      }
      plan.outdated.push_back(OutdatedTask{&group, outdated});
      return;
    }
    if (current->state == "running" &&
        (!plan.lastNewRunningAtMs || current->updatedAtMs > *plan.lastNewRunningAtMs)) {
      plan.lastNewRunningAtMs = current->updatedAtMs;
    }
    bool inFlight = !runsHealthy(*current);
    if (inFlight) {
      // A retry of a current-version task that ended by itself: paused until it runs.
      const api::Task* ended = restartCandidate(group, endedNow);
      if (ended != nullptr && ended->specVersion >= version) {
        plan.updatePaused = true;
      }
    }
    if (outdated != nullptr) {
      // start-first: the old task stops once its replacement runs (and is healthy).
      if (runsHealthy(*current)) {
        shutDown(*outdated, std::string(kReplacedByUpdate));
      }
      inFlight = true;
    } else {
      inFlight = inFlight || oldTaskStopping(group, version);
    }
    if (inFlight) {
      ++plan.inFlight;
    }
  }

  // An outdated task told to stop that has not stopped yet, on a node that can stop it.
  bool oldTaskStopping(const TaskGroup& group, std::int64_t version) const {
    return std::any_of(group.tasks.begin(), group.tasks.end(), [&](const api::Task* task) {
      return !shouldRun(*task) && task->specVersion < version && !isTerminalState(task->state) &&
             nodeReady(task->nodeId);
    });
  }

  // The task whose end the restart policy judges: the one that ended by itself in this
  // pass, else the group's most recent stopped task if that one ended by itself; null
  // when the group's last task was stopped by the manager (or it never had one).
  static const api::Task* restartCandidate(const TaskGroup& group, const api::Task* endedNow) {
    if (endedNow != nullptr) {
      return endedNow;
    }
    const api::Task* last = nullptr;
    for (const api::Task* task : group.tasks) {
      if (!shouldRun(*task) && (last == nullptr || moreRecent(task, last))) {
        last = task;
      }
    }
    return last != nullptr && endedByItself(*last) ? last : nullptr;
  }

  // A wanted group without a task that should run: a new task now, later, or never.
  // Replacing a task moved away from its node, or one stopped by scale down or an
  // update, is not a restart; replacing one that ended by itself follows the restart
  // policy. A stop-first update creates the replacement only once the old task stopped
  // (or its node is down or gone: it will never report), so both never run at once.
  void refill(ServicePlan& plan, const TaskGroup& group, bool movedAway,
              const api::Task* endedNow) {
    const std::int64_t version = plan.service->version;
    if (oldTaskStopping(group, version)) {
      ++plan.inFlight;
      return;
    }
    const api::Task* ended = movedAway ? nullptr : restartCandidate(group, endedNow);
    if (ended != nullptr) {
      if (ended->specVersion >= version) {
        plan.updatePaused = true;
      }
      RestartVerdict verdict = restartVerdict(plan.service->spec.restartPolicy, *ended, group.tasks,
                                              version, view_.nowMs);
      if (verdict.when == RestartVerdict::When::Never) {
        return;
      }
      if (verdict.when == RestartVerdict::When::Later) {
        wakeAt(verdict.dueMs);
        ++plan.inFlight;
        return;
      }
    }
    addTask(plan, group);
  }

  void addTask(ServicePlan& plan, const TaskGroup& group) {
    if (plan.global) {
      plan.nodesToFill.push_back(group.node);
    } else {
      plan.slotsToPlace.push_back(group.slot);
    }
    ++plan.inFlight;
  }

  // Replaces outdated tasks `parallelism` groups at a time (0 = all), a batch starting
  // `delay` after the last new-version task began running; none while the update is
  // paused by a failed new-version task. Stop-first only stops the old tasks here: their
  // replacements come from refill() once they have stopped.
  void planRollingUpdate(ServicePlan& plan) {
    if (plan.outdated.empty()) {
      return;
    }
    std::vector<OutdatedTask> outdated = std::move(plan.outdated);
    plan.outdated.clear();
    if (plan.updatePaused) {
      return;
    }
    const api::UpdateConfig& update = plan.service->spec.updateConfig;
    if (update.delayMs > 0 && plan.lastNewRunningAtMs &&
        view_.nowMs < *plan.lastNewRunningAtMs + update.delayMs) {
      wakeAt(*plan.lastNewRunningAtMs + update.delayMs);
      return;
    }
    std::size_t budget = outdated.size();
    if (update.parallelism > 0) {
      const auto parallelism = static_cast<std::size_t>(update.parallelism);
      budget = parallelism > plan.inFlight ? parallelism - plan.inFlight : 0;
    }
    const bool startFirst = update.order == "start-first";
    for (std::size_t i = 0; i < std::min(budget, outdated.size()); ++i) {
      if (!plan.global && plan.eligible.nodes.empty()) {
        // Keep the old tasks serving while no node can take their replacements.
        plan.problem = plan.eligible.problem;
        return;
      }
      if (startFirst) {
        addTask(plan, *outdated[i].group);
      } else {
        shutDown(*outdated[i].task, std::string(kReplacedByUpdate));
        ++plan.inFlight;
      }
    }
  }

  // Deletes the oldest finished tasks of a group beyond its history, and the stopped
  // tasks of nodes that left the cluster.
  void trimHistory(const ServicePlan& plan, const TaskGroup& group) {
    std::vector<const api::Task*> finished;
    for (const api::Task* task : group.tasks) {
      if (shouldRun(*task)) {
        continue;
      }
      if (findNode(task->nodeId) == nullptr) {
        decisions_.remove.push_back(task->id);
      } else if (isTerminalState(task->state)) {
        finished.push_back(task);
      }
    }
    const std::size_t keep = historyToKeep(plan.service->spec.restartPolicy, kTaskHistoryPerSlot);
    if (finished.size() <= keep) {
      return;
    }
    std::sort(finished.begin(), finished.end(), moreRecent);
    for (std::size_t i = keep; i < finished.size(); ++i) {
      decisions_.remove.push_back(finished[i]->id);
    }
  }

  void planRemovedService(const std::vector<const api::Task*>& tasks) {
    for (const api::Task* task : tasks) {
      if (shouldRun(*task)) {
        shutDown(*task, "service removed");
      } else if (isTerminalState(task->state) || findNode(task->nodeId) == nullptr) {
        decisions_.remove.push_back(task->id);
      }
    }
  }

  void place(ServicePlan& plan) {
    const api::Service& service = *plan.service;
    for (const api::Node* node : plan.nodesToFill) {
      decisions_.create.push_back(TaskToCreate{service.id, 0, node->id, service.version});
      load_.add(service.id, node->id);
    }
    if (plan.global && plan.eligible.nodes.empty() && plan.problem.empty()) {
      plan.problem = plan.eligible.problem;
    }
    if (!plan.slotsToPlace.empty()) {
      if (plan.eligible.nodes.empty()) {
        plan.problem = plan.eligible.problem;
      }
      auto chosen = spreadTasks(service.id, plan.eligible.nodes, plan.slotsToPlace.size(), load_);
      for (std::size_t i = 0; i < chosen.size(); ++i) {
        decisions_.create.push_back(
            TaskToCreate{service.id, plan.slotsToPlace[i], chosen[i]->id, service.version});
      }
    }
    if (plan.problem != service.placementProblem) {
      decisions_.placementProblems.emplace_back(service.id, plan.problem);
    }
  }

  Decisions finish() {
    std::sort(decisions_.create.begin(), decisions_.create.end(),
              [](const TaskToCreate& a, const TaskToCreate& b) {
                return std::tie(a.serviceId, a.slot, a.nodeId) <
                       std::tie(b.serviceId, b.slot, b.nodeId);
              });
    std::sort(decisions_.shutDown.begin(), decisions_.shutDown.end(),
              [](const TaskToShutDown& a, const TaskToShutDown& b) { return a.taskId < b.taskId; });
    std::sort(decisions_.remove.begin(), decisions_.remove.end());
    decisions_.remove.erase(std::unique(decisions_.remove.begin(), decisions_.remove.end()),
                            decisions_.remove.end());
    std::sort(decisions_.placementProblems.begin(), decisions_.placementProblems.end());
    return std::move(decisions_);
  }

  const ClusterView& view_;
  std::unordered_map<std::string_view, const api::Node*> nodesById_;
  std::vector<const api::Node*> nodesSorted_;  // by hostname, then ID
  std::vector<const api::Node*> readyNodes_;   // the ready ones, same order
  NodeLoad load_;
  Decisions decisions_;
};

}  // namespace

Decisions reconcile(const ClusterView& view) { return Reconciler(view).run(); }

}  // namespace overmesh::orchestrator
