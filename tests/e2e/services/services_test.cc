// Services as an operator uses them, in a 3-host lab: replicas spread over the hosts,
// found by name through the embedded DNS (127.0.0.11 in every task), reached through one
// virtual IP balanced in the client's own sandbox (the backend sees the client's
// address), and kept alive: scaling, rolling updates, failed health checks and a stopped
// host change DNS answers and load-balancer maps without a client noticing.
//
// Run one:  ctest --test-dir BUILD -R ServicesTest.VipBalances   (as root)

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <csignal>
#include <cstdio>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <thread>

#include "support/lab_session.h"

namespace overmesh::testing {
namespace {

using std::chrono::seconds;
using ::testing::HasSubstr;

constexpr auto kConverge = seconds(40);

// Answers TCP on 80 with "<hostname> <the peer's address>" and UDP on 81 with the
// hostname: a reply proves which replica answered and whom it saw.
const std::vector<std::string> kWebServer = {
    "sh", "-c",
    "socat TCP-LISTEN:80,fork,reuseaddr \"SYSTEM:echo \\$(hostname) \\$SOCAT_PEERADDR\" & "
    "exec socat UDP-RECVFROM:81,fork SYSTEM:hostname"};

std::string withoutPrefix(const std::string& cidr) { return cidr.substr(0, cidr.find('/')); }

class ServicesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!canUseNamespaces()) {
      GTEST_SKIP() << "needs root to create network namespaces";
    }
    lab_ = std::make_unique<LabSession>("svc");
    ASSERT_TRUE(lab_->up(3)) << lab_->error();
    auto created = lab_->cli(
        1, {"network", "create", "-d", "overlay", "--attachable", "--subnet=10.0.20.0/24", "app"});
    ASSERT_EQ(created.exitCode, 0) << created.err;
  }

  void TearDown() override {
    if (lab_ && HasFailure()) {
      std::cerr << lab_->logs();
    }
    lab_.reset();
  }

  std::string host(int index) const { return lab_->hostNamespace(index); }

  CommandResult cli(const std::vector<std::string>& args) { return lab_->cli(1, args); }

  // `service create -d` with `flags`, then waits until `running` tasks run.
  void createService(const std::string& name, const std::vector<std::string>& flags,
                     const std::vector<std::string>& command, std::size_t running) {
    std::vector<std::string> args = {"service", "create", "-d", "--name", name};
    args.insert(args.end(), flags.begin(), flags.end());
    args.push_back("--");
    args.insert(args.end(), command.begin(), command.end());
    auto created = cli(args);
    ASSERT_EQ(created.exitCode, 0) << created.err;
    ASSERT_TRUE(eventually([&] { return runningTasks(name).size() == running; }, kConverge))
        << name << " never ran " << running
        << " tasks; tasks: " << cli({"service", "ps", name}).out;
  }

  nlohmann::json tasks() { return lab_->json(1, {"ps"}); }

  // The service's tasks that should run and run.
  std::vector<nlohmann::json> runningTasks(const std::string& service) {
    std::vector<nlohmann::json> out;
    for (const auto& task : tasks()) {
      if (task.value("serviceName", "") == service && task.value("desiredState", "") == "running" &&
          task.value("state", "") == "running") {
        out.push_back(task);
      }
    }
    return out;
  }

  std::set<std::string> addressesOf(const std::vector<nlohmann::json>& list) {
    std::set<std::string> out;
    for (const auto& task : list) {
      out.insert(withoutPrefix(task["attachments"][0].value("address", "")));
    }
    return out;
  }

  nlohmann::json inspectService(const std::string& name) {
    auto result = cli({"service", "inspect", name});
    auto json = nlohmann::json::parse(result.out, nullptr, false);
    if (json.is_array() && !json.empty()) {
      return json[0];
    }
    return json;
  }

  std::string vipOf(const std::string& service) {
    auto service_ = inspectService(service);
    if (!service_.is_object() || service_["vips"].empty()) {
      return "";
    }
    return withoutPrefix(service_["vips"][0].value("address", ""));
  }

  // A client task pinned to `hostIndex` on `network`; waits until it runs.
  void client(const std::string& name, int hostIndex, const std::string& network = "app") {
    auto ran = cli({"run", "--name", name, "--node", host(hostIndex), "--network", network, "--",
                    "sleep", "3600"});
    ASSERT_EQ(ran.exitCode, 0) << ran.err;
    ASSERT_TRUE(eventually(
        [&] {
          for (const auto& task : tasks()) {
            if (task.value("name", "") == name && task.value("state", "") == "running") {
              return true;
            }
          }
          return false;
        },
        kConverge));
  }

  CommandResult inTask(const std::string& task, const std::vector<std::string>& argv) {
    std::vector<std::string> args = {"exec", task, "--"};
    args.insert(args.end(), argv.begin(), argv.end());
    return cli(args);
  }

  // The IPv4 addresses `name` resolves to inside `task` (getent ahostsv4, deduplicated).
  std::set<std::string> resolve(const std::string& task, const std::string& name) {
    auto result = inTask(task, {"getent", "ahostsv4", name});
    std::set<std::string> out;
    for (const auto& line : nonEmptyLines(result.out)) {
      out.insert(line.substr(0, line.find(' ')));
    }
    return out;
  }

  // `count` TCP connections to NAME:80 from `task`: one reply line each ("host peer"),
  // "FAIL" for a connection that failed.
  std::vector<std::string> connect(const std::string& task, const std::string& target, int count) {
    auto result =
        inTask(task, {"sh", "-c",
                      fmt::format("for i in $(seq {}); do socat -T3 - TCP:{}:80,connect-timeout=3 "
                                  "</dev/null || echo FAIL; done",
                                  count, target)});
    return nonEmptyLines(result.out);
  }

  std::unique_ptr<LabSession> lab_;
};

