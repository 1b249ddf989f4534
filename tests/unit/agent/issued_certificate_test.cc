// checkIssuedCertificate with real certificates (security library): what a node checks
// in a certificate the manager sent before it stores it, at a join and at a renewal.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "agent/cert_renewal.h"
#include "support/pki_fixtures.h"

namespace overmesh::agent {
namespace {

using overmesh::testing::issueTestNode;
using overmesh::testing::must;
using overmesh::testing::pkiTestNow;
using ::testing::HasSubstr;

class IssuedCertificateTest : public ::testing::Test {
 protected:
  security::CaMaterial ca_ = must(security::createCa("clusterI", pkiTestNow()));
  overmesh::testing::TestNodeCredentials node_ =
      issueTestNode(ca_, "nodeI", "worker", "clusterI", pkiTestNow());
};

TEST_F(IssuedCertificateTest, AcceptsTheNodesOwnCertificate) {
  auto info = checkIssuedCertificate(node_.keyPem, node_.certPem, ca_.certPem, "nodeI", "worker",
                                     pkiTestNow());
  ASSERT_TRUE(info) << info.error().message;
  EXPECT_EQ(info->identity.nodeId, "nodeI");
  EXPECT_EQ(info->identity.role, "worker");
}

TEST_F(IssuedCertificateTest, RefusesACertificateForAnotherKey) {
  auto otherKey = must(security::generateKey()).privateKeyPem;
  auto info =
      checkIssuedCertificate(otherKey, node_.certPem, ca_.certPem, "nodeI", "worker", pkiTestNow());
  ASSERT_FALSE(info);
  EXPECT_EQ(info.error().kind, ErrorKind::Unauthenticated);
  EXPECT_THAT(info.error().message, HasSubstr("not for this node's key"));
}

TEST_F(IssuedCertificateTest, RefusesACertificateOfAnotherCa) {
  auto otherCa = must(security::createCa("clusterI", pkiTestNow()));
  auto info = checkIssuedCertificate(node_.keyPem, node_.certPem, otherCa.certPem, "nodeI",
                                     "worker", pkiTestNow());
  ASSERT_FALSE(info);
  EXPECT_EQ(info.error().kind, ErrorKind::Unauthenticated);
}

TEST_F(IssuedCertificateTest, RefusesACertificateForAnotherNodeOrRole) {
  auto other = checkIssuedCertificate(node_.keyPem, node_.certPem, ca_.certPem, "nodeJ", "worker",
                                      pkiTestNow());
  ASSERT_FALSE(other);
  EXPECT_EQ(other.error().kind, ErrorKind::Unauthenticated);
  EXPECT_THAT(other.error().message, HasSubstr("names node nodeI (worker), expected node nodeJ"));
  auto promoted = checkIssuedCertificate(node_.keyPem, node_.certPem, ca_.certPem, "nodeI",
                                         "manager", pkiTestNow());
  EXPECT_FALSE(promoted);
}

TEST_F(IssuedCertificateTest, RefusesAnExpiredCertificate) {
  auto info = checkIssuedCertificate(node_.keyPem, node_.certPem, ca_.certPem, "nodeI", "worker",
                                     pkiTestNow() + std::chrono::hours(48));
  ASSERT_FALSE(info);
  EXPECT_EQ(info.error().kind, ErrorKind::Unauthenticated);
}

}  // namespace
}  // namespace overmesh::agent
