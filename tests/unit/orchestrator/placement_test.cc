#include "orchestrator/placement.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>

#include "support/orchestrator_fixtures.h"

namespace overmesh::orchestrator {
namespace {

using testing::clusterNode;

std::vector<const api::Node*> pointersTo(const std::vector<api::Node>& nodes) {
  std::vector<const api::Node*> pointers;
  for (const api::Node& node : nodes) {
    pointers.push_back(&node);
  }
  return pointers;
}

std::map<std::string, int> countByHost(const std::vector<const api::Node*>& chosen) {
  std::map<std::string, int> counts;
  for (const api::Node* node : chosen) {
    ++counts[node->hostname];
  }
  return counts;
}

TEST(PlacementTest, SpreadsNewTasksEvenlyCountingEarlierChoices) {
  std::vector<api::Node> nodes = {clusterNode("a", "h1"), clusterNode("b", "h2"),
                                  clusterNode("c", "h3")};
  NodeLoad load;
  auto chosen = spreadTasks("s", pointersTo(nodes), 6, load);
  EXPECT_EQ(countByHost(chosen), (std::map<std::string, int>{{"h1", 2}, {"h2", 2}, {"h3", 2}}));
  EXPECT_EQ(load.ofService("s", "a"), 2);
  EXPECT_EQ(load.overall("c"), 2);
}

TEST(PlacementTest, FewestTasksOfTheServiceComeBeforeFewestOverall) {
  std::vector<api::Node> nodes = {clusterNode("a", "h1"), clusterNode("b", "h2")};
  NodeLoad load;
  load.add("s", "a");
  for (int i = 0; i < 5; ++i) {
    load.add("other", "b");
  }
  auto chosen = spreadTasks("s", pointersTo(nodes), 1, load);
  ASSERT_EQ(chosen.size(), 1u);
  EXPECT_EQ(chosen[0]->hostname, "h2");
}

TEST(PlacementTest, FewestOverallBreaksTiesThenHostname) {
  std::vector<api::Node> nodes = {clusterNode("a", "h1"), clusterNode("b", "h2"),
                                  clusterNode("c", "h3")};
  NodeLoad load;
  load.add("", "a");  // a standalone task
  auto chosen = spreadTasks("s", pointersTo(nodes), 2, load);
  ASSERT_EQ(chosen.size(), 2u);
  EXPECT_EQ(chosen[0]->hostname, "h2");
  EXPECT_EQ(chosen[1]->hostname, "h3");
}

TEST(PlacementTest, RemovedTasksFreeTheirNode) {
  NodeLoad load;
  load.add("s", "a");
  load.add("s", "a");
  load.remove("s", "a");
  load.remove("s", "a");
  load.remove("s", "a");  // never below zero
  EXPECT_EQ(load.ofService("s", "a"), 0);
  EXPECT_EQ(load.overall("a"), 0);
}

TEST(PlacementTest, NothingToChooseFromChoosesNothing) {
  NodeLoad load;
  EXPECT_TRUE(spreadTasks("s", {}, 3, load).empty());
}

TEST(PlacementTest, EligibleNodesFollowConstraintsAndLabels) {
  std::vector<api::Node> nodes = {clusterNode("a", "h1", "ready", "manager", {{"zone", "a"}}),
                                  clusterNode("b", "h2", "ready", "worker", {{"zone", "b"}}),
                                  clusterNode("c", "h3", "ready", "worker", {{"zone", "a"}})};
  auto constraints = parseConstraints({"node.labels.zone==a", "node.role!=manager"});
  ASSERT_TRUE(constraints);
  auto eligible = eligibleNodes(pointersTo(nodes), *constraints);
  ASSERT_EQ(eligible.nodes.size(), 1u);
  EXPECT_EQ(eligible.nodes[0]->hostname, "h3");
  EXPECT_EQ(eligible.problem, "");
}

TEST(PlacementTest, NoReadyNodeIsTheProblem) {
  auto eligible = eligibleNodes({}, {});
  EXPECT_TRUE(eligible.nodes.empty());
  EXPECT_EQ(eligible.problem, "no node is ready");
}

TEST(PlacementTest, TheConstraintThatRulesOutEveryNodeIsNamed) {
  std::vector<api::Node> nodes = {clusterNode("a", "h1"), clusterNode("b", "h2"),
                                  clusterNode("c", "h3")};
  auto constraints = parseConstraints({"node.role==worker", "node.labels.zone==a"});
  auto eligible = eligibleNodes(pointersTo(nodes), *constraints);
  EXPECT_TRUE(eligible.nodes.empty());
  EXPECT_EQ(eligible.problem,
            "no suitable node (constraint node.labels.zone==a: 0 of 3 ready nodes match)");
}

TEST(PlacementTest, ConstraintsThatOnlyTogetherRuleOutEveryNodeAreNamed) {
  std::vector<api::Node> nodes = {clusterNode("a", "h1", "ready", "manager", {{"zone", "a"}}),
                                  clusterNode("b", "h2", "ready", "worker", {{"zone", "b"}})};
  auto constraints = parseConstraints({"node.role==worker", "node.labels.zone==a"});
  auto eligible = eligibleNodes(pointersTo(nodes), *constraints);
  EXPECT_EQ(eligible.problem,
            "no suitable node (constraints node.role==worker, node.labels.zone==a: 0 of 2 "
            "ready nodes match all)");
}

}  // namespace
}  // namespace overmesh::orchestrator