TEST_F(ServicesTest, VipBalancesOverReplicasOnEveryHostAndKeepsTheClientAddress) {
  createService("web", {"--replicas", "3", "--network", "app"}, kWebServer, 3);
  auto replicas = runningTasks("web");
  std::set<std::string> replicaNodes;
  for (const auto& task : replicas) {
    replicaNodes.insert(task.value("nodeId", ""));
  }
  EXPECT_EQ(replicaNodes.size(), 3u) << "3 replicas spread over 3 hosts";
  std::string vip = vipOf("web");
  ASSERT_FALSE(vip.empty());
  EXPECT_FALSE(addressesOf(replicas).contains(vip)) << "the VIP is never a task's address";

  for (int index = 1; index <= 3; ++index) {
    std::string name = fmt::format("client{}", index);
    client(name, index);
    EXPECT_TRUE(
        eventually([&] { return resolve(name, "web") == std::set<std::string>{vip}; }, kConverge))
        << name << ": web resolves to the VIP " << vip;
    EXPECT_TRUE(
        eventually([&] { return resolve(name, "tasks.web") == addressesOf(replicas); }, kConverge))
        << name << ": tasks.web resolves to the 3 replicas";
  }

  // 300 connections from client1 through the VIP reach all 3 replicas, each seeing
  // client1's own overlay address.
  std::string clientAddress;
  for (const auto& task : tasks()) {
    if (task.value("name", "") == "client1") {
      clientAddress = withoutPrefix(task["attachments"][0].value("address", ""));
    }
  }
  auto replies = connect("client1", "web", 300);
  EXPECT_EQ(replies.size(), 300u);
  std::map<std::string, int> perReplica;
  int failed = 0;
  for (const auto& reply : replies) {
    if (reply == "FAIL") {
      ++failed;
      continue;
    }
    auto space = reply.find(' ');
    ++perReplica[reply.substr(0, space)];
    EXPECT_EQ(reply.substr(space + 1), clientAddress) << "the backend sees the client's address";
  }
  EXPECT_EQ(failed, 0);
  EXPECT_EQ(perReplica.size(), 3u) << "every replica answered: " << replies.size() << " replies";

  EXPECT_EQ(inTask("client2", {"ping", "-c1", "-W3", vip}).exitCode, 0) << "the VIP answers ping";
  auto udp = inTask("client3", {"sh", "-c", "echo hi | socat -T3 - UDP:web:81"});
  EXPECT_EQ(udp.exitCode, 0) << udp.err;
  EXPECT_THAT(udp.out, HasSubstr("web.")) << "a replica answered over UDP through the VIP";

  // Another network's task neither resolves the name nor reaches the VIP.
  ASSERT_EQ(
      cli({"network", "create", "--attachable", "--subnet", "10.0.21.0/24", "other"}).exitCode, 0);
  client("outsider", 2, "other");
  auto lookup = inTask("outsider", {"getent", "ahostsv4", "web"});
  EXPECT_NE(lookup.exitCode, 0) << "web is unknown on another network: " << lookup.out;
  auto reach =
      inTask("outsider", {"socat", "-T2", "-", fmt::format("TCP:{}:80,connect-timeout=2", vip)});
  EXPECT_NE(reach.exitCode, 0) << "the VIP is unreachable from another network: " << reach.out;

  // The network cannot be removed while the service uses it.
  auto removed = cli({"network", "rm", "app"});
  EXPECT_NE(removed.exitCode, 0);
  EXPECT_THAT(removed.err, HasSubstr("web"));
}

