// The routing mesh as an operator uses it, in a lab of 3 hosts and an outside client
// (a namespace on the underlay that runs no overmeshd): a published port answers on every
// node, also one without a replica, balances over the replicas wherever they run, and the
// replica sees the client's own address; mode=host opens the port only where a replica
// runs; ports are refused when taken and closed when removed; an agent restart keeps a
// stream open; nginx in front of every node loses no request while a node restarts.
//
// Run one:  ctest --test-dir BUILD -R MeshTest.PublishedPort   (as root)

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
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
constexpr const char* kClientAddress = "198.18.0.101";

// Answers TCP on 80 and UDP on 81 with "<hostname> <the peer's address>".
const std::vector<std::string> kEchoServer = {
    "sh", "-c",
    "socat TCP-LISTEN:80,fork,reuseaddr \"SYSTEM:echo \\$(hostname) \\$SOCAT_PEERADDR\" & "
    "exec socat UDP-RECVFROM:81,fork \"SYSTEM:echo \\$(hostname) \\$SOCAT_PEERADDR\""};

std::string nodeAddress(int index) { return fmt::format("198.18.0.{}", index); }

// Replies "<task name> <peer>" counted by task name, and the peers seen; "FAIL" lines
// counted as failures.
struct Replies {
  std::map<std::string, int> perReplica;
  std::set<std::string> peers;
  int failed = 0;
  int total = 0;
};

Replies tally(const std::string& output) {
  Replies replies;
  for (const auto& line : nonEmptyLines(output)) {
    ++replies.total;
    if (line == "FAIL") {
      ++replies.failed;
      continue;
    }
    auto space = line.find(' ');
    ++replies.perReplica[line.substr(0, space)];
    replies.peers.insert(space == std::string::npos ? "" : line.substr(space + 1));
  }
  return replies;
}

class MeshTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!canUseNamespaces()) {
      GTEST_SKIP() << "needs root to create network namespaces";
    }
    lab_ = std::make_unique<LabSession>("mesh");
    ASSERT_TRUE(lab_->up(3, "info", 1)) << lab_->error();
  }

  void TearDown() override {
    if (lab_ && HasFailure()) {
      std::cerr << lab_->logs();
    }
    lab_.reset();
  }

  std::string host(int index) const { return lab_->hostNamespace(index); }
  CommandResult cli(const std::vector<std::string>& args) { return lab_->cli(1, args); }
  CommandResult fromClient(const std::vector<std::string>& argv) {
    return lab_->execClient(1, argv);
  }
  CommandResult fromHost(int index, const std::vector<std::string>& argv) {
    return lab_->exec(index, argv);
  }

  nlohmann::json tasks() { return lab_->json(1, {"ps"}); }

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

  // `count` TCP requests to ADDRESS:PORT from the client; one line each.
  static std::string tcpLoop(const std::string& address, int port, int count) {
    return fmt::format(
        "for i in $(seq {}); do socat -T3 - TCP:{}:{},connect-timeout=3 </dev/null || echo FAIL; "
        "done",
        count, address, port);
  }
  // UDP may lose a datagram, and the echo server loses some by design (socat's forked
  // child for one datagram keeps reading the shared socket for a moment after answering,
  // and can swallow the next one): like any UDP client, each request is tried up to 3
  // times; "FAIL" only when none was answered.
  static std::string udpLoop(const std::string& address, int port, int count) {
    return fmt::format(
        "for i in $(seq {}); do r=; for try in 1 2 3; do "
        "r=$(echo hi | socat -T1 - UDP:{}:{} | head -n1); [ -n \"$r\" ] && break; done; "
        "echo \"${{r:-FAIL}}\"; done",
        count, address, port);
  }

  // Whether a TCP connection from the client to ADDRESS:PORT gets an answer.
  bool clientReaches(const std::string& address, int port) {
    auto result = fromClient({"sh", "-c", tcpLoop(address, port, 1)});
    return result.exitCode == 0 && !result.out.empty() && result.out.find("FAIL") == std::string::npos;
  }

  std::unique_ptr<LabSession> lab_;
};

