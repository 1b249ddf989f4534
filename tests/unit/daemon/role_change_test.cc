// A node's side of `node promote|demote`: the pure decision (decideRoleTransition), and
// the two calls to a manager (renewForRole, fetchManagerCredentials) against real
// mutual-TLS listeners on 127.0.0.1 playing the manager, including a non-leader's 421.

#include "daemon/role_change.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "api/cluster_protocol.h"
#include "api/http_server.h"
#include "security/node_pki.h"
#include "security/pki.h"
#include "support/pki_fixtures.h"

namespace overmesh::daemon {
namespace {

using overmesh::testing::issueTestNode;
using overmesh::testing::must;
using overmesh::testing::ScratchDir;
using ::testing::HasSubstr;

TEST(RoleTransition, AWorkerWhoseRecordSaysManagerIsPromoted) {
  EXPECT_EQ(decideRoleTransition("worker", "manager"), RoleTransition::Promote);
}

TEST(RoleTransition, AManagerWhoseRecordSaysWorkerIsDemoted) {
  EXPECT_EQ(decideRoleTransition("manager", "worker"), RoleTransition::Demote);
}

TEST(RoleTransition, NothingChangesWhenTheRolesAgreeOrTheRecordIsUnknown) {
  EXPECT_EQ(decideRoleTransition("worker", "worker"), RoleTransition::None);
  EXPECT_EQ(decideRoleTransition("manager", "manager"), RoleTransition::None);
  EXPECT_EQ(decideRoleTransition("worker", ""), RoleTransition::None)
      << "no record yet (or removed): not a role change";
  EXPECT_EQ(decideRoleTransition("worker", "admin"), RoleTransition::None)
      << "a role this version does not know";
}

constexpr const char* kRoleCluster = "clusterRC";
constexpr const char* kNodeId = "nodeRC";

// A manager's cluster listener on 127.0.0.1: renewals signed for `signRole`, credentials
// answered with `credentials`, or 421 naming `leader` when that is set.
class FakeManager {
 public:
  explicit FakeManager(const security::CaMaterial& ca) : ca_(ca) {
    auto self = issueTestNode(ca_, "mgr", "manager", kRoleCluster);
    auto config = std::make_shared<const api::TlsServerConfig>(
        api::TlsServerConfig{ca_.certPem, self.certPem, self.keyPem});
    server_.route("POST", api::kRenewPath, [this](const api::HttpRequest& request) {
      if (!leader.empty()) {
        return notLeader();
      }
      ++renewals;
      std::string csr = nlohmann::json::parse(request.body)["csr"];
      auto cert = must(security::signNodeCertificate(
          ca_, csr, {request.identity->nodeId, signRole, kRoleCluster}, std::chrono::hours(1),
          std::chrono::system_clock::now()));
      return api::HttpResponse{200, nlohmann::json{{"certificate", cert}}.dump()};
    });
    server_.route("POST", api::kManagerCredentialsPath, [this](const api::HttpRequest&) {
      if (!leader.empty()) {
        return notLeader();
      }
      return api::HttpResponse{200, credentials};
    });
    api::TlsListenOptions options;
    options.config = [config] { return config; };
    port_ = must(server_.listenTls("127.0.0.1", 0, std::move(options)));
  }
  ~FakeManager() { server_.stop(); }

  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

  std::string signRole = "manager";
  std::string credentials;
  std::string leader;
  int renewals = 0;

 private:
  api::HttpResponse notLeader() const {
    return api::HttpResponse{api::kNotLeaderStatus, nlohmann::json{{"error", "not the leader"},
                                                                   {"kind", "FailedPrecondition"},
                                                                   {"leader", leader}}
                                                        .dump()};
  }

  const security::CaMaterial& ca_;
  api::HttpServer server_;
  std::uint16_t port_ = 0;
};

class RoleChangeCallsTest : public ::testing::Test {
 protected:
  std::unique_ptr<security::NodePki> worker() {
    auto issued = issueTestNode(ca_, kNodeId, "worker", kRoleCluster);
    return must(security::NodePki::create(scratch_.path().string(), ca_.certPem, issued.keyPem,
                                          issued.certPem));
  }

  ScratchDir scratch_;
  security::CaMaterial ca_ =
      must(security::createCa(kRoleCluster, std::chrono::system_clock::now()));
};

TEST_F(RoleChangeCallsTest, RenewalForTheNewRoleIsCheckedAndMadeCurrent) {
  FakeManager manager(ca_);
  auto pki = worker();
  must(renewForRole(*pki, manager.address(), "127.0.0.1", "manager", nullptr));
  EXPECT_EQ(pki->current()->cert.identity.role, "manager");
  EXPECT_EQ(pki->current()->cert.identity.nodeId, kNodeId);
  auto reloaded = must(security::NodePki::load(scratch_.path().string()));
  EXPECT_EQ(reloaded->current()->cert.identity.role, "manager") << "on disk too";
}

TEST_F(RoleChangeCallsTest, ACertificateForAnotherRoleIsRefusedAndNothingChanges) {
  FakeManager manager(ca_);
  manager.signRole = "worker";  // the record did not change yet on that manager
  auto pki = worker();
  auto before = pki->current();
  auto refused = renewForRole(*pki, manager.address(), "127.0.0.1", "manager", nullptr);
  ASSERT_FALSE(refused);
  EXPECT_THAT(refused.error().message, HasSubstr("did not sign a manager certificate"));
  EXPECT_EQ(pki->current(), before);
}

TEST_F(RoleChangeCallsTest, ANonLeaderSendsTheRenewalToTheLeader) {
  FakeManager leader(ca_);
  FakeManager follower(ca_);
  follower.leader = leader.address();
  auto pki = worker();
  must(renewForRole(*pki, follower.address(), "127.0.0.1", "manager", nullptr));
  EXPECT_EQ(leader.renewals, 1);
  EXPECT_EQ(follower.renewals, 0);
}

TEST_F(RoleChangeCallsTest, CredentialsAreReadAndBounded) {
  FakeManager manager(ca_);
  auto pki = worker();
  manager.credentials =
      nlohmann::json{{"caKey", ca_.keyPem}, {"store", "etcd://198.18.0.200:2379"}}.dump();
  auto credentials = must(fetchManagerCredentials(*pki, manager.address(), "127.0.0.1", nullptr));
  EXPECT_EQ(credentials.caKeyPem, ca_.keyPem);
  EXPECT_EQ(credentials.storeUrl, "etcd://198.18.0.200:2379");

  manager.credentials = nlohmann::json{{"caKey", ca_.keyPem}}.dump();
  auto missing = fetchManagerCredentials(*pki, manager.address(), "127.0.0.1", nullptr);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().kind, ErrorKind::Unavailable);
  EXPECT_THAT(missing.error().message, HasSubstr("store"));

  manager.credentials =
      nlohmann::json{{"caKey", ca_.keyPem}, {"store", std::string(5000, 'e')}}.dump();
  EXPECT_FALSE(fetchManagerCredentials(*pki, manager.address(), "127.0.0.1", nullptr));
}

}  // namespace
}  // namespace overmesh::daemon
