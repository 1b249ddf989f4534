// ManagerClient against a real mutual-TLS listener on 127.0.0.1 (HttpServer::listenTls):
// the request carries the node's certificate, and a renewal (the source handing out a new
// configuration) makes the next request reconnect with the new certificate. With several
// managers, a request finds the leader past a dead manager and a 421 answer.

#include "agent/manager_client.h"

#include <gtest/gtest.h>

#include <thread>

#include "api/cluster_protocol.h"
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
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

  // A second manager on another port that answers /who with 421 naming `leader`.
  std::uint16_t listenNotLeader(api::HttpServer& server, std::string leader) {
    auto manager = issueTestNode(ca_, "mgr2", "manager", kClientCluster);
    auto serverConfig = std::make_shared<const api::TlsServerConfig>(
        api::TlsServerConfig{ca_.certPem, manager.certPem, manager.keyPem});
    server.route("GET", "/who", [leader](const api::HttpRequest&) {
      return api::HttpResponse{
          api::kNotLeaderStatus,
          fmt::format(R"({{"error":"not the leader","kind":"FailedPrecondition","leader":"{}"}})",
                      leader)};
    });
    api::TlsListenOptions options;
    options.config = [serverConfig] { return serverConfig; };
    return must(server.listenTls("127.0.0.1", 0, std::move(options)));
  }
  // A port nothing listens on: a server's, once stopped.
  std::uint16_t deadPort() {
    api::HttpServer server;
    auto port = must(server.listenTcp("127.0.0.1", 0));
    server.stop();
    return port;
  }

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

TEST_F(ManagerClientTest, FollowsA421ToTheLeaderItNames) {
  std::string serial;
  auto config = workerConfig(&serial);
  api::HttpServer follower;
  auto followerPort = listenNotLeader(follower, address());
  SystemClock clock;
  auto managers =
      must(ManagerEndpoints::create({"127.0.0.1:" + std::to_string(followerPort)}, clock));
  ManagerClient client(managers, [config] { return config; });
  EXPECT_EQ(must(client.call("GET", "/who", "", std::chrono::seconds(5))), serial);
  EXPECT_EQ(managers->current(), address());
  EXPECT_EQ(managers->leader(), address());
  follower.stop();
}

TEST_F(ManagerClientTest, MovesPastADeadManager) {
  std::string serial;
  auto config = workerConfig(&serial);
  SystemClock clock;
  auto dead = "127.0.0.1:" + std::to_string(deadPort());
  auto managers = must(ManagerEndpoints::create({dead, address()}, clock));
  ManagerClient client(managers, [config] { return config; });
  EXPECT_EQ(must(client.call("GET", "/who", "", std::chrono::seconds(5))), serial);
  EXPECT_EQ(managers->current(), address());
}

TEST_F(ManagerClientTest, MovesPastAManagerThatCannotReachItsStore) {
  std::string serial;
  auto config = workerConfig(&serial);
  auto manager = issueTestNode(ca_, "mgr3", "manager", kClientCluster);
  auto serverConfig = std::make_shared<const api::TlsServerConfig>(
      api::TlsServerConfig{ca_.certPem, manager.certPem, manager.keyPem});
  api::HttpServer cutOff;
  cutOff.route("GET", "/who", [](const api::HttpRequest&) {
    return api::HttpResponse{503, R"({"error":"etcd unreachable","kind":"Unavailable"})"};
  });
  api::TlsListenOptions options;
  options.config = [serverConfig] { return serverConfig; };
  auto cutOffPort = must(cutOff.listenTls("127.0.0.1", 0, std::move(options)));
  SystemClock clock;
  auto managers = must(
      ManagerEndpoints::create({"127.0.0.1:" + std::to_string(cutOffPort), address()}, clock));
  ManagerClient client(managers, [config] { return config; });
  EXPECT_EQ(must(client.call("GET", "/who", "", std::chrono::seconds(5))), serial);
  EXPECT_EQ(managers->current(), address());
  cutOff.stop();
}

TEST_F(ManagerClientTest, GivesUpWhenNoManagerLeadsAndNeverSpins) {
  std::string serial;
  auto config = workerConfig(&serial);
  api::HttpServer follower;
  auto followerPort = listenNotLeader(follower, "");
  SystemClock clock;
  auto managers = must(ManagerEndpoints::create(
      {"127.0.0.1:" + std::to_string(followerPort), "127.0.0.1:" + std::to_string(deadPort())},
      clock));
  ManagerClient client(managers, [config] { return config; });
  auto started = std::chrono::steady_clock::now();
  auto answer = client.call("GET", "/who", "", std::chrono::seconds(30));
  auto took = std::chrono::steady_clock::now() - started;
  ASSERT_FALSE(answer);
  // 2 × 2 + 1 attempts with pauses of 100, 200, 400, 800 ms between them.
  EXPECT_GE(took, std::chrono::milliseconds(1500));
  EXPECT_LT(took, std::chrono::seconds(10));
  follower.stop();
}

TEST_F(ManagerClientTest, APauseBetweenAttemptsEndsWhenCancelled) {
  std::string serial;
  auto config = workerConfig(&serial);
  SystemClock clock;
  auto managers = must(ManagerEndpoints::create(
      {"127.0.0.1:" + std::to_string(deadPort()), "127.0.0.1:" + std::to_string(deadPort())},
      clock));
  std::atomic<bool> cancel{false};
  ManagerClient client(
      managers, [config] { return config; }, &cancel);
  std::thread canceller([&cancel] {
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
    cancel = true;
  });
  auto started = std::chrono::steady_clock::now();
  EXPECT_FALSE(client.call("GET", "/who", "", std::chrono::seconds(30)));
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(800));
  canceller.join();
}

TEST(LeaderFromNotLeaderAnswer, ReadsTheFieldAndIgnoresGarbage) {
  EXPECT_EQ(leaderFromNotLeaderAnswer(R"({"leader":"198.18.0.2:2377"})"), "198.18.0.2:2377");
  EXPECT_EQ(leaderFromNotLeaderAnswer(R"({"leader":7})"), "");
  EXPECT_EQ(leaderFromNotLeaderAnswer("not json"), "");
  EXPECT_EQ(leaderFromNotLeaderAnswer(R"({"error":"x"})"), "");
}

}  // namespace
}  // namespace overmesh::agent
