// A cluster of real daemons as a user drives it: every test gets its own 3-host lab
// (`overmesh lab up --hosts 3`, h1 the manager, h2 and h3 workers) in a temporary run
// directory, talks to the hosts through `overmesh lab exec HOST -- overmesh ...`, and
// removes the lab in TearDown, also when the test failed.
//
// Timing: propagation and liveness are polled with generous bounds (kConverge, kDetect)
// and never asserted as speeds; bench/cluster_convergence measures them.
//
// Run one test:  ctest --test-dir BUILD -R ClusterTest.ManagerRestart   (as root)

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "support/lab_session.h"
#include "support/process.h"

namespace overmesh::testing {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

// Bound for state to reach every host (it normally takes milliseconds).
constexpr auto kConverge = seconds(10);
// Bound for the manager to call a killed node down: the 3 s default node timeout plus
// generous slack for a loaded machine.
constexpr auto kDetect = seconds(15);
constexpr int kHosts = 3;

// The namespaces in /run/netns that belong to lab `name`.
std::set<std::string> namespacesOf(const std::string& name) {
  std::set<std::string> found;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator("/run/netns", error)) {
    std::string file = entry.path().filename().string();
    if (file.starts_with(name + "-")) {
      found.insert(file);
    }
  }
  return found;
}

// Live processes whose environment carries OVERMESH_LAB=<name> (every lab daemon does).
std::vector<int> processesMarkedWith(const std::string& name) {
  std::string mark = std::string("OVERMESH_LAB=") + name;
  std::vector<int> found;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator("/proc", error)) {
    std::string file = entry.path().filename().string();
    if (file.empty() || !std::all_of(file.begin(), file.end(), ::isdigit)) {
      continue;
    }
    int pid = std::stoi(file);
    if (pid == getpid() || !processRuns(pid)) {
      continue;
    }
    std::string environment = readFile(fmt::format("/proc/{}/environ", pid));
    std::stringstream entries(environment);
    for (std::string variable; std::getline(entries, variable, '\0');) {
      if (variable == mark) {
        found.push_back(pid);
        break;
      }
    }
  }
  return found;
}

class ClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!canUseNamespaces()) {
      GTEST_SKIP() << "needs root to create network namespaces";
    }
    static int labsMade = 0;
    name_ = fmt::format("c{}{}", getpid() % 100000, static_cast<char>('a' + labsMade++ % 26));
    auto result = lab("up", {"--hosts", std::to_string(kHosts)});
    labUp_ = true;
    ASSERT_EQ(result.exitCode, 0) << result.out << result.err;
    // Joined workers are ready once their first heartbeat arrived.
    ASSERT_TRUE(eventually([&] { return readyCount(1) == kHosts; }, kConverge))
        << cli(1, {"node", "ls"}).out;
  }

  void TearDown() override {
    if (!labUp_) {
      return;
    }
    if (HasFailure()) {
      for (int host = 1; host <= kHosts; ++host) {
        std::string log =
            readFile(fmt::format("{}/{}/h{}/overmeshd.log", runDir_.path(), name_, host));
        std::cerr << fmt::format("---- overmeshd log of h{} ----\n{}", host, log);
      }
    }
    auto result = lab("down");
    EXPECT_EQ(result.exitCode, 0) << result.out << result.err;
    EXPECT_TRUE(namespacesOf(name_).empty());
  }

  // overmesh lab SUBCOMMAND --name NAME --run-dir DIR ARGS...
  CommandResult lab(const std::string& subcommand, const std::vector<std::string>& args = {}) {
    std::vector<std::string> argv = {
        binaryPath("overmesh"), "lab", subcommand, "--name", name_, "--run-dir", runDir_.path()};
    argv.insert(argv.end(), args.begin(), args.end());
    return runCommand(argv);
  }

  // `overmesh ARGS...` run in host `host`, talking to that host's daemon.
  CommandResult cli(int host, const std::vector<std::string>& args) {
    std::vector<std::string> argv = {std::to_string(host), "--", binaryPath("overmesh")};
    argv.insert(argv.end(), args.begin(), args.end());
    return lab("exec", argv);
  }

  // Parsed JSON output of a read command in `host`; discarded JSON when it failed.
  nlohmann::json readJson(int host, const std::vector<std::string>& args) {
    auto result = cli(host, args);
    if (result.exitCode != 0) {
      return nlohmann::json(nlohmann::json::value_t::discarded);
    }
    return nlohmann::json::parse(result.out, nullptr, false);
  }

  nlohmann::json nodes(int host) { return readJson(host, {"node", "ls", "--format", "json"}); }

  std::string hostname(int host) const { return fmt::format("{}-h{}", name_, host); }

  // How many nodes `host` lists as ready.
  int readyCount(int host) {
    auto list = nodes(host);
    if (!list.is_array()) {
      return -1;
    }
    return static_cast<int>(std::count_if(list.begin(), list.end(), [](const auto& node) {
      return node.value("state", "") == "ready";
    }));
  }

  // The state `from` reports for the node of host `host`; "" when it is not listed.
  std::string nodeState(int from, int host) {
    auto list = nodes(from);
    if (!list.is_array()) {
      return "";
    }
    for (const auto& node : list) {
      if (node.value("hostname", "") == hostname(host)) {
        return node.value("state", "");
      }
    }
    return "";
  }

  std::set<std::string> nodeIds(int from) {
    std::set<std::string> ids;
    auto list = nodes(from);
    if (list.is_array()) {
      for (const auto& node : list) {
        ids.insert(node.value("id", ""));
      }
    }
    return ids;
  }

  std::set<std::string> networkNames(int host) {
    std::set<std::string> names;
    auto list = readJson(host, {"network", "ls", "--format", "json"});
    if (list.is_array()) {
      for (const auto& network : list) {
        names.insert(network.value("name", ""));
      }
    }
    return names;
  }

  bool hasNetwork(int host, const std::string& network) {
    return networkNames(host).contains(network);
  }

  void createNetwork(int host, const std::string& network) {
    auto created = cli(host, {"network", "create", "-d", "overlay", network});
    ASSERT_EQ(created.exitCode, 0) << created.out << created.err;
  }

  // The network reaches every host within kConverge.
  void expectEverywhere(const std::string& network) {
    for (int host = 1; host <= kHosts; ++host) {
      EXPECT_TRUE(eventually([&] { return hasNetwork(host, network); }, kConverge))
          << network << " never appeared on h" << host << "; it lists "
          << fmt::format("{}", fmt::join(networkNames(host), ", "));
    }
  }

  nlohmann::json labStatus() {
    auto result = lab("status", {"--format", "json"});
    EXPECT_EQ(result.exitCode, 0) << result.err;
    return nlohmann::json::parse(result.out, nullptr, false);
  }

  int daemonPid(int host) {
    auto json = labStatus();
    return json.is_object() ? json["hosts"][host - 1].value("pid", 0) : 0;
  }

  TempDir runDir_;
  std::string name_;
  bool labUp_ = false;
};

TEST_F(ClusterTest, EveryHostListsThreeReadyNodesAndMarksItself) {
  for (int host = 1; host <= kHosts; ++host) {
    SCOPED_TRACE(fmt::format("h{}", host));
    ASSERT_TRUE(eventually([&] { return readyCount(host) == kHosts; }, kConverge))
        << cli(host, {"node", "ls"}).out;

    auto info = readJson(host, {"info", "--format", "json"});
    ASSERT_TRUE(info.is_object());
    std::string self = info.value("nodeId", "");
    ASSERT_FALSE(self.empty()) << info.dump();
    auto list = nodes(host);
    auto me = std::find_if(list.begin(), list.end(),
                           [&](const auto& node) { return node.value("id", "") == self; });
    ASSERT_NE(me, list.end()) << list.dump();
    EXPECT_EQ((*me).value("hostname", ""), hostname(host));
    EXPECT_EQ((*me).value("role", ""), host == 1 ? "manager" : "worker");

    // The table marks exactly one row, this host's, with `*`.
    auto table = cli(host, {"node", "ls"});
    ASSERT_EQ(table.exitCode, 0) << table.err;
    std::stringstream rows(table.out);
    int marked = 0;
    for (std::string row; std::getline(rows, row);) {
      if (row.find(" * ") != std::string::npos) {
        ++marked;
        EXPECT_NE(row.find(hostname(host)), std::string::npos) << table.out;
      }
    }
    EXPECT_EQ(marked, 1) << table.out;
  }
}

