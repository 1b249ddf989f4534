// Several managers on a 3-member etcd cluster in a lab (issue 13, "Failover without loss"):
// kill -9 of the leading manager under a loop of writes and a TCP stream between tasks,
// a leader cut off from etcd by nftables, and a worker that follows the new leader.
// Each test makes its own lab (`lab up --managers 3 --store etcd`) and removes it also on
// failure (LabSession). The failover times are printed, never asserted.

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "support/lab_session.h"
#include "support/process.h"

namespace overmesh::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr int kManagers = 3;
constexpr auto kConverge = 60s;

std::string hostName(const LabSession& lab, int host) { return lab.hostNamespace(host); }

// The file's lines.
std::vector<std::string> readLines(const std::string& path) {
  std::ifstream file(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(file, line);) {
    lines.push_back(line);
  }
  return lines;
}

std::size_t countOccurrences(const std::string& text, const std::string& what) {
  std::size_t count = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) {
    ++count;
  }
  return count;
}

std::string readAll(const std::string& path) {
  std::ifstream file(path);
  std::stringstream content;
  content << file.rdbuf();
  return content.str();
}

class FailoverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) {
      GTEST_SKIP() << "needs root (lab namespaces)";
    }
    if (access("/usr/bin/etcd", X_OK) != 0) {
      GTEST_SKIP() << "/usr/bin/etcd is missing (scripts/setup.sh installs etcd-server)";
    }
  }

  void upOrFail(int hosts) {
    lab_ = std::make_unique<LabSession>("fo");
    ASSERT_TRUE(lab_->upOnEtcd(hosts, kManagers)) << lab_->error() << lab_->logs();
  }

  // The manager host (1..kManagers) whose `info` says it leads, among those not in `skip`.
  std::optional<int> leader(const std::set<int>& skip = {}) const {
    for (int host = 1; host <= kManagers; ++host) {
      if (skip.contains(host)) {
        continue;
      }
      auto info = lab_->json(host, {"info"});
      if (info.is_object() && info.value("isLeader", false)) {
        return host;
      }
    }
    return std::nullopt;
  }

  int waitLeader(const std::set<int>& skip = {}) const {
    std::optional<int> found;
    eventually(
        [&] {
          found = leader(skip);
          return found.has_value();
        },
        30s);
    return found.value_or(0);
  }

  nlohmann::json tasks(int host) const { return lab_->json(host, {"ps"}); }

  std::size_t runningTasks(int host, const std::string& service) const {
    std::size_t count = 0;
    auto all = tasks(host);
    if (!all.is_array()) {
      return 0;
    }
    for (const auto& task : all) {
      if (task.value("serviceName", "") == service && task.value("desiredState", "") == "running" &&
          task.value("state", "") == "running") {
        ++count;
      }
    }
    return count;
  }

  void createService(int host, const std::string& name, const std::vector<std::string>& flags,
                     const std::vector<std::string>& command, std::size_t running) {
    std::vector<std::string> args = {"service", "create", "-d", "--name", name};
    args.insert(args.end(), flags.begin(), flags.end());
    args.push_back("--");
    args.insert(args.end(), command.begin(), command.end());
    auto created = lab_->cli(host, args);
    ASSERT_EQ(created.exitCode, 0) << created.err;
    ASSERT_TRUE(eventually([&] { return runningTasks(host, name) == running; }, kConverge))
        << name << " never ran " << running << " tasks: " << lab_->cli(host, {"ps"}).out;
  }

  std::unique_ptr<LabSession> lab_;
};

