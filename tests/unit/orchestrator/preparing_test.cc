// reconcile() with tasks whose image is being pulled ("preparing", issue 10): such a task
// is starting, neither failed nor running. It holds its slot and counts for placement, a
// rolling update waits for it as for a pending task, and a pull that fails is a failure
// the restart policy replaces with its delay.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "orchestrator/orchestrator.h"
#include "orchestrator/task_status.h"
#include "support/orchestrator_fixtures.h"

namespace overmesh::orchestrator {
namespace {

using testing::clusterNode;
using ::testing::ElementsAre;
using testing::FakeCluster;
using ::testing::IsEmpty;
using testing::replicatedService;
using testing::serviceTask;

FakeCluster threeNodes() {
  FakeCluster cluster;
  cluster.view.nodes = {clusterNode("a", "h1"), clusterNode("b", "h2"), clusterNode("c", "h3")};
  cluster.view.nowMs = 1000;
  return cluster;
}

TEST(PreparingTest, IsNeitherEndedNorRunning) {
  api::Task t = serviceTask("t1", "s", 1, "a", "preparing");
  t.message = "pulling docker.io/library/web:1: 1 of 2 layers";
  EXPECT_FALSE(isTerminalState(t.state));
  EXPECT_FALSE(endedByItself(t));
  EXPECT_FALSE(endedInFailure(t));
  EXPECT_FALSE(runsHealthy(t));
  EXPECT_FALSE(endReason(t));
}

TEST(PreparingTest, APreparingTaskHoldsItsSlot) {
  FakeCluster cluster = threeNodes();
  cluster.view.services = {replicatedService("s", 3)};
  cluster.step();
  for (auto& t : cluster.view.tasks) {
    cluster.report(t.id, "preparing");
  }
  cluster.view.nowMs = 600'000;  // a long pull: still no replacement
  Decisions decisions = cluster.step();
  EXPECT_TRUE(decisions.empty());
}

TEST(PreparingTest, APreparingTaskCountsForPlacementSpread) {
  FakeCluster cluster = threeNodes();
  cluster.view.services = {replicatedService("s", 3)};
  cluster.view.tasks = {serviceTask("t1", "s", 1, "a", "preparing"),
                        serviceTask("t2", "s", 2, "b", "running")};
  Decisions decisions = cluster.step();
  ASSERT_EQ(decisions.create.size(), 1u);
  EXPECT_EQ(decisions.create[0].slot, 3);
  EXPECT_EQ(decisions.create[0].nodeId, "c");
  EXPECT_THAT(decisions.shutDown, IsEmpty());
}

TEST(PreparingTest, ARollingUpdateWaitsForTheNewTaskWhileItsImageIsPulled) {
  FakeCluster cluster = threeNodes();
  cluster.view.services = {replicatedService("s", 2)};
  cluster.step();
  cluster.agentsCatchUp();
  api::Service& service = cluster.service("s");
  service.version = 2;
  service.spec.updateConfig.parallelism = 1;
  service.spec.updateConfig.order = "start-first";

  Decisions first = cluster.step();
  ASSERT_EQ(first.create.size(), 1u);
  std::string fresh;
  for (const auto& t : cluster.view.tasks) {
    if (t.specVersion == 2) {
      fresh = t.id;
    }
  }
  cluster.report(fresh, "preparing");
  Decisions waiting = cluster.step();
  EXPECT_THAT(waiting.create, IsEmpty());
  EXPECT_THAT(waiting.shutDown, IsEmpty());  // the old task keeps serving

  cluster.report(fresh, "running");
  Decisions swap = cluster.step();
  ASSERT_EQ(swap.shutDown.size(), 1u);
  EXPECT_EQ(swap.shutDown[0].reason, "replaced by rolling update");
}

TEST(PreparingTest, AFailedPullIsReplacedAfterTheRestartDelay) {
  FakeCluster cluster = threeNodes();
  cluster.view.services = {replicatedService("s", 1)};
  cluster.service("s").spec.restartPolicy.delayMs = 5000;
  cluster.view.tasks = {serviceTask("t1", "s", 1, "a", "preparing")};
  cluster.task("t1").message = "pull docker.io/library/web:1: manifest unknown";
  cluster.report("t1", "failed");

  cluster.view.nowMs = 1500;
  Decisions first = cluster.step();
  ASSERT_EQ(first.shutDown.size(), 1u);
  EXPECT_EQ(first.shutDown[0].reason,
            "task failed: pull docker.io/library/web:1: manifest unknown");
  EXPECT_THAT(first.create, IsEmpty());
  EXPECT_EQ(first.wakeAtMs, 6000);

  // The delay counts from the shutdown (1500), as for any failed task.
  cluster.view.nowMs = 6500;
  Decisions retry = cluster.step();
  ASSERT_EQ(retry.create.size(), 1u);
  EXPECT_EQ(retry.create[0].slot, 1);
}

}  // namespace
}  // namespace overmesh::orchestrator
