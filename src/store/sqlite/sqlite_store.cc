#include "store/sqlite/sqlite_store.h"

#include <spdlog/spdlog.h>
#include <sqlite3.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdlib>
#include <type_traits>
#include <utility>
#include <vector>

namespace overmesh::store {
namespace {

constexpr std::int64_t kSchemaVersion = 1;

// Event.type as stored in the events table.
constexpr std::int64_t kEventPut = 0;
constexpr std::int64_t kEventDelete = 1;

// Keys and values are BLOBs so that SQLite compares them with memcmp (bytes such as 0xff
// are not valid UTF-8 and must still sort after every other byte).
constexpr std::array<std::string_view, 6> kSchema{
    "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL) "
    "WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS kv (key BLOB PRIMARY KEY, value BLOB NOT NULL, "
    "create_rev INTEGER NOT NULL, mod_rev INTEGER NOT NULL, version INTEGER NOT NULL, "
    "lease INTEGER NOT NULL) WITHOUT ROWID",
    "CREATE INDEX IF NOT EXISTS kv_by_lease ON kv (lease)",
    "CREATE TABLE IF NOT EXISTS events (rev INTEGER NOT NULL, idx INTEGER NOT NULL, "
    "type INTEGER NOT NULL, key BLOB NOT NULL, value BLOB NOT NULL, "
    "create_rev INTEGER NOT NULL, mod_rev INTEGER NOT NULL, version INTEGER NOT NULL, "
    "lease INTEGER NOT NULL, PRIMARY KEY (rev, idx)) WITHOUT ROWID",
    // AUTOINCREMENT: a revoked lease's id is never handed out again, so a stale holder's
    // keepAlive can not revive someone else's lease.
    "CREATE TABLE IF NOT EXISTS leases (id INTEGER PRIMARY KEY AUTOINCREMENT, "
    "ttl_ms INTEGER NOT NULL)",
    "INSERT OR IGNORE INTO meta (name, value) VALUES ('schema_version', 1), "
    "('revision', 0), ('compact_revision', 0)",
};

constexpr std::string_view kSelectKey =
    "SELECT key, value, create_rev, mod_rev, version, lease FROM kv WHERE key = ?";
constexpr std::string_view kSelectAll =
    "SELECT key, value, create_rev, mod_rev, version, lease FROM kv ORDER BY key";
constexpr std::string_view kSelectFrom =
    "SELECT key, value, create_rev, mod_rev, version, lease FROM kv WHERE key >= ? "
    "ORDER BY key";
constexpr std::string_view kSelectRange =
    "SELECT key, value, create_rev, mod_rev, version, lease FROM kv "
    "WHERE key >= ? AND key < ? ORDER BY key";
constexpr std::string_view kUpsertKey =
    "INSERT OR REPLACE INTO kv (key, value, create_rev, mod_rev, version, lease) "
    "VALUES (?, ?, ?, ?, ?, ?)";
constexpr std::string_view kDeleteKey = "DELETE FROM kv WHERE key = ?";
constexpr std::string_view kInsertEvent =
    "INSERT INTO events (rev, idx, type, key, value, create_rev, mod_rev, version, lease) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)";
// Delete events for a whole key range (or a lease's keys) in one statement, numbered in key
// order after the txn's earlier events: ?1 = revision, ?2 = index of the first event.
constexpr std::string_view kDeleteEventsFrom =
    "INSERT INTO events (rev, idx, type, key, value, create_rev, mod_rev, version, lease) "
    "SELECT ?1, ?2 - 1 + row_number() OVER (ORDER BY key), 1, key, x'', 0, ?1, 0, 0 "
    "FROM kv WHERE key >= ?3";
constexpr std::string_view kDeleteEventsRange =
    "INSERT INTO events (rev, idx, type, key, value, create_rev, mod_rev, version, lease) "
    "SELECT ?1, ?2 - 1 + row_number() OVER (ORDER BY key), 1, key, x'', 0, ?1, 0, 0 "
    "FROM kv WHERE key >= ?3 AND key < ?4";
constexpr std::string_view kDeleteEventsLease =
    "INSERT INTO events (rev, idx, type, key, value, create_rev, mod_rev, version, lease) "
    "SELECT ?1, ?2 - 1 + row_number() OVER (ORDER BY key), 1, key, x'', 0, ?1, 0, 0 "
    "FROM kv WHERE lease = ?3";
constexpr std::string_view kDeleteFrom = "DELETE FROM kv WHERE key >= ?";
constexpr std::string_view kDeleteRange = "DELETE FROM kv WHERE key >= ? AND key < ?";
constexpr std::string_view kDeleteLeaseKeys = "DELETE FROM kv WHERE lease = ?";
constexpr std::string_view kSelectEventsFrom =
    "SELECT rev, type, key, value, create_rev, mod_rev, version, lease FROM events "
    "WHERE rev >= ? AND rev <= ? AND key >= ? ORDER BY rev, idx";
constexpr std::string_view kSelectEventsRange =
    "SELECT rev, type, key, value, create_rev, mod_rev, version, lease FROM events "
    "WHERE rev >= ? AND rev <= ? AND key >= ? AND key < ? ORDER BY rev, idx";
constexpr std::string_view kDeleteEventsBefore = "DELETE FROM events WHERE rev < ?";
// Names are literals rather than parameters: a parameter bound as BLOB never equals TEXT.
constexpr std::array<std::string_view, 3> kSelectMeta{
    "SELECT value FROM meta WHERE name = 'schema_version'",
    "SELECT value FROM meta WHERE name = 'revision'",
    "SELECT value FROM meta WHERE name = 'compact_revision'",
};
constexpr std::string_view kUpdateRevision = "UPDATE meta SET value = ? WHERE name = 'revision'";
constexpr std::string_view kUpdateCompactRevision =
    "UPDATE meta SET value = ? WHERE name = 'compact_revision'";
constexpr std::string_view kSelectLeases = "SELECT id, ttl_ms FROM leases ORDER BY id";
constexpr std::string_view kInsertLease = "INSERT INTO leases (ttl_ms) VALUES (?)";
constexpr std::string_view kDeleteLease = "DELETE FROM leases WHERE id = ?";

// SQLITE_TRANSIENT without its C-style cast: SQLite copies the bound bytes, so callers may
// bind temporaries.
const sqlite3_destructor_type kTransient =
    reinterpret_cast<sqlite3_destructor_type>(static_cast<std::intptr_t>(-1));

// The first line of a statement, enough to tell which operation failed.
std::string_view describeSql(std::string_view sql) {
  constexpr std::size_t kMax = 72;
  return sql.size() <= kMax ? sql : sql.substr(0, kMax);
}

std::unexpected<Error> sqliteError(sqlite3* db, int rc, std::string_view operation) {
  return errorf(ErrorKind::Unavailable, "sqlite {}: {} (code {})", operation,
                db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc), rc);
}

bool compareMatches(int order, Compare::Op op) {
  switch (op) {
    case Compare::Op::Equal:
      return order == 0;
    case Compare::Op::NotEqual:
      return order != 0;
    case Compare::Op::Less:
      return order < 0;
    case Compare::Op::Greater:
      return order > 0;
  }
  return false;
}

template <typename T>
int threeWay(const T& left, const T& right) {
  if (left < right) {
    return -1;
  }
  return right < left ? 1 : 0;
}

// etcd's rule: a value compare on a missing key always fails; the numeric targets of a
// missing key are 0 (so absent() is "createRevision == 0").
bool evaluate(const Compare& compare, const std::optional<KeyValue>& current) {
  if (compare.target == Compare::Target::Value) {
    if (!current) {
      return false;
    }
    return compareMatches(threeWay(current->value, compare.value), compare.op);
  }
  std::int64_t actual = 0;
  if (current) {
    switch (compare.target) {
      case Compare::Target::ModRevision:
        actual = current->modRevision;
        break;
      case Compare::Target::CreateRevision:
        actual = current->createRevision;
        break;
      case Compare::Target::Version:
        actual = current->version;
        break;
      case Compare::Target::Value:
        break;
    }
  }
  return compareMatches(threeWay(actual, compare.number), compare.op);
}

}  // namespace

