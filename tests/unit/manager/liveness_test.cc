// Node admission and liveness through the manager's real cluster API over HTTP, with a
// manual clock: 250 simulated nodes heartbeat over one kept-alive connection.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "api/api_error.h"
#include "api/cluster_protocol.h"
#include "api/http_client.h"
#include "api/http_server.h"
#include "common/clock.h"
#include "common/json.h"
#include "manager/cluster_api.h"
#include "manager/cluster_manager.h"
#include "manager/node_manager.h"
#include "state/keys.h"
#include "store/sqlite/sqlite_store.h"
#include "support/scratch.h"

namespace overmesh::manager {
namespace {

using ::testing::HasSubstr;

class LivenessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = store::SqliteStore::open((dir_.path() / "store.db").string(), clock_);
    ASSERT_TRUE(store) << store.error().message;
    store_ = std::move(*store);
    ClusterManager clusters(*store_);
    api::SwarmInitRequest init;
    init.nodeTimeoutMs = 3000;
    auto created = clusters.init(init, {"manager", "127.0.0.1", "127.0.0.1:2377"});
    ASSERT_TRUE(created) << created.error().message;
    token_ = created->cluster.workerJoinToken;
    managerNodeId_ = created->node.id;
    nodes_ = std::make_unique<NodeManager>(*store_, clock_, managerNodeId_);
    ASSERT_TRUE(nodes_->load());
    tasks_ = std::make_unique<TaskManager>(*store_);
    clusterApi_ = std::make_unique<ClusterApi>(*store_, *nodes_, *tasks_);
    clusterApi_->registerRoutes(server_);
    auto port = server_.listenTcp("127.0.0.1", 0);
    ASSERT_TRUE(port) << port.error().message;
    auto client = api::HttpClient::create("tcp://127.0.0.1:" + std::to_string(*port));
    ASSERT_TRUE(client);
    client_ = std::move(*client);
  }

  void TearDown() override {
    server_.stop();
    if (store_) {
      store_->close();
    }
  }

  struct Joined {
    std::string id;
    std::string secret;
  };

  Result<Joined> join(const std::string& hostname, const std::string& token) {
    nlohmann::json body = {{"token", token}, {"hostname", hostname}, {"address", "198.18.0.9"}};
    auto response = client_->request("POST", api::kJoinPath, body.dump());
    if (!response) {
      return std::unexpected(response.error());
    }
    if (!api::isSuccess(*response)) {
      return std::unexpected(api::errorFromResponse(*response));
    }
    auto json = nlohmann::json::parse(response->body);
    return Joined{json["node"]["id"], json["nodeSecret"]};
  }

  int heartbeat(const Joined& node) {
    auto response = client_->request("POST", api::kHeartbeatPath, "{}", std::chrono::seconds(10),
                                     {{api::kNodeIdHeader, node.id},
                                      {api::kNodeSecretHeader, node.secret}});
    return response ? response->status : -1;
  }

  std::string stateOf(const std::string& nodeId) {
    auto record = store_->get(state::keys::node(nodeId));
    if (!record || !*record) {
      return "missing";
    }
    return decodeJson<api::Node>((*record)->value, "node")->state;
  }

  ManualClock clock_;
  testing::ScratchDir dir_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<NodeManager> nodes_;
  std::unique_ptr<TaskManager> tasks_;
  std::unique_ptr<ClusterApi> clusterApi_;
  api::HttpServer server_;
  std::unique_ptr<api::HttpClient> client_;
  std::string token_;
  std::string managerNodeId_;
};

TEST_F(LivenessTest, WrongTokenIsRefusedAndLeavesNoTrace) {
  auto revision = store_->currentRevision();
  auto refused = join("intruder", "OMTKN-1-aaaaaaaaaaaaaaaaaaaaaaaaa-0000");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, ErrorKind::Unauthenticated);
  EXPECT_THAT(refused.error().message, HasSubstr("belongs to another one"));
  auto malformed = join("intruder", "hello");
  ASSERT_FALSE(malformed);
  EXPECT_EQ(malformed.error().kind, ErrorKind::InvalidArgument);
  EXPECT_EQ(*store_->currentRevision(), *revision);
}

