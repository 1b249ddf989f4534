// The task agent's reconcile decisions, through a fake kernel and a fake runtime: what it
// starts, wires, programs and removes, and that a restarted agent changes nothing. The
// task lifecycle (drain and stop, shutdown reports, health checks) is in
// task_lifecycle_test.cc.

#include "agent/task_agent.h"

#include <gtest/gtest.h>

#include "support/task_agent_fixture.h"

namespace overmesh::testing {
namespace {

TEST_F(TaskAgentTest, DoesNothingBeforeTheFirstSnapshot) {
  runtime_.tasks["orphan"] = {};
  auto agent = makeAgent();
  agent->reconcile();
  EXPECT_TRUE(kernel_.mutations.empty());
  EXPECT_TRUE(runtime_.calls.empty());
}

TEST_F(TaskAgentTest, StartsAPendingTaskInAWiredSandboxOnItsOverlay) {
  setTasks({task("t1", kSelf, "10.0.15.2/24"), task("t2", "node-b", "10.0.15.3/24", "running")});
  auto agent = makeAgent();
  agent->reconcile();

  ASSERT_TRUE(runtime_.tasks.contains("t1"));
  const auto& spec = runtime_.tasks.at("t1").spec;
  EXPECT_EQ(spec.hostname, "web.t1");
  EXPECT_EQ(spec.netnsPath, "/fake/netns/om-t-t1");
  EXPECT_EQ(spec.command, (std::vector<std::string>{"sleep", "infinity"}));
  EXPECT_NE(spec.hostsFile.find("10.0.15.2\tweb.t1"), std::string::npos);
  EXPECT_FALSE(runtime_.tasks.contains("t2"));  // another node's

  EXPECT_TRUE(kernel_.namespaces.contains("om-t-t1"));
  EXPECT_TRUE(kernel_.gatewayReady);
  EXPECT_NE(kernel_.wiring["om-t-t1"].find("eth0 10.0.15.2/24"), std::string::npos);
  ASSERT_TRUE(kernel_.devices.contains(kVxlan));
  EXPECT_EQ(kernel_.devices.at(kVxlan).fdb,
            (std::set<dataplane::kernel::FdbEntry>{
                {macOf("10.0.15.3"), *Ipv4Address::parse("198.18.0.2")}}));
  EXPECT_EQ(reports(), (std::vector<Report>{{"t1", "running", 0}}));
}

TEST_F(TaskAgentTest, ANewRemoteEndpointAddsExactlyItsEntries) {
  setTasks({task("t1", kSelf, "10.0.15.2/24", "running")});
  auto agent = makeAgent();
  agent->reconcile();
  clearRecords();

  setTasks({task("t1", kSelf, "10.0.15.2/24", "running"),
            task("t2", "node-c", "10.0.15.9/24", "running")});
  agent->reconcile();

  std::string mac = macOf("10.0.15.9").toString();
  EXPECT_EQ(kernel_.mutations,
            (std::vector<std::string>{"add fdb omvx4096 " + mac + " 198.18.0.3",
                                      "add neighbour omvx4096 10.0.15.9 " + mac}));
  EXPECT_TRUE(runtime_.calls.empty());
}

TEST_F(TaskAgentTest, ARemovedRemoteEndpointLosesItsEntries) {
  setTasks({task("t1", kSelf, "10.0.15.2/24", "running"),
            task("t2", "node-c", "10.0.15.9/24", "running")});
  auto agent = makeAgent();
  agent->reconcile();
  kernel_.learn(kVxlan, macOf("10.0.15.9"));  // traffic came back from it
  clearRecords();

  setTasks({task("t1", kSelf, "10.0.15.2/24", "running")});
  agent->reconcile();

  std::string mac = macOf("10.0.15.9").toString();
  EXPECT_EQ(kernel_.mutations,
            (std::vector<std::string>{"delete fdb omvx4096 " + mac + " 198.18.0.3",
                                      "delete neighbour omvx4096 10.0.15.9",
                                      "delete learned omvx4096 " + mac}));
  EXPECT_TRUE(runtime_.calls.empty());
}

TEST_F(TaskAgentTest, AStaleLearnedEntryIsDeleted) {
  setTasks({task("t1", kSelf, "10.0.15.2/24", "running"),
            task("t2", "node-b", "10.0.15.3/24", "running")});
  auto agent = makeAgent();
  agent->reconcile();
  kernel_.learn(kVxlan, macOf("10.0.15.3"));   // a live endpoint: kept
  kernel_.learn(kVxlan, macOf("10.0.15.77"));  // nobody has it any more
  clearRecords();

  agent->reconcile();

  EXPECT_EQ(kernel_.mutations, (std::vector<std::string>{"delete learned omvx4096 " +
                                                         macOf("10.0.15.77").toString()}));
}

TEST_F(TaskAgentTest, ARestartedAgentFindsEverythingRightAndChangesNothing) {
  setTasks({task("t1", kSelf, "10.0.15.2/24"), task("t2", "node-b", "10.0.15.3/24", "running"),
            task("t3", "node-c", "10.0.15.4/24", "running")});
  makeAgent()->reconcile();
  ASSERT_FALSE(kernel_.mutations.empty());
  clearRecords();

  // The daemon restarts: a new agent, the manager now records the task as running, and
  // the kernel and the task's process are as the old agent left them.
  setTasks({task("t1", kSelf, "10.0.15.2/24", "running"),
            task("t2", "node-b", "10.0.15.3/24", "running"),
            task("t3", "node-c", "10.0.15.4/24", "running")});
  auto restarted = makeAgent();
  restarted->reconcile();
  restarted->reconcile();

  EXPECT_EQ(kernel_.mutations, std::vector<std::string>{});
  EXPECT_EQ(runtime_.calls, std::vector<std::string>{});
  EXPECT_EQ(reports(), std::vector<Report>{});
}

TEST_F(TaskAgentTest, ATaskThatExitsIsReportedOnce) {
  setTasks({task("t1", kSelf, "10.0.15.2/24", "running")});
  runtime_.tasks["t1"] = {};
  kernel_.namespaces.insert("om-t-t1");
  auto agent = makeAgent();
  runtime_.exit("t1", 3);
  agent->reconcile();
  agent->reconcile();
  EXPECT_EQ(reports(), (std::vector<Report>{{"t1", "failed", 3}}));
  EXPECT_TRUE(runtime_.tasks.contains("t1"));  // kept for its logs until the task is removed
}

TEST_F(TaskAgentTest, AStoppedTaskIsRemovedWithItsSandboxAndItsNetworksDevices) {
  setTasks({task("t1", kSelf, "10.0.15.2/24"), task("t2", "node-b", "10.0.15.3/24", "running")});
  auto agent = makeAgent();
  agent->reconcile();
  ASSERT_TRUE(runtime_.tasks.contains("t1"));
  clearRecords();

  auto stopping = task("t1", kSelf, "10.0.15.2/24", "running");
  stopping.desiredState = "shutdown";
  setTasks({stopping, task("t2", "node-b", "10.0.15.3/24", "running")});
  agent->reconcile();
  ASSERT_TRUE(agent->waitForStops(kTestPatience));
  agent->reconcile();

  EXPECT_EQ(runtime_.calls, (std::vector<std::string>{"stop t1", "remove t1"}));
  EXPECT_FALSE(runtime_.tasks.contains("t1"));
  EXPECT_FALSE(kernel_.namespaces.contains("om-t-t1"));
  EXPECT_FALSE(kernel_.wiring.contains("om-t-t1"));
  // No local task is left on the network: its devices go.
  EXPECT_FALSE(kernel_.devices.contains("ombr4096"));
  EXPECT_FALSE(kernel_.devices.contains(kVxlan));
}

TEST_F(TaskAgentTest, AFailedStartIsReportedAndItsSandboxCleanedUp) {
  runtime_.startError = Error{ErrorKind::InvalidArgument, "sleep: command not found"};
  setTasks({task("t1", kSelf, "10.0.15.2/24")});
  auto agent = makeAgent();
  agent->reconcile();
  ASSERT_EQ(reports().size(), 1u);
  EXPECT_EQ(reports().front().state, "failed");
  EXPECT_TRUE(kernel_.namespaces.contains("om-t-t1"));

  // The manager records the failure; the half-made sandbox is not wanted any more.
  auto failed = task("t1", kSelf, "10.0.15.2/24", "failed");
  failed.desiredState = "shutdown";
  setTasks({failed});
  agent->reconcile();
  EXPECT_FALSE(kernel_.namespaces.contains("om-t-t1"));
}

TEST_F(TaskAgentTest, AnUnavailableKernelDefersStartsInsteadOfFailingTasks) {
  kernel_.unavailable = true;
  setTasks({task("t1", kSelf, "10.0.15.2/24")});
  auto agent = makeAgent();
  agent->reconcile();
  EXPECT_TRUE(reports().empty()) << "a task was reported while the kernel could not be asked";
  EXPECT_TRUE(runtime_.tasks.empty());

  kernel_.unavailable = false;
  agent->reconcile();
  ASSERT_EQ(reports().size(), 1u);
  EXPECT_EQ(reports().front().state, "running");
}

TEST_F(TaskAgentTest, ExecAndLogsGoToTheRuntime) {
  runtime_.tasks["t1"] = {};
  auto agent = makeAgent();
  auto result = agent->exec("t1", {"echo", "hi"}, std::chrono::seconds(1));
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(result->out, "echo\nhi\n");
  EXPECT_EQ(*agent->logs("t1"), "log of t1");
}

}  // namespace
}  // namespace overmesh::testing
