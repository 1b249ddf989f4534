// The renewal decision (renewalDue), the cluster expiry read from the cluster record
// (certExpiryOf), and one pass of the renewal loop against fake seams: no certificates,
// no clock, no network.

#include "agent/cert_renewal.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace overmesh::agent {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;
using ::testing::HasSubstr;

const TimePoint kIssued = TimePoint(hours(24 * 365 * 56));  // some day in 2026

// A certificate issued at kIssued for `validity`, as pki.h makes them (backdated 1 min).
security::CertificateInfo issuedFor(std::chrono::system_clock::duration validity) {
  security::CertificateInfo cert;
  cert.identity = {"node1", "worker", "cluster1"};
  cert.serial = "01";
  cert.notBefore = kIssued - minutes(1);
  cert.notAfter = kIssued + validity;
  return cert;
}

TEST(RenewalDue, NotDueBeforeHalfItsLifetime) {
  auto check = renewalDue(issuedFor(hours(24 * 90)), kIssued + hours(24 * 44), std::nullopt);
  EXPECT_FALSE(check.due);
  EXPECT_GT(check.nextCheck, kIssued + hours(24 * 44));
}

TEST(RenewalDue, DueOnceHalfItsLifetimePassed) {
  auto check = renewalDue(issuedFor(hours(24 * 90)), kIssued + hours(24 * 45), std::nullopt);
  EXPECT_TRUE(check.due);
  EXPECT_THAT(check.reason, HasSubstr("half of its lifetime"));
}

TEST(RenewalDue, HalfLifeCountsFromIssueNotFromTheBackdatedStart) {
  // A one-minute certificate is due after 30 s, not at once (its notBefore is a minute
  // earlier than its issue, which would make its half-life the moment it was issued).
  auto cert = issuedFor(minutes(1));
  EXPECT_FALSE(renewalDue(cert, kIssued + seconds(1), milliseconds(minutes(1))).due);
  EXPECT_FALSE(renewalDue(cert, kIssued + seconds(29), milliseconds(minutes(1))).due);
  EXPECT_TRUE(renewalDue(cert, kIssued + seconds(30), milliseconds(minutes(1))).due);
}

TEST(RenewalDue, ExpiredCertificateIsDue) {
  auto check = renewalDue(issuedFor(hours(1)), kIssued + hours(2), std::nullopt);
  EXPECT_TRUE(check.due);
  EXPECT_THAT(check.reason, HasSubstr("expired"));
}

TEST(RenewalDue, DueAtOnceWhenValidLongerThanTheClusterExpiry) {
  // `swarm update --cert-expiry 1m` on a cluster whose certificates last 90 days.
  auto check =
      renewalDue(issuedFor(hours(24 * 90)), kIssued + seconds(10), milliseconds(minutes(1)));
  EXPECT_TRUE(check.due);
  EXPECT_THAT(check.reason, HasSubstr("longer than the cluster's certificate expiry"));
}

TEST(RenewalDue, ClockDifferenceWithinToleranceIsNotARenewal) {
  // The manager's clock runs 3 s ahead: a fresh 60 s certificate has 63 s left here.
  auto cert = issuedFor(seconds(63));
  EXPECT_FALSE(renewalDue(cert, kIssued, milliseconds(seconds(60))).due);
}

TEST(RenewalDue, LooksAgainEveryTwoSecondsWhenTheExpiryIsShort) {
  auto now = kIssued + seconds(1);
  auto check = renewalDue(issuedFor(minutes(5)), now, milliseconds(minutes(5)));
  ASSERT_FALSE(check.due);
  EXPECT_EQ(check.nextCheck, now + seconds(2));
}

TEST(RenewalDue, ShortClusterExpiryAlsoShortensTheChecks) {
  // A 10-minute certificate with 9 m 30 s left, within tolerance of a 9-minute cluster
  // expiry: only the cluster's expiry is short, and it makes the node look often.
  auto now = kIssued + seconds(30);
  auto check = renewalDue(issuedFor(minutes(10)), now, milliseconds(minutes(9)));
  ASSERT_FALSE(check.due);
  EXPECT_EQ(check.nextCheck, now + seconds(2));
}

TEST(RenewalDue, LooksAgainWithinOnePollOtherwise) {
  auto now = kIssued + hours(1);
  auto check = renewalDue(issuedFor(hours(24 * 90)), now, milliseconds(hours(24 * 90)));
  ASSERT_FALSE(check.due);
  EXPECT_EQ(check.nextCheck, now + kRenewalPoll);
}

