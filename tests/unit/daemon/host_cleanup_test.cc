// cleanHost() through fakes of its two seams (tests/support/fake_host_objects.h and
// fake_runtime.h): what it removes, in which order, and how failures are reported.

#include "daemon/host_cleanup.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "daemon/cleanup_command.h"
#include "support/fake_host_objects.h"
#include "support/fake_runtime.h"

namespace overmesh::daemon {
namespace {

using ::overmesh::testing::FakeHostObjects;
using ::overmesh::testing::FakeTaskRuntime;
using namespace std::chrono_literals;

// A host where a node ran task t1 on overlay VNI 4096, with a gateway and a published
// port, beside objects of other owners.
void populate(FakeHostObjects& kernel, FakeTaskRuntime& tasks) {
  runtime::TaskSpec spec;
  spec.taskId = "t1";
  ASSERT_TRUE(tasks.start(spec));
  tasks.calls.clear();
  kernel.namespaces = {"om-t-t1", "other-ns", "om-other"};
  kernel.links = {{"lo", ""},
                  {"eth0", "veth"},
                  {"docker0", "bridge"},
                  {"omv0000abcd0", "veth"},
                  {"omg0000abcd", "veth"},
                  {"omvx4096", "vxlan"},
                  {"ombr4096", "bridge"},
                  {"omgwbridge", "bridge"}};
  kernel.tables = {{"ip", "overmesh_mesh"},
                   {"ip", "overmesh_gw"},
                   {"inet", "overmesh_underlay"},
                   {"inet", "filter"}};
}

TEST(HostCleanupTest, RemovesOursInOrderAndLeavesTheRest) {
  FakeHostObjects kernel;
  FakeTaskRuntime tasks;
  populate(kernel, tasks);
  bool tasksGoneFirst = true;
  kernel.observer = [&](const std::string&) {
    tasksGoneFirst = tasksGoneFirst && tasks.tasks.empty();
  };

  auto report = cleanHost(kernel, tasks, dataplane::OwnedNames{}, 1500ms);

  EXPECT_TRUE(report.failed.empty()) << ::testing::PrintToString(report.failed);
  EXPECT_EQ(tasks.calls, (std::vector<std::string>{"stop t1", "remove t1"}));
  ASSERT_EQ(tasks.stops.size(), 1u);
  EXPECT_EQ(tasks.stops[0].grace, 1500ms);
  EXPECT_TRUE(tasksGoneFirst) << "a kernel object was removed before the tasks";
  EXPECT_EQ(kernel.calls,
            (std::vector<std::string>{
                "delete namespace om-t-t1", "delete link omg0000abcd", "delete link omv0000abcd0",
                "delete link omvx4096", "delete link ombr4096", "delete link omgwbridge",
                "delete table ip overmesh_mesh", "delete table ip overmesh_gw",
                "delete table inet overmesh_underlay"}));
  EXPECT_EQ(kernel.namespaces, (std::set<std::string>{"other-ns", "om-other"}));
  ASSERT_EQ(kernel.links.size(), 3u);
  EXPECT_EQ(kernel.tables, (std::set<dataplane::NftTableName>{{"inet", "filter"}}));
  EXPECT_EQ(report.removed.size(), 10u);
}

TEST(HostCleanupTest, TasksStopTogetherBeforeAnyKernelObjectGoes) {
  FakeHostObjects kernel;
  FakeTaskRuntime tasks;
  kernel.namespaces = {"om-t-a", "om-t-b", "om-t-c"};
  for (const char* id : {"a", "b", "c"}) {
    runtime::TaskSpec spec;
    spec.taskId = id;
    ASSERT_TRUE(tasks.start(spec));
  }
  tasks.holdStops();
  HostCleanupReport report;
  std::thread cleaning([&] { report = cleanHost(kernel, tasks, dataplane::OwnedNames{}, 0ms); });
  // All three stops are in progress at once, and nothing else has been removed meanwhile.
  bool together = tasks.waitForCall("stop a", 5s) && tasks.waitForCall("stop b", 5s) &&
                  tasks.waitForCall("stop c", 5s);
  bool kernelUntouched = kernel.calls.empty();
  tasks.releaseStops();
  cleaning.join();
  EXPECT_TRUE(together);
  EXPECT_TRUE(kernelUntouched);
  EXPECT_TRUE(tasks.tasks.empty());
  EXPECT_EQ(report.removed.size(), 6u) << ::testing::PrintToString(report.removed);
}

TEST(HostCleanupTest, ASecondRunFindsNothing) {
  FakeHostObjects kernel;
  FakeTaskRuntime tasks;
  populate(kernel, tasks);
  cleanHost(kernel, tasks, dataplane::OwnedNames{}, 0ms);
  kernel.calls.clear();

  auto again = cleanHost(kernel, tasks, dataplane::OwnedNames{}, 0ms);

  EXPECT_TRUE(again.nothingFound());
  EXPECT_TRUE(kernel.calls.empty());
  EXPECT_EQ(formatCleanupReport(again), "Nothing of overmesh's was left on this host.\n");
}

TEST(HostCleanupTest, AFailedRemovalIsNamedAndTheRestGoesOn) {
  FakeHostObjects kernel;
  FakeTaskRuntime tasks;
  populate(kernel, tasks);
  kernel.failing = {"ombr4096", "overmesh_gw"};

  auto report = cleanHost(kernel, tasks, dataplane::OwnedNames{}, 0ms);

  EXPECT_EQ(report.failed,
            (std::vector<std::string>{"link ombr4096: ombr4096 is busy",
                                      "nftables table ip overmesh_gw: overmesh_gw is busy"}));
  EXPECT_EQ(report.removed.size(), 8u);
  EXPECT_FALSE(kernel.tables.contains({"inet", "overmesh_underlay"}));
  std::string text = formatCleanupReport(report);
  EXPECT_NE(text.find("could not remove link ombr4096: ombr4096 is busy\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("8 removed, 2 could not be removed."), std::string::npos) << text;
}

TEST(HostCleanupTest, AListingThatFailsIsReportedAndTheTasksStillGo) {
  FakeHostObjects kernel;
  FakeTaskRuntime tasks;
  populate(kernel, tasks);
  kernel.listFails = true;

  auto report = cleanHost(kernel, tasks, dataplane::OwnedNames{}, 0ms);

  EXPECT_EQ(report.failed,
            (std::vector<std::string>{"list network namespaces: cannot read /run/netns",
                                      "list links: netlink refused",
                                      "list nftables tables: nft refused"}));
  EXPECT_TRUE(tasks.tasks.empty());
  EXPECT_TRUE(kernel.calls.empty());
}

TEST(HostCleanupTest, OnlyTheNamespacesOfThisNodesPrefixGo) {
  FakeHostObjects kernel;
  FakeTaskRuntime tasks;
  kernel.namespaces = {"lab-h1-t-a1", "lab-h2-t-a2", "lab-h2-x"};
  dataplane::OwnedNames names;
  names.netnsPrefix = "lab-h2-";

  auto report = cleanHost(kernel, tasks, names, 0ms);

  EXPECT_EQ(report.removed, (std::vector<std::string>{"network namespace lab-h2-t-a2"}));
  EXPECT_EQ(kernel.namespaces, (std::set<std::string>{"lab-h1-t-a1", "lab-h2-x"}));
}

}  // namespace
}  // namespace overmesh::daemon
