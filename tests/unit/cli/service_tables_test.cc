#include "cli/service_tables.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <ostream>
#include <sstream>
#include <string>
#include <vector>

#include "cli/service_tasks.h"
#include "support/service_fixtures.h"

namespace overmesh::cli {
namespace {

using overmesh::testing::endedTask;
using overmesh::testing::globalService;
using overmesh::testing::kFixedNowMs;
using overmesh::testing::replicatedService;
using overmesh::testing::serviceTask;
using ::testing::ElementsAre;

struct HumanCase {
  std::int64_t ms;
  std::string expected;
};

// Names the case in gtest output instead of dumping its bytes.
void PrintTo(const HumanCase& c, std::ostream* os) { *os << c.ms << "ms"; }

class HumanDurationTest : public ::testing::TestWithParam<HumanCase> {};

TEST_P(HumanDurationTest, ReadsLikeDocker) {
  EXPECT_EQ(humanDuration(GetParam().ms), GetParam().expected);
}

constexpr std::int64_t kHour = 3'600'000;

INSTANTIATE_TEST_SUITE_P(
    Durations, HumanDurationTest,
    ::testing::Values(HumanCase{-5000, "Less than a second"}, HumanCase{999, "Less than a second"},
                      HumanCase{1000, "1 second"}, HumanCase{3500, "3 seconds"},
                      HumanCase{59'999, "59 seconds"}, HumanCase{60'000, "About a minute"},
                      HumanCase{119'999, "About a minute"}, HumanCase{120'000, "2 minutes"},
                      HumanCase{59 * 60'000, "59 minutes"}, HumanCase{kHour, "About an hour"},
                      HumanCase{kHour + kHour / 2, "2 hours"}, HumanCase{47 * kHour, "47 hours"},
                      HumanCase{48 * kHour, "2 days"}, HumanCase{14 * 24 * kHour, "2 weeks"},
                      HumanCase{60 * 24 * kHour, "2 months"},
                      HumanCase{2 * 365 * 24 * kHour, "2 years"}));

TEST(ServiceListRowTest, ReplicasCountsRunningTasksThatShouldRunAgainstTheReplicas) {
  auto service = replicatedService("web", 3);
  auto stopping = serviceTask(service, "t4", 4, "running");
  stopping.desiredState = "shutdown";  // scaled down: not counted
  std::vector<api::Task> tasks = {serviceTask(service, "t1", 1, "running"),
                                  serviceTask(service, "t2", 2, "running"),
                                  serviceTask(service, "t3", 3, "pending"), stopping,
                                  serviceTask(replicatedService("db", 1), "x", 1, "running")};

  EXPECT_THAT(serviceListRow(service, tasks),
              ElementsAre("webserviceid", "web", "replicated", "2/3", "-", "httpd -f -p 80", ""));
}

api::PortConfig publishedPort(std::int64_t published, std::int64_t target,
                              std::string protocol = "tcp", std::string mode = "ingress") {
  return api::PortConfig{std::move(protocol), target, published, std::move(mode)};
}

TEST(ServiceListRowTest, PortsAreTheLastColumn) {
  auto service = replicatedService("web", 1);
  service.ports = {publishedPort(8080, 80), publishedPort(5353, 53, "udp")};

  EXPECT_THAT(serviceListRow(service, {}),
              ElementsAre("webserviceid", "web", "replicated", "0/1", "-", "httpd -f -p 80",
                          "*:8080->80/tcp, *:5353->53/udp"));
}

TEST(PublishedPortsTextTest, GroupsRunsAsDockerDoes) {
  auto service = replicatedService("web", 1);
  // Docker's own example (its formatter test), without sctp, in a scrambled order.
  service.ports = {
      publishedPort(81, 80),        publishedPort(80, 80),        publishedPort(95, 95),
      publishedPort(90, 90),        publishedPort(91, 91),        publishedPort(92, 92),
      publishedPort(93, 93),        publishedPort(94, 94),        publishedPort(95, 95, "udp"),
      publishedPort(90, 90, "udp"), publishedPort(96, 96, "udp"), publishedPort(91, 91, "udp"),
      publishedPort(92, 92, "udp"), publishedPort(93, 93, "udp"), publishedPort(94, 94, "udp"),
      publishedPort(60, 60),        publishedPort(61, 61),        publishedPort(62, 61)};

  EXPECT_EQ(publishedPortsText(service),
            "*:60-61->60-61/tcp, *:62->61/tcp, *:80-81->80/tcp, *:90-95->90-95/tcp, "
            "*:90-96->90-96/udp");
}

TEST(PublishedPortsTextTest, ARunToOneTargetDoesNotTakeTheNextTarget) {
  auto service = replicatedService("web", 1);
  service.ports = {publishedPort(80, 80), publishedPort(81, 80), publishedPort(82, 81),
                   publishedPort(84, 90)};

  EXPECT_EQ(publishedPortsText(service), "*:80-81->80/tcp, *:82->81/tcp, *:84->90/tcp");
}

TEST(PublishedPortsTextTest, HostModePortsAreNotListedAsInDocker) {
  auto service = replicatedService("web", 1);
  service.ports = {publishedPort(8080, 80, "tcp", "host"), publishedPort(9090, 90)};

  EXPECT_EQ(publishedPortsText(service), "*:9090->90/tcp");
}

TEST(PublishedPortsTextTest, NoPortsNoText) {
  EXPECT_EQ(publishedPortsText(replicatedService("web", 1)), "");
}

TEST(PublishedPortsTextTest, TheDecidedPortsWinOverTheSpec) {
  auto service = replicatedService("web", 1);
  service.spec.ports = {publishedPort(0, 80)};
  service.ports = {publishedPort(30000, 80)};

  EXPECT_EQ(publishedPortsText(service), "*:30000->80/tcp");
}

TEST(PublishedPortsTextTest, WithoutDecidedPortsTheSpecShowsWhatIsKnown) {
  auto service = replicatedService("web", 1);
  service.spec.ports = {publishedPort(0, 80), publishedPort(8443, 443)};

  EXPECT_EQ(publishedPortsText(service), "*:8443->443/tcp");
}

TEST(ServiceListRowTest, GlobalDesiredIsTheTasksThatShouldRun) {
  auto service = globalService("agent");
  std::vector<api::Task> tasks = {serviceTask(service, "a", 0, "running", 1000, "h1"),
                                  serviceTask(service, "b", 0, "pending", 1000, "h2"),
                                  endedTask(service, "c", 0, "failed", "boom", 1000, "h3")};

  EXPECT_EQ(replicasText(service, tasks), "1/2");
}

TEST(ServicePsRowsTest, SlotsAscendingNewestFirstWithHistoryIndented) {
  auto service = replicatedService("web", 2);
  std::vector<api::Task> tasks = {
      endedTask(service, "old1abcdefghijkl", 1, "failed", "exit code 2", 60'000),
      serviceTask(service, "new2abcdefghijkl", 2, "running", 3000, "node2"),
      serviceTask(service, "new1abcdefghijkl", 1, "running", 5000),
      endedTask(service, "older1abcdefghij", 1, "failed", "exit code 2", 3 * 60'000)};

  auto rows = servicePsRows(service, tasks, kFixedNowMs, {});

  ASSERT_EQ(rows.size(), 4U);
  EXPECT_THAT(rows[0], ElementsAre("new1abcdefgh", "web.1", "-", "httpd -f -p 80", "node1",
                                   "Running", "Running 5 seconds ago", ""));
  EXPECT_THAT(rows[1], ElementsAre("old1abcdefgh", " \\_ web.1", "-", "httpd -f -p 80", "node1",
                                   "Shutdown", "Failed About a minute ago", "\"exit code 2\""));
  EXPECT_THAT(rows[2], ElementsAre("older1abcdef", " \\_ web.1", "-", "httpd -f -p 80", "node1",
                                   "Shutdown", "Failed 3 minutes ago", "\"exit code 2\""));
  EXPECT_THAT(rows[3], ElementsAre("new2abcdefgh", "web.2", "-", "httpd -f -p 80", "node2",
                                   "Running", "Running 3 seconds ago", ""));
}

TEST(PrintServicePsTest, OneTableOverEveryServiceOrOnlyTaskIdsWhenQuiet) {
  auto web = replicatedService("web", 1);
  auto db = replicatedService("db", 1);
  std::vector<api::Task> tasks = {serviceTask(web, "webtask1abcdefgh", 1, "running", 5000),
                                  serviceTask(db, "dbtask01abcdefgh", 1, "running", 3000)};

  std::ostringstream table;
  printServicePs(table, {web, db}, tasks, kFixedNowMs, {}, false);
  std::istringstream lines(table.str());
  std::vector<std::string> read;
  for (std::string line; std::getline(lines, line);) {
    read.push_back(line);
  }
  ASSERT_EQ(read.size(), 3U) << table.str();
  EXPECT_THAT(read[0], ::testing::StartsWith("ID "));
  EXPECT_THAT(read[0], ::testing::HasSubstr("DESIRED STATE"));
  EXPECT_THAT(read[1], ::testing::StartsWith("webtask1abcd"));
  EXPECT_THAT(read[2], ::testing::StartsWith("dbtask01abcd")) << "services in the order given";

  std::ostringstream quiet;
  printServicePs(quiet, {web, db}, tasks, kFixedNowMs, {}, true);
  EXPECT_EQ(quiet.str(), "webtask1abcd\ndbtask01abcd\n");
}

TEST(PrintServiceListTest, AHeaderAndOneRowPerServiceInTheOrderGiven) {
  auto web = replicatedService("web", 1);
  auto db = replicatedService("db", 1);
  std::ostringstream out;
  printServiceList(out, {web, db}, {});
  std::istringstream lines(out.str());
  std::vector<std::string> read;
  for (std::string line; std::getline(lines, line);) {
    read.push_back(line);
  }
  ASSERT_EQ(read.size(), 3U) << out.str();
  EXPECT_THAT(read[0], ::testing::StartsWith("ID "));
  EXPECT_THAT(read[0], ::testing::EndsWith("PORTS"));
  EXPECT_THAT(read[1], ::testing::HasSubstr(" web "));
  EXPECT_THAT(read[2], ::testing::HasSubstr(" db "));
}

TEST(ServicePsRowsTest, LongErrorsAndCommandsAreCutUnlessNoTrunc) {
  auto service = replicatedService("web", 1);
  service.spec.command = {"sh", "-c", "while true; do echo hello from a long command; done"};
  auto task = endedTask(service, "abcdefghijklmnopq", 1, "failed",
                        "starting container process caused: exec: not found", 1000);
  task.command = service.spec.command;

  auto cut = servicePsRows(service, {task}, kFixedNowMs, {});
  auto full = servicePsRows(service, {task}, kFixedNowMs, PsOptions{.noTrunc = true});

  ASSERT_EQ(cut.size(), 1U);
  EXPECT_EQ(cut[0][0], "abcdefghijkl");
  EXPECT_EQ(cut[0][3], "sh -c while true; do echo hello from ...");
  EXPECT_EQ(cut[0][7], "\"starting container process ...\"");
  ASSERT_EQ(full.size(), 1U);
  EXPECT_EQ(full[0][0], "abcdefghijklmnopq");
  EXPECT_EQ(full[0][1], "web.1.abcdefghijklmnopq");
  EXPECT_EQ(full[0][3], "sh -c while true; do echo hello from a long command; done");
  EXPECT_EQ(full[0][7], "\"starting container process caused: exec: not found\"");
}

TEST(ServicePsRowsTest, AFailedTaskWithoutMessageShowsItsExitCode) {
  auto service = replicatedService("web", 1);
  auto task = endedTask(service, "t1", 1, "exited", "", 1000);
  task.exitCode = 3;

  EXPECT_EQ(servicePsRows(service, {task}, kFixedNowMs, {})[0][7], "\"non-zero exit (3)\"");
}

TEST(ServicePsRowsTest, DesiredStateFilterKeepsMatchingTasksAndIndentsWhatRemains) {
  auto service = replicatedService("web", 1);
  std::vector<api::Task> tasks = {serviceTask(service, "t2", 1, "running", 1000),
                                  endedTask(service, "t1", 1, "failed", "boom", 5000)};

  auto running = servicePsRows(service, tasks, kFixedNowMs, PsOptions{.desiredState = "running"});
  auto shutdown = servicePsRows(service, tasks, kFixedNowMs, PsOptions{.desiredState = "shutdown"});

  ASSERT_EQ(running.size(), 1U);
  EXPECT_EQ(running[0][0], "t2");
  ASSERT_EQ(shutdown.size(), 1U);
  EXPECT_EQ(shutdown[0][1], "web.1");
}

TEST(ServicePsRowsTest, GlobalTasksAreNamedByNodeAndGroupedPerNode) {
  auto service = globalService("agent");
  std::vector<api::Task> tasks = {serviceTask(service, "b", 0, "running", 1000, "h2"),
                                  serviceTask(service, "a", 0, "running", 1000, "h1"),
                                  endedTask(service, "a0", 0, "failed", "boom", 9000, "h1")};

  auto rows = servicePsRows(service, tasks, kFixedNowMs, {});

  ASSERT_EQ(rows.size(), 3U);
  EXPECT_EQ(rows[0][1], "agent.h1nodeid0000");
  EXPECT_EQ(rows[1][1], " \\_ agent.h1nodeid0000");
  EXPECT_EQ(rows[2][1], "agent.h2nodeid0000");
}

TEST(ServicePsRowsTest, ATaskWithoutATimeShowsItsStateAlone) {
  auto service = replicatedService("web", 1);
  auto task = serviceTask(service, "t1", 1, "pending");
  task.updatedAtMs = 0;

  EXPECT_EQ(servicePsRows(service, {task}, kFixedNowMs, {})[0][6], "Pending");
}

TEST(ImageTextTest, ShowsTheFamiliarNameWithoutDigestUnlessNoTrunc) {
  api::ContainerSpec container;
  container.image = "docker.io/library/nginx:1.25@sha256:" + std::string(64, 'a');

  EXPECT_EQ(imageText(container, false), "nginx:1.25");
  EXPECT_EQ(imageText(container, true), container.image);
}

TEST(ImageTextTest, AProcessTaskShowsADash) { EXPECT_EQ(imageText({}, false), "-"); }

TEST(ServiceListRowTest, ImageIsTheFamiliarReference) {
  auto service = replicatedService("web", 1);
  service.spec.command = {};
  service.spec.container.image = "198.18.0.101:5000/web:1@sha256:" + std::string(64, 'b');

  EXPECT_THAT(serviceListRow(service, {}), ElementsAre("webserviceid", "web", "replicated", "0/1",
                                                       "198.18.0.101:5000/web:1", "", ""));
}

TEST(ServicePsRowsTest, ImageColumnComesFromTheTask) {
  auto service = replicatedService("web", 1);
  auto task = serviceTask(service, "t1", 1, "running", 1000);
  task.container.image = "docker.io/user/app:2";

  EXPECT_EQ(servicePsRows(service, {task}, kFixedNowMs, {})[0][2], "user/app:2");
}

TEST(ServiceLogsTest, PrefixesEveryLineAndEndsTheLastOne) {
  auto service = replicatedService("web", 1);
  auto task = serviceTask(service, "abcdefghijklmnop", 1, "running", 1000, "host1");

  std::string prefix = logPrefix(service, task);

  EXPECT_EQ(prefix, "web.1.abcdefghijkl@host1");
  EXPECT_EQ(prefixLogLines(prefix, prefix.size() + 2, "one\n\ntwo"),
            "web.1.abcdefghijkl@host1      | one\n"
            "web.1.abcdefghijkl@host1      | \n"
            "web.1.abcdefghijkl@host1      | two\n");
  EXPECT_EQ(prefixLogLines(prefix, 0, ""), "");
}

TEST(ServiceTasksTest, NewerTaskOrdersByCreationThenUpdateThenId) {
  auto service = replicatedService("web", 1);
  auto a = serviceTask(service, "a", 1, "running", 1000);
  auto b = serviceTask(service, "b", 1, "running", 1000);

  EXPECT_TRUE(newerTask(b, a));
  EXPECT_FALSE(newerTask(a, b));
  a.updatedAtMs += 1;
  EXPECT_TRUE(newerTask(a, b));
  a.createdAt = "2026-11-25T12:00:00Z";
  b.createdAt = "2026-11-25T12:00:01Z";
  EXPECT_TRUE(newerTask(b, a)) << "creation comes before the last update";
}

// A host comes back and reports its old task shut down: that report is the latest update
// of the slot, and still the replacement that should run is the current task.
TEST(ServiceTasksTest, TheTaskDesiredRunningIsCurrentDespiteALateReportOfAnOldOne) {
  auto service = replicatedService("web", 1);
  auto old = endedTask(service, "old", 1, "shutdown", "node host1 is down", 10, "host1");
  old.createdAt = "2026-11-25T11:00:00Z";
  auto replacement = serviceTask(service, "new", 1, "running", 60'000, "host2");
  replacement.createdAt = "2026-11-25T11:30:00Z";
  ASSERT_GT(old.updatedAtMs, replacement.updatedAtMs);

  EXPECT_TRUE(newerTask(replacement, old));
  EXPECT_FALSE(newerTask(old, replacement));
  auto own = tasksOfService(service, {old, replacement});
  ASSERT_EQ(own.size(), 2u);
  EXPECT_EQ(own[0].id, "new");
  EXPECT_EQ(own[1].id, "old");

  // Even a replacement that is older by creation (a start-first leftover) comes first
  // while it should run.
  replacement.createdAt = "2026-11-25T10:00:00Z";
  EXPECT_EQ(tasksOfService(service, {old, replacement})[0].id, "new");
}

// Among tasks that should not run, the most recently created is shown first, whatever
// was reported last.
TEST(ServiceTasksTest, AmongEndedTasksTheLastCreatedComesFirst) {
  auto service = replicatedService("web", 1);
  auto first = endedTask(service, "first", 1, "shutdown", "node down", 5, "host1");
  first.createdAt = "2026-11-25T11:00:00Z";
  auto second = endedTask(service, "second", 1, "failed", "exit code 1", 50'000, "host2");
  second.createdAt = "2026-11-25T11:10:00Z";
  auto own = tasksOfService(service, {first, second});
  ASSERT_EQ(own.size(), 2u);
  EXPECT_EQ(own[0].id, "second");
}

}  // namespace
}  // namespace overmesh::cli
