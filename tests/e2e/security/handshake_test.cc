// No handshake without a certificate of this cluster (issue 12): on the manager's cluster
// port (2377) and on a worker's node port (2378), a client without a certificate, or with
// one from another cluster's CA that copies a real node's subject, never gets an HTTP
// answer; a client offering the join ALPN without a certificate completes the handshake
// but may only join. Every refusal is paired with the same request made with a real
// certificate, which is answered.
//
// Run one:  ctest --test-dir BUILD -R SecurityHandshakeTest   (as root)

#include <gmock/gmock.h>

#include "e2e/security/security_fixture.h"

namespace overmesh::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

using SecurityHandshakeTest = SecurityLabTest;

constexpr int kClient = -1;  // c1: on the underlay, no member

TEST_F(SecurityHandshakeTest, ClientWithoutACertificateGetsNoAnswerOnAnyClusterPort) {
  const std::string manager = LabSession::hostAddress(1);
  const std::string worker = LabSession::hostAddress(2);
  // From c1 (a non-member) to the cluster port, which stays open to everyone for joins.
  auto cluster = probe(kClient, manager, kClusterPort, "/cluster/v1/snapshot");
  EXPECT_EQ(cluster.status, 0) << cluster.out;
  std::cerr << "[ info ] no certificate on 2377: " << lastLine(cluster.err) << "\n";
  // A worker's node port, from the manager's namespace (a member, so the underlay filter
  // lets it through and only TLS can refuse it).
  auto node = probe(1, worker, kNodePort, "/v1/tasks/x/logs");
  EXPECT_EQ(node.status, 0) << node.out;

  // Control: the same requests with the right certificates are answered.
  auto workerFiles = pkiOf(2);
  auto asWorker =
      probe(2, manager, kClusterPort, "/cluster/v1/snapshot", workerFiles.cert, workerFiles.key);
  EXPECT_EQ(asWorker.status, 200) << asWorker.out << asWorker.err;
  auto managerFiles = pkiOf(1);
  auto asManager =
      probe(1, worker, kNodePort, "/v1/tasks/x/logs", managerFiles.cert, managerFiles.key);
  EXPECT_NE(asManager.status, 0) << "a manager's certificate must reach the node port: "
                                 << asManager.err;
}

TEST_F(SecurityHandshakeTest, CertificateOfAnotherClustersCaGetsNoAnswer) {
  auto info = lab_->json(2, {"info"});
  ASSERT_TRUE(info.is_object());
  // The forgery names h2 exactly as its real certificate does; only the signer differs.
  std::string subject = subjectOf(2);
  ASSERT_THAT(subject, HasSubstr("/CN=" + info.value("nodeId", ""))) << subject;
  auto forged = foreignCertificate(files_.path(), subject);
  // And one that claims to be a manager, for the node port.
  auto forgedManager = foreignCertificate(
      files_.path() + "/manager",
      fmt::format("/CN={}/OU=manager/O={}", nodeId(1), info.value("clusterId", "")));

  auto cluster = probe(kClient, LabSession::hostAddress(1), kClusterPort, "/cluster/v1/snapshot",
                       forged.cert, forged.key);
  EXPECT_EQ(cluster.status, 0) << cluster.out;
  std::cerr << "[ info ] foreign CA on 2377: " << lastLine(cluster.err) << "\n";
  auto fromMember = probe(2, LabSession::hostAddress(1), kClusterPort, "/cluster/v1/snapshot",
                          forged.cert, forged.key);
  EXPECT_EQ(fromMember.status, 0) << fromMember.out;
  auto node = probe(1, LabSession::hostAddress(3), kNodePort, "/v1/tasks/x/logs",
                    forgedManager.cert, forgedManager.key);
  EXPECT_EQ(node.status, 0) << node.out;

  // Even with the join ALPN, a certificate that does not chain to the CA is refused.
  auto joining = probe(kClient, LabSession::hostAddress(1), kClusterPort, "/cluster/v1/ca",
                       forged.cert, forged.key, "overmesh-join/1");
  EXPECT_EQ(joining.status, 0) << joining.out;
}

TEST_F(SecurityHandshakeTest, JoinAlpnWithoutACertificateMayOnlyJoin) {
  const std::string manager = LabSession::hostAddress(1);
  // The handshake completes: the CA certificate is public (a joining node needs it).
  auto ca = probe(kClient, manager, kClusterPort, "/cluster/v1/ca", "", "", "overmesh-join/1");
  EXPECT_EQ(ca.status, 200) << ca.out << ca.err;
  EXPECT_THAT(ca.out, HasSubstr("BEGIN CERTIFICATE"));
  // Nothing else: state, watch, heartbeat and the node port are closed to it.
  for (const std::string path : {"/cluster/v1/snapshot", "/cluster/v1/watch?from=0&waitMs=0"}) {
    SCOPED_TRACE(path);
    auto refused = probe(kClient, manager, kClusterPort, path, "", "", "overmesh-join/1");
    EXPECT_EQ(refused.status, 401) << refused.out << refused.err;
    EXPECT_THAT(refused.out, Not(HasSubstr("\"kvs\"")));
  }
  // The join ALPN means nothing on a node port.
  auto node = probe(1, LabSession::hostAddress(2), kNodePort, "/v1/tasks/x/logs", "", "",
                    "overmesh-join/1");
  EXPECT_EQ(node.status, 0) << node.out;
}

}  // namespace
}  // namespace overmesh::testing
