// A task's life on its node, through the agent with fakes: drain then stop with the
// task's grace, off the reconcile thread; one "shutdown" report; tasks that never start,
// that exited already, or whose record is gone; health checks reported as they change;
// the task's environment.

#include <gtest/gtest.h>

#include "support/task_agent_fixture.h"

namespace overmesh::testing {
namespace {

using std::chrono::milliseconds;

api::Task shuttingDown(api::Task t, std::string reason = "") {
  t.desiredState = "shutdown";
  t.message = std::move(reason);
  return t;
}

api::Task withHealthCheck(api::Task t, std::int64_t retries = 3, std::int64_t startPeriodMs = 0) {
  api::HealthCheck check;
  check.command = {"/bin/sh", "-c", "curl -f http://localhost/"};
  check.intervalMs = 1000;
  check.timeoutMs = 300;
  check.retries = retries;
  check.startPeriodMs = startPeriodMs;
  t.healthCheck = check;
  return t;
}

runtime::ExecResult failing(std::string out) {
  runtime::ExecResult result;
  result.exitCode = 1;
  result.out = std::move(out);
  return result;
}

// The health values of the reports about `taskId`, in order.
std::vector<std::string> healthReports(
    const std::vector<std::pair<std::string, agent::TaskReport>>& sent, const std::string& taskId) {
  std::vector<std::string> health;
  for (const auto& [id, report] : sent) {
    if (id == taskId) {
      health.push_back(report.state + "/" + report.health);
    }
  }
  return health;
}

class TaskLifecycleTest : public TaskAgentTest {
 protected:
  // An agent that has started `t` (pending in its record) and seen it recorded running.
  std::unique_ptr<agent::TaskAgent> agentRunning(const api::Task& t) {
    setTasks({t});
    auto agent = makeAgent();
    agent->reconcile();
    EXPECT_TRUE(runtime_.tasks.contains(t.id));
    api::Task recorded = t;
    recorded.state = "running";
    recorded.health = t.healthCheck ? "starting" : "";
    setTasks({recorded});
    agent->reconcile();
    clearRecords();
    return agent;
  }
  api::Task running(api::Task t) {
    t.state = "running";
    return t;
  }
};

TEST_F(TaskLifecycleTest, DrainsThenStopsWithTheTasksGraceThenReportsAndCleansUp) {
  auto t1 = task("t1", kSelf, "10.0.15.2/24");
  t1.stopGracePeriodMs = 7000;
  auto agent = agentRunning(t1);

  setTasks({shuttingDown(running(t1), "scaled down")});
  auto toldAt = std::chrono::steady_clock::now();
  agent->reconcile();
  EXPECT_TRUE(runtime_.callsSoFar().empty()) << "stopped without a drain";
  EXPECT_TRUE(kernel_.devices.contains(kVxlan)) << "its network went while it still serves";
  ASSERT_TRUE(agent->waitForStops(kTestPatience));

  ASSERT_EQ(runtime_.stops.size(), 1u);
  EXPECT_EQ(runtime_.stops[0].taskId, "t1");
  EXPECT_EQ(runtime_.stops[0].grace, milliseconds(7000));
  EXPECT_GE(runtime_.stops[0].at - toldAt, kTestDrain);
  auto sent = this->sent();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].first, "t1");
  EXPECT_EQ(sent[0].second.state, "shutdown");
  EXPECT_EQ(sent[0].second.message, "scaled down");  // the manager's reason stays
  EXPECT_TRUE(kernel_.namespaces.contains("om-t-t1")) << "the sandbox goes after the report";

  agent->reconcile();
  EXPECT_EQ(runtime_.calls, (std::vector<std::string>{"stop t1", "remove t1"}));
  EXPECT_FALSE(kernel_.namespaces.contains("om-t-t1"));
  EXPECT_FALSE(kernel_.devices.contains(kVxlan));
}

