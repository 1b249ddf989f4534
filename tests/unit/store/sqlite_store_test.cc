#include "store/sqlite/sqlite_store.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/error.h"
#include "store/store.h"
#include "support/scratch.h"
#include "support/store_suite.h"

namespace overmesh::store {
namespace {

using suite::StoreSuite;

using namespace std::chrono_literals;

using overmesh::testing::must;
using TempDir = overmesh::testing::ScratchDir;
using suite::keysOf;
using suite::putAll;
using suite::watchAll;

// The shared Store suite (store_suite_test.cc) on SQLite, with a ManualClock: time passes
// at once.
class SqliteBackend final : public suite::StoreBackend {
 public:
  std::unique_ptr<Store> openStore() override {
    return must(SqliteStore::open((dir_.path() / "state.db").string(), clock_));
  }
  void elapse(std::chrono::milliseconds duration) override { clock_.advance(duration); }

 private:
  TempDir dir_;
  ManualClock clock_;
};

std::unique_ptr<suite::StoreBackend> makeSqliteBackend() {
  return std::make_unique<SqliteBackend>();
}

INSTANTIATE_TEST_SUITE_P(Sqlite, StoreSuite,
                         ::testing::Values(suite::BackendParam{"Sqlite", &makeSqliteBackend}),
                         suite::backendName);

class SqliteStoreTest : public ::testing::Test {
 protected:
  std::string dbPath() const { return (dir_.path() / "state.db").string(); }

  std::unique_ptr<SqliteStore> openStore(SqliteStoreOptions options = {}) {
    return must(SqliteStore::open(dbPath(), clock_, options));
  }

