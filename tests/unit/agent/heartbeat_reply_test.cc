// The heartbeat reply an agent reads: the node timeout, the leader and the managers
// (api/cluster_protocol.h). A peer's JSON: wrong types are errors, missing fields are not.

#include <gtest/gtest.h>

#include "agent/heartbeat_loop.h"
#include "support/pki_fixtures.h"

namespace overmesh::agent {
namespace {

using overmesh::testing::must;

TEST(HeartbeatReply, ReadsTheLeaderAndTheManagers) {
  auto reply = must(parseHeartbeatReply(
      R"({"nodeTimeoutMs":3000,"leader":"198.18.0.2:2377","managers":["198.18.0.1:2377","198.18.0.2:2377"]})"));
  EXPECT_EQ(reply.nodeTimeoutMs, 3000);
  EXPECT_EQ(reply.leader, "198.18.0.2:2377");
  EXPECT_EQ(reply.managers, (std::vector<std::string>{"198.18.0.1:2377", "198.18.0.2:2377"}));
}

TEST(HeartbeatReply, ASingleManagersReplyHasNeither) {
  auto reply = must(parseHeartbeatReply(R"({"nodeTimeoutMs":3000})"));
  EXPECT_EQ(reply.leader, "");
  EXPECT_TRUE(reply.managers.empty());
}

TEST(HeartbeatReply, AWrongTypeIsAnErrorNamingTheField) {
  auto reply = parseHeartbeatReply(R"({"managers":"198.18.0.1:2377"})");
  ASSERT_FALSE(reply);
  EXPECT_NE(reply.error().message.find("managers"), std::string::npos);
  EXPECT_FALSE(parseHeartbeatReply("[]"));
}

}  // namespace
}  // namespace overmesh::agent
