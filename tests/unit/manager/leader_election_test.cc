#include "manager/leader_election.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "state/keys.h"
#include "store/fenced_store.h"
#include "store/sqlite/sqlite_store.h"
#include "support/scratch.h"
#include "support/store_wrappers.h"

namespace overmesh::manager {
namespace {

using overmesh::testing::FlakyLeaseStore;
using overmesh::testing::must;
using overmesh::testing::ScratchDir;
using std::chrono::milliseconds;

constexpr milliseconds kNoWait{0};

// One manager's election as ManagerRole wires it: onElected sets its FencedStore's fence,
// onDeposed clears it; both are recorded.
struct Candidate {
  Candidate(store::Store& store, const Clock& clock, const std::string& nodeId,
            const std::string& address)
      : fenced(store, std::string(state::keys::kLeader)),
        election(
            store, clock, LeaderIdentity{nodeId, address}, LeaderElectionOptions{},
            [this](store::Revision fence) {
              elected.push_back(fence);
              fenced.setFence(fence);
            },
            [this](const std::string& reason) {
              deposed.push_back(reason);
              fenced.clearFence();
            }) {}

  store::FencedStore fenced;
  std::vector<store::Revision> elected;
  std::vector<std::string> deposed;
  LeaderElection election;
};

class LeaderElectionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = must(store::SqliteStore::open((dir_.path() / "store.db").string(), clock_));
  }
  void TearDown() override { store_->close(); }

  // Moves the clock in renewal-sized steps, letting each candidate step after each.
  void runFor(milliseconds total, const std::vector<Candidate*>& candidates,
              milliseconds tick = milliseconds(500)) {
    for (milliseconds done{0}; done < total; done += tick) {
      clock_.advance(tick);
      for (Candidate* candidate : candidates) {
        candidate->election.step(kNoWait);
      }
    }
  }

  Result<store::TxnResult> fencedWrite(Candidate& candidate, const std::string& value) {
    store::Txn txn;
    txn.success.push_back(store::Operation::put("/overmesh/test/written", value));
    return candidate.fenced.txn(txn);
  }

  ManualClock clock_;
  ScratchDir dir_;
  std::unique_ptr<store::SqliteStore> store_;
};

TEST_F(LeaderElectionTest, TheFirstCandidateLeadsAndTheOtherFollowsIt) {
  Candidate a(*store_, clock_, "node-a", "198.18.0.1:2377");
  Candidate b(*store_, clock_, "node-b", "198.18.0.2:2377");
  a.election.step(kNoWait);
  b.election.step(kNoWait);
  b.election.step(kNoWait);

  EXPECT_TRUE(a.election.isLeader());
  EXPECT_FALSE(b.election.isLeader());
  ASSERT_EQ(a.elected.size(), 1u);
  EXPECT_TRUE(b.elected.empty());
  auto leader = b.election.leader();
  ASSERT_TRUE(leader);
  EXPECT_EQ(leader->nodeId, "node-a");
  EXPECT_EQ(leader->address, "198.18.0.1:2377");
  // The fence handed over is the leader key's create revision.
  auto key = must(store_->get(std::string(state::keys::kLeader)));
  ASSERT_TRUE(key);
  EXPECT_EQ(a.elected[0], key->createRevision);
  EXPECT_EQ(leader->createRevision, key->createRevision);
  EXPECT_NE(key->lease, 0);
}

TEST_F(LeaderElectionTest, ExactlyOneLeadsWhileTheLeaderRenews) {
  Candidate a(*store_, clock_, "node-a", "198.18.0.1:2377");
  Candidate b(*store_, clock_, "node-b", "198.18.0.2:2377");
  a.election.step(kNoWait);
  // Ten seconds: three TTLs; the lease lives because a renews it every second.
  for (int i = 0; i < 20; ++i) {
    clock_.advance(milliseconds(500));
    a.election.step(kNoWait);
    b.election.step(kNoWait);
    ASSERT_NE(a.election.isLeader(), b.election.isLeader()) << "after " << (i + 1) * 500 << " ms";
  }
  EXPECT_TRUE(a.election.isLeader());
  EXPECT_TRUE(a.deposed.empty());
  EXPECT_TRUE(b.elected.empty());
}