void SqliteStore::StatementDeleter::operator()(sqlite3_stmt* statement) const {
  // sqlite3_finalize repeats the statement's last step error, already reported then.
  static_cast<void>(sqlite3_finalize(statement));
}

// A borrowed prepared statement: binds, steps, reads columns, and on destruction resets the
// statement so that the cache can hand it out again.
class SqliteStore::Statement {
 public:
  Statement(sqlite3* db, sqlite3_stmt* statement, std::string_view sql)
      : db_(db), statement_(statement), sql_(sql) {}
  Statement(Statement&& other) noexcept
      : db_(other.db_), statement_(std::exchange(other.statement_, nullptr)), sql_(other.sql_) {}
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  Statement& operator=(Statement&&) = delete;
  ~Statement() {
    if (statement_ != nullptr) {
      // sqlite3_reset returns the last step's error, which step() already reported;
      // sqlite3_clear_bindings always succeeds.
      static_cast<void>(sqlite3_reset(statement_));
      static_cast<void>(sqlite3_clear_bindings(statement_));
    }
  }

  // Binds the parameters in order: integers as INTEGER, strings as BLOB.
  template <typename... Args>
  Status bind(const Args&... args) {
    int index = 0;
    Status status;
    ((status = status ? bindOne(++index, args) : status), ...);
    return status;
  }

