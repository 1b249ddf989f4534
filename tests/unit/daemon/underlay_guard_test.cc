#include "daemon/underlay_guard.h"

#include <gtest/gtest.h>

#include <memory>
#include <thread>

#include "support/fake_underlay_filter.h"
#include "support/ip_helpers.h"

namespace overmesh::daemon {
namespace {

using ::overmesh::testing::FakeUnderlayFilter;
using ::overmesh::testing::forwardingTo;
using ::overmesh::testing::ip;
using namespace std::chrono_literals;

api::Node node(std::string id, std::string address, std::string state = "ready") {
  api::Node result;
  result.id = std::move(id);
  result.address = std::move(address);
  result.state = std::move(state);
  return result;
}

std::set<Ipv4Address> addresses(std::initializer_list<const char*> texts) {
  std::set<Ipv4Address> result;
  for (const char* text : texts) {
    result.insert(ip(text));
  }
  return result;
}

// A guard over a fake the test keeps looking at; retries after 20 ms and looks for the
// table every 20 ms while idle.
struct GuardUnderTest {
  explicit GuardUnderTest(bool tableExists, std::set<Ipv4Address> fixed = {}, int failures = 0)
      : fake(std::make_shared<FakeUnderlayFilter>(tableExists)),
        guard((fake->failNext(failures), forwardingTo(fake)), std::move(fixed), 20ms, 20ms) {}
  std::shared_ptr<FakeUnderlayFilter> fake;
  UnderlayGuard guard;
};

TEST(UnderlayMemberAddressesTest, TakesEveryNodeWhateverItsStateAndSkipsBadAddresses) {
  std::vector<std::string> skipped;
  auto members =
      underlayMemberAddresses({node("a", "198.18.0.1"), node("b", "198.18.0.2", "down"),
                               node("c", "fe80::1"), node("d", ""), node("e", "198.18.0.1")},
                              &skipped);
  EXPECT_EQ(members, addresses({"198.18.0.1", "198.18.0.2"}));
  EXPECT_EQ(skipped, (std::vector<std::string>{"c \"fe80::1\"", "d \"\""}));
}

TEST(UnderlayMemberAddressesTest, HostOfEndpointTakesTheAddressOfIpAndPort) {
  EXPECT_EQ(hostOfEndpoint("198.18.0.1:2377"), ip("198.18.0.1"));
  EXPECT_EQ(hostOfEndpoint("198.18.0.1"), ip("198.18.0.1"));
  EXPECT_EQ(hostOfEndpoint("manager:2377"), std::nullopt);
  EXPECT_EQ(hostOfEndpoint(""), std::nullopt);
}

TEST(UnderlayGuardTest, WithoutATableInstallsTheFixedMembersAtOnce) {
  GuardUnderTest under(false, addresses({"198.18.0.5"}));
  ASSERT_TRUE(under.fake->waitForApplies(1));
  EXPECT_EQ(under.fake->applied().front(), addresses({"198.18.0.5"}));
}

TEST(UnderlayGuardTest, KeepsAnExistingTableUntilTheNodesAreKnown) {
  GuardUnderTest under(true, addresses({"198.18.0.5"}));
  under.guard.addFixedMember(ip("198.18.0.1"));
  EXPECT_FALSE(under.fake->waitForApplies(1, 200ms));
  under.guard.update({node("m", "198.18.0.1"), node("w", "198.18.0.5"), node("x", "198.18.0.9")});
  ASSERT_TRUE(under.fake->waitForApplies(1));
  EXPECT_EQ(under.fake->applied().back(), addresses({"198.18.0.1", "198.18.0.5", "198.18.0.9"}));
}

TEST(UnderlayGuardTest, MembersAreTheNodesAndTheFixedAddresses) {
  GuardUnderTest under(false, addresses({"198.18.0.5"}));
  under.guard.addFixedMember(ip("198.18.0.1"));
  under.guard.update({node("x", "198.18.0.9")});
  ASSERT_TRUE(under.fake->waitForApplies(1));
  // The applies may coalesce; the last one holds everything.
  for (int i = 0; i < 100 && under.fake->applied().back().size() < 3; ++i) {
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_EQ(under.fake->applied().back(), addresses({"198.18.0.1", "198.18.0.5", "198.18.0.9"}));
}

TEST(UnderlayGuardTest, FollowsNodesJoiningAndLeaving) {
  GuardUnderTest under(true);
  under.guard.update({node("a", "198.18.0.1"), node("b", "198.18.0.2")});
  ASSERT_TRUE(under.fake->waitForApplies(1));
  under.guard.update({node("a", "198.18.0.1"), node("b", "198.18.0.2"), node("c", "198.18.0.3")});
  ASSERT_TRUE(under.fake->waitForApplies(2));
  EXPECT_EQ(under.fake->applied().back(), addresses({"198.18.0.1", "198.18.0.2", "198.18.0.3"}));
  under.guard.update({node("a", "198.18.0.1"), node("c", "198.18.0.3")});
  ASSERT_TRUE(under.fake->waitForApplies(3));
  EXPECT_EQ(under.fake->applied().back(), addresses({"198.18.0.1", "198.18.0.3"}));
}

TEST(UnderlayGuardTest, AnUnchangedSetIsNotAppliedAgain) {
  GuardUnderTest under(true);
  under.guard.update({node("a", "198.18.0.1")});
  ASSERT_TRUE(under.fake->waitForApplies(1));
  // A node's other fields change (state, labels): the members do not.
  under.guard.update({node("a", "198.18.0.1", "down")});
  EXPECT_FALSE(under.fake->waitForApplies(2, 200ms));
  EXPECT_EQ(under.fake->attempts(), 1);
}

TEST(UnderlayGuardTest, RetriesAFailedApplyUntilItSucceeds) {
  GuardUnderTest under(true, {}, 3);
  under.guard.update({node("a", "198.18.0.1")});
  ASSERT_TRUE(under.fake->waitForApplies(1));
  EXPECT_EQ(under.fake->attempts(), 4);
  EXPECT_EQ(under.fake->applied().back(), addresses({"198.18.0.1"}));
  // The guard clears its problem just after the fake returned.
  for (int i = 0; i < 200 && !under.guard.problem().empty(); ++i) {
    std::this_thread::sleep_for(5ms);
  }
  EXPECT_EQ(under.guard.problem(), "");
}

TEST(UnderlayGuardTest, ReportsTheFailureWhileItLasts) {
  GuardUnderTest under(true, {}, 1000000);
  under.guard.update({node("a", "198.18.0.1")});
  for (int i = 0; i < 200 && under.guard.problem().empty(); ++i) {
    std::this_thread::sleep_for(5ms);
  }
  EXPECT_EQ(under.guard.problem(), "injected failure");
  EXPECT_TRUE(under.fake->applied().empty());
}

TEST(UnderlayGuardTest, ReinstallsATableSomeoneElseRemoved) {
  GuardUnderTest under(true, addresses({"198.18.0.5"}));
  under.guard.update({node("a", "198.18.0.1")});
  ASSERT_TRUE(under.fake->waitForApplies(1));
  // Idle checks find the table there: nothing is applied again.
  EXPECT_FALSE(under.fake->waitForApplies(2, 150ms));
  under.fake->vanish();
  ASSERT_TRUE(under.fake->waitForApplies(2));
  EXPECT_EQ(under.fake->applied().back(), addresses({"198.18.0.1", "198.18.0.5"}));
  EXPECT_TRUE(under.fake->tableExists());
  // And again the next time: each removal is noticed.
  under.fake->vanish();
  ASSERT_TRUE(under.fake->waitForApplies(3));
  EXPECT_EQ(under.fake->applied().back(), addresses({"198.18.0.1", "198.18.0.5"}));
}

TEST(UnderlayGuardTest, ReinstallRetriesUntilItSucceeds) {
  GuardUnderTest under(true);
  under.guard.update({node("a", "198.18.0.1")});
  ASSERT_TRUE(under.fake->waitForApplies(1));
  under.fake->failNext(2);
  under.fake->vanish();
  ASSERT_TRUE(under.fake->waitForApplies(2));
  EXPECT_EQ(under.fake->attempts(), 4);
  EXPECT_EQ(under.fake->applied().back(), addresses({"198.18.0.1"}));
}

TEST(UnderlayGuardTest, APreviousTableRemovedBeforeTheNodesAreKnownGivesWayToTheFixedMembers) {
  GuardUnderTest under(true, addresses({"198.18.0.5"}));
  EXPECT_FALSE(under.fake->waitForApplies(1, 100ms));
  under.fake->vanish();
  ASSERT_TRUE(under.fake->waitForApplies(1));
  EXPECT_EQ(under.fake->applied().back(), addresses({"198.18.0.5"}));
  under.guard.update({node("a", "198.18.0.1")});
  ASSERT_TRUE(under.fake->waitForApplies(2));
  EXPECT_EQ(under.fake->applied().back(), addresses({"198.18.0.1", "198.18.0.5"}));
}

TEST(UnderlayGuardTest, StoppingLeavesTheTableInPlace) {
  auto fake = std::make_shared<FakeUnderlayFilter>(false);
  {
    UnderlayGuard guard(forwardingTo(fake), addresses({"198.18.0.1"}), 20ms);
    ASSERT_TRUE(fake->waitForApplies(1));
  }
  EXPECT_TRUE(fake->tableExists());
  EXPECT_EQ(fake->removes(), 0);
}

}  // namespace
}  // namespace overmesh::daemon
