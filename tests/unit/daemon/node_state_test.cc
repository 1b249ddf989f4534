// node.json: what a member remembers, without secrets since issue 12 (its keys are in
// pki/). A file written by an earlier version, with the shared secrets, still loads.

#include "daemon/node_state.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "support/scratch.h"

namespace overmesh::daemon {
namespace {

using overmesh::testing::must;
using overmesh::testing::ScratchDir;
using ::testing::HasSubstr;
using ::testing::Not;

std::string readNodeJson(const ScratchDir& dir) {
  std::ifstream file(dir.path() / "node.json");
  std::stringstream content;
  content << file.rdbuf();
  return content.str();
}

TEST(NodeState, SavesAndLoadsWithoutSecrets) {
  ScratchDir dir;
  NodeState state{"node1", "worker", "cluster1", "198.18.0.2", "198.18.0.1:2377"};
  must(saveNodeState(dir.path().string(), state));
  std::string saved = readNodeJson(dir);
  EXPECT_THAT(saved, Not(HasSubstr("Secret")));
  auto loaded = must(loadNodeState(dir.path().string()));
  ASSERT_TRUE(loaded);
  EXPECT_EQ(loaded->nodeId, "node1");
  EXPECT_EQ(loaded->role, "worker");
  EXPECT_EQ(loaded->clusterId, "cluster1");
  EXPECT_EQ(loaded->advertiseAddress, "198.18.0.2");
  EXPECT_EQ(loaded->managerAddress, "198.18.0.1:2377");
}

TEST(NodeState, FileOfAnEarlierVersionLoadsAndDropsItsSecrets) {
  ScratchDir dir;
  {
    std::ofstream file(dir.path() / "node.json");
    file << R"({"nodeId":"node1","role":"worker","clusterId":"c1",)"
            R"("advertiseAddress":"198.18.0.2","managerAddress":"198.18.0.1:2377",)"
            R"("nodeSecret":"s3cret","memberSecret":"m3mber"})";
  }
  auto loaded = must(loadNodeState(dir.path().string()));
  ASSERT_TRUE(loaded);
  EXPECT_EQ(loaded->nodeId, "node1");
  must(saveNodeState(dir.path().string(), *loaded));
  std::string saved = readNodeJson(dir);
  EXPECT_THAT(saved, Not(HasSubstr("s3cret")));
  EXPECT_THAT(saved, Not(HasSubstr("m3mber")));
}

TEST(NodeState, NoFileMeansNoMembership) {
  ScratchDir dir;
  EXPECT_FALSE(must(loadNodeState(dir.path().string())));
}

}  // namespace
}  // namespace overmesh::daemon
