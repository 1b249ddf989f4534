#pragma once

// The Store holds the cluster's desired state with etcd v3 semantics, so that the
// embedded SQLite backend and a future etcd backend are interchangeable for callers:
//  - one global revision, incremented once per successful write transaction;
//  - each key records the revision that created it and the one that last changed it;
//  - prefix range reads see one consistent revision;
//  - watch returns every event after a revision, in revision order, none lost; history
//    older than the compaction point answers ErrorKind::Compacted (relist, then resume);
//  - transactions compare keys (value / mod revision / create revision) then apply
//    the success or failure operations atomically;
//  - leases with a TTL: keys attached to a lease are deleted when it expires.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"

namespace overmesh::store {

using Revision = std::int64_t;
using LeaseId = std::int64_t;  // 0 = no lease

struct KeyValue {
  std::string key;
  std::string value;
  Revision createRevision = 0;
  Revision modRevision = 0;
  std::int64_t version = 0;  // number of writes since creation, 1 after create
  LeaseId lease = 0;
};

struct Event {
  enum class Type { Put, Delete };
  Type type = Type::Put;
  // For Put: the key's new state. For Delete: key, and modRevision = revision of deletion.
  KeyValue kv;
};

struct RangeResult {
  std::vector<KeyValue> kvs;  // ordered by key
  Revision revision = 0;      // the store revision the read saw
};

struct WatchResult {
  std::vector<Event> events;  // ordered by revision (then by order within the txn)
  // Resume the next watch from here: one past the last revision this answer covers, even
  // when no event matched the prefix (so a watcher does not rescan unrelated history).
  Revision nextRevision = 0;
};

// A condition a transaction checks before writing.
struct Compare {
  enum class Target { Value, ModRevision, CreateRevision, Version };
  enum class Op { Equal, NotEqual, Less, Greater };
  std::string key;
  Target target = Target::ModRevision;
  Op op = Op::Equal;
  std::string value;          // for Target::Value
  std::int64_t number = 0;    // for the revision / version targets; a missing key has 0

  static Compare modRevisionIs(std::string key, Revision revision);
  static Compare absent(std::string key);  // createRevision == 0
  static Compare valueIs(std::string key, std::string value);
};

struct Operation {
  enum class Type { Put, Delete, DeletePrefix };
  Type type = Type::Put;
  std::string key;  // for DeletePrefix: the prefix
  std::string value;
  LeaseId lease = 0;

  static Operation put(std::string key, std::string value, LeaseId lease = 0);
  static Operation del(std::string key);
  static Operation delPrefix(std::string prefix);
};

struct Txn {
  std::vector<Compare> compares;
  std::vector<Operation> success;
  std::vector<Operation> failure;
};

struct TxnResult {
  bool succeeded = false;
  // The store revision after the transaction (unchanged when nothing was written).
  Revision revision = 0;
};

class Store {
 public:
  virtual ~Store() = default;

  // The value at `key`, or nullopt. Fails only on a storage error (Unavailable).
  virtual Result<std::optional<KeyValue>> get(const std::string& key) = 0;

  // Every key that starts with `prefix` ("" = all), at one revision.
  virtual Result<RangeResult> range(const std::string& prefix) = 0;

  // Runs `txn` atomically. A failed compare is not an error: succeeded=false.
  // Fails with InvalidArgument for a put on an unknown lease, Unavailable on storage errors.
  virtual Result<TxnResult> txn(const Txn& txn) = 0;

  // Events under `prefix` with revision >= `fromRevision`. Blocks up to `wait` when there
  // are none yet (wait 0 = return at once), and returns early on close(). Fails with
  // Compacted when `fromRevision` is older than the compaction point; the message names it.
  virtual Result<WatchResult> watch(const std::string& prefix, Revision fromRevision,
                                    std::chrono::milliseconds wait) = 0;

  // The current revision (0 for an empty new store).
  virtual Result<Revision> currentRevision() = 0;

  // Drops the event history before `revision`. Watches from before it answer Compacted.
  virtual Status compact(Revision revision) = 0;

  // Leases. grantLease fails with InvalidArgument for a TTL under 1 ms.
  virtual Result<LeaseId> grantLease(std::chrono::milliseconds ttl) = 0;
  // Restarts the lease's TTL. NotFound if it expired or was revoked.
  virtual Status keepAlive(LeaseId lease) = 0;
  // Deletes the lease and every key attached to it (one revision). NotFound if unknown.
  virtual Status revokeLease(LeaseId lease) = 0;

  // Wakes every blocked watch and makes later calls fail with Unavailable.
  virtual void close() = 0;

  // Convenience wrappers over txn().
  Result<Revision> put(const std::string& key, const std::string& value, LeaseId lease = 0);
  Result<Revision> del(const std::string& key);
};

// The end of the key range that starts with `prefix`: the smallest string greater than
// every key with that prefix ("" when there is none, i.e. the range is unbounded).
std::string prefixRangeEnd(const std::string& prefix);

}  // namespace overmesh::store