TEST_F(MeshTest, PublishedPortAnswersOnEveryNodeAndKeepsTheClientAddress) {
  createService("web",
                {"--replicas", "2", "--constraint", "node.hostname!=" + host(3), "--publish",
                 "published=8080,target=80", "--publish", "8081:81/udp"},
                kEchoServer, 2);
  std::set<std::string> replicaNodes;
  for (const auto& task : runningTasks("web")) {
    replicaNodes.insert(task.value("nodeName", ""));
  }
  EXPECT_EQ(replicaNodes, (std::set<std::string>{host(1), host(2)}));

  // Every node answers, h3 included (no replica there); 200 connections to each reach both
  // replicas, and each replica saw the client's own address.
  for (int node = 1; node <= 3; ++node) {
    ASSERT_TRUE(eventually([&] { return clientReaches(nodeAddress(node), 8080); }, kConverge))
        << "node " << node << " never answered on 8080";
    auto replies = tally(fromClient({"sh", "-c", tcpLoop(nodeAddress(node), 8080, 200)}).out);
    EXPECT_EQ(replies.total, 200) << "node " << node;
    EXPECT_EQ(replies.failed, 0) << "node " << node;
    EXPECT_EQ(replies.perReplica.size(), 2u) << "node " << node << ": both replicas answered";
    EXPECT_EQ(replies.peers, std::set<std::string>{kClientAddress})
        << "node " << node << ": the replicas see the client's own address";
  }

  // UDP the same.
  for (int node = 1; node <= 3; ++node) {
    ASSERT_TRUE(eventually(
        [&] {
          auto replies = tally(fromClient({"sh", "-c", udpLoop(nodeAddress(node), 8081, 1)}).out);
          return replies.failed == 0 && replies.total == 1;
        },
        kConverge))
        << "node " << node << " never answered on 8081/udp";
    auto replies = tally(fromClient({"sh", "-c", udpLoop(nodeAddress(node), 8081, 40)}).out);
    EXPECT_EQ(replies.failed, 0) << "node " << node;
    EXPECT_EQ(replies.perReplica.size(), 2u) << "node " << node << ": both replicas answered (udp)";
    EXPECT_EQ(replies.peers, std::set<std::string>{kClientAddress}) << "node " << node;
  }

  // From a node itself (its own address and another node's), and from a task.
  EXPECT_EQ(tally(fromHost(3, {"sh", "-c", tcpLoop(nodeAddress(3), 8080, 5)}).out).failed, 0)
      << "h3 reaches its own published port";
  EXPECT_EQ(tally(fromHost(3, {"sh", "-c", tcpLoop(nodeAddress(1), 8080, 5)}).out).failed, 0)
      << "h3 reaches h1's published port";
  ASSERT_EQ(cli({"network", "create", "--attachable", "--subnet", "10.0.30.0/24", "app"}).exitCode,
            0);
  auto ran = cli({"run", "--name", "probe", "--node", host(3), "--network", "app", "--", "sleep",
                  "3600"});
  ASSERT_EQ(ran.exitCode, 0) << ran.err;
  auto fromTask =
      cli({"exec", "probe", "--", "sh", "-c", tcpLoop(nodeAddress(2), 8080, 5)});
  EXPECT_EQ(tally(fromTask.out).failed, 0) << fromTask.out << fromTask.err;

  // Nothing but the published targets is reachable through the ingress network: from a
  // node, the replica's ingress address answers 80 (its target), while a connection to
  // another port is dropped (a timeout, not the refusal a closed port would give).
  std::string ingressAddress;
  for (const auto& task : runningTasks("web")) {
    const auto& attachments = task["attachments"];
    if (!attachments.empty()) {
      std::string address = attachments.back().value("address", "");
      ingressAddress = address.substr(0, address.find('/'));
    }
  }
  ASSERT_FALSE(ingressAddress.empty());
  EXPECT_EQ(tally(fromHost(3, {"sh", "-c", tcpLoop(ingressAddress, 80, 1)}).out).failed, 0)
      << "the target port is reachable on the ingress network";
  auto before = std::chrono::steady_clock::now();
  auto closed = fromHost(
      3, {"socat", "-T2", "-", fmt::format("TCP:{}:9999,connect-timeout=2", ingressAddress)});
  auto waited = std::chrono::steady_clock::now() - before;
  EXPECT_NE(closed.exitCode, 0);
  EXPECT_THAT(closed.err, ::testing::Not(HasSubstr("refused")))
      << "a port that is not published must be dropped on the ingress network";
  EXPECT_GE(waited, std::chrono::milliseconds(1900))
      << "the connection must time out (dropped), not fail at once: " << closed.err;

  // The service shows its ports; another service cannot take 8080.
  EXPECT_THAT(cli({"service", "ls"}).out, HasSubstr("*:8080->80/tcp"));
  auto taken = cli({"service", "create", "-d", "--name", "other", "--publish", "8080:80", "--",
                    "sleep", "3600"});
  EXPECT_NE(taken.exitCode, 0);
  EXPECT_THAT(taken.err, HasSubstr("web"));
  auto removeIngress = cli({"network", "rm", "ingress"});
  EXPECT_NE(removeIngress.exitCode, 0) << "ingress cannot go while web publishes a port";
  EXPECT_THAT(removeIngress.err, HasSubstr("web"));

  // --publish-rm closes the port on every node.
  auto removed = cli({"service", "update", "-d", "--publish-rm", "80", "web"});
  ASSERT_EQ(removed.exitCode, 0) << removed.err;
  for (int node = 1; node <= 3; ++node) {
    EXPECT_TRUE(eventually([&] { return !clientReaches(nodeAddress(node), 8080); }, kConverge))
        << "node " << node << " still answers on 8080 after --publish-rm";
  }
}

