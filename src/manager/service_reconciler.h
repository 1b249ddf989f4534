#pragma once

// ServiceReconciler is the manager's orchestration loop: read the cluster (nodes,
// services, tasks), ask the orchestrator what must change, apply it through
// ServiceManager, and go again as soon as the store changes, when the orchestrator asked
// to look again (a restart or update delay ends), or after a second at most.
//
// It reacts within a store watch's latency: a node marked down or a task reported failed
// wakes the watch at once, so replacements are written milliseconds later.
//
// Thread: one thread of its own (start()), which never throws: errors are logged and the
// pass is retried after a short pause.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>

#include "common/error.h"
#include "manager/service_manager.h"
#include "orchestrator/orchestrator.h"
#include "store/store.h"

namespace overmesh::manager {

class ServiceReconciler {
 public:
  using Decide = std::function<orchestrator::Decisions(const orchestrator::ClusterView&)>;

  // `decide` is orchestrator::reconcile in the daemon; tests pass their own.
  ServiceReconciler(store::Store& store, ServiceManager& services, Decide decide);
  ~ServiceReconciler();
  ServiceReconciler(const ServiceReconciler&) = delete;
  ServiceReconciler& operator=(const ServiceReconciler&) = delete;

  // Starts the loop thread. Call once.
  void start();
  // Asks the loop to end (it also ends when the store closes); join() waits for it.
  void requestStop();
  void join();

  struct Pass {
    store::Revision revision = 0;  // the view was read after this revision
    std::optional<std::int64_t> wakeAtMs;
    bool changed = false;  // decisions were not empty
  };
  // One pass: read, decide, apply. Unavailable/Internal on store trouble (what was
  // applied stays applied).
  Result<Pass> runOnce();

  // The longest the loop waits without a change (a safety net, not the mechanism).
  static constexpr std::chrono::milliseconds kMaxIdle{1000};
  // The pause after a failed pass, so a broken store is not hammered.
  static constexpr std::chrono::milliseconds kRetryPause{200};

 private:
  void loop();
  // Waits until a node, service or task changes after `revision`, `wakeAtMs` (ms since
  // the epoch) passes, kMaxIdle elapses or a stop is requested.
  void waitForChange(store::Revision revision, std::optional<std::int64_t> wakeAtMs);
  // Sleeps up to `duration` unless a stop is requested; false when stopping.
  bool pause(std::chrono::milliseconds duration);

  store::Store& store_;
  ServiceManager& services_;
  Decide decide_;
  std::thread thread_;
  std::mutex stopMutex_;
  std::condition_variable stopWake_;
  std::atomic<bool> stopping_{false};  // written under stopMutex_, read anywhere
};

}  // namespace overmesh::manager
