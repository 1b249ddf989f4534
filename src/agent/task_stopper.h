#pragma once

// Stops this node's tasks off the reconcile thread: drain, then SIGTERM, SIGKILL after
// the task's grace period, then the "shutdown" report. The sandbox is left for the
// reconcile pass to remove (the kernel seam is used from that thread only); the stopper
// wakes it when a stop ends.
//
// Why the drain: when the manager marks a task for shutdown, every node takes it out of
// its DNS answers and load-balancer maps as soon as its watch delivers the change
// (milliseconds here). Stopping the process at that same moment would reset connections
// that a client on another node is still opening to it. kDrainBeforeStop is long enough
// for every watch to apply the change with a wide margin, and short enough that a scale
// down or a rolling update stays fast.
//
// Bounds: at most `maxWorkers` stops run at once (each may wait its whole grace period);
// more wait in a queue. A task is in the stopper at most once.
//
// Threads: workers are started on demand and run until shutdown(). submit(), progress()
// and forget() come from the reconcile thread. mutex_ guards everything below it.

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "agent/task_report_sender.h"
#include "api/types.h"
#include "runtime/runtime.h"

namespace overmesh::agent {

inline constexpr std::chrono::milliseconds kDrainBeforeStop{1000};
// A scale down stops several tasks of a node at once, and a stop mostly waits (drain,
// grace): 8 workers stop 8 tasks together without a thread per task on a big node.
inline constexpr std::size_t kMaxConcurrentStops = 8;
// A record's stop grace is untrusted: negative means none, and it is capped so that a
// stop cannot hold a worker for ever.
inline constexpr std::chrono::milliseconds kMaxStopGrace{std::chrono::minutes(10)};

// The grace of a task whose record is gone: a forced removal (`rm -f`, which Docker does
// with SIGKILL at once). Its addresses are free again as soon as the record goes, so the
// process gets a short chance to end cleanly, not the ten seconds a record would give it.
inline constexpr std::chrono::milliseconds kStopGraceWithoutRecord{2000};

struct StopRequest {
  std::string taskId;
  // The task's record: its shutdown is reported to the manager with the record's
  // message (the manager's reason) or "stopped". Unset when the record is gone (a
  // removed standalone task): nothing is reported.
  std::optional<api::Task> record;
  std::chrono::milliseconds drain{0};  // zero for a task that is not live
  std::chrono::milliseconds grace{0};
};

// The grace period for a record's stopGracePeriodMs, bounded.
std::chrono::milliseconds stopGraceOf(std::int64_t stopGracePeriodMs);

class TaskStopper {
 public:
  // `onStopEnded` is called on a worker after each stop ends (stopped, failed or found
  // exited), outside the lock: the agent wakes its reconcile pass with it.
  TaskStopper(runtime::TaskRuntime& runtime, TaskReportSender& sender,
              std::function<void()> onStopEnded, std::size_t maxWorkers = kMaxConcurrentStops);
  ~TaskStopper();
  TaskStopper(const TaskStopper&) = delete;
  TaskStopper& operator=(const TaskStopper&) = delete;

  // Queues a stop. False (and nothing queued) when the task is in progress already or
  // the stopper is shut down.
  bool submit(StopRequest request);

  struct Progress {
    std::set<std::string> inProgress;  // queued, draining or stopping
    std::set<std::string> stopped;     // stopped by us (and reported): sandbox to remove
  };
  Progress progress() const;

  // The reconcile pass removed the sandbox of a stopped task.
  void forget(const std::string& taskId);

  // Waits until no stop is in progress; false at the timeout.
  bool waitIdle(std::chrono::milliseconds timeout);

  // Drops queued stops, ends drains at once without stopping their tasks (a restarted
  // agent stops them), and waits for the stops already signalled (bounded by their
  // grace). Idempotent.
  void shutdown();

 private:
  void work();  // a worker thread
  // Drain, stop, report. True when this stopper stopped the task.
  bool execute(const StopRequest& request);

  runtime::TaskRuntime& runtime_;
  TaskReportSender& sender_;
  std::function<void()> onStopEnded_;
  std::size_t maxWorkers_;

  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<StopRequest> queue_;     // guarded by mutex_
  std::set<std::string> inProgress_;  // guarded by mutex_
  std::set<std::string> stopped_;     // guarded by mutex_
  std::vector<std::thread> workers_;  // guarded by mutex_
  std::size_t idleWorkers_ = 0;       // guarded by mutex_
  bool shuttingDown_ = false;         // guarded by mutex_
};

}  // namespace overmesh::agent