TEST_F(MeshTest, HostModeOpensThePortOnlyWhereAReplicaRuns) {
  createService("edge",
                {"--replicas", "1", "--constraint", "node.hostname==" + host(2), "--publish",
                 "mode=host,published=8090,target=80"},
                kEchoServer, 1);
  ASSERT_TRUE(eventually([&] { return clientReaches(nodeAddress(2), 8090); }, kConverge))
      << "h2 (the replica's node) never answered on 8090";
  auto replies = tally(fromClient({"sh", "-c", tcpLoop(nodeAddress(2), 8090, 20)}).out);
  EXPECT_EQ(replies.failed, 0);
  EXPECT_EQ(replies.peers, std::set<std::string>{kClientAddress});
  for (int node : {1, 3}) {
    auto refused = fromClient(
        {"socat", "-T2", "-", fmt::format("TCP:{}:8090,connect-timeout=2", nodeAddress(node))});
    EXPECT_NE(refused.exitCode, 0) << "node " << node << " has no replica and must refuse";
    EXPECT_THAT(refused.err, HasSubstr("refused")) << "node " << node;
  }
}

TEST_F(MeshTest, AgentRestartsKeepAStreamThroughTheMeshOpen) {
  // Each connection gets 60 lines, one every 100 ms: a 6 s stream.
  createService("stream",
                {"--replicas", "1", "--constraint", "node.hostname==" + host(1), "--publish",
                 "8082:80"},
                {"socat", "TCP-LISTEN:80,fork,reuseaddr",
                 "SYSTEM:for i in $(seq 60); do echo line$i; sleep 0.1; done"},
                1);
  ASSERT_TRUE(eventually(
      [&] {
        auto probe = fromClient({"sh", "-c",
                                 fmt::format("socat -T3 -u TCP:{}:8082,connect-timeout=2 - | head "
                                             "-n1",
                                             nodeAddress(3))});
        return probe.out.find("line1") != std::string::npos;
      },
      kConverge));
  CommandResult stream;
  std::thread reader([&] {
    stream = fromClient(
        {"sh", "-c", fmt::format("socat -T5 -u TCP:{}:8082 - | wc -l", nodeAddress(3))});
  });
  std::this_thread::sleep_for(seconds(1));
  // The ingress node's daemon and the backend node's daemon restart under the stream.
  auto restarted = lab_->lab({"restart", "h3"});
  EXPECT_EQ(restarted.exitCode, 0) << restarted.err;
  auto restartedBackend = lab_->lab({"restart", "h1"});
  EXPECT_EQ(restartedBackend.exitCode, 0) << restartedBackend.err;
  reader.join();
  EXPECT_EQ(stream.out, "60\n") << "the stream lost lines or was reset: " << stream.err;
}

