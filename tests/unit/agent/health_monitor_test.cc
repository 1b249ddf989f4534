// The health-check scheduler with a fake runtime and a manual clock: checks never pile up
// behind a slow one, the node-wide bound on checks in flight, and a result that arrives
// after its task was unwatched is dropped.

#include "agent/health_monitor.h"

#include <gtest/gtest.h>

#include <mutex>

#include "support/fake_runtime.h"

namespace overmesh::agent {
namespace {

using std::chrono::milliseconds;
using testing::FakeTaskRuntime;

// Long enough for a wrongly started check to show up in the fake's records.
constexpr milliseconds kShortWait{200};
constexpr milliseconds kPatience{5000};

api::Task checkedTask(std::string id) {
  api::Task t;
  t.id = std::move(id);
  t.state = "running";
  api::HealthCheck check;
  check.command = {"true"};
  check.intervalMs = 1000;
  check.timeoutMs = 500;
  check.retries = 1;
  t.healthCheck = check;
  return t;
}

class HealthMonitorTest : public ::testing::Test {
 protected:
  void addTask(const std::string& id) { runtime_.tasks[id] = {}; }
  std::vector<std::string> changes() {
    std::lock_guard lock(mutex_);
    return changes_;
  }

  FakeTaskRuntime runtime_;
  ManualClock clock_;
  std::mutex mutex_;
  std::vector<std::string> changes_;  // guarded by mutex_
  HealthMonitor::OnChange onChange_ = [this](const std::string& taskId, const std::string& health,
                                             const std::string&) {
    std::lock_guard lock(mutex_);
    changes_.push_back(taskId + " " + health);
  };
};

TEST_F(HealthMonitorTest, ASlowCheckIsNeverStartedTwice) {
  addTask("t1");
  HealthMonitor monitor(runtime_, clock_, onChange_);
  monitor.watch(checkedTask("t1"));
  runtime_.holdExecs();
  clock_.advance(milliseconds(1000));
  monitor.runDueChecks();
  ASSERT_TRUE(runtime_.waitForExecs(1, kPatience));

  clock_.advance(milliseconds(5000));  // five intervals pass while it hangs
  EXPECT_EQ(monitor.runDueChecks(), std::nullopt);
  EXPECT_FALSE(runtime_.waitForExecs(2, kShortWait));

  runtime_.releaseExecs();
  monitor.waitForChecks();
  EXPECT_EQ(changes(), std::vector<std::string>{"t1 healthy"});
  // The next check is an interval after this one ended, not at once.
  EXPECT_EQ(monitor.runDueChecks(), clock_.now() + milliseconds(1000));
}

TEST_F(HealthMonitorTest, ChecksInFlightAreBoundedOnTheNode) {
  for (const char* id : {"t1", "t2", "t3"}) {
    addTask(id);
  }
  HealthMonitor monitor(runtime_, clock_, onChange_, 2);
  for (const char* id : {"t1", "t2", "t3"}) {
    monitor.watch(checkedTask(id));
  }
  runtime_.holdExecs();
  clock_.advance(milliseconds(1000));
  monitor.runDueChecks();
  ASSERT_TRUE(runtime_.waitForExecs(2, kPatience));
  EXPECT_FALSE(runtime_.waitForExecs(3, kShortWait));

  runtime_.releaseExecs();
  monitor.waitForChecks();
  monitor.runDueChecks();  // the third, still due, gets a slot now
  monitor.waitForChecks();
  EXPECT_EQ(runtime_.execs.size(), 3u);
}

TEST_F(HealthMonitorTest, AResultAfterUnwatchIsDropped) {
  addTask("t1");
  HealthMonitor monitor(runtime_, clock_, onChange_);
  monitor.watch(checkedTask("t1"));
  runtime_.holdExecs();
  clock_.advance(milliseconds(1000));
  monitor.runDueChecks();
  ASSERT_TRUE(runtime_.waitForExecs(1, kPatience));
  monitor.unwatch("t1");
  runtime_.releaseExecs();
  monitor.waitForChecks();
  EXPECT_TRUE(changes().empty());
  EXPECT_EQ(monitor.health("t1"), "");
}

TEST_F(HealthMonitorTest, ATaskWithoutACheckIsNotWatched) {
  addTask("t1");
  HealthMonitor monitor(runtime_, clock_, onChange_);
  api::Task plain = checkedTask("t1");
  plain.healthCheck.reset();
  EXPECT_EQ(monitor.watch(plain), std::nullopt);
  EXPECT_EQ(monitor.runDueChecks(), std::nullopt);
}

TEST_F(HealthMonitorTest, TheSchedulerThreadRunsDueChecks) {
  addTask("t1");
  SystemClock realClock;
  HealthMonitor monitor(runtime_, realClock, onChange_);
  api::Task t = checkedTask("t1");
  t.healthCheck->intervalMs = 100;  // kMinHealthInterval
  monitor.watch(t);
  monitor.start();
  EXPECT_TRUE(runtime_.waitForExecs(2, kPatience));
  monitor.stop();
  EXPECT_EQ(changes(), std::vector<std::string>{"t1 healthy"});
}

}  // namespace
}  // namespace overmesh::agent
