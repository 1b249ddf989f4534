// `overmesh lab` as a user types it: the real CLI builds labs of real daemons in network
// namespaces. Every test uses its own lab names and run directory, and TearDown runs
// `lab down` for each lab it made, also when the test failed; it then checks that the
// machine's own network namespace has the same links as before.

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "support/lab_session.h"
#include "support/process.h"

namespace overmesh::testing {
namespace {

namespace fs = std::filesystem;

std::string findBinary(const std::vector<std::string>& candidates) {
  for (const auto& path : candidates) {
    if (access(path.c_str(), X_OK) == 0) {
      return path;
    }
  }
  return "";
}

std::string ipBinary() {
  return findBinary({"/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"});
}

// The names of the links in the namespace the test runs in (the machine's, for the check
// that labs leave it alone).
std::vector<std::string> rootLinkNames() {
  auto result = runCommand({ipBinary(), "-j", "link", "show"});
  std::vector<std::string> names;
  auto links = nlohmann::json::parse(result.out, nullptr, false);
  if (links.is_array()) {
    for (const auto& link : links) {
      names.push_back(link.value("ifname", ""));
    }
  }
  std::sort(names.begin(), names.end());
  return names;
}

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

class LabTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!canUseNamespaces()) {
      GTEST_SKIP() << "needs root to create network namespaces";
    }
    ASSERT_FALSE(ipBinary().empty()) << "the tests observe with `ip`";
    rootLinksBefore_ = rootLinkNames();
  }

  void TearDown() override {
    if (!canUseNamespaces()) {
      return;
    }
    for (const auto& name : labs_) {
      auto result = lab("down", name);
      EXPECT_EQ(result.exitCode, 0) << name << ": " << result.err;
      EXPECT_TRUE(namespacesOf(name).empty()) << name;
    }
    EXPECT_EQ(rootLinkNames(), rootLinksBefore_) << "a lab changed the machine's own namespace";
  }

  // A lab name unique to this test process, removed in TearDown.
  std::string newLab() {
    std::string name =
        fmt::format("e{}{}", getpid() % 100000, static_cast<char>('a' + labs_.size()));
    labs_.push_back(name);
    return name;
  }

  // overmesh lab SUBCOMMAND --name NAME --run-dir DIR ARGS...
  CommandResult lab(const std::string& subcommand, const std::string& name,
                    const std::vector<std::string>& args = {}) {
    std::vector<std::string> argv = {
        binaryPath("overmesh"), "lab", subcommand, "--name", name, "--run-dir", runDir_.path()};
    argv.insert(argv.end(), args.begin(), args.end());
    return runCommand(argv);
  }

  void up(const std::string& name, int hosts) {
    auto result = lab("up", name, {"--hosts", std::to_string(hosts)});
    ASSERT_EQ(result.exitCode, 0) << result.out << result.err;
  }

  nlohmann::json status(const std::string& name) {
    auto result = lab("status", name, {"--format", "json"});
    EXPECT_EQ(result.exitCode, 0) << result.err;
    return nlohmann::json::parse(result.out, nullptr, false);
  }

  std::vector<int> daemonPids(const std::string& name) {
    std::vector<int> pids;
    auto json = status(name);
    if (json.is_object()) {
      for (const auto& host : json["hosts"]) {
        pids.push_back(host.value("pid", 0));
      }
    }
    return pids;
  }

  // Everything of lab `name` is gone: namespaces, the daemons `pids`, the run directory.
  void expectNothingLeft(const std::string& name, const std::vector<int>& pids) {
    EXPECT_TRUE(namespacesOf(name).empty());
    for (int pid : pids) {
      bool gone = false;
      for (int i = 0; i < 100 && !gone; ++i) {
        gone = !processRuns(pid);
        if (!gone) {
          std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
      }
      EXPECT_TRUE(gone) << "daemon " << pid << " still runs";
    }
    EXPECT_FALSE(fs::exists(fs::path(runDir_.path()) / name));
  }

  TempDir runDir_;
  std::vector<std::string> labs_;
  std::vector<std::string> rootLinksBefore_;
};

