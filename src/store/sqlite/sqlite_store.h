#pragma once

// The embedded Store backend: one SQLite database file in WAL mode inside the manager.
// See store.h for the semantics it shares with the etcd backend.
//
// Durability: synchronous=FULL, so a transaction that returned is on disk; a crash (even
// SIGKILL in the middle of a write) leaves the database at the last committed revision.
//
// Single owner: the database is opened with locking_mode=EXCLUSIVE, so a second process
// (a second overmeshd on the same state directory) cannot open it while this one runs; the
// store caches the revision and the lease deadlines in memory and relies on that.

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/clock.h"
#include "common/error.h"
#include "store/store.h"

struct sqlite3;
struct sqlite3_stmt;

namespace overmesh::store {

struct SqliteStoreOptions {
  // Revisions of event history kept for watches. After every write that leaves more than
  // this many, the older ones are compacted in the same transaction. 0 or less: never.
  std::int64_t autoCompactKeep = 10000;
  // How long an operation waits for a database lock held by another connection before
  // failing with Unavailable (open also waits this long for another process to let go).
  std::chrono::milliseconds busyTimeout{5000};
  // The most events one watch() answer carries. A revision is never split across answers,
  // so an answer may exceed this by the rest of its last revision.
  std::size_t maxWatchEvents = 10000;
  // A blocked watch wakes at least this often to expire leases, so that a watcher sees the
  // Delete events of an expired lease even when nothing else calls the store.
  std::chrono::milliseconds leaseCheckInterval{100};
};

class SqliteStore final : public Store {
 public:
  // Opens (creating if needed) the database at `path` and loads its revision and leases.
  // `clock` measures lease TTLs and must outlive the store. Fails with Unavailable when
  // SQLite cannot open, lock or read the file (another process holds it, disk error,
  // not a database), FailedPrecondition when it was written by a newer schema version.
  static Result<std::unique_ptr<SqliteStore>> open(const std::string& path, const Clock& clock,
                                                   SqliteStoreOptions options = {});

  // Closes the database. Waits for watches blocked in another thread to return first.
  ~SqliteStore() override;

  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;

  // See Store. Every public operation first expires due leases (expireLeases()), so an
  // operation can fail with Unavailable because that write failed.
  Result<std::optional<KeyValue>> get(const std::string& key) override;
  Result<RangeResult> range(const std::string& prefix) override;
  // Operations apply in order, so a later one sees an earlier one's write. Fails with
  // InvalidArgument for an empty key or a put on an unknown lease; nothing is written then.
  Result<TxnResult> txn(const Txn& txn) override;
  // A watch blocked when close() is called returns at once with no events (nextRevision as
  // usual); later calls fail with Unavailable.
  Result<WatchResult> watch(const std::string& prefix, Revision fromRevision,
                            std::chrono::milliseconds wait) override;
  Result<Revision> currentRevision() override;
  // Compacting at or below the current compaction point does nothing; a revision past the
  // current one fails with InvalidArgument.
  Status compact(Revision revision) override;
  Result<LeaseId> grantLease(std::chrono::milliseconds ttl) override;
  Status keepAlive(LeaseId lease) override;
  Status revokeLease(LeaseId lease) override;
  void close() override;

  // Deletes every lease whose deadline (by the injected clock) has passed, with its keys:
  // one Delete event per key, one revision for the whole batch (none if no key was
  // attached). Fails with Unavailable on a storage error, leaving everything as it was.
  Status expireLeases();

  // The revision before which history has been compacted (0 if never).
  Result<Revision> compactRevision();

 private:
  struct LeaseState {
    std::chrono::milliseconds ttl;
    std::chrono::steady_clock::time_point deadline;
  };
  class Statement;
  class WriteTxn;
  struct StatementDeleter {
    void operator()(sqlite3_stmt* statement) const;
  };

  SqliteStore(sqlite3* db, const Clock& clock, SqliteStoreOptions options);

  // Everything below requires mu_ held.
  Status initializeLocked();
  Status checkOpenLocked() const;
  Result<Statement> prepareLocked(std::string_view sql);
  Status execLocked(std::string_view sql);
  Result<std::optional<KeyValue>> getLocked(const std::string& key);
  Status expireLeasesLocked();
  Status commitLocked(WriteTxn& write);
  void rollbackLocked();
  template <typename Body>
  Status writeLocked(Body&& body);
  Status compactLocked(Revision revision, WriteTxn& write);
  Result<WatchResult> readEventsLocked(const std::string& prefix, Revision fromRevision);
  std::chrono::steady_clock::duration untilNextLeaseDeadlineLocked() const;
  void closeLocked();

  const Clock& clock_;
  const SqliteStoreOptions options_;

  // mu_ guards every member below it: the one sqlite3 connection is used by one thread at a
  // time. Watches wait on changed_ with mu_ released.
  std::mutex mu_;
  // Notified after every commit that bumped the revision, and by close().
  std::condition_variable changed_;
  sqlite3* db_;
  // Prepared statements by SQL text (string literals, so the views stay valid).
  std::unordered_map<std::string_view, std::unique_ptr<sqlite3_stmt, StatementDeleter>> statements_;
  Revision revision_ = 0;
  Revision compactRevision_ = 0;
  // Lease deadlines live only in memory: reopening the store re-arms every lease to its full
  // TTL (what etcd does on a leader change), so a restart never expires a live node's lease
  // before it had the chance to keep it alive.
  std::map<LeaseId, LeaseState> leases_;
  bool closed_ = false;
  int blockedWatches_ = 0;
};

}  // namespace overmesh::store