// The seed's two tiers: nginx in the outside client balances over every node's published
// port, each node's mesh over the replicas. A node's daemon stops and starts again under
// a steady request loop: no request fails, and replicas on every node answer.
TEST_F(MeshTest, NginxInFrontOfEveryNodeLosesNoRequestWhileANodeRestarts) {
  if (runCommand({"/bin/sh", "-c", "command -v nginx && command -v curl"}).exitCode != 0) {
    GTEST_SKIP() << "nginx or curl is not installed (scripts/setup.sh installs them)";
  }
  // An HTTP responder (tasks run on the host's filesystem): reads the request, answers
  // "<task name> <peer address>".
  std::string responder = lab_->runDir() + "/http-responder.sh";
  {
    std::ofstream file(responder);
    file << "#!/bin/sh\n"
            "while read -r line && [ ${#line} -gt 1 ]; do :; done\n"
            "printf 'HTTP/1.0 200 OK\\r\\n\\r\\n%s %s\\n' \"$(hostname)\" "
            "\"$SOCAT_PEERADDR\"\n";
  }
  std::filesystem::permissions(responder, std::filesystem::perms::owner_all);
  createService("web", {"--replicas", "3", "--publish", "8080:80"},
                {"socat", "TCP-LISTEN:80,fork,reuseaddr", "EXEC:" + responder}, 3);
  std::map<std::string, std::string> nodeOfReplica;
  for (const auto& task : runningTasks("web")) {
    nodeOfReplica[task.value("name", "")] = task.value("nodeName", "");
  }
  for (int node = 1; node <= 3; ++node) {
    ASSERT_TRUE(eventually([&] { return clientReaches(nodeAddress(node), 8080); }, kConverge));
  }

  std::vector<std::string> nginx = {"/usr/bin/env", "OVERMESH_LAB_DIR=" + lab_->runDir(),
                                    "OVERMESH=" + binaryPath("overmesh"),
                                    std::string(OVERMESH_SOURCE_DIR) + "/scripts/lab-nginx.sh"};
  auto start = nginx;
  start.insert(start.end(), {"start", lab_->name(), "c1", "8000", nodeAddress(1) + ":8080",
                             nodeAddress(2) + ":8080", nodeAddress(3) + ":8080"});
  auto started = runCommand(start);
  ASSERT_EQ(started.exitCode, 0) << started.out << started.err;

  CommandResult loop;
  std::thread client([&] {
    loop = fromClient(
        {"sh", "-c",
         "for i in $(seq 500); do curl -sf -m 3 http://127.0.0.1:8000/ || echo FAIL; "
         "sleep 0.02; done"});
  });
  std::this_thread::sleep_for(seconds(1));
  auto stopped = lab_->lab({"stop", "h2"});
  EXPECT_EQ(stopped.exitCode, 0) << stopped.err;
  std::this_thread::sleep_for(seconds(5));  // past the node timeout: h2 is declared down
  auto restarted = lab_->lab({"start", "h2"});
  EXPECT_EQ(restarted.exitCode, 0) << restarted.err;
  client.join();

  auto replies = tally(loop.out);
  EXPECT_EQ(replies.total, 500);
  EXPECT_EQ(replies.failed, 0) << "requests failed through nginx and the mesh";
  EXPECT_EQ(replies.peers, std::set<std::string>{kClientAddress})
      << "the replicas see nginx's (the client's) own address";
  std::set<std::string> answeringNodes;
  for (const auto& [replica, count] : replies.perReplica) {
    if (auto node = nodeOfReplica.find(replica); node != nodeOfReplica.end()) {
      answeringNodes.insert(node->second);
    }
  }
  EXPECT_TRUE(answeringNodes.contains(host(1)) && answeringNodes.contains(host(3)))
      << "replicas on every live node answered; got " << replies.perReplica.size()
      << " replicas";
  auto stop = nginx;
  stop.insert(stop.end(), {"stop", lab_->name(), "c1", "8000"});
  runCommand(stop);
}

}  // namespace
}  // namespace overmesh::testing