TEST_F(LabTest, UpBuildsHostsThatReachEachOther) {
  std::string name = newLab();
  auto result = lab("up", name, {"--hosts", "2"});
  ASSERT_EQ(result.exitCode, 0) << result.out << result.err;
  EXPECT_NE(result.out.find(name + "-h2"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("198.18.0.2"), std::string::npos) << result.out;

  EXPECT_EQ(namespacesOf(name), (std::set<std::string>{name + "-h1", name + "-h2", name + "-ul"}));

  std::string ping = findBinary({"/usr/bin/ping", "/bin/ping", "/usr/sbin/ping"});
  if (!ping.empty()) {
    auto pinged = lab("exec", name, {"2", "--", ping, "-c1", "-W2", "198.18.0.1"});
    EXPECT_EQ(pinged.exitCode, 0) << pinged.out << pinged.err;
  } else {
    // No ping on this machine: a TCP connection to the manager's cluster port proves the
    // same path (host 2's eth0, the underlay bridge, host 1's eth0).
    std::string curl = findBinary({"/usr/bin/curl", "/bin/curl"});
    ASSERT_FALSE(curl.empty()) << "neither ping nor curl is installed";
    auto fetched = lab("exec", name,
                       {"2", "--", curl, "-s", "-o", "/dev/null", "-m", "3", "-w", "%{http_code}",
                        "http://198.18.0.1:2377/"});
    EXPECT_EQ(fetched.exitCode, 0) << fetched.out << fetched.err;
    EXPECT_NE(fetched.out, "000") << fetched.err;
  }
}

TEST_F(LabTest, StatusShowsEveryHostWithALiveDaemonAndItsNodeState) {
  std::string name = newLab();
  up(name, 2);
  nlohmann::json json;
  // A joined worker is reported ready by the manager; give its first heartbeat a moment.
  for (int i = 0; i < 50; ++i) {
    json = status(name);
    bool allReady = json.is_object() && json["hosts"].size() == 2 &&
                    std::all_of(json["hosts"].begin(), json["hosts"].end(),
                                [](const auto& host) { return host["nodeState"] == "ready"; });
    if (allReady) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(json.is_object()) << json.dump();
  ASSERT_EQ(json["hosts"].size(), 2u) << json.dump();
  for (int i = 0; i < 2; ++i) {
    const auto& host = json["hosts"][i];
    EXPECT_EQ(host["name"], fmt::format("h{}", i + 1));
    EXPECT_EQ(host["namespace"], fmt::format("{}-h{}", name, i + 1));
    EXPECT_EQ(host["address"], fmt::format("198.18.0.{}", i + 1));
    EXPECT_TRUE(host["daemonAlive"].get<bool>()) << host.dump();
    EXPECT_TRUE(processRuns(host["pid"].get<int>()));
    EXPECT_EQ(host["nodeState"], "ready") << host.dump();
  }
  EXPECT_EQ(json["hosts"][0]["nodeRole"], "manager");
  EXPECT_EQ(json["hosts"][1]["nodeRole"], "worker");

  auto table = lab("status", name);
  ASSERT_EQ(table.exitCode, 0) << table.err;
  EXPECT_NE(table.out.find("NODE STATE"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find(name + "-h2"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("running"), std::string::npos) << table.out;
}

TEST_F(LabTest, OneHostLabNeedsNoJoin) {
  std::string name = newLab();
  up(name, 1);
  auto json = status(name);
  ASSERT_EQ(json["hosts"].size(), 1u) << json.dump();
  EXPECT_TRUE(json["hosts"][0]["daemonAlive"].get<bool>());
  EXPECT_EQ(json["hosts"][0]["nodeState"], "ready") << json.dump();
}

TEST_F(LabTest, HostsHaveTheirOwnHostnameAndNoRouteOut) {
  std::string name = newLab();
  up(name, 1);
  auto hostname = lab("exec", name, {"h1", "--", "/bin/sh", "-c", "hostname"});
  ASSERT_EQ(hostname.exitCode, 0) << hostname.err;
  EXPECT_EQ(hostname.out, name + "-h1\n");

  auto routes = lab("exec", name, {name + "-h1", "--", ipBinary(), "-j", "-4", "route", "show"});
  ASSERT_EQ(routes.exitCode, 0) << routes.err;
  auto json = nlohmann::json::parse(routes.out, nullptr, false);
  ASSERT_TRUE(json.is_array()) << routes.out;
  ASSERT_EQ(json.size(), 1u) << routes.out;
  EXPECT_EQ(json[0]["dst"], "198.18.0.0/24");
  EXPECT_EQ(json[0]["dev"], "eth0");
}

TEST_F(LabTest, ExecPassesTheCommandsExitStatusAndPointsAtTheHostsDaemon) {
  std::string name = newLab();
  up(name, 1);
  auto failed = lab("exec", name, {"1", "--", "/bin/sh", "-c", "exit 3"});
  EXPECT_EQ(failed.exitCode, 3) << failed.err;

  auto env = lab("exec", name, {"1", "--", "/bin/sh", "-c", "echo \"$OVERMESH_HOST\""});
  ASSERT_EQ(env.exitCode, 0) << env.err;
  EXPECT_EQ(env.out, fmt::format("unix://{}/{}/h1/overmesh.sock\n", runDir_.path(), name));

  // The CLI inside a host talks to that host's daemon without -H.
  auto nodes = lab("exec", name, {"1", "--", binaryPath("overmesh"), "node", "ls"});
  ASSERT_EQ(nodes.exitCode, 0) << nodes.out << nodes.err;
  EXPECT_NE(nodes.out.find(name + "-h1"), std::string::npos) << nodes.out;

  auto missing = lab("exec", name, {"1", "--", "/nonexistent/command"});
  EXPECT_EQ(missing.exitCode, 127);
  EXPECT_NE(missing.err.find("/nonexistent/command"), std::string::npos) << missing.err;
}

TEST_F(LabTest, ExecRefusesAHostTheLabDoesNotHave) {
  std::string name = newLab();
  up(name, 1);
  auto result = lab("exec", name, {"7", "--", "/bin/true"});
  EXPECT_EQ(result.exitCode, 1);
  EXPECT_NE(result.err.find("no host h7"), std::string::npos) << result.err;
  auto bogus = lab("exec", name, {"x9", "--", "/bin/true"});
  EXPECT_EQ(bogus.exitCode, 1);
  EXPECT_NE(bogus.err.find("not a lab host"), std::string::npos) << bogus.err;
}

TEST_F(LabTest, DownRemovesEverythingAndCanRunAgain) {
  std::string name = newLab();
  up(name, 2);
  auto pids = daemonPids(name);
  ASSERT_EQ(pids.size(), 2u);

  auto down = lab("down", name);
  ASSERT_EQ(down.exitCode, 0) << down.err;
  EXPECT_NE(down.out.find(name + "-ul"), std::string::npos) << down.out;
  expectNothingLeft(name, pids);

  auto again = lab("down", name);
  EXPECT_EQ(again.exitCode, 0) << again.err;
  EXPECT_NE(again.out.find("nothing to remove"), std::string::npos) << again.out;
}

TEST_F(LabTest, DownCleansUpAfterEveryDaemonWasKilledAndTheRecordLost) {
  std::string name = newLab();
  up(name, 2);
  auto pids = daemonPids(name);
  ASSERT_EQ(pids.size(), 2u);
  for (int pid : pids) {
    ASSERT_GT(pid, 1);
    ::kill(pid, SIGKILL);
  }
  fs::remove(fs::path(runDir_.path()) / name / "lab.json");

  auto down = lab("down", name);
  ASSERT_EQ(down.exitCode, 0) << down.err;
  expectNothingLeft(name, pids);
}

TEST_F(LabTest, DownCopesWithADamagedRecord) {
  std::string name = newLab();
  up(name, 1);
  auto pids = daemonPids(name);
  std::ofstream(fs::path(runDir_.path()) / name / "lab.json") << "{not json";
  auto shown = lab("status", name);
  EXPECT_EQ(shown.exitCode, 1);
  EXPECT_NE(shown.err.find("damaged"), std::string::npos) << shown.err;

  auto down = lab("down", name);
  ASSERT_EQ(down.exitCode, 0) << down.err;
  expectNothingLeft(name, pids);
}

TEST_F(LabTest, TwoLabsWithDifferentNamesCoexist) {
  std::string first = newLab();
  std::string second = newLab();
  up(first, 2);
  up(second, 1);
  EXPECT_EQ(namespacesOf(first).size(), 3u);
  EXPECT_EQ(namespacesOf(second).size(), 2u);
  auto secondPids = daemonPids(second);

  auto down = lab("down", first);
  ASSERT_EQ(down.exitCode, 0) << down.err;
  EXPECT_TRUE(namespacesOf(first).empty());
  EXPECT_EQ(namespacesOf(second).size(), 2u);
  ASSERT_EQ(secondPids.size(), 1u);
  EXPECT_TRUE(processRuns(secondPids[0]));
  auto json = status(second);
  EXPECT_TRUE(json["hosts"][0]["daemonAlive"].get<bool>()) << json.dump();
}

TEST_F(LabTest, RefusesASecondLabWithTheSameName) {
  std::string name = newLab();
  up(name, 1);
  auto pids = daemonPids(name);
  auto again = lab("up", name, {"--hosts", "1"});
  EXPECT_EQ(again.exitCode, 1);
  EXPECT_NE(again.err.find("already exists"), std::string::npos) << again.err;
  EXPECT_NE(again.err.find("overmesh lab down --name " + name), std::string::npos) << again.err;
  // The refusal did not damage the existing lab.
  ASSERT_EQ(pids.size(), 1u);
  EXPECT_TRUE(processRuns(pids[0]));
  EXPECT_EQ(namespacesOf(name).size(), 2u);
}

TEST_F(LabTest, RefusesBadNamesAndHostCounts) {
  struct Case {
    std::string name;
    std::string hosts;
    std::string message;
  };
  std::vector<Case> cases = {
      {"Bad_Name", "1", "invalid lab name \"Bad_Name\""},
      {"toolongname", "1", "invalid lab name \"toolongname\""},
      {"", "1", "invalid lab name \"\""},
      {"eok", "0", "--hosts 0 is out of range"},
      {"eok", "51", "--hosts 51 is out of range"},
  };
  for (const auto& c : cases) {
    auto result = lab("up", c.name, {"--hosts", c.hosts});
    EXPECT_EQ(result.exitCode, 1) << c.name << " " << c.hosts;
    EXPECT_NE(result.err.find(c.message), std::string::npos) << result.err;
    if (!c.name.empty()) {
      EXPECT_TRUE(namespacesOf(c.name).empty()) << c.name;
    }
  }
}

TEST_F(LabTest, ClientsSitOnTheUnderlayOutsideTheCluster) {
  std::string name = newLab();
  auto result = lab("up", name, {"--hosts", "2", "--clients", "2"});
  ASSERT_EQ(result.exitCode, 0) << result.out << result.err;
  EXPECT_NE(result.out.find(name + "-c2"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("198.18.0.102"), std::string::npos) << result.out;
  EXPECT_EQ(namespacesOf(name), (std::set<std::string>{name + "-c1", name + "-c2", name + "-h1",
                                                       name + "-h2", name + "-ul"}));

  // A client reaches a host by its underlay address, by every name `lab exec` accepts.
  for (const std::string& client : std::vector<std::string>{"c1", "client2", name + "-c1"}) {
    auto pinged = lab("exec", name, {client, "--", "ping", "-c1", "-W2", "198.18.0.2"});
    EXPECT_EQ(pinged.exitCode, 0) << client << ": " << pinged.out << pinged.err;
  }
  auto address = lab("exec", name, {"c2", "--", ipBinary(), "-j", "-4", "addr", "show", "eth0"});
  ASSERT_EQ(address.exitCode, 0) << address.err;
  EXPECT_NE(address.out.find("\"198.18.0.102\""), std::string::npos) << address.out;
  auto routes = lab("exec", name, {"c1", "--", ipBinary(), "-j", "-4", "route", "show"});
  ASSERT_EQ(routes.exitCode, 0) << routes.err;
  auto routeList = nlohmann::json::parse(routes.out, nullptr, false);
  ASSERT_TRUE(routeList.is_array()) << routes.out;
  ASSERT_EQ(routeList.size(), 1u) << "a client has no default route: " << routes.out;
  EXPECT_EQ(routeList[0]["dst"], "198.18.0.0/24");

  // Not a cluster member: no daemon, the CLI there reaches none, the manager lists only hosts.
  auto cli = lab("exec", name, {"c1", "--", binaryPath("overmesh"), "node", "ls"});
  EXPECT_NE(cli.exitCode, 0) << cli.out;
  EXPECT_NE(cli.err.find("not-a-cluster-member.sock"), std::string::npos) << cli.err;
  auto nodes =
      lab("exec", name, {"1", "--", binaryPath("overmesh"), "node", "ls", "--format", "json"});
  ASSERT_EQ(nodes.exitCode, 0) << nodes.err;
  EXPECT_EQ(nlohmann::json::parse(nodes.out, nullptr, false).size(), 2u) << nodes.out;

  auto json = status(name);
  ASSERT_EQ(json["clients"].size(), 2u) << json.dump();
  for (int i = 0; i < 2; ++i) {
    const auto& client = json["clients"][i];
    EXPECT_EQ(client["name"], fmt::format("c{}", i + 1));
    EXPECT_EQ(client["namespace"], fmt::format("{}-c{}", name, i + 1));
    EXPECT_EQ(client["address"], fmt::format("198.18.0.{}", 101 + i));
    EXPECT_TRUE(client["present"].get<bool>()) << client.dump();
  }
  auto table = lab("status", name);
  ASSERT_EQ(table.exitCode, 0) << table.err;
  EXPECT_NE(table.out.find("CLIENT"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("198.18.0.101"), std::string::npos) << table.out;

  auto missing = lab("exec", name, {"c3", "--", "/bin/true"});
  EXPECT_EQ(missing.exitCode, 1);
  EXPECT_NE(missing.err.find("no client c3"), std::string::npos) << missing.err;
}

TEST_F(LabTest, DownRemovesClientsAndWhatRunsInThemAlsoWithoutTheRecord) {
  std::string name = newLab();
  auto result = lab("up", name, {"--hosts", "1", "--clients", "1"});
  ASSERT_EQ(result.exitCode, 0) << result.out << result.err;
  auto pids = daemonPids(name);
  // A long-running program in the client, as an nginx or a request loop would be.
  auto started =
      lab("exec", name, {"c1", "--", "/bin/sh", "-c", "sleep 300 >/dev/null 2>&1 & echo $!"});
  ASSERT_EQ(started.exitCode, 0) << started.err;
  int sleeper = std::atoi(started.out.c_str());
  ASSERT_GT(sleeper, 1) << started.out;
  pids.push_back(sleeper);
  fs::remove(fs::path(runDir_.path()) / name / "lab.json");

  auto down = lab("down", name);
  ASSERT_EQ(down.exitCode, 0) << down.err;
  EXPECT_NE(down.out.find(name + "-c1"), std::string::npos) << down.out;
  expectNothingLeft(name, pids);
}

// The helper other end-to-end tests use to ask for clients.
TEST_F(LabTest, LabSessionBuildsClientsThatReachEveryHost) {
  LabSession session("lsc");
  ASSERT_TRUE(session.up(2, "info", 1)) << session.error();
  for (int host = 1; host <= 2; ++host) {
    auto pinged = session.execClient(1, {"ping", "-c1", "-W2", LabSession::hostAddress(host)});
    EXPECT_EQ(pinged.exitCode, 0) << pinged.out << pinged.err;
  }
  auto address = session.execClient(1, {ipBinary(), "-4", "-o", "addr", "show", "eth0"});
  EXPECT_NE(address.out.find(LabSession::clientAddress(1) + "/24"), std::string::npos)
      << address.out << address.err;
  EXPECT_EQ(namespacesOf(session.name()).count(session.clientNamespace(1)), 1u);
}

TEST_F(LabTest, RefusesClientCountsOutOfRange) {
  for (std::string clients : {"-1", "21"}) {
    std::string name = fmt::format("ec{}", clients == "21" ? "a" : "b");
    auto result = lab("up", name, {"--hosts", "1", "--clients", clients});
    EXPECT_EQ(result.exitCode, 1) << clients;
    EXPECT_NE(result.err.find(fmt::format("--clients {} is out of range", clients)),
              std::string::npos)
        << result.err;
    EXPECT_TRUE(namespacesOf(name).empty()) << name;
  }
}

// The words of /proc/PID/cmdline.
std::vector<std::string> commandLineOf(int pid) {
  std::string text = readFile(fmt::format("/proc/{}/cmdline", pid));
  std::vector<std::string> words;
  for (std::size_t start = 0; start < text.size();) {
    std::size_t end = text.find('\0', start);
    end = end == std::string::npos ? text.size() : end;
    words.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return words;
}

// `lab up --unit`: every host runs the unit's ExecStart= line as systemd would (its program,
// flags and settings file), then its own socket, state directory and options, which win over
// the unit's settings file; `lab restart` runs the line again, and `--overmeshd` replaces only
// its program.
TEST_F(LabTest, UpWithAUnitRunsItsExecStartLineInEveryHost) {
  TempDir files;
  std::string settings = files.path() + "/overmeshd.conf";
  // No lab host could use these: the hosts only start because their own options win.
  std::ofstream(settings) << "socket = \"/nonexistent/overmesh.sock\"\n"
                          << "state-dir = \"/nonexistent/state\"\n";
  std::string unit = files.path() + "/overmeshd.service";
  std::ofstream(unit) << fmt::format(
      "[Unit]\nDescription=test\n\n[Service]\nType=simple\n"
      "ExecStart={} --allow-root-netns --config \"{}\"\nKillMode=process\n",
      binaryPath("overmeshd"), settings);
  std::string name = newLab();
  auto made = lab("up", name, {"--hosts", "2", "--unit", unit});
  ASSERT_EQ(made.exitCode, 0) << made.out << made.err;

  // Host i's daemon runs `program` with the unit's arguments, then --socket and the rest.
  auto expectUnitLine = [&](int host, const std::string& program) {
    auto json = status(name);
    ASSERT_TRUE(json.is_object());
    EXPECT_EQ(json.value("unit", ""), unit);
    const auto& recorded = json["hosts"][host - 1];
    auto running = commandLineOf(recorded.value("pid", 0));
    ASSERT_GE(running.size(), 5u) << fmt::format("{}", fmt::join(running, " "));
    EXPECT_EQ(std::vector<std::string>(running.begin(), running.begin() + 5),
              (std::vector<std::string>{program, "--allow-root-netns", "--config", settings,
                                        "--socket"}));
    EXPECT_EQ(running, recorded.value("command", std::vector<std::string>{}));
  };
  expectUnitLine(1, binaryPath("overmeshd"));
  expectUnitLine(2, binaryPath("overmeshd"));
  auto nodes = lab("exec", name, {"1", "--", binaryPath("overmesh"), "node", "ls"});
  EXPECT_EQ(nodes.exitCode, 0) << nodes.err;
  EXPECT_NE(nodes.out.find(name + "-h2"), std::string::npos) << nodes.out;

  ASSERT_EQ(lab("restart", name, {"2"}).exitCode, 0);
  expectUnitLine(2, binaryPath("overmeshd"));
  std::string copy = files.path() + "/overmeshd-copy";
  fs::copy_file(binaryPath("overmeshd"), copy);
  fs::permissions(copy, fs::perms::owner_all);
  auto replaced = lab("restart", name, {"2", "--overmeshd", copy});
  ASSERT_EQ(replaced.exitCode, 0) << replaced.err;
  expectUnitLine(2, copy);
  expectUnitLine(1, binaryPath("overmeshd"));
}

TEST_F(LabTest, UpRefusesAUnitWithTheDaemonFlagOrAnExecStartItCannotRunAsIs) {
  TempDir files;
  std::string unit = files.path() + "/overmeshd.service";
  std::ofstream(unit) << "[Service]\nExecStart=/usr/bin/overmeshd --allow-root-netns\n";
  auto both = lab("up", newLab(), {"--unit", unit, "--overmeshd", binaryPath("overmeshd")});
  EXPECT_EQ(both.exitCode, 1);
  EXPECT_NE(both.err.find("--unit " + unit + " and --overmeshd"), std::string::npos) << both.err;

  std::ofstream(unit) << "[Service]\nExecStart=-" << binaryPath("overmeshd") << "\n";
  auto prefixed = lab("up", newLab(), {"--unit", unit});
  EXPECT_EQ(prefixed.exitCode, 1);
  EXPECT_NE(prefixed.err.find(unit + ":2: ExecStart=-"), std::string::npos) << prefixed.err;
  EXPECT_NE(prefixed.err.find("the prefix '-'"), std::string::npos) << prefixed.err;
}

}  // namespace
}  // namespace overmesh::testing
