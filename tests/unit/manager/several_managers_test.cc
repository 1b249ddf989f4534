// Several managers (issue 13) on the manager's side: the manager join token and the join
// as a manager (only when the cluster's store is shared), the clear tokens kept in the
// store for every manager, `node promote|demote` on the node records (the last manager
// stays), the admission of a node's former-role certificate until it renews, and the
// manager-only credentials route. The store is SQLite; the cluster record says etcd where
// a test needs a shared store (the rules look at the record, not at the backend).

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "api/cluster_protocol.h"
#include "common/json.h"
#include "manager/cluster_manager.h"
#include "manager/join_tokens.h"
#include "security/join_token.h"
#include "security/pki.h"
#include "state/keys.h"
#include "support/manager_cluster.h"

namespace overmesh::manager {
namespace {

using overmesh::testing::JoinedNode;
using overmesh::testing::joinRequestFor;
using overmesh::testing::must;
using ::testing::HasSubstr;

constexpr const char* kEtcdUrl = "etcd://198.18.0.200:2379,198.18.0.201:2379";

class EtcdClusterTest : public overmesh::testing::ManagerClusterTest {
 protected:
  api::SwarmInitRequest initRequest() const override {
    auto request = ManagerClusterTest::initRequest();
    request.store = kEtcdUrl;
    return request;
  }

  // The join answer as JSON (the fixture's join() keeps only the certificate).
  nlohmann::json joinAnswer(const std::string& token, const std::string& hostname,
                            const std::string& address) {
    auto joining = joinRequestFor(token, hostname, address);
    nlohmann::json body = {{"token", joining.request.token},
                           {"hostname", joining.request.hostname},
                           {"address", joining.request.address},
                           {"csr", joining.request.csr}};
    auto response = call("POST", api::kJoinPath, body.dump(), joinConnection(address), address);
    EXPECT_EQ(response.status, 200) << response.body;
    return nlohmann::json::parse(response.body);
  }

  api::Node record(const std::string& nodeId) {
    auto kv = must(store_->get(state::keys::node(nodeId)));
    EXPECT_TRUE(kv);
    return must(decodeJson<api::Node>(kv->value, "node"));
  }

  // Renews `node`'s certificate through the route, as its agent would; the identity its
  // connections carry from then on.
  api::PeerIdentity renew(const JoinedNode& node) {
    auto csr = must(security::makeCsr(node.keyPem, node.id));
    auto response =
        call("POST", api::kRenewPath, nlohmann::json{{"csr", csr}}.dump(), node.identity);
    EXPECT_EQ(response.status, 200) << response.body;
    std::string pem = nlohmann::json::parse(response.body)["certificate"];
    auto info = must(security::inspectCertificate(pem));
    return api::PeerIdentity{info.identity.nodeId, info.identity.role, info.identity.clusterId,
                             info.serial,          info.notAfter,      node.identity.address};
  }