TEST_F(ClusterTest, NetworkCreatedOnTheManagerAppearsOnEveryWorker) {
  createNetwork(1, "frontend");
  expectEverywhere("frontend");
}

// Docker's answer to a cluster write on a worker (api/cluster_protocol.h).
constexpr const char* kNotAManager =
    "this node is not a swarm manager; run the command on a manager node";

TEST_F(ClusterTest, WriteOnAWorkerIsRefusedWithDockersMessageAndChangesNothing) {
  createNetwork(1, "before");
  expectEverywhere("before");
  auto before = networkNames(1);
  const std::vector<std::vector<std::string>> writes = {
      {"network", "create", "-d", "overlay", "fromworker"},
      {"network", "rm", "before"},
      {"run", "--name", "fromworker", "--network", "before", "--", "sleep", "60"},
      {"service", "create", "--name", "fromworker", "--", "sleep", "60"},
      {"swarm", "update", "--insecure-registry", "198.18.0.1:5000"}};
  for (const auto& write : writes) {
    SCOPED_TRACE(fmt::format("{}", fmt::join(write, " ")));
    auto refused = cli(2, write);
    EXPECT_EQ(refused.exitCode, 1) << refused.out;
    EXPECT_NE(refused.err.find(kNotAManager), std::string::npos) << refused.err;
  }
  EXPECT_EQ(networkNames(1), before);
  EXPECT_EQ(networkNames(2), before);
  auto tasks = readJson(1, {"ps", "--format", "json"});
  ASSERT_TRUE(tasks.is_array());
  EXPECT_TRUE(tasks.empty()) << tasks.dump();
  // Reads still answer on the worker, from its copy of the cluster's state.
  auto inspected = readJson(2, {"network", "inspect", "before"});
  ASSERT_TRUE(inspected.is_array()) << cli(2, {"network", "inspect", "before"}).err;
  EXPECT_EQ(inspected[0].value("name", ""), "before");
}

TEST_F(ClusterTest, JoinTokenOnAWorkerIsRefusedAsNotAManager) {
  for (const char* flag : {"-q", "--rotate"}) {
    SCOPED_TRACE(flag);
    auto token = cli(2, {"swarm", "join-token", flag, "worker"});
    EXPECT_EQ(token.exitCode, 1) << token.out;
    EXPECT_NE(token.err.find(kNotAManager), std::string::npos) << token.err;
    EXPECT_EQ(token.out.find("OMTKN"), std::string::npos) << token.out;
  }
}

TEST_F(ClusterTest, KilledWorkerIsShownDownAndCatchesUpWhenItComesBack) {
  auto stopped = lab("stop", {"2", "--kill"});
  ASSERT_EQ(stopped.exitCode, 0) << stopped.out << stopped.err;
  auto killedAt = Clock::now();
  ASSERT_TRUE(eventually([&] { return nodeState(1, 2) == "down"; }, kDetect))
      << cli(1, {"node", "ls"}).out;
  std::cerr << fmt::format(
      "[ info ] h2 shown down {} ms after SIGKILL\n",
      std::chrono::duration_cast<milliseconds>(Clock::now() - killedAt).count());
  EXPECT_EQ(nodeState(1, 3), "ready");

  createNetwork(1, "missed");

  auto started = lab("start", {"2"});
  ASSERT_EQ(started.exitCode, 0) << started.out << started.err;
  EXPECT_TRUE(eventually([&] { return nodeState(1, 2) == "ready"; }, kConverge))
      << cli(1, {"node", "ls"}).out;
  EXPECT_TRUE(eventually([&] { return hasNetwork(2, "missed"); }, kConverge))
      << fmt::format("{}", fmt::join(networkNames(2), ", "));
  // It came back as the same node: no re-join, no second entry.
  EXPECT_EQ(nodes(1).size(), static_cast<std::size_t>(kHosts)) << nodes(1).dump();
}