  TempDir dir_;
  ManualClock clock_;
};

TEST(PrefixRangeEndTest, BumpsTheLastByteThatCanBeBumped) {
  EXPECT_EQ(prefixRangeEnd(""), "");
  EXPECT_EQ(prefixRangeEnd("a"), "b");
  EXPECT_EQ(prefixRangeEnd("a/"), "a0");
  EXPECT_EQ(prefixRangeEnd("/overmesh/nodes/"), "/overmesh/nodes0");
  EXPECT_EQ(prefixRangeEnd("a\xff"), "b");
  EXPECT_EQ(prefixRangeEnd("a/\xff\xff"), "a0");
  EXPECT_EQ(prefixRangeEnd("\xff\xff"), "");
}

TEST(CompareTest, FactoriesBuildTheEtcdIdioms) {
  Compare absent = Compare::absent("k");
  EXPECT_EQ(absent.target, Compare::Target::CreateRevision);
  EXPECT_EQ(absent.op, Compare::Op::Equal);
  EXPECT_EQ(absent.number, 0);
  Compare mod = Compare::modRevisionIs("k", 7);
  EXPECT_EQ(mod.target, Compare::Target::ModRevision);
  EXPECT_EQ(mod.number, 7);
  Compare value = Compare::valueIs("k", "v");
  EXPECT_EQ(value.target, Compare::Target::Value);
  EXPECT_EQ(value.value, "v");
}

TEST_F(SqliteStoreTest, NewStoreIsAtRevisionZero) {
  auto store = openStore();
  EXPECT_EQ(must(store->currentRevision()), 0);
  RangeResult range = must(store->range(""));
  EXPECT_TRUE(range.kvs.empty());
  EXPECT_EQ(range.revision, 0);
  EXPECT_EQ(must(store->get("missing")), std::nullopt);
}

TEST_F(SqliteStoreTest, LaterOperationsOfATxnSeeEarlierOnes) {
  auto store = openStore();
  Txn txn;
  txn.success = {Operation::put("k", "1"), Operation::put("k", "2"), Operation::del("gone"),
                 Operation::put("gone", "x"), Operation::del("gone")};
  EXPECT_EQ(must(store->txn(txn)).revision, 1);
  KeyValue kv = *must(store->get("k"));
  EXPECT_EQ(kv.value, "2");
  EXPECT_EQ(kv.version, 2);
  EXPECT_EQ(must(store->get("gone")), std::nullopt);
  EXPECT_EQ(watchAll(*store, "", 1).size(), 4U);  // deleting the missing key is no event
}

TEST_F(SqliteStoreTest, WatchAnswersEndOnWholeRevisionsPastMaxWatchEvents) {
  SqliteStoreOptions options;
  options.maxWatchEvents = 5;  // forces many answers, each ending on a whole revision
  auto store = openStore(options);
  constexpr int kTxns = 120;
  for (int i = 1; i <= kTxns; ++i) {
    Txn txn;
    txn.success = {Operation::put("w/slot" + std::to_string(i % 7), std::to_string(i)),
                   Operation::put("other/" + std::to_string(i), "x"),
                   Operation::put("w/item" + std::to_string(i), std::to_string(i))};
    if (i % 10 == 0) {
      txn.success.push_back(Operation::del("w/item" + std::to_string(i - 5)));
    }
    ASSERT_EQ(must(store->txn(txn)).revision, i);
  }

  std::vector<Event> events = watchAll(*store, "w/", 1);
  std::size_t next = 0;
  for (int i = 1; i <= kTxns; ++i) {
    std::vector<std::string> expected{"w/slot" + std::to_string(i % 7),
                                      "w/item" + std::to_string(i)};
    if (i % 10 == 0) {
      expected.push_back("w/item" + std::to_string(i - 5));
    }
    for (std::size_t j = 0; j < expected.size(); ++j, ++next) {
      ASSERT_LT(next, events.size()) << "missing events from revision " << i;
      const Event& event = events[next];
      EXPECT_EQ(event.kv.key, expected[j]) << "revision " << i;
      EXPECT_EQ(event.kv.modRevision, i);
      EXPECT_EQ(event.type, j == 2 ? Event::Type::Delete : Event::Type::Put);
      if (event.type == Event::Type::Put) {
        EXPECT_EQ(event.kv.value, std::to_string(i));
      }
    }
  }
  EXPECT_EQ(next, events.size());

  WatchResult caughtUp = must(store->watch("w/", kTxns + 1, 0ms));
  EXPECT_TRUE(caughtUp.events.empty());
  EXPECT_EQ(caughtUp.nextRevision, kTxns + 1);
}

TEST_F(SqliteStoreTest, CompactRevisionIsRecordedAndChecked) {
  auto store = openStore();
  for (int i = 1; i <= 5; ++i) {
    must(store->put("k", std::to_string(i)));
  }
  must(store->compact(3));
  EXPECT_EQ(must(store->compactRevision()), 3);

  auto old = store->watch("", 2, 0ms);
  ASSERT_FALSE(old);
  EXPECT_EQ(old.error().kind, ErrorKind::Compacted);
  EXPECT_NE(old.error().message.find("revision 3"), std::string::npos) << old.error().message;
  EXPECT_NE(old.error().message.find("relist"), std::string::npos) << old.error().message;

  std::vector<Event> events = watchAll(*store, "", 3);
  ASSERT_EQ(events.size(), 3U);
  EXPECT_EQ(events.front().kv.modRevision, 3);

  must(store->compact(2));  // already compacted past it: nothing to do
  EXPECT_EQ(must(store->compactRevision()), 3);
  auto future = store->compact(6);
  ASSERT_FALSE(future);
  EXPECT_EQ(future.error().kind, ErrorKind::InvalidArgument);
  EXPECT_EQ(must(store->currentRevision()), 5);  // compaction is not a write
}

TEST_F(SqliteStoreTest, AutoCompactionKeepsTheNewestRevisions) {
  SqliteStoreOptions options;
  options.autoCompactKeep = 5;
  auto store = openStore(options);
  for (int i = 1; i <= 20; ++i) {
    must(store->put("k" + std::to_string(i), "v"));
  }
  EXPECT_EQ(must(store->compactRevision()), 16);
  EXPECT_EQ(watchAll(*store, "", 16).size(), 5U);
  auto old = store->watch("", 15, 0ms);
  ASSERT_FALSE(old);
  EXPECT_EQ(old.error().kind, ErrorKind::Compacted);
  EXPECT_EQ(must(store->range("")).kvs.size(), 20U);  // compaction drops history, not keys
}

TEST_F(SqliteStoreTest, ReopenKeepsRevisionDataHistoryAndLeases) {
  LeaseId lease = 0;
  {
    auto store = openStore();
    must(store->put("a", "1"));
    must(store->put("b", "2"));
    must(store->put("a", "3"));
    must(store->compact(2));
    lease = must(store->grantLease(10s));
    must(store->put("leased", "x", lease));
    clock_.advance(9s);
    store->close();
    EXPECT_FALSE(store->get("a"));
  }
  auto store = openStore();
  EXPECT_EQ(must(store->currentRevision()), 4);
  EXPECT_EQ(must(store->compactRevision()), 2);
  KeyValue a = *must(store->get("a"));
  EXPECT_EQ(a.value, "3");
  EXPECT_EQ(a.createRevision, 1);
  EXPECT_EQ(a.version, 2);
  EXPECT_EQ(watchAll(*store, "", 2).size(), 3U);

  // Re-armed to a full TTL on open: 9 s had passed, 9 more do not expire it.
  clock_.advance(9s);
  EXPECT_EQ(must(store->get("leased"))->lease, lease);
  clock_.advance(2s);
  EXPECT_EQ(must(store->get("leased")), std::nullopt);

  EXPECT_EQ(must(store->put("c", "4")), 6);
  EXPECT_NE(must(store->grantLease(1s)), lease);  // lease ids are never reused
}

TEST_F(SqliteStoreTest, ExpireLeasesDeletesKeysByTheInjectedClock) {
  auto store = openStore();
  LeaseId lease = must(store->grantLease(10s));
  EXPECT_EQ(must(store->currentRevision()), 0);  // a grant is not a key write
  must(store->put("n/1", "x", lease));
  must(store->put("n/2", "x", lease));
  must(store->put("n/3", "x"));
  EXPECT_EQ(must(store->get("n/1"))->lease, lease);

  clock_.advance(9s);
  must(store->expireLeases());
  EXPECT_EQ(must(store->currentRevision()), 3);

  clock_.advance(2s);
  must(store->expireLeases());
  EXPECT_EQ(must(store->currentRevision()), 4);
  EXPECT_EQ(keysOf(must(store->range("n/"))), (std::vector<std::string>{"n/3"}));
  std::vector<Event> events = watchAll(*store, "n/", 4);
  ASSERT_EQ(events.size(), 2U);
  for (std::size_t i = 0; i < events.size(); ++i) {
    EXPECT_EQ(events[i].type, Event::Type::Delete);
    EXPECT_EQ(events[i].kv.key, "n/" + std::to_string(i + 1));
    EXPECT_EQ(events[i].kv.modRevision, 4);
  }
  auto kept = store->keepAlive(lease);
  ASSERT_FALSE(kept);
  EXPECT_EQ(kept.error().kind, ErrorKind::NotFound);
}

TEST_F(SqliteStoreTest, EveryOperationObservesExpiryWithoutExpireLeases) {
  auto store = openStore();
  LeaseId lease = must(store->grantLease(1s));
  must(store->put("n/1", "x", lease));
  clock_.advance(2s);
  EXPECT_EQ(must(store->get("n/1")), std::nullopt);
  EXPECT_EQ(must(store->currentRevision()), 2);
}

TEST_F(SqliteStoreTest, SecondOpenOfTheSameFileFails) {
  auto store = openStore();
  must(store->put("k", "v"));
  SqliteStoreOptions options;
  options.busyTimeout = 50ms;
  auto second = SqliteStore::open(dbPath(), clock_, options);
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().kind, ErrorKind::Unavailable);
  EXPECT_EQ(must(store->get("k"))->value, "v");
}

TEST_F(SqliteStoreTest, OpenFailsOnAFileThatIsNotADatabase) {
  {
    std::FILE* file = std::fopen(dbPath().c_str(), "w");
    ASSERT_NE(file, nullptr);
    std::fputs("this is not an sqlite database, not even close; just text\n", file);
    std::fclose(file);
  }
  auto opened = SqliteStore::open(dbPath(), clock_);
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error().kind, ErrorKind::Unavailable);
}

