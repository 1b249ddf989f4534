#include "orchestrator/restart_policy.h"

#include <algorithm>

#include "orchestrator/task_status.h"

namespace overmesh::orchestrator {

RestartVerdict restartVerdict(const api::RestartPolicy& policy, const api::Task& ended,
                              const std::vector<const api::Task*>& slotTasks,
                              std::int64_t serviceVersion, std::int64_t nowMs) {
  using When = RestartVerdict::When;
  const bool sameVersion = ended.specVersion >= serviceVersion;
  if (sameVersion && policy.condition == "none") {
    return {When::Never, 0};
  }
  if (sameVersion && policy.condition == "on-failure" && !endedInFailure(ended)) {
    return {When::Never, 0};
  }
  if (sameVersion && policy.maxAttempts > 0) {
    std::int64_t restarts = 0;
    for (const api::Task* task : slotTasks) {
      if (task->id == ended.id || task->specVersion < serviceVersion || !endedByItself(*task)) {
        continue;
      }
      if (policy.windowMs > 0 && task->updatedAtMs < nowMs - policy.windowMs) {
        continue;
      }
      ++restarts;
    }
    if (restarts >= policy.maxAttempts) {
      return {When::Never, 0};
    }
  }
  const std::int64_t due = ended.updatedAtMs + std::max<std::int64_t>(policy.delayMs, 0);
  if (nowMs < due) {
    return {When::Later, due};
  }
  return {When::Now, 0};
}

std::size_t historyToKeep(const api::RestartPolicy& policy, std::size_t defaultHistory) {
  if (policy.maxAttempts <= 0) {
    return defaultHistory;
  }
  // Bounded by the attempts themselves: once they are spent no new task is created.
  const auto needed = static_cast<std::uint64_t>(policy.maxAttempts) + 1;
  return std::max<std::size_t>(defaultHistory, static_cast<std::size_t>(needed));
}

}  // namespace overmesh::orchestrator
