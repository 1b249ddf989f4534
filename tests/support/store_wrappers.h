#pragma once

// Store decorators for tests: a store whose lease renewals can be made to fail, as they
// do for a manager cut off from etcd.

#include <atomic>
#include <optional>

#include "store/store.h"

namespace overmesh::testing {

// Forwards everything to `inner`, except keepAlive while `failKeepAlive` holds an error
// kind: then keepAlive fails with it (Unavailable: a partition; NotFound: an expired lease).
class FlakyLeaseStore final : public store::Store {
 public:
  explicit FlakyLeaseStore(store::Store& inner) : inner_(inner) {}

  void failKeepAlives(std::optional<ErrorKind> kind) {
    failing_.store(kind.has_value());
    if (kind) {
      kind_.store(*kind);
    }
  }
  int keepAlives() const { return keepAlives_.load(); }

  Result<std::optional<store::KeyValue>> get(const std::string& key) override {
    return inner_.get(key);
  }
  Result<store::RangeResult> range(const std::string& prefix) override {
    return inner_.range(prefix);
  }
  Result<store::TxnResult> txn(const store::Txn& txn) override { return inner_.txn(txn); }
  Result<store::WatchResult> watch(const std::string& prefix, store::Revision fromRevision,
                                   std::chrono::milliseconds wait) override {
    return inner_.watch(prefix, fromRevision, wait);
  }
  Result<store::Revision> currentRevision() override { return inner_.currentRevision(); }
  Status compact(store::Revision revision) override { return inner_.compact(revision); }
  Result<store::LeaseId> grantLease(std::chrono::milliseconds ttl) override {
    return inner_.grantLease(ttl);
  }
  Status keepAlive(store::LeaseId lease) override {
    ++keepAlives_;
    if (failing_.load()) {
      return errorf(kind_.load(), "keepAlive refused by the test");
    }
    return inner_.keepAlive(lease);
  }
  Status revokeLease(store::LeaseId lease) override { return inner_.revokeLease(lease); }
  void close() override { inner_.close(); }

 private:
  store::Store& inner_;
  std::atomic<bool> failing_{false};
  std::atomic<ErrorKind> kind_{ErrorKind::Unavailable};
  std::atomic<int> keepAlives_{0};
};

}  // namespace overmesh::testing