// The failover test: 3 managers + 2 workers; kill -9 of the leader under a write
// loop on another manager and a TCP stream between tasks on the two workers.
TEST_F(FailoverTest, KillOfTheLeaderLosesNoWriteAndBreaksNoStream) {
  upOrFail(5);
  int oldLeader = waitLeader();
  ASSERT_NE(oldLeader, 0) << "no manager leads";
  int writer = oldLeader == 1 ? 2 : 1;  // a manager that does not lead

  // The stream: a client task on h5 sends a numbered line every 50 ms to an echo task on
  // h4 through the service VIP; the echoed lines land in a file of the lab's run dir.
  ASSERT_EQ(lab_->cli(writer, {"network", "create", "-d", "overlay", "--attachable", "streamnet"})
                .exitCode,
            0);
  createService(writer, "echo",
                {"--network", "streamnet", "--constraint", "node.hostname==" + hostName(*lab_, 4)},
                {"socat", "TCP-LISTEN:7000,fork,reuseaddr", "EXEC:cat"}, 1);
  std::string echoed = lab_->runDir() + "/echoed.txt";
  createService(
      writer, "talker",
      {"--network", "streamnet", "--constraint", "node.hostname==" + hostName(*lab_, 5)},
      {"sh", "-c",
       fmt::format("sleep 2; i=0; while :; do i=$((i+1)); echo line$i; sleep 0.05; done | "
                   "socat - TCP:echo:7000 > {}; echo STREAM-ENDED >> {}",
                   echoed, echoed)},
      1);
  ASSERT_TRUE(eventually([&] { return readLines(echoed).size() > 20; }, kConverge))
      << "the stream never started: " << readAll(echoed);
  createService(writer, "web", {"--replicas", "2", "--constraint", "node.role==worker"},
                {"sleep", "100000"}, 2);

  // The write loop on `writer`: network create with fresh names, service scale.
  struct Write {
    Clock::time_point started;
    Clock::time_point ended;
    std::string network;  // "" for a scale
    bool ok = false;
  };
  std::mutex writesMutex;
  std::vector<Write> writes;  // guarded by writesMutex
  std::atomic<bool> stop{false};
  std::thread loop([&] {
    for (int i = 0; !stop; ++i) {
      Write write;
      write.started = Clock::now();
      CommandResult result;
      if (i % 2 == 0) {
        write.network = fmt::format("fo{}", i);
        result = lab_->cli(writer, {"network", "create", "-d", "overlay", write.network});
      } else {
        result = lab_->cli(writer, {"service", "scale", fmt::format("web={}", 2 + (i / 2) % 3)});
      }
      write.ended = Clock::now();
      write.ok = result.exitCode == 0;
      std::lock_guard lock(writesMutex);
      writes.push_back(write);
    }
  });
  std::this_thread::sleep_for(3s);

  auto killed = Clock::now();
  auto stopped = lab_->lab({"stop", "--kill", "h" + std::to_string(oldLeader)});
  ASSERT_EQ(stopped.exitCode, 0) << stopped.err;
  int newLeader = waitLeader({oldLeader});
  auto led = Clock::now();
  EXPECT_NE(newLeader, 0) << "no other manager leads after the kill";
  std::this_thread::sleep_for(5s);
  stop = true;
  loop.join();
  std::vector<Write> done;
  {
    std::lock_guard lock(writesMutex);
    done = writes;
  }
  std::optional<Clock::time_point> firstWrite;
  for (const auto& write : done) {
    if (write.ok && write.started >= killed) {
      firstWrite = write.ended;
      break;
    }
  }
  auto ms = [](Clock::duration d) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
  };
  std::printf(
      "failover: leader kill -> new leader (h%d) seen: %lld ms; -> first write accepted: "
      "%s\n",
      newLeader, static_cast<long long>(ms(led - killed)),
      firstWrite ? fmt::format("{} ms", ms(*firstWrite - killed)).c_str() : "never");
  ASSERT_TRUE(firstWrite.has_value()) << "no write was accepted after the kill";
  int reader = newLeader != 0 ? newLeader : writer;

  // Every acknowledged create exists.
  auto networks = lab_->json(reader, {"network", "ls"});
  ASSERT_TRUE(networks.is_array());
  std::set<std::string> names;
  std::set<std::string> subnets;
  std::set<std::int64_t> vnis;
  for (const auto& network : networks) {
    names.insert(network.value("name", ""));
    if (network.value("driver", "") != "overlay") {
      continue;
    }
    EXPECT_TRUE(subnets.insert(network.value("subnet", "")).second)
        << "two networks share subnet " << network.value("subnet", "");
    EXPECT_TRUE(vnis.insert(network.value("vni", std::int64_t{0})).second)
        << "two networks share VNI " << network.value("vni", std::int64_t{0});
  }
  for (const auto& write : done) {
    if (write.ok && !write.network.empty()) {
      EXPECT_TRUE(names.contains(write.network)) << "acknowledged " << write.network << " is lost";
    }
  }
  // Subnets that overlap without being equal (one containing another) would also collide;
  // the allocator hands out equal-size blocks of one pool, so distinct strings suffice.

  // Every service reaches its replica count; no two tasks share an address.
  auto services = lab_->json(reader, {"service", "ls"});
  ASSERT_TRUE(services.is_array());
  for (const auto& service : services) {
    std::string name = service.value("name", "");
    auto replicas = static_cast<std::size_t>(service.value("replicas", 0));
    EXPECT_TRUE(eventually([&] { return runningTasks(reader, name) == replicas; }, kConverge))
        << name << " does not run " << replicas << " tasks: " << lab_->cli(reader, {"ps"}).out;
  }
  std::map<std::string, std::string> owners;
  for (const auto& task : tasks(reader)) {
    if (task.value("desiredState", "") != "running") {
      continue;
    }
    for (const auto& attachment : task.value("attachments", nlohmann::json::array())) {
      std::string address = attachment.value("address", "");
      auto [at, fresh] = owners.emplace(address, task.value("id", ""));
      EXPECT_TRUE(fresh || address.empty())
          << "tasks " << at->second << " and " << task.value("id", "") << " share " << address;
    }
  }

  // The stream never broke: consecutive lines from line1, still growing, never ended.
  auto before = readLines(echoed).size();
  std::this_thread::sleep_for(1s);
  auto lines = readLines(echoed);
  EXPECT_GT(lines.size(), before) << "the stream stopped";
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (lines[i] != fmt::format("line{}", i + 1)) {
      ADD_FAILURE() << "the stream broke at line " << i + 1 << ": \"" << lines[i] << "\"";
      break;
    }
  }
  if (HasFailure()) {
    std::cerr << lab_->logs();
  }
}

