// reconcile() for replicated services: slots, scaling, restart policy, node failure,
// placement spread and placement problems.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "orchestrator/orchestrator.h"
#include "support/orchestrator_fixtures.h"

namespace overmesh::orchestrator {
namespace {

using testing::clusterNode;
using ::testing::ElementsAre;
using testing::FakeCluster;
using testing::finishedTask;
using ::testing::IsEmpty;
using testing::replicatedService;
using testing::serviceTask;

FakeCluster threeNodeCluster() {
  FakeCluster cluster;
  cluster.view.nodes = {clusterNode("a", "h1"), clusterNode("b", "h2"), clusterNode("c", "h3")};
  cluster.view.nowMs = 1000;
  return cluster;
}

std::vector<std::int64_t> createdSlots(const Decisions& decisions) {
  std::vector<std::int64_t> slots;
  for (const auto& create : decisions.create) {
    slots.push_back(create.slot);
  }
  return slots;
}

std::vector<std::string> shutDownIds(const Decisions& decisions) {
  std::vector<std::string> ids;
  for (const auto& stop : decisions.shutDown) {
    ids.push_back(stop.taskId);
  }
  return ids;
}

TEST(ReplicatedTest, CreatesOneTaskPerSlotSpreadTwoPerNode) {
  FakeCluster cluster = threeNodeCluster();
  cluster.view.services = {replicatedService("s", 6)};
  cluster.service("s").version = 4;
  Decisions decisions = cluster.step();
  EXPECT_THAT(createdSlots(decisions), ElementsAre(1, 2, 3, 4, 5, 6));
  for (const auto& create : decisions.create) {
    EXPECT_EQ(create.serviceId, "s");
    EXPECT_EQ(create.specVersion, 4);
  }
  EXPECT_EQ(cluster.runningByNode("s"), (std::map<std::string, int>{{"a", 2}, {"b", 2}, {"c", 2}}));
  EXPECT_THAT(decisions.shutDown, IsEmpty());
  EXPECT_THAT(decisions.placementProblems, IsEmpty());
  EXPECT_FALSE(decisions.wakeAtMs);
}

TEST(ReplicatedTest, ConvergedServiceNeedsNothing) {
  FakeCluster cluster = threeNodeCluster();
  cluster.view.services = {replicatedService("s", 3)};
  cluster.step();
  EXPECT_TRUE(cluster.step().empty());  // pending tasks are not replaced
  cluster.agentsCatchUp();
  Decisions decisions = cluster.step();
  EXPECT_TRUE(decisions.empty());
  EXPECT_FALSE(decisions.wakeAtMs);
}

TEST(ReplicatedTest, SpreadCountsOtherServicesAndStandaloneTasks) {
  FakeCluster cluster = threeNodeCluster();
  cluster.view.services = {replicatedService("s", 2), replicatedService("other", 1)};
  api::Task standalone = serviceTask("x", "", 0, "a");
  cluster.view.tasks = {standalone, serviceTask("o1", "other", 1, "b")};
  Decisions decisions = cluster.step();
  ASSERT_EQ(decisions.create.size(), 2u);
  EXPECT_EQ(decisions.create[0].nodeId, "c");
  EXPECT_EQ(decisions.create[1].nodeId, "a");  // a and b tie at 1 task overall: h1 first
}

TEST(ReplicatedTest, ScaleUpAddsOnlyTheMissingSlots) {
  FakeCluster cluster = threeNodeCluster();
  cluster.view.services = {replicatedService("s", 4)};
  cluster.view.tasks = {serviceTask("t1", "s", 1, "a"), serviceTask("t2", "s", 2, "b")};
  Decisions decisions = cluster.step();
  EXPECT_THAT(createdSlots(decisions), ElementsAre(3, 4));
  EXPECT_THAT(decisions.shutDown, IsEmpty());
  EXPECT_EQ(cluster.runningByNode("s"), (std::map<std::string, int>{{"a", 2}, {"b", 1}, {"c", 1}}));
}

TEST(ReplicatedTest, ScaleDownShutsDownTheHighestSlotsOnly) {
  FakeCluster cluster = threeNodeCluster();
  cluster.view.services = {replicatedService("s", 2)};
  for (int slot = 1; slot <= 5; ++slot) {
    cluster.view.tasks.push_back(serviceTask("t" + std::to_string(slot), "s", slot, "a"));
  }
  Decisions decisions = cluster.step();
  EXPECT_THAT(shutDownIds(decisions), ElementsAre("t3", "t4", "t5"));
  for (const auto& stop : decisions.shutDown) {
    EXPECT_EQ(stop.reason, "scaled down");
  }
  EXPECT_THAT(decisions.create, IsEmpty());
  EXPECT_THAT(cluster.runningSlots("s"), ElementsAre(1, 2));
}

TEST(ReplicatedTest, ScaledDownSlotIsRefilledAtOnceEvenWithRestartConditionNone) {
  FakeCluster cluster = threeNodeCluster();
  cluster.view.services = {replicatedService("s", 3)};
  cluster.service("s").spec.restartPolicy.condition = "none";
  cluster.step();
  cluster.agentsCatchUp();
  cluster.service("s").spec.replicas = 2;
  cluster.step();
  cluster.agentsCatchUp();
  cluster.service("s").spec.replicas = 3;
  EXPECT_THAT(createdSlots(cluster.step()), ElementsAre(3));
}

TEST(ReplicatedTest, FailedTaskIsReplacedAfterTheRestartDelay) {
  FakeCluster cluster = threeNodeCluster();
  cluster.view.services = {replicatedService("s", 1)};
  cluster.service("s").spec.restartPolicy.delayMs = 5000;
  cluster.view.tasks = {serviceTask("t1", "s", 1, "a")};
  cluster.view.nowMs = 1000;
  cluster.task("t1").message = "boom";
  cluster.report("t1", "failed", 2);

  cluster.view.nowMs = 1500;
  Decisions first = cluster.step();
  ASSERT_EQ(first.shutDown.size(), 1u);
  EXPECT_EQ(first.shutDown[0].reason, "task failed: boom");
  EXPECT_THAT(first.create, IsEmpty());
  EXPECT_EQ(first.wakeAtMs, 6000);

  // The shutdown moved the record's updatedAtMs to 1500: the delay counts from there.
  cluster.view.nowMs = 6000;
  Decisions early = cluster.step();
  EXPECT_TRUE(early.empty());
  EXPECT_EQ(early.wakeAtMs, 6500);

  cluster.view.nowMs = 6500;
  Decisions due = cluster.step();
  EXPECT_THAT(createdSlots(due), ElementsAre(1));
  EXPECT_FALSE(due.wakeAtMs);
}

TEST(ReplicatedTest, ExitedTaskReasonNamesTheExitCode) {
  FakeCluster cluster = threeNodeCluster();
  cluster.view.services = {replicatedService("s", 1)};
  cluster.view.tasks = {serviceTask("t1", "s", 1, "a", "exited")};
  cluster.task("t1").exitCode = 0;
  Decisions decisions = cluster.step();
  ASSERT_EQ(decisions.shutDown.size(), 1u);
  EXPECT_EQ(decisions.shutDown[0].reason, "task exited (exit code 0)");
  EXPECT_THAT(createdSlots(decisions), ElementsAre(1));  // condition any, no delay
}

TEST(ReplicatedTest, FailureMessagesAreBounded) {
  FakeCluster cluster = threeNodeCluster();
  cluster.view.services = {replicatedService("s", 1)};
  cluster.view.tasks = {serviceTask("t1", "s", 1, "a", "failed")};
  cluster.task("t1").message = std::string(100000, 'x');
  Decisions decisions = cluster.step();
  ASSERT_EQ(decisions.shutDown.size(), 1u);
  EXPECT_LT(decisions.shutDown[0].reason.size(), 300u);
}

// Fails the slot's running task at the current time.
void failRunningTask(FakeCluster& cluster, std::int64_t exitCode = 1) {
  for (api::Task& task : cluster.view.tasks) {
    if (task.desiredState == "running") {
      cluster.report(task.id, exitCode == 0 ? "exited" : "failed", exitCode);
      return;
    }
  }
  FAIL() << "no running task";
}

TEST(ReplicatedTest, MaxAttemptsLimitsRestartsOfTheSlot) {
  FakeCluster cluster = threeNodeCluster();
  cluster.view.services = {replicatedService("s", 1)};
  cluster.service("s").spec.restartPolicy.maxAttempts = 2;
  cluster.step();
  cluster.agentsCatchUp();
  int created = 0;
  for (int round = 0; round < 3; ++round) {
    cluster.view.nowMs += 1000;
    failRunningTask(cluster);
    created += static_cast<int>(cluster.step().create.size());
    cluster.agentsCatchUp();
  }
  EXPECT_EQ(created, 2);  // two restarts, then the slot stays empty
  EXPECT_THAT(cluster.runningSlots("s"), IsEmpty());
  cluster.view.nowMs += 100000;
  EXPECT_THAT(cluster.step().create, IsEmpty());
}

TEST(ReplicatedTest, MaxAttemptsCountsOnlyFailuresInsideTheWindow) {
  FakeCluster cluster = threeNodeCluster();
  cluster.view.services = {replicatedService("s", 1)};
  auto& policy = cluster.service("s").spec.restartPolicy;
  policy.maxAttempts = 1;
  policy.windowMs = 10000;
  cluster.view.nowMs = 20000;
  // An earlier restart long ago (outside the window) does not count...
  cluster.view.tasks = {finishedTask("old", "s", 1, "a", "failed", 1000),
                        serviceTask("t1", "s", 1, "b", "failed")};
  cluster.task("t1").updatedAtMs = 20000;
  EXPECT_THAT(createdSlots(orchestrator::reconcile(cluster.view)), ElementsAre(1));
  // ...one inside it does.
  cluster.task("old").updatedAtMs = 15000;
  Decisions decisions = orchestrator::reconcile(cluster.view);
  EXPECT_THAT(decisions.create, IsEmpty());
  EXPECT_THAT(shutDownIds(decisions), ElementsAre("t1"));
}

struct ConditionCase {
  std::string condition;
  std::string state;
  std::int64_t exitCode;
  std::string health;
  bool replaced;
};

class RestartConditionTest : public ::testing::TestWithParam<ConditionCase> {};

TEST_P(RestartConditionTest, DecidesWhetherTheSlotIsRefilled) {
  const ConditionCase& c = GetParam();
  FakeCluster cluster = threeNodeCluster();
  cluster.view.services = {replicatedService("s", 1)};
  cluster.service("s").spec.restartPolicy.condition = c.condition;
  cluster.view.tasks = {serviceTask("t1", "s", 1, "a", c.state)};
  cluster.task("t1").exitCode = c.exitCode;
  cluster.task("t1").health = c.health;
  if (!c.health.empty()) {
    cluster.task("t1").healthCheck = api::HealthCheck{{"/bin/true"}};
  }
  Decisions decisions = cluster.step();
  EXPECT_THAT(shutDownIds(decisions), ElementsAre("t1"));
  EXPECT_EQ(decisions.create.size(), c.replaced ? 1u : 0u);
  // The verdict holds on the next pass too, when the ended task is history.
  cluster.view.nowMs += 60000;
  EXPECT_EQ(cluster.step().create.size(), 0u);
  EXPECT_EQ(cluster.runningSlots("s").size(), c.replaced ? 1u : 0u);
}

INSTANTIATE_TEST_SUITE_P(Cases, RestartConditionTest,
                         ::testing::Values(ConditionCase{"none", "exited", 0, "", false},
                                           ConditionCase{"none", "failed", 1, "", false},
                                           ConditionCase{"on-failure", "exited", 0, "", false},
                                           ConditionCase{"on-failure", "exited", 3, "", true},
                                           ConditionCase{"on-failure", "failed", 1, "", true},
                                           ConditionCase{"on-failure", "running", 0, "unhealthy",
                                                         true},
                                           ConditionCase{"any", "exited", 0, "", true},
                                           ConditionCase{"any", "running", 0, "unhealthy", true}));

TEST(ReplicatedTest, UnhealthyTaskIsShutDownAndReplaced) {
  FakeCluster cluster = threeNodeCluster();
  cluster.view.services = {replicatedService("s", 1)};
  cluster.view.tasks = {serviceTask("t1", "s", 1, "a")};
  cluster.task("t1").healthCheck = api::HealthCheck{{"/bin/false"}};
  cluster.task("t1").health = "unhealthy";
  Decisions decisions = cluster.step();
  ASSERT_EQ(decisions.shutDown.size(), 1u);
  EXPECT_EQ(decisions.shutDown[0].reason, "unhealthy");
  EXPECT_THAT(createdSlots(decisions), ElementsAre(1));
}

TEST(ReplicatedTest, TasksOfADownNodeAreReplacedElsewhereAtOnce) {
  FakeCluster cluster = threeNodeCluster();
  cluster.view.services = {replicatedService("s", 3)};
  auto& policy = cluster.service("s").spec.restartPolicy;
  policy.delayMs = 60000;  // not a restart: neither delay nor attempts apply
  policy.maxAttempts = 1;
  policy.condition = "none";
  cluster.view.tasks = {serviceTask("t1", "s", 1, "a"), serviceTask("t2", "s", 2, "b"),
                        serviceTask("t3", "s", 3, "c")};
  cluster.node("b").state = "down";
  Decisions decisions = cluster.step();
  ASSERT_EQ(decisions.shutDown.size(), 1u);
  EXPECT_EQ(decisions.shutDown[0].taskId, "t2");
  EXPECT_EQ(decisions.shutDown[0].reason, "node h2 is down");
  ASSERT_EQ(decisions.create.size(), 1u);
  EXPECT_EQ(decisions.create[0].slot, 2);
  EXPECT_EQ(decisions.create[0].nodeId, "a");
}

TEST(ReplicatedTest, ANodeThatReturnsGetsNothingDuplicated) {
  FakeCluster cluster = threeNodeCluster();
  cluster.view.services = {replicatedService("s", 3)};
  cluster.step();
  cluster.agentsCatchUp();
  cluster.node("b").state = "down";
  cluster.step();
  cluster.agentsCatchUp();  // b's agent is unreachable: its old task still "runs"
  cluster.node("b").state = "ready";
  EXPECT_TRUE(cluster.step().empty());
  cluster.agentsCatchUp();  // b stops its old task
  EXPECT_TRUE(cluster.step().empty());
  EXPECT_THAT(cluster.runningSlots("s"), ElementsAre(1, 2, 3));
  EXPECT_EQ(cluster.runningByNode("s"), (std::map<std::string, int>{{"a", 2}, {"c", 1}}));
}

TEST(ReplicatedTest, TasksOfARemovedNodeAreReplacedThenDeleted) {
  FakeCluster cluster = threeNodeCluster();
  cluster.view.services = {replicatedService("s", 1)};
  cluster.view.tasks = {serviceTask("t1", "s", 1, "gone")};
  cluster.task("t1").nodeName = "h9";
  Decisions first = cluster.step();
  ASSERT_EQ(first.shutDown.size(), 1u);
  EXPECT_EQ(first.shutDown[0].reason, "node h9 is down");
  EXPECT_THAT(createdSlots(first), ElementsAre(1));
  Decisions second = cluster.step();
  EXPECT_THAT(second.remove, ElementsAre("t1"));
  EXPECT_THAT(second.create, IsEmpty());
}

TEST(ReplicatedTest, PlacementProblemIsReportedOnceAndClearedWhenSolved) {
  FakeCluster cluster = threeNodeCluster();
  cluster.view.services = {replicatedService("s", 2)};
  cluster.service("s").spec.constraints = {"node.labels.zone==a"};
  Decisions first = cluster.step();
  EXPECT_THAT(first.create, IsEmpty());
  ASSERT_EQ(first.placementProblems.size(), 1u);
  EXPECT_EQ(first.placementProblems[0].first, "s");
  EXPECT_EQ(first.placementProblems[0].second,
            "no suitable node (constraint node.labels.zone==a: 0 of 3 ready nodes match)");
  EXPECT_TRUE(cluster.step().empty());  // same text: nothing to write

  cluster.node("c").labels["zone"] = "a";
  Decisions solved = cluster.step();
  EXPECT_EQ(cluster.runningByNode("s"), (std::map<std::string, int>{{"c", 2}}));
  ASSERT_EQ(solved.placementProblems.size(), 1u);
  EXPECT_EQ(solved.placementProblems[0].second, "");
}

TEST(ReplicatedTest, ATaskOnANodeThatNoLongerMatchesMovesAtOnce) {
  FakeCluster cluster = threeNodeCluster();
  cluster.node("a").labels["zone"] = "x";
  cluster.node("b").labels["zone"] = "x";
  cluster.view.services = {replicatedService("s", 2)};
  cluster.service("s").spec.constraints = {"node.labels.zone==x"};
  cluster.service("s").spec.restartPolicy.delayMs = 60000;
  cluster.step();
  cluster.agentsCatchUp();
  EXPECT_EQ(cluster.runningByNode("s"), (std::map<std::string, int>{{"a", 1}, {"b", 1}}));

  cluster.node("b").labels.clear();
  Decisions decisions = cluster.step();
  ASSERT_EQ(decisions.shutDown.size(), 1u);
  EXPECT_EQ(cluster.task(decisions.shutDown[0].taskId).nodeId, "b");
  EXPECT_EQ(decisions.shutDown[0].reason, "constraints no longer satisfied");
  ASSERT_EQ(decisions.create.size(), 1u);
  EXPECT_EQ(decisions.create[0].nodeId, "a");
  EXPECT_EQ(decisions.create[0].slot, 2);
}

TEST(ReplicatedTest, DownNodesAreNeverChosen) {
  FakeCluster cluster = threeNodeCluster();
  cluster.node("a").state = "down";
  cluster.node("c").state = "down";
  cluster.view.services = {replicatedService("s", 3)};
  cluster.step();
  EXPECT_EQ(cluster.runningByNode("s"), (std::map<std::string, int>{{"b", 3}}));

  cluster.node("b").state = "down";
  cluster.view.services.push_back(replicatedService("t", 1));
  Decisions decisions = orchestrator::reconcile(cluster.view);
  for (const auto& [serviceId, problem] : decisions.placementProblems) {
    EXPECT_EQ(problem, "no node is ready") << serviceId;
  }
  EXPECT_EQ(decisions.placementProblems.size(), 2u);  // s lost its node, t never had one
}

TEST(ReplicatedTest, DuplicateTasksInASlotKeepTheBestOne) {
  FakeCluster cluster = threeNodeCluster();
  cluster.view.services = {replicatedService("s", 1)};
  cluster.view.tasks = {serviceTask("pending", "s", 1, "a", "pending"),
                        serviceTask("running", "s", 1, "b")};
  Decisions decisions = cluster.step();
  ASSERT_EQ(decisions.shutDown.size(), 1u);
  EXPECT_EQ(decisions.shutDown[0].taskId, "pending");
  EXPECT_EQ(decisions.shutDown[0].reason, "duplicate task in its slot");
  EXPECT_THAT(decisions.create, IsEmpty());
}

TEST(ReplicatedTest, RejectedAndStoppedTasksAreReplacedWithTheirReason) {
  FakeCluster cluster = threeNodeCluster();
  cluster.view.services = {replicatedService("s", 2)};
  cluster.view.tasks = {serviceTask("t1", "s", 1, "a", "rejected"),
                        serviceTask("t2", "s", 2, "b", "shutdown")};
  cluster.task("t1").message = "no such network";
  Decisions decisions = cluster.step();
  ASSERT_EQ(decisions.shutDown.size(), 2u);
  EXPECT_EQ(decisions.shutDown[0].reason, "task rejected: no such network");
  EXPECT_EQ(decisions.shutDown[1].reason, "task stopped");
  EXPECT_THAT(createdSlots(decisions), ElementsAre(1, 2));
}

TEST(ReplicatedTest, AStoredInvalidConstraintPlacesAndStopsNothing) {
  FakeCluster cluster = threeNodeCluster();
  cluster.view.services = {replicatedService("s", 3)};
  cluster.service("s").spec.constraints = {"node.colour==red"};
  cluster.view.tasks = {serviceTask("t1", "s", 1, "a")};
  Decisions decisions = cluster.step();
  EXPECT_THAT(decisions.create, IsEmpty());
  EXPECT_THAT(decisions.shutDown, IsEmpty());
  ASSERT_EQ(decisions.placementProblems.size(), 1u);
  EXPECT_THAT(decisions.placementProblems[0].second,
              ::testing::HasSubstr("cannot place tasks: constraint \"node.colour==red\""));
}

}  // namespace
}  // namespace overmesh::orchestrator
