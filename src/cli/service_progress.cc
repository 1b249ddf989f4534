#include "cli/service_progress.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "cli/service_tasks.h"
#include "common/ids.h"
#include "common/quote.h"

namespace overmesh::cli {
namespace {

// The tasks of one slot (or node), newest first.
using SlotTasks = std::vector<const api::Task*>;

bool currentVersion(const api::Service& service, const api::Task& task) {
  return task.specVersion == service.version;
}

bool shouldRun(const api::Task& task) { return task.desiredState == "running"; }

// Why a task ended, one line: its message, else its exit code.
std::string endReason(const api::Task& task) {
  std::string reason = printable(task.message);
  if (reason.empty()) {
    reason = task.exitCode != 0 ? fmt::format("exit code {}", task.exitCode) : task.state;
  }
  return reason;
}

// How many ended tasks of the current version make a slot that is not done hopeless.
int failureLimit(const api::RestartPolicy& policy, const SlotTasks& ended) {
  if (policy.condition == "none") {
    return 1;
  }
  if (policy.condition == "on-failure" && !ended.empty() && ended.front()->state == "exited" &&
      ended.front()->exitCode == 0) {
    return 1;  // a clean exit is not restarted on-failure
  }
  int limit = kMaxFailuresPerSlot;
  if (policy.maxAttempts > 0 && policy.windowMs == 0) {
    limit = static_cast<int>(std::min<std::int64_t>(limit, policy.maxAttempts + 1));
  }
  return limit;
}

// The task a slot's progress line describes: the newest of the current version that
// should run, else the newest of the current version, else the newest.
const api::Task* representative(const api::Service& service, const SlotTasks& tasks) {
  for (const auto* task : tasks) {
    if (currentVersion(service, *task) && shouldRun(*task)) {
      return task;
    }
  }
  for (const auto* task : tasks) {
    if (currentVersion(service, *task)) {
      return task;
    }
  }
  return tasks.empty() ? nullptr : tasks.front();
}

std::string stateText(const api::Service& service, const api::Task* task) {
  if (task == nullptr) {
    return "new";
  }
  if (taskEnded(*task)) {
    return fmt::format("{}: {}", task->state, endReason(*task));
  }
  std::string state = printable(task->state);
  if (task->state == "running" && task->healthCheck && task->health != "healthy") {
    state = task->health == "unhealthy" ? "unhealthy" : "starting";
  }
  // Its image being pulled: the pull's progress, so the user sees it move.
  if (task->state == "preparing" && !task->message.empty()) {
    state += ": " + printable(task->message, kQuotedMax);
  }
  if (!currentVersion(service, *task)) {
    state += " (previous version)";
  }
  return state;
}

// Evaluates one slot; appends its failure lines when it cannot converge.
SlotProgress evaluateSlot(const api::Service& service, std::string label, const SlotTasks& tasks,
                          const std::set<std::string>& endedBefore,
                          std::vector<std::string>& failures) {
  SlotProgress slot;
  slot.label = std::move(label);
  for (const auto* task : tasks) {
    if (currentVersion(service, *task) && shouldRun(*task) && taskRunsHealthy(*task)) {
      slot.done = true;
    }
  }
  slot.state = stateText(service, representative(service, tasks));
  if (slot.done) {
    return slot;
  }
  SlotTasks ended;
  for (const auto* task : tasks) {
    if (currentVersion(service, *task) && taskEnded(*task) && !endedBefore.contains(task->id)) {
      ended.push_back(task);
    }
  }
  if (!ended.empty() &&
      static_cast<int>(ended.size()) >= failureLimit(service.spec.restartPolicy, ended)) {
    for (const auto* task : ended) {
      failures.push_back(fmt::format("{}: {}", printable(task->name), endReason(*task)));
    }
  }
  return slot;
}

// Global: the nodes that should run the service are those with a task that should run,
// or whose newest task of the current version ended on its own (a failing node must not
// drop out of the count while its restart waits).
bool nodeWanted(const api::Service& service, const SlotTasks& tasks) {
  for (const auto* task : tasks) {
    if (shouldRun(*task)) {
      return true;
    }
  }
  for (const auto* task : tasks) {
    if (currentVersion(service, *task)) {
      return taskEnded(*task);
    }
  }
  return false;
}

}  // namespace

ProgressSnapshot computeProgress(const api::Service& service, const std::vector<api::Task>& tasks,
                                 const std::set<std::string>& endedBefore) {
  ProgressSnapshot snapshot;
  std::vector<api::Task> own = tasksOfService(service, tasks);
  // Slot or node → its tasks, newest first (tasksOfService's order).
  std::map<std::int64_t, SlotTasks> bySlot;
  std::vector<std::pair<std::string, SlotTasks>> byNode;
  for (const auto& task : own) {
    if (service.spec.mode == "global") {
      if (byNode.empty() || byNode.back().first != task.nodeId) {
        byNode.emplace_back(task.nodeId, SlotTasks{});
      }
      byNode.back().second.push_back(&task);
    } else {
      bySlot[task.slot].push_back(&task);
    }
  }

  bool extraRunning = false;
  if (service.spec.mode == "global") {
    for (const auto& [nodeId, nodeTasks] : byNode) {
      if (!nodeWanted(service, nodeTasks)) {
        continue;
      }
      const std::string& hostname = nodeTasks.front()->nodeName;
      snapshot.slots.push_back(
          evaluateSlot(service, hostname.empty() ? shortId(nodeId) : printable(hostname), nodeTasks,
                       endedBefore, snapshot.failures));
    }
  } else {
    std::int64_t replicas = service.spec.replicas;
    for (std::int64_t slot = 1; slot <= replicas; ++slot) {
      auto found = bySlot.find(slot);
      snapshot.slots.push_back(evaluateSlot(service, fmt::format("{}/{}", slot, replicas),
                                            found == bySlot.end() ? SlotTasks{} : found->second,
                                            endedBefore, snapshot.failures));
    }
    for (const auto& [slot, slotTasks] : bySlot) {
      if (slot < 1 || slot > replicas) {
        extraRunning = extraRunning ||
                       std::any_of(slotTasks.begin(), slotTasks.end(), [](const api::Task* task) {
                         return shouldRun(*task) || task->state == "running";
                       });
      }
    }
  }
  snapshot.total = static_cast<std::int64_t>(snapshot.slots.size());
  snapshot.done = std::count_if(snapshot.slots.begin(), snapshot.slots.end(),
                                [](const SlotProgress& slot) { return slot.done; });
  // A global service with no node yet is not converged: the orchestrator has not placed
  // it (or cannot: placementProblem says why).
  bool placed = service.spec.mode != "global" || snapshot.total > 0;
  snapshot.converged = placed && snapshot.done == snapshot.total && !extraRunning;
  return snapshot;
}

std::vector<std::string> progressLines(const ProgressSnapshot& snapshot) {
  std::vector<std::string> lines;
  lines.push_back(
      fmt::format("overall progress: {} out of {} tasks", snapshot.done, snapshot.total));
  for (const auto& slot : snapshot.slots) {
    lines.push_back(fmt::format("{}: {}", slot.label, slot.state));
  }
  return lines;
}

void ProgressWatch::setBaseline(const std::vector<api::Task>& tasks) {
  for (const auto& task : tasks) {
    if (taskEnded(task)) {
      endedBefore_.insert(task.id);
    }
  }
}

ProgressStep ProgressWatch::observe(const api::Service& service,
                                    const std::vector<api::Task>& tasks, std::int64_t nowMs) {
  ProgressStep step;
  step.snapshot = computeProgress(service, tasks, endedBefore_);
  if (service.placementProblem.empty() || step.snapshot.converged) {
    placementProblemSinceMs_.reset();
  } else if (!placementProblemSinceMs_) {
    placementProblemSinceMs_ = nowMs;
  }
  if (placementProblemSinceMs_ && nowMs - *placementProblemSinceMs_ >= timings_.placementGraceMs) {
    step.snapshot.failures.push_back(
        fmt::format("{}: {}", printable(service.spec.name), printable(service.placementProblem)));
  }
  if (!step.snapshot.failures.empty()) {
    step.phase = ProgressPhase::Failed;
    convergedSinceMs_.reset();
    return step;
  }
  if (!step.snapshot.converged) {
    convergedSinceMs_.reset();
    step.phase = ProgressPhase::Watching;
    return step;
  }
  if (!convergedSinceMs_) {
    convergedSinceMs_ = nowMs;
  }
  step.phase = nowMs - *convergedSinceMs_ >= timings_.verifyMs ? ProgressPhase::Converged
                                                               : ProgressPhase::Verifying;
  return step;
}

std::vector<std::string> progressStepLines(const ProgressStep& step,
                                           const ProgressTimings& timings) {
  std::vector<std::string> lines = progressLines(step.snapshot);
  if (step.phase == ProgressPhase::Verifying) {
    std::int64_t seconds = std::max<std::int64_t>(1, (timings.verifyMs + 999) / 1000);
    lines.push_back(fmt::format("verify: Waiting {} second{} to verify that tasks are stable...",
                                seconds, seconds == 1 ? "" : "s"));
  } else if (step.phase == ProgressPhase::Converged) {
    lines.emplace_back("verify: Service converged");
  }
  return lines;
}

void ProgressPrinter::show(const std::vector<std::string>& lines) {
  if (terminal_) {
    if (lines == shown_) {
      return;
    }
    if (!shown_.empty()) {
      // Up to the first line shown, then clear everything below it.
      out_ << "\x1b[" << shown_.size() << "A\r\x1b[J";
    }
    for (const auto& line : lines) {
      out_ << line << '\n';
    }
  } else {
    for (std::size_t i = 0; i < lines.size(); ++i) {
      if (i >= shown_.size() || shown_[i] != lines[i]) {
        out_ << lines[i] << '\n';
      }
    }
  }
  out_.flush();
  shown_ = lines;
}

}  // namespace overmesh::cli
