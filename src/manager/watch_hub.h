#pragma once

// WatchHub serves the cluster watch long-poll (GET kWatchPath?from=&waitMs=) of every agent
// from one follower of the store, instead of one blocked store.watch per waiting agent.
//
// Why: with the store's own watch, each of 1,000 waiting agents wakes on every write and
// rereads the history under the store's lock, then encodes its own copy of the same JSON.
// The hub reads each write once, keeps the recent agent-visible events in a bounded ring,
// and answers every waiter that asked for the same `from` with one shared encoding.
//
// Answers are exactly those of state::agentWatch (the JSON of store::toJson(WatchResult)):
//  - events at or after `from` are in the ring: they are answered at once, in revision
//    order, with nextRevision = one past the newest revision the hub has read;
//  - none yet: the waiter is parked until an agent-visible event at or after `from`
//    arrives (writes of keys agents do not see never wake it), or until its wait ends,
//    then it gets no events and nextRevision = max(from, one past the newest revision);
//  - `from` older than the ring: the store is read directly (wait 0), which answers
//    Compacted (410-like error kind) when that history is gone, as before.
//
// Threads: start() runs two. The follower blocks in store.watch(kRoot) and wakes the
// waiters an event concerns; the timer answers waiters whose wait ended and drops those
// whose client went away. Replies run on those threads (or on the caller's, for an answer
// that is ready at once), outside the hub's lock; they must be quick and must not call
// back into the hub. Every method is thread-safe.
//
// What can fail: a store error other than Compacted is retried after a short pause; once
// the store is closed (Unavailable) or stop() is called, every parked waiter and every
// later watch is answered 503 Unavailable.

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <queue>
#include <thread>
#include <utility>
#include <vector>

#include "api/http_types.h"
#include "common/error.h"
#include "store/store.h"

namespace overmesh::manager {

// One answer, encoded once and shared by every waiter it is for.
using WatchAnswer = std::shared_ptr<const api::HttpResponse>;

// A parked long-poll: how to answer it and whether anyone still listens.
struct WatchWaiter {
  std::function<void(const WatchAnswer&)> reply;
  // True once the client is gone (HttpResponder::abandoned); may be empty (never).
  std::function<bool()> abandoned;
};

struct WatchHubOptions {
  // Agent-visible events kept for waiters that are behind (an agent that just took a
  // snapshot, or one slower than the rest). Oldest revisions leave first.
  std::size_t ringEvents = 4096;
  // How long one follower call blocks in the store (bounds how late stop() is noticed
  // when the store stays open).
  std::chrono::milliseconds followWait{250};
  // How often the timer looks for waiters whose client went away.
  std::chrono::milliseconds abandonedCheck{1000};
};

struct WatchHubStats {
  std::size_t parked = 0;         // waiters waiting now
  std::size_t ringEvents = 0;     // events in the ring
  store::Revision ringStart = 0;  // the oldest revision the ring answers for
  store::Revision next = 0;       // one past the newest revision read
  std::uint64_t encodings = 0;    // answers encoded since start (shared ones count once)
  std::uint64_t storeReads = 0;   // watches answered from the store (older than the ring)
};

class WatchHub {
 public:
  explicit WatchHub(store::Store& store, WatchHubOptions options = {});
  ~WatchHub();
  WatchHub(const WatchHub&) = delete;
  WatchHub& operator=(const WatchHub&) = delete;

  // Reads the store's current revision (the ring starts just after it) and starts the
  // follower and timer threads. Fails with the store's error; then nothing runs.
  Status start();

  // Answers every parked waiter 503 and joins the threads. Idempotent.
  void stop();

  // Answers the agent-visible events at or after `from` (see the file comment), waiting
  // up to `wait` for some. The reply may run before this returns (on this thread).
  void watch(store::Revision from, std::chrono::milliseconds wait, WatchWaiter waiter);

  WatchHubStats stats() const;

 private:
  using Key = std::pair<store::Revision, std::uint64_t>;  // (from, waiter id)
  struct Parked {
    WatchWaiter waiter;
    std::chrono::steady_clock::time_point deadline;
  };
  struct Deadline {
    std::chrono::steady_clock::time_point at;
    Key key;
    bool operator>(const Deadline& other) const { return at > other.at; }
  };
  struct Ready {
    WatchWaiter waiter;
    WatchAnswer answer;  // null: read the store from storeFrom (older than the ring)
    store::Revision storeFrom = 0;
  };

  // Thread: follows the store from next_ on, appends to the ring, wakes waiters.
  void follow();
  // Thread: answers waiters whose deadline passed; drops abandoned ones.
  void runTimer();

  // Events in the ring at or after `from`, encoded (cached per (from, next_)). Caller
  // holds mutex_; `from` >= ringStart_.
  WatchAnswer eventsAnswerLocked(store::Revision from);
  // The empty answer for `from` at the current revision. Caller holds mutex_.
  WatchAnswer emptyAnswerLocked(store::Revision from);
  // True when the ring holds an event at or after `from`. Caller holds mutex_.
  bool hasEventsFromLocked(store::Revision from) const;
  // Adds one batch read from the store and collects the waiters it wakes.
  void appendLocked(std::vector<store::Event> events, store::Revision next,
                    std::vector<Ready>& wake);
  // Drops the deadlines of answered waiters once they outnumber the parked ones (every
  // answer leaves its deadline behind until it passes). Caller holds mutex_.
  void compactDeadlinesLocked();
  // Ends the hub: every waiter is answered `error` (outside the lock by the caller).
  void failLocked(const Error& error, std::vector<Ready>& wake);
  // The direct store read for a `from` older than the ring (counted by the caller).
  WatchAnswer readStore(store::Revision from);
  // Replies to each waiter of `ready`; called without mutex_.
  void deliver(std::vector<Ready>& ready);

  store::Store& store_;
  const WatchHubOptions options_;

  mutable std::mutex mutex_;
  std::condition_variable timerWake_;
  std::deque<store::Event> ring_;  // guarded by mutex_; revision order
  store::Revision ringStart_ = 0;  // guarded by mutex_
  store::Revision next_ = 0;       // guarded by mutex_
  std::map<Key, Parked> parked_;   // guarded by mutex_; ordered by `from`
  std::priority_queue<Deadline, std::vector<Deadline>, std::greater<>>
      deadlines_;             // guarded by mutex_; may name answered waiters
  std::uint64_t nextId_ = 0;  // guarded by mutex_
  // Encodings at revision cacheRevision_, by `from` (-1: the empty answer).
  std::map<store::Revision, WatchAnswer> cache_;  // guarded by mutex_
  store::Revision cacheRevision_ = -1;            // guarded by mutex_
  std::optional<Error> failed_;                   // guarded by mutex_; set when ended
  bool started_ = false;                          // guarded by mutex_
  std::uint64_t encodings_ = 0;                   // guarded by mutex_
  std::uint64_t storeReads_ = 0;                  // guarded by mutex_

  std::thread follower_;
  std::thread timer_;
};

}  // namespace overmesh::manager
