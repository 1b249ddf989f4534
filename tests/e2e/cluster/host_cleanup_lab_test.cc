// Nothing of overmesh's is left on a host after `swarm leave`, or after `overmeshd cleanup`
// on a host whose daemon was killed with -9 (issue 14): a lab, an overlay network and a
// global service with a published port, so that every host has tasks, their namespaces
// and veths, the overlay devices, the gateway bridge and our three nftables tables. What
// is left is observed with `ip`, `nft` and `ip netns` inside the lab host, and the task
// processes through /proc.
//
// Run one:  ctest --test-dir BUILD -R HostCleanupLabTest   (as root)

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "support/image_lab.h"
#include "support/lab_session.h"

namespace overmesh::testing {
namespace {

using std::chrono::seconds;

constexpr auto kConverge = seconds(40);
constexpr int kPublished = 30080;

class HostCleanupLabTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!canUseNamespaces()) {
      GTEST_SKIP() << "needs root to create network namespaces";
    }
  }

  void TearDown() override {
    for (const auto& ns : foreignNamespaces_) {
      runCommand({"/usr/sbin/ip", "netns", "del", ns});
    }
    if (lab_ && HasFailure()) {
      std::cerr << lab_->logs();
    }
    lab_.reset();
  }

  void startLab(int hosts, int clients) {
    lab_ = std::make_unique<LabSession>("hcln");
    ASSERT_TRUE(lab_->up(hosts, "info", clients)) << lab_->error();
    hosts_ = hosts;
  }

  // A network and a global service publishing kPublished: one task on every host.
  void deployEverywhere() {
    auto net = lab_->cli(
        1, {"network", "create", "-d", "overlay", "--subnet", "10.0.61.0/24", "cleannet"});
    ASSERT_EQ(net.exitCode, 0) << net.err;
    auto created =
        lab_->cli(1, {"service", "create", "-d", "--name", "web", "--mode", "global", "--network",
                      "cleannet", "--publish", fmt::format("{}:80", kPublished), "--", "socat",
                      "TCP-LISTEN:80,fork,reuseaddr", "SYSTEM:echo hello"});
    ASSERT_EQ(created.exitCode, 0) << created.err;
    ASSERT_TRUE(eventually(
        [&] {
          int running = 0;
          for (const auto& task : lab_->json(1, {"ps"})) {
            running += task.value("state", "") == "running" ? 1 : 0;
          }
          return running == hosts_;
        },
        kConverge))
        << lab_->cli(1, {"service", "ps", "web"}).out;
  }

  // The links of ours in host `index`'s namespace (`ip -br link`, names before any '@').
  std::set<std::string> ourLinks(int index) {
    auto listed = lab_->exec(index, {"ip", "-br", "link"});
    EXPECT_EQ(listed.exitCode, 0) << listed.err;
    std::set<std::string> names;
    static const std::regex ours("^om(br|vx|v|g|gwbridge)[0-9a-f]*$");
    for (const auto& line : nonEmptyLines(listed.out)) {
      std::string name = line.substr(0, line.find_first_of(" @"));
      if (std::regex_match(name, ours)) {
        names.insert(name);
      }
    }
    return names;
  }
  // Every link name in host `index`'s namespace.
  std::set<std::string> allLinks(int index) {
    std::set<std::string> names;
    for (const auto& line : nonEmptyLines(lab_->exec(index, {"ip", "-br", "link"}).out)) {
      names.insert(line.substr(0, line.find_first_of(" @")));
    }
    return names;
  }
  // `nft list tables` in host `index`: "table ip overmesh_gw" lines.
  std::set<std::string> tables(int index) {
    auto listed = lab_->exec(index, {"nft", "list", "tables"});
    EXPECT_EQ(listed.exitCode, 0) << listed.err;
    auto lines = nonEmptyLines(listed.out);
    return std::set<std::string>(lines.begin(), lines.end());
  }
  std::set<std::string> ourTables(int index) {
    std::set<std::string> result;
    for (const auto& table : tables(index)) {
      if (table.find("overmesh_") != std::string::npos) {
        result.insert(table);
      }
    }
    return result;
  }
  // Host `index`'s task namespaces (`ip netns list`: /run/netns is shared by lab hosts).
  std::set<std::string> taskNamespaces(int index) {
    std::set<std::string> result;
    std::string prefix = lab_->hostNamespace(index) + "-t-";
    for (const auto& line : nonEmptyLines(runCommand({"/usr/sbin/ip", "netns", "list"}).out)) {
      std::string name = line.substr(0, line.find(' '));
      if (name.starts_with(prefix)) {
        result.insert(name);
      }
    }
    return result;
  }
  // Processes whose command line names host `index`'s task directories (the shims).
  int taskProcesses(int index) {
    return static_cast<int>(pidsWhoseCommandLineHas(lab_->stateDir(index) + "/tasks").size());
  }

  // The conmons of host `index`'s containers: processes named conmon whose command line
  // names the host's state directory (its podman storage is under it).
  int conmons(int index) {
    int count = 0;
    for (pid_t pid : pidsWhoseCommandLineHas(lab_->stateDir(index))) {
      std::string cmdline = readFile(fmt::format("/proc/{}/cmdline", pid));
      std::string program = cmdline.substr(0, cmdline.find('\0'));
      count += program.ends_with("conmon") ? 1 : 0;
    }
    return count;
  }

  // Everything a node with a task makes is there (so the checks after can fail).
  void expectEverythingOfOurs(int index) {
    auto links = ourLinks(index);
    for (const auto& stem : {"ombr", "omvx", "omv", "omg"}) {
      EXPECT_TRUE(std::any_of(links.begin(), links.end(),
                              [&](const std::string& name) { return name.starts_with(stem); }))
          << stem << " missing from " << ::testing::PrintToString(links);
    }
    EXPECT_TRUE(links.contains("omgwbridge")) << ::testing::PrintToString(links);
    EXPECT_EQ(ourTables(index),
              (std::set<std::string>{"table ip overmesh_mesh", "table ip overmesh_gw",
                                     "table inet overmesh_underlay"}));
    EXPECT_FALSE(taskNamespaces(index).empty());
    EXPECT_GT(taskProcesses(index), 0);
  }

  void expectNothingOfOurs(int index) {
    EXPECT_TRUE(ourLinks(index).empty()) << ::testing::PrintToString(ourLinks(index));
    EXPECT_TRUE(ourTables(index).empty()) << ::testing::PrintToString(ourTables(index));
    EXPECT_TRUE(taskNamespaces(index).empty()) << ::testing::PrintToString(taskNamespaces(index));
    EXPECT_TRUE(eventually([&] { return taskProcesses(index) == 0; }, seconds(5)))
        << taskProcesses(index) << " task processes left";
  }

  std::unique_ptr<LabSession> lab_;
  int hosts_ = 0;
  std::vector<std::string> foreignNamespaces_;
};

