// The manager's side of cluster security (issue 12), through ClusterApi's routes with the
// identities a TLS listener would have verified: joins by token + CSR (fingerprint,
// secret, rotation, the manager token, the address check), roles on the cluster routes,
// renewal, revocation, and what agents can never read.

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "api/cluster_protocol.h"
#include "common/json.h"
#include "manager/cert_expiry.h"
#include "manager/cluster_manager.h"
#include "manager/join_tokens.h"
#include "security/join_token.h"
#include "security/pki.h"
#include "state/agent_view.h"
#include "state/keys.h"
#include "support/manager_cluster.h"

namespace overmesh::manager {
namespace {

using overmesh::testing::joinRequestFor;
using overmesh::testing::must;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

class ClusterSecurityTest : public overmesh::testing::ManagerClusterTest {
 protected:
  // A task record placed on `nodeId`, as the scheduler would write it.
  std::string placeTask(const std::string& nodeId) {
    api::Task task;
    task.id = "t" + nodeId;
    task.name = "task-" + nodeId;
    task.nodeId = nodeId;
    task.command = {"sleep", "60"};
    task.desiredState = "running";
    task.state = "pending";
    store::Txn txn;
    txn.success.push_back(store::Operation::put(state::keys::task(task.id), encodeJson(task)));
    EXPECT_TRUE(must(store_->txn(txn)).succeeded);
    return task.id;
  }

  std::string workerToken() const { return init_.pki.workerToken; }
  std::string caPem() const { return init_.pki.ca.certPem; }
};

TEST_F(ClusterSecurityTest, JoinWithTheWorkerTokenGetsACertificateForTheNewNode) {
  auto request = joinRequestFor(workerToken(), "worker-1", "198.18.0.9");
  auto joined = join(request, "198.18.0.9");
  ASSERT_TRUE(joined) << joined.error().message;

  auto info =
      security::verifyNodeCertificate(joined->certPem, caPem(), std::chrono::system_clock::now());
  ASSERT_TRUE(info) << info.error().message;
  EXPECT_EQ(info->identity.nodeId, joined->id);
  EXPECT_EQ(info->identity.role, "worker");
  EXPECT_EQ(info->identity.clusterId, init_.cluster.id);
  EXPECT_TRUE(must(security::keyMatchesCertificate(request.keyPem, joined->certPem)));
  auto validity = info->notAfter - std::chrono::system_clock::now();
  EXPECT_GT(validity, std::chrono::hours(24 * 89)) << "the default 90 days";
  EXPECT_LE(validity, std::chrono::hours(24 * 90));
  EXPECT_TRUE(api_->admit(joined->identity));
}

TEST_F(ClusterSecurityTest, TheCaRouteAnswersTheCertificateTheTokenPins) {
  auto response = call("GET", api::kCaPath, "", joinConnection("198.18.0.9"));
  ASSERT_EQ(response.status, 200) << response.body;
  std::string pem = nlohmann::json::parse(response.body)["certificate"];
  EXPECT_EQ(pem, caPem());
  auto token = must(security::parseJoinToken(workerToken()));
  EXPECT_EQ(must(security::certificateFingerprint(pem)), token.caFingerprint);
}

TEST_F(ClusterSecurityTest, TokenOfAnotherCaIsRefusedAndNothingIsWritten) {
  auto token = must(security::parseJoinToken(workerToken()));
  token.caFingerprint = std::string(64, 'a');
  auto before = *store_->currentRevision();
  auto refused =
      join(joinRequestFor(security::formatJoinToken(token), "w", "198.18.0.9"), "198.18.0.9");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, ErrorKind::Unauthenticated);
  EXPECT_THAT(refused.error().message, HasSubstr("made for another cluster"));
  EXPECT_EQ(*store_->currentRevision(), before);
}

TEST_F(ClusterSecurityTest, WrongSecretIsRefusedAndNothingIsWritten) {
  auto token = must(security::parseJoinToken(workerToken()));
  token.secret = must(security::generateTokenSecret());
  auto before = *store_->currentRevision();
  auto refused =
      join(joinRequestFor(security::formatJoinToken(token), "w", "198.18.0.9"), "198.18.0.9");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, ErrorKind::Unauthenticated);
  EXPECT_THAT(refused.error().message, HasSubstr("join token is not valid"));
  EXPECT_THAT(refused.error().message, Not(HasSubstr(token.secret))) << "never echoed";
  EXPECT_EQ(*store_->currentRevision(), before);
  EXPECT_EQ(prover_->calls, 0);
}

