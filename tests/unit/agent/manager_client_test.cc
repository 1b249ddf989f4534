// ManagerClient against a real mutual-TLS listener on 127.0.0.1 (HttpServer::listenTls):
// the request carries the node's certificate, and a renewal (the source handing out a new
// configuration) makes the next request reconnect with the new certificate.

#include "agent/manager_client.h"

#include <gtest/gtest.h>

#include "api/http_server.h"
#include "security/pki.h"
#include "support/pki_fixtures.h"

namespace overmesh::agent {
namespace {

using overmesh::testing::issueTestNode;
using overmesh::testing::must;

constexpr const char* kClientCluster = "clusterM";

class ManagerClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto manager = issueTestNode(ca_, "mgr1", "manager", kClientCluster);
    auto serverConfig = std::make_shared<const api::TlsServerConfig>(
        api::TlsServerConfig{ca_.certPem, manager.certPem, manager.keyPem});
    server_.route("GET", "/who", [](const api::HttpRequest& request) {
      return api::HttpResponse{200, request.identity ? request.identity->serial : "none"};
    });
    api::TlsListenOptions options;
    options.config = [serverConfig] { return serverConfig; };
    port_ = must(server_.listenTls("127.0.0.1", 0, std::move(options)));
  }
  void TearDown() override { server_.stop(); }

  std::shared_ptr<const api::TlsClientConfig> workerConfig(std::string* serial) {
    auto node = issueTestNode(ca_, "node1", "worker", kClientCluster);
    *serial = must(security::inspectCertificate(node.certPem)).serial;
    auto config = std::make_shared<api::TlsClientConfig>();
    config->caPem = ca_.certPem;
    config->serverName = std::string(security::kManagerServerName);
    config->certPem = node.certPem;
    config->keyPem = node.keyPem;
    return config;
  }
  std::string endpoint() const { return "tcp://127.0.0.1:" + std::to_string(port_); }

  security::CaMaterial ca_ =
      must(security::createCa(kClientCluster, std::chrono::system_clock::now()));
  api::HttpServer server_;
  std::uint16_t port_ = 0;
};

TEST_F(ManagerClientTest, PresentsTheNodesCertificateAndReconnectsAfterARenewal) {
  std::string firstSerial;
  std::string secondSerial;
  auto current = workerConfig(&firstSerial);
  ManagerClient client(endpoint(), [&current] { return current; });
  EXPECT_EQ(must(client.call("GET", "/who", "", std::chrono::seconds(5))), firstSerial);
  current = workerConfig(&secondSerial);
  EXPECT_EQ(must(client.call("GET", "/who", "", std::chrono::seconds(5))), secondSerial);
}

TEST_F(ManagerClientTest, WithoutCredentialsNothingIsSent) {
  ManagerClient client(endpoint(), [] { return nullptr; });
  auto answer = client.call("GET", "/who", "", std::chrono::seconds(5));
  ASSERT_FALSE(answer);
  EXPECT_EQ(answer.error().kind, ErrorKind::Internal);
  EXPECT_EQ(client.lastFailure(), api::HttpClient::Failure::Connect);
}

TEST_F(ManagerClientTest, AManagerOfAnotherClusterIsRefused) {
  std::string serial;
  auto config = workerConfig(&serial);
  auto foreign = std::make_shared<api::TlsClientConfig>(*config);
  foreign->caPem = must(security::createCa("other", std::chrono::system_clock::now())).certPem;
  ManagerClient client(endpoint(), [foreign] { return foreign; });
  EXPECT_FALSE(client.call("GET", "/who", "", std::chrono::seconds(5)));
}

}  // namespace
}  // namespace overmesh::agent