  // Binds one parameter by its 1-based index.
  template <typename T>
  Status bindOne(int index, const T& value) {
    int rc = SQLITE_OK;
    if constexpr (std::is_integral_v<T>) {
      rc = sqlite3_bind_int64(statement_, index, static_cast<sqlite3_int64>(value));
    } else {
      std::string_view bytes(value);
      // A null pointer would bind NULL rather than an empty blob.
      rc = bytes.data() == nullptr
               ? sqlite3_bind_zeroblob(statement_, index, 0)
               : sqlite3_bind_blob64(statement_, index, bytes.data(), bytes.size(), kTransient);
    }
    if (rc != SQLITE_OK) {
      return sqliteError(db_, rc, fmt::format("bind #{} of '{}'", index, describeSql(sql_)));
    }
    return {};
  }

  // Advances to the next row: true when there is one, false when the statement is done.
  Result<bool> step() {
    int rc = sqlite3_step(statement_);
    if (rc == SQLITE_ROW) {
      return true;
    }
    if (rc == SQLITE_DONE) {
      return false;
    }
    return sqliteError(db_, rc, describeSql(sql_));
  }

  // Runs the statement to its end, discarding any rows.
  Status run() {
    for (;;) {
      auto row = step();
      if (!row) {
        return std::unexpected(row.error());
      }
      if (!*row) {
        return {};
      }
    }
  }

  std::int64_t integer(int column) const { return sqlite3_column_int64(statement_, column); }

  std::string bytes(int column) const {
    const void* data = sqlite3_column_blob(statement_, column);
    int size = sqlite3_column_bytes(statement_, column);
    if (data == nullptr || size <= 0) {
      return {};
    }
    return std::string(static_cast<const char*>(data), static_cast<std::size_t>(size));
  }

  // Reads key, value, create_rev, mod_rev, version, lease starting at column `first`.
  KeyValue keyValue(int first) const {
    KeyValue kv;
    kv.key = bytes(first);
    kv.value = bytes(first + 1);
    kv.createRevision = integer(first + 2);
    kv.modRevision = integer(first + 3);
    kv.version = integer(first + 4);
    kv.lease = integer(first + 5);
    return kv;
  }

 private:
  sqlite3* db_;
  sqlite3_stmt* statement_;
  std::string_view sql_;
};

// The writes of one SQLite transaction (opened with BEGIN IMMEDIATE by writeLocked). Every
// change to kv is recorded as an event at `revision`; `wrote` says whether the revision is
// used at all, so a transaction that changed no key does not bump it.
class SqliteStore::WriteTxn {
 public:
  explicit WriteTxn(SqliteStore& store)
      : store_(store), revision(store.revision_ + 1), compactTo(store.compactRevision_) {}

  // Creates or replaces `key`. The caller has checked the lease exists.
  Status put(const std::string& key, const std::string& value, LeaseId lease) {
    auto current = store_.getLocked(key);
    if (!current) {
      return std::unexpected(current.error());
    }
    KeyValue kv;
    kv.key = key;
    kv.value = value;
    kv.createRevision = *current ? (*current)->createRevision : revision;
    kv.modRevision = revision;
    kv.version = *current ? (*current)->version + 1 : 1;
    kv.lease = lease;
    auto upsert = store_.prepareLocked(kUpsertKey);
    if (!upsert) {
      return std::unexpected(upsert.error());
    }
    auto status =
        upsert->bind(kv.key, kv.value, kv.createRevision, kv.modRevision, kv.version, kv.lease);
    if (status) {
      status = upsert->run();
    }
    if (status) {
      status = recordEvent(kEventPut, kv);
    }
    return status;
  }

  // Deletes `key` if it exists (no event otherwise).
  Status remove(const std::string& key) {
    auto statement = store_.prepareLocked(kDeleteKey);
    if (!statement) {
      return std::unexpected(statement.error());
    }
    auto status = statement->bind(key);
    if (status) {
      status = statement->run();
    }
    if (!status || sqlite3_changes(store_.db_) == 0) {
      return status;
    }
    KeyValue kv;
    kv.key = key;
    kv.modRevision = revision;
    return recordEvent(kEventDelete, kv);
  }

  // Deletes every key starting with `prefix` ("" = every key).
  Status removePrefix(const std::string& prefix) {
    std::string end = prefixRangeEnd(prefix);
    if (end.empty()) {
      return removeMatching(kDeleteEventsFrom, kDeleteFrom, prefix);
    }
    return removeMatching(kDeleteEventsRange, kDeleteRange, prefix, end);
  }

