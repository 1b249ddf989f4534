#pragma once

// ImagePuller pulls the images of the tasks placed on this node off the reconcile thread,
// so that the agent's pass never waits on a registry (a cold pull can take minutes, a
// registry that is down a connection timeout). The agent asks for an image with
// request() on every pass while a task waits for it, and reads where the pull is; the
// puller calls `onChange` (the agent's wake()) when a pull ends or its progress moves.
//
// What it guarantees:
//   - one pull per reference at a time: every task that needs it shares that pull;
//   - at most `maxConcurrentPulls` pulls at once (others queue, first asked first pulled);
//   - a failure is kept (request() returns it, no new pull) for `failureHoldOff`, so a
//     restart policy's next task pulls afresh while a task failing in a tight loop does not
//     hammer the registry;
//   - `onChange` at most every `progressInterval` for progress (every end is announced at
//     once), and progress as read through state() moves only at those moments, so whoever
//     reports it on each wake reports at that rate too.
//
// "Present" is a cache of what the store said: an image removed behind the puller's back
// (`overmesh image rm`) still reads Present until forget() — the agent calls it when a
// start fails, so the next task checks and pulls again.
//
// Threads: `maxConcurrentPulls` workers, started by the constructor and joined by stop();
// each takes the next queued reference, asks the store whether it has it, and pulls it
// when not. Every other method is called from any thread and never calls the store.
// mutex_ guards everything below it in the class.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "runtime/image_store.h"

namespace overmesh::agent {

struct ImagePullState {
  // Checking: a worker asks the store whether it has the image (a local call, brief), so
  // a task whose image is there needs not be shown as preparing. Pulling: waiting for a
  // worker, or pulling.
  enum class Kind { Absent, Checking, Pulling, Present, Failed };
  Kind kind = Kind::Absent;
  // Pulling: the store's last summary published; kWaitingForPulls while queued; "" before
  // the first summary.
  std::string progress;
  std::string message;  // Failed: the store's error (the registry's words)
  std::chrono::steady_clock::time_point failedAt;  // Failed: by the puller's clock
};

inline constexpr const char* kWaitingForPulls = "waiting for other pulls to end";

struct ImagePullerOptions {
  std::size_t maxConcurrentPulls = 2;
  // Docker's default restart delay is 5 s: a new task after it pulls again.
  std::chrono::milliseconds failureHoldOff{4000};
  std::chrono::milliseconds progressInterval{500};
};

class ImagePuller {
 public:
  // `store` and `clock` must outlive the puller. `onChange` runs on a worker thread, with no
  // lock of the puller held; it must not block (the agent's wake() only signals).
  ImagePuller(runtime::ImageStore& store, std::function<void()> onChange, const Clock& clock,
              ImagePullerOptions options = {});
  ~ImagePuller();
  ImagePuller(const ImagePuller&) = delete;
  ImagePuller& operator=(const ImagePuller&) = delete;

  // Where the image `reference` (a normalised reference, common/image_reference.h) is, and
  // a pull queued when it is neither present, nor being pulled, nor failed within the
  // hold-off. The returned state is Checking for a request a worker takes at once, Pulling
  // (kWaitingForPulls) for one that waits for a worker. After stop(): the state as it was,
  // nothing queued.
  ImagePullState request(const std::string& reference);

  // Where the image is, without asking for it: Absent when never requested (or forgotten).
  ImagePullState state(const std::string& reference) const;

  // Drops what is known of `reference` unless a pull of it runs or waits: the next
  // request() checks the store again.
  void forget(const std::string& reference);

  // Drops every reference not in `references` that no pull holds and whose failure is past
  // its hold-off: memory stays bounded by the images of the tasks the agent has.
  void retain(const std::set<std::string>& references);

  // Waits until no pull runs or waits; false at the timeout. For tests.
  bool waitIdle(std::chrono::milliseconds timeout) const;

  // Stops the workers and joins them. Queued pulls are dropped. A pull in flight is
  // cancelled (ImageStore::pull's cancel flag: PodmanImageStore aborts its request); its
  // worker drops the result without touching the state or calling onChange; stop()
  // returns once every worker has.
  void stop();

 private:
  struct Entry {
    ImagePullState state;
    std::string latestProgress;  // Pulling: newest summary, published at the next tick
    bool queued = false;         // waiting for a worker
    bool running = false;        // a worker pulls it
  };

  // Thread: one of the pull workers.
  void work();
  // Asks the store and pulls when needed: OK when the image is there afterwards. Marks the
  // entry Pulling before it pulls.
  Status fetch(const std::string& reference);
  void onProgress(const std::string& reference, const std::string& summary);
  void finish(const std::string& reference, const Status& result);

  runtime::ImageStore& store_;
  std::function<void()> onChange_;
  const Clock& clock_;
  ImagePullerOptions options_;

  mutable std::mutex mutex_;
  mutable std::condition_variable changed_;
  std::map<std::string, Entry> entries_;                // guarded by mutex_
  std::deque<std::string> queue_;                       // guarded by mutex_
  std::size_t running_ = 0;                             // guarded by mutex_
  bool stopping_ = false;                               // guarded by mutex_
  std::atomic<bool> cancel_{false};                     // set by stop(); read by the store
  std::chrono::steady_clock::time_point lastNotified_;  // guarded by mutex_
  std::vector<std::thread> workers_;
};

}  // namespace overmesh::agent
