#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>

namespace overmesh::agent {

// A stop request that loops can sleep on: sleepFor() returns early, with false, once
// stop() is called. `flag()` is for code that can only poll (libcurl's progress hook).
class StopSignal {
 public:
  void stop() {
    {
      std::lock_guard lock(mutex_);
      stopped_.store(true);
    }
    wake_.notify_all();
  }
  bool stopped() const { return stopped_.load(); }
  const std::atomic<bool>* flag() const { return &stopped_; }

  // Sleeps up to `duration`; false when stopped.
  bool sleepFor(std::chrono::milliseconds duration) {
    std::unique_lock lock(mutex_);
    return !wake_.wait_for(lock, duration, [this] { return stopped_.load(); });
  }

 private:
  std::mutex mutex_;
  std::condition_variable wake_;
  std::atomic<bool> stopped_{false};
};

}  // namespace overmesh::agent