  int credentialsStatus(const api::PeerIdentity& identity) {
    return call("POST", api::kManagerCredentialsPath, "{}", identity).status;
  }
};

TEST_F(EtcdClusterTest, InitRecordsTheStoreAndKeepsTheClearTokensInIt) {
  EXPECT_EQ(init_.cluster.store, kEtcdUrl);
  auto tokens = must(readClearJoinTokens(*store_));
  EXPECT_EQ(tokens.worker, init_.pki.workerToken);
  EXPECT_EQ(tokens.manager, init_.pki.managerToken);
  ClusterManager clusters(*store_);
  EXPECT_EQ(must(clusters.joinToken("manager", *pki_)), init_.pki.managerToken);
  EXPECT_EQ(must(clusters.joinToken("worker", *pki_)), init_.pki.workerToken);
}

TEST_F(EtcdClusterTest, JoinTokenIsReadFromTheStoreNotFromThisManagersFiles) {
  // Another manager rotated: its files changed, not ours; the store is what counts.
  must(pki_->saveToken("worker", init_.pki.managerToken));
  ClusterManager clusters(*store_);
  EXPECT_EQ(must(clusters.joinToken("worker", *pki_)), init_.pki.workerToken);
}

TEST_F(EtcdClusterTest, RotationChangesTheHashAndTheClearTokenInOneTransaction) {
  ClusterManager clusters(*store_);
  auto before = must(store_->currentRevision());
  std::string rotated = must(clusters.rotateJoinToken("manager", *pki_));
  EXPECT_EQ(must(store_->currentRevision()), before + 1) << "one transaction";
  EXPECT_EQ(must(clusters.joinToken("manager", *pki_)), rotated);
  EXPECT_EQ(must(clusters.joinToken("worker", *pki_)), init_.pki.workerToken);
  auto old = join(joinRequestFor(init_.pki.managerToken, "m-old", "198.18.0.9"), "198.18.0.9");
  ASSERT_FALSE(old);
  EXPECT_EQ(old.error().kind, ErrorKind::Unauthenticated);
  auto fresh = join(joinRequestFor(rotated, "m-new", "198.18.0.9"), "198.18.0.9");
  ASSERT_TRUE(fresh) << fresh.error().message;
  EXPECT_EQ(fresh->identity.role, "manager");
}

TEST_F(EtcdClusterTest, TheManagerTokenJoinsAManagerWithTheCaKeyAndTheStore) {
  auto answer = joinAnswer(init_.pki.managerToken, "manager-2", "198.18.0.9");
  EXPECT_EQ(answer["node"]["role"], "manager");
  EXPECT_EQ(answer["caKey"], init_.pki.ca.keyPem);
  EXPECT_EQ(answer["store"], kEtcdUrl);
  std::string pem = answer["certificate"];
  auto info = must(
      security::verifyNodeCertificate(pem, init_.pki.ca.certPem, std::chrono::system_clock::now()));
  EXPECT_EQ(info.identity.role, "manager");
  std::string id = answer["node"]["id"];
  EXPECT_EQ(record(id).role, "manager");
  EXPECT_TRUE(nodes_->isManager(id));
}

TEST_F(EtcdClusterTest, AWorkerJoinGetsNeitherTheCaKeyNorTheStore) {
  auto answer = joinAnswer(init_.pki.workerToken, "worker-1", "198.18.0.9");
  EXPECT_EQ(answer["node"]["role"], "worker");
  EXPECT_FALSE(answer.contains("caKey"));
  EXPECT_FALSE(answer.contains("store"));
}

TEST_F(EtcdClusterTest, PromoteChangesTheRecordAndTheRenewalSignsTheNewRole) {
  auto worker = must(joinWorker("worker-1"));
  auto change = must(nodes_->setRole("worker-1", "manager"));
  EXPECT_TRUE(change.changed);
  EXPECT_EQ(record(worker.id).role, "manager");
  // Its worker certificate still connects: it needs to, to renew.
  EXPECT_TRUE(api_->admit(worker.identity));
  EXPECT_EQ(credentialsStatus(worker.identity), 403) << "a worker certificate gets nothing";

  auto renewed = renew(worker);
  EXPECT_EQ(renewed.role, "manager");
  EXPECT_TRUE(api_->admit(renewed));
  EXPECT_FALSE(api_->admit(worker.identity)) << "once renewed, the old role is refused";

  auto response = call("POST", api::kManagerCredentialsPath, "{}", renewed);
  ASSERT_EQ(response.status, 200) << response.body;
  auto json = nlohmann::json::parse(response.body);
  EXPECT_EQ(json["caKey"], init_.pki.ca.keyPem);
  EXPECT_EQ(json["store"], kEtcdUrl);
}

TEST_F(EtcdClusterTest, PromotingAManagerChangesNothing) {
  auto before = must(store_->currentRevision());
  auto change = must(nodes_->setRole(init_.node.id, "manager"));
  EXPECT_FALSE(change.changed);
  EXPECT_EQ(must(store_->currentRevision()), before);
}

TEST_F(EtcdClusterTest, TheLastManagerCannotBeDemoted) {
  must(joinWorker("worker-1"));
  auto before = must(store_->currentRevision());
  auto refused = nodes_->setRole("manager", "worker");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, ErrorKind::FailedPrecondition);
  EXPECT_THAT(refused.error().message, HasSubstr(kLastManagerRefusal));
  EXPECT_EQ(must(store_->currentRevision()), before);
}

TEST_F(EtcdClusterTest, AManagerIsDemotedWhenAnotherRemains) {
  auto second =
      must(join(joinRequestFor(init_.pki.managerToken, "manager-2", "198.18.0.9"), "198.18.0.9"));
  auto change = must(nodes_->setRole(second.id, "worker"));
  EXPECT_TRUE(change.changed);
  EXPECT_EQ(record(second.id).role, "worker");
  EXPECT_EQ(credentialsStatus(second.identity), 403)
      << "its manager certificate is admitted until it renews, but the record says worker";
  EXPECT_EQ(renew(second).role, "worker");
  // Now the first manager is the last one.
  auto refused = nodes_->setRole(init_.node.id, "worker");
  ASSERT_FALSE(refused);
  EXPECT_THAT(refused.error().message, HasSubstr(kLastManagerRefusal));
}

TEST_F(EtcdClusterTest, RoleChangesNameTheNodeAndTheRole) {
  auto unknown = nodes_->setRole("nosuchnode", "manager");
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().kind, ErrorKind::NotFound);
  auto bad = nodes_->setRole("manager", "admin");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().kind, ErrorKind::InvalidArgument);
  EXPECT_THAT(bad.error().message, HasSubstr("\"admin\""));
}