TEST(RenewalDue, NextCheckIsTheHalfwayPointWhenThatComesFirst) {
  auto cert = issuedFor(minutes(20));
  auto now = kIssued + minutes(10) - seconds(3);
  auto check = renewalDue(cert, now, std::nullopt);
  ASSERT_FALSE(check.due);
  EXPECT_EQ(check.nextCheck, kIssued + minutes(10));
}

TEST(CertExpiryOf, ReadsTheClusterRecordsField) {
  EXPECT_EQ(certExpiryOf(R"({"id":"c1","certExpiryMs":60000})"), milliseconds(60000));
}

TEST(CertExpiryOf, UnknownWhenAbsentMalformedOrOutOfBounds) {
  EXPECT_EQ(certExpiryOf(std::nullopt), std::nullopt);
  EXPECT_EQ(certExpiryOf(R"({"id":"c1"})"), std::nullopt);
  EXPECT_EQ(certExpiryOf("not json"), std::nullopt);
  EXPECT_EQ(certExpiryOf(R"({"certExpiryMs":"soon"})"), std::nullopt);
  EXPECT_EQ(certExpiryOf(R"({"certExpiryMs":1000})"), std::nullopt);  // below 1 min
  EXPECT_EQ(certExpiryOf(R"({"certExpiryMs":-5})"), std::nullopt);
  EXPECT_EQ(certExpiryOf(R"({"certExpiryMs":1e300})"), std::nullopt);
}

// The loop's seams, with a clock and credentials the test moves.
struct FakeNode {
  std::shared_ptr<const security::NodeCredentials> credentials;
  std::optional<milliseconds> clusterExpiry;
  TimePoint now = kIssued;
  int renewals = 0;
  Status renewResult;

  CertRenewalSeams seams() {
    CertRenewalSeams seams;
    seams.current = [this] { return credentials; };
    seams.clusterCertExpiry = [this] { return clusterExpiry; };
    seams.now = [this] { return now; };
    seams.renew = [this](const std::atomic<bool>*) -> Status {
      ++renewals;
      if (renewResult) {
        auto renewed = std::make_shared<security::NodeCredentials>(*credentials);
        renewed->cert = issuedFor(hours(24 * 90));
        renewed->cert.notBefore = now - minutes(1);
        renewed->cert.notAfter = now + hours(24 * 90);
        credentials = renewed;
      }
      return renewResult;
    };
    return seams;
  }

  void setCertificate(security::CertificateInfo cert) {
    auto next = std::make_shared<security::NodeCredentials>();
    next->cert = std::move(cert);
    credentials = next;
  }
};

TEST(CertRenewalLoop, WaitsWithoutRenewingWhenNothingIsDue) {
  FakeNode node;
  node.setCertificate(issuedFor(hours(24 * 90)));
  CertRenewalLoop loop(node.seams());
  EXPECT_EQ(loop.runOnce(), milliseconds(kRenewalPoll));
  EXPECT_EQ(node.renewals, 0);
}

TEST(CertRenewalLoop, RenewsWhenDueAndLooksAgainSoon) {
  FakeNode node;
  node.setCertificate(issuedFor(hours(24 * 90)));
  node.now = kIssued + hours(24 * 46);
  CertRenewalLoop loop(node.seams());
  EXPECT_EQ(loop.runOnce(), milliseconds(1000));
  EXPECT_EQ(node.renewals, 1);
  // The new certificate is not due: the next pass renews nothing.
  loop.runOnce();
  EXPECT_EQ(node.renewals, 1);
}

TEST(CertRenewalLoop, RetriesAfterFiveSecondsWhenRenewalFails) {
  FakeNode node;
  node.setCertificate(issuedFor(hours(24 * 90)));
  node.clusterExpiry = milliseconds(minutes(1));
  node.renewResult = errorf(ErrorKind::Unavailable, "manager down");
  CertRenewalLoop loop(node.seams());
  EXPECT_EQ(loop.runOnce(), milliseconds(seconds(5)));
  EXPECT_EQ(loop.runOnce(), milliseconds(seconds(5)));
  EXPECT_EQ(node.renewals, 2);
}

TEST(CertRenewalLoop, WaitsForCredentialsWhenThereAreNone) {
  FakeNode node;
  CertRenewalLoop loop(node.seams());
  EXPECT_EQ(loop.runOnce(), milliseconds(seconds(5)));
  EXPECT_EQ(node.renewals, 0);
}

TEST(CertRenewalLoop, StopEndsTheThreadPromptly) {
  FakeNode node;
  node.setCertificate(issuedFor(hours(24 * 90)));
  CertRenewalLoop loop(node.seams());
  loop.start();
  auto started = std::chrono::steady_clock::now();
  loop.stop();
  EXPECT_LT(std::chrono::steady_clock::now() - started, seconds(2));
}

}  // namespace
}  // namespace overmesh::agent