  // Deletes every key attached to `lease`.
  Status removeLeaseKeys(LeaseId lease) {
    return removeMatching(kDeleteEventsLease, kDeleteLeaseKeys, lease);
  }

  SqliteStore& store_;
  const Revision revision;
  std::int64_t nextIndex = 0;
  bool wrote = false;
  Revision compactTo;

 private:
  Status recordEvent(std::int64_t type, const KeyValue& kv) {
    auto insert = store_.prepareLocked(kInsertEvent);
    if (!insert) {
      return std::unexpected(insert.error());
    }
    auto status = insert->bind(revision, nextIndex, type, kv.key, kv.value, kv.createRevision,
                               kv.modRevision, kv.version, kv.lease);
    if (status) {
      status = insert->run();
    }
    if (status) {
      ++nextIndex;
      wrote = true;
    }
    return status;
  }

  // Records Delete events for the keys `select` matches, then deletes them with `remove`;
  // both take the same key condition `args`.
  template <typename... Args>
  Status removeMatching(std::string_view select, std::string_view remove, const Args&... args) {
    auto events = store_.prepareLocked(select);
    if (!events) {
      return std::unexpected(events.error());
    }
    auto status = events->bind(revision, nextIndex, args...);
    if (status) {
      status = events->run();
    }
    if (!status) {
      return status;
    }
    auto recorded = sqlite3_changes64(store_.db_);
    auto deletion = store_.prepareLocked(remove);
    if (!deletion) {
      return std::unexpected(deletion.error());
    }
    status = deletion->bind(args...);
    if (status) {
      status = deletion->run();
    }
    if (!status) {
      return status;
    }
    if (sqlite3_changes64(store_.db_) != recorded) {
      // Both statements match the same rows inside one transaction; anything else is a bug.
      spdlog::critical("sqlite store: deleted {} keys but recorded {} events",
                       sqlite3_changes64(store_.db_), recorded);
      std::abort();
    }
    if (recorded > 0) {
      nextIndex += recorded;
      wrote = true;
    }
    return {};
  }
};

