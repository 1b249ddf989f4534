// `node promote|demote`: Docker's lines for each node.

#include "cli/node_role.h"

#include <gtest/gtest.h>

namespace overmesh::cli {
namespace {

TEST(NodeRoleMessage, PromoteAndDemoteSayWhatDockerSays) {
  EXPECT_EQ(roleChangeMessage("node-2", true, true),
            "Node node-2 promoted to a manager in the swarm.");
  EXPECT_EQ(roleChangeMessage("node-2", false, true), "Manager node-2 demoted in the swarm.");
}

TEST(NodeRoleMessage, ANodeThatHadTheRoleAlreadyIsNamedAsSuch) {
  EXPECT_EQ(roleChangeMessage("abc123", true, false), "Node abc123 is already a manager.");
  EXPECT_EQ(roleChangeMessage("abc123", false, false), "Node abc123 is already a worker.");
}

}  // namespace
}  // namespace overmesh::cli
