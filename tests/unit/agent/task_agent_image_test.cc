// Image tasks on their node, through the agent with a fake image store: the image is
// pulled before the sandbox is made, the task reported "preparing" with the pull's
// progress meanwhile, "failed" with the registry's words when the pull fails (and a later
// task pulls afresh once the hold-off passed); the container spec reaches the runtime.

#include <gtest/gtest.h>

#include "agent/sandbox_files.h"
#include "agent/task_spec.h"
#include "support/task_agent_fixture.h"

namespace overmesh::testing {
namespace {

const std::string kImage = "198.18.0.101:5000/web:1@sha256:" + std::string(64, 'c');

api::Task imageTask(std::string id, std::string state = "pending") {
  api::Task t = task(std::move(id), kSelf, "10.0.15.2/24", std::move(state));
  t.command = {};
  t.container.image = kImage;
  return t;
}

// The reports about `taskId` as "state: message", in order.
std::vector<std::string> reportsOf(
    const std::vector<std::pair<std::string, agent::TaskReport>>& sent, const std::string& taskId) {
  std::vector<std::string> brief;
  for (const auto& [id, report] : sent) {
    if (id == taskId) {
      brief.push_back(report.state + ": " + report.message);
    }
  }
  return brief;
}

class TaskAgentImageTest : public TaskAgentTest {
 protected:
  // A pass, the pulls it asked for, and the pass their end woke.
  void reconcileAfterPulls(agent::TaskAgent& agent) {
    agent.reconcile();
    ASSERT_TRUE(agent.waitForPulls(kTestPatience));
    agent.reconcile();
  }
};

TEST(TaskSpecOfTest, CarriesTheContainerSpec) {
  api::Task t;
  t.id = "t1";
  t.name = "web.1.t1";
  t.command = {"serve", "--port", "80"};
  t.env = {"A=1"};
  t.container.image = kImage;
  t.container.entrypoint = {"/bin/sh", "-c"};
  t.container.workdir = "/srv";
  t.container.user = "www:www";
  t.container.mounts = {{"bind", "/data/web", "/srv/data", true},
                        {"volume", "cache", "/cache", false}};
  t.container.readOnly = true;
  t.container.init = true;
  t.container.stopSignal = "SIGQUIT";

  runtime::TaskSpec spec = agent::taskSpecOf(t);
  EXPECT_EQ(spec.taskId, "t1");
  EXPECT_EQ(spec.hostname, "web.1.t1");
  EXPECT_EQ(spec.command, t.command);
  EXPECT_EQ(spec.env, t.env);
  EXPECT_EQ(spec.image, kImage);
  EXPECT_EQ(spec.entrypoint, t.container.entrypoint);
  EXPECT_EQ(spec.workdir, "/srv");
  EXPECT_EQ(spec.user, "www:www");
  ASSERT_EQ(spec.mounts.size(), 2U);
  EXPECT_EQ(spec.mounts[0].type, "bind");
  EXPECT_EQ(spec.mounts[0].source, "/data/web");
  EXPECT_EQ(spec.mounts[0].target, "/srv/data");
  EXPECT_TRUE(spec.mounts[0].readOnly);
  EXPECT_EQ(spec.mounts[1].type, "volume");
  EXPECT_EQ(spec.mounts[1].source, "cache");
  EXPECT_FALSE(spec.mounts[1].readOnly);
  EXPECT_TRUE(spec.readOnly);
  EXPECT_TRUE(spec.init);
  EXPECT_EQ(spec.stopSignal, "SIGQUIT");
  EXPECT_TRUE(spec.netnsPath.empty());  // the agent's to fill in
}

TEST(TaskSpecOfTest, TheSpecsHostnameReplacesTheTaskNameAndItsLabelsGoAlong) {
  api::Task t;
  t.id = "t1";
  t.name = "web_web.1.t1";
  t.container.image = kImage;
  t.container.hostname = "web-1";
  t.container.labels = {{"com.docker.stack.namespace", "web"}, {"tier", "front"}};
  t.attachments.push_back({"n1", "web_default", "10.0.9.3/24", ""});
  runtime::TaskSpec spec = agent::taskSpecOf(t);
  EXPECT_EQ(spec.hostname, "web-1");
  EXPECT_EQ(spec.labels, t.container.labels);
  EXPECT_EQ(agent::hostsFileFor(t),
            "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n10.0.9.3\tweb-1\n");
}

TEST(TaskSpecOfTest, AProcessTaskKeepsItsHostnameAndLabelsToo) {
  api::Task t;
  t.id = "t1";
  t.name = "web.t1";
  t.command = {"sleep", "infinity"};
  t.container.hostname = "worker";
  t.container.labels = {{"a", "b"}};
  runtime::TaskSpec spec = agent::taskSpecOf(t);
  EXPECT_EQ(spec.hostname, "worker");
  EXPECT_EQ(spec.labels, t.container.labels);
}

TEST(TaskSpecOfTest, AProcessTaskHasNoImageFields) {
  api::Task t;
  t.id = "t1";
  t.name = "web.t1";
  t.command = {"sleep", "infinity"};
  runtime::TaskSpec spec = agent::taskSpecOf(t);
  EXPECT_TRUE(spec.image.empty());
  EXPECT_TRUE(spec.entrypoint.empty());
  EXPECT_TRUE(spec.mounts.empty());
  EXPECT_FALSE(spec.readOnly);
  EXPECT_FALSE(spec.init);
}

TEST_F(TaskAgentImageTest, ImageAlreadyThereStartsWithoutPreparing) {
  images_.add(kImage);
  setTasks({imageTask("t1")});
  auto agent = makeAgent();
  reconcileAfterPulls(*agent);

  ASSERT_TRUE(runtime_.tasks.contains("t1"));
  EXPECT_EQ(runtime_.tasks.at("t1").spec.image, kImage);
  EXPECT_EQ(runtime_.tasks.at("t1").spec.netnsPath, "/fake/netns/om-t-t1");
  EXPECT_EQ(images_.pullsOf(kImage), 0U);
  EXPECT_EQ(reportsOf(sent(), "t1"), (std::vector<std::string>{"running: "}));
}

TEST_F(TaskAgentImageTest, MissingImageIsPulledBeforeTheSandboxIsMade) {
  images_.setProgress({"1 of 2 layers, 1.2 MB"});
  images_.holdPulls();
  setTasks({imageTask("t1")});
  auto agent = makeAgent();
  agent->reconcile();
  ASSERT_TRUE(images_.waitForHeldPulls(1, kTestPatience));
  agent->reconcile();  // what the progress wake does

  EXPECT_EQ(reportsOf(sent(), "t1"),
            (std::vector<std::string>{
                "preparing: pulling 198.18.0.101:5000/web:1: 1 of 2 layers, 1.2 MB"}));
  EXPECT_FALSE(kernel_.namespaces.contains("om-t-t1"));
  EXPECT_TRUE(runtime_.callsSoFar().empty());

  images_.releasePulls();
  ASSERT_TRUE(agent->waitForPulls(kTestPatience));
  setTasks({imageTask("t1", "preparing")});  // the manager recorded it
  agent->reconcile();
  ASSERT_TRUE(runtime_.tasks.contains("t1"));
  EXPECT_TRUE(kernel_.namespaces.contains("om-t-t1"));
  EXPECT_EQ(reportsOf(sent(), "t1").back(), "running: ");
  EXPECT_EQ(images_.pullsOf(kImage), 1U);
}

TEST_F(TaskAgentImageTest, TasksOfOneImageShareOnePull) {
  images_.holdPulls();
  api::Task t2 = imageTask("t2");
  t2.attachments[0].address = "10.0.15.3/24";
  setTasks({imageTask("t1"), t2});
  auto agent = makeAgent();
  agent->reconcile();
  ASSERT_TRUE(images_.waitForHeldPulls(1, kTestPatience));
  agent->reconcile();
  images_.releasePulls();
  ASSERT_TRUE(agent->waitForPulls(kTestPatience));
  agent->reconcile();
  EXPECT_EQ(images_.pullsOf(kImage), 1U);
  EXPECT_TRUE(runtime_.tasks.contains("t1"));
  EXPECT_TRUE(runtime_.tasks.contains("t2"));
}

TEST_F(TaskAgentImageTest, PullFailureFailsTheTaskWithTheRegistrysWords) {
  images_.failPulls(kImage, Error{ErrorKind::NotFound, "manifest unknown: manifest unknown"});
  setTasks({imageTask("t1")});
  auto agent = makeAgent();
  reconcileAfterPulls(*agent);

  auto reports = reportsOf(sent(), "t1");
  ASSERT_FALSE(reports.empty());
  EXPECT_EQ(reports.back(), "failed: pull " + kImage + ": manifest unknown: manifest unknown");
  EXPECT_FALSE(kernel_.namespaces.contains("om-t-t1"));
  EXPECT_TRUE(runtime_.callsSoFar().empty());

  agent->reconcile();  // the record lags behind: not started, not reported again
  EXPECT_EQ(reportsOf(sent(), "t1").size(), reports.size());
  EXPECT_TRUE(runtime_.callsSoFar().empty());
}

TEST_F(TaskAgentImageTest, TheNextTaskPullsAfreshOnceTheHoldOffPassed) {
  images_.failPulls(kImage, Error{ErrorKind::Unavailable, "connection refused"});
  setTasks({imageTask("t1")});
  auto agent = makeAgent();
  reconcileAfterPulls(*agent);
  ASSERT_EQ(images_.pullsOf(kImage), 1U);

  // The restart policy's new task at once: the failure still holds, no new pull.
  api::Task failed = imageTask("t1", "failed");
  failed.desiredState = "shutdown";
  api::Task t2 = imageTask("t2");
  t2.attachments[0].address = "10.0.15.3/24";
  setTasks({failed, t2});
  reconcileAfterPulls(*agent);
  EXPECT_EQ(images_.pullsOf(kImage), 1U);
  EXPECT_EQ(reportsOf(sent(), "t2").back(), "failed: pull " + kImage + ": connection refused");

  // A later one, with the registry back: pulled and started.
  images_.failPulls(kImage, std::nullopt);
  clock_.advance(std::chrono::seconds(5));
  api::Task t3 = imageTask("t3");
  t3.attachments[0].address = "10.0.15.4/24";
  setTasks({failed, t3});
  reconcileAfterPulls(*agent);
  EXPECT_EQ(images_.pullsOf(kImage), 2U);
  EXPECT_TRUE(runtime_.tasks.contains("t3"));
}

TEST_F(TaskAgentImageTest, AFailedStartChecksTheStoreAgainForTheNextTask) {
  images_.add(kImage);
  runtime_.startError = Error{ErrorKind::InvalidArgument, "image not known"};
  setTasks({imageTask("t1")});
  auto agent = makeAgent();
  reconcileAfterPulls(*agent);
  EXPECT_EQ(reportsOf(sent(), "t1").back(), "failed: image not known");
  ASSERT_TRUE(images_.remove(kImage, false));  // gone, as the failed start suggested

  runtime_.startError.reset();
  api::Task failed = imageTask("t1", "failed");
  failed.desiredState = "shutdown";
  api::Task t2 = imageTask("t2");
  t2.attachments[0].address = "10.0.15.3/24";
  setTasks({failed, t2});
  reconcileAfterPulls(*agent);
  EXPECT_EQ(images_.pullsOf(kImage), 1U);
  EXPECT_TRUE(runtime_.tasks.contains("t2"));
}

TEST_F(TaskAgentImageTest, APreparingTaskToldToShutDownIsReportedNotStarted) {
  api::Task t = imageTask("t1", "preparing");
  t.desiredState = "shutdown";
  setTasks({t});
  auto agent = makeAgent();
  agent->reconcile();
  EXPECT_EQ(reportsOf(sent(), "t1"), (std::vector<std::string>{"shutdown: not started"}));
  EXPECT_TRUE(runtime_.callsSoFar().empty());
}

}  // namespace
}  // namespace overmesh::testing