TEST_F(ServicesTest, ScaleAndRollingUpdateNeverFailAClientConnection) {
  createService("web", {"--replicas", "3", "--network", "app", "--update-parallelism", "1"},
                kWebServer, 3);
  client("client", 1);
  ASSERT_TRUE(eventually([&] { return resolve("client", "tasks.web").size() == 3; }, kConverge));

  ASSERT_EQ(cli({"service", "scale", "-d", "web=6"}).exitCode, 0);
  ASSERT_TRUE(eventually([&] { return runningTasks("web").size() == 6; }, kConverge));
  EXPECT_TRUE(
      eventually([&] { return resolve("client", "tasks.web") == addressesOf(runningTasks("web")); },
                 kConverge))
      << "tasks.web follows the scale-up";

  // A steady client loop while the service scales down and then rolls to a new version.
  std::vector<std::string> replies;
  std::thread loop([&] { replies = connect("client", "web", 400); });
  std::this_thread::sleep_for(seconds(1));
  auto scaled = cli({"service", "scale", "web=2"});
  EXPECT_EQ(scaled.exitCode, 0) << scaled.out << scaled.err;
  auto updated = cli({"service", "update", "--env-add", "VERSION=2", "web"});
  EXPECT_EQ(updated.exitCode, 0) << updated.out << updated.err;
  EXPECT_THAT(updated.out, HasSubstr("converged"));
  loop.join();
  EXPECT_EQ(replies.size(), 400u) << "every connection of the loop ran";
  int failed = 0;
  for (const auto& reply : replies) {
    failed += reply == "FAIL" ? 1 : 0;
  }
  EXPECT_EQ(failed, 0) << "no connection failed during scale-down and update (" << replies.size()
                       << " connections)";
  EXPECT_EQ(runningTasks("web").size(), 2u);
  for (const auto& task : runningTasks("web")) {
    EXPECT_EQ(task.value("specVersion", 0), 2) << "every running task has the new spec";
  }
  EXPECT_TRUE(
      eventually([&] { return resolve("client", "tasks.web") == addressesOf(runningTasks("web")); },
                 kConverge))
      << "tasks.web follows the scale-down and update";
}

TEST_F(ServicesTest, AFailingHealthCheckTakesTheTaskOutAndReplacesIt) {
  // Healthy while /tmp/om-sick-<hostname> does not exist (tasks share the host's /tmp).
  createService(
      "web",
      {"--replicas", "2", "--network", "app", "--health-cmd", "test ! -e /tmp/om-sick-$(hostname)",
       "--health-interval", "500ms", "--health-retries", "2", "--health-timeout", "2s"},
      kWebServer, 2);
  client("client", 1);
  ASSERT_TRUE(eventually(
      [&] {
        auto running = runningTasks("web");
        return running.size() == 2 && running[0].value("health", "") == "healthy" &&
               running[1].value("health", "") == "healthy" &&
               resolve("client", "tasks.web") == addressesOf(running);
      },
      kConverge));
  auto victim = runningTasks("web")[0];
  std::string victimName = victim.value("name", "");
  std::string victimAddress = withoutPrefix(victim["attachments"][0].value("address", ""));
  std::string sick = "/tmp/om-sick-" + victimName;
  ASSERT_EQ(lab_->exec(1, {"touch", sick}).exitCode, 0);
  EXPECT_TRUE(eventually([&] { return !resolve("client", "tasks.web").contains(victimAddress); },
                         kConverge))
      << "the unhealthy task left DNS";
  EXPECT_TRUE(eventually(
      [&] {
        auto running = runningTasks("web");
        if (running.size() != 2) {
          return false;
        }
        for (const auto& task : running) {
          if (task.value("name", "") == victimName || task.value("health", "") != "healthy") {
            return false;
          }
        }
        return true;
      },
      kConverge))
      << "a healthy replacement runs: " << cli({"service", "ps", "web"}).out;
  auto after = connect("client", "web", 30);
  EXPECT_EQ(after.size(), 30u);
  for (const auto& reply : after) {
    EXPECT_NE(reply, "FAIL");
  }
  std::remove(sick.c_str());
}

