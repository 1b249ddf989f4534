// The Store's semantics (store.h), specified once and run against every backend: each
// test binary instantiates StoreSuite with its backend (sqlite_store_test.cc,
// etcd_store_test.cc). Revisions are counted from the store's own start (rev(n)).

#include "support/store_suite.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "common/error.h"
#include "store/store.h"

namespace overmesh::store::suite {
namespace {

TEST_P(StoreSuite, NewStoreIsEmpty) {
  RangeResult range = must(store().range(""));
  EXPECT_TRUE(range.kvs.empty());
  EXPECT_EQ(range.revision, rev(0));
  EXPECT_EQ(must(store().get("missing")), std::nullopt);
}

TEST_P(StoreSuite, EachWriteTxnBumpsTheRevisionOnce) {
  TxnResult first = must(store().txn(putAll({{"a", "1"}, {"b", "2"}, {"c", "3"}})));
  EXPECT_TRUE(first.succeeded);
  EXPECT_EQ(first.revision, rev(1));
  for (const auto& kv : must(store().range("")).kvs) {
    EXPECT_EQ(kv.modRevision, rev(1)) << kv.key;
  }
  Txn second;
  second.success = {Operation::put("a", "10"), Operation::del("b")};
  EXPECT_EQ(must(store().txn(second)).revision, rev(2));
  EXPECT_EQ(must(store().put("d", "4")), rev(3));
  EXPECT_EQ(must(store().del("d")), rev(4));
  EXPECT_EQ(must(store().currentRevision()), rev(4));
}

// Operations apply in order, so of several on one key the last wins (etcd itself refuses
// such a txn; the backend keeps only the last operation of each key).
TEST_P(StoreSuite, ATxnThatWritesOneKeyTwiceKeepsItsLastWrite) {
  Txn txn;
  txn.success = {Operation::put("k", "1"), Operation::put("g", "x"), Operation::put("k", "2"),
                 Operation::put("g", "y")};
  EXPECT_EQ(must(store().txn(txn)).revision, rev(1));
  EXPECT_EQ(must(store().get("k"))->value, "2");
  EXPECT_EQ(must(store().get("g"))->value, "y");
  Txn gone;
  gone.success = {Operation::put("k", "3"), Operation::del("k")};
  must(store().txn(gone));
  EXPECT_EQ(must(store().get("k")), std::nullopt);
}

TEST_P(StoreSuite, ReadsFailedComparesAndNoOpDeletesKeepTheRevision) {
  ASSERT_EQ(must(store().put("a", "1")), rev(1));
  EXPECT_TRUE(must(store().get("a")).has_value());
  EXPECT_EQ(must(store().range("")).revision, rev(1));

  Txn guarded;
  guarded.compares = {Compare::valueIs("a", "other")};
  guarded.success = {Operation::put("a", "2")};
  TxnResult result = must(store().txn(guarded));
  EXPECT_FALSE(result.succeeded);
  EXPECT_EQ(result.revision, rev(1));

  EXPECT_EQ(must(store().del("missing")), rev(1));
  Txn deletePrefix;
  deletePrefix.success = {Operation::delPrefix("zzz/")};
  EXPECT_EQ(must(store().txn(deletePrefix)).revision, rev(1));
  EXPECT_EQ(must(store().currentRevision()), rev(1));
  EXPECT_EQ(must(store().get("a"))->value, "1");
}

TEST_P(StoreSuite, TracksCreateRevisionModRevisionAndVersion) {
  must(store().put("k", "v1"));
  must(store().put("other", "x"));
  must(store().put("k", "v2"));
  KeyValue kv = *must(store().get("k"));
  EXPECT_EQ(kv.value, "v2");
  EXPECT_EQ(kv.createRevision, rev(1));
  EXPECT_EQ(kv.modRevision, rev(3));
  EXPECT_EQ(kv.version, 2);
  EXPECT_EQ(kv.lease, 0);

  must(store().del("k"));
  EXPECT_EQ(must(store().get("k")), std::nullopt);
  must(store().put("k", "v3"));
  kv = *must(store().get("k"));
  EXPECT_EQ(kv.createRevision, rev(5));
  EXPECT_EQ(kv.modRevision, rev(5));
  EXPECT_EQ(kv.version, 1);
}

TEST_P(StoreSuite, EmptyValuesAndBinaryBytesRoundTrip) {
  std::string bytes("\0\x01\xfe\xff\"\\\n", 7);
  must(store().txn(putAll({{"empty", ""}, {"bin/" + bytes, bytes}})));
  KeyValue empty = *must(store().get("empty"));
  EXPECT_EQ(empty.value, "");
  EXPECT_EQ(empty.version, 1);
  KeyValue binary = *must(store().get("bin/" + bytes));
  EXPECT_EQ(binary.value, bytes);
  std::vector<Event> events = watchAll(store(), "bin/", rev(1));
  ASSERT_EQ(events.size(), 1U);
  EXPECT_EQ(events[0].kv.key, "bin/" + bytes);
  EXPECT_EQ(events[0].kv.value, bytes);
}

TEST_P(StoreSuite, RangeHonoursPrefixBoundaries) {
  must(store().txn(putAll({{"a", "0"},
                           {"a/", "1"},
                           {"a/b", "2"},
                           {"a/\xff", "3"},
                           {"a0", "4"},
                           {"b", "5"},
                           {"\xff\xff", "6"}})));
  must(store().put("c", "7"));

  RangeResult range = must(store().range("a/"));
  EXPECT_EQ(range.revision, rev(2));
  EXPECT_EQ(keysOf(range), (std::vector<std::string>{"a/", "a/b", "a/\xff"}));
  ASSERT_EQ(range.kvs.size(), 3U);
  EXPECT_EQ(range.kvs[2].value, "3");
  EXPECT_EQ(range.kvs[2].modRevision, rev(1));
  EXPECT_EQ(keysOf(must(store().range("a/\xff"))), (std::vector<std::string>{"a/\xff"}));
  EXPECT_EQ(keysOf(must(store().range("a"))),
            (std::vector<std::string>{"a", "a/", "a/b", "a/\xff", "a0"}));
  EXPECT_EQ(keysOf(must(store().range("\xff"))), (std::vector<std::string>{"\xff\xff"}));
  EXPECT_EQ(keysOf(must(store().range(""))),
            (std::vector<std::string>{"a", "a/", "a/b", "a/\xff", "a0", "b", "c", "\xff\xff"}));
  EXPECT_TRUE(must(store().range("a/c")).kvs.empty());
}

TEST_P(StoreSuite, AbsentCompareCreatesOnlyOnce) {
  Txn create;
  create.compares = {Compare::absent("/overmesh/networks/by-name/web")};
  create.success = {Operation::put("/overmesh/networks/by-name/web", "id1")};
  EXPECT_TRUE(must(store().txn(create)).succeeded);
  create.success = {Operation::put("/overmesh/networks/by-name/web", "id2")};
  TxnResult again = must(store().txn(create));
  EXPECT_FALSE(again.succeeded);
  EXPECT_EQ(again.revision, rev(1));
  EXPECT_EQ(must(store().get("/overmesh/networks/by-name/web"))->value, "id1");
}

TEST_P(StoreSuite, ModRevisionCompareDetectsAConcurrentWrite) {
  must(store().put("k", "v1"));
  Revision seen = must(store().get("k"))->modRevision;
  must(store().put("k", "someone else"));

  Txn update;
  update.compares = {Compare::modRevisionIs("k", seen)};
  update.success = {Operation::put("k", "mine")};
  EXPECT_FALSE(must(store().txn(update)).succeeded);
  EXPECT_EQ(must(store().get("k"))->value, "someone else");

  update.compares = {Compare::modRevisionIs("k", must(store().get("k"))->modRevision)};
  TxnResult retried = must(store().txn(update));
  EXPECT_TRUE(retried.succeeded);
  EXPECT_EQ(retried.revision, rev(3));
  EXPECT_EQ(must(store().get("k"))->value, "mine");
}

TEST_P(StoreSuite, ConcurrentCompareAndSwapsLetExactlyOneWin) {
  must(store().put("counter", "0"));
  constexpr int kWriters = 4;
  constexpr int kIncrements = 15;
  std::atomic<int> conflicts{0};
  std::atomic<bool> failed{false};
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&] {
      // Writer thread: read-modify-write with a mod-revision compare, retried on conflict.
      for (int done = 0; done < kIncrements && !failed;) {
        auto current = store().get("counter");
        if (!current || !*current) {
          failed = true;
          return;
        }
        Txn txn;
        txn.compares = {Compare::modRevisionIs("counter", (*current)->modRevision)};
        txn.success = {Operation::put("counter", std::to_string(std::stoi((*current)->value) + 1))};
        auto result = store().txn(txn);
        if (!result) {
          failed = true;
          return;
        }
        if (result->succeeded) {
          ++done;
        } else {
          ++conflicts;
        }
      }
    });
  }
  for (auto& writer : writers) {
    writer.join();
  }
  ASSERT_FALSE(failed);
  EXPECT_EQ(must(store().get("counter"))->value, std::to_string(kWriters * kIncrements));
  EXPECT_EQ(must(store().currentRevision()), rev(1 + kWriters * kIncrements));
}