Result<std::unique_ptr<SqliteStore>> SqliteStore::open(const std::string& path, const Clock& clock,
                                                       SqliteStoreOptions options) {
  sqlite3* db = nullptr;
  // NOMUTEX: SQLite's own locking is redundant, the store serializes every use with mu_.
  int rc = sqlite3_open_v2(
      path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    auto error = errorf(ErrorKind::Unavailable, "sqlite open {}: {}", path,
                        db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    static_cast<void>(sqlite3_close(db));  // closing after a failed open can not fail usefully
    return error;
  }
  std::unique_ptr<SqliteStore> store(new SqliteStore(db, clock, std::move(options)));
  std::lock_guard lock(store->mu_);
  if (auto status = store->initializeLocked(); !status) {
    store->closeLocked();
    return std::unexpected(status.error().withContext(fmt::format("open store {}", path)));
  }
  return store;
}

SqliteStore::SqliteStore(sqlite3* db, const Clock& clock, SqliteStoreOptions options)
    : clock_(clock), options_(std::move(options)), db_(db) {}

SqliteStore::~SqliteStore() {
  std::unique_lock lock(mu_);
  closeLocked();
  changed_.wait(lock, [this] { return blockedWatches_ == 0; });
}

Status SqliteStore::initializeLocked() {
  if (int rc = sqlite3_busy_timeout(db_, static_cast<int>(options_.busyTimeout.count()));
      rc != SQLITE_OK) {
    return sqliteError(db_, rc, "busy_timeout");
  }
  // EXCLUSIVE before WAL: the WAL index then lives in this process's heap (no -shm file) and
  // no other process can open the database while we hold it (see the header).
  for (std::string_view pragma : {std::string_view("PRAGMA locking_mode = EXCLUSIVE"),
                                  std::string_view("PRAGMA synchronous = FULL")}) {
    if (auto status = execLocked(pragma); !status) {
      return status;
    }
  }
  {
    auto journal = prepareLocked("PRAGMA journal_mode = WAL");
    if (!journal) {
      return std::unexpected(journal.error());
    }
    auto row = journal->step();
    if (!row) {
      return std::unexpected(row.error());
    }
    std::string mode = *row ? journal->bytes(0) : "";
    if (mode != "wal") {
      return errorf(ErrorKind::Unavailable, "sqlite journal_mode=WAL: got '{}'", mode);
    }
  }
  if (auto status = execLocked("BEGIN IMMEDIATE"); !status) {
    return status;
  }
  auto loaded = [this]() -> Status {
    for (std::string_view sql : kSchema) {
      if (auto status = execLocked(sql); !status) {
        return status;
      }
    }
    std::array<std::int64_t, 3> values{};
    for (std::size_t i = 0; i < kSelectMeta.size(); ++i) {
      auto select = prepareLocked(kSelectMeta[i]);
      if (!select) {
        return std::unexpected(select.error());
      }
      auto row = select->step();
      if (!row) {
        return std::unexpected(row.error());
      }
      if (!*row) {
        return errorf(ErrorKind::Unavailable, "sqlite store: '{}' found no row", kSelectMeta[i]);
      }
      values[i] = select->integer(0);
    }
    if (values[0] != kSchemaVersion) {
      return errorf(ErrorKind::FailedPrecondition,
                    "sqlite store has schema version {}, this build reads version {}", values[0],
                    kSchemaVersion);
    }
    revision_ = values[1];
    compactRevision_ = values[2];
    auto leases = prepareLocked(kSelectLeases);
    if (!leases) {
      return std::unexpected(leases.error());
    }
    auto now = clock_.now();
    for (;;) {
      auto row = leases->step();
      if (!row) {
        return std::unexpected(row.error());
      }
      if (!*row) {
        break;
      }
      std::chrono::milliseconds ttl(leases->integer(1));
      leases_[leases->integer(0)] = LeaseState{ttl, now + ttl};
    }
    return {};
  }();
  if (!loaded) {
    rollbackLocked();
    return loaded;
  }
  if (auto status = execLocked("COMMIT"); !status) {
    rollbackLocked();
    return status;
  }
  return {};
}

Status SqliteStore::checkOpenLocked() const {
  if (closed_) {
    return errorf(ErrorKind::Unavailable, "sqlite store is closed");
  }
  return {};
}

Result<SqliteStore::Statement> SqliteStore::prepareLocked(std::string_view sql) {
  auto found = statements_.find(sql);
  if (found == statements_.end()) {
    sqlite3_stmt* statement = nullptr;
    int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                                SQLITE_PREPARE_PERSISTENT, &statement, nullptr);
    if (rc != SQLITE_OK) {
      return sqliteError(db_, rc, fmt::format("prepare '{}'", describeSql(sql)));
    }
    if (statement == nullptr) {
      return errorf(ErrorKind::Internal, "sqlite prepare '{}': empty statement", sql);
    }
    found = statements_.emplace(sql, statement).first;
  } else if (sqlite3_stmt_busy(found->second.get()) != 0) {
    // Two live Statement objects would share one sqlite3_stmt and corrupt each other.
    spdlog::critical("sqlite store: statement '{}' used while already in use", sql);
    std::abort();
  }
  return Statement(db_, found->second.get(), sql);
}

Status SqliteStore::execLocked(std::string_view sql) {
  auto statement = prepareLocked(sql);
  if (!statement) {
    return std::unexpected(statement.error());
  }
  return statement->run();
}

void SqliteStore::rollbackLocked() {
  if (sqlite3_get_autocommit(db_) != 0) {
    return;  // SQLite already rolled the transaction back (it does on some I/O errors)
  }
  if (auto status = execLocked("ROLLBACK"); !status) {
    // The next BEGIN will fail and report it; there is nothing better to do here.
    spdlog::error("sqlite store: rollback failed: {}", status.error().message);
  }
}

// Runs `body(WriteTxn&)` in one SQLite transaction and commits it, bumping the revision once
// if it changed a key. On any error nothing is written and the in-memory state is unchanged.
template <typename Body>
Status SqliteStore::writeLocked(Body&& body) {
  if (auto status = execLocked("BEGIN IMMEDIATE"); !status) {
    return status;
  }
  WriteTxn write(*this);
  Status status = body(write);
  if (status) {
    status = commitLocked(write);
  }
  if (!status) {
    rollbackLocked();
  }
  return status;
}

Status SqliteStore::commitLocked(WriteTxn& write) {
  if (write.wrote) {
    auto update = prepareLocked(kUpdateRevision);
    if (!update) {
      return std::unexpected(update.error());
    }
    auto status = update->bind(write.revision);
    if (status) {
      status = update->run();
    }
    if (!status) {
      return status;
    }
    if (options_.autoCompactKeep > 0) {
      Revision keepFrom = write.revision - options_.autoCompactKeep + 1;
      if (keepFrom > write.compactTo) {
        if (auto compacted = compactLocked(keepFrom, write); !compacted) {
          return compacted;
        }
      }
    }
  }
  if (auto status = execLocked("COMMIT"); !status) {
    return status;
  }
  if (write.wrote) {
    revision_ = write.revision;
    changed_.notify_all();
  }
  compactRevision_ = write.compactTo;
  return {};
}

