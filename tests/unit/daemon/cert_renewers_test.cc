// The manager's own certificate renewal with the CA key it holds (renewWithCaKey), on a
// real NodePki in a scratch state directory.

#include "daemon/cert_renewers.h"

#include <gtest/gtest.h>

#include "support/pki_fixtures.h"

namespace overmesh::daemon {
namespace {

using overmesh::testing::issueTestNode;
using overmesh::testing::must;
using overmesh::testing::ScratchDir;

constexpr const char* kRenewCluster = "clusterR";

class RenewWithCaKeyTest : public ::testing::Test {
 protected:
  std::unique_ptr<security::NodePki> node(const std::string& role) {
    auto issued = issueTestNode(ca_, "nodeR", role, kRenewCluster, now_, std::chrono::minutes(1));
    return must(security::NodePki::create(scratch_.path().string(), ca_.certPem, issued.keyPem,
                                          issued.certPem));
  }

  ScratchDir scratch_;
  security::TimePoint now_ = std::chrono::system_clock::now();
  security::CaMaterial ca_ = must(security::createCa(kRenewCluster, now_));
};

TEST_F(RenewWithCaKeyTest, ManagerGetsANewCertificateForItsIdentity) {
  auto pki = node("manager");
  must(pki->saveCaKey(ca_.keyPem));
  auto before = pki->current();
  must(renewWithCaKey(*pki, std::chrono::hours(24 * 90), now_));
  auto after = pki->current();
  EXPECT_NE(after, before);
  EXPECT_NE(after->cert.serial, before->cert.serial);
  EXPECT_NE(after->keyPem, before->keyPem);  // a new key with every certificate
  EXPECT_EQ(after->cert.identity.nodeId, "nodeR");
  EXPECT_EQ(after->cert.identity.role, "manager");
  EXPECT_EQ(after->cert.identity.clusterId, kRenewCluster);
  EXPECT_GT(after->cert.notAfter, now_ + std::chrono::hours(24 * 89));
  // On disk too: a restart resumes with the renewed certificate.
  auto reloaded = must(security::NodePki::load(scratch_.path().string()));
  EXPECT_EQ(reloaded->current()->cert.serial, after->cert.serial);
}

TEST_F(RenewWithCaKeyTest, NodeWithoutTheCaKeyCannotSignItsOwn) {
  auto pki = node("worker");
  auto before = pki->current();
  auto renewed = renewWithCaKey(*pki, std::chrono::hours(1), now_);
  ASSERT_FALSE(renewed);
  EXPECT_EQ(renewed.error().kind, ErrorKind::NotFound);
  EXPECT_EQ(pki->current(), before);
}

}  // namespace
}  // namespace overmesh::daemon
