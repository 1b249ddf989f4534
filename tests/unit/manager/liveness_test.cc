// Node admission and liveness through the manager's cluster API (routes dispatched with
// the identity the TLS listener verified), with a manual clock: 250 simulated nodes
// heartbeat, and the store is written only when a node's state changes.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "api/cluster_protocol.h"
#include "manager/node_manager.h"
#include "support/manager_cluster.h"

namespace overmesh::manager {
namespace {

using ::testing::HasSubstr;
using LivenessTest = overmesh::testing::ManagerClusterTest;

TEST_F(LivenessTest, MalformedTokenIsRefusedAndLeavesNoTrace) {
  auto revision = store_->currentRevision();
  auto malformed =
      join(overmesh::testing::joinRequestFor("hello", "intruder", "198.18.0.9"), "198.18.0.9");
  ASSERT_FALSE(malformed);
  EXPECT_EQ(malformed.error().kind, ErrorKind::InvalidArgument);
  EXPECT_EQ(*store_->currentRevision(), *revision);
}

TEST_F(LivenessTest, HeartbeatNeedsTheCertificateOfAMember) {
  auto node = joinWorker("worker-1");
  ASSERT_TRUE(node) << node.error().message;
  EXPECT_EQ(heartbeat(std::nullopt), 401) << "no TLS identity at all";
  EXPECT_EQ(heartbeat(joinConnection("198.18.0.9")), 401) << "a join connection";
  api::PeerIdentity unknown = node->identity;
  unknown.nodeId = "unknown-node";
  EXPECT_EQ(heartbeat(unknown), 401);
  api::PeerIdentity wrongRole = node->identity;
  wrongRole.role = "manager";
  EXPECT_EQ(heartbeat(wrongRole), 401) << "the record says worker";
  EXPECT_EQ(heartbeat(node->identity), 200);
}

TEST_F(LivenessTest, SilentNodeGoesDownAndComesBackReady) {
  auto node = joinWorker("worker-1");
  ASSERT_TRUE(node) << node.error().message;
  clock_.advance(std::chrono::milliseconds(2900));
  ASSERT_TRUE(nodes_->sweep());
  EXPECT_EQ(stateOf(node->id), "ready") << "within the timeout";
  clock_.advance(std::chrono::milliseconds(200));
  auto changes = nodes_->sweep();
  ASSERT_TRUE(changes);
  ASSERT_EQ(changes->size(), 1u);
  EXPECT_EQ(stateOf(node->id), "down");
  auto revision = *store_->currentRevision();
  EXPECT_EQ(heartbeat(node->identity), 200);
  EXPECT_EQ(*store_->currentRevision(), revision) << "a heartbeat never writes the store";
  EXPECT_EQ(stateOf(node->id), "down");
  changes = nodes_->sweep();
  ASSERT_TRUE(changes);
  ASSERT_EQ(changes->size(), 1u);
  EXPECT_EQ((*changes)[0].state, "ready");
  EXPECT_EQ(stateOf(node->id), "ready") << "the next sweep writes it ready";
}

TEST_F(LivenessTest, ANodeHeardOnceThenSilentAgainStaysDown) {
  auto node = joinWorker("worker-1");
  ASSERT_TRUE(node) << node.error().message;
  clock_.advance(std::chrono::milliseconds(3100));
  ASSERT_TRUE(nodes_->sweep());
  ASSERT_EQ(stateOf(node->id), "down");
  EXPECT_EQ(heartbeat(node->identity), 200);
  clock_.advance(std::chrono::milliseconds(3100));
  auto changes = nodes_->sweep();
  ASSERT_TRUE(changes);
  EXPECT_TRUE(changes->empty());
  EXPECT_EQ(stateOf(node->id), "down");
}

TEST_F(LivenessTest, ManagerNeverMarksItselfDown) {
  clock_.advance(std::chrono::minutes(10));
  ASSERT_TRUE(nodes_->sweep());
  EXPECT_EQ(stateOf(init_.node.id), "ready");
}

TEST_F(LivenessTest, TwoHundredFiftyNodesHeartbeatWithoutStoreWrites) {
  constexpr int kNodes = 250;
  std::vector<overmesh::testing::JoinedNode> joined;
  for (int i = 0; i < kNodes; ++i) {
    auto node = joinWorker("sim-" + std::to_string(i));
    ASSERT_TRUE(node) << node.error().message;
    joined.push_back(*node);
  }
  auto revisionBefore = *store_->currentRevision();
  // Ten rounds of a heartbeat per node, a second apart: all stay ready, none is written.
  for (int round = 0; round < 10; ++round) {
    for (const auto& node : joined) {
      ASSERT_EQ(heartbeat(node.identity), 200);
    }
    clock_.advance(std::chrono::seconds(1));
    auto changes = nodes_->sweep();
    ASSERT_TRUE(changes);
    EXPECT_TRUE(changes->empty());
  }
  EXPECT_EQ(*store_->currentRevision(), revisionBefore) << "heartbeats must not write the store";

  // The even nodes go silent: exactly they are marked down, in one batched transaction per
  // 60 nodes (one watch event for the burst, not one per node).
  for (int second = 0; second < 4; ++second) {
    for (int i = 1; i < kNodes; i += 2) {
      ASSERT_EQ(heartbeat(joined[i].identity), 200);
    }
    clock_.advance(std::chrono::seconds(1));
    ASSERT_TRUE(nodes_->sweep());
  }
  for (int i = 0; i < kNodes; ++i) {
    EXPECT_EQ(stateOf(joined[i].id), i % 2 == 0 ? "down" : "ready") << i;
  }
  EXPECT_EQ(*store_->currentRevision(), revisionBefore + (kNodes / 2 + 59) / 60);

  // They all come back: one heartbeat each, then one sweep writes them ready, batched.
  auto revisionDown = *store_->currentRevision();
  for (const auto& node : joined) {
    ASSERT_EQ(heartbeat(node.identity), 200);
  }
  EXPECT_EQ(*store_->currentRevision(), revisionDown);
  auto back = nodes_->sweep();
  ASSERT_TRUE(back);
  EXPECT_EQ(back->size(), static_cast<std::size_t>(kNodes / 2));
  for (int i = 0; i < kNodes; ++i) {
    EXPECT_EQ(stateOf(joined[i].id), "ready") << i;
  }
  EXPECT_EQ(*store_->currentRevision(), revisionDown + (kNodes / 2 + 59) / 60);
}

TEST_F(LivenessTest, RestartedManagerGivesEveryNodeAFullTimeoutOfGrace) {
  auto node = joinWorker("worker-1");
  ASSERT_TRUE(node) << node.error().message;
  clock_.advance(std::chrono::seconds(60));
  NodeManager restarted(*store_, clock_, init_.node.id);
  ASSERT_TRUE(restarted.load());
  ASSERT_TRUE(restarted.sweep());
  EXPECT_EQ(stateOf(node->id), "ready");
  EXPECT_TRUE(restarted.isMember(node->id, "worker")) << "roles come back from the records";
  clock_.advance(std::chrono::milliseconds(3100));
  ASSERT_TRUE(restarted.sweep());
  EXPECT_EQ(stateOf(node->id), "down");
}

TEST_F(LivenessTest, LeaveRemovesTheCallingNodeOnly) {
  auto node = joinWorker("worker-1");
  auto other = joinWorker("worker-2");
  ASSERT_TRUE(node && other);
  auto response = call("POST", api::kLeavePath, "{}", node->identity);
  EXPECT_EQ(response.status, 200) << response.body;
  EXPECT_EQ(stateOf(node->id), "missing");
  EXPECT_EQ(stateOf(other->id), "ready") << "a leave removes the caller, whatever the body says";
  EXPECT_EQ(heartbeat(node->identity), 401);
  EXPECT_FALSE(api_->admit(node->identity));
}

}  // namespace
}  // namespace overmesh::manager
