#pragma once

// FencedStore: the Store the leader's loops write through (the liveness sweep, the
// service reconciler). Every transaction also compares the leader key's create revision
// with the one this manager won its election with (the fence). Once the leader's lease
// has expired, etcd (or SQLite) has deleted that key, or another manager has created it
// anew with another create revision: the compare fails and nothing is written. That is
// what keeps a partitioned old leader from writing after a new one took over.
//
// Reads, watches and leases pass through to the inner store unchanged.
//
// Thread safety: every method may be called from any thread; the fence is an atomic.

#include <atomic>
#include <optional>
#include <string>

#include "store/store.h"

namespace overmesh::store {

class FencedStore final : public Store {
 public:
  // `inner` outlives this store; `fenceKey` is the leader key (state::keys::kLeader: the
  // store library does not know the key layout). Starts without a fence: every txn fails
  // until setFence().
  FencedStore(Store& inner, std::string fenceKey);

  // Called when this manager is elected, with the leader key's create revision (> 0).
  void setFence(Revision leaderCreateRevision);
  // Called when it stops leading: from now on every txn fails without reaching the store.
  void clearFence();
  std::optional<Revision> fence() const;

  Result<std::optional<KeyValue>> get(const std::string& key) override;
  Result<RangeResult> range(const std::string& prefix) override;
  // Runs `txn` with the fence compare added. Fails with FailedPrecondition "this manager is
  // no longer the leader" when no fence is set, or when the txn did not succeed and the
  // leader key no longer carries the fence (the caller must not retry it as a CAS
  // conflict); InvalidArgument for a txn with failure operations (they would run whenever
  // the fence fails); otherwise as the inner store's txn.
  Result<TxnResult> txn(const Txn& txn) override;
  Result<WatchResult> watch(const std::string& prefix, Revision fromRevision,
                            std::chrono::milliseconds wait) override;
  Result<Revision> currentRevision() override;
  Status compact(Revision revision) override;
  Result<LeaseId> grantLease(std::chrono::milliseconds ttl) override;
  Status keepAlive(LeaseId lease) override;
  Status revokeLease(LeaseId lease) override;
  // Clears the fence only: the inner store belongs to someone else and stays open.
  void close() override;

 private:
  Store& inner_;
  const std::string fenceKey_;
  std::atomic<Revision> fence_{0};  // 0 = not leading
};

}  // namespace overmesh::store
