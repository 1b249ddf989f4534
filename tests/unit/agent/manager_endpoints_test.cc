// ManagerEndpoints: which manager an agent's clients call, and how a dead manager or a
// "not the leader" answer moves them (pure, with a manual clock).

#include "agent/manager_endpoints.h"

#include <gtest/gtest.h>

#include "support/pki_fixtures.h"

namespace overmesh::agent {
namespace {

using overmesh::testing::must;

constexpr const char* kA = "198.18.0.1:2377";
constexpr const char* kB = "198.18.0.2:2377";
constexpr const char* kC = "198.18.0.3:2377";

struct Change {
  std::vector<std::string> addresses;
  std::string leader;
};

class ManagerEndpointsTest : public ::testing::Test {
 protected:
  std::shared_ptr<ManagerEndpoints> make(std::vector<std::string> addresses) {
    return must(ManagerEndpoints::create(
        std::move(addresses), clock_,
        [this](const std::vector<std::string>& list, const std::string& leader) {
          changes_.push_back({list, leader});
        }));
  }
  ManualClock clock_;
  std::vector<Change> changes_;
};

TEST_F(ManagerEndpointsTest, StartsAtTheFirstValidAddressAndDropsInvalidOnes) {
  auto endpoints = make({"not-an-address", kA, "198.18.0.9", "198.18.0.9:0", kA, kB});
  EXPECT_EQ(endpoints->current(), kA);
  EXPECT_EQ(endpoints->addresses(), (std::vector<std::string>{kA, kB}));
  EXPECT_EQ(endpoints->leader(), "");
}

TEST_F(ManagerEndpointsTest, RefusesAListWithoutAValidAddress) {
  auto made = ManagerEndpoints::create({"host:2377", ""}, clock_);
  ASSERT_FALSE(made);
  EXPECT_EQ(made.error().kind, ErrorKind::InvalidArgument);
}

TEST_F(ManagerEndpointsTest, CheckManagerAddressNamesTheValue) {
  EXPECT_TRUE(checkManagerAddress("198.18.0.1:1"));
  auto bad = checkManagerAddress("198.18.0.1:70000");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("\"198.18.0.1:70000\""), std::string::npos);
  EXPECT_FALSE(checkManagerAddress("198.18.0.1:"));
  EXPECT_FALSE(checkManagerAddress("198.18.0.1:22x"));
  EXPECT_FALSE(checkManagerAddress("[::1]:2377"));
}

TEST_F(ManagerEndpointsTest, AHeartbeatReplyMovesToTheLeaderAndReportsTheList) {
  auto endpoints = make({kA});
  endpoints->learn(kB, {kA, kB, kC});
  EXPECT_EQ(endpoints->current(), kB);
  EXPECT_EQ(endpoints->leader(), kB);
  EXPECT_EQ(endpoints->moves(), 1u);
  ASSERT_EQ(changes_.size(), 1u);
  EXPECT_EQ(changes_[0].addresses, (std::vector<std::string>{kB, kA, kC}));
  EXPECT_EQ(changes_[0].leader, kB);
  // The same reply again is no news.
  endpoints->learn(kB, {kA, kB, kC});
  EXPECT_EQ(changes_.size(), 1u);
  EXPECT_EQ(endpoints->moves(), 1u);
}

TEST_F(ManagerEndpointsTest, AReplyWithoutAListKeepsTheKnownOne) {
  auto endpoints = make({kA, kB});
  endpoints->learn("", {});
  EXPECT_EQ(endpoints->addresses(), (std::vector<std::string>{kA, kB}));
  EXPECT_TRUE(changes_.empty());
}

TEST_F(ManagerEndpointsTest, InvalidAddressesInAReplyAreIgnored) {
  auto endpoints = make({kA});
  endpoints->learn("evil", {"x", kA});
  EXPECT_EQ(endpoints->current(), kA);
  EXPECT_EQ(endpoints->leader(), "");
}

TEST_F(ManagerEndpointsTest, AReplyListIsBounded) {
  auto endpoints = make({kA});
  std::vector<std::string> many;
  for (int i = 1; i <= 100; ++i) {
    many.push_back(fmt::format("198.18.1.{}:2377", i));
  }
  endpoints->learn("", many);
  EXPECT_EQ(endpoints->addresses().size(), kMaxManagers);
}

TEST_F(ManagerEndpointsTest, AnUnreachableManagerMovesToTheNextAndWrapsAround) {
  auto endpoints = make({kA, kB, kC});
  endpoints->unreachable(kA);
  EXPECT_EQ(endpoints->current(), kB);
  endpoints->unreachable(kB);
  EXPECT_EQ(endpoints->current(), kC);
  endpoints->unreachable(kC);
  EXPECT_EQ(endpoints->current(), kA);
}

TEST_F(ManagerEndpointsTest, AFailureOfAnEndpointNoLongerCurrentMovesNothing) {
  auto endpoints = make({kA, kB, kC});
  endpoints->unreachable(kA);  // the heartbeat found A dead
  endpoints->unreachable(kA);  // the sync, whose long-poll to A broke, too
  EXPECT_EQ(endpoints->current(), kB);
}

TEST_F(ManagerEndpointsTest, ALeaderThatDiedIsForgotten) {
  auto endpoints = make({kA});
  endpoints->learn(kA, {kA, kB});
  changes_.clear();
  endpoints->unreachable(kA);
  EXPECT_EQ(endpoints->leader(), "");
  EXPECT_EQ(endpoints->current(), kB);
  ASSERT_EQ(changes_.size(), 1u);
  EXPECT_EQ(changes_[0].leader, "");
}

TEST_F(ManagerEndpointsTest, NotTheLeaderMovesToTheLeaderNamed) {
  auto endpoints = make({kA, kB, kC});
  endpoints->notLeader(kA, kC);
  EXPECT_EQ(endpoints->current(), kC);
  EXPECT_EQ(endpoints->leader(), kC);
}

TEST_F(ManagerEndpointsTest, NotTheLeaderAddsALeaderOutsideTheList) {
  auto endpoints = make({kA});
  endpoints->notLeader(kA, kB);
  EXPECT_EQ(endpoints->current(), kB);
  EXPECT_EQ(endpoints->addresses(), (std::vector<std::string>{kB, kA}));
}

TEST_F(ManagerEndpointsTest, NotTheLeaderWithoutOneMovesToTheNext) {
  auto endpoints = make({kA, kB, kC});
  endpoints->notLeader(kA, "");
  EXPECT_EQ(endpoints->current(), kB);
  endpoints->notLeader(kB, kB);  // names itself: not believed
  EXPECT_EQ(endpoints->current(), kC);
  endpoints->notLeader(kC, "nonsense");
  EXPECT_EQ(endpoints->current(), kA);
}

TEST_F(ManagerEndpointsTest, AKilledLeaderStillNamedByTheOthersIsPassedOverForAWhile) {
  auto endpoints = make({kA, kB, kC});
  endpoints->learn(kA, {kA, kB, kC});
  endpoints->unreachable(kA);  // kill -9 of the leader
  EXPECT_EQ(endpoints->current(), kB);
  endpoints->notLeader(kB, kA);  // B still sees A's lease
  EXPECT_EQ(endpoints->current(), kC);
  endpoints->notLeader(kC, kA);
  EXPECT_EQ(endpoints->current(), kA);  // wrapped around, not believed: next after C
  // After kSuspectFor, a restarted A that leads again is believed.
  endpoints->unreachable(kA);
  clock_.advance(ManagerEndpoints::kSuspectFor + std::chrono::milliseconds(1));
  endpoints->notLeader(kB, kA);
  EXPECT_EQ(endpoints->current(), kA);
}

TEST_F(ManagerEndpointsTest, AnAnsweredManagerIsNoLongerSuspect) {
  auto endpoints = make({kA, kB});
  endpoints->unreachable(kA);
  endpoints->reached(kA);
  endpoints->notLeader(kB, kA);
  EXPECT_EQ(endpoints->current(), kA);
}

TEST_F(ManagerEndpointsTest, NotTheLeaderFromAManagerNoLongerCurrentMovesNothing) {
  auto endpoints = make({kA, kB, kC});
  endpoints->learn(kC, {});
  endpoints->notLeader(kA, kB);  // a late answer of A's
  EXPECT_EQ(endpoints->current(), kC);
}

TEST_F(ManagerEndpointsTest, BackoffDoublesFrom100MsTo1s) {
  using std::chrono::milliseconds;
  EXPECT_EQ(ManagerEndpoints::backoff(0), milliseconds(0));
  EXPECT_EQ(ManagerEndpoints::backoff(1), milliseconds(100));
  EXPECT_EQ(ManagerEndpoints::backoff(2), milliseconds(200));
  EXPECT_EQ(ManagerEndpoints::backoff(4), milliseconds(800));
  EXPECT_EQ(ManagerEndpoints::backoff(5), milliseconds(1000));
  EXPECT_EQ(ManagerEndpoints::backoff(50), milliseconds(1000));
}

}  // namespace
}  // namespace overmesh::agent
