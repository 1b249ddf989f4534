#include "manager/scheduler.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace overmesh::manager {
namespace {

using ::testing::HasSubstr;

api::Node node(std::string id, std::string hostname, std::string state = "ready") {
  api::Node n;
  n.id = std::move(id);
  n.hostname = std::move(hostname);
  n.state = std::move(state);
  return n;
}

api::Task taskOn(std::string nodeId, std::string desired = "running") {
  api::Task t;
  t.nodeId = std::move(nodeId);
  t.desiredState = std::move(desired);
  return t;
}

TEST(SchedulerTest, SpreadsToTheLeastLoadedReadyNode) {
  std::vector<api::Node> nodes = {node("a", "h1"), node("b", "h2"), node("c", "h3")};
  std::vector<api::Task> tasks = {taskOn("a"), taskOn("b"), taskOn("a")};
  EXPECT_EQ(pickNode(nodes, tasks, std::nullopt)->hostname, "h3");
}

TEST(SchedulerTest, TiesGoToTheFirstHostname) {
  std::vector<api::Node> nodes = {node("b", "h2"), node("a", "h1")};
  EXPECT_EQ(pickNode(nodes, {}, std::nullopt)->hostname, "h1");
}

TEST(SchedulerTest, StoppedTasksDoNotCount) {
  std::vector<api::Node> nodes = {node("a", "h1"), node("b", "h2")};
  std::vector<api::Task> tasks = {taskOn("a", "shutdown"), taskOn("b")};
  EXPECT_EQ(pickNode(nodes, tasks, std::nullopt)->hostname, "h1");
}

TEST(SchedulerTest, DownNodesAreSkipped) {
  std::vector<api::Node> nodes = {node("a", "h1", "down"), node("b", "h2")};
  EXPECT_EQ(pickNode(nodes, {}, std::nullopt)->hostname, "h2");
}

TEST(SchedulerTest, NoReadyNodeIsAClearError) {
  std::vector<api::Node> nodes = {node("a", "h1", "down")};
  auto picked = pickNode(nodes, {}, std::nullopt);
  ASSERT_FALSE(picked);
  EXPECT_EQ(picked.error().kind, ErrorKind::FailedPrecondition);
  EXPECT_THAT(picked.error().message, HasSubstr("no node is ready"));
}

TEST(SchedulerTest, PinnedNodeByHostnameOrId) {
  std::vector<api::Node> nodes = {node("a", "h1"), node("b", "h2")};
  std::vector<api::Task> tasks = {taskOn("b"), taskOn("b")};
  EXPECT_EQ(pickNode(nodes, tasks, std::string("h2"))->id, "b");
  EXPECT_EQ(pickNode(nodes, tasks, std::string("b"))->id, "b");
}

TEST(SchedulerTest, PinnedNodeMustExistAndBeReady) {
  std::vector<api::Node> nodes = {node("a", "h1", "down")};
  auto down = pickNode(nodes, {}, std::string("h1"));
  ASSERT_FALSE(down);
  EXPECT_THAT(down.error().message, HasSubstr("h1 is down"));
  auto missing = pickNode(nodes, {}, std::string("h9"));
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().kind, ErrorKind::NotFound);
}

}  // namespace
}  // namespace overmesh::manager