TEST_P(StoreSuite, ValueCompareOnPresentAndMissingKeys) {
  must(store().put("k", "b"));
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
    EXPECT_EQ(must(store().txn(txn)).succeeded, testCase.succeeds)
        << testCase.compare.key << " vs " << testCase.compare.value;
  }
  auto numberCompare = [](Compare::Target target, Compare::Op op, std::int64_t number) {
    Compare compare;
    compare.key = "k";
    compare.target = target;
    compare.op = op;
    compare.number = number;
    return compare;
  };
  std::vector<Case> numbers{
      {numberCompare(Compare::Target::Version, Compare::Op::Equal, 1), true},
      {numberCompare(Compare::Target::Version, Compare::Op::Greater, 1), false},
      {numberCompare(Compare::Target::ModRevision, Compare::Op::Less, rev(2)), true},
      {numberCompare(Compare::Target::ModRevision, Compare::Op::NotEqual, rev(1)), false},
      {numberCompare(Compare::Target::CreateRevision, Compare::Op::Greater, 0), true},
  };
  for (const auto& testCase : numbers) {
    Txn txn;
    txn.compares = {testCase.compare};
    EXPECT_EQ(must(store().txn(txn)).succeeded, testCase.succeeds)
        << static_cast<int>(testCase.compare.target) << " " << static_cast<int>(testCase.compare.op)
        << " " << testCase.compare.number;
  }
}