TEST_F(ClusterSecurityTest, ARotatedTokenNoLongerJoinsAndTheNewOneDoes) {
  ClusterManager clusters(*store_);
  EXPECT_EQ(must(clusters.joinToken("worker", *pki_)), workerToken());
  std::string rotated = must(clusters.rotateJoinToken("worker", *pki_));
  ASSERT_NE(rotated, workerToken());
  EXPECT_EQ(must(clusters.joinToken("worker", *pki_)), rotated) << "the file holds the new one";

  auto old = join(joinRequestFor(workerToken(), "w-old", "198.18.0.9"), "198.18.0.9");
  ASSERT_FALSE(old);
  EXPECT_EQ(old.error().kind, ErrorKind::Unauthenticated);
  auto fresh = join(joinRequestFor(rotated, "w-new", "198.18.0.9"), "198.18.0.9");
  EXPECT_TRUE(fresh) << fresh.error().message;
  auto manager = clusters.joinToken("manager", *pki_);
  ASSERT_FALSE(manager) << "SQLite: no second manager";
  EXPECT_EQ(manager.error().message, fmt::format("swarm join-token: {}", kSharedStoreRequired));
}

TEST_F(ClusterSecurityTest, AnInterruptedRotationIsNotShownAsAWorkingToken) {
  ClusterManager clusters(*store_);
  must(clusters.rotateJoinToken("worker", *pki_));
  // The crash window: the new hash is stored, the file still holds the old token.
  must(pki_->saveToken("worker", workerToken()));
  auto shown = clusters.joinToken("worker", *pki_);
  ASSERT_FALSE(shown);
  EXPECT_EQ(shown.error().kind, ErrorKind::FailedPrecondition);
  EXPECT_THAT(shown.error().message, HasSubstr("--rotate worker"));
}

TEST_F(ClusterSecurityTest, JoinTokenRoleIsChecked) {
  ClusterManager clusters(*store_);
  auto bad = clusters.joinToken("admin", *pki_);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().kind, ErrorKind::InvalidArgument);
  EXPECT_THAT(bad.error().message, AllOf(HasSubstr("\"admin\""), HasSubstr("worker or manager")));
}

TEST_F(ClusterSecurityTest, TheManagerTokenIsCheckedThenRefusedWithoutASharedStore) {
  auto before = *store_->currentRevision();
  auto refused = join(joinRequestFor(init_.pki.managerToken, "m2", "198.18.0.9"), "198.18.0.9");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, ErrorKind::FailedPrecondition);
  EXPECT_THAT(refused.error().message, HasSubstr(kSharedStoreRequired));
  EXPECT_EQ(*store_->currentRevision(), before);
}

TEST_F(ClusterSecurityTest, AnAddressOtherThanTheSourceIsRefused) {
  auto before = *store_->currentRevision();
  auto refused = join(joinRequestFor(workerToken(), "w", "198.18.0.9"), "198.18.0.50");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, ErrorKind::Unauthenticated);
  EXPECT_THAT(refused.error().message, AllOf(HasSubstr("198.18.0.9"), HasSubstr("198.18.0.50"),
                                             HasSubstr("--advertise-addr")));
  EXPECT_EQ(prover_->calls, 0) << "without --advertise-addr nothing is proven";
  EXPECT_EQ(*store_->currentRevision(), before);
}

TEST_F(ClusterSecurityTest, AnAdvertisedAddressIsAcceptedWhenTheNodeProvesIt) {
  auto request = joinRequestFor(workerToken(), "w", "198.18.0.9");
  request.request.advertiseAddrGiven = true;
  request.request.addressProof = std::string(32, 'c');
  request.request.proofPort = 2378;
  prover_->answer = request.request.addressProof;
  auto joined = join(request, "198.18.0.50");
  ASSERT_TRUE(joined) << joined.error().message;
  EXPECT_EQ(prover_->calls, 1);
  EXPECT_EQ(prover_->lastAddress, "198.18.0.9") << "the claimed address, not the source";
  EXPECT_EQ(prover_->lastPort, 2378);
}

