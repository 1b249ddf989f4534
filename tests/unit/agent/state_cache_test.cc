// StateCache keeps the node records decoded as they change (nodes() decodes nothing): the
// decoded view must follow every snapshot, put, update and delete exactly as the raw
// entries do, skip a corrupt record, and ignore events the cache has already passed.

#include "agent/state_cache.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/json.h"
#include "state/keys.h"

namespace overmesh::agent {
namespace {

store::KeyValue nodeRecord(const std::string& id, const std::string& hostname,
                           const std::string& state, store::Revision revision) {
  api::Node node;
  node.id = id;
  node.hostname = hostname;
  node.state = state;
  return store::KeyValue{state::keys::node(id), encodeJson(node), revision, revision, 1, 0};
}

store::Event put(store::KeyValue kv) {
  return store::Event{store::Event::Type::Put, std::move(kv)};
}

store::Event deletion(const std::string& id, store::Revision revision) {
  return store::Event{store::Event::Type::Delete,
                      store::KeyValue{state::keys::node(id), "", 0, revision, 0, 0}};
}

// "hostname=state" of every node, in the order nodes() gives them.
std::vector<std::string> view(const StateCache& cache) {
  std::vector<std::string> result;
  for (const auto& node : cache.nodes()) {
    result.push_back(node.hostname + "=" + node.state);
  }
  return result;
}

TEST(StateCacheTest, NodesFollowTheSnapshotSortedByHostname) {
  StateCache cache;
  cache.replace({nodeRecord("b1", "worker-b", "ready", 3), nodeRecord("a1", "worker-a", "down", 2)},
                3);
  EXPECT_EQ(view(cache), (std::vector<std::string>{"worker-a=down", "worker-b=ready"}));

  cache.replace({nodeRecord("c1", "worker-c", "ready", 9)}, 9);
  EXPECT_EQ(view(cache), (std::vector<std::string>{"worker-c=ready"}))
      << "a new snapshot replaces every decoded node";
}

TEST(StateCacheTest, NodesFollowPutsUpdatesAndDeletes) {
  StateCache cache;
  cache.replace(
      {nodeRecord("a1", "worker-a", "ready", 2), nodeRecord("b1", "worker-b", "ready", 3)}, 3);
  cache.apply({put(nodeRecord("a1", "worker-a", "down", 4)),
               put(nodeRecord("c1", "worker-c", "ready", 5)), deletion("b1", 6)},
              7);
  EXPECT_EQ(view(cache), (std::vector<std::string>{"worker-a=down", "worker-c=ready"}));
  EXPECT_EQ(cache.revision(), 6);
}

TEST(StateCacheTest, EventsTheCacheAlreadyPassedChangeNoNode) {
  StateCache cache;
  cache.replace({nodeRecord("a1", "worker-a", "ready", 5)}, 5);
  cache.apply({put(nodeRecord("a1", "worker-a", "down", 5)), deletion("a1", 4)}, 6);
  EXPECT_EQ(view(cache), (std::vector<std::string>{"worker-a=ready"}));
}

TEST(StateCacheTest, ACorruptNodeRecordIsSkippedAndItsOldDecodingDropped) {
  StateCache cache;
  cache.replace(
      {nodeRecord("a1", "worker-a", "ready", 2), nodeRecord("b1", "worker-b", "ready", 3)}, 3);
  store::KeyValue corrupt{state::keys::node("a1"), "{not json", 4, 4, 2, 0};
  cache.apply({put(corrupt)}, 5);
  EXPECT_EQ(view(cache), (std::vector<std::string>{"worker-b=ready"}))
      << "a record that no longer decodes must not keep its previous state";
  EXPECT_EQ(cache.value(state::keys::node("a1")), "{not json") << "the raw entry stays";
}

TEST(StateCacheTest, KeysOutsideTheNodesAreNotNodes) {
  StateCache cache;
  store::KeyValue network{std::string(state::keys::kNetworks) + "n1", R"({"id":"n1"})", 2, 2, 1, 0};
  cache.replace({network, nodeRecord("a1", "worker-a", "ready", 3)}, 3);
  EXPECT_EQ(view(cache), (std::vector<std::string>{"worker-a=ready"}));
}

}  // namespace
}  // namespace overmesh::agent
