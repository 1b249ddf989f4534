// ConnectionRevoker: a removed node's connections are cut after the grace, not during
// the removal (whose own answer must go out first), each node once, and stop() ends
// the thread at once.

#include "daemon/connection_revoker.h"

#include <gtest/gtest.h>

#include <mutex>
#include <vector>

namespace overmesh::daemon {
namespace {

using std::chrono::milliseconds;

struct ClosedNodes {
  std::mutex mutex;
  std::vector<std::string> ids;
  std::vector<std::string> snapshot() {
    std::lock_guard lock(mutex);
    return ids;
  }
};

ConnectionRevoker::Close recordInto(ClosedNodes& closed) {
  return [&closed](const std::string& nodeId) -> std::size_t {
    std::lock_guard lock(closed.mutex);
    closed.ids.push_back(nodeId);
    return 2;
  };
}

bool waitUntilClosed(ClosedNodes& closed, std::size_t count, milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (closed.snapshot().size() >= count) {
      return true;
    }
    std::this_thread::sleep_for(milliseconds(5));
  }
  return false;
}

TEST(ConnectionRevoker, CutsAfterTheGraceNotDuringTheRemoval) {
  ClosedNodes closed;
  ConnectionRevoker revoker(recordInto(closed), milliseconds(200));
  auto removed = std::chrono::steady_clock::now();
  revoker.revoke("node1");
  EXPECT_TRUE(closed.snapshot().empty());
  ASSERT_TRUE(waitUntilClosed(closed, 1, milliseconds(2000)));
  EXPECT_GE(std::chrono::steady_clock::now() - removed, milliseconds(200));
  EXPECT_EQ(closed.snapshot(), std::vector<std::string>{"node1"});
}

TEST(ConnectionRevoker, EachRemovedNodeInTurn) {
  ClosedNodes closed;
  ConnectionRevoker revoker(recordInto(closed), milliseconds(20));
  revoker.revoke("node1");
  revoker.revoke("node2");
  ASSERT_TRUE(waitUntilClosed(closed, 2, milliseconds(2000)));
  EXPECT_EQ(closed.snapshot(), (std::vector<std::string>{"node1", "node2"}));
}

TEST(ConnectionRevoker, StopEndsTheThreadWithoutWaitingForPendingCuts) {
  ClosedNodes closed;
  ConnectionRevoker revoker(recordInto(closed), milliseconds(10'000));
  revoker.revoke("node1");
  auto started = std::chrono::steady_clock::now();
  revoker.stop();
  revoker.stop();
  EXPECT_LT(std::chrono::steady_clock::now() - started, milliseconds(1000));
  EXPECT_TRUE(closed.snapshot().empty());
}

}  // namespace
}  // namespace overmesh::daemon
