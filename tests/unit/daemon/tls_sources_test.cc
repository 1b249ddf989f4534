// The TLS configuration sources: the same configuration (pointer) for as long as the
// node's credentials snapshot stays, a new one once a renewal swapped it, and the
// fields each side needs. Plain values: no OpenSSL, no files.

#include "daemon/tls_sources.h"

#include <gtest/gtest.h>

namespace overmesh::daemon {
namespace {

std::shared_ptr<const security::NodeCredentials> snapshot(std::string tag) {
  auto credentials = std::make_shared<security::NodeCredentials>();
  credentials->caCertPem = "CA " + tag;
  credentials->certPem = "CERT " + tag;
  credentials->keyPem = "KEY " + tag;
  return credentials;
}

TEST(TlsSources, ServerConfigIsTheSameObjectWhileCredentialsStay) {
  auto current = snapshot("1");
  auto source = serverConfigSource([&current] { return current; });
  auto first = source();
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(source(), first);
  EXPECT_EQ(first->caPem, "CA 1");
  EXPECT_EQ(first->certPem, "CERT 1");
  EXPECT_EQ(first->keyPem, "KEY 1");
}

TEST(TlsSources, ServerConfigChangesAfterARenewal) {
  auto current = snapshot("1");
  auto source = serverConfigSource([&current] { return current; });
  auto before = source();
  current = snapshot("2");
  auto after = source();
  EXPECT_NE(after, before);
  EXPECT_EQ(after->certPem, "CERT 2");
  EXPECT_EQ(before->certPem, "CERT 1");  // a connection made before keeps its own
}

TEST(TlsSources, ClientConfigNamesTheServerAndPresentsTheNodesCertificate) {
  auto current = snapshot("1");
  auto source =
      clientConfigSource([&current] { return current; }, "overmesh-manager", "198.18.0.5");
  auto config = source();
  ASSERT_NE(config, nullptr);
  EXPECT_EQ(config->serverName, "overmesh-manager");
  EXPECT_EQ(config->caPem, "CA 1");
  EXPECT_EQ(config->certPem, "CERT 1");
  EXPECT_EQ(config->keyPem, "KEY 1");
  EXPECT_FALSE(config->joinAlpn);
  EXPECT_FALSE(config->skipServerVerification);
  EXPECT_EQ(config->sourceAddress, "198.18.0.5");
  EXPECT_EQ(source(), config);
  current = snapshot("2");
  EXPECT_NE(source(), config);
  EXPECT_EQ(source()->certPem, "CERT 2");
}

TEST(TlsSources, NoConfigWithoutCredentials) {
  auto source = clientConfigSource([] { return nullptr; }, "overmesh-manager", "");
  EXPECT_EQ(source(), nullptr);
  EXPECT_EQ(serverConfigSource([] { return nullptr; })(), nullptr);
}

TEST(TlsSources, OneOffClientConfigForAnotherNode) {
  auto config = clientConfig(*snapshot("1"), "node-abc", "198.18.0.1");
  EXPECT_EQ(config->serverName, "node-abc");
  EXPECT_EQ(config->sourceAddress, "198.18.0.1");
  EXPECT_EQ(config->certPem, "CERT 1");
}

}  // namespace
}  // namespace overmesh::daemon
