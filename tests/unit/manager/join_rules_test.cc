// The pure join decisions: which role a token admits (join_tokens.h) and whether a
// joining node may have the address it claims (join_address.h), with a fake prover.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/secret_hash.h"
#include "manager/cert_expiry.h"
#include "manager/join_address.h"
#include "manager/join_tokens.h"
#include "manager/node_manager.h"
#include "support/manager_cluster.h"

namespace overmesh::manager {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

const std::string kFingerprint(64, 'f');

JoinTokenHashes hashesOf(const std::string& worker, const std::string& manager) {
  return JoinTokenHashes{hashSecret(worker), hashSecret(manager), 7};
}

TEST(MatchJoinTokenTest, TheWorkerSecretJoinsAsWorker) {
  auto role =
      matchJoinToken({kFingerprint, "w-secret"}, kFingerprint, hashesOf("w-secret", "m"), false);
  ASSERT_TRUE(role) << role.error().message;
  EXPECT_EQ(*role, "worker");
}

TEST(MatchJoinTokenTest, AnotherFingerprintIsRefusedBeforeTheSecretCounts) {
  auto role = matchJoinToken({std::string(64, 'a'), "w-secret"}, kFingerprint,
                             hashesOf("w-secret", "m"), true);
  ASSERT_FALSE(role);
  EXPECT_EQ(role.error().kind, ErrorKind::Unauthenticated);
  EXPECT_THAT(role.error().message, HasSubstr("another cluster"));
}

TEST(MatchJoinTokenTest, TheManagerSecretIsRefusedWithoutASharedStore) {
  auto role =
      matchJoinToken({kFingerprint, "m-secret"}, kFingerprint, hashesOf("w", "m-secret"), false);
  ASSERT_FALSE(role);
  EXPECT_EQ(role.error().kind, ErrorKind::FailedPrecondition);
  EXPECT_EQ(role.error().message, kSharedStoreRequired);
}

TEST(MatchJoinTokenTest, TheManagerSecretJoinsAsManagerOnASharedStore) {
  auto role =
      matchJoinToken({kFingerprint, "m-secret"}, kFingerprint, hashesOf("w", "m-secret"), true);
  ASSERT_TRUE(role) << role.error().message;
  EXPECT_EQ(*role, "manager");
}

TEST(MatchJoinTokenTest, OnlyEtcdUrlsAreSharedStores) {
  EXPECT_TRUE(isSharedStore("etcd://198.18.0.200:2379"));
  EXPECT_TRUE(isSharedStore("etcd://a:2379,b:2379"));
  EXPECT_FALSE(isSharedStore("sqlite"));
  EXPECT_FALSE(isSharedStore("")) << "records made before issue 13";
  EXPECT_FALSE(isSharedStore("ETCD://x:1"));
}

TEST(MatchJoinTokenTest, UnknownSecretsAndEmptyHashesNeverMatch) {
  EXPECT_EQ(
      matchJoinToken({kFingerprint, "guess"}, kFingerprint, hashesOf("w", "m"), true).error().kind,
      ErrorKind::Unauthenticated);
  JoinTokenHashes empty;
  EXPECT_FALSE(matchJoinToken({kFingerprint, ""}, kFingerprint, empty, true));
  EXPECT_FALSE(matchJoinToken({"", "w"}, "", hashesOf("w", "m"), true)) << "no CA: nothing joins";
}

TEST(CertExpiryTest, BoundsAreOneMinuteToFiveYears) {
  EXPECT_TRUE(checkCertExpiry(60'000, "--cert-expiry"));
  EXPECT_TRUE(checkCertExpiry(43'800LL * 3'600'000, "--cert-expiry"));
  auto below = checkCertExpiry(59'999, "--cert-expiry");
  ASSERT_FALSE(below);
  EXPECT_THAT(below.error().message, AllOf(HasSubstr("--cert-expiry"), HasSubstr("59999ms")));
  EXPECT_FALSE(checkCertExpiry(43'800LL * 3'600'000 + 1, "--cert-expiry"));
  api::Cluster cluster;
  cluster.certExpiryMs = 0;  // a record without the field
  EXPECT_EQ(certValidity(cluster), std::chrono::hours(24 * 90));
  cluster.certExpiryMs = 120'000;
  EXPECT_EQ(certValidity(cluster), std::chrono::seconds(120));
}

JoinRequest from(const std::string& address, const std::string& source) {
  JoinRequest request;
  request.address = address;
  request.sourceAddress = source;
  return request;
}

TEST(CheckJoinAddressTest, TheSourceAddressNeedsNoProof) {
  overmesh::testing::FakeProver prover;
  EXPECT_TRUE(checkJoinAddress(from("198.18.0.9", "198.18.0.9"), &prover));
  EXPECT_EQ(prover.calls, 0);
}

TEST(CheckJoinAddressTest, AnEmptySourceIsNeverTheClaimedAddress) {
  auto refused = checkJoinAddress(from("198.18.0.9", ""), nullptr);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, ErrorKind::Unauthenticated);
}

TEST(CheckJoinAddressTest, WithoutAdvertiseAddrAMismatchIsRefusedNamingBoth) {
  overmesh::testing::FakeProver prover;
  prover.answer = std::string(32, 'a');
  auto refused = checkJoinAddress(from("198.18.0.9", "198.18.0.1"), &prover);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, ErrorKind::Unauthenticated);
  EXPECT_THAT(refused.error().message, AllOf(HasSubstr("198.18.0.9"), HasSubstr("198.18.0.1")));
  EXPECT_EQ(prover.calls, 0);
}

TEST(CheckJoinAddressTest, AProofMustMatchExactly) {
  overmesh::testing::FakeProver prover;
  JoinRequest request = from("198.18.0.9", "198.18.0.1");
  request.advertiseAddrGiven = true;
  request.addressProof = std::string(32, 'b');
  request.proofPort = 4000;
  prover.answer = std::string(32, 'b');
  EXPECT_TRUE(checkJoinAddress(request, &prover));
  prover.answer = std::string(31, 'b');
  EXPECT_FALSE(checkJoinAddress(request, &prover));
  prover.answer = std::string(32, 'b') + "\n";
  EXPECT_FALSE(checkJoinAddress(request, &prover));
  EXPECT_FALSE(checkJoinAddress(request, nullptr)) << "no prover: nothing can be proven";
}

}  // namespace
}  // namespace overmesh::manager
