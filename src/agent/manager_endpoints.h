#pragma once

// Which manager an agent talks to when there are several (issue 13: managers on etcd).
// One ManagerEndpoints is shared by every client of the agent (state sync, heartbeat,
// task reports, certificate renewal) so that what one of them learns — "that manager is
// dead", "the leader is over there" — moves all of them.
//
// The current endpoint is the leader when one is known. A client that cannot reach the
// current manager calls unreachable(); one that is told "not the leader" (HTTP 421,
// api::kNotLeaderStatus) calls notLeader() with the leader it was given. Both move the
// current endpoint; the caller backs off between attempts (nextBackoff()) so that a
// cluster without a leader, or without any manager up, is never spun on.
//
// The list and the leader come from the heartbeat's reply (learn()); they are peers' data,
// so each address is checked (IPv4 "A.B.C.D:PORT") and the list is bounded (kMaxManagers).
// Every change of the list or of the leader is handed to the `onChange` callback (the
// daemon persists it, so a restarted worker finds a manager when its first one is dead).
//
// Thread safety: every method is thread-safe (mutex_); onChange runs outside the lock, on
// the thread that made the change, and may be called concurrently from two threads.

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/error.h"

namespace overmesh::agent {

// More managers than an etcd-backed swarm would ever run; a longer list from a peer is cut.
inline constexpr std::size_t kMaxManagers = 32;

// "A.B.C.D:PORT" with a port in 1..65535, else InvalidArgument naming the value. Pure.
Status checkManagerAddress(const std::string& address);

class ManagerEndpoints {
 public:
  // What the list is after a change: the addresses, the current one first, and the leader
  // ("" when unknown).
  using OnChange =
      std::function<void(const std::vector<std::string>& addresses, const std::string& leader)>;

  // `addresses` ("IP:PORT", the first is where to start; invalid or duplicate ones are
  // dropped, logged) must hold at least one valid address: InvalidArgument otherwise.
  // `clock` must outlive the object.
  static Result<std::shared_ptr<ManagerEndpoints>> create(std::vector<std::string> addresses,
                                                          const Clock& clock,
                                                          OnChange onChange = {});

  // "IP:PORT" of the manager to call now.
  std::string current() const;
  // Every known manager, the current one first.
  std::vector<std::string> addresses() const;
  // "" when no manager named one yet.
  std::string leader() const;
  // How many times current() changed: a client compares it to decide whether to reconnect.
  std::uint64_t moves() const;

  // From a heartbeat reply: `leader` ("" while none leads) and `managers` (every manager's
  // cluster address; an empty list keeps the known one). Invalid addresses are ignored.
  // The leader becomes the current endpoint.
  void learn(const std::string& leader, const std::vector<std::string>& managers);

  // `failed` could not be reached, or its answer broke off. When it is still the current
  // endpoint, moves to the next one in the list (a no-op with a single manager).
  void unreachable(const std::string& failed);

  // `from` answered 421 naming `leader`. Moves to `leader` unless it is empty, is `from`
  // itself, or could not be reached less than kSuspectFor ago (the other managers keep
  // naming a killed leader until its lease runs out): then to the next endpoint after
  // `from`.
  void notLeader(const std::string& from, const std::string& leader);

  // A request to `address` was answered (not a 421): it is no longer suspect.
  void reached(const std::string& address);

  // The pause before attempt number `attempt` (0-based) of one request: 0 for the first,
  // then 100 ms doubling to 1 s. Pure.
  static std::chrono::milliseconds backoff(int attempt);

  // How long an unreachable manager is passed over when another names it leader.
  static constexpr std::chrono::milliseconds kSuspectFor{2000};

 private:
  ManagerEndpoints(std::vector<std::string> addresses, const Clock& clock, OnChange onChange);
  // Requires mutex_. Moves current_ to the address after `after` in the list.
  void moveAfter(const std::string& after);
  // Requires mutex_.
  void moveTo(const std::string& address);
  // Requires mutex_.
  bool suspect(const std::string& address) const;
  void notify(bool changed);

  const Clock& clock_;
  OnChange onChange_;
  mutable std::mutex mutex_;
  std::vector<std::string> list_;  // guarded by mutex_; never empty
  std::string current_;            // guarded by mutex_; one of list_
  std::string leader_;             // guarded by mutex_
  std::uint64_t moves_ = 0;        // guarded by mutex_
  std::map<std::string, std::chrono::steady_clock::time_point> failedAt_;  // guarded by mutex_
};

}  // namespace overmesh::agent
