#pragma once

// The restart policy's verdict for a slot (or a global service's node) whose last task
// ended by itself: replace it now, at a later time, or never. Pure.

#include <cstdint>
#include <vector>

#include "api/service_types.h"
#include "api/types.h"

namespace overmesh::orchestrator {

struct RestartVerdict {
  enum class When { Now, Later, Never };
  When when = When::Now;
  std::int64_t dueMs = 0;  // for Later: ended.updatedAtMs + delayMs
};

// `ended` is the slot's most recent task, which ended by itself (endedByItself());
// `slotTasks` are all the slot's tasks, `ended` included, for counting earlier attempts;
// `serviceVersion` is the service's current spec version.
//  - condition "none": Never; "on-failure": Never unless endedInFailure(ended); otherwise
//    (including an unknown condition, read as Docker's default "any") it may restart;
//  - maxAttempts > 0: Never once the slot was already restarted maxAttempts times, i.e.
//    when that many of its other tasks of serviceVersion ended by themselves (within
//    windowMs before nowMs; windowMs 0 = ever). As Docker: max attempts 2 means at most 2
//    restarts.
//  - the policy judges one spec version at a time, as Docker resets a slot's restart
//    history when the service changes: when `ended` ran an older version, neither the
//    condition nor the attempts apply (the new version gets its first run; this is how
//    `service update` resumes an update paused by a failure), only the delay.
//  - delayMs: Later while nowMs < ended.updatedAtMs + delayMs.
RestartVerdict restartVerdict(const api::RestartPolicy& policy, const api::Task& ended,
                              const std::vector<const api::Task*>& slotTasks,
                              std::int64_t serviceVersion, std::int64_t nowMs);

// How many finished tasks of one slot the history must keep so that maxAttempts can still
// be counted: kTaskHistoryPerSlot, or maxAttempts + 1 when that is more.
std::size_t historyToKeep(const api::RestartPolicy& policy, std::size_t defaultHistory);

}  // namespace overmesh::orchestrator
