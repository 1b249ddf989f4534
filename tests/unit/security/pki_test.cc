#include "security/pki.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <string>

#include "security/openssl_handles.h"
#include "support/pki_fixtures.h"
#include "support/test_certs.h"

namespace overmesh::security {
namespace {

using namespace std::chrono_literals;
using testing::issueTestNode;
using testing::must;
using testing::pkiTestNow;

constexpr const char* kCluster = "cluster0123456789abcdefgh";

bool hasDnsName(const std::string& certPem, const std::string& name) {
  auto cert = must(ossl::readCertificate(certPem, "test certificate"));
  return X509_check_host(cert.get(), name.data(), name.size(), X509_CHECK_FLAG_NO_WILDCARDS,
                         nullptr) == 1;
}

// The CSR's DER with one byte of its signature (the last byte) flipped, as PEM.
std::string tamperedCsr(const std::string& csrPem) {
  auto csr = must(ossl::readCsr(csrPem, "test CSR"));
  unsigned char* der = nullptr;
  int length = i2d_X509_REQ(csr.get(), &der);
  EXPECT_GT(length, 0);
  der[length - 1] ^= 0x01;
  const unsigned char* cursor = der;
  ossl::X509Req changed(d2i_X509_REQ(nullptr, &cursor, length));
  OPENSSL_free(der);
  EXPECT_TRUE(changed);
  ossl::Bio bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509_REQ(bio.get(), changed.get());
  return ossl::bioContent(bio.get());
}

// The certificate's DER with the last byte of its signature flipped, as PEM.
std::string tamperedCertificate(const std::string& certPem) {
  auto cert = must(ossl::readCertificate(certPem, "test certificate"));
  unsigned char* der = nullptr;
  int length = i2d_X509(cert.get(), &der);
  EXPECT_GT(length, 0);
  der[length - 1] ^= 0x01;
  const unsigned char* cursor = der;
  ossl::X509Ptr changed(d2i_X509(nullptr, &cursor, length));
  OPENSSL_free(der);
  EXPECT_TRUE(changed);
  return must(ossl::certificatePem(changed.get()));
}

std::string keyPemOfType(const char* type, const char* parameter) {
  ossl::Pkey key(parameter == nullptr ? EVP_PKEY_Q_keygen(nullptr, nullptr, type)
                                      : EVP_PKEY_Q_keygen(nullptr, nullptr, type, parameter));
  EXPECT_TRUE(key);
  return must(ossl::privateKeyPem(key.get()));
}

class PkiTest : public ::testing::Test {
 protected:
  CaMaterial ca_ = must(createCa(kCluster, pkiTestNow()));
};

TEST_F(PkiTest, CaIsSelfSignedP256WithTwentyYears) {
  CertificateInfo info = must(inspectCertificate(ca_.certPem));
  EXPECT_TRUE(info.isCa);
  EXPECT_TRUE(info.identity.nodeId.empty());
  EXPECT_EQ(info.notBefore, pkiTestNow() - 1min);
  EXPECT_EQ(info.notAfter, pkiTestNow() + kCaValidity);
  EXPECT_EQ(info.serial.size(), 32u);
  auto key = must(ossl::readPrivateKey(ca_.keyPem, "CA key"));
  EXPECT_TRUE(EVP_PKEY_is_a(key.get(), "EC"));
  EXPECT_TRUE(must(keyMatchesCertificate(ca_.keyPem, ca_.certPem)));
  EXPECT_TRUE(ca_.keyPem.starts_with("-----BEGIN PRIVATE KEY-----"));
}

TEST_F(PkiTest, SignAndVerifyRoundTrip) {
  auto node = issueTestNode(ca_, "node1", "worker", kCluster, pkiTestNow(), 90 * 24h);
  CertificateInfo info = must(verifyNodeCertificate(node.certPem, ca_.certPem, pkiTestNow()));
  EXPECT_EQ(info.identity.nodeId, "node1");
  EXPECT_EQ(info.identity.role, "worker");
  EXPECT_EQ(info.identity.clusterId, kCluster);
  EXPECT_FALSE(info.isCa);
  EXPECT_EQ(info.notBefore, pkiTestNow() - 1min);
  EXPECT_EQ(info.notAfter, pkiTestNow() + 90 * 24h);
  EXPECT_TRUE(hasDnsName(node.certPem, "node1"));
  EXPECT_TRUE(hasDnsName(node.certPem, std::string(kWorkerServerName)));
  EXPECT_FALSE(hasDnsName(node.certPem, std::string(kManagerServerName)));
  EXPECT_TRUE(must(keyMatchesCertificate(node.keyPem, node.certPem)));
}

TEST_F(PkiTest, ManagerCertificateCarriesTheManagerName) {
  auto node = issueTestNode(ca_, "mgr1", "manager", kCluster, pkiTestNow());
  EXPECT_TRUE(hasDnsName(node.certPem, std::string(kManagerServerName)));
  EXPECT_FALSE(hasDnsName(node.certPem, std::string(kWorkerServerName)));
  EXPECT_EQ(must(inspectCertificate(node.certPem)).identity.role, "manager");
}

TEST_F(PkiTest, SubjectAndNamesComeFromTheIdentityNotTheCsr) {
  std::string key = must(generateKey()).privateKeyPem;
  std::string csr = must(makeCsr(key, "evil"));
  std::string cert = must(
      signNodeCertificate(ca_, csr, NodeIdentity{"node7", "worker", kCluster}, 24h, pkiTestNow()));
  CertificateInfo info = must(inspectCertificate(cert));
  EXPECT_EQ(info.identity.nodeId, "node7");
  EXPECT_FALSE(hasDnsName(cert, "evil"));
  EXPECT_TRUE(hasDnsName(cert, "node7"));
}

TEST_F(PkiTest, SerialsAreRandom) {
  auto a = issueTestNode(ca_, "node1", "worker", kCluster, pkiTestNow());
  auto b = issueTestNode(ca_, "node1", "worker", kCluster, pkiTestNow());
  EXPECT_NE(must(inspectCertificate(a.certPem)).serial, must(inspectCertificate(b.certPem)).serial);
}

TEST_F(PkiTest, ExpiredCertificateIsRefusedAtALaterNow) {
  auto node = issueTestNode(ca_, "node1", "worker", kCluster, pkiTestNow(), 1h);
  auto result = verifyNodeCertificate(node.certPem, ca_.certPem, pkiTestNow() + 2h);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::Unauthenticated);
  EXPECT_NE(result.error().message.find("expired on 2026-11-26 01:00:00 UTC"), std::string::npos)
      << result.error().message;
}

TEST_F(PkiTest, NotYetValidCertificateIsRefused) {
  auto node = issueTestNode(ca_, "node1", "worker", kCluster, pkiTestNow() + 1h, 1h);
  auto result = verifyNodeCertificate(node.certPem, ca_.certPem, pkiTestNow() + 30min);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::Unauthenticated);
  EXPECT_NE(result.error().message.find("not valid before 2026-11-26 00:59:00 UTC"),
            std::string::npos)
      << result.error().message;
}

