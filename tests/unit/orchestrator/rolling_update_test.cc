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

// The ID of the task of `slot` that should run.
std::string runningTaskOf(const FakeCluster& cluster, std::int64_t slot) {
  for (const api::Task& task : cluster.view.tasks) {
    if (task.slot == slot && task.desiredState == "running") {
      return task.id;
    }
  }
  ADD_FAILURE() << "no task should run in slot " << slot;
  return "";
}

// Stop-first creates a slot's new task only once its old one stopped (Docker's order):
// each slot takes a pass to stop, then one to create, then waits until the new one runs.
TEST(RollingUpdateTest, StopFirstOneSlotAtATime) {
  FakeCluster cluster = updatedService(3, 1);
  for (std::int64_t slot = 1; slot <= 3; ++slot) {
    Decisions stop = cluster.step();
    EXPECT_THAT(slotsShutDown(cluster, stop), ElementsAre(slot));
    EXPECT_THAT(stop.create, IsEmpty());
    EXPECT_TRUE(cluster.step().empty());  // the old task is still stopping
    cluster.agentsCatchUp();
    Decisions start = cluster.step();
    EXPECT_THAT(slotsCreated(start), ElementsAre(slot));
    EXPECT_THAT(start.shutDown, IsEmpty());
    EXPECT_TRUE(cluster.step().empty());  // in flight until the new task runs
    cluster.agentsCatchUp();
  }
  EXPECT_TRUE(cluster.step().empty());
  EXPECT_EQ(runningVersions(cluster),
            (std::map<std::int64_t, std::int64_t>{{1, 2}, {2, 2}, {3, 2}}));
}

TEST(RollingUpdateTest, StopFirstCreatesNothingUntilTheOldTaskReportsShutdown) {
  FakeCluster cluster = updatedService(2, 1);
  Decisions first = cluster.step();
  ASSERT_EQ(first.shutDown.size(), 1u);
  EXPECT_THAT(first.create, IsEmpty());
  const std::string oldId = first.shutDown[0].taskId;
  // The old task drains for its grace period: still running, nothing new in the meantime.
  cluster.view.nowMs = 5000;
  EXPECT_TRUE(cluster.step().empty());
  cluster.report(oldId, "shutdown");
  Decisions created = cluster.step();
  EXPECT_THAT(slotsCreated(created), ElementsAre(1));  // slot 2 waits for slot 1 to run
  EXPECT_THAT(created.shutDown, IsEmpty());
  cluster.report(runningTaskOf(cluster, 1), "running");
  EXPECT_THAT(slotsShutDown(cluster, cluster.step()), ElementsAre(2));
}

// A node that is down or gone will never report its task stopped: replace at once.
TEST(RollingUpdateTest, StopFirstReplacesAtOnceWhenTheOldTasksNodeIsDownOrGone) {
  for (bool gone : {false, true}) {
    SCOPED_TRACE(gone ? "node gone" : "node down");
    FakeCluster cluster = updatedService(3, 1);
    Decisions first = cluster.step();
    ASSERT_EQ(first.shutDown.size(), 1u);
    const std::string oldNode = cluster.task(first.shutDown[0].taskId).nodeId;
    if (gone) {
      std::erase_if(cluster.view.nodes, [&](const api::Node& n) { return n.id == oldNode; });
    } else {
      cluster.node(oldNode).state = "down";
    }
    Decisions next = cluster.step();
    EXPECT_THAT(slotsCreated(next), ElementsAre(1));
    ASSERT_EQ(next.create.size(), 1u);
    EXPECT_NE(next.create[0].nodeId, oldNode);
  }
}

TEST(RollingUpdateTest, StopFirstTwoSlotsAtATime) {
  FakeCluster cluster = updatedService(3, 2);
  Decisions first = cluster.step();
  EXPECT_THAT(slotsShutDown(cluster, first), ElementsAre(1, 2));
  EXPECT_THAT(first.create, IsEmpty());
  EXPECT_TRUE(cluster.step().empty());
  cluster.agentsCatchUp();
  EXPECT_THAT(slotsCreated(cluster.step()), ElementsAre(1, 2));
  EXPECT_TRUE(cluster.step().empty());
  cluster.agentsCatchUp();
  Decisions second = cluster.step();
  EXPECT_THAT(slotsShutDown(cluster, second), ElementsAre(3));
  EXPECT_THAT(second.create, IsEmpty());
}

TEST(RollingUpdateTest, ParallelismZeroReplacesEverySlotAtOnce) {
  FakeCluster cluster = updatedService(4, 0);
  EXPECT_THAT(slotsShutDown(cluster, cluster.step()), ElementsAre(1, 2, 3, 4));
  cluster.agentsCatchUp();
  EXPECT_THAT(slotsCreated(cluster.step()), ElementsAre(1, 2, 3, 4));
}

TEST(RollingUpdateTest, TheNextBatchWaitsTheDelayAfterTheLastNewTaskRuns) {
  FakeCluster cluster = updatedService(2, 1);
  cluster.service("s").spec.updateConfig.delayMs = 10000;
  cluster.view.nowMs = 2000;
  EXPECT_THAT(slotsShutDown(cluster, cluster.step()), ElementsAre(1));
  cluster.agentsCatchUp();
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
  EXPECT_THAT(slotsShutDown(cluster, next), ElementsAre(2));
  EXPECT_FALSE(next.wakeAtMs);
}