TEST_P(StoreSuite, FailedCompareRunsTheFailureOperations) {
  must(store().put("k", "v"));
  Txn txn;
  txn.compares = {Compare::absent("k"), Compare::valueIs("k", "v")};
  txn.success = {Operation::put("created", "1")};
  txn.failure = {Operation::put("conflicts", "1"), Operation::del("k")};
  TxnResult result = must(store().txn(txn));
  EXPECT_FALSE(result.succeeded);
  EXPECT_EQ(result.revision, rev(2));
  EXPECT_EQ(must(store().get("created")), std::nullopt);
  EXPECT_EQ(must(store().get("conflicts"))->value, "1");
  EXPECT_EQ(must(store().get("k")), std::nullopt);
}

TEST_P(StoreSuite, DeletePrefixDeletesOnlyKeysUnderThePrefix) {
  must(store().txn(putAll({{"a/2", "x"}, {"a/1", "x"}, {"a0", "x"}, {"a", "x"}, {"b", "x"}})));
  Txn txn;
  txn.success = {Operation::delPrefix("a/")};
  EXPECT_EQ(must(store().txn(txn)).revision, rev(2));
  EXPECT_EQ(keysOf(must(store().range(""))), (std::vector<std::string>{"a", "a0", "b"}));

  std::vector<Event> events = watchAll(store(), "", rev(2));
  ASSERT_EQ(events.size(), 2U);
  EXPECT_EQ(events[0].type, Event::Type::Delete);
  EXPECT_EQ(events[0].kv.key, "a/1");
  EXPECT_EQ(events[0].kv.modRevision, rev(2));
  EXPECT_EQ(events[1].type, Event::Type::Delete);
  EXPECT_EQ(events[1].kv.key, "a/2");

  txn.success = {Operation::delPrefix("")};
  EXPECT_EQ(must(store().txn(txn)).revision, rev(3));
  EXPECT_TRUE(must(store().range("")).kvs.empty());
}

