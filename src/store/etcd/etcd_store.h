#pragma once

// The etcd v3 Store backend: several managers share one etcd cluster (Debian's
// etcd-server). It speaks etcd's JSON gateway (the grpc-gateway etcd serves on its client
// port, /v3/kv/range, /v3/kv/txn, /v3/watch, /v3/lease/*) through libcurl: Debian 12 ships
// no C++ etcd client, and gRPC would need etcd's .proto files compiled into the project;
// the gateway needs only libcurl and nlohmann-json, which overmesh already uses, and it is
// part of etcd's supported API since 3.3 (keys and values are base64 in it).
//
// Semantics are store.h's, mapped onto etcd's own:
//  - revisions are etcd's (one per write transaction; a new etcd starts at 1, not 0);
//  - a transaction that writes one key twice (two puts, or a put inside a deleted prefix)
//    is refused by etcd: InvalidArgument (SQLite applies the operations in order);
//  - watch() is served from a local mirror of the event stream (one etcd watch on the
//    whole key space, resumed at its last revision + 1 after any break, on the next
//    endpoint), so N long-polls on a manager cost etcd one stream. A watch answers at
//    least up to every revision this store has already returned to a caller (it waits up
//    to requestTimeout for the mirror to get there), so a writer sees its own writes.
//    History older than the mirror comes from a one-shot etcd watch; etcd's compaction
//    answers ErrorKind::Compacted. A compaction by another client is noticed when the
//    mirror no longer holds the history (until then the mirror still serves it);
//  - leases are etcd leases: TTLs are whole seconds (rounded up; etcd raises a TTL under
//    its minimum, 1.5 election timeouts, to that minimum), and expiry is etcd's, on its
//    clock, so a manager that loses etcd loses its leases there;
//  - every call has a deadline (requestTimeout); an endpoint that fails is skipped for
//    the next one in the list; Unavailable names every endpoint tried and why. A write
//    that may have reached etcd before failing is not resent (see etcd_gateway.h);
//  - nothing etcd answers is trusted: answers over 64 MiB, malformed JSON or fields of
//    the wrong type are Unavailable naming the endpoint, never an exception.
//
// Thread-safe. close() wakes every blocked watch.

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "common/error.h"
#include "store/store.h"
#include "store/store_location.h"

namespace overmesh::store {

struct EtcdStoreOptions {
  std::vector<std::string> endpoints;  // "HOST:PORT"
  std::string caFile;                  // TLS: all three or none
  std::string certFile;
  std::string keyFile;
  // Below the leader lease TTL (3 s): a leader checks its own lease deadline between store
  // calls, so one hung call must not carry it past that deadline.
  std::chrono::milliseconds requestTimeout{2000};
  // Events kept in the local watch mirror, and the most bytes of keys and values they may
  // hold (whichever bound is reached first drops the oldest revisions).
  std::size_t mirrorEvents = 20000;
  std::size_t mirrorBytes = 32U << 20;

  static EtcdStoreOptions from(const StoreLocation& location);
};

class EtcdStore final : public Store {
 public:
  // Connects (checks that some endpoint answers /v3/maintenance/status within the
  // timeout) and starts the watch mirror. Unavailable naming the endpoints otherwise.
  static Result<std::unique_ptr<EtcdStore>> open(EtcdStoreOptions options);
  ~EtcdStore() override;

  Result<std::optional<KeyValue>> get(const std::string& key) override;
  Result<RangeResult> range(const std::string& prefix) override;
  Result<TxnResult> txn(const Txn& txn) override;
  Result<WatchResult> watch(const std::string& prefix, Revision fromRevision,
                            std::chrono::milliseconds wait) override;
  Result<Revision> currentRevision() override;
  Status compact(Revision revision) override;
  Result<LeaseId> grantLease(std::chrono::milliseconds ttl) override;
  Status keepAlive(LeaseId lease) override;
  Status revokeLease(LeaseId lease) override;
  void close() override;

  struct Impl;

 private:
  explicit EtcdStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace overmesh::store