TEST_F(ClusterSecurityTest, AnAdvertisedAddressIsRefusedWhenTheProofFails) {
  auto request = joinRequestFor(workerToken(), "w", "198.18.0.9");
  request.request.advertiseAddrGiven = true;
  request.request.addressProof = std::string(32, 'c');
  request.request.proofPort = 2378;
  auto before = *store_->currentRevision();
  for (std::optional<std::string> answer :
       {std::optional<std::string>(), std::optional<std::string>(std::string(32, 'd'))}) {
    prover_->answer = answer;
    auto refused = join(request, "198.18.0.50");
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().kind, ErrorKind::Unauthenticated);
    EXPECT_THAT(refused.error().message,
                AllOf(HasSubstr("198.18.0.9"), HasSubstr("198.18.0.50"), HasSubstr("2378")));
  }
  EXPECT_EQ(*store_->currentRevision(), before);
}

TEST_F(ClusterSecurityTest, AMalformedProofIsInvalidArgument) {
  auto request = joinRequestFor(workerToken(), "w", "198.18.0.9");
  request.request.advertiseAddrGiven = true;
  request.request.addressProof = "not-hex";
  request.request.proofPort = 2378;
  auto refused = join(request, "198.18.0.50");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, ErrorKind::InvalidArgument);
  EXPECT_THAT(refused.error().message, HasSubstr("addressProof"));
  request.request.addressProof = std::string(32, 'c');
  request.request.proofPort = 70000;
  refused = join(request, "198.18.0.50");
  ASSERT_FALSE(refused);
  EXPECT_THAT(refused.error().message, HasSubstr("proofPort"));
  EXPECT_EQ(prover_->calls, 0);
}

TEST_F(ClusterSecurityTest, ABadCsrIsRefusedAndNothingIsWritten) {
  auto request = joinRequestFor(workerToken(), "w", "198.18.0.9");
  request.request.csr =
      "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n";
  auto before = *store_->currentRevision();
  auto refused = join(request, "198.18.0.9");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, ErrorKind::InvalidArgument);
  EXPECT_THAT(refused.error().message, HasSubstr("csr"));
  request.request.csr = std::string(security::kMaxPemBytes + 1, 'A');
  refused = join(request, "198.18.0.9");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, ErrorKind::InvalidArgument);
  EXPECT_EQ(*store_->currentRevision(), before);
}

TEST_F(ClusterSecurityTest, AWorkerReportsOnlyItsOwnTasks) {
  auto a = joinWorker("worker-a", "198.18.0.9");
  auto b = joinWorker("worker-b", "198.18.0.10");
  ASSERT_TRUE(a && b);
  std::string taskOfA = placeTask(a->id);
  std::string path = "/cluster/v1/tasks/" + taskOfA + "/status";
  std::string running = R"({"state":"running"})";
  auto denied = call("POST", path, running, b->identity, "198.18.0.10");
  EXPECT_EQ(denied.status, 403) << denied.body;
  EXPECT_THAT(denied.body, HasSubstr("PermissionDenied"));
  EXPECT_EQ(call("POST", path, running, std::nullopt).status, 401);
  auto allowed = call("POST", path, running, a->identity);
  EXPECT_EQ(allowed.status, 200) << allowed.body;
}

TEST_F(ClusterSecurityTest, RenewalSignsTheCallersRecordedIdentityWithTheCurrentExpiry) {
  auto node = joinWorker("worker-1");
  ASSERT_TRUE(node) << node.error().message;
  ClusterManager clusters(*store_);
  ASSERT_EQ(must(clusters.updateCertExpiry(3'600'000)), 3'600'000);

  auto key = must(security::generateKey()).privateKeyPem;
  nlohmann::json body = {{"csr", must(security::makeCsr(key, "anything"))}};
  // The certificate presented claims manager: the record (worker) decides, and a role
  // that does not match the record is not a member at all.
  api::PeerIdentity claimsManager = node->identity;
  claimsManager.role = "manager";
  EXPECT_EQ(call("POST", api::kRenewPath, body.dump(), claimsManager).status, 401);

  auto response = call("POST", api::kRenewPath, body.dump(), node->identity);
  ASSERT_EQ(response.status, 200) << response.body;
  std::string pem = nlohmann::json::parse(response.body)["certificate"];
  auto info = must(security::verifyNodeCertificate(pem, caPem(), std::chrono::system_clock::now()));
  EXPECT_EQ(info.identity.nodeId, node->id);
  EXPECT_EQ(info.identity.role, "worker");
  EXPECT_NE(info.serial, node->identity.serial);
  auto left = info.notAfter - std::chrono::system_clock::now();
  EXPECT_GT(left, std::chrono::minutes(58));
  EXPECT_LE(left, std::chrono::minutes(60));
  EXPECT_TRUE(must(security::keyMatchesCertificate(key, pem)));

  EXPECT_EQ(call("POST", api::kRenewPath, body.dump(), std::nullopt).status, 401);
  EXPECT_EQ(call("POST", api::kRenewPath, R"({"csr": 5})", node->identity).status, 400);
}