Status SqliteStore::compactLocked(Revision revision, WriteTxn& write) {
  auto deletion = prepareLocked(kDeleteEventsBefore);
  if (!deletion) {
    return std::unexpected(deletion.error());
  }
  auto status = deletion->bind(revision);
  if (status) {
    status = deletion->run();
  }
  if (!status) {
    return status;
  }
  auto update = prepareLocked(kUpdateCompactRevision);
  if (!update) {
    return std::unexpected(update.error());
  }
  status = update->bind(revision);
  if (status) {
    status = update->run();
  }
  if (status) {
    write.compactTo = revision;
  }
  return status;
}

Result<std::optional<KeyValue>> SqliteStore::getLocked(const std::string& key) {
  auto select = prepareLocked(kSelectKey);
  if (!select) {
    return std::unexpected(select.error());
  }
  if (auto status = select->bind(key); !status) {
    return std::unexpected(status.error());
  }
  auto row = select->step();
  if (!row) {
    return std::unexpected(row.error());
  }
  if (!*row) {
    return std::nullopt;
  }
  return select->keyValue(0);
}

Status SqliteStore::expireLeasesLocked() {
  auto now = clock_.now();
  std::vector<LeaseId> expired;
  for (const auto& [id, lease] : leases_) {
    if (lease.deadline <= now) {
      expired.push_back(id);
    }
  }
  if (expired.empty()) {
    return {};
  }
  auto status = writeLocked([&](WriteTxn& write) -> Status {
    for (LeaseId id : expired) {
      if (auto removed = write.removeLeaseKeys(id); !removed) {
        return removed;
      }
      auto deletion = prepareLocked(kDeleteLease);
      if (!deletion) {
        return std::unexpected(deletion.error());
      }
      auto bound = deletion->bind(id);
      if (bound) {
        bound = deletion->run();
      }
      if (!bound) {
        return bound;
      }
    }
    return {};
  });
  if (!status) {
    return std::unexpected(status.error().withContext("expire leases"));
  }
  for (LeaseId id : expired) {
    leases_.erase(id);
  }
  spdlog::info("sqlite store: {} lease(s) expired; store at revision {}", expired.size(),
               revision_);
  return {};
}

Status SqliteStore::expireLeases() {
  std::lock_guard lock(mu_);
  if (auto status = checkOpenLocked(); !status) {
    return status;
  }
  return expireLeasesLocked();
}

Result<std::optional<KeyValue>> SqliteStore::get(const std::string& key) {
  std::lock_guard lock(mu_);
  if (auto status = checkOpenLocked(); !status) {
    return std::unexpected(status.error());
  }
  if (auto status = expireLeasesLocked(); !status) {
    return std::unexpected(status.error());
  }
  return getLocked(key);
}

Result<RangeResult> SqliteStore::range(const std::string& prefix) {
  std::lock_guard lock(mu_);
  if (auto status = checkOpenLocked(); !status) {
    return std::unexpected(status.error());
  }
  if (auto status = expireLeasesLocked(); !status) {
    return std::unexpected(status.error());
  }
  // One revision without a read transaction: every write goes through this connection
  // under mu_, which we hold for the whole scan.
  std::string end = prefixRangeEnd(prefix);
  Result<Statement> select = prefix.empty() ? prepareLocked(kSelectAll)
                             : end.empty()  ? prepareLocked(kSelectFrom)
                                            : prepareLocked(kSelectRange);
  if (!select) {
    return std::unexpected(select.error());
  }
  Status bound;
  if (!prefix.empty()) {
    bound = end.empty() ? select->bind(prefix) : select->bind(prefix, end);
  }
  if (!bound) {
    return std::unexpected(bound.error());
  }
  RangeResult result;
  result.revision = revision_;
  for (;;) {
    auto row = select->step();
    if (!row) {
      return std::unexpected(row.error());
    }
    if (!*row) {
      return result;
    }
    result.kvs.push_back(select->keyValue(0));
  }
}