TEST_F(TaskLifecycleTest, AStopDoesNotHoldUpTheReconcilePassOrOtherStarts) {
  auto t1 = task("t1", kSelf, "10.0.15.2/24");
  auto agent = agentRunning(t1);
  runtime_.holdStops();

  setTasks({shuttingDown(running(t1))});
  agent->reconcile();
  ASSERT_TRUE(runtime_.waitForCall("stop t1", kTestPatience));

  // t1's stop hangs in its grace period; a new task still starts at once.
  setTasks({shuttingDown(running(t1)), task("t2", kSelf, "10.0.15.3/24")});
  agent->reconcile();
  EXPECT_TRUE(runtime_.has("t2"));
  EXPECT_EQ(runtime_.callsSoFar(), (std::vector<std::string>{"stop t1", "start t2"}));
  agent->reconcile();
  EXPECT_EQ(runtime_.callsSoFar(), (std::vector<std::string>{"stop t1", "start t2"}))
      << "a task being stopped was stopped twice";

  runtime_.releaseStops();
  ASSERT_TRUE(agent->waitForStops(kTestPatience));
  agent->reconcile();
  EXPECT_FALSE(runtime_.tasks.contains("t1"));
  EXPECT_FALSE(kernel_.namespaces.contains("om-t-t1"));
  EXPECT_TRUE(runtime_.tasks.contains("t2"));
}

TEST_F(TaskLifecycleTest, SeveralTasksStopAtOnce) {
  auto t1 = task("t1", kSelf, "10.0.15.2/24");
  auto t2 = task("t2", kSelf, "10.0.15.3/24");
  setTasks({t1, t2});
  auto agent = makeAgent();
  agent->reconcile();
  runtime_.holdStops();

  setTasks({shuttingDown(running(t1)), shuttingDown(running(t2))});
  agent->reconcile();
  // Both stops are under way together, neither waiting for the other to finish.
  EXPECT_TRUE(runtime_.waitForCall("stop t1", kTestPatience));
  EXPECT_TRUE(runtime_.waitForCall("stop t2", kTestPatience));
  runtime_.releaseStops();
  ASSERT_TRUE(agent->waitForStops(kTestPatience));
}

TEST_F(TaskLifecycleTest, ShutdownIsReportedOnce) {
  auto t1 = task("t1", kSelf, "10.0.15.2/24");
  auto agent = agentRunning(t1);

  setTasks({shuttingDown(running(t1))});
  agent->reconcile();
  ASSERT_TRUE(agent->waitForStops(kTestPatience));
  // The cache has not caught up with the report yet: the record still says running.
  agent->reconcile();
  agent->reconcile();
  auto done = shuttingDown(running(t1));
  done.state = "shutdown";
  done.message = "stopped";
  setTasks({done});
  agent->reconcile();
  agent->reconcile();

  EXPECT_EQ(reports(), (std::vector<Report>{{"t1", "shutdown", 0}}));
  EXPECT_EQ(runtime_.calls, (std::vector<std::string>{"stop t1", "remove t1"}));
}

TEST_F(TaskLifecycleTest, APendingTaskToldToShutDownIsNeverStarted) {
  setTasks({shuttingDown(task("t1", kSelf, "10.0.15.2/24"))});
  auto agent = makeAgent();
  agent->reconcile();
  agent->reconcile();

  EXPECT_TRUE(runtime_.calls.empty());
  EXPECT_FALSE(kernel_.namespaces.contains("om-t-t1"));
  auto sent = this->sent();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].second.state, "shutdown");
  EXPECT_EQ(sent[0].second.message, "not started");
}

TEST_F(TaskLifecycleTest, AnExitedTaskKeepsItsTerminalStateAndIsCleanedUp) {
  auto t1 = task("t1", kSelf, "10.0.15.2/24");
  auto agent = agentRunning(t1);
  runtime_.exit("t1", 3);
  agent->reconcile();
  ASSERT_EQ(reports(), (std::vector<Report>{{"t1", "failed", 3}}));
  clearRecords();

  auto failed = shuttingDown(running(t1), "task failed");
  failed.state = "failed";
  failed.exitCode = 3;
  setTasks({failed});
  agent->reconcile();
  ASSERT_TRUE(agent->waitForStops(kTestPatience));
  agent->reconcile();

  EXPECT_EQ(runtime_.calls, std::vector<std::string>{"remove t1"});  // no stop, no drain
  EXPECT_TRUE(reports().empty());
  EXPECT_FALSE(kernel_.namespaces.contains("om-t-t1"));
}

TEST_F(TaskLifecycleTest, AnExitTheManagerHasNotHeardOfIsReportedBeforeTheCleanUp) {
  auto t1 = task("t1", kSelf, "10.0.15.2/24");
  auto agent = agentRunning(t1);
  runtime_.exit("t1", 0);

  setTasks({shuttingDown(running(t1))});
  agent->reconcile();
  ASSERT_TRUE(agent->waitForStops(kTestPatience));
  agent->reconcile();

  EXPECT_EQ(reports(), (std::vector<Report>{{"t1", "exited", 0}}));
  EXPECT_EQ(runtime_.calls, std::vector<std::string>{"remove t1"});
}

