#pragma once

// LeaderElection: one leader among the managers that share a store, through a lease.
//
// Every manager runs one (on SQLite too, where the single manager wins in milliseconds:
// one code path). A candidate grants a lease of `ttl` and creates state::keys::kLeader
// {"nodeId","address","since"} attached to it, on the condition that the key is absent.
// The winner leads and keeps its lease alive every `renewEvery`; the others watch the key
// and campaign again as soon as it is deleted (resignation or lease expiry).
//
// Leading ends (onDeposed) when:
//  - a keepAlive answers NotFound (the lease expired: the store deleted the key);
//  - no keepAlive has succeeded for `ttl` by this manager's own clock (a partition: the
//    store is unreachable; by then the store may have expired the lease and let another
//    manager lead). The clock starts *before* each keepAlive is sent, so this manager
//    always gives up no later than the store expires its lease;
//  - the key disappears or is re-created by someone else (seen on the watch);
//  - resign().
// The leader key's create revision is the fence of the leader's writes
// (store/fenced_store.h): onElected hands it over.
//
// Threads: start() runs step() in a thread of its own ("Thread:" in the .cc). Tests call
// step() themselves with a ManualClock. onElected/onDeposed run on the thread that calls
// step() (or resign()), outside any lock of this class; they may block (stopping loops).
// leader() and isLeader() may be called from any thread.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "common/clock.h"
#include "common/error.h"
#include "store/store.h"

namespace overmesh::manager {

// Who campaigns: the manager's node ID and its cluster address "IP:PORT" (what agents
// are sent to).
struct LeaderIdentity {
  std::string nodeId;
  std::string address;
};

// The content of the leader key.
struct LeaderRecord {
  std::string nodeId;
  std::string address;                 // IP:PORT of the leader's cluster port
  std::string since;                   // RFC 3339, when it was elected
  store::Revision createRevision = 0;  // the key's: the leader's fence
};

// The JSON stored at kLeader; InvalidArgument naming the field when `value` is not one.
Result<LeaderRecord> decodeLeaderRecord(std::string_view value);
std::string encodeLeaderRecord(const LeaderRecord& record);

struct LeaderElectionOptions {
  std::chrono::milliseconds ttl{3000};
  std::chrono::milliseconds renewEvery{1000};
  // How long one step may block on a watch of the leader key; stop() waits at most this.
  std::chrono::milliseconds watchSlice{250};
};

// What the cluster API and the daemon ask about leadership; LeaderElection is the real
// one, tests may fake it.
class Leadership {
 public:
  virtual ~Leadership() = default;
  virtual bool isLeader() const = 0;
  // The current leader as last read from the store (nullopt while none leads).
  virtual std::optional<LeaderRecord> leader() const = 0;
};

class LeaderElection final : public Leadership {
 public:
  using OnElected = std::function<void(store::Revision leaderCreateRevision)>;
  using OnDeposed = std::function<void(const std::string& reason)>;

  // `store` and `clock` outlive the election. Nothing happens before start() or step().
  LeaderElection(store::Store& store, const Clock& clock, LeaderIdentity self,
                 LeaderElectionOptions options, OnElected onElected, OnDeposed onDeposed);
  ~LeaderElection() override;
  LeaderElection(const LeaderElection&) = delete;
  LeaderElection& operator=(const LeaderElection&) = delete;

  // Starts the election thread. Call once.
  void start();

  // Stops the election thread (without resigning: see resign()). Idempotent.
  void stop();

  // Stops the thread and gives up leadership now: revokes the lease (the leader key goes
  // with it, so another manager leads at once) and calls onDeposed("resigned") when this
  // manager led. Fails with the store's error when the revoke did (the lease then expires
  // by itself within the TTL); leadership ends here either way. Idempotent.
  Status resign();

  // One round of the state machine: campaign when no leader is known, renew while
  // leading, otherwise watch the leader key for up to `maxWait` (0: do not block).
  // Never throws; store errors are logged and retried on the next step.
  // Returns false after a store error (the caller pauses before the next step).
  bool step(std::chrono::milliseconds maxWait);

  bool isLeader() const override;
  std::optional<LeaderRecord> leader() const override;

 private:
  void run();
  // Each returns false after a store error.
  bool campaign();
  bool renew();
  // Deletes a leader key left by an earlier life of this very node (a restart: its
  // lease may live on for a TTL), so that the node need not wait it out.
  bool clearStaleOwnKey();
  // Reads the leader key (cache and watch position).
  bool readLeader();
  // Watches the leader key from watchFrom_ for up to `wait`, updating the cache; when
  // leading and the key is no longer ours, deposes.
  bool watchLeader(std::chrono::milliseconds wait);
  bool logProblem(const Error& error, std::string_view doing);
  void depose(const std::string& reason, bool revoke);
  std::chrono::milliseconds untilNextRenew() const;

  store::Store& store_;
  const Clock& clock_;
  const LeaderIdentity self_;
  const LeaderElectionOptions options_;
  OnElected onElected_;
  OnDeposed onDeposed_;

  // Owned by the thread that calls step() (the election thread, or the test).
  store::LeaseId lease_ = 0;
  store::Revision fence_ = 0;
  store::Revision watchFrom_ = 0;                        // 0: the leader key must be read first
  store::Revision leaderModRevision_ = 0;                // of the cached leader key
  std::chrono::steady_clock::time_point lastRenewed_{};  // when the last good keepAlive was sent
  // lastRenewed_ for other threads: isLeader() answers false once a TTL has passed since,
  // even while the election thread is still blocked in a store call to an unreachable
  // store (it deposes itself, and stops the leader's loops, when that call returns).
  std::atomic<std::chrono::steady_clock::rep> renewedAtTicks_{0};
  std::chrono::steady_clock::time_point nextRenew_{};
  std::string lastProblem_;  // the last store error logged, so a repeat is logged once

  mutable std::mutex mutex_;
  bool leading_ = false;                // guarded by mutex_
  std::optional<LeaderRecord> leader_;  // guarded by mutex_

  // Sleeps up to `duration` unless stop() is called; false when stopping.
  bool pause(std::chrono::milliseconds duration);

  std::mutex stopMutex_;
  std::condition_variable stopWake_;
  std::atomic<bool> stopping_{false};  // written under stopMutex_, read anywhere
  std::thread thread_;
};

}  // namespace overmesh::manager
