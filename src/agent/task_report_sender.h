#pragma once

// What the agent tells the manager about its tasks, sent once per change. Three threads
// report (the reconcile pass, the stop workers, the health checks); this class is the
// one place that decides whether a report is news, merges a running task's health into
// it, and keeps the manager seeing the reports of a task in the order they were made.
//
// Thread safety: every method is thread-safe. sendMutex_ is held across the reporter
// call, so two reports never race each other to the manager; the reporter bounds its own
// time (the remote one times out after 10 s). No API request thread takes this lock.

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>

#include "api/types.h"
#include "common/error.h"

namespace overmesh::agent {

// What the agent tells the manager about a task.
struct TaskReport {
  std::string state;  // "preparing" | "running" | "exited" | "failed" | "shutdown" | "rejected"
  std::string message;
  std::int64_t exitCode = 0;
  std::string health;  // "" (no health check) | "starting" | "healthy" | "unhealthy"
  bool operator==(const TaskReport&) const = default;
};
using StatusReporter = std::function<Status(const std::string& taskId, const TaskReport& report)>;

// True for an observed state a task never leaves: exited, failed, shutdown, rejected.
bool isFinalState(const std::string& state);

class TaskReportSender {
 public:
  explicit TaskReportSender(StatusReporter reporter);

  // Sends `report` about `task` unless it is what was last sent for the task or what the
  // task's record already says. A "running" report carries the task's health as last
  // given to setHealth() (and, when unhealthy and the report has no message, the health
  // message); other states carry no health. Returns true when the manager has the report
  // (now or before), false when sending failed (logged; the caller's next pass retries).
  bool send(const api::Task& task, TaskReport report);

  // A running task's health changed (health checks): remembered for later running
  // reports, and sent at once as a running report when the last report about the task
  // said running. Nothing is sent for a task not reported running yet (its first
  // running report carries the health) or no longer running.
  void setHealth(const std::string& taskId, std::string health, std::string message);

  // True when the last report sent (or found in the record) about the task has a final
  // state: a later pass must not contradict it while the cache lags behind.
  bool reportedFinal(const std::string& taskId) const;

  // The task has no health check running any more (stopped, exited).
  void clearHealth(const std::string& taskId);

  // Forgets every task not in `taskIds` (their records are gone): memory stays bounded
  // by the tasks the cache holds.
  void retain(const std::set<std::string>& taskIds);

 private:
  struct Health {
    std::string health;
    std::string message;
  };
  // Adds the remembered health to a running report. Requires sendMutex_.
  TaskReport merged(const std::string& taskId, TaskReport report) const;
  // Sends unless equal to the last one; records it on success. Requires sendMutex_.
  bool deliver(const std::string& taskId, const TaskReport& report);

  StatusReporter reporter_;
  mutable std::mutex sendMutex_;
  std::map<std::string, TaskReport> last_;  // guarded by sendMutex_: sent or seen in the record
  std::map<std::string, Health> health_;    // guarded by sendMutex_
};

}  // namespace overmesh::agent