TEST_F(PkiTest, ACaOutsideItsValidityIsNamedAsTheProblem) {
  auto node = issueTestNode(ca_, "node1", "worker", kCluster, pkiTestNow() - 1h, 2h);
  auto result = verifyNodeCertificate(node.certPem, ca_.certPem, pkiTestNow() - 30min);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::Unauthenticated);
  EXPECT_NE(result.error().message.find("the cluster CA's certificate is not valid at"),
            std::string::npos)
      << result.error().message;
}

TEST_F(PkiTest, CertificateOfAnotherCaIsRefused) {
  CaMaterial other = must(createCa("othercluster", pkiTestNow()));
  auto node = issueTestNode(other, "node1", "worker", "othercluster", pkiTestNow());
  auto result = verifyNodeCertificate(node.certPem, ca_.certPem, pkiTestNow());
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::Unauthenticated);
  EXPECT_NE(result.error().message.find("not signed by this cluster's CA"), std::string::npos)
      << result.error().message;
}

TEST_F(PkiTest, CertificateWithATamperedSignatureIsRefused) {
  auto node = issueTestNode(ca_, "node1", "worker", kCluster, pkiTestNow());
  auto result = verifyNodeCertificate(tamperedCertificate(node.certPem), ca_.certPem, pkiTestNow());
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::Unauthenticated);
  EXPECT_NE(result.error().message.find("not signed by this cluster's CA"), std::string::npos)
      << result.error().message;
}

TEST_F(PkiTest, UnreadableCaIsTheCallersErrorNotThePeers) {
  auto node = issueTestNode(ca_, "node1", "worker", kCluster, pkiTestNow());
  auto result = verifyNodeCertificate(node.certPem, "not a CA", pkiTestNow());
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::InvalidArgument);
  EXPECT_NE(result.error().message.find("CA certificate"), std::string::npos);
  auto garbage = verifyNodeCertificate("not a certificate", ca_.certPem, pkiTestNow());
  ASSERT_FALSE(garbage);
  EXPECT_EQ(garbage.error().kind, ErrorKind::Unauthenticated);
}