// Kills the child on every exit path of the test, so a failed assertion leaves no writer
// looping behind.
struct ChildGuard {
  pid_t pid;
  ~ChildGuard() {
    if (pid > 0) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
  }
};

// Runs in the forked child: writes txns of two keys with the same counter until killed.
// Reports readiness after the first commit on `readyFd`. Never returns into gtest.
[[noreturn]] void crashWriter(const std::string& path, int readyFd) {
  alarm(30);  // a parent that died before killing us must not leave us running forever
  SystemClock clock;
  SqliteStoreOptions options;
  options.autoCompactKeep = 0;  // keep every event, so the parent can count the txns
  auto store = SqliteStore::open(path, clock, options);
  if (!store) {
    _exit(2);
  }
  for (std::int64_t i = 1;; ++i) {
    Txn txn = putAll({{"crash/a", std::to_string(i)}, {"crash/b", std::to_string(i)}});
    auto result = (*store)->txn(txn);
    if (!result || result->revision != i) {
      _exit(3);
    }
    if (i == 1) {
      char ready = 1;
      if (write(readyFd, &ready, 1) != 1) {
        _exit(4);
      }
      close(readyFd);
    }
  }
}

TEST_F(SqliteStoreTest, SurvivesSigkillInTheMiddleOfWrites) {
  int ready[2];
  ASSERT_EQ(pipe(ready), 0) << errnoText(errno);
  pid_t pid = fork();
  ASSERT_GE(pid, 0) << errnoText(errno);
  if (pid == 0) {
    close(ready[0]);
    crashWriter(dbPath(), ready[1]);
  }
  ChildGuard guard{pid};
  close(ready[1]);
  char byte = 0;
  ssize_t got = read(ready[0], &byte, 1);
  close(ready[0]);
  ASSERT_EQ(got, 1) << "the writer child failed before its first commit";
  std::this_thread::sleep_for(200ms);
  ASSERT_EQ(kill(pid, SIGKILL), 0) << errnoText(errno);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  guard.pid = 0;
  ASSERT_TRUE(WIFSIGNALED(status)) << "child exited with " << WEXITSTATUS(status);
  EXPECT_EQ(WTERMSIG(status), SIGKILL);

  SqliteStoreOptions options;
  options.autoCompactKeep = 0;
  auto store = openStore(options);
  Revision revision = must(store->currentRevision());
  ASSERT_GE(revision, 1);
  auto a = must(store->get("crash/a"));
  auto b = must(store->get("crash/b"));
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->value, b->value);
  EXPECT_EQ(a->value, std::to_string(revision));
  EXPECT_EQ(a->modRevision, revision);
  EXPECT_EQ(a->version, revision);

  // Every committed txn left exactly its two events, and nothing else was committed.
  std::map<Revision, int> eventsPerRevision;
  for (const Event& event : watchAll(*store, "", 1)) {
    ++eventsPerRevision[event.kv.modRevision];
    EXPECT_EQ(event.kv.value, std::to_string(event.kv.modRevision));
  }
  EXPECT_EQ(static_cast<Revision>(eventsPerRevision.size()), revision);
  for (const auto& [rev, count] : eventsPerRevision) {
    EXPECT_EQ(count, 2) << "revision " << rev;
  }
  EXPECT_EQ(eventsPerRevision.rbegin()->first, revision);

  Txn next = putAll({{"crash/a", "after"}, {"crash/b", "after"}});
  EXPECT_EQ(must(store->txn(next)).revision, revision + 1);
  std::cout << "[          ] " << revision << " txns committed before SIGKILL\n";
}

}  // namespace
}  // namespace overmesh::store