TEST_F(TaskLifecycleTest, ADeletedRecordIsStoppedAfterTheDrainWithoutAReport) {
  auto t1 = task("t1", kSelf, "10.0.15.2/24");
  auto agent = agentRunning(t1);

  setTasks({});
  auto toldAt = std::chrono::steady_clock::now();
  agent->reconcile();
  ASSERT_TRUE(agent->waitForStops(kTestPatience));
  agent->reconcile();

  ASSERT_EQ(runtime_.stops.size(), 1u);
  EXPECT_GE(runtime_.stops[0].at - toldAt, kTestDrain);
  EXPECT_EQ(runtime_.stops[0].grace, agent::kStopGraceWithoutRecord);
  EXPECT_EQ(runtime_.calls, (std::vector<std::string>{"stop t1", "remove t1"}));
  EXPECT_TRUE(reports().empty());
  EXPECT_FALSE(kernel_.namespaces.contains("om-t-t1"));
}

TEST_F(TaskLifecycleTest, ARestartedAgentStopsTheTasksToldToShutDown) {
  auto t1 = task("t1", kSelf, "10.0.15.2/24");
  agentRunning(t1).reset();  // the daemon stops; the task runs on

  setTasks({shuttingDown(running(t1), "scaled down")});
  auto restarted = makeAgent();
  restarted->reconcile();
  ASSERT_TRUE(restarted->waitForStops(kTestPatience));
  restarted->reconcile();

  EXPECT_EQ(runtime_.calls, (std::vector<std::string>{"stop t1", "remove t1"}));
  EXPECT_EQ(reports(), (std::vector<Report>{{"t1", "shutdown", 0}}));
}

TEST_F(TaskLifecycleTest, ARunningTaskIsReportedStartingThenHealthy) {
  setTasks({withHealthCheck(task("t1", kSelf, "10.0.15.2/24"))});
  auto agent = makeAgent();
  agent->reconcile();
  EXPECT_EQ(healthReports(sent(), "t1"), std::vector<std::string>{"running/starting"});

  agent->checkHealth();  // not due yet
  EXPECT_TRUE(runtime_.execs.empty());
  clock_.advance(milliseconds(1000));
  agent->checkHealth();

  ASSERT_EQ(runtime_.execs.size(), 1u);
  EXPECT_EQ(runtime_.execs[0].argv,
            (std::vector<std::string>{"/bin/sh", "-c", "curl -f http://localhost/"}));
  EXPECT_EQ(runtime_.execs[0].timeout, milliseconds(300));
  EXPECT_EQ(healthReports(sent(), "t1"),
            (std::vector<std::string>{"running/starting", "running/healthy"}));
}

TEST_F(TaskLifecycleTest, RetriesFailuresInARowMakeItUnhealthyWithTheOutput) {
  auto t1 = withHealthCheck(task("t1", kSelf, "10.0.15.2/24"), 3);
  auto agent = agentRunning(t1);
  runtime_.scriptExec("t1", runtime::ExecResult{});
  for (int i = 0; i < 3; ++i) {
    runtime_.scriptExec("t1", failing("db \x01 down\n"));
  }
  for (int i = 0; i < 3; ++i) {
    clock_.advance(milliseconds(1000));
    agent->checkHealth();
  }
  EXPECT_EQ(healthReports(sent(), "t1"), std::vector<std::string>{"running/healthy"})
      << "two failures in a row must not count yet";
  clock_.advance(milliseconds(1000));
  agent->checkHealth();

  auto sent = this->sent();
  ASSERT_EQ(healthReports(sent, "t1"),
            (std::vector<std::string>{"running/healthy", "running/unhealthy"}));
  const auto& message = sent.back().second.message;
  EXPECT_NE(message.find("3 times"), std::string::npos) << message;
  EXPECT_NE(message.find("exit code 1: db \\x01 down\\n"), std::string::npos) << message;
}

TEST_F(TaskLifecycleTest, FailuresInTheStartPeriodDoNotCount) {
  auto t1 = withHealthCheck(task("t1", kSelf, "10.0.15.2/24"), 1, 3500);
  auto agent = agentRunning(t1);
  for (int i = 0; i < 4; ++i) {
    runtime_.scriptExec("t1", failing("not yet"));
  }
  for (int i = 0; i < 3; ++i) {  // checks at 1 s, 2 s, 3 s: in the start period
    clock_.advance(milliseconds(1000));
    agent->checkHealth();
  }
  EXPECT_TRUE(healthReports(sent(), "t1").empty());
  clock_.advance(milliseconds(1000));  // 4 s: past it
  agent->checkHealth();
  EXPECT_EQ(healthReports(sent(), "t1"), std::vector<std::string>{"running/unhealthy"});
}