TEST_F(LeaderElectionTest, ResigningLetsTheOtherLeadAtOnce) {
  Candidate a(*store_, clock_, "node-a", "198.18.0.1:2377");
  Candidate b(*store_, clock_, "node-b", "198.18.0.2:2377");
  a.election.step(kNoWait);
  b.election.step(kNoWait);
  ASSERT_TRUE(a.election.isLeader());

  must(a.election.resign());
  EXPECT_FALSE(a.election.isLeader());
  ASSERT_EQ(a.deposed.size(), 1u);
  EXPECT_EQ(a.deposed[0], "resigned");
  EXPECT_FALSE(a.fenced.fence());

  // No clock movement: b sees the key go and wins on its next steps.
  b.election.step(kNoWait);
  b.election.step(kNoWait);
  EXPECT_TRUE(b.election.isLeader());
  ASSERT_EQ(b.elected.size(), 1u);
  EXPECT_GT(b.elected[0], a.elected[0]);
  // a's old fence is worthless now.
  auto write = fencedWrite(a, "from a");
  ASSERT_FALSE(write);
  EXPECT_EQ(write.error().kind, ErrorKind::FailedPrecondition);
}

TEST_F(LeaderElectionTest, ALeaderThatCannotRenewDeposesItselfWithinTheTtlAndCannotWrite) {
  FlakyLeaseStore flaky(*store_);
  Candidate a(flaky, clock_, "node-a", "198.18.0.1:2377");
  Candidate b(*store_, clock_, "node-b", "198.18.0.2:2377");
  a.election.step(kNoWait);
  b.election.step(kNoWait);
  ASSERT_TRUE(a.election.isLeader());
  must(fencedWrite(a, "while leading"));

  // The store becomes unreachable for a's renewals (a partition).
  flaky.failKeepAlives(ErrorKind::Unavailable);
  runFor(milliseconds(2500), {&a});
  EXPECT_TRUE(a.election.isLeader()) << "deposed before the TTL";
  EXPECT_GT(flaky.keepAlives(), 1);
  runFor(milliseconds(500), {&a});  // 3 s since the last good renewal: the TTL
  EXPECT_FALSE(a.election.isLeader());
  ASSERT_EQ(a.deposed.size(), 1u);
  EXPECT_NE(a.deposed[0].find("no lease renewal"), std::string::npos) << a.deposed[0];

  // Its loops' writes fail from now on, without reaching the store.
  auto before = must(store_->currentRevision());
  auto write = fencedWrite(a, "after the ttl");
  ASSERT_FALSE(write);
  EXPECT_EQ(write.error().kind, ErrorKind::FailedPrecondition);
  EXPECT_EQ(must(store_->currentRevision()), before);

  // The store expired the lease too: b takes over.
  runFor(milliseconds(500), {&b});
  EXPECT_TRUE(b.election.isLeader());
  must(fencedWrite(b, "from b"));
}

TEST_F(LeaderElectionTest, AKeepAliveAnsweringNotFoundDeposesAtOnce) {
  FlakyLeaseStore flaky(*store_);
  Candidate a(flaky, clock_, "node-a", "198.18.0.1:2377");
  a.election.step(kNoWait);
  ASSERT_TRUE(a.election.isLeader());
  flaky.failKeepAlives(ErrorKind::NotFound);
  runFor(milliseconds(1000), {&a});
  EXPECT_FALSE(a.election.isLeader());
  ASSERT_EQ(a.deposed.size(), 1u);
  EXPECT_NE(a.deposed[0].find("lease expired"), std::string::npos) << a.deposed[0];

  // It starts over with a new lease once the store answers again.
  flaky.failKeepAlives(std::nullopt);
  runFor(milliseconds(4000), {&a});
  EXPECT_TRUE(a.election.isLeader());
  ASSERT_EQ(a.elected.size(), 2u);
  EXPECT_GT(a.elected[1], a.elected[0]);
}

