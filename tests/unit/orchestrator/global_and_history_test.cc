// reconcile() for global services, task history, removed services, standalone tasks,
// determinism and scale.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "orchestrator/orchestrator.h"
#include "support/orchestrator_fixtures.h"

namespace overmesh::orchestrator {
namespace {

using testing::clusterNode;
using ::testing::ElementsAre;
using testing::FakeCluster;
using testing::finishedTask;
using testing::globalService;
using ::testing::IsEmpty;
using testing::replicatedService;
using testing::serviceTask;

FakeCluster globalCluster() {
  FakeCluster cluster;
  cluster.view.nodes = {clusterNode("a", "h1", "ready", "manager"), clusterNode("b", "h2"),
                        clusterNode("c", "h3")};
  cluster.view.nowMs = 1000;
  cluster.view.services = {globalService("g")};
  return cluster;
}

std::vector<std::string> createdNodes(const Decisions& decisions) {
  std::vector<std::string> nodes;
  for (const auto& create : decisions.create) {
    EXPECT_EQ(create.slot, 0);
    nodes.push_back(create.nodeId);
  }
  std::sort(nodes.begin(), nodes.end());
  return nodes;
}

TEST(GlobalTest, OneTaskPerReadyNodeThatSatisfiesTheConstraints) {
  FakeCluster cluster = globalCluster();
  cluster.node("c").state = "down";
  cluster.service("g").spec.constraints = {"node.role==worker"};
  cluster.view.nodes.push_back(clusterNode("d", "h4"));
  Decisions decisions = cluster.step();
  EXPECT_THAT(createdNodes(decisions), ElementsAre("b", "d"));
  EXPECT_THAT(decisions.placementProblems, IsEmpty());
  cluster.agentsCatchUp();
  EXPECT_TRUE(cluster.step().empty());
}

TEST(GlobalTest, ANewlyJoinedNodeGetsItsTask) {
  FakeCluster cluster = globalCluster();
  cluster.step();
  cluster.agentsCatchUp();
  cluster.view.nodes.push_back(clusterNode("d", "h4"));
  EXPECT_THAT(createdNodes(cluster.step()), ElementsAre("d"));
}

TEST(GlobalTest, TasksOfADownNodeStayAndAreNotReplacedElsewhere) {
  FakeCluster cluster = globalCluster();
  cluster.step();
  cluster.agentsCatchUp();
  cluster.node("b").state = "down";
  EXPECT_TRUE(cluster.step().empty());
  cluster.node("b").state = "ready";
  EXPECT_TRUE(cluster.step().empty());
  EXPECT_EQ(cluster.runningByNode("g"), (std::map<std::string, int>{{"a", 1}, {"b", 1}, {"c", 1}}));
}

TEST(GlobalTest, ANodeThatNoLongerMatchesLosesItsTask) {
  FakeCluster cluster = globalCluster();
  cluster.node("b").labels["zone"] = "x";
  cluster.service("g").spec.constraints = {"node.labels.zone==x"};
  cluster.step();
  cluster.agentsCatchUp();
  cluster.node("b").labels.clear();
  Decisions decisions = cluster.step();
  ASSERT_EQ(decisions.shutDown.size(), 1u);
  EXPECT_EQ(decisions.shutDown[0].reason, "constraints no longer satisfied");
  EXPECT_THAT(decisions.create, IsEmpty());
  ASSERT_EQ(decisions.placementProblems.size(), 1u);
  EXPECT_EQ(decisions.placementProblems[0].second,
            "no suitable node (constraint node.labels.zone==x: 0 of 3 ready nodes match)");
}

TEST(GlobalTest, TasksOfARemovedNodeAreShutDownThenDeleted) {
  FakeCluster cluster = globalCluster();
  cluster.step();
  cluster.agentsCatchUp();
  std::erase_if(cluster.view.nodes, [](const api::Node& node) { return node.id == "c"; });
  Decisions first = cluster.step();
  ASSERT_EQ(first.shutDown.size(), 1u);
  EXPECT_EQ(first.shutDown[0].reason, "constraints no longer satisfied");
  EXPECT_THAT(first.create, IsEmpty());
  Decisions second = cluster.step();
  EXPECT_EQ(second.remove.size(), 1u);
}

TEST(GlobalTest, AnExitedTaskIsReplacedOnTheSameNodeAfterTheDelay) {
  FakeCluster cluster = globalCluster();
  cluster.service("g").spec.restartPolicy.delayMs = 2000;
  cluster.view.tasks = {serviceTask("ta", "g", 0, "a"), serviceTask("tb", "g", 0, "b"),
                        serviceTask("tc", "g", 0, "c")};
  cluster.report("tb", "exited", 0);
  Decisions first = cluster.step();
  ASSERT_EQ(first.shutDown.size(), 1u);
  EXPECT_EQ(first.shutDown[0].taskId, "tb");
  EXPECT_THAT(first.create, IsEmpty());
  EXPECT_EQ(first.wakeAtMs, 3000);
  cluster.view.nowMs = 3000;
  EXPECT_THAT(createdNodes(cluster.step()), ElementsAre("b"));
}

TEST(GlobalTest, RollingUpdateReplacesOnTheSameNode) {
  FakeCluster cluster = globalCluster();
  cluster.step();
  cluster.agentsCatchUp();
  cluster.service("g").version = 2;
  Decisions first = cluster.step();
  ASSERT_EQ(first.shutDown.size(), 1u);
  EXPECT_EQ(cluster.task(first.shutDown[0].taskId).nodeId, "a");  // nodes in hostname order
  EXPECT_THAT(first.create, IsEmpty());  // stop-first: once the old task has stopped
  cluster.agentsCatchUp();
  Decisions second = cluster.step();
  ASSERT_EQ(second.create.size(), 1u);
  EXPECT_EQ(second.create[0].nodeId, "a");
  EXPECT_EQ(second.create[0].specVersion, 2);
}

TEST(HistoryTest, KeepsFiveFinishedTasksPerSlot) {
  FakeCluster cluster;
  cluster.view.nodes = {clusterNode("a", "h1")};
  cluster.view.nowMs = 100000;
  cluster.view.services = {replicatedService("s", 2)};
  cluster.view.tasks = {serviceTask("run1", "s", 1, "a"), serviceTask("run2", "s", 2, "a")};
  for (int i = 0; i < 8; ++i) {
    cluster.view.tasks.push_back(
        finishedTask("h1-" + std::to_string(i), "s", 1, "a", "failed", 1000 + i));
  }
  cluster.view.tasks.push_back(finishedTask("h2-0", "s", 2, "a", "shutdown", 5));
  // Still stopping: not history yet, never deleted.
  api::Task stopping = finishedTask("stopping", "s", 1, "a", "running", 1);
  cluster.view.tasks.push_back(stopping);
  Decisions decisions = cluster.step();
  EXPECT_THAT(decisions.remove, ElementsAre("h1-0", "h1-1", "h1-2"));
  EXPECT_THAT(decisions.create, IsEmpty());
  EXPECT_THAT(decisions.shutDown, IsEmpty());
}

TEST(HistoryTest, KeepsEnoughHistoryToCountMaxAttempts) {
  FakeCluster cluster;
  cluster.view.nodes = {clusterNode("a", "h1")};
  cluster.view.services = {replicatedService("s", 1)};
  cluster.service("s").spec.restartPolicy.maxAttempts = 7;
  for (int i = 0; i < 10; ++i) {
    cluster.view.tasks.push_back(
        finishedTask("h-" + std::to_string(i), "s", 1, "a", "failed", 1000 + i));
  }
  Decisions decisions = cluster.step();
  EXPECT_THAT(decisions.remove, ElementsAre("h-0", "h-1"));
  EXPECT_THAT(decisions.create, IsEmpty());  // 7 restarts are spent
}

TEST(HistoryTest, GlobalHistoryIsPerNode) {
  FakeCluster cluster = globalCluster();
  cluster.view.tasks = {serviceTask("ta", "g", 0, "a"), serviceTask("tb", "g", 0, "b"),
                        serviceTask("tc", "g", 0, "c")};
  for (int i = 0; i < 6; ++i) {
    cluster.view.tasks.push_back(
        finishedTask("ha-" + std::to_string(i), "g", 0, "a", "exited", 100 + i));
    cluster.view.tasks.push_back(
        finishedTask("hb-" + std::to_string(i), "g", 0, "b", "exited", 100 + i));
  }
  EXPECT_THAT(cluster.step().remove, ElementsAre("ha-0", "hb-0"));
}

TEST(RemovedServiceTest, ItsTasksAreShutDownThenDeleted) {
  FakeCluster cluster;
  cluster.view.nodes = {clusterNode("a", "h1")};
  cluster.view.tasks = {serviceTask("live", "gone", 1, "a"),
                        finishedTask("done", "gone", 1, "a", "exited", 10),
                        finishedTask("stopping", "gone", 2, "a", "running", 10),
                        finishedTask("lost", "gone", 3, "nowhere", "running", 10)};
  Decisions decisions = cluster.step();
  ASSERT_EQ(decisions.shutDown.size(), 1u);
  EXPECT_EQ(decisions.shutDown[0].taskId, "live");
  EXPECT_EQ(decisions.shutDown[0].reason, "service removed");
  EXPECT_THAT(decisions.remove, ElementsAre("done", "lost"));
  EXPECT_THAT(decisions.create, IsEmpty());
  cluster.agentsCatchUp();
  EXPECT_THAT(cluster.step().remove, ElementsAre("live", "stopping"));
  EXPECT_THAT(cluster.view.tasks, IsEmpty());
}

TEST(StandaloneTest, StandaloneTasksAreNeverTouched) {
  FakeCluster cluster;
  cluster.view.nodes = {clusterNode("a", "h1", "down")};
  api::Task failed = serviceTask("x1", "", 0, "a", "failed");
  api::Task onDownNode = serviceTask("x2", "", 0, "a");
  api::Task finished = finishedTask("x3", "", 0, "gone", "exited", 1);
  cluster.view.tasks = {failed, onDownNode, finished};
  for (int i = 0; i < 10; ++i) {
    cluster.view.tasks.push_back(finishedTask("old" + std::to_string(i), "", 0, "a", "exited", i));
  }
  Decisions decisions = cluster.step();
  EXPECT_TRUE(decisions.empty());
}

TEST(DeterminismTest, InputOrderDoesNotChangeTheDecisions) {
  FakeCluster cluster;
  for (int i = 0; i < 5; ++i) {
    cluster.view.nodes.push_back(clusterNode("n" + std::to_string(i), "h" + std::to_string(i)));
  }
  for (int i = 0; i < 6; ++i) {
    cluster.view.services.push_back(replicatedService("s" + std::to_string(i), 4));
  }
  cluster.view.services.push_back(globalService("g"));
  cluster.view.tasks = {serviceTask("t1", "s1", 1, "n1", "failed"),
                        serviceTask("t2", "s2", 7, "n2"), serviceTask("t3", "gone", 1, "n3")};
  const Decisions expected = reconcile(cluster.view);
  std::mt19937 random(7);
  for (int round = 0; round < 5; ++round) {
    std::shuffle(cluster.view.nodes.begin(), cluster.view.nodes.end(), random);
    std::shuffle(cluster.view.services.begin(), cluster.view.services.end(), random);
    std::shuffle(cluster.view.tasks.begin(), cluster.view.tasks.end(), random);
    const Decisions shuffled = reconcile(cluster.view);
    ASSERT_EQ(shuffled.create.size(), expected.create.size());
    for (std::size_t i = 0; i < expected.create.size(); ++i) {
      EXPECT_EQ(shuffled.create[i].serviceId, expected.create[i].serviceId);
      EXPECT_EQ(shuffled.create[i].slot, expected.create[i].slot);
      EXPECT_EQ(shuffled.create[i].nodeId, expected.create[i].nodeId);
    }
    ASSERT_EQ(shuffled.shutDown.size(), expected.shutDown.size());
    for (std::size_t i = 0; i < expected.shutDown.size(); ++i) {
      EXPECT_EQ(shuffled.shutDown[i].taskId, expected.shutDown[i].taskId);
      EXPECT_EQ(shuffled.shutDown[i].reason, expected.shutDown[i].reason);
    }
    EXPECT_EQ(shuffled.remove, expected.remove);
  }
}

TEST(ScaleTest, ThousandsOfServicesSpreadEvenly) {
  FakeCluster cluster;
  for (int i = 0; i < 40; ++i) {
    cluster.view.nodes.push_back(clusterNode(fmt::format("n{:02}", i), fmt::format("h{:02}", i)));
  }
  for (int i = 0; i < 3000; ++i) {
    cluster.view.services.push_back(replicatedService(fmt::format("s{:04}", i), 4));
  }
  Decisions decisions = cluster.step();
  EXPECT_EQ(decisions.create.size(), 12000u);
  std::map<std::string, int> perNode;
  for (const auto& create : decisions.create) {
    ++perNode[create.nodeId];
  }
  ASSERT_EQ(perNode.size(), 40u);
  for (const auto& [node, count] : perNode) {
    EXPECT_EQ(count, 300) << node;
  }
  cluster.agentsCatchUp();
  EXPECT_TRUE(cluster.step().empty());
}

}  // namespace
}  // namespace overmesh::orchestrator