TEST_P(StoreSuite, RejectsEmptyKeys) {
  auto put = store().put("", "v");
  ASSERT_FALSE(put);
  EXPECT_EQ(put.error().kind, ErrorKind::InvalidArgument);
  EXPECT_EQ(must(store().currentRevision()), rev(0));
}

TEST_P(StoreSuite, WatchReturnsEveryEventInRevisionOrder) {
  constexpr int kTxns = 60;
  for (int i = 1; i <= kTxns; ++i) {
    Txn txn;
    txn.success = {Operation::put("w/slot" + std::to_string(i % 7), std::to_string(i)),
                   Operation::put("other/" + std::to_string(i), "x"),
                   Operation::put("w/item" + std::to_string(i), std::to_string(i))};
    if (i % 10 == 0) {
      txn.success.push_back(Operation::del("w/item" + std::to_string(i - 5)));
    }
    ASSERT_EQ(must(store().txn(txn)).revision, rev(i));
  }

  std::vector<Event> events = watchAll(store(), "w/", rev(1));
  std::size_t next = 0;
  for (int i = 1; i <= kTxns; ++i) {
    std::vector<std::string> expected{"w/slot" + std::to_string(i % 7),
                                      "w/item" + std::to_string(i)};
    if (i % 10 == 0) {
      expected.push_back("w/item" + std::to_string(i - 5));
    }
    for (std::size_t j = 0; j < expected.size(); ++j, ++next) {
      ASSERT_LT(next, events.size()) << "missing events from revision " << rev(i);
      const Event& event = events[next];
      EXPECT_EQ(event.kv.key, expected[j]) << "revision " << rev(i);
      EXPECT_EQ(event.kv.modRevision, rev(i));
      EXPECT_EQ(event.type, j == 2 ? Event::Type::Delete : Event::Type::Put);
      if (event.type == Event::Type::Put) {
        EXPECT_EQ(event.kv.value, std::to_string(i));
      }
    }
  }
  EXPECT_EQ(next, events.size());

  WatchResult caughtUp = must(store().watch("w/", rev(kTxns + 1), 0ms));
  EXPECT_TRUE(caughtUp.events.empty());
  EXPECT_EQ(caughtUp.nextRevision, rev(kTxns + 1));
}