TEST_F(PkiTest, TheCaCertificateIsNotANodeCertificate) {
  auto result = verifyNodeCertificate(ca_.certPem, ca_.certPem, pkiTestNow());
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::Unauthenticated);
  EXPECT_NE(result.error().message.find("not a node certificate"), std::string::npos)
      << result.error().message;
}

// A certificate signed by the cluster's CA, shaped like a node's (CN, OU, O), but with the
// given key usages: made with OpenSSL directly, since signNodeCertificate always sets both.
TEST_F(PkiTest, ACertificateWithoutBothNodeUsagesIsNotANodeCertificate) {
  // makeTestCert's certificates start a minute before the real now: so does this CA.
  const auto now = std::chrono::system_clock::now();
  CaMaterial clusterCa = must(createCa(kCluster, now));
  const testing::TestCa ca{clusterCa.certPem, clusterCa.keyPem};
  struct Case {
    const char* name;
    const char* extendedKeyUsage;
    const char* keyUsage;
  };
  const Case cases[] = {
      {"client only", "clientAuth", "critical,digitalSignature"},
      {"server only", "serverAuth", "critical,digitalSignature"},
      {"no extended key usage", "", "critical,digitalSignature"},
      {"code signing", "codeSigning", "critical,digitalSignature"},
      {"no digitalSignature", "serverAuth,clientAuth", "critical,nonRepudiation"},
  };
  for (const Case& c : cases) {
    testing::TestCertSpec spec;
    spec.nodeId = "node1";
    spec.role = "worker";
    spec.clusterId = kCluster;
    spec.extendedKeyUsage = c.extendedKeyUsage;
    spec.keyUsage = c.keyUsage;
    auto cert = testing::makeTestCert(ca, spec);
    auto result = verifyNodeCertificate(cert.certPem, clusterCa.certPem, now);
    ASSERT_FALSE(result) << c.name;
    EXPECT_EQ(result.error().kind, ErrorKind::Unauthenticated) << c.name;
    EXPECT_NE(result.error().message.find("serverAuth and clientAuth"), std::string::npos)
        << c.name << ": " << result.error().message;
  }
  // The same shape with both usages passes: the refusals above are the usages' doing.
  testing::TestCertSpec good;
  good.nodeId = "node1";
  good.role = "worker";
  good.clusterId = kCluster;
  auto cert = testing::makeTestCert(ca, good);
  auto info = must(verifyNodeCertificate(cert.certPem, clusterCa.certPem, now));
  EXPECT_EQ(info.identity.nodeId, "node1");
}

TEST_F(PkiTest, TamperedCsrIsRefused) {
  std::string key = must(generateKey()).privateKeyPem;
  std::string csr = tamperedCsr(must(makeCsr(key, "node1")));
  auto result =
      signNodeCertificate(ca_, csr, NodeIdentity{"node1", "worker", kCluster}, 24h, pkiTestNow());
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::InvalidArgument);
  EXPECT_NE(result.error().message.find("CSR"), std::string::npos) << result.error().message;
}

TEST_F(PkiTest, CsrOfAnotherCurveIsRefused) {
  std::string csr = must(makeCsr(keyPemOfType("EC", "P-384"), "node1"));
  auto result =
      signNodeCertificate(ca_, csr, NodeIdentity{"node1", "worker", kCluster}, 24h, pkiTestNow());
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::InvalidArgument);
  EXPECT_NE(result.error().message.find("secp384r1"), std::string::npos) << result.error().message;
}

TEST_F(PkiTest, Ed25519CsrIsAccepted) {
  std::string key = keyPemOfType("ED25519", nullptr);
  std::string cert =
      must(signNodeCertificate(ca_, must(makeCsr(key, "node1")),
                               NodeIdentity{"node1", "worker", kCluster}, 24h, pkiTestNow()));
  EXPECT_TRUE(must(keyMatchesCertificate(key, cert)));
  must(verifyNodeCertificate(cert, ca_.certPem, pkiTestNow()));
}

TEST_F(PkiTest, GarbageAndOversizedInputIsRefusedWithAMessage) {
  NodeIdentity who{"node1", "worker", kCluster};
  struct Case {
    std::string input;
    std::string expected;
  };
  for (const Case& c :
       {Case{"", "CSR is empty"}, Case{"hello", "CSR is not a PEM certificate signing request"},
        Case{"-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE "
             "REQUEST-----\n",
             "CSR is not a PEM certificate signing request"},
        Case{std::string(kMaxPemBytes + 1, 'A'), "at most 16384"}}) {
    auto result = signNodeCertificate(ca_, c.input, who, 24h, pkiTestNow());
    ASSERT_FALSE(result);
    EXPECT_EQ(result.error().kind, ErrorKind::InvalidArgument);
    EXPECT_NE(result.error().message.find(c.expected), std::string::npos) << result.error().message;
  }
  for (const Case& c : {Case{"hello", "certificate is not a PEM certificate"},
                        Case{std::string(kMaxPemBytes + 1, 'A'), "at most 16384"}}) {
    auto info = inspectCertificate(c.input);
    ASSERT_FALSE(info);
    EXPECT_EQ(info.error().kind, ErrorKind::InvalidArgument);
    EXPECT_NE(info.error().message.find(c.expected), std::string::npos) << info.error().message;
    EXPECT_FALSE(certificateFingerprint(c.input));
    EXPECT_FALSE(keyMatchesCertificate(c.input, ca_.certPem));
  }
}