TEST_F(ServicesTest, AStoppedHostsEndpointsLeaveAndReplacementsRun) {
  createService("web", {"--replicas", "3", "--network", "app"}, kWebServer, 3);
  client("client", 1);
  ASSERT_TRUE(eventually([&] { return resolve("client", "tasks.web").size() == 3; }, kConverge));
  std::set<std::string> onHost3;
  std::string host3Id;
  for (const auto& node : lab_->json(1, {"node", "ls"})) {
    if (node.value("hostname", "") == host(3)) {
      host3Id = node.value("id", "");
    }
  }
  for (const auto& task : runningTasks("web")) {
    if (task.value("nodeId", "") == host3Id) {
      onHost3.insert(withoutPrefix(task["attachments"][0].value("address", "")));
    }
  }
  ASSERT_FALSE(onHost3.empty());
  ASSERT_EQ(lab_->lab({"stop", host(3)}).exitCode, 0);
  EXPECT_TRUE(eventually(
      [&] {
        auto answer = resolve("client", "tasks.web");
        for (const auto& address : onHost3) {
          if (answer.contains(address)) {
            return false;
          }
        }
        return !answer.empty();
      },
      kConverge))
      << "host 3's replica left tasks.web";
  EXPECT_TRUE(eventually([&] { return runningTasks("web").size() == 3; }, kConverge))
      << "a replacement runs: " << cli({"service", "ps", "web"}).out;
  auto after = connect("client", "web", 30);
  EXPECT_EQ(after.size(), 30u);
  for (const auto& reply : after) {
    EXPECT_NE(reply, "FAIL");
  }
  // Back: its old task is stopped, not run next to its replacement.
  ASSERT_EQ(lab_->lab({"start", host(3)}).exitCode, 0);
  EXPECT_TRUE(eventually(
      [&] {
        for (const auto& node : lab_->json(1, {"node", "ls"})) {
          if (node.value("hostname", "") == host(3)) {
            return node.value("state", "") == "ready";
          }
        }
        return false;
      },
      kConverge));
  std::this_thread::sleep_for(seconds(3));
  EXPECT_EQ(runningTasks("web").size(), 3u) << cli({"service", "ps", "web"}).out;
}

TEST_F(ServicesTest, DnsrrAliasesGlobalModeAndConstraints) {
  createService("db",
                {"--replicas", "2", "--endpoint-mode", "dnsrr", "--network", "app,alias=database"},
                kWebServer, 2);
  client("client", 2);
  auto dbTasks = addressesOf(runningTasks("db"));
  EXPECT_TRUE(eventually([&] { return resolve("client", "db") == dbTasks; }, kConverge))
      << "dnsrr: the name gives the task addresses";
  EXPECT_TRUE(eventually([&] { return resolve("client", "database") == dbTasks; }, kConverge))
      << "the alias too";
  EXPECT_TRUE(inspectService("db")["vips"].empty()) << "no VIP in dnsrr mode";

  createService("agent", {"--mode", "global", "--network", "app"}, {"sleep", "3600"}, 3);

  ASSERT_EQ(cli({"node", "update", "--label-add", "zone=east", host(3)}).exitCode, 0);
  createService("pinned",
                {"--replicas", "2", "--network", "app", "--constraint", "node.labels.zone==east"},
                {"sleep", "3600"}, 2);
  std::string host3Id;
  for (const auto& node : lab_->json(1, {"node", "ls"})) {
    if (node.value("hostname", "") == host(3)) {
      host3Id = node.value("id", "");
    }
  }
  for (const auto& task : runningTasks("pinned")) {
    EXPECT_EQ(task.value("nodeId", ""), host3Id) << "the constraint places both on host 3";
  }
  auto bad =
      cli({"service", "create", "--name", "x", "--constraint", "node.colour==red", "--", "true"});
  EXPECT_NE(bad.exitCode, 0);
  EXPECT_THAT(bad.err, HasSubstr("node.colour==red"));
}

