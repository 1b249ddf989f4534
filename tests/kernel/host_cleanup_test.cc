// Kernel tier: the host clean-up (daemon/host_cleanup.h over LinuxHostObjects) in a
// namespace that stands for a node: it holds everything a node makes (overlay devices,
// gateway bridge, a task's veth into a task namespace, our three tables) beside objects
// of other owners, some with names that look like ours. The clean-up must remove exactly
// ours, and a second run must find nothing. The namespaces (omhc<pid>-<n>…) are deleted in
// TearDown, also when the test fails; nothing touches the machine's own.

#include "daemon/host_cleanup.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "dataplane/linux/linux_host_objects.h"
#include "dataplane/linux/netlink.h"
#include "dataplane/linux/netns.h"
#include "dataplane/linux/nftables.h"
#include "support/fake_runtime.h"
#include "support/ip_helpers.h"
#include "support/process.h"

namespace overmesh::daemon {
namespace {

using dataplane::kernel::Netlink;
using dataplane::kernel::Nftables;
using namespace std::chrono_literals;

class HostCleanupKernelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!overmesh::testing::canUseNamespaces()) {
      GTEST_SKIP() << "needs root to create network namespaces";
    }
    static int counter = 0;
    node_ = fmt::format("omhc{}-{}", getpid(), ++counter);
    names_.netnsPrefix = node_ + "-";
    taskNs_ = names_.netnsPrefix + "t-t1";
    foreignNs_ = names_.netnsPrefix + "x";  // this node's prefix, but not a task's name
    for (const auto& ns : {node_, taskNs_, foreignNs_}) {
      auto made = dataplane::kernel::createNamespace(ns);
      ASSERT_TRUE(made) << made.error().message;
      made_.push_back(ns);
    }
  }

  void TearDown() override {
    for (const auto& ns : made_) {
      EXPECT_TRUE(dataplane::kernel::deleteNamespace(ns)) << ns;
    }
  }

  // What a node makes, and objects of other owners beside them.
  void populateNode() {
    auto host = Netlink::open(node_);
    ASSERT_TRUE(host) << host.error().message;
    ASSERT_TRUE(host->createBridge("ombr4096", 1450));
    ASSERT_TRUE(
        host->createVxlan("omvx4096", 4096, overmesh::testing::ip("198.18.93.1"), 4789, 1450));
    ASSERT_TRUE(host->setMaster("omvx4096", "ombr4096"));
    ASSERT_TRUE(host->createBridge("omgwbridge", 1500));
    auto taskFd = dataplane::kernel::openNamespace(taskNs_);
    ASSERT_TRUE(taskFd) << taskFd.error().message;
    ASSERT_TRUE(host->createVethPair("omv0000abcd0", "eth0", taskFd->get(), 1450));
    ASSERT_TRUE(host->createVethPair("omg0000abcd", "eth1", taskFd->get(), 1500));
    // Others': a bridge, a veth pair, and a VXLAN device named like one of our bridges.
    ASSERT_TRUE(host->createBridge("othbr0", 1500));
    ASSERT_TRUE(host->createVethPair("othv0", "othv1", -1, 1500));
    ASSERT_TRUE(host->createVxlan("ombr77", 77, overmesh::testing::ip("198.18.93.1"), 4789, 1500));

    auto nft = Nftables::open(node_);
    ASSERT_TRUE(nft) << nft.error().message;
    auto made = nft->run(
        "table ip overmesh_mesh { }\n"
        "table ip overmesh_gw { }\n"
        "table inet overmesh_underlay { }\n"
        "table ip keepme { }\n"
        "table inet overmesh_other { }\n"
        "table ip6 overmesh_gw { }\n");
    ASSERT_TRUE(made) << made.error().message;
  }

  HostCleanupReport cleanInNode(runtime::TaskRuntime& tasks) {
    auto report = dataplane::kernel::runInNamespace(node_, [&]() -> Result<HostCleanupReport> {
      dataplane::kernel::LinuxHostObjects kernel;
      return cleanHost(kernel, tasks, names_, 0ms);
    });
    EXPECT_TRUE(report) << report.error().message;
    return report.value_or(HostCleanupReport{});
  }

  std::set<std::string> linkNames() {
    auto host = Netlink::open(node_);
    EXPECT_TRUE(host) << host.error().message;
    std::set<std::string> names;
    if (auto links = host->listLinks()) {
      for (const auto& link : *links) {
        names.insert(link.name);
      }
    }
    return names;
  }

  std::set<std::string> tableNames() {
    auto tables = dataplane::kernel::runInNamespace(
        node_, [] { return dataplane::kernel::LinuxHostObjects().listTables(); });
    EXPECT_TRUE(tables) << tables.error().message;
    std::set<std::string> names;
    for (const auto& table : tables.value_or(std::vector<dataplane::NftTableName>{})) {
      names.insert(table.family + " " + table.name);
    }
    return names;
  }

  std::string node_;
  std::string taskNs_;
  std::string foreignNs_;
  dataplane::OwnedNames names_;
  std::vector<std::string> made_;
};

TEST_F(HostCleanupKernelTest, RemovesExactlyOursAndASecondRunFindsNothing) {
  populateNode();
  overmesh::testing::FakeTaskRuntime tasks;

  auto report = cleanInNode(tasks);

  EXPECT_TRUE(report.failed.empty()) << ::testing::PrintToString(report.failed);
  EXPECT_EQ(linkNames(), (std::set<std::string>{"lo", "othbr0", "othv0", "othv1", "ombr77"}));
  EXPECT_EQ(tableNames(),
            (std::set<std::string>{"ip keepme", "inet overmesh_other", "ip6 overmesh_gw"}));
  EXPECT_FALSE(dataplane::kernel::namespaceExists(taskNs_));
  EXPECT_TRUE(dataplane::kernel::namespaceExists(foreignNs_));
  EXPECT_TRUE(dataplane::kernel::namespaceExists(node_));
  // namespace, 2 veths, VXLAN, 2 bridges, 3 tables
  EXPECT_EQ(report.removed.size(), 9u) << ::testing::PrintToString(report.removed);

  auto again = cleanInNode(tasks);
  EXPECT_TRUE(again.nothingFound())
      << ::testing::PrintToString(again.removed) << ::testing::PrintToString(again.failed);
}

}  // namespace
}  // namespace overmesh::daemon