TEST_F(PkiTest, InvalidIdentityIsRefused) {
  std::string csr = must(makeCsr(must(generateKey()).privateKeyPem, "node1"));
  for (const NodeIdentity& who :
       {NodeIdentity{"", "worker", kCluster}, NodeIdentity{"node1", "admin", kCluster},
        NodeIdentity{"node1", "worker", ""}, NodeIdentity{"node1,OU=manager", "worker", kCluster},
        NodeIdentity{std::string(65, 'a'), "worker", kCluster}}) {
    auto result = signNodeCertificate(ca_, csr, who, 24h, pkiTestNow());
    ASSERT_FALSE(result) << who.nodeId;
    EXPECT_EQ(result.error().kind, ErrorKind::InvalidArgument);
    EXPECT_NE(result.error().message.find("node identity"), std::string::npos);
  }
}

TEST_F(PkiTest, ValidityMustBePositiveAndAtMostFiveYears) {
  std::string csr = must(makeCsr(must(generateKey()).privateKeyPem, "node1"));
  NodeIdentity who{"node1", "worker", kCluster};
  EXPECT_FALSE(signNodeCertificate(ca_, csr, who, 0s, pkiTestNow()));
  EXPECT_FALSE(signNodeCertificate(ca_, csr, who, kMaxCertExpiry + 1s, pkiTestNow()));
  EXPECT_TRUE(signNodeCertificate(ca_, csr, who, kMaxCertExpiry, pkiTestNow()));
}

TEST_F(PkiTest, CaKeyMustMatchTheCaCertificate) {
  CaMaterial other = must(createCa("othercluster", pkiTestNow()));
  CaMaterial mixed{ca_.certPem, other.keyPem};
  std::string csr = must(makeCsr(must(generateKey()).privateKeyPem, "node1"));
  auto result =
      signNodeCertificate(mixed, csr, NodeIdentity{"node1", "worker", kCluster}, 24h, pkiTestNow());
  ASSERT_FALSE(result);
  EXPECT_NE(result.error().message.find("CA key does not match"), std::string::npos);
}

TEST_F(PkiTest, FingerprintIsStableLowerHexAndDiffersBetweenCas) {
  std::string fingerprint = must(certificateFingerprint(ca_.certPem));
  EXPECT_EQ(fingerprint.size(), 64u);
  EXPECT_TRUE(std::all_of(fingerprint.begin(), fingerprint.end(),
                          [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }));
  EXPECT_EQ(must(certificateFingerprint(ca_.certPem)), fingerprint);
  EXPECT_EQ(must(inspectCertificate(ca_.certPem)).fingerprint, fingerprint);
  CaMaterial other = must(createCa(kCluster, pkiTestNow()));
  EXPECT_NE(must(certificateFingerprint(other.certPem)), fingerprint);
}

TEST_F(PkiTest, KeyMatchesOnlyItsOwnCertificate) {
  auto node = issueTestNode(ca_, "node1", "worker", kCluster, pkiTestNow());
  EXPECT_TRUE(must(keyMatchesCertificate(node.keyPem, node.certPem)));
  EXPECT_FALSE(must(keyMatchesCertificate(must(generateKey()).privateKeyPem, node.certPem)));
  EXPECT_FALSE(must(keyMatchesCertificate(ca_.keyPem, node.certPem)));
}

TEST_F(PkiTest, EncryptedKeyIsRefusedWithoutAPrompt) {
  ossl::Pkey key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  ossl::Bio bio(BIO_new(BIO_s_mem()));
  const char* password = "secret";
  ASSERT_EQ(PEM_write_bio_PKCS8PrivateKey(bio.get(), key.get(), EVP_aes_256_cbc(), password, 6,
                                          nullptr, nullptr),
            1);
  auto result = makeCsr(ossl::bioContent(bio.get()), "node1");
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::InvalidArgument);
  EXPECT_NE(result.error().message.find("not an unencrypted PEM private key"), std::string::npos);
}

}  // namespace
}  // namespace overmesh::security