TEST_F(ServicesTest, RestartPolicyGivesUpAfterMaxAttempts) {
  auto created = cli({"service", "create", "-d", "--name", "crash", "--network", "app",
                      "--restart-condition", "on-failure", "--restart-delay", "200ms",
                      "--restart-max-attempts", "2", "--", "sh", "-c", "exit 3"});
  ASSERT_EQ(created.exitCode, 0) << created.err;
  auto failedTasks = [&] {
    int count = 0;
    for (const auto& task : tasks()) {
      if (task.value("serviceName", "") == "crash" && task.value("state", "") == "failed") {
        ++count;
      }
    }
    return count;
  };
  // The first task and 2 restarts, Docker's meaning of --restart-max-attempts.
  EXPECT_TRUE(eventually([&] { return failedTasks() == 3; }, kConverge))
      << cli({"service", "ps", "crash"}).out;
  std::this_thread::sleep_for(seconds(2));
  EXPECT_EQ(failedTasks(), 3) << "no fourth attempt";
}

TEST_F(ServicesTest, UnknownNamesGoToTheNodesResolverAndFailCleanlyWhenItIsDown) {
  // A resolver inside the lab (host 2's namespace), named in host 1's resolv.conf.
  std::string upstream =
      lab_->exec(2, {"sh", "-c", "ip -4 -o addr show | awk '/198.18/ {print $4}'"}).out;
  upstream = withoutPrefix(nonEmptyLines(upstream).at(0));
  auto dnsmasq = lab_->exec(2, {"sh", "-c",
                                fmt::format("dnsmasq --no-resolv --no-hosts --listen-address={} "
                                            "--bind-interfaces --address=/example.test/198.18.9.9 "
                                            "--pid-file=/tmp/om-dnsmasq-{}.pid",
                                            upstream, lab_->name())});
  std::string pidFile = fmt::format("/tmp/om-dnsmasq-{}.pid", lab_->name());
  // dnsmasq daemonises: it is ended by the PID it wrote, also when the test fails.
  struct StopDnsmasq {
    std::string pidFile;
    ~StopDnsmasq() {
      auto pid = readFile(pidFile);
      if (!pid.empty()) {
        ::kill(std::stoi(pid), SIGTERM);
      }
      std::remove(pidFile.c_str());
    }
  } stopDnsmasq{pidFile};
  ASSERT_EQ(dnsmasq.exitCode, 0) << dnsmasq.err;
  client("client", 1);
  auto info = lab_->json(1, {"info"});
  // The lab gives every host its own resolv.conf (overmeshd --resolv-conf) in its state
  // directory, re-read by the resolver when it changes.
  std::string hostResolvConf = info.value("stateDir", "") + "/resolv.conf";
  {
    std::FILE* file = std::fopen(hostResolvConf.c_str(), "w");
    ASSERT_NE(file, nullptr) << hostResolvConf;
    std::fprintf(file, "nameserver %s\n", upstream.c_str());
    std::fclose(file);
  }
  EXPECT_TRUE(eventually(
      [&] { return resolve("client", "example.test") == std::set<std::string>{"198.18.9.9"}; },
      kConverge))
      << "an unknown name is forwarded to the node's resolver";
  auto pid = nonEmptyLines(readFile(pidFile));
  ASSERT_FALSE(pid.empty());
  ::kill(std::stoi(pid[0]), SIGTERM);
  std::remove(pidFile.c_str());
  auto answer = inTask("client", {"dig", "+tries=1", "+time=8", "example.test"});
  EXPECT_THAT(answer.out, HasSubstr("SERVFAIL")) << answer.out << answer.err;
}

}  // namespace
}  // namespace overmesh::testing