Result<TxnResult> SqliteStore::txn(const Txn& request) {
  for (const auto* branch : {&request.success, &request.failure}) {
    for (const Operation& operation : *branch) {
      if (operation.type != Operation::Type::DeletePrefix && operation.key.empty()) {
        return errorf(ErrorKind::InvalidArgument, "txn: empty key");
      }
    }
  }
  std::lock_guard lock(mu_);
  if (auto status = checkOpenLocked(); !status) {
    return std::unexpected(status.error());
  }
  if (auto status = expireLeasesLocked(); !status) {
    return std::unexpected(status.error());
  }
  TxnResult result;
  auto status = writeLocked([&](WriteTxn& write) -> Status {
    result.succeeded = true;
    for (const Compare& compare : request.compares) {
      auto current = getLocked(compare.key);
      if (!current) {
        return std::unexpected(current.error());
      }
      if (!evaluate(compare, *current)) {
        result.succeeded = false;
        break;
      }
    }
    for (const Operation& operation : result.succeeded ? request.success : request.failure) {
      Status applied;
      switch (operation.type) {
        case Operation::Type::Put:
          if (operation.lease != 0 && !leases_.contains(operation.lease)) {
            return errorf(ErrorKind::InvalidArgument, "txn: put {}: lease {} does not exist",
                          operation.key, operation.lease);
          }
          applied = write.put(operation.key, operation.value, operation.lease);
          break;
        case Operation::Type::Delete:
          applied = write.remove(operation.key);
          break;
        case Operation::Type::DeletePrefix:
          applied = write.removePrefix(operation.key);
          break;
      }
      if (!applied) {
        return applied;
      }
    }
    return {};
  });
  if (!status) {
    return std::unexpected(status.error());
  }
  result.revision = revision_;
  return result;
}

Result<WatchResult> SqliteStore::readEventsLocked(const std::string& prefix,
                                                  Revision fromRevision) {
  std::string end = prefixRangeEnd(prefix);
  auto select = prepareLocked(end.empty() ? kSelectEventsFrom : kSelectEventsRange);
  if (!select) {
    return std::unexpected(select.error());
  }
  auto bound = end.empty() ? select->bind(fromRevision, revision_, prefix)
                           : select->bind(fromRevision, revision_, prefix, end);
  if (!bound) {
    return std::unexpected(bound.error());
  }
  WatchResult result;
  result.nextRevision = revision_ + 1;
  for (;;) {
    auto row = select->step();
    if (!row) {
      return std::unexpected(row.error());
    }
    if (!*row) {
      return result;
    }
    Revision revision = select->integer(0);
    if (result.events.size() >= options_.maxWatchEvents &&
        revision != result.events.back().kv.modRevision) {
      // Full, and the last revision is complete: the caller resumes from this one.
      result.nextRevision = revision;
      return result;
    }
    Event event;
    event.type = select->integer(1) == kEventDelete ? Event::Type::Delete : Event::Type::Put;
    event.kv = select->keyValue(2);
    result.events.push_back(std::move(event));
  }
}

Result<WatchResult> SqliteStore::watch(const std::string& prefix, Revision fromRevision,
                                       std::chrono::milliseconds wait) {
  std::unique_lock lock(mu_);
  if (auto status = checkOpenLocked(); !status) {
    return std::unexpected(status.error());
  }
  auto deadline = std::chrono::steady_clock::now() + std::max(wait, std::chrono::milliseconds(0));
  // Where the scan resumes: past every revision already found to hold nothing for us.
  Revision scanFrom = fromRevision;
  ++blockedWatches_;
  struct Unblock {
    SqliteStore& store;
    ~Unblock() {
      --store.blockedWatches_;
      store.changed_.notify_all();  // the destructor may be waiting for us
    }
  } unblock{*this};
  for (;;) {
    if (closed_) {
      return WatchResult{{}, scanFrom};
    }
    if (auto status = expireLeasesLocked(); !status) {
      return std::unexpected(status.error());
    }
    if (scanFrom < compactRevision_) {
      return errorf(ErrorKind::Compacted,
                    "watch {} from revision {}: history before revision {} was compacted; "
                    "relist (range) and watch from the revision it returns + 1",
                    prefix, scanFrom, compactRevision_);
    }
    if (scanFrom <= revision_) {
      auto result = readEventsLocked(prefix, scanFrom);
      if (!result || !result->events.empty()) {
        return result;
      }
      scanFrom = result->nextRevision;
    }
    auto now = std::chrono::steady_clock::now();
    if (now >= deadline) {
      return WatchResult{{}, scanFrom};
    }
    auto wakeAt = deadline;
    if (!leases_.empty()) {
      // Lease deadlines are on the injected clock; waking at least every leaseCheckInterval
      // also covers a clock that does not follow real time (ManualClock in tests).
      auto untilLease = std::min<std::chrono::steady_clock::duration>(
          options_.leaseCheckInterval, untilNextLeaseDeadlineLocked());
      wakeAt = std::min(wakeAt, now + untilLease);
    }
    changed_.wait_until(lock, wakeAt);
  }
}

std::chrono::steady_clock::duration SqliteStore::untilNextLeaseDeadlineLocked() const {
  auto now = clock_.now();
  auto next = std::chrono::steady_clock::duration::max();
  for (const auto& entry : leases_) {
    next = std::min(next, entry.second.deadline - now);
  }
  // A little past the deadline, so that the wake-up does not come just before it.
  return std::max(next, std::chrono::steady_clock::duration::zero()) + std::chrono::milliseconds(1);
}

