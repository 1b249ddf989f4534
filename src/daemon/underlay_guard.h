#pragma once

// Keeps the node's members-only underlay filter (dataplane/underlay_filter.h) in step with
// the cluster: the members are the underlay addresses of every node in the agent's state
// cache, whatever its state (a node that is down is still a member and will be back), plus
// fixed addresses the cache may not show yet: this node's own and, on a worker, its
// manager's. The agent calls update() from its cache's change callback; a thread of this
// class applies the set, so that the state sync never waits for the kernel.
//
// At start, an existing table (left by the previous daemon, which kept it through a restart)
// is left alone until the cache first reports the nodes, and then replaced whole with the
// current members: there is no moment without the filter. Without a table, one holding the
// fixed members is installed at once, before the first snapshot arrives.
//
// Destroying the guard leaves the table in place (a daemon restart); the daemon's swarm
// leave removes it (dataplane::kernel::removeUnderlayFilter) after the agent stopped.
//
// Someone else may delete the table (a firewalld reload, `nft flush ruleset`): VXLAN and the
// node port would then stay open to anyone until the next join or leave. So while idle the
// thread looks every `checkEvery` whether the table is still there, and reinstalls it whole
// when it is not (logged at warn, once per removal).
//
// Thread-safe. Thread: "underlay" applies the wanted set, retrying every `retryAfter` after
// a failure (e.g. the netfilter socket refused) until it succeeds or the guard stops.

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string_view>
#include <thread>
#include <vector>

#include "api/types.h"
#include "common/ip.h"
#include "dataplane/underlay_filter.h"

namespace overmesh::daemon {

// The underlay addresses of `nodes`; addresses that are not IPv4 dotted quads (a record
// written by something else) are skipped and listed in `skipped` when given. Pure.
std::set<Ipv4Address> underlayMemberAddresses(const std::vector<api::Node>& nodes,
                                              std::vector<std::string>* skipped = nullptr);

// The IPv4 address of "IP:PORT" or "IP"; nullopt for anything else. Pure.
std::optional<Ipv4Address> hostOfEndpoint(std::string_view endpoint);

class UnderlayGuard {
 public:
  // Takes `filter`; `fixed` are always members. Starts the thread.
  UnderlayGuard(std::unique_ptr<dataplane::UnderlayFilter> filter, std::set<Ipv4Address> fixed,
                std::chrono::milliseconds retryAfter = std::chrono::seconds(3),
                std::chrono::milliseconds checkEvery = std::chrono::seconds(10));
  ~UnderlayGuard();
  UnderlayGuard(const UnderlayGuard&) = delete;
  UnderlayGuard& operator=(const UnderlayGuard&) = delete;

  // Adds an address that is always a member (a worker's manager, known once the role is
  // chosen). Cheap; the thread applies it.
  void addFixedMember(Ipv4Address address);

  // Takes the cache's nodes. Cheap when their addresses did not change.
  void update(const std::vector<api::Node>& nodes);

  // The last failure to apply, empty when the table holds the wanted members or the
  // guard has not tried yet.
  std::string problem() const;

 private:
  void run();
  // Whether the table is gone (someone else deleted it); false when it is there or the
  // kernel cannot say (logged once per run of failures). Called by the thread, unlocked.
  bool tableVanished();
  std::set<Ipv4Address> wantedLocked() const;

  std::unique_ptr<dataplane::UnderlayFilter> filter_;  // used by the thread only
  const std::chrono::milliseconds retryAfter_;
  const std::chrono::milliseconds checkEvery_;
  bool checkFailing_ = false;  // used by the thread only: installed() failed last time
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::set<Ipv4Address> fixed_;                 // guarded by mutex_
  std::optional<std::set<Ipv4Address>> nodes_;  // guarded by mutex_; none before update()
  bool dirty_ = true;                           // guarded by mutex_; wanted not applied
  bool stopping_ = false;                       // guarded by mutex_
  std::string problem_;                         // guarded by mutex_
  std::thread thread_;                          // last: starts after the fields above
};

}  // namespace overmesh::daemon
