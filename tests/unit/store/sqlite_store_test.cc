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

namespace overmesh::store {
namespace {

using namespace std::chrono_literals;

using overmesh::testing::must;
using TempDir = overmesh::testing::ScratchDir;

class SqliteStoreTest : public ::testing::Test {
 protected:
  std::string dbPath() const { return (dir_.path() / "state.db").string(); }

  std::unique_ptr<SqliteStore> openStore(SqliteStoreOptions options = {}) {
    return must(SqliteStore::open(dbPath(), clock_, options));
  }

  TempDir dir_;
  ManualClock clock_;
};

std::vector<std::string> keysOf(const RangeResult& range) {
  std::vector<std::string> keys;
  for (const auto& kv : range.kvs) {
    keys.push_back(kv.key);
  }
  return keys;
}

Txn putAll(std::vector<std::pair<std::string, std::string>> pairs) {
  Txn txn;
  for (auto& [key, value] : pairs) {
    txn.success.push_back(Operation::put(key, value));
  }
  return txn;
}

// Collects every event under `prefix` from `from` up to the current revision, one watch
// answer at a time, checking that answers line up with their nextRevision.
std::vector<Event> watchAll(Store& store, const std::string& prefix, Revision from) {
  std::vector<Event> events;
  Revision current = must(store.currentRevision());
  while (from <= current) {
    WatchResult answer = must(store.watch(prefix, from, 0ms));
    EXPECT_GT(answer.nextRevision, from);
    for (const auto& event : answer.events) {
      EXPECT_GE(event.kv.modRevision, from);
      EXPECT_LT(event.kv.modRevision, answer.nextRevision);
      events.push_back(event);
    }
    if (answer.nextRevision <= from) {
      break;  // reported above; do not loop forever
    }
    from = answer.nextRevision;
  }
  return events;
}

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

TEST_F(SqliteStoreTest, EachWriteTxnBumpsTheRevisionOnce) {
  auto store = openStore();
  TxnResult first = must(store->txn(putAll({{"a", "1"}, {"b", "2"}, {"c", "3"}})));
  EXPECT_TRUE(first.succeeded);
  EXPECT_EQ(first.revision, 1);
  for (const auto& kv : must(store->range("")).kvs) {
    EXPECT_EQ(kv.modRevision, 1) << kv.key;
  }
  Txn second;
  second.success = {Operation::put("a", "10"), Operation::del("b")};
  EXPECT_EQ(must(store->txn(second)).revision, 2);
  EXPECT_EQ(must(store->put("d", "4")), 3);
  EXPECT_EQ(must(store->del("d")), 4);
  EXPECT_EQ(must(store->currentRevision()), 4);
}

TEST_F(SqliteStoreTest, ReadsFailedComparesAndNoOpDeletesKeepTheRevision) {
  auto store = openStore();
  ASSERT_EQ(must(store->put("a", "1")), 1);
  EXPECT_TRUE(must(store->get("a")).has_value());
  EXPECT_EQ(must(store->range("")).revision, 1);

  Txn guarded;
  guarded.compares = {Compare::valueIs("a", "other")};
  guarded.success = {Operation::put("a", "2")};
  TxnResult result = must(store->txn(guarded));
  EXPECT_FALSE(result.succeeded);
  EXPECT_EQ(result.revision, 1);

  EXPECT_EQ(must(store->del("missing")), 1);
  Txn deletePrefix;
  deletePrefix.success = {Operation::delPrefix("zzz/")};
  EXPECT_EQ(must(store->txn(deletePrefix)).revision, 1);
  EXPECT_EQ(must(store->currentRevision()), 1);
  EXPECT_EQ(must(store->get("a"))->value, "1");
}

TEST_F(SqliteStoreTest, TracksCreateRevisionModRevisionAndVersion) {
  auto store = openStore();
  must(store->put("k", "v1"));
  must(store->put("other", "x"));
  must(store->put("k", "v2"));
  KeyValue kv = *must(store->get("k"));
  EXPECT_EQ(kv.value, "v2");
  EXPECT_EQ(kv.createRevision, 1);
  EXPECT_EQ(kv.modRevision, 3);
  EXPECT_EQ(kv.version, 2);
  EXPECT_EQ(kv.lease, 0);

  must(store->del("k"));
  EXPECT_EQ(must(store->get("k")), std::nullopt);
  must(store->put("k", "v3"));
  kv = *must(store->get("k"));
  EXPECT_EQ(kv.createRevision, 5);
  EXPECT_EQ(kv.modRevision, 5);
  EXPECT_EQ(kv.version, 1);
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

TEST_F(SqliteStoreTest, RangeHonoursPrefixBoundaries) {
  auto store = openStore();
  must(store->txn(putAll({{"a", "0"},
                          {"a/", "1"},
                          {"a/b", "2"},
                          {"a/\xff", "3"},
                          {"a0", "4"},
                          {"b", "5"},
                          {"\xff\xff", "6"}})));
  must(store->put("c", "7"));

  RangeResult range = must(store->range("a/"));
  EXPECT_EQ(range.revision, 2);
  EXPECT_EQ(keysOf(range), (std::vector<std::string>{"a/", "a/b", "a/\xff"}));
  EXPECT_EQ(range.kvs[2].value, "3");
  EXPECT_EQ(range.kvs[2].modRevision, 1);
  EXPECT_EQ(keysOf(must(store->range("a/\xff"))), (std::vector<std::string>{"a/\xff"}));
  EXPECT_EQ(keysOf(must(store->range("a"))),
            (std::vector<std::string>{"a", "a/", "a/b", "a/\xff", "a0"}));
  EXPECT_EQ(keysOf(must(store->range("\xff"))), (std::vector<std::string>{"\xff\xff"}));
  EXPECT_EQ(keysOf(must(store->range(""))),
            (std::vector<std::string>{"a", "a/", "a/b", "a/\xff", "a0", "b", "c", "\xff\xff"}));
  EXPECT_TRUE(must(store->range("a/c")).kvs.empty());
}

TEST_F(SqliteStoreTest, AbsentCompareCreatesOnlyOnce) {
  auto store = openStore();
  Txn create;
  create.compares = {Compare::absent("/overmesh/networks/by-name/web")};
  create.success = {Operation::put("/overmesh/networks/by-name/web", "id1")};
  EXPECT_TRUE(must(store->txn(create)).succeeded);
  create.success = {Operation::put("/overmesh/networks/by-name/web", "id2")};
  TxnResult again = must(store->txn(create));
  EXPECT_FALSE(again.succeeded);
  EXPECT_EQ(again.revision, 1);
  EXPECT_EQ(must(store->get("/overmesh/networks/by-name/web"))->value, "id1");
}

TEST_F(SqliteStoreTest, ModRevisionCompareDetectsAConcurrentWrite) {
  auto store = openStore();
  must(store->put("k", "v1"));
  Revision seen = must(store->get("k"))->modRevision;
  must(store->put("k", "someone else"));

  Txn update;
  update.compares = {Compare::modRevisionIs("k", seen)};
  update.success = {Operation::put("k", "mine")};
  EXPECT_FALSE(must(store->txn(update)).succeeded);
  EXPECT_EQ(must(store->get("k"))->value, "someone else");

  update.compares = {Compare::modRevisionIs("k", must(store->get("k"))->modRevision)};
  TxnResult retried = must(store->txn(update));
  EXPECT_TRUE(retried.succeeded);
  EXPECT_EQ(retried.revision, 3);
  EXPECT_EQ(must(store->get("k"))->value, "mine");
}

TEST_F(SqliteStoreTest, ValueCompareOnPresentAndMissingKeys) {
  auto store = openStore();
  must(store->put("k", "b"));
  struct Case {
    Compare compare;
    bool succeeds;
  };
  auto valueCompare = [](std::string key, Compare::Op op, std::string value) {
    Compare compare = Compare::valueIs(std::move(key), std::move(value));
    compare.op = op;
    return compare;
  };
  std::vector<Case> cases{
      {Compare::valueIs("k", "b"), true},
      {Compare::valueIs("k", "c"), false},
      {valueCompare("k", Compare::Op::NotEqual, "c"), true},
      {valueCompare("k", Compare::Op::Less, "c"), true},
      {valueCompare("k", Compare::Op::Greater, "a"), true},
      {valueCompare("k", Compare::Op::Greater, "c"), false},
      // etcd: a value compare on a missing key fails whatever the operator.
      {Compare::valueIs("missing", ""), false},
      {valueCompare("missing", Compare::Op::NotEqual, "x"), false},
  };
  for (const auto& testCase : cases) {
    Txn txn;
    txn.compares = {testCase.compare};
    EXPECT_EQ(must(store->txn(txn)).succeeded, testCase.succeeds)
        << testCase.compare.key << " vs " << testCase.compare.value;
  }
  Txn versionCompare;
  Compare version;
  version.key = "k";
  version.target = Compare::Target::Version;
  version.op = Compare::Op::Equal;
  version.number = 1;
  versionCompare.compares = {version};
  EXPECT_TRUE(must(store->txn(versionCompare)).succeeded);
}

TEST_F(SqliteStoreTest, FailedCompareRunsTheFailureOperations) {
  auto store = openStore();
  must(store->put("k", "v"));
  Txn txn;
  txn.compares = {Compare::absent("k"), Compare::valueIs("k", "v")};
  txn.success = {Operation::put("created", "1")};
  txn.failure = {Operation::put("conflicts", "1"), Operation::del("k")};
  TxnResult result = must(store->txn(txn));
  EXPECT_FALSE(result.succeeded);
  EXPECT_EQ(result.revision, 2);
  EXPECT_EQ(must(store->get("created")), std::nullopt);
  EXPECT_EQ(must(store->get("conflicts"))->value, "1");
  EXPECT_EQ(must(store->get("k")), std::nullopt);
}

TEST_F(SqliteStoreTest, DeletePrefixDeletesOnlyKeysUnderThePrefix) {
  auto store = openStore();
  must(store->txn(putAll({{"a/2", "x"}, {"a/1", "x"}, {"a0", "x"}, {"a", "x"}, {"b", "x"}})));
  Txn txn;
  txn.success = {Operation::delPrefix("a/")};
  EXPECT_EQ(must(store->txn(txn)).revision, 2);
  EXPECT_EQ(keysOf(must(store->range(""))), (std::vector<std::string>{"a", "a0", "b"}));

  std::vector<Event> events = watchAll(*store, "", 2);
  ASSERT_EQ(events.size(), 2U);
  EXPECT_EQ(events[0].type, Event::Type::Delete);
  EXPECT_EQ(events[0].kv.key, "a/1");
  EXPECT_EQ(events[0].kv.modRevision, 2);
  EXPECT_EQ(events[1].type, Event::Type::Delete);
  EXPECT_EQ(events[1].kv.key, "a/2");

  txn.success = {Operation::delPrefix("")};
  EXPECT_EQ(must(store->txn(txn)).revision, 3);
  EXPECT_TRUE(must(store->range("")).kvs.empty());
}

TEST_F(SqliteStoreTest, RejectsEmptyKeys) {
  auto store = openStore();
  auto put = store->put("", "v");
  ASSERT_FALSE(put);
  EXPECT_EQ(put.error().kind, ErrorKind::InvalidArgument);
  EXPECT_EQ(must(store->currentRevision()), 0);
}

TEST_F(SqliteStoreTest, WatchReturnsEveryEventInRevisionOrder) {
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

TEST_F(SqliteStoreTest, BlockedWatchIsWokenByAConcurrentWriter) {
  auto store = openStore();
  constexpr int kTxns = 150;
  std::vector<Event> received;
  std::atomic<bool> watcherFailed{false};
  std::thread watcher([&] {
    // Watcher thread: long-polls from revision 1 until it saw every writer event.
    Revision from = 1;
    auto giveUp = std::chrono::steady_clock::now() + 30s;
    while (received.size() < 2 * kTxns && std::chrono::steady_clock::now() < giveUp) {
      auto answer = store->watch("w/", from, 5s);
      if (!answer) {
        watcherFailed = true;
        return;
      }
      received.insert(received.end(), answer->events.begin(), answer->events.end());
      from = answer->nextRevision;
    }
  });
  std::thread writer([&] {
    // Writer thread: two keys per txn plus one the watcher must not see.
    for (int i = 1; i <= kTxns; ++i) {
      Txn txn = putAll({{"w/a", std::to_string(i)},
                        {"unrelated", std::to_string(i)},
                        {"w/b", std::to_string(i)}});
      if (!store->txn(txn)) {
        return;
      }
      if (i % 16 == 0) {
        std::this_thread::sleep_for(1ms);
      }
    }
  });
  writer.join();
  watcher.join();
  ASSERT_FALSE(watcherFailed);
  ASSERT_EQ(received.size(), 2U * kTxns);
  for (int i = 1; i <= kTxns; ++i) {
    const Event& a = received[2 * (i - 1)];
    const Event& b = received[2 * (i - 1) + 1];
    EXPECT_EQ(a.kv.key, "w/a");
    EXPECT_EQ(b.kv.key, "w/b");
    EXPECT_EQ(a.kv.modRevision, i);
    EXPECT_EQ(b.kv.modRevision, i);
    EXPECT_EQ(a.kv.value, std::to_string(i));
  }
}

TEST_F(SqliteStoreTest, WatchTimesOutEmptyAndSkipsUnrelatedHistory) {
  auto store = openStore();
  must(store->put("other/1", "x"));
  must(store->put("other/2", "x"));
  auto started = std::chrono::steady_clock::now();
  WatchResult answer = must(store->watch("w/", 1, 100ms));
  EXPECT_GE(std::chrono::steady_clock::now() - started, 100ms);
  EXPECT_TRUE(answer.events.empty());
  EXPECT_EQ(answer.nextRevision, 3);

  answer = must(store->watch("w/", 3, 0ms));
  EXPECT_TRUE(answer.events.empty());
  EXPECT_EQ(answer.nextRevision, 3);
}

TEST_F(SqliteStoreTest, WatchFromBeforeTheCompactionPointAnswersCompacted) {
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

TEST_F(SqliteStoreTest, ExpiredLeaseDeletesItsKeysInOneRevision) {
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

TEST_F(SqliteStoreTest, LeaseWithoutKeysExpiresWithoutARevision) {
  auto store = openStore();
  LeaseId lease = must(store->grantLease(1s));
  clock_.advance(2s);
  must(store->expireLeases());
  EXPECT_EQ(must(store->currentRevision()), 0);
  EXPECT_EQ(store->keepAlive(lease).error().kind, ErrorKind::NotFound);
}

TEST_F(SqliteStoreTest, KeepAliveRestartsTheTtl) {
  auto store = openStore();
  LeaseId lease = must(store->grantLease(10s));
  must(store->put("n/1", "x", lease));
  clock_.advance(8s);
  must(store->keepAlive(lease));
  clock_.advance(8s);
  EXPECT_TRUE(must(store->get("n/1")).has_value());
  clock_.advance(3s);
  EXPECT_EQ(must(store->get("n/1")), std::nullopt);
}

TEST_F(SqliteStoreTest, RevokeDeletesTheLeaseAndItsKeys) {
  auto store = openStore();
  LeaseId lease = must(store->grantLease(10s));
  must(store->put("n/1", "x", lease));
  must(store->put("n/2", "x", lease));
  must(store->revokeLease(lease));
  EXPECT_EQ(must(store->currentRevision()), 3);
  EXPECT_TRUE(must(store->range("n/")).kvs.empty());
  EXPECT_EQ(watchAll(*store, "n/", 3).size(), 2U);

  EXPECT_EQ(store->revokeLease(lease).error().kind, ErrorKind::NotFound);
  EXPECT_EQ(store->keepAlive(lease).error().kind, ErrorKind::NotFound);
  EXPECT_EQ(store->put("n/1", "x", lease).error().kind, ErrorKind::InvalidArgument);
}

TEST_F(SqliteStoreTest, UnknownLeasesAreRejectedAndTheTxnWritesNothing) {
  auto store = openStore();
  auto put = store->put("k", "v", 12345);
  ASSERT_FALSE(put);
  EXPECT_EQ(put.error().kind, ErrorKind::InvalidArgument);

  Txn txn;
  txn.success = {Operation::put("first", "ok"), Operation::put("second", "x", 12345)};
  auto result = store->txn(txn);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::InvalidArgument);
  EXPECT_EQ(must(store->get("first")), std::nullopt);
  EXPECT_EQ(must(store->currentRevision()), 0);
  EXPECT_EQ(must(store->put("after", "ok")), 1);  // the rollback left the store usable

  EXPECT_EQ(store->keepAlive(999).error().kind, ErrorKind::NotFound);
  EXPECT_EQ(store->revokeLease(999).error().kind, ErrorKind::NotFound);
  EXPECT_EQ(store->grantLease(0ms).error().kind, ErrorKind::InvalidArgument);
}

TEST_F(SqliteStoreTest, BlockedWatchSeesLeaseExpiry) {
  SqliteStoreOptions options;
  options.leaseCheckInterval = 10ms;
  auto store = openStore(options);
  LeaseId lease = must(store->grantLease(1s));
  must(store->put("n/1", "x", lease));
  Result<WatchResult> answer;
  std::thread watcher([&] {
    // Watcher thread: blocks until the lease's Delete event shows up.
    answer = store->watch("n/", 2, 20s);
  });
  std::this_thread::sleep_for(50ms);
  auto advanced = std::chrono::steady_clock::now();
  clock_.advance(2s);
  watcher.join();
  EXPECT_LT(std::chrono::steady_clock::now() - advanced, 10s);
  ASSERT_TRUE(answer) << answer.error().message;
  ASSERT_EQ(answer->events.size(), 1U);
  EXPECT_EQ(answer->events[0].type, Event::Type::Delete);
  EXPECT_EQ(answer->events[0].kv.key, "n/1");
}

TEST_F(SqliteStoreTest, CloseWakesBlockedWatchesAndFailsLaterCalls) {
  auto store = openStore();
  Result<WatchResult> answer;
  auto started = std::chrono::steady_clock::now();
  std::thread watcher([&] {
    // Watcher thread: blocks for up to 30 s unless close() wakes it.
    answer = store->watch("", 1, 30s);
  });
  std::this_thread::sleep_for(50ms);
  store->close();
  watcher.join();
  EXPECT_LT(std::chrono::steady_clock::now() - started, 10s);
  ASSERT_TRUE(answer) << answer.error().message;
  EXPECT_TRUE(answer->events.empty());
  EXPECT_EQ(store->get("k").error().kind, ErrorKind::Unavailable);
  EXPECT_EQ(store->put("k", "v").error().kind, ErrorKind::Unavailable);
  EXPECT_EQ(store->watch("", 1, 0ms).error().kind, ErrorKind::Unavailable);
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