TEST_F(LeaderElectionTest, ALeaderWhoseKeyIsDeletedStopsLeading) {
  Candidate a(*store_, clock_, "node-a", "198.18.0.1:2377");
  a.election.step(kNoWait);
  ASSERT_TRUE(a.election.isLeader());
  must(store_->del(std::string(state::keys::kLeader)));
  a.election.step(kNoWait);
  EXPECT_EQ(a.deposed.size(), 1u);
  // ... and campaigns again.
  a.election.step(kNoWait);
  EXPECT_TRUE(a.election.isLeader());
}

TEST_F(LeaderElectionTest, ARestartedLeaderDoesNotWaitForItsOldLease) {
  store::Revision firstFence = 0;
  {
    Candidate before(*store_, clock_, "node-a", "198.18.0.1:2377");
    before.election.step(kNoWait);
    ASSERT_TRUE(before.election.isLeader());
    firstFence = before.elected[0];
    // Destroyed without resigning: a kill -9. Its key and lease stay behind.
  }
  Candidate other(*store_, clock_, "node-b", "198.18.0.2:2377");
  Candidate after(*store_, clock_, "node-a", "198.18.0.1:2377");
  other.election.step(kNoWait);
  EXPECT_FALSE(other.election.isLeader()) << "the old lease still holds the key";
  for (int i = 0; i < 3 && !after.election.isLeader(); ++i) {
    after.election.step(kNoWait);
  }
  EXPECT_TRUE(after.election.isLeader());
  ASSERT_EQ(after.elected.size(), 1u);
  EXPECT_GT(after.elected[0], firstFence);
}

TEST_F(LeaderElectionTest, TheElectionThreadWinsOnSqliteInMilliseconds) {
  SystemClock realClock;
  auto store = must(store::SqliteStore::open((dir_.path() / "real.db").string(), realClock));
  std::atomic<bool> elected{false};
  LeaderElection election(
      *store, realClock, LeaderIdentity{"node-a", "198.18.0.1:2377"}, LeaderElectionOptions{},
      [&elected](store::Revision) { elected.store(true); }, [](const std::string&) {});
  auto started = std::chrono::steady_clock::now();
  election.start();
  while (!elected.load() && std::chrono::steady_clock::now() - started < std::chrono::seconds(5)) {
    std::this_thread::sleep_for(milliseconds(1));
  }
  auto took = std::chrono::duration_cast<std::chrono::microseconds>(
      std::chrono::steady_clock::now() - started);
  ASSERT_TRUE(elected.load());
  std::cout << "election on SQLite took " << took.count() << " us\n";
  must(election.resign());
  EXPECT_FALSE(must(store->get(std::string(state::keys::kLeader))));
  store->close();
}

TEST(LeaderRecordTest, RoundTripsAndNamesAMissingField) {
  LeaderRecord record{"node-a", "198.18.0.1:2377", "2026-11-26T10:00:00Z", 0};
  auto back = must(decodeLeaderRecord(encodeLeaderRecord(record)));
  EXPECT_EQ(back.nodeId, "node-a");
  EXPECT_EQ(back.address, "198.18.0.1:2377");
  EXPECT_EQ(back.since, "2026-11-26T10:00:00Z");
  auto bad = decodeLeaderRecord(R"({"nodeId":"node-a"})");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().kind, ErrorKind::InvalidArgument);
  EXPECT_NE(bad.error().message.find("address"), std::string::npos) << bad.error().message;
}

}  // namespace
}  // namespace overmesh::manager