TEST_F(HostCleanupLabTest, SwarmLeaveOnAWorkerRemovesEverythingItMade) {
  startLab(3, 1);
  deployEverywhere();
  expectEverythingOfOurs(3);

  auto left = lab_->cli(3, {"swarm", "leave"});
  ASSERT_EQ(left.exitCode, 0) << left.out << left.err;
  EXPECT_EQ(left.err.find("could not remove"), std::string::npos) << left.err;

  expectNothingOfOurs(3);
  // The rest of the cluster goes on: host 3 leaves the node list, the others' tasks run
  // and the published port still answers on host 1 from outside.
  EXPECT_TRUE(eventually(
      [&] {
        auto nodes = lab_->json(1, {"node", "ls"});
        return nodes.is_array() && nodes.size() == 2;
      },
      kConverge))
      << lab_->cli(1, {"node", "ls"}).out;
  expectEverythingOfOurs(2);
  EXPECT_TRUE(eventually(
      [&] {
        auto reply = lab_->execClient(1, {"socat", "-T3", "-",
                                          fmt::format("TCP:{}:{},connect-timeout=3",
                                                      LabSession::hostAddress(1), kPublished)});
        return reply.out.find("hello") != std::string::npos;
      },
      kConverge));
}

TEST_F(HostCleanupLabTest, CleanupAfterAKilledDaemonRemovesOursOnlyAndTwiceIsNothing) {
  startLab(2, 0);
  deployEverywhere();
  expectEverythingOfOurs(2);
  // Objects of another owner in host 2, one with our prefix but not a task's name.
  std::string foreignNs = lab_->hostNamespace(2) + "-keep";
  ASSERT_EQ(runCommand({"/usr/sbin/ip", "netns", "add", foreignNs}).exitCode, 0);
  foreignNamespaces_.push_back(foreignNs);
  ASSERT_EQ(lab_->exec(2, {"ip", "link", "add", "keepbr0", "type", "bridge"}).exitCode, 0);
  ASSERT_EQ(lab_->exec(2, {"nft", "add", "table", "ip", "keepme"}).exitCode, 0);

  std::vector<std::string> cleanup = {binaryPath("overmeshd"),
                                      "cleanup",
                                      "--state-dir",
                                      lab_->stateDir(2),
                                      "--netns-prefix",
                                      lab_->hostNamespace(2) + "-",
                                      "--socket",
                                      lab_->runDir() + "/" + lab_->name() + "/h2/overmesh.sock"};
  // While the daemon runs, cleanup refuses and changes nothing.
  auto refused = lab_->exec(2, cleanup);
  EXPECT_EQ(refused.exitCode, 1) << refused.out;
  EXPECT_NE(refused.err.find("an overmeshd is running"), std::string::npos) << refused.err;
  expectEverythingOfOurs(2);

  auto status = lab_->lab({"status", "--format", "json"});
  auto json = nlohmann::json::parse(status.out, nullptr, false);
  ASSERT_TRUE(json.is_object()) << status.out << status.err;
  int pid = json["hosts"][1].value("pid", 0);
  ASSERT_GT(pid, 1);
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  ASSERT_TRUE(eventually([&] { return !processRuns(pid); }, seconds(10)));
  expectEverythingOfOurs(2);  // nothing was cleaned by the killed daemon

  auto first = lab_->exec(2, cleanup);
  EXPECT_EQ(first.exitCode, 0) << first.out << first.err;
  EXPECT_NE(first.out.find("removed link omgwbridge"), std::string::npos) << first.out;
  expectNothingOfOurs(2);
  EXPECT_TRUE(allLinks(2).contains("keepbr0"));
  EXPECT_TRUE(tables(2).contains("table ip keepme"));
  EXPECT_TRUE(std::filesystem::exists("/run/netns/" + foreignNs));

  auto second = lab_->exec(2, cleanup);
  EXPECT_EQ(second.exitCode, 0) << second.out << second.err;
  EXPECT_EQ(second.out, "Nothing of overmesh's was left on this host.\n") << second.err;
  // Host 1 was not touched.
  expectEverythingOfOurs(1);
}

