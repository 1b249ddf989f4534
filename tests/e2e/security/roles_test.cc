// What a worker's certificate cannot do (issue 12): h2's own certificate, key and CA
// (from its state directory), used with curl from h2's namespace as an attacker who owns
// h2 would, cannot create a network, read a join token or another node's task, report
// the status of a task that is not on h2, or call another node's node port (exec). The
// worker's CLI refuses cluster writes with Docker's message. Each refusal has a control:
// the same call in a form the worker may make, or with the manager's certificate.
//
// Run one:  ctest --test-dir BUILD -R SecurityRolesTest   (as root)

#include <gmock/gmock.h>

#include "e2e/security/security_fixture.h"

namespace overmesh::testing {
namespace {

using ::testing::AnyOf;
using ::testing::HasSubstr;
using ::testing::Not;

using SecurityRolesTest = SecurityLabTest;

constexpr const char* kNotAManager =
    "this node is not a swarm manager; run the command on a manager node";
constexpr const char* kManagerName = "overmesh-manager";
// "owned\n" as the node API's exec answer carries it (outBase64).
constexpr const char* kOwnedBase64 = "b3duZWQK";

TEST_F(SecurityRolesTest, WorkerCertificateCannotWriteTheClusterOrReadTheJoinToken) {
  const auto worker = pkiOf(2);
  const std::string manager = LabSession::hostAddress(1);
  std::string token = workerToken();
  ASSERT_FALSE(token.empty());

  // Control: the worker's certificate is good for what a worker may do.
  auto snapshot =
      https(2, worker, kManagerName, manager, kClusterPort, "GET", "/cluster/v1/snapshot");
  ASSERT_EQ(snapshot.status, 200) << snapshot.err << snapshot.body;
  // What a worker reads holds no token, secret or key.
  std::string secret = token.substr(token.rfind('-') + 1);
  EXPECT_THAT(snapshot.body, Not(HasSubstr(secret)));
  EXPECT_THAT(snapshot.body, Not(HasSubstr("OMTKN")));
  EXPECT_THAT(snapshot.body, Not(HasSubstr("/overmesh/credentials")));
  EXPECT_THAT(snapshot.body, Not(HasSubstr("PRIVATE KEY")));

  // A network create on the cluster port (the write routes of the local API do not exist
  // there, and nothing else creates a network).
  auto created = https(2, worker, kManagerName, manager, kClusterPort, "POST", "/v1/networks",
                       R"({"name":"stolen","driver":"overlay"})");
  EXPECT_THAT(created.status, AnyOf(401, 403, 404, 405)) << created.body;
  auto removed =
      https(2, worker, kManagerName, manager, kClusterPort, "DELETE", "/v1/networks/ingress");
  EXPECT_THAT(removed.status, AnyOf(401, 403, 404, 405)) << removed.body;
  // The join token is nowhere on the cluster port.
  for (const char* path :
       {"/v1/swarm/join-token", "/v1/swarm/join-token?role=worker", "/cluster/v1/join-token"}) {
    auto read = https(2, worker, kManagerName, manager, kClusterPort, "GET", path);
    EXPECT_THAT(read.status, AnyOf(401, 403, 404, 405)) << path << ": " << read.body;
    EXPECT_THAT(read.body, Not(HasSubstr("OMTKN"))) << path;
  }

  // The worker's own CLI: Docker's refusal, for writes and for the token.
  auto cliCreate = lab_->cli(2, {"network", "create", "-d", "overlay", "fromworker"});
  EXPECT_EQ(cliCreate.exitCode, 1) << cliCreate.out;
  EXPECT_THAT(cliCreate.err, HasSubstr(kNotAManager));
  auto cliToken = lab_->cli(2, {"swarm", "join-token", "worker"});
  EXPECT_EQ(cliToken.exitCode, 1) << cliToken.out;
  EXPECT_THAT(cliToken.err, HasSubstr(kNotAManager));
  EXPECT_THAT(cliToken.out, Not(HasSubstr("OMTKN")));

  auto networks = lab_->json(1, {"network", "ls"});
  ASSERT_TRUE(networks.is_array());
  for (const auto& network : networks) {
    EXPECT_NE(network.value("name", ""), "stolen");
    EXPECT_NE(network.value("name", ""), "fromworker");
  }
}

TEST_F(SecurityRolesTest, WorkerCertificateCannotExecOnAnotherNode) {
  std::string task = runTask("target", 3);
  ASSERT_FALSE(task.empty());
  std::string h3 = nodeId(3);
  ASSERT_FALSE(h3.empty());
  const std::string body = R"({"command":["echo","owned"],"timeoutMs":5000})";
  const std::string path = "/v1/tasks/" + task + "/exec";

  // h2's certificate on h3's node port: refused at the handshake (a node accepts only
  // manager certificates), so no HTTP answer at all.
  auto refused = https(2, pkiOf(2), h3, LabSession::hostAddress(3), kNodePort, "POST", path, body);
  EXPECT_NE(refused.curlExit, 0) << refused.body;
  EXPECT_EQ(refused.status, 0) << refused.body;
  EXPECT_THAT(refused.body, Not(HasSubstr(kOwnedBase64)));
  std::cerr << "[ info ] worker certificate on a node port: " << lastLine(refused.err) << "\n";

  // Control: the manager's certificate runs the same command there.
  auto ran = https(1, pkiOf(1), h3, LabSession::hostAddress(3), kNodePort, "POST", path, body);
  EXPECT_EQ(ran.status, 200) << ran.err << ran.body;
  EXPECT_THAT(ran.body, HasSubstr(kOwnedBase64)) << "the node ran the command";

  // The worker's CLI refuses an exec of another node's task and says where to run it.
  auto cliExec = lab_->cli(2, {"exec", "target", "--", "echo", "owned"});
  EXPECT_EQ(cliExec.exitCode, 1) << cliExec.out;
  EXPECT_THAT(cliExec.err, HasSubstr("runs on node"));
  EXPECT_THAT(cliExec.err, HasSubstr("run the command there or on a manager node"));
  EXPECT_THAT(cliExec.out, Not(HasSubstr("owned")));
}

TEST_F(SecurityRolesTest, WorkerCertificateCannotReportAnotherNodesTask) {
  std::string onH3 = runTask("theirs", 3);
  std::string onH2 = runTask("mine", 2);
  ASSERT_FALSE(onH3.empty());
  ASSERT_FALSE(onH2.empty());
  const std::string manager = LabSession::hostAddress(1);
  const std::string failed = R"({"state":"failed","message":"forged by h2","exitCode":1})";

  auto forged = https(2, pkiOf(2), kManagerName, manager, kClusterPort, "POST",
                      "/cluster/v1/tasks/" + onH3 + "/status", failed);
  EXPECT_EQ(forged.status, 403) << forged.err << forged.body;
  // The task still runs: nothing was recorded.
  EXPECT_EQ(taskState("theirs"), "running") << lab_->cli(1, {"ps"}).out;

  // Control: h2 may report its own task (as its agent does; "running" changes nothing).
  auto own = https(2, pkiOf(2), kManagerName, manager, kClusterPort, "POST",
                   "/cluster/v1/tasks/" + onH2 + "/status", R"({"state":"running"})");
  EXPECT_EQ(own.status, 200) << own.err << own.body;
}

}  // namespace
}  // namespace overmesh::testing
