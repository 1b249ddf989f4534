// The local API's TCP endpoint and TLS files (api/tls_files.h).

#include "api/tls_files.h"

#include <gtest/gtest.h>

#include <fstream>

#include "support/scratch.h"

namespace overmesh::api {
namespace {

TEST(TcpEndpointTest, ParsesHostAndPort) {
  auto endpoint = parseTcpEndpoint("tcp://10.0.0.5:2376");
  ASSERT_TRUE(endpoint.has_value()) << endpoint.error().message;
  EXPECT_EQ(endpoint->host, "10.0.0.5");
  EXPECT_EQ(endpoint->port, 2376);
}

TEST(TcpEndpointTest, RefusesOtherFormsNamingTheValue) {
  for (const char* bad : {"unix:///run/x.sock", "tcp://10.0.0.5", "tcp://:2376", "tcp://10.0.0.5:0",
                          "tcp://10.0.0.5:70000", "tcp://10.0.0.5:23a", "tcp://a/b:1"}) {
    auto endpoint = parseTcpEndpoint(bad);
    ASSERT_FALSE(endpoint.has_value()) << bad;
    EXPECT_EQ(endpoint.error().kind, ErrorKind::InvalidArgument);
    EXPECT_NE(endpoint.error().message.find(bad), std::string::npos) << endpoint.error().message;
    EXPECT_NE(endpoint.error().message.find("tcp://HOST:PORT"), std::string::npos);
  }
}

TEST(TlsFilesTest, MissingFilesAreNamedWithDockersModel) {
  auto refused = requireTlsFiles(TlsFiles{.caCert = "ca.pem"}, "overmeshd --host tcp://…");
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().kind, ErrorKind::InvalidArgument);
  EXPECT_NE(refused.error().message.find("missing: --tlscert, --tlskey"), std::string::npos)
      << refused.error().message;
  EXPECT_NE(refused.error().message.find("--tlsverify"), std::string::npos);
  EXPECT_TRUE(requireTlsFiles(TlsFiles{"a", "b", "c"}, "x").has_value());
}

TEST(TlsFilesTest, UnreadableOrNonPemFileIsNamed) {
  testing::ScratchDir dir;
  std::string ca = (dir.path() / "ca.pem").string();
  std::ofstream(ca) << "not a certificate";
  auto loaded = loadServerTls(
      TlsFiles{ca, (dir.path() / "absent.pem").string(), (dir.path() / "k.pem").string()});
  ASSERT_FALSE(loaded.has_value());
  EXPECT_NE(loaded.error().message.find("--tlscacert " + ca), std::string::npos)
      << loaded.error().message;
  EXPECT_NE(loaded.error().message.find("not a PEM file"), std::string::npos);
}

}  // namespace
}  // namespace overmesh::api