TEST_F(EtcdClusterTest, CredentialsNeedAMemberCertificate) {
  EXPECT_EQ(call("POST", api::kManagerCredentialsPath, "{}", std::nullopt).status, 401);
}

// The default fixture: the cluster's store is SQLite, one manager's own.
using SqliteClusterTest = overmesh::testing::ManagerClusterTest;

TEST_F(SqliteClusterTest, InitRecordsSqliteAndNoClearTokens) {
  EXPECT_EQ(init_.cluster.store, "sqlite");
  EXPECT_EQ(readClearJoinTokens(*store_).error().kind, ErrorKind::NotFound);
}

TEST_F(SqliteClusterTest, ThereIsNoManagerTokenToShowOrRotate) {
  ClusterManager clusters(*store_);
  for (bool rotate : {false, true}) {
    auto refused =
        rotate ? clusters.rotateJoinToken("manager", *pki_) : clusters.joinToken("manager", *pki_);
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().kind, ErrorKind::FailedPrecondition);
    EXPECT_THAT(refused.error().message, HasSubstr(kSharedStoreRequired));
  }
}

TEST_F(SqliteClusterTest, PromoteNeedsASharedStore) {
  must(joinWorker("worker-1"));
  auto before = must(store_->currentRevision());
  auto refused = nodes_->setRole("worker-1", "manager");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, ErrorKind::FailedPrecondition);
  EXPECT_THAT(refused.error().message, HasSubstr(kSharedStoreRequired));
  EXPECT_EQ(must(store_->currentRevision()), before);
}

TEST_F(SqliteClusterTest, PromotingTheManagerSaysItAlreadyIsOne) {
  EXPECT_FALSE(must(nodes_->setRole(init_.node.id, "manager")).changed);
}

TEST_F(SqliteClusterTest, TheOnlyManagerCannotBeDemoted) {
  auto refused = nodes_->setRole(init_.node.id, "worker");
  ASSERT_FALSE(refused);
  EXPECT_THAT(refused.error().message, HasSubstr(kLastManagerRefusal));
}

}  // namespace
}  // namespace overmesh::manager
