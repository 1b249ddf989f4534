#include "store/etcd/etcd_store.h"

// Placeholder (issue 13 lane "etcd" writes the backend).

namespace overmesh::store {

struct EtcdStore::Impl {};

EtcdStoreOptions EtcdStoreOptions::from(const StoreLocation& location) {
  EtcdStoreOptions options;
  options.endpoints = location.endpoints;
  options.caFile = location.caFile;
  options.certFile = location.certFile;
  options.keyFile = location.keyFile;
  return options;
}

Result<std::unique_ptr<EtcdStore>> EtcdStore::open(EtcdStoreOptions) {
  return errorf(ErrorKind::Unavailable, "the etcd store is not built yet");
}

EtcdStore::EtcdStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
EtcdStore::~EtcdStore() = default;

Result<std::optional<KeyValue>> EtcdStore::get(const std::string&) {
  return errorf(ErrorKind::Unavailable, "not built");
}
Result<RangeResult> EtcdStore::range(const std::string&) {
  return errorf(ErrorKind::Unavailable, "not built");
}
Result<TxnResult> EtcdStore::txn(const Txn&) { return errorf(ErrorKind::Unavailable, "not built"); }
Result<WatchResult> EtcdStore::watch(const std::string&, Revision, std::chrono::milliseconds) {
  return errorf(ErrorKind::Unavailable, "not built");
}
Result<Revision> EtcdStore::currentRevision() {
  return errorf(ErrorKind::Unavailable, "not built");
}
Status EtcdStore::compact(Revision) { return errorf(ErrorKind::Unavailable, "not built"); }
Result<LeaseId> EtcdStore::grantLease(std::chrono::milliseconds) {
  return errorf(ErrorKind::Unavailable, "not built");
}
Status EtcdStore::keepAlive(LeaseId) { return errorf(ErrorKind::Unavailable, "not built"); }
Status EtcdStore::revokeLease(LeaseId) { return errorf(ErrorKind::Unavailable, "not built"); }
void EtcdStore::close() {}

}  // namespace overmesh::store