Result<Revision> SqliteStore::currentRevision() {
  std::lock_guard lock(mu_);
  if (auto status = checkOpenLocked(); !status) {
    return std::unexpected(status.error());
  }
  if (auto status = expireLeasesLocked(); !status) {
    return std::unexpected(status.error());
  }
  return revision_;
}

Result<Revision> SqliteStore::compactRevision() {
  std::lock_guard lock(mu_);
  if (auto status = checkOpenLocked(); !status) {
    return std::unexpected(status.error());
  }
  if (auto status = expireLeasesLocked(); !status) {
    return std::unexpected(status.error());
  }
  return compactRevision_;
}

Status SqliteStore::compact(Revision revision) {
  std::lock_guard lock(mu_);
  if (auto status = checkOpenLocked(); !status) {
    return status;
  }
  if (auto status = expireLeasesLocked(); !status) {
    return status;
  }
  if (revision > revision_) {
    return errorf(ErrorKind::InvalidArgument,
                  "compact to revision {}: past the current revision {}", revision, revision_);
  }
  if (revision <= compactRevision_) {
    return {};
  }
  return writeLocked([&](WriteTxn& write) { return compactLocked(revision, write); });
}

Result<LeaseId> SqliteStore::grantLease(std::chrono::milliseconds ttl) {
  if (ttl < std::chrono::milliseconds(1)) {
    return errorf(ErrorKind::InvalidArgument, "grant lease: TTL {} ms is under 1 ms", ttl.count());
  }
  std::lock_guard lock(mu_);
  if (auto status = checkOpenLocked(); !status) {
    return std::unexpected(status.error());
  }
  if (auto status = expireLeasesLocked(); !status) {
    return std::unexpected(status.error());
  }
  LeaseId id = 0;
  // A grant writes the leases table only: no key changes, so no new revision (as in etcd).
  auto status = writeLocked([&](WriteTxn&) -> Status {
    auto insert = prepareLocked(kInsertLease);
    if (!insert) {
      return std::unexpected(insert.error());
    }
    auto inserted = insert->bind(ttl.count());
    if (inserted) {
      inserted = insert->run();
    }
    if (inserted) {
      id = sqlite3_last_insert_rowid(db_);
    }
    return inserted;
  });
  if (!status) {
    return std::unexpected(status.error().withContext("grant lease"));
  }
  leases_[id] = LeaseState{ttl, clock_.now() + ttl};
  return id;
}

Status SqliteStore::keepAlive(LeaseId lease) {
  std::lock_guard lock(mu_);
  if (auto status = checkOpenLocked(); !status) {
    return status;
  }
  if (auto status = expireLeasesLocked(); !status) {
    return status;
  }
  auto found = leases_.find(lease);
  if (found == leases_.end()) {
    return errorf(ErrorKind::NotFound, "keep lease {} alive: it expired or was revoked", lease);
  }
  found->second.deadline = clock_.now() + found->second.ttl;
  return {};
}

Status SqliteStore::revokeLease(LeaseId lease) {
  std::lock_guard lock(mu_);
  if (auto status = checkOpenLocked(); !status) {
    return status;
  }
  if (auto status = expireLeasesLocked(); !status) {
    return status;
  }
  if (!leases_.contains(lease)) {
    return errorf(ErrorKind::NotFound, "revoke lease {}: it expired or was revoked", lease);
  }
  auto status = writeLocked([&](WriteTxn& write) -> Status {
    if (auto removed = write.removeLeaseKeys(lease); !removed) {
      return removed;
    }
    auto deletion = prepareLocked(kDeleteLease);
    if (!deletion) {
      return std::unexpected(deletion.error());
    }
    auto bound = deletion->bind(lease);
    if (bound) {
      bound = deletion->run();
    }
    return bound;
  });
  if (!status) {
    return std::unexpected(status.error().withContext(fmt::format("revoke lease {}", lease)));
  }
  leases_.erase(lease);
  return {};
}

void SqliteStore::close() {
  std::lock_guard lock(mu_);
  closeLocked();
}

void SqliteStore::closeLocked() {
  if (closed_) {
    return;
  }
  closed_ = true;
  statements_.clear();
  if (int rc = sqlite3_close(db_); rc != SQLITE_OK) {
    // Only unfinalized statements make close fail, and we finalized ours just above.
    spdlog::error("sqlite store: close: {}", sqlite3_errmsg(db_));
  }
  db_ = nullptr;
  changed_.notify_all();
}

}  // namespace overmesh::store