TEST_F(TaskLifecycleTest, APassInTheStartPeriodEndsIt) {
  auto t1 = withHealthCheck(task("t1", kSelf, "10.0.15.2/24"), 1, 60000);
  auto agent = agentRunning(t1);
  runtime_.scriptExec("t1", runtime::ExecResult{});
  runtime_.scriptExec("t1", failing("gone"));
  clock_.advance(milliseconds(1000));
  agent->checkHealth();
  clock_.advance(milliseconds(1000));
  agent->checkHealth();
  EXPECT_EQ(healthReports(sent(), "t1"),
            (std::vector<std::string>{"running/healthy", "running/unhealthy"}));
}

TEST_F(TaskLifecycleTest, ATimedOutCheckCountsAsAFailure) {
  auto t1 = withHealthCheck(task("t1", kSelf, "10.0.15.2/24"), 1);
  auto agent = agentRunning(t1);
  runtime::ExecResult timedOut;
  timedOut.exitCode = 124;
  timedOut.timedOut = true;
  runtime_.scriptExec("t1", timedOut);
  clock_.advance(milliseconds(1000));
  agent->checkHealth();

  auto sent = this->sent();
  ASSERT_EQ(healthReports(sent, "t1"), std::vector<std::string>{"running/unhealthy"});
  EXPECT_NE(sent.back().second.message.find("timed out after 300 ms"), std::string::npos)
      << sent.back().second.message;
}

TEST_F(TaskLifecycleTest, ChecksStopWhenTheTaskIsToldToShutDown) {
  auto t1 = withHealthCheck(task("t1", kSelf, "10.0.15.2/24"));
  auto agent = agentRunning(t1);
  setTasks({shuttingDown(running(t1))});
  agent->reconcile();
  for (int i = 0; i < 3; ++i) {
    clock_.advance(milliseconds(1000));
    agent->checkHealth();
  }
  ASSERT_TRUE(agent->waitForStops(kTestPatience));
  EXPECT_TRUE(runtime_.execs.empty());
  auto sent = this->sent();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].second.state, "shutdown");
  EXPECT_EQ(sent[0].second.health, "");
}

TEST_F(TaskLifecycleTest, ChecksStopWhenTheTaskExits) {
  auto t1 = withHealthCheck(task("t1", kSelf, "10.0.15.2/24"));
  auto agent = agentRunning(t1);
  runtime_.exit("t1", 2);
  agent->reconcile();
  clock_.advance(milliseconds(5000));
  agent->checkHealth();
  EXPECT_TRUE(runtime_.execs.empty());
  EXPECT_EQ(healthReports(sent(), "t1"), std::vector<std::string>{"failed/"});
}

TEST_F(TaskLifecycleTest, ARestartedAgentKeepsAHealthyTaskHealthy) {
  auto t1 = withHealthCheck(task("t1", kSelf, "10.0.15.2/24"));
  agentRunning(t1).reset();
  auto healthy = running(t1);
  healthy.health = "healthy";
  setTasks({healthy});
  auto restarted = makeAgent();
  restarted->reconcile();
  EXPECT_TRUE(sent().empty()) << "a restart must not take a healthy task out of DNS";
  runtime_.scriptExec("t1", failing("down"));
  runtime_.scriptExec("t1", failing("down"));
  runtime_.scriptExec("t1", failing("down"));
  for (int i = 0; i < 3; ++i) {
    clock_.advance(milliseconds(1000));
    restarted->checkHealth();
  }
  EXPECT_EQ(healthReports(sent(), "t1"), std::vector<std::string>{"running/unhealthy"});
}

TEST_F(TaskLifecycleTest, TheTaskGetsItsEnvironment) {
  auto t1 = task("t1", kSelf, "10.0.15.2/24");
  t1.env = {"DB=postgres://db/app", "MODE=blue"};
  setTasks({t1});
  makeAgent()->reconcile();
  ASSERT_TRUE(runtime_.tasks.contains("t1"));
  EXPECT_EQ(runtime_.tasks.at("t1").spec.env, t1.env);
}

}  // namespace
}  // namespace overmesh::testing
