#include "cli/service_progress.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

#include "support/service_fixtures.h"

namespace overmesh::cli {
namespace {

using overmesh::testing::endedTask;
using overmesh::testing::globalService;
using overmesh::testing::replicatedService;
using overmesh::testing::serviceTask;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

TEST(ServiceProgressTest, ConvergedWhenEverySlotRunsTheCurrentVersion) {
  auto service = replicatedService("web", 3);
  std::vector<api::Task> tasks = {serviceTask(service, "t1", 1, "running"),
                                  serviceTask(service, "t2", 2, "running"),
                                  serviceTask(service, "t3", 3, "running")};

  auto progress = computeProgress(service, tasks);

  EXPECT_TRUE(progress.converged);
  EXPECT_EQ(progress.done, 3);
  EXPECT_EQ(progress.total, 3);
  EXPECT_THAT(progressLines(progress), ElementsAre("overall progress: 3 out of 3 tasks",
                                                   "1/3: running", "2/3: running", "3/3: running"));
}

TEST(ServiceProgressTest, APreparingSlotShowsItsPullProgress) {
  auto service = replicatedService("web", 2);
  std::vector<api::Task> tasks = {serviceTask(service, "t1", 1, "preparing"),
                                  serviceTask(service, "t2", 2, "preparing")};
  tasks[0].message = "pulling 198.18.0.101:5000/web:1: 1 of 2 layers, 1.2 MB";

  auto progress = computeProgress(service, tasks);

  EXPECT_FALSE(progress.converged);
  EXPECT_THAT(progressLines(progress),
              ElementsAre("overall progress: 0 out of 2 tasks",
                          "1/2: preparing: pulling 198.18.0.101:5000/web:1: 1 of 2 layers, 1.2 MB",
                          "2/2: preparing"));
  EXPECT_THAT(progress.failures, IsEmpty());
}

TEST(ServiceProgressTest, AFailedPullIsAFailureWithTheRegistrysWords) {
  auto service = replicatedService("web", 1);
  service.spec.restartPolicy.condition = "none";
  api::Task failed = serviceTask(service, "t1", 1, "failed");
  failed.message = "pull 198.18.0.101:5000/web:9: manifest unknown";
  std::vector<api::Task> tasks = {failed};

  auto progress = computeProgress(service, tasks);

  EXPECT_FALSE(progress.converged);
  ASSERT_EQ(progress.failures.size(), 1U);
  EXPECT_THAT(progress.failures[0], HasSubstr("pull 198.18.0.101:5000/web:9: manifest unknown"));
}

TEST(ServiceProgressTest, NotConvergedWhileASlotIsPendingOrHasNoTask) {
  auto service = replicatedService("web", 3);
  std::vector<api::Task> tasks = {serviceTask(service, "t1", 1, "running"),
                                  serviceTask(service, "t2", 2, "pending")};

  auto progress = computeProgress(service, tasks);

  EXPECT_FALSE(progress.converged);
  EXPECT_THAT(progressLines(progress), ElementsAre("overall progress: 1 out of 3 tasks",
                                                   "1/3: running", "2/3: pending", "3/3: new"));
  EXPECT_THAT(progress.failures, IsEmpty());
}

TEST(ServiceProgressTest, OtherServicesTasksAreIgnored) {
  auto service = replicatedService("web", 1);
  auto other = replicatedService("db", 1);
  std::vector<api::Task> tasks = {serviceTask(other, "t9", 1, "running")};

  auto progress = computeProgress(service, tasks);

  EXPECT_FALSE(progress.converged);
  EXPECT_EQ(progress.done, 0);
}

TEST(ServiceProgressTest, ATaskOfThePreviousVersionDoesNotCount) {
  auto service = replicatedService("web", 2, 2);
  auto old = serviceTask(service, "t1", 1, "running");
  old.specVersion = 1;
  std::vector<api::Task> tasks = {old, serviceTask(service, "t2", 2, "running")};

  auto progress = computeProgress(service, tasks);

  EXPECT_FALSE(progress.converged);
  EXPECT_THAT(progressLines(progress),
              ElementsAre("overall progress: 1 out of 2 tasks", "1/2: running (previous version)",
                          "2/2: running"));
}

TEST(ServiceProgressTest, TheNewTaskOfASlotIsShownOverTheOldOne) {
  auto service = replicatedService("web", 1, 2);
  auto old = serviceTask(service, "t1", 1, "running", 5000);
  old.specVersion = 1;
  old.desiredState = "shutdown";
  std::vector<api::Task> tasks = {old, serviceTask(service, "t2", 1, "pending", 100)};

  auto progress = computeProgress(service, tasks);

  EXPECT_THAT(progressLines(progress),
              ElementsAre("overall progress: 0 out of 1 tasks", "1/1: pending"));
}

TEST(ServiceProgressTest, ARunningTaskWithAHealthCheckMustBeHealthy) {
  auto service = replicatedService("web", 2);
  auto starting = serviceTask(service, "t1", 1, "running");
  starting.healthCheck = api::HealthCheck{};
  starting.health = "starting";
  auto healthy = serviceTask(service, "t2", 2, "running");
  healthy.healthCheck = api::HealthCheck{};
  healthy.health = "healthy";

  auto progress = computeProgress(service, {starting, healthy});

  EXPECT_FALSE(progress.converged);
  EXPECT_THAT(progressLines(progress),
              ElementsAre("overall progress: 1 out of 2 tasks", "1/2: starting", "2/2: running"));
}

TEST(ServiceProgressTest, ATaskAboveTheReplicasThatStillRunsBlocksConvergence) {
  auto service = replicatedService("web", 1);
  std::vector<api::Task> tasks = {serviceTask(service, "t1", 1, "running"),
                                  serviceTask(service, "t2", 2, "running")};

  EXPECT_FALSE(computeProgress(service, tasks).converged);

  tasks[1].desiredState = "shutdown";
  tasks[1].state = "shutdown";
  EXPECT_TRUE(computeProgress(service, tasks).converged);
}

TEST(ServiceProgressTest, ScaledToZeroConvergesWhenNothingRuns) {
  auto service = replicatedService("web", 0);

  auto progress = computeProgress(service, {});

  EXPECT_TRUE(progress.converged);
  EXPECT_THAT(progressLines(progress), ElementsAre("overall progress: 0 out of 0 tasks"));
}

TEST(ServiceProgressTest, ASlotWhoseTasksFailedThreeTimesCannotConverge) {
  auto service = replicatedService("web", 2);
  std::vector<api::Task> tasks = {
      serviceTask(service, "ok", 1, "running"),
      endedTask(service, "f1", 2, "failed", "exec: \"nope\": not found", 3000),
      endedTask(service, "f2", 2, "failed", "exit code 127", 2000),
      endedTask(service, "f3", 2, "failed", "exit code 127", 1000),
      serviceTask(service, "f4", 2, "pending", 500)};

  auto progress = computeProgress(service, tasks);

  EXPECT_FALSE(progress.converged);
  EXPECT_THAT(progress.failures, ElementsAre("web.2.f3: exit code 127", "web.2.f2: exit code 127",
                                             "web.2.f1: exec: \"nope\": not found"));
}

TEST(ServiceProgressTest, TwoFailuresAreNotYetHopeless) {
  auto service = replicatedService("web", 1);
  std::vector<api::Task> tasks = {endedTask(service, "f1", 1, "failed", "boom", 3000),
                                  endedTask(service, "f2", 1, "failed", "boom", 2000),
                                  serviceTask(service, "t3", 1, "pending", 500)};

  EXPECT_THAT(computeProgress(service, tasks).failures, IsEmpty());
}

TEST(ServiceProgressTest, FailuresOfASlotThatRunsAgainAreHistory) {
  auto service = replicatedService("web", 1);
  std::vector<api::Task> tasks = {endedTask(service, "f1", 1, "failed", "boom", 4000),
                                  endedTask(service, "f2", 1, "failed", "boom", 3000),
                                  endedTask(service, "f3", 1, "failed", "boom", 2000),
                                  serviceTask(service, "t4", 1, "running", 500)};

  auto progress = computeProgress(service, tasks);

  EXPECT_TRUE(progress.converged);
  EXPECT_THAT(progress.failures, IsEmpty());
}

TEST(ServiceProgressTest, RestartConditionNoneMakesOneFailureFinal) {
  auto service = replicatedService("web", 1);
  service.spec.restartPolicy.condition = "none";
  std::vector<api::Task> tasks = {endedTask(service, "f1", 1, "failed", "boom", 1000)};

  EXPECT_THAT(computeProgress(service, tasks).failures, ElementsAre("web.1.f1: boom"));
}

TEST(ServiceProgressTest, OnFailureAfterACleanExitIsFinal) {
  auto service = replicatedService("web", 1);
  service.spec.restartPolicy.condition = "on-failure";
  auto exited = endedTask(service, "e1", 1, "exited", "", 1000);
  exited.exitCode = 0;

  EXPECT_THAT(computeProgress(service, {exited}).failures, ElementsAre("web.1.e1: exited"));
}

TEST(ServiceProgressTest, MaxAttemptsWithoutAWindowEndsSooner) {
  auto service = replicatedService("web", 1);
  service.spec.restartPolicy.maxAttempts = 1;
  std::vector<api::Task> tasks = {endedTask(service, "f1", 1, "failed", "", 2000),
                                  endedTask(service, "f2", 1, "failed", "", 1000)};

  EXPECT_THAT(computeProgress(service, tasks).failures,
              ElementsAre("web.1.f2: exit code 1", "web.1.f1: exit code 1"));
}

TEST(ServiceProgressTest, TasksThatEndedBeforeTheChangeAreNotCounted) {
  auto service = replicatedService("web", 1);
  std::vector<api::Task> tasks = {endedTask(service, "f1", 1, "failed", "boom", 9000),
                                  endedTask(service, "f2", 1, "failed", "boom", 8000),
                                  endedTask(service, "f3", 1, "failed", "boom", 1000),
                                  serviceTask(service, "t4", 1, "pending", 500)};

  auto progress = computeProgress(service, tasks, {"f1", "f2"});

  EXPECT_THAT(progress.failures, IsEmpty());
}

TEST(ServiceProgressTest, GlobalCountsTheNodesThatShouldRunIt) {
  auto service = globalService("agent");
  std::vector<api::Task> tasks = {serviceTask(service, "a", 0, "running", 1000, "h1"),
                                  serviceTask(service, "b", 0, "starting", 1000, "h2"),
                                  serviceTask(service, "c", 0, "running", 1000, "h3")};
  tasks[2].desiredState = "shutdown";  // its node no longer matches: not counted
  tasks[2].state = "shutdown";

  auto progress = computeProgress(service, tasks);

  EXPECT_FALSE(progress.converged);
  EXPECT_THAT(progressLines(progress),
              ElementsAre("overall progress: 1 out of 2 tasks", "h1: running", "h2: starting"));

  tasks[1].state = "running";
  EXPECT_TRUE(computeProgress(service, tasks).converged);
}

TEST(ServiceProgressTest, GlobalNodeWhoseTaskFailedStaysCounted) {
  auto service = globalService("agent");
  std::vector<api::Task> tasks = {serviceTask(service, "a", 0, "running", 1000, "h1"),
                                  endedTask(service, "b", 0, "failed", "boom", 1000, "h2")};

  auto progress = computeProgress(service, tasks);

  EXPECT_FALSE(progress.converged);
  EXPECT_EQ(progress.total, 2);
  EXPECT_THAT(progressLines(progress),
              ElementsAre("overall progress: 1 out of 2 tasks", "h1: running", "h2: failed: boom"));
}

TEST(ServiceProgressTest, GlobalWithoutAnyTaskIsNotConverged) {
  EXPECT_FALSE(computeProgress(globalService("agent"), {}).converged);
}

std::vector<api::Task> runningWeb(const api::Service& service) {
  return {serviceTask(service, "t1", 1, "running")};
}

TEST(ProgressWatchTest, ConvergesAfterStayingConvergedForTheVerifyPeriod) {
  auto service = replicatedService("web", 1);
  ProgressWatch watch(ProgressTimings{.verifyMs = 1000, .placementGraceMs = 5000});

  EXPECT_EQ(watch.observe(service, {}, 0).phase, ProgressPhase::Watching);
  EXPECT_EQ(watch.observe(service, runningWeb(service), 200).phase, ProgressPhase::Verifying);
  EXPECT_EQ(watch.observe(service, runningWeb(service), 1199).phase, ProgressPhase::Verifying);
  EXPECT_EQ(watch.observe(service, runningWeb(service), 1200).phase, ProgressPhase::Converged);
}

TEST(ProgressWatchTest, ALapseRestartsTheVerifyPeriod) {
  auto service = replicatedService("web", 1);
  ProgressWatch watch(ProgressTimings{.verifyMs = 1000, .placementGraceMs = 5000});

  EXPECT_EQ(watch.observe(service, runningWeb(service), 0).phase, ProgressPhase::Verifying);
  EXPECT_EQ(watch.observe(service, {}, 800).phase, ProgressPhase::Watching);
  EXPECT_EQ(watch.observe(service, runningWeb(service), 1000).phase, ProgressPhase::Verifying);
  EXPECT_EQ(watch.observe(service, runningWeb(service), 1900).phase, ProgressPhase::Verifying);
  EXPECT_EQ(watch.observe(service, runningWeb(service), 2000).phase, ProgressPhase::Converged);
}

TEST(ProgressWatchTest, APlacementProblemFailsAfterTheGracePeriod) {
  auto service = replicatedService("web", 1);
  service.placementProblem = "no suitable node (constraint node.labels.zone==a matches none)";
  ProgressWatch watch(ProgressTimings{.verifyMs = 1000, .placementGraceMs = 5000});

  EXPECT_EQ(watch.observe(service, {}, 1000).phase, ProgressPhase::Watching);
  EXPECT_EQ(watch.observe(service, {}, 5999).phase, ProgressPhase::Watching);
  auto step = watch.observe(service, {}, 6000);

  EXPECT_EQ(step.phase, ProgressPhase::Failed);
  EXPECT_THAT(step.snapshot.failures,
              ElementsAre("web: no suitable node (constraint node.labels.zone==a matches none)"));
}

TEST(ProgressWatchTest, APlacementProblemThatClearsIsForgotten) {
  auto service = replicatedService("web", 1);
  service.placementProblem = "no ready node";
  ProgressWatch watch(ProgressTimings{.verifyMs = 1000, .placementGraceMs = 5000});

  watch.observe(service, {}, 0);
  service.placementProblem.clear();
  watch.observe(service, {}, 3000);
  service.placementProblem = "no ready node";

  EXPECT_EQ(watch.observe(service, {}, 6000).phase, ProgressPhase::Watching);
}

TEST(ProgressWatchTest, FailedSlotsFailTheWatchAtOnce) {
  auto service = replicatedService("web", 1);
  service.spec.restartPolicy.condition = "none";
  ProgressWatch watch;

  auto step = watch.observe(service, {endedTask(service, "f1", 1, "failed", "boom", 100)}, 0);

  EXPECT_EQ(step.phase, ProgressPhase::Failed);
}

TEST(ProgressWatchTest, TheBaselinesEndedTasksAreHistory) {
  auto service = replicatedService("web", 1);
  service.spec.restartPolicy.condition = "none";
  std::vector<api::Task> before = {endedTask(service, "f1", 1, "failed", "boom", 9000)};
  ProgressWatch watch;
  watch.setBaseline(before);

  auto step = watch.observe(service, before, 0);

  EXPECT_EQ(step.phase, ProgressPhase::Watching);
}

TEST(ProgressStepLinesTest, AddsTheVerifyLine) {
  ProgressTimings timings;
  ProgressStep step;
  step.snapshot.total = 1;
  step.snapshot.done = 1;
  step.snapshot.slots = {{"1/1", "running", true}};

  step.phase = ProgressPhase::Verifying;
  EXPECT_THAT(progressStepLines(step, timings),
              ElementsAre("overall progress: 1 out of 1 tasks", "1/1: running",
                          "verify: Waiting 1 second to verify that tasks are stable..."));
  step.phase = ProgressPhase::Converged;
  EXPECT_THAT(progressStepLines(step, timings),
              ElementsAre("overall progress: 1 out of 1 tasks", "1/1: running",
                          "verify: Service converged"));
}

TEST(ProgressPrinterTest, OffATerminalPrintsOnlyChangedLines) {
  std::ostringstream out;
  ProgressPrinter printer(out, false);

  printer.show({"overall progress: 0 out of 2 tasks", "1/2: pending", "2/2: pending"});
  printer.show({"overall progress: 0 out of 2 tasks", "1/2: pending", "2/2: pending"});
  printer.show({"overall progress: 1 out of 2 tasks", "1/2: running", "2/2: pending"});

  EXPECT_EQ(out.str(),
            "overall progress: 0 out of 2 tasks\n1/2: pending\n2/2: pending\n"
            "overall progress: 1 out of 2 tasks\n1/2: running\n");
}

TEST(ProgressPrinterTest, OnATerminalRedrawsInPlace) {
  std::ostringstream out;
  ProgressPrinter printer(out, true);

  printer.show({"a", "b"});
  printer.show({"a", "b"});
  printer.show({"a", "c", "d"});

  EXPECT_EQ(out.str(), "a\nb\n\x1b[2A\r\x1b[Ja\nc\nd\n");
}

}  // namespace
}  // namespace overmesh::cli
