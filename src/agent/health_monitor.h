#pragma once

// Runs the health checks of this node's running tasks and says when a task's health
// changes. The rules are health_rules.h; this class schedules checks on an injected
// clock, runs each one (runtime exec inside the task, with the check's timeout) on a
// thread of its own, and hands transitions to `onChange`.
//
// Bounds: at most one check per task at a time (the next is scheduled an interval after
// the previous one ends, so slow checks never pile up), and at most `maxInFlight` checks
// at once on the node; a due check waits for a free slot.
//
// Threads: the scheduler thread (start()/stop()) wakes when a check is due; each check
// runs on its own short-lived thread, joined by the scheduler. watch()/unwatch() come
// from the agent's reconcile thread. `onChange` is called on a check's thread, outside
// mutex_, and must not call back into the monitor. mutex_ guards tasks_, threads_,
// finished_, inFlight_, wakeups_ and stopping_.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "agent/health_rules.h"
#include "api/types.h"
#include "common/clock.h"
#include "runtime/runtime.h"

namespace overmesh::agent {

class HealthMonitor {
 public:
  using OnChange = std::function<void(const std::string& taskId, const std::string& health,
                                      const std::string& message)>;
  // Each check is a thread and a process forked into the task. 16 at once keeps a node
  // with many checked tasks from a fork storm, while a few checks hanging until their
  // timeout still leave room for the others.
  static constexpr std::size_t kMaxInFlight = 16;

  HealthMonitor(runtime::TaskRuntime& runtime, const Clock& clock, OnChange onChange,
                std::size_t maxInFlight = kMaxInFlight);
  ~HealthMonitor();
  HealthMonitor(const HealthMonitor&) = delete;
  HealthMonitor& operator=(const HealthMonitor&) = delete;

  void start();
  // Stops the scheduler, waits for the checks in flight (each ends at its timeout, or at
  // once when the runtime's execs are cancelled) and drops their results.
  void stop();

  // Starts checking a running task that has a health check (no-op when it is watched
  // already or has none). A task the record already calls healthy or unhealthy (an agent
  // restarted under it) keeps that health and its start period counts as over, so a
  // restart does not take healthy tasks out of DNS; otherwise it starts "starting".
  // Returns the task's initial health and message when it was not watched before, for
  // the first report; nullopt otherwise.
  struct Initial {
    std::string health;
    std::string message;
  };
  std::optional<Initial> watch(const api::Task& task);
  // Stops checking the task; a check in flight finishes but its result is dropped.
  void unwatch(const std::string& taskId);
  // Unwatches every task not in `taskIds`.
  void retain(const std::set<std::string>& taskIds);
  // "" when the task is not watched.
  std::string health(const std::string& taskId) const;

  // Starts every check that is due now and joins the check threads that ended. Returns
  // when the next check is due (nullopt: nothing watched, or every watched task's check
  // is in flight). The scheduler thread's step; tests call it instead of start().
  std::optional<std::chrono::steady_clock::time_point> runDueChecks();
  // Waits until no check is in flight, and joins their threads.
  void waitForChecks();

 private:
  struct Watched {
    std::uint64_t generation = 0;  // changes when re-watched: a stale result is dropped
    std::vector<std::string> command;
    HealthSettings settings;
    HealthProgress progress;
    std::chrono::steady_clock::time_point since;  // first seen running
    std::chrono::steady_clock::time_point due;
    bool inFlight = false;
  };
  void run();  // the scheduler thread
  void runCheck(std::string taskId, std::uint64_t generation, std::vector<std::string> command,
                std::chrono::milliseconds timeout, std::uint64_t threadId);
  // Joins the threads of checks that ended. Requires the lock; releases it to join.
  void joinFinished(std::unique_lock<std::mutex>& lock);

  runtime::TaskRuntime& runtime_;
  const Clock& clock_;
  OnChange onChange_;
  std::size_t maxInFlight_;

  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::map<std::string, Watched> tasks_;          // guarded by mutex_
  std::map<std::uint64_t, std::thread> threads_;  // guarded by mutex_: checks started
  std::vector<std::uint64_t> finished_;           // guarded by mutex_: ended, not yet joined
  std::size_t inFlight_ = 0;                      // guarded by mutex_
  std::uint64_t nextId_ = 1;                      // guarded by mutex_
  std::uint64_t wakeups_ = 0;                     // guarded by mutex_: bumped on news
  bool stopping_ = false;                         // guarded by mutex_
  std::thread scheduler_;
};

}  // namespace overmesh::agent