// An image task: leave stops and removes its container (its conmon ends) as well.
TEST_F(HostCleanupLabTest, SwarmLeaveRemovesTheNodesContainers) {
  if (auto missing = missingImageTools(); !missing.empty()) {
    GTEST_SKIP() << "needs " << missing << " (scripts/setup.sh installs them)";
  }
  const auto& images = TestImages::get();
  ASSERT_TRUE(images.error().empty()) << images.error();
  startLab(2, 0);
  auto loaded = lab_->cli(2, {"image", "load", "-i", images.archive(2)});
  ASSERT_EQ(loaded.exitCode, 0) << loaded.out << loaded.err;
  auto net =
      lab_->cli(1, {"network", "create", "--attachable", "--subnet", "10.0.62.0/24", "imgnet"});
  ASSERT_EQ(net.exitCode, 0) << net.err;
  auto ran = lab_->cli(1, {"run", "-d", "--network", "imgnet", "--name", "boxed", "--node",
                           lab_->hostNamespace(2), "--image", "overmesh.test/web:2"});
  ASSERT_EQ(ran.exitCode, 0) << ran.out << ran.err;
  ASSERT_TRUE(eventually(
      [&] {
        for (const auto& task : lab_->json(1, {"ps"})) {
          if (task.value("name", "") == "boxed" && task.value("state", "") == "running") {
            return true;
          }
        }
        return false;
      },
      seconds(120)))
      << lab_->cli(1, {"ps"}).out;
  ASSERT_GT(conmons(2), 0);
  ASSERT_FALSE(taskNamespaces(2).empty());

  auto left = lab_->cli(2, {"swarm", "leave"});
  ASSERT_EQ(left.exitCode, 0) << left.out << left.err;
  EXPECT_EQ(left.err.find("could not remove"), std::string::npos) << left.err;

  EXPECT_TRUE(eventually([&] { return conmons(2) == 0; }, seconds(10)))
      << conmons(2) << " conmon processes left";
  EXPECT_TRUE(taskNamespaces(2).empty()) << ::testing::PrintToString(taskNamespaces(2));
  EXPECT_TRUE(ourLinks(2).empty()) << ::testing::PrintToString(ourLinks(2));
  EXPECT_TRUE(ourTables(2).empty()) << ::testing::PrintToString(ourTables(2));
}

}  // namespace
}  // namespace overmesh::testing