TEST_P(StoreSuite, BlockedWatchIsWokenByAConcurrentWriter) {
  constexpr int kTxns = 100;
  std::vector<Event> received;
  std::atomic<bool> watcherFailed{false};
  std::thread watcher([&] {
    // Watcher thread: long-polls from the first write until it saw every writer event.
    Revision from = rev(1);
    auto giveUp = std::chrono::steady_clock::now() + 30s;
    while (received.size() < 2 * kTxns && std::chrono::steady_clock::now() < giveUp) {
      auto answer = store().watch("w/", from, 5s);
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
      if (!store().txn(txn)) {
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
    EXPECT_EQ(a.kv.modRevision, rev(i));
    EXPECT_EQ(b.kv.modRevision, rev(i));
    EXPECT_EQ(a.kv.value, std::to_string(i));
  }
}

TEST_P(StoreSuite, WatchTimesOutEmptyAndSkipsUnrelatedHistory) {
  must(store().put("other/1", "x"));
  must(store().put("other/2", "x"));
  auto started = std::chrono::steady_clock::now();
  WatchResult answer = must(store().watch("w/", rev(1), 100ms));
  EXPECT_GE(std::chrono::steady_clock::now() - started, 100ms);
  EXPECT_TRUE(answer.events.empty());
  EXPECT_EQ(answer.nextRevision, rev(3));

  answer = must(store().watch("w/", rev(3), 0ms));
  EXPECT_TRUE(answer.events.empty());
  EXPECT_EQ(answer.nextRevision, rev(3));
}

TEST_P(StoreSuite, WatchFromBeforeTheCompactionPointAnswersCompacted) {
  for (int i = 1; i <= 5; ++i) {
    must(store().put("k", std::to_string(i)));
  }
  must(store().compact(rev(3)));

  auto old = store().watch("", rev(2), 0ms);
  ASSERT_FALSE(old);
  EXPECT_EQ(old.error().kind, ErrorKind::Compacted);
  EXPECT_NE(old.error().message.find("revision " + std::to_string(rev(3))), std::string::npos)
      << old.error().message;
  EXPECT_NE(old.error().message.find("relist"), std::string::npos) << old.error().message;

  std::vector<Event> events = watchAll(store(), "", rev(3));
  ASSERT_EQ(events.size(), 3U);
  EXPECT_EQ(events.front().kv.modRevision, rev(3));

  must(store().compact(rev(2)));  // already compacted past it: nothing to do
  auto future = store().compact(rev(6));
  ASSERT_FALSE(future);
  EXPECT_EQ(future.error().kind, ErrorKind::InvalidArgument);
  EXPECT_EQ(must(store().currentRevision()), rev(5));  // compaction is not a write
  EXPECT_EQ(must(store().get("k"))->value, "5");       // nor does it drop keys
}

TEST_P(StoreSuite, ExpiredLeaseDeletesItsKeysInOneRevision) {
  LeaseId lease = must(store().grantLease(3s));
  EXPECT_EQ(must(store().currentRevision()), rev(0));  // a grant is not a key write
  must(store().put("n/1", "x", lease));
  must(store().put("n/2", "x", lease));
  must(store().put("n/3", "x"));
  EXPECT_EQ(must(store().get("n/1"))->lease, lease);

  backend_->elapse(1s);
  EXPECT_TRUE(must(store().get("n/1")).has_value());
  EXPECT_EQ(must(store().currentRevision()), rev(3));

  ASSERT_TRUE(eventually([&] { return !must(store().get("n/1")).has_value(); }));
  EXPECT_EQ(must(store().currentRevision()), rev(4));
  EXPECT_EQ(keysOf(must(store().range("n/"))), (std::vector<std::string>{"n/3"}));
  std::vector<Event> events = watchAll(store(), "n/", rev(4));
  ASSERT_EQ(events.size(), 2U);
  for (std::size_t i = 0; i < events.size(); ++i) {
    EXPECT_EQ(events[i].type, Event::Type::Delete);
    EXPECT_EQ(events[i].kv.key, "n/" + std::to_string(i + 1));
    EXPECT_EQ(events[i].kv.modRevision, rev(4));
  }
  auto kept = store().keepAlive(lease);
  ASSERT_FALSE(kept);
  EXPECT_EQ(kept.error().kind, ErrorKind::NotFound);
}

TEST_P(StoreSuite, LeaseWithoutKeysExpiresWithoutARevision) {
  LeaseId lease = must(store().grantLease(1s));
  backend_->elapse(4s);  // etcd revokes an expired lease within about 0.5 s
  EXPECT_EQ(must(store().currentRevision()), rev(0));
  auto kept = store().keepAlive(lease);
  ASSERT_FALSE(kept);
  EXPECT_EQ(kept.error().kind, ErrorKind::NotFound);
}

TEST_P(StoreSuite, KeepAliveRestartsTheTtl) {
  // Seconds, not milliseconds: etcd counts lease TTLs in whole seconds, on its own clock,
  // and a loaded machine needs margins on both sides.
  LeaseId lease = must(store().grantLease(5s));
  must(store().put("n/1", "x", lease));
  backend_->elapse(3s);
  must(store().keepAlive(lease));
  backend_->elapse(3s);
  EXPECT_TRUE(must(store().get("n/1")).has_value())
      << "6 s after a 5 s grant, 3 s after the keep-alive";
  ASSERT_TRUE(eventually([&] { return !must(store().get("n/1")).has_value(); }));
}

TEST_P(StoreSuite, RevokeDeletesTheLeaseAndItsKeys) {
  LeaseId lease = must(store().grantLease(10s));
  must(store().put("n/1", "x", lease));
  must(store().put("n/2", "x", lease));
  must(store().revokeLease(lease));
  EXPECT_EQ(must(store().currentRevision()), rev(3));
  EXPECT_TRUE(must(store().range("n/")).kvs.empty());
  EXPECT_EQ(watchAll(store(), "n/", rev(3)).size(), 2U);

  EXPECT_EQ(store().revokeLease(lease).error().kind, ErrorKind::NotFound);
  EXPECT_EQ(store().keepAlive(lease).error().kind, ErrorKind::NotFound);
  EXPECT_EQ(store().put("n/1", "x", lease).error().kind, ErrorKind::InvalidArgument);
}

TEST_P(StoreSuite, UnknownLeasesAreRejectedAndTheTxnWritesNothing) {
  auto put = store().put("k", "v", 12345);
  ASSERT_FALSE(put);
  EXPECT_EQ(put.error().kind, ErrorKind::InvalidArgument);

  Txn txn;
  txn.success = {Operation::put("first", "ok"), Operation::put("second", "x", 12345)};
  auto result = store().txn(txn);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::InvalidArgument);
  EXPECT_EQ(must(store().get("first")), std::nullopt);
  EXPECT_EQ(must(store().currentRevision()), rev(0));
  EXPECT_EQ(must(store().put("after", "ok")), rev(1));  // the store is still usable

  EXPECT_EQ(store().keepAlive(999).error().kind, ErrorKind::NotFound);
  EXPECT_EQ(store().revokeLease(999).error().kind, ErrorKind::NotFound);
  EXPECT_EQ(store().grantLease(0ms).error().kind, ErrorKind::InvalidArgument);
}

TEST_P(StoreSuite, BlockedWatchSeesLeaseExpiry) {
  LeaseId lease = must(store().grantLease(1s));
  must(store().put("n/1", "x", lease));
  Result<WatchResult> answer;
  std::thread watcher([&] {
    // Watcher thread: blocks until the lease's Delete event shows up.
    answer = store().watch("n/", rev(2), 20s);
  });
  std::this_thread::sleep_for(50ms);
  auto advanced = std::chrono::steady_clock::now();
  backend_->elapse(2s);
  watcher.join();
  EXPECT_LT(std::chrono::steady_clock::now() - advanced, 10s);
  ASSERT_TRUE(answer) << answer.error().message;
  ASSERT_EQ(answer->events.size(), 1U);
  EXPECT_EQ(answer->events[0].type, Event::Type::Delete);
  EXPECT_EQ(answer->events[0].kv.key, "n/1");
}

TEST_P(StoreSuite, CloseWakesBlockedWatchesAndFailsLaterCalls) {
  Result<WatchResult> answer;
  auto started = std::chrono::steady_clock::now();
  std::thread watcher([&] {
    // Watcher thread: blocks for up to 30 s unless close() wakes it.
    answer = store().watch("", rev(1), 30s);
  });
  std::this_thread::sleep_for(50ms);
  store().close();
  watcher.join();
  EXPECT_LT(std::chrono::steady_clock::now() - started, 10s);
  ASSERT_TRUE(answer) << answer.error().message;
  EXPECT_TRUE(answer->events.empty());
  EXPECT_EQ(store().get("k").error().kind, ErrorKind::Unavailable);
  EXPECT_EQ(store().put("k", "v").error().kind, ErrorKind::Unavailable);
  EXPECT_EQ(store().watch("", 1, 0ms).error().kind, ErrorKind::Unavailable);
}

}  // namespace
}  // namespace overmesh::store::suite
