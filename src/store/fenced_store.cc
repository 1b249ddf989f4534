#include "store/fenced_store.h"

#include <utility>

namespace overmesh::store {
namespace {

Error notLeader() {
  return Error{ErrorKind::FailedPrecondition,
               "this manager is no longer the leader; its leader-only work stopped"};
}

}  // namespace

FencedStore::FencedStore(Store& inner, std::string fenceKey)
    : inner_(inner), fenceKey_(std::move(fenceKey)) {}

void FencedStore::setFence(Revision leaderCreateRevision) { fence_.store(leaderCreateRevision); }

void FencedStore::clearFence() { fence_.store(0); }

std::optional<Revision> FencedStore::fence() const {
  Revision fence = fence_.load();
  if (fence == 0) {
    return std::nullopt;
  }
  return fence;
}

Result<std::optional<KeyValue>> FencedStore::get(const std::string& key) { return inner_.get(key); }

Result<RangeResult> FencedStore::range(const std::string& prefix) { return inner_.range(prefix); }

Result<TxnResult> FencedStore::txn(const Txn& txn) {
  Revision fence = fence_.load();
  if (fence == 0) {
    return std::unexpected(notLeader());
  }
  if (!txn.failure.empty()) {
    return errorf(ErrorKind::InvalidArgument,
                  "a fenced transaction cannot have failure operations: they would run "
                  "whenever the leader fence fails");
  }
  Txn fenced = txn;
  Compare compare;
  compare.key = fenceKey_;
  compare.target = Compare::Target::CreateRevision;
  compare.op = Compare::Op::Equal;
  compare.number = fence;
  fenced.compares.push_back(std::move(compare));
  auto result = inner_.txn(fenced);
  if (!result || result->succeeded) {
    return result;
  }
  // A failed compare: the caller's own (a CAS conflict it retries) or the fence. Which
  // one decides whether a retry can ever succeed.
  auto leader = inner_.get(fenceKey_);
  if (!leader) {
    return std::unexpected(leader.error().withContext("check the leader fence"));
  }
  if (!*leader || (*leader)->createRevision != fence) {
    fence_.compare_exchange_strong(fence, 0);
    return std::unexpected(notLeader());
  }
  return result;
}

Result<WatchResult> FencedStore::watch(const std::string& prefix, Revision fromRevision,
                                       std::chrono::milliseconds wait) {
  return inner_.watch(prefix, fromRevision, wait);
}

Result<Revision> FencedStore::currentRevision() { return inner_.currentRevision(); }

Status FencedStore::compact(Revision revision) { return inner_.compact(revision); }

Result<LeaseId> FencedStore::grantLease(std::chrono::milliseconds ttl) {
  return inner_.grantLease(ttl);
}

Status FencedStore::keepAlive(LeaseId lease) { return inner_.keepAlive(lease); }

Status FencedStore::revokeLease(LeaseId lease) { return inner_.revokeLease(lease); }

void FencedStore::close() { clearFence(); }

}  // namespace overmesh::store
