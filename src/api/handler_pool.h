#pragma once

// The threads HttpServer runs request handlers on: few, bounded, and grown on demand.
//
// libmicrohttpd's polling thread never runs a handler (a handler may block: an exec, an
// image pull, a join's address proof). It hands the request here; an idle thread takes
// it, or a new one starts while fewer than `maxThreads` run, or it waits in a bounded
// queue. Threads above `minThreads` exit after `idleExit` without work, so a burst does
// not leave its threads behind.
//
// Thread safety: every member is safe to call from any thread.

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace overmesh::api {

// Threads kept even when idle: a quick request never waits for a thread to start.
inline constexpr unsigned int kMinHandlerThreads = 2;
// Handlers running at once. A blocking handler holds one thread for as long as it
// blocks, so this is also how many execs, pulls and joins run in parallel; past it
// requests queue. The count stays bounded whatever the number of connections (a thread
// reserves 8 MiB of address space, but only the stack it touches is resident).
inline constexpr unsigned int kMaxHandlerThreads = 32;
// Requests waiting for a thread; past it the server answers 503 "overmeshd is busy". One
// request at a time per connection, so this also bounds what a burst from every
// connection at once can hold in memory beyond the connections themselves.
inline constexpr std::size_t kMaxQueuedRequests = 4096;
// How long a thread above kMinHandlerThreads waits for work before it exits.
inline constexpr std::chrono::milliseconds kHandlerIdleExit{10'000};

struct HandlerPoolLimits {
  unsigned int minThreads = kMinHandlerThreads;
  unsigned int maxThreads = kMaxHandlerThreads;
  std::size_t maxQueued = kMaxQueuedRequests;
  std::chrono::milliseconds idleExit = kHandlerIdleExit;
};

class HandlerPool {
 public:
  using Job = std::function<void()>;

  // `name` names the threads (at most 15 bytes with the index, for /proc). maxThreads is
  // at least 1 and minThreads at most maxThreads (both clamped).
  HandlerPool(std::string name, HandlerPoolLimits limits);
  // stop().
  ~HandlerPool();
  HandlerPool(const HandlerPool&) = delete;
  HandlerPool& operator=(const HandlerPool&) = delete;

  // Runs `job` on a pool thread. False (`job` dropped unrun) when the queue is full or
  // the pool stopped; also false when no thread could be started and none runs. A
  // job must not throw (what it throws is logged and dropped: a job is a barrier's
  // caller, see HttpServer).
  bool submit(Job job);

  // No new jobs; jobs still queued are dropped (destroyed on this thread, unrun); jobs
  // running finish; every thread is joined. Idempotent. Must not be called from a job.
  void stop();

  // Threads alive now, and jobs waiting (tests, the bench).
  std::size_t threadCount() const;
  std::size_t queuedCount() const;

 private:
  // Thread: one pool worker; runs jobs until stop() or idleExit without work.
  void work(std::size_t index);
  // Joins workers that exited on their own. Called without mutex_.
  void reapExited();

  const std::string name_;
  const HandlerPoolLimits limits_;
  mutable std::mutex mutex_;  // guards everything below
  std::condition_variable workAvailable_;
  std::deque<Job> queue_;
  std::map<std::size_t, std::thread> threads_;  // by worker index, until joined
  std::vector<std::size_t> exited_;             // workers that returned and await their join
  std::size_t alive_ = 0;                       // workers not yet returned
  std::size_t idle_ = 0;                        // workers waiting for a job
  std::size_t nextIndex_ = 0;
  bool stopping_ = false;
};

}  // namespace overmesh::api
