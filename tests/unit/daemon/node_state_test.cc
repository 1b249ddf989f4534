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

TEST(NodeState, AManagersEtcdStoreRoundTrips) {
  ScratchDir dir;
  NodeState state{"node1", "manager", "cluster1", "198.18.0.2", "198.18.0.2:2377"};
  state.store.kind = store::StoreLocation::Kind::Etcd;
  state.store.endpoints = {"198.18.0.200:2379", "198.18.0.201:2379"};
  state.store.caFile = "/etc/overmesh/etcd-ca.pem";
  state.store.certFile = "/etc/overmesh/etcd.pem";
  state.store.keyFile = "/etc/overmesh/etcd.key";
  must(saveNodeState(dir.path().string(), state));
  auto loaded = must(loadNodeState(dir.path().string()));
  ASSERT_TRUE(loaded);
  EXPECT_TRUE(loaded->store.isEtcd());
  EXPECT_EQ(loaded->store.endpoints, state.store.endpoints);
  EXPECT_EQ(loaded->store.caFile, state.store.caFile);
  EXPECT_EQ(loaded->store.certFile, state.store.certFile);
  EXPECT_EQ(loaded->store.keyFile, state.store.keyFile);
  EXPECT_THAT(readNodeJson(dir), Not(HasSubstr("BEGIN"))) << "paths only, never key material";
}

TEST(NodeState, AFileWithoutAStoreMeansSqlite) {
  ScratchDir dir;
  {
    std::ofstream file(dir.path() / "node.json");
    file << R"({"nodeId":"node1","role":"manager","clusterId":"c1",)"
            R"("advertiseAddress":"198.18.0.2","managerAddress":"198.18.0.2:2377"})";
  }
  auto loaded = must(loadNodeState(dir.path().string()));
  ASSERT_TRUE(loaded);
  EXPECT_FALSE(loaded->store.isEtcd());
  NodeState sqlite{"node1", "manager", "c1", "198.18.0.2", "198.18.0.2:2377"};
  must(saveNodeState(dir.path().string(), sqlite));
  EXPECT_FALSE(must(loadNodeState(dir.path().string()))->store.isEtcd());
}

TEST(NodeState, AStoreThatCannotBeOpenedIsRefusedNamingTheFile) {
  for (const char* store : {R"({"kind":"zookeeper"})", R"({"kind":"etcd","endpoints":[]})",
                            R"({"kind":"etcd"})", R"("etcd://198.18.0.200:2379")"}) {
    ScratchDir dir;
    {
      std::ofstream file(dir.path() / "node.json");
      file << R"({"nodeId":"node1","role":"manager","store":)" << store << "}";
    }
    auto loaded = loadNodeState(dir.path().string());
    ASSERT_FALSE(loaded) << store;
    EXPECT_THAT(loaded.error().message, HasSubstr("node.json")) << store;
    EXPECT_THAT(loaded.error().message, HasSubstr("store")) << store;
  }
}

TEST(NodeState, NoFileMeansNoMembership) {
  ScratchDir dir;
  EXPECT_FALSE(must(loadNodeState(dir.path().string())));
}

}  // namespace
}  // namespace overmesh::daemon