// A leader cut off from etcd (nftables drop in its namespace) stops leading once its lease
// has run out, and cannot write; another manager leads.
TEST_F(FailoverTest, APartitionedLeaderStopsLeadingAndCannotWrite) {
  upOrFail(3);
  int oldLeader = waitLeader();
  ASSERT_NE(oldLeader, 0) << "no manager leads";
  std::string dropped = "198.18.0.201, 198.18.0.202, 198.18.0.203";
  for (const auto& rule :
       {std::string("add table inet omfault"),
        std::string("add chain inet omfault out { type filter hook output priority 0 ; }"),
        std::string("add chain inet omfault in { type filter hook input priority 0 ; }"),
        fmt::format("add rule inet omfault out ip daddr {{ {} }} drop", dropped),
        fmt::format("add rule inet omfault in ip saddr {{ {} }} drop", dropped)}) {
    auto added = lab_->exec(oldLeader, {"nft", rule});
    ASSERT_EQ(added.exitCode, 0) << rule << ": " << added.err;
  }
  auto cut = Clock::now();
  // Lease TTL 3 s; the old leader must notice by its own clock.
  EXPECT_TRUE(eventually(
      [&] {
        auto info = lab_->json(oldLeader, {"info"});
        return info.is_object() && !info.value("isLeader", true);
      },
      15s))
      << "h" << oldLeader << " still says it leads: " << lab_->cli(oldLeader, {"info"}).out;
  std::printf(
      "partition: h%d stopped leading %lld ms after the cut\n", oldLeader,
      static_cast<long long>(
          std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - cut).count()));
  auto write = lab_->cli(oldLeader, {"network", "create", "-d", "overlay", "afterthecut"});
  EXPECT_NE(write.exitCode, 0) << "a write on the partitioned manager succeeded";
  EXPECT_FALSE(write.err.empty()) << "the failed write says nothing";
  int newLeader = waitLeader({oldLeader});
  EXPECT_NE(newLeader, 0) << "no other manager leads";
  auto networks = lab_->json(newLeader != 0 ? newLeader : 1, {"network", "ls"});
  ASSERT_TRUE(networks.is_array());
  for (const auto& network : networks) {
    EXPECT_NE(network.value("name", ""), "afterthecut") << "the refused write was stored";
  }
  if (HasFailure()) {
    std::cerr << lab_->logs();
  }
}

// A worker follows the new leader: its heartbeats keep it ready, its watch resumes where
// it was (one snapshot in its whole log), and it runs a task created after the failover.
TEST_F(FailoverTest, AWorkerFollowsTheNewLeaderWithoutARelist) {
  upOrFail(4);
  int oldLeader = waitLeader();
  ASSERT_NE(oldLeader, 0) << "no manager leads";
  auto stopped = lab_->lab({"stop", "--kill", "h" + std::to_string(oldLeader)});
  ASSERT_EQ(stopped.exitCode, 0) << stopped.err;
  int newLeader = waitLeader({oldLeader});
  ASSERT_NE(newLeader, 0) << "no other manager leads after the kill";
  auto workerReady = [&] {
    auto nodes = lab_->json(newLeader, {"node", "ls"});
    if (!nodes.is_array()) {
      return false;
    }
    for (const auto& node : nodes) {
      if (node.value("hostname", "") == hostName(*lab_, 4)) {
        return node.value("state", "") == "ready";
      }
    }
    return false;
  };
  ASSERT_TRUE(eventually(workerReady, 15s)) << lab_->cli(newLeader, {"node", "ls"}).out;
  // Still ready two node timeouts later: its heartbeats reach the new leader.
  std::this_thread::sleep_for(7s);
  EXPECT_TRUE(workerReady()) << lab_->cli(newLeader, {"node", "ls"}).out;
  createService(newLeader, "late", {"--constraint", "node.hostname==" + hostName(*lab_, 4)},
                {"sleep", "100000"}, 1);
  std::string log = readAll(lab_->logPath(4));
  EXPECT_EQ(countOccurrences(log, "state sync: snapshot at revision"), 1u)
      << "the worker relisted after the failover:\n"
      << log;
  EXPECT_NE(log.find("manager endpoints: moving from"), std::string::npos)
      << "the worker never moved to another manager:\n"
      << log;
  // A restarted worker finds a live manager from its saved list, although the manager it
  // joined through (h1, or the killed leader) may be dead.
  EXPECT_NE(readAll(lab_->stateDir(4) + "/managers.json").find("198.18.0."), std::string::npos);
  if (HasFailure()) {
    std::cerr << lab_->logs();
  }
}

}  // namespace
}  // namespace overmesh::testing
