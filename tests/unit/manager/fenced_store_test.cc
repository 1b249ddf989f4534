#include "store/fenced_store.h"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>

#include "state/keys.h"
#include "store/sqlite/sqlite_store.h"
#include "support/scratch.h"

namespace overmesh::store {
namespace {

using overmesh::testing::must;
using overmesh::testing::ScratchDir;

const std::string kLeaderKey(state::keys::kLeader);
constexpr const char* kKey = "/overmesh/test/value";

class FencedStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    inner_ = must(SqliteStore::open((dir_.path() / "store.db").string(), clock_));
    fenced_ = std::make_unique<FencedStore>(*inner_, kLeaderKey);
  }
  void TearDown() override { inner_->close(); }

  // Makes this test the leader: the key on a 3 s lease, the fence on its create revision.
  Revision lead() {
    lease_ = must(inner_->grantLease(std::chrono::seconds(3)));
    must(inner_->put(kLeaderKey, R"({"nodeId":"a","address":"198.18.0.1:2377"})", lease_));
    Revision created = must(inner_->get(kLeaderKey))->createRevision;
    fenced_->setFence(created);
    return created;
  }

  Result<TxnResult> write(const std::string& value) {
    Txn txn;
    txn.success.push_back(Operation::put(kKey, value));
    return fenced_->txn(txn);
  }

  ManualClock clock_;
  ScratchDir dir_;
  std::unique_ptr<SqliteStore> inner_;
  std::unique_ptr<FencedStore> fenced_;
  LeaseId lease_ = 0;
};

TEST_F(FencedStoreTest, WithoutAFenceATxnFailsWithoutReachingTheStore) {
  lead();
  fenced_->clearFence();
  auto before = must(inner_->currentRevision());
  auto result = write("x");
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::FailedPrecondition);
  EXPECT_NE(result.error().message.find("no longer the leader"), std::string::npos);
  EXPECT_EQ(must(inner_->currentRevision()), before);
  // put() and del() are txns too.
  EXPECT_FALSE(fenced_->put(kKey, "y"));
  EXPECT_FALSE(fenced_->del(kKey));
}

TEST_F(FencedStoreTest, TheLeaderWritesWhileItsKeyHolds) {
  lead();
  auto result = must(write("x"));
  EXPECT_TRUE(result.succeeded);
  EXPECT_EQ(must(inner_->get(kKey))->value, "x");
}

TEST_F(FencedStoreTest, ACasConflictOfTheCallerStaysARetryableFailure) {
  lead();
  must(write("x"));
  Txn txn;
  txn.compares.push_back(Compare::modRevisionIs(kKey, 1));  // stale
  txn.success.push_back(Operation::put(kKey, "y"));
  auto result = fenced_->txn(txn);
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_FALSE(result->succeeded);
  EXPECT_EQ(must(inner_->get(kKey))->value, "x");
}

TEST_F(FencedStoreTest, AfterTheLeaseExpiredATxnFailsAndWritesNothing) {
  lead();
  clock_.advance(std::chrono::milliseconds(3001));  // no keepAlive: the lease is gone
  auto result = write("late");
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::FailedPrecondition);
  EXPECT_FALSE(must(inner_->get(kKey)));
  EXPECT_FALSE(must(inner_->get(kLeaderKey)));
  // The fence is dropped: the next txn fails before reaching the store.
  EXPECT_FALSE(fenced_->fence());
}

TEST_F(FencedStoreTest, AKeyRecreatedByAnotherLeaderFencesTheOldOneOut) {
  lead();
  must(inner_->revokeLease(lease_));
  auto other = must(inner_->grantLease(std::chrono::seconds(3)));
  must(inner_->put(kLeaderKey, R"({"nodeId":"b","address":"198.18.0.2:2377"})", other));
  auto result = write("from the old leader");
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::FailedPrecondition);
  EXPECT_FALSE(must(inner_->get(kKey)));
}

TEST_F(FencedStoreTest, RefusesFailureOperationsThatWouldRunWhenTheFenceFails) {
  lead();
  Txn txn;
  txn.compares.push_back(Compare::absent(kKey));
  txn.success.push_back(Operation::put(kKey, "a"));
  txn.failure.push_back(Operation::put(kKey, "b"));
  auto result = fenced_->txn(txn);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::InvalidArgument);
  EXPECT_FALSE(must(inner_->get(kKey)));
}

TEST_F(FencedStoreTest, ReadsAndWatchesPassThroughWithoutAFence) {
  must(inner_->put(kKey, "v"));
  EXPECT_EQ(must(fenced_->get(kKey))->value, "v");
  EXPECT_EQ(must(fenced_->range("/overmesh/test/")).kvs.size(), 1u);
  auto events = must(fenced_->watch("/overmesh/test/", 1, std::chrono::milliseconds(0)));
  EXPECT_EQ(events.events.size(), 1u);
  // close() leaves the inner store open.
  fenced_->close();
  EXPECT_TRUE(inner_->get(kKey));
}

}  // namespace
}  // namespace overmesh::store
