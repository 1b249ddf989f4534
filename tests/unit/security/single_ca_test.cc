// singleCaCertificate: what a joining node pins must be everything it will trust.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "security/pki.h"
#include "support/pki_fixtures.h"

namespace overmesh::security {
namespace {

using ::testing::HasSubstr;
using testing::issueTestNode;
using testing::must;

constexpr const char* kSingleCaCluster = "clusterSingleCa0123456789";

TEST(SingleCaCertificate, OneCaCertificateIsKeptWithTheSameFingerprint) {
  auto ca = must(createCa(kSingleCaCluster, std::chrono::system_clock::now()));
  auto single = singleCaCertificate("\n" + ca.certPem + "\n\n");
  ASSERT_TRUE(single) << single.error().message;
  EXPECT_EQ(must(certificateFingerprint(*single)), must(certificateFingerprint(ca.certPem)));
}

TEST(SingleCaCertificate, ASecondCertificateAfterThePinnedOneIsRefused) {
  // The attack: the real CA first (its fingerprint matches the token), the attacker's
  // CA after it (trusted by whoever loads the whole answer).
  auto real = must(createCa(kSingleCaCluster, std::chrono::system_clock::now()));
  auto attacker = must(createCa("attacker", std::chrono::system_clock::now()));
  auto refused = singleCaCertificate(real.certPem + attacker.certPem);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, ErrorKind::InvalidArgument);
  EXPECT_THAT(refused.error().message, HasSubstr("more than one certificate"));
}

TEST(SingleCaCertificate, TextAfterTheCertificateIsRefused) {
  auto ca = must(createCa(kSingleCaCluster, std::chrono::system_clock::now()));
  EXPECT_FALSE(singleCaCertificate(ca.certPem + "trailing"));
}

TEST(SingleCaCertificate, ANodeCertificateIsNotACa) {
  auto ca = must(createCa(kSingleCaCluster, std::chrono::system_clock::now()));
  auto node = issueTestNode(ca, "node1", "worker", kSingleCaCluster);
  auto refused = singleCaCertificate(node.certPem);
  ASSERT_FALSE(refused);
  EXPECT_THAT(refused.error().message, HasSubstr("not a CA"));
}

TEST(SingleCaCertificate, GarbageAndEmptyAnswersAreRefused) {
  EXPECT_FALSE(singleCaCertificate(""));
  EXPECT_FALSE(singleCaCertificate("not a certificate"));
  EXPECT_FALSE(singleCaCertificate(std::string(kMaxPemBytes + 1, 'A')));
}

}  // namespace
}  // namespace overmesh::security