TEST_F(ClusterTest, WorkersReconnectAfterAManagerRestart) {
  auto before = nodeIds(1);
  auto restarted = lab("restart", {"1"});
  ASSERT_EQ(restarted.exitCode, 0) << restarted.out << restarted.err;

  createNetwork(1, "afterrestart");
  expectEverywhere("afterrestart");
  EXPECT_TRUE(eventually([&] { return readyCount(1) == kHosts; }, kConverge))
      << cli(1, {"node", "ls"}).out;
  EXPECT_EQ(nodeIds(1), before);
  // Nodes stay ready once reconnected: not flapping to down after a node timeout.
  std::this_thread::sleep_for(seconds(4));
  EXPECT_EQ(readyCount(1), kHosts) << cli(1, {"node", "ls"}).out;
}

TEST_F(ClusterTest, WrongJoinTokenIsRefusedAndLeavesNoTrace) {
  auto left = cli(3, {"swarm", "leave"});
  ASSERT_EQ(left.exitCode, 0) << left.out << left.err;
  ASSERT_TRUE(eventually([&] { return nodeState(1, 3).empty(); }, kConverge))
      << cli(1, {"node", "ls"}).out;
  auto before = nodeIds(1);
  ASSERT_EQ(before.size(), 2u);

  // A token of no swarm, and this swarm's token with a wrong secret.
  auto shown = cli(1, {"swarm", "join-token", "-q", "worker"});
  ASSERT_EQ(shown.exitCode, 0) << shown.err;
  ASSERT_TRUE(shown.out.starts_with("OMTKN-1-")) << shown.out;
  std::string token = shown.out.substr(0, shown.out.find_first_of(" \n"));
  // Well-formed (43 characters of base64url), so the manager is the one to refuse it.
  std::string wrongSecret = token.substr(0, token.rfind('-') + 1) + std::string(43, 'A');
  ASSERT_NE(wrongSecret, token);
  for (const std::string& bad : {std::string("OMTKN-1-x-y"), wrongSecret}) {
    SCOPED_TRACE(bad);
    auto joined = cli(3, {"swarm", "join", "--token", bad, "198.18.0.1:2377"});
    EXPECT_EQ(joined.exitCode, 1) << joined.out;
    EXPECT_NE(joined.err.find("join token is not valid"), std::string::npos) << joined.err;
  }

  EXPECT_EQ(nodeIds(1), before) << cli(1, {"node", "ls"}).out;
  EXPECT_TRUE(nodeState(1, 3).empty());
  auto info = readJson(3, {"info", "--format", "json"});
  ASSERT_TRUE(info.is_object());
  EXPECT_EQ(info.value("swarm", ""), "inactive") << info.dump();
  // Nothing shows up late either (say, from a half-made join).
  std::this_thread::sleep_for(seconds(1));
  EXPECT_EQ(nodeIds(1), before) << cli(1, {"node", "ls"}).out;
}

TEST_F(ClusterTest, LeaveOnAWorkerRemovesItFromTheManagersList) {
  auto left = cli(2, {"swarm", "leave"});
  ASSERT_EQ(left.exitCode, 0) << left.out << left.err;
  EXPECT_TRUE(eventually([&] { return nodeState(1, 2).empty(); }, kConverge))
      << cli(1, {"node", "ls"}).out;
  EXPECT_EQ(nodes(1).size(), 2u) << nodes(1).dump();
  EXPECT_EQ(nodeState(1, 3), "ready");
}