TEST_F(ClusterSecurityTest, RemovalRevokesAndTellsTheListener) {
  auto node = joinWorker("worker-1");
  ASSERT_TRUE(node) << node.error().message;
  std::vector<std::string> removed;
  nodes_->setRemovalListener([&](const std::string& id) {
    EXPECT_FALSE(api_->admit(node->identity)) << "the record is gone before the listener runs";
    removed.push_back(id);
  });
  EXPECT_TRUE(api_->admit(node->identity));
  ASSERT_TRUE(nodes_->remove(node->id));
  EXPECT_THAT(removed, ::testing::ElementsAre(node->id));
  EXPECT_FALSE(api_->admit(node->identity));
  EXPECT_EQ(heartbeat(node->identity), 401);
}

TEST_F(ClusterSecurityTest, AdmitChecksTheRoleAgainstTheRecord) {
  api::PeerIdentity manager{init_.node.id, "manager", init_.cluster.id, "01", {}, "198.18.0.1"};
  EXPECT_TRUE(api_->admit(manager));
  manager.role = "worker";
  EXPECT_FALSE(api_->admit(manager));
  EXPECT_TRUE(api_->admit(joinConnection("198.18.0.77"))) << "join connections: routes decide";
}

TEST_F(ClusterSecurityTest, ACertificateWithoutANodeIdIsNotAdmitted) {
  api::PeerIdentity nameless;
  nameless.role = "worker";
  nameless.clusterId = "whatever";
  EXPECT_FALSE(api_->admit(nameless));
  api::PeerIdentity join;
  join.join = true;
  EXPECT_TRUE(api_->admit(join)) << "join connections reach the join routes only";
}

TEST_F(ClusterSecurityTest, AgentsNeverReceiveTokensOrTheirHashes) {
  ASSERT_TRUE(joinWorker("worker-1"));
  auto hashes = must(readJoinTokenHashes(*store_));
  auto snapshot = must(state::agentSnapshot(*store_));
  ASSERT_FALSE(snapshot.kvs.empty());
  for (const auto& kv : snapshot.kvs) {
    EXPECT_FALSE(kv.key.starts_with(state::keys::kCredentials)) << kv.key;
    for (const std::string& secret : {hashes.worker, hashes.manager, init_.pki.workerToken,
                                      init_.pki.managerToken, init_.pki.ca.keyPem}) {
      EXPECT_EQ(kv.value.find(secret), std::string::npos) << kv.key;
    }
  }
  auto cluster = must(ClusterManager(*store_).cluster());
  std::string record = encodeJson(cluster);
  EXPECT_THAT(record, AllOf(Not(HasSubstr("Token")), Not(HasSubstr("Secret")),
                            Not(HasSubstr("PRIVATE KEY"))));
  EXPECT_EQ(cluster.caFingerprint,
            must(security::parseJoinToken(init_.pki.workerToken)).caFingerprint);
}

TEST_F(ClusterSecurityTest, InitMakesTheManagersCertificateAndChecksCertExpiry) {
  auto info = must(security::verifyNodeCertificate(init_.pki.nodeCertPem, caPem(),
                                                   std::chrono::system_clock::now()));
  EXPECT_EQ(info.identity.nodeId, init_.node.id);
  EXPECT_EQ(info.identity.role, "manager");
  EXPECT_EQ(init_.cluster.certExpiryMs, api::kDefaultCertExpiryMs);

  api::SwarmInitRequest tooShort;
  tooShort.certExpiryMs = 59'000;
  auto refused = ClusterManager::validateInit(tooShort, {"m", "198.18.0.1", "198.18.0.1:2377"});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, ErrorKind::InvalidArgument);
  EXPECT_THAT(refused.error().message, AllOf(HasSubstr("--cert-expiry"), HasSubstr("1m")));
  auto update = ClusterManager(*store_).updateCertExpiry(6LL * 365 * 24 * 3'600'000);
  ASSERT_FALSE(update);
  EXPECT_THAT(update.error().message, HasSubstr("43800h"));
  EXPECT_EQ(must(ClusterManager(*store_).cluster()).certExpiryMs, api::kDefaultCertExpiryMs);
}

}  // namespace
}  // namespace overmesh::manager