TEST_F(LivenessTest, HeartbeatWithWrongSecretIsUnauthenticated) {
  auto node = join("worker-1", token_);
  ASSERT_TRUE(node) << node.error().message;
  EXPECT_EQ(heartbeat({node->id, "not-the-secret"}), 401);
  EXPECT_EQ(heartbeat({"unknown-node", node->secret}), 401);
  EXPECT_EQ(heartbeat(*node), 200);
}

TEST_F(LivenessTest, SilentNodeGoesDownAndComesBackReady) {
  auto node = join("worker-1", token_);
  ASSERT_TRUE(node);
  clock_.advance(std::chrono::milliseconds(2900));
  ASSERT_TRUE(nodes_->sweep());
  EXPECT_EQ(stateOf(node->id), "ready") << "within the timeout";
  clock_.advance(std::chrono::milliseconds(200));
  auto changes = nodes_->sweep();
  ASSERT_TRUE(changes);
  ASSERT_EQ(changes->size(), 1u);
  EXPECT_EQ(stateOf(node->id), "down");
  EXPECT_EQ(heartbeat(*node), 200);
  EXPECT_EQ(stateOf(node->id), "ready");
}

TEST_F(LivenessTest, ManagerNeverMarksItselfDown) {
  clock_.advance(std::chrono::minutes(10));
  ASSERT_TRUE(nodes_->sweep());
  EXPECT_EQ(stateOf(managerNodeId_), "ready");
}

TEST_F(LivenessTest, TwoHundredFiftyNodesHeartbeatWithoutStoreWrites) {
  constexpr int kNodes = 250;
  std::vector<Joined> joined;
  for (int i = 0; i < kNodes; ++i) {
    auto node = join("sim-" + std::to_string(i), token_);
    ASSERT_TRUE(node) << node.error().message;
    joined.push_back(*node);
  }
  auto revisionBefore = *store_->currentRevision();
  // Ten rounds of a heartbeat per node, a second apart: all stay ready, none is written.
  for (int round = 0; round < 10; ++round) {
    for (const auto& node : joined) {
      ASSERT_EQ(heartbeat(node), 200);
    }
    clock_.advance(std::chrono::seconds(1));
    auto changes = nodes_->sweep();
    ASSERT_TRUE(changes);
    EXPECT_TRUE(changes->empty());
  }
  EXPECT_EQ(*store_->currentRevision(), revisionBefore) << "heartbeats must not write the store";

  // The even nodes go silent: exactly they are marked down, one write each.
  for (int second = 0; second < 4; ++second) {
    for (int i = 1; i < kNodes; i += 2) {
      ASSERT_EQ(heartbeat(joined[i]), 200);
    }
    clock_.advance(std::chrono::seconds(1));
    ASSERT_TRUE(nodes_->sweep());
  }
  for (int i = 0; i < kNodes; ++i) {
    EXPECT_EQ(stateOf(joined[i].id), i % 2 == 0 ? "down" : "ready") << i;
  }
  EXPECT_EQ(*store_->currentRevision(), revisionBefore + kNodes / 2);
}

TEST_F(LivenessTest, RestartedManagerGivesEveryNodeAFullTimeoutOfGrace) {
  auto node = join("worker-1", token_);
  ASSERT_TRUE(node);
  clock_.advance(std::chrono::seconds(60));
  NodeManager restarted(*store_, clock_, managerNodeId_);
  ASSERT_TRUE(restarted.load());
  ASSERT_TRUE(restarted.sweep());
  EXPECT_EQ(stateOf(node->id), "ready");
  clock_.advance(std::chrono::milliseconds(3100));
  ASSERT_TRUE(restarted.sweep());
  EXPECT_EQ(stateOf(node->id), "down");
}

TEST_F(LivenessTest, LeaveRemovesTheNodeAndItsCredentials) {
  auto node = join("worker-1", token_);
  ASSERT_TRUE(node);
  auto response = client_->request("POST", api::kLeavePath, "{}", std::chrono::seconds(10),
                                   {{api::kNodeIdHeader, node->id},
                                    {api::kNodeSecretHeader, node->secret}});
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(stateOf(node->id), "missing");
  EXPECT_EQ(heartbeat(*node), 401);
}

}  // namespace
}  // namespace overmesh::manager