TEST_F(ClusterTest, LeaveOnTheManagerWithoutForceIsRefused) {
  auto left = cli(1, {"swarm", "leave"});
  EXPECT_EQ(left.exitCode, 1) << left.out;
  EXPECT_NE(left.err.find("--force"), std::string::npos) << left.err;
  auto info = readJson(1, {"info", "--format", "json"});
  ASSERT_TRUE(info.is_object());
  EXPECT_EQ(info.value("role", ""), "manager") << info.dump();
  EXPECT_EQ(readyCount(1), kHosts);
}

TEST_F(ClusterTest, StopAndStartKeepTheHostsIdentity) {
  auto self = readJson(2, {"info", "--format", "json"}).value("nodeId", "");
  int oldPid = daemonPid(2);
  ASSERT_GT(oldPid, 1);

  auto stopped = lab("stop", {"h2"});
  ASSERT_EQ(stopped.exitCode, 0) << stopped.out << stopped.err;
  EXPECT_NE(stopped.out.find("SIGTERM"), std::string::npos) << stopped.out;
  EXPECT_FALSE(processRuns(oldPid));
  EXPECT_FALSE(labStatus()["hosts"][1].value("daemonAlive", true));

  auto again = lab("stop", {"2"});
  EXPECT_EQ(again.exitCode, 0) << again.err;
  EXPECT_NE(again.out.find("was not running"), std::string::npos) << again.out;

  auto started = lab("start", {"2"});
  ASSERT_EQ(started.exitCode, 0) << started.out << started.err;
  auto status = labStatus();
  int newPid = status["hosts"][1].value("pid", 0);
  EXPECT_NE(newPid, oldPid);
  EXPECT_TRUE(processRuns(newPid));
  EXPECT_TRUE(status["hosts"][1].value("daemonAlive", false)) << status.dump();

  auto name = cli(2, {"info", "--format", "json"});
  ASSERT_EQ(name.exitCode, 0) << name.err;
  EXPECT_EQ(nlohmann::json::parse(name.out, nullptr, false).value("nodeId", ""), self);
  auto uname = lab("exec", {"2", "--", "/bin/sh", "-c", "hostname"});
  EXPECT_EQ(uname.out, hostname(2) + "\n");
  EXPECT_TRUE(eventually([&] { return nodeState(1, 2) == "ready"; }, kConverge));

  auto twice = lab("start", {"2"});
  EXPECT_EQ(twice.exitCode, 1) << twice.out;
  EXPECT_NE(twice.err.find("already runs"), std::string::npos) << twice.err;
}

TEST_F(ClusterTest, DownAfterKillingEveryDaemonLeavesNothingBehind) {
  auto status = labStatus();
  ASSERT_TRUE(status.is_object());
  std::vector<int> pids;
  for (const auto& host : status["hosts"]) {
    pids.push_back(host.value("pid", 0));
  }
  ASSERT_EQ(pids.size(), static_cast<std::size_t>(kHosts));
  for (int pid : pids) {
    ASSERT_GT(pid, 1);
    ASSERT_EQ(::kill(pid, SIGKILL), 0) << pid;
  }

  auto down = lab("down");
  ASSERT_EQ(down.exitCode, 0) << down.out << down.err;
  EXPECT_TRUE(namespacesOf(name_).empty())
      << fmt::format("{}", fmt::join(namespacesOf(name_), ", "));
  for (int pid : pids) {
    EXPECT_TRUE(eventually([&] { return !processRuns(pid); }, seconds(2))) << pid;
  }
  EXPECT_TRUE(processesMarkedWith(name_).empty())
      << fmt::format("{}", fmt::join(processesMarkedWith(name_), ", "));
  EXPECT_FALSE(fs::exists(fs::path(runDir_.path()) / name_));
}

}  // namespace
}  // namespace overmesh::testing
