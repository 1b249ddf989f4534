// reconcile() replacing the tasks of an older spec version: parallelism, delay, order.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "orchestrator/orchestrator.h"
#include "support/orchestrator_fixtures.h"

namespace overmesh::orchestrator {
namespace {

using testing::clusterNode;
using ::testing::ElementsAre;
using testing::FakeCluster;
using ::testing::IsEmpty;
using testing::replicatedService;
using testing::serviceTask;

// A converged service of `replicas` tasks at version 1, then updated to version 2.
FakeCluster updatedService(std::int64_t replicas, std::int64_t parallelism,
                           std::string order = "stop-first") {
  FakeCluster cluster;
  cluster.view.nodes = {clusterNode("a", "h1"), clusterNode("b", "h2"), clusterNode("c", "h3")};
  cluster.view.nowMs = 1000;
  cluster.view.services = {replicatedService("s", replicas)};
  cluster.step();
  cluster.agentsCatchUp();
  api::Service& service = cluster.service("s");
  service.version = 2;
  service.spec.updateConfig.parallelism = parallelism;
  service.spec.updateConfig.order = std::move(order);
  return cluster;
}

std::vector<std::int64_t> slotsCreated(const Decisions& decisions) {
  std::vector<std::int64_t> slots;
  for (const auto& create : decisions.create) {
    EXPECT_EQ(create.specVersion, 2);
    slots.push_back(create.slot);
  }
  return slots;
}

std::vector<std::int64_t> slotsShutDown(FakeCluster& cluster, const Decisions& decisions) {
  std::vector<std::int64_t> slots;
  for (const auto& stop : decisions.shutDown) {
    EXPECT_EQ(stop.reason, "replaced by rolling update");
    slots.push_back(cluster.task(stop.taskId).slot);
  }
  std::sort(slots.begin(), slots.end());
  return slots;
}

// Versions of the tasks that should run, by slot.
std::map<std::int64_t, std::int64_t> runningVersions(const FakeCluster& cluster) {
  std::map<std::int64_t, std::int64_t> versions;
  for (const api::Task& task : cluster.view.tasks) {
    if (task.desiredState == "running") {
      versions[task.slot] = task.specVersion;
    }
  }
  return versions;
}

TEST(RollingUpdateTest, StopFirstOneSlotAtATime) {
  FakeCluster cluster = updatedService(3, 1);
  for (std::int64_t slot = 1; slot <= 3; ++slot) {
    Decisions batch = cluster.step();
    EXPECT_THAT(slotsShutDown(cluster, batch), ElementsAre(slot));
    EXPECT_THAT(slotsCreated(batch), ElementsAre(slot));
    // In flight until the new task runs and the old one has stopped.
    EXPECT_TRUE(cluster.step().empty());
    cluster.agentsCatchUp();
  }
  EXPECT_TRUE(cluster.step().empty());
  EXPECT_EQ(runningVersions(cluster),
            (std::map<std::int64_t, std::int64_t>{{1, 2}, {2, 2}, {3, 2}}));
}

TEST(RollingUpdateTest, AnOldTaskStillStoppingHoldsTheNextBatch) {
  FakeCluster cluster = updatedService(2, 1);
  Decisions first = cluster.step();
  ASSERT_EQ(first.shutDown.size(), 1u);
  ASSERT_EQ(first.create.size(), 1u);
  // The new task runs, but the old one has not stopped yet.
  for (api::Task& task : cluster.view.tasks) {
    if (task.specVersion == 2) {
      cluster.report(task.id, "running");
    }
  }
  EXPECT_TRUE(cluster.step().empty());
  cluster.report(first.shutDown[0].taskId, "shutdown");
  EXPECT_THAT(slotsCreated(cluster.step()), ElementsAre(2));
}

TEST(RollingUpdateTest, StopFirstTwoSlotsAtATime) {
  FakeCluster cluster = updatedService(3, 2);
  Decisions first = cluster.step();
  EXPECT_THAT(slotsShutDown(cluster, first), ElementsAre(1, 2));
  EXPECT_THAT(slotsCreated(first), ElementsAre(1, 2));
  EXPECT_TRUE(cluster.step().empty());
  cluster.agentsCatchUp();
  Decisions second = cluster.step();
  EXPECT_THAT(slotsShutDown(cluster, second), ElementsAre(3));
  EXPECT_THAT(slotsCreated(second), ElementsAre(3));
}

TEST(RollingUpdateTest, ParallelismZeroReplacesEverySlotAtOnce) {
  FakeCluster cluster = updatedService(4, 0);
  Decisions all = cluster.step();
  EXPECT_THAT(slotsShutDown(cluster, all), ElementsAre(1, 2, 3, 4));
  EXPECT_THAT(slotsCreated(all), ElementsAre(1, 2, 3, 4));
}

TEST(RollingUpdateTest, TheNextBatchWaitsTheDelayAfterTheLastNewTaskRuns) {
  FakeCluster cluster = updatedService(2, 1);
  cluster.service("s").spec.updateConfig.delayMs = 10000;
  cluster.view.nowMs = 2000;
  EXPECT_THAT(slotsCreated(cluster.step()), ElementsAre(1));
  cluster.view.nowMs = 3000;
  cluster.agentsCatchUp();  // slot 1's new task runs at 3000
  Decisions waiting = cluster.step();
  EXPECT_TRUE(waiting.empty());
  EXPECT_EQ(waiting.wakeAtMs, 13000);
  cluster.view.nowMs = 12999;
  EXPECT_TRUE(cluster.step().empty());
  cluster.view.nowMs = 13000;
  Decisions next = cluster.step();
  EXPECT_THAT(slotsCreated(next), ElementsAre(2));
  EXPECT_FALSE(next.wakeAtMs);
}

TEST(RollingUpdateTest, StartFirstStopsTheOldTaskOnlyOnceTheNewOneRuns) {
  FakeCluster cluster = updatedService(2, 1, "start-first");
  Decisions first = cluster.step();
  EXPECT_THAT(slotsCreated(first), ElementsAre(1));
  EXPECT_THAT(first.shutDown, IsEmpty());
  EXPECT_TRUE(cluster.step().empty());  // the new task is still pending

  cluster.agentsCatchUp();  // it runs now
  Decisions swap = cluster.step();
  EXPECT_THAT(slotsShutDown(cluster, swap), ElementsAre(1));
  EXPECT_THAT(swap.create, IsEmpty());  // slot 1 is in flight until its old task stops

  cluster.agentsCatchUp();
  Decisions second = cluster.step();
  EXPECT_THAT(slotsCreated(second), ElementsAre(2));
  EXPECT_THAT(second.shutDown, IsEmpty());
}

TEST(RollingUpdateTest, StartFirstWaitsUntilTheNewTaskIsHealthy) {
  FakeCluster cluster = updatedService(1, 1, "start-first");
  cluster.service("s").spec.healthCheck = api::HealthCheck{{"/bin/true"}};
  Decisions first = cluster.step();
  ASSERT_EQ(first.create.size(), 1u);
  const std::string newId = cluster.view.tasks.back().id;
  cluster.report(newId, "running");  // health still "starting"
  EXPECT_TRUE(cluster.step().empty());
  cluster.task(newId).health = "healthy";
  EXPECT_THAT(slotsShutDown(cluster, cluster.step()), ElementsAre(1));
}

TEST(RollingUpdateTest, StartFirstRetriesAFailedNewTaskPerTheRestartPolicy) {
  FakeCluster cluster = updatedService(2, 1, "start-first");
  cluster.service("s").spec.restartPolicy.delayMs = 5000;
  cluster.step();
  const std::string newId = cluster.view.tasks.back().id;
  cluster.view.nowMs = 2000;
  cluster.report(newId, "failed", 1);
  Decisions failed = cluster.step();
  ASSERT_EQ(failed.shutDown.size(), 1u);
  EXPECT_EQ(failed.shutDown[0].taskId, newId);  // the old task keeps serving
  EXPECT_THAT(failed.create, IsEmpty());        // slot 1 waits; slot 2 waits for slot 1
  EXPECT_EQ(failed.wakeAtMs, 7000);
  cluster.view.nowMs = 7000;
  EXPECT_THAT(slotsCreated(cluster.step()), ElementsAre(1));
}

TEST(RollingUpdateTest, OldTasksKeepServingWhileNoNodeCanTakeTheNewOnes) {
  FakeCluster cluster = updatedService(2, 1);
  cluster.service("s").spec.constraints = {"node.hostname==h9"};
  Decisions decisions = cluster.step();
  EXPECT_THAT(decisions.shutDown, IsEmpty());
  EXPECT_THAT(decisions.create, IsEmpty());
  ASSERT_EQ(decisions.placementProblems.size(), 1u);
  EXPECT_EQ(decisions.placementProblems[0].second,
            "no suitable node (constraint node.hostname==h9: 0 of 3 ready nodes match)");
}

TEST(RollingUpdateTest, AnOutdatedTaskThatFailsIsReplacedByTheNewVersion) {
  FakeCluster cluster = updatedService(2, 1);
  cluster.service("s").spec.updateConfig.parallelism = 1;
  for (api::Task& task : cluster.view.tasks) {
    if (task.slot == 2) {
      cluster.report(task.id, "failed", 1);
    }
  }
  Decisions decisions = cluster.step();
  // Slot 2's replacement is of version 2 and fills the one update slot in flight.
  EXPECT_THAT(slotsCreated(decisions), ElementsAre(2));
  ASSERT_EQ(decisions.shutDown.size(), 1u);
  EXPECT_EQ(cluster.task(decisions.shutDown[0].taskId).slot, 2);
}

TEST(RollingUpdateTest, ScalingDuringAnUpdateLeavesOtherSlotsAlone) {
  FakeCluster cluster = updatedService(2, 1);
  cluster.service("s").version = 1;  // no update after all: only scale
  cluster.service("s").spec.replicas = 3;
  Decisions decisions = cluster.step();
  EXPECT_THAT(decisions.shutDown, IsEmpty());
  ASSERT_EQ(decisions.create.size(), 1u);
  EXPECT_EQ(decisions.create[0].slot, 3);
  EXPECT_EQ(decisions.create[0].specVersion, 1);
}

}  // namespace
}  // namespace overmesh::orchestrator
