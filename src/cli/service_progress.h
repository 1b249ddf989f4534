#pragma once

// Progress of `service create|update|scale` until the service converges, Docker's shape:
//
//   overall progress: 2 out of 3 tasks
//   1/3: running
//   2/3: starting
//   3/3: pending
//   verify: Service converged
//
// Pure: the command polls the service and its tasks and hands them here with the time;
// this decides what to print and whether the watch is over. Unit-tested with fixed times.
//
// Converged: every slot 1..replicas (global: every node that should run the service) has
// a task of the service's current version (Task::specVersion == Service::version) that
// should run, runs, and is healthy when it has a health check; and no task of a slot
// above `replicas` should still run (a scale-down is done). It must then stay converged
// for the verify period before the watch ends.
//
// Cannot converge (the watch fails with these reasons):
//  - Service::placementProblem has been non-empty for the placement grace period;
//  - a slot that is not done has had kMaxFailuresPerSlot tasks of the current version end
//    (failed, rejected or exited), or fewer when the restart policy will not start
//    another: condition "none" (one), "on-failure" after a clean exit (one), max attempts
//    without a window (1 + max attempts).

#include <cstdint>
#include <optional>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include "api/service_types.h"
#include "api/types.h"

namespace overmesh::cli {

inline constexpr int kMaxFailuresPerSlot = 3;

// One slot (replicated) or node (global) as the progress shows it.
struct SlotProgress {
  std::string label;  // "1/3" or, for global, the node's hostname
  std::string state;  // "running", "starting", "pending", "new", "failed: …"
  bool done = false;  // runs the current version, healthy
};

struct ProgressSnapshot {
  std::int64_t done = 0;   // slots done
  std::int64_t total = 0;  // slots wanted
  std::vector<SlotProgress> slots;
  bool converged = false;
  // Set when the service cannot converge: each line names a failed task and its error,
  // or says why the service cannot be placed.
  std::vector<std::string> failures;
};

// The progress of `service` from `tasks` (any tasks: those of other services are
// ignored). Tasks whose IDs are in `endedBefore` do not count as failures (they ended
// before this command changed the service). Does not look at placementProblem (that
// needs time: ProgressWatch does).
ProgressSnapshot computeProgress(const api::Service& service, const std::vector<api::Task>& tasks,
                                 const std::set<std::string>& endedBefore = {});

// The lines to print for a snapshot: "overall progress: …" then one per slot.
std::vector<std::string> progressLines(const ProgressSnapshot& snapshot);

struct ProgressTimings {
  // How long the service must stay converged before `verify: Service converged`. Docker
  // waits 5 s because its task states reach the manager through batched dispatcher
  // updates; our agent reports a task's exit as soon as its process ends and a health
  // change at the check, so a task that crashes right after starting is seen within one
  // or two 200 ms polls. 1 s covers that with margin and keeps scripted create-then-use
  // fast. (A task that fails later is the restart policy's business, as in Docker.)
  std::int64_t verifyMs = 1000;
  // How long a placement problem may last before the watch gives up: a node may be
  // joining or just back, and the orchestrator resolves the problem on its next pass.
  std::int64_t placementGraceMs = 5000;
};

enum class ProgressPhase { Watching, Verifying, Converged, Failed };

struct ProgressStep {
  ProgressPhase phase = ProgressPhase::Watching;
  ProgressSnapshot snapshot;
};

// Tracks one watch over successive polls (the times convergence and a placement problem
// were first seen). Not thread-safe; one per command.
class ProgressWatch {
 public:
  explicit ProgressWatch(ProgressTimings timings = {}) : timings_(timings) {}

  // Remembers the tasks that have already ended, read before the command changed the
  // service (update, scale): their failures are history, not this change's.
  void setBaseline(const std::vector<api::Task>& tasks);

  // One poll's view. nowMs: any monotonic clock in ms, the same for every call.
  ProgressStep observe(const api::Service& service, const std::vector<api::Task>& tasks,
                       std::int64_t nowMs);

 private:
  ProgressTimings timings_;
  std::optional<std::int64_t> convergedSinceMs_;
  std::optional<std::int64_t> placementProblemSinceMs_;
  std::set<std::string> endedBefore_;
};

// The lines to print at one step: progressLines, then the verify line when verifying
// ("verify: Waiting 1 second to verify that tasks are stable...") or converged
// ("verify: Service converged").
std::vector<std::string> progressStepLines(const ProgressStep& step,
                                           const ProgressTimings& timings);

// Prints successive sets of progress lines. On a terminal it redraws them in place
// (cursor up, clear to the end of the screen, print); otherwise it prints only the lines
// that differ from the previous set at the same position, so that a log stays short.
class ProgressPrinter {
 public:
  ProgressPrinter(std::ostream& out, bool terminal) : out_(out), terminal_(terminal) {}

  void show(const std::vector<std::string>& lines);

 private:
  std::ostream& out_;
  bool terminal_;
  std::vector<std::string> shown_;
};

}  // namespace overmesh::cli
