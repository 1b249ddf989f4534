// The local API over TCP (issue 12 item 6): overmeshd --host tcp://… serves it only with
// TLS and client certificates, and the CLI reaches it only with --tlsverify and its
// files, as Docker's --tlsverify model. The daemon runs in a network namespace of its
// own; the CLI joins that namespace (setns) to reach it on its loopback.

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "support/process.h"
#include "support/test_certs.h"

namespace overmesh::testing {
namespace {

using ::testing::HasSubstr;

// Any port: the daemon's namespace is its own.
constexpr const char* kRemoteTlsEndpoint = "tcp://127.0.0.1:23760";

void writeTlsTestFile(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

// Runs `argv` inside the network namespace of process `pid`, with that namespace's
// loopback up (a fresh namespace has it down).
CommandResult runInNetnsOf(pid_t pid, const std::vector<std::string>& argv) {
  TempDir outputs;
  std::string outPath = outputs.path() + "/out";
  std::string errPath = outputs.path() + "/err";
  pid_t child = fork();
  if (child == 0) {
    int out = open(outPath.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int err = open(errPath.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(out, STDOUT_FILENO);
    dup2(err, STDERR_FILENO);
    std::string nsPath = "/proc/" + std::to_string(pid) + "/ns/net";
    int ns = open(nsPath.c_str(), O_RDONLY | O_CLOEXEC);
    if (ns < 0 || setns(ns, CLONE_NEWNET) != 0) {
      _exit(126);
    }
    int control = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ifreq request{};
    std::strncpy(request.ifr_name, "lo", IFNAMSIZ - 1);
    if (control < 0 || ioctl(control, SIOCGIFFLAGS, &request) != 0) {
      _exit(125);
    }
    request.ifr_flags = static_cast<short>(request.ifr_flags | IFF_UP);
    if (ioctl(control, SIOCSIFFLAGS, &request) != 0) {
      _exit(125);
    }
    std::vector<char*> args;
    for (const auto& arg : argv) {
      args.push_back(const_cast<char*>(arg.c_str()));
    }
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  int status = 0;
  waitpid(child, &status, 0);
  CommandResult result;
  result.exitCode = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  result.out = readFile(outPath);
  result.err = readFile(errPath);
  return result;
}

class RemoteTlsCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!canUseNamespaces()) {
      GTEST_SKIP() << "needs root to run overmeshd in a namespace of its own";
    }
    TestCa ca = makeTestCa("operator-ca");
    TestCert server = makeTestCert(
        ca, TestCertSpec{
                .nodeId = "daemon", .role = "", .clusterId = "", .ipAddresses = {"127.0.0.1"}});
    TestCert client =
        makeTestCert(ca, TestCertSpec{.nodeId = "operator", .role = "", .clusterId = ""});
    // A node certificate (OU worker, a cluster ID) of the very CA the daemon trusts: what a
    // worker would hold if an operator gave --tlscacert the cluster's own CA.
    TestCert nodeCert = makeTestCert(
        ca, TestCertSpec{.nodeId = "worker1", .role = "worker", .clusterId = "cluster1"});
    writeTlsTestFile(file("node.pem"), nodeCert.certPem);
    writeTlsTestFile(file("node-key.pem"), nodeCert.keyPem);
    TestCa otherCa = makeTestCa("someone-else");
    TestCert stranger = makeTestCert(otherCa, TestCertSpec{.nodeId = "stranger"});
    writeTlsTestFile(file("ca.pem"), ca.certPem);
    writeTlsTestFile(file("server.pem"), server.certPem);
    writeTlsTestFile(file("server-key.pem"), server.keyPem);
    writeTlsTestFile(file("client.pem"), client.certPem);
    writeTlsTestFile(file("client-key.pem"), client.keyPem);
    writeTlsTestFile(file("stranger.pem"), stranger.certPem);
    writeTlsTestFile(file("stranger-key.pem"), stranger.keyPem);
    daemon_ = std::make_unique<DaemonProcess>(file("overmesh.sock"), file("state"));
    // 0.0.0.0: the namespace's loopback is still down when the daemon binds.
    ASSERT_TRUE(
        daemon_->start({"--host", "tcp://0.0.0.0:23760", "--tlscacert", file("ca.pem"), "--tlscert",
                        file("server.pem"), "--tlskey", file("server-key.pem")}))
        << daemon_->log();
  }

  void TearDown() override {
    if (daemon_) {
      daemon_->stop();
    }
  }

  std::string file(const std::string& name) { return dir_.path() + "/" + name; }

  CommandResult remoteCli(const std::vector<std::string>& tlsArgs,
                          const std::vector<std::string>& command) {
    std::vector<std::string> argv = {binaryPath("overmesh"), "--host", kRemoteTlsEndpoint};
    argv.insert(argv.end(), tlsArgs.begin(), tlsArgs.end());
    argv.insert(argv.end(), command.begin(), command.end());
    return runInNetnsOf(daemon_->pid(), argv);
  }

  TempDir dir_;
  std::unique_ptr<DaemonProcess> daemon_;
};

TEST_F(RemoteTlsCliTest, TcpHostWithClientCertificateAnswersInfo) {
  auto result = remoteCli({"--tlsverify", "--tlscacert", file("ca.pem"), "--tlscert",
                           file("client.pem"), "--tlskey", file("client-key.pem")},
                          {"info", "--format", "json"});
  ASSERT_EQ(result.exitCode, 0) << result.err;
  auto info = nlohmann::json::parse(result.out, nullptr, false);
  EXPECT_EQ(info["swarm"], "inactive") << result.out;
}

TEST_F(RemoteTlsCliTest, TcpHostWithoutTlsFlagsIsRefusedByTheCli) {
  auto result = remoteCli({}, {"info"});
  EXPECT_EQ(result.exitCode, 1);
  EXPECT_THAT(result.err, HasSubstr("--tlsverify"));
  auto partial = remoteCli({"--tlsverify", "--tlscacert", file("ca.pem")}, {"info"});
  EXPECT_EQ(partial.exitCode, 1);
  EXPECT_THAT(partial.err, HasSubstr("--tlscert"));
}

TEST_F(RemoteTlsCliTest, ClientCertificateOfAnotherCaIsRefused) {
  auto result = remoteCli({"--tlsverify", "--tlscacert", file("ca.pem"), "--tlscert",
                           file("stranger.pem"), "--tlskey", file("stranger-key.pem")},
                          {"info"});
  EXPECT_EQ(result.exitCode, 1);
  EXPECT_THAT(result.err, HasSubstr("TLS handshake"));
}

TEST_F(RemoteTlsCliTest, NodeCertificateOfTheTrustedCaIsRefused) {
  auto result = remoteCli({"--tlsverify", "--tlscacert", file("ca.pem"), "--tlscert",
                           file("node.pem"), "--tlskey", file("node-key.pem")},
                          {"info"});
  EXPECT_EQ(result.exitCode, 1) << result.out;
  EXPECT_THAT(result.err, HasSubstr("TLS handshake"));
  EXPECT_THAT(daemon_->log(), HasSubstr("refused the node certificate of worker1"));
}

TEST_F(RemoteTlsCliTest, DaemonRefusesATcpHostWithoutCertificates) {
  auto result = runCommand({binaryPath("overmeshd"), "--socket", file("second.sock"), "--state-dir",
                            file("second-state"), "--host", "tcp://0.0.0.0:23761"},
                           /*unshareNet=*/true);
  EXPECT_EQ(result.exitCode, 1);
  EXPECT_THAT(result.err, HasSubstr("--tlscacert"));
  EXPECT_THAT(result.err, HasSubstr("--tlsverify"));
}

}  // namespace
}  // namespace overmesh::testing
