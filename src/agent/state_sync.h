#pragma once

// StateSync keeps a StateCache current: a snapshot, then watch long-polls from the
// cache's revision + 1. After a disconnect it resumes from the revision it had (no
// event lost, none applied twice); when that history was compacted it takes a new
// snapshot. Runs on its own thread (started by start(), joined by stop()).

#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "agent/state_cache.h"
#include "agent/state_source.h"
#include "agent/stop_signal.h"

namespace overmesh::agent {

class StateSync {
 public:
  StateSync(std::unique_ptr<StateSource> source, StateCache& cache);
  ~StateSync();

  // Sets the source when it could not be made before the sync (it needs cancelFlag()).
  // Call before start().
  void setSource(std::unique_ptr<StateSource> source) { source_ = std::move(source); }

  void start();
  // Asks the thread to finish without waiting for it; stop() waits.
  void requestStop() { stop_.stop(); }
  void stop();

  // Cancels long-polls when set; hand it to a RemoteStateSource.
  const std::atomic<bool>* cancelFlag() const { return stop_.flag(); }

  bool connected() const;
  std::string lastError() const;

 private:
  void run();
  void recordError(const Error& error);

  std::unique_ptr<StateSource> source_;
  StateCache& cache_;
  StopSignal stop_;
  std::thread thread_;
  mutable std::mutex statusMutex_;
  bool connected_ = false;  // guarded by statusMutex_
  std::string lastError_;   // guarded by statusMutex_
};

}  // namespace overmesh::agent