// Docker's --update-failure-action pause: 3 replicas, parallelism 1, max attempts 1, and
// a new version that exits at once. Slot 1 fails, retries once, fails again; the update
// stops there and slots 2 and 3 keep their old tasks.
TEST(RollingUpdateTest, AFailingStopFirstUpdatePausesWithTheOtherOldTasksRunning) {
  FakeCluster cluster = updatedService(3, 1);
  cluster.service("s").spec.restartPolicy.maxAttempts = 1;
  EXPECT_THAT(slotsShutDown(cluster, cluster.step()), ElementsAre(1));
  cluster.agentsCatchUp();
  EXPECT_THAT(slotsCreated(cluster.step()), ElementsAre(1));
  for (std::int64_t attempt = 1; attempt <= 2; ++attempt) {
    cluster.view.nowMs += 1000;
    cluster.report(runningTaskOf(cluster, 1), "exited", 1);
    Decisions failed = cluster.step();
    ASSERT_EQ(failed.shutDown.size(), 1u);
    EXPECT_EQ(failed.shutDown[0].reason, "task exited (exit code 1)");
    EXPECT_EQ(cluster.task(failed.shutDown[0].taskId).slot, 1);
    // The first failure is retried (max attempts 1); the second is not.
    EXPECT_EQ(slotsCreated(failed),
              attempt == 1 ? std::vector<std::int64_t>{1} : std::vector<std::int64_t>{});
  }
  cluster.view.nowMs += 60000;
  cluster.agentsCatchUp();
  Decisions paused = cluster.step();
  EXPECT_TRUE(paused.empty());
  EXPECT_FALSE(paused.wakeAtMs);
  EXPECT_EQ(runningVersions(cluster), (std::map<std::int64_t, std::int64_t>{{2, 1}, {3, 1}}));
}

// `service update` again (a new version, or --force) resumes: the failed slot gets a task
// of the new version with fresh restart attempts, and the update goes on from there.
TEST(RollingUpdateTest, APausedUpdateResumesWithTheNextVersion) {
  FakeCluster cluster = updatedService(2, 1);
  cluster.service("s").spec.restartPolicy.condition = "none";
  cluster.step();
  cluster.agentsCatchUp();
  cluster.step();
  cluster.view.nowMs = 2000;
  cluster.report(runningTaskOf(cluster, 1), "exited", 0);
  EXPECT_THAT(cluster.step().create, IsEmpty());
  EXPECT_TRUE(cluster.step().empty());  // paused: slot 2 keeps its old task

  cluster.service("s").version = 3;
  Decisions resumed = cluster.step();
  ASSERT_EQ(resumed.create.size(), 1u);
  EXPECT_EQ(resumed.create[0].slot, 1);
  EXPECT_EQ(resumed.create[0].specVersion, 3);
  EXPECT_THAT(resumed.shutDown, IsEmpty());  // slot 1 is in flight: parallelism 1
  cluster.view.nowMs = 3000;
  cluster.agentsCatchUp();
  EXPECT_THAT(slotsShutDown(cluster, cluster.step()), ElementsAre(2));
}

// A new task that fails once and runs on its retry (restart condition any) holds the
// update only until it runs. Parallelism 2 shows it is the pause, not the parallelism
// budget, that holds slot 3.
TEST(RollingUpdateTest, AFailedNewTaskThatRunsOnItsRetryLetsTheUpdateGoOn) {
  FakeCluster cluster = updatedService(3, 2);
  cluster.service("s").spec.restartPolicy.delayMs = 5000;
  cluster.step();
  cluster.agentsCatchUp();
  EXPECT_THAT(slotsCreated(cluster.step()), ElementsAre(1, 2));
  cluster.view.nowMs = 2000;
  cluster.agentsCatchUp();
  cluster.report(runningTaskOf(cluster, 1), "failed", 1);
  Decisions failed = cluster.step();
  ASSERT_EQ(failed.shutDown.size(), 1u);  // the failed task only: slot 3 is not stopped
  EXPECT_EQ(cluster.task(failed.shutDown[0].taskId).slot, 1);
  EXPECT_THAT(failed.create, IsEmpty());
  EXPECT_EQ(failed.wakeAtMs, 7000);

  cluster.view.nowMs = 7000;
  Decisions retry = cluster.step();
  EXPECT_THAT(slotsCreated(retry), ElementsAre(1));
  EXPECT_THAT(retry.shutDown, IsEmpty());
  EXPECT_TRUE(cluster.step().empty());  // the retry is still pending
  cluster.view.nowMs = 8000;
  cluster.agentsCatchUp();
  EXPECT_THAT(slotsShutDown(cluster, cluster.step()), ElementsAre(3));
}

// Start-first pauses the same way: slot 1's new task fails for good (condition none) and
// keeps its old task serving; slot 2 completes; slot 3 is not started although
// parallelism 2 would allow it.
TEST(RollingUpdateTest, AFailingStartFirstUpdatePausesToo) {
  FakeCluster cluster = updatedService(3, 2, "start-first");
  cluster.service("s").spec.restartPolicy.condition = "none";
  EXPECT_THAT(slotsCreated(cluster.step()), ElementsAre(1, 2));
  cluster.view.nowMs = 2000;
  cluster.agentsCatchUp();
  std::string failedId;
  for (const api::Task& task : cluster.view.tasks) {
    if (task.slot == 1 && task.specVersion == 2) {
      failedId = task.id;
    }
  }
  cluster.report(failedId, "failed", 1);
  Decisions swap = cluster.step();
  EXPECT_THAT(swap.create, IsEmpty());
  ASSERT_EQ(swap.shutDown.size(), 2u);  // slot 1's failed new task, slot 2's old task
  cluster.view.nowMs = 3000;
  cluster.agentsCatchUp();
  EXPECT_TRUE(cluster.step().empty());
  EXPECT_EQ(runningVersions(cluster),
            (std::map<std::int64_t, std::int64_t>{{1, 1}, {2, 2}, {3, 1}}));
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
