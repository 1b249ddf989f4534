// Several managers on one store: NodeManager follows node records written by another
// manager, and a manager that does not lead sends agents to the one that does.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "api/cluster_protocol.h"
#include "manager/leader_election.h"
#include "manager/manager_status.h"
#include "support/manager_cluster.h"

namespace overmesh::manager {
namespace {

using overmesh::testing::must;
using std::chrono::milliseconds;

// Leadership as a test decides it.
class FakeLeadership final : public Leadership {
 public:
  bool isLeader() const override { return leading; }
  std::optional<LeaderRecord> leader() const override { return record; }

  bool leading = false;
  std::optional<LeaderRecord> record;
};

class ManagerFollowersTest : public overmesh::testing::ManagerClusterTest {
 protected:
  void SetUp() override {
    ManagerClusterTest::SetUp();
    // A second manager on the same store (its node ID does not matter here).
    other_ = std::make_unique<NodeManager>(*store_, clock_, "other-manager");
    must(other_->load());
    other_->setRemovalListener([this](const std::string& id) { removedOnOther_.push_back(id); });
  }

  std::unique_ptr<NodeManager> other_;
  std::vector<std::string> removedOnOther_;
};

TEST_F(ManagerFollowersTest, AJoinOnOneManagerIsAdmittedByTheOther) {
  auto worker = must(joinWorker("w1"));
  EXPECT_FALSE(other_->isMember(worker.id, "worker")) << "not followed yet";
  must(other_->followStore(milliseconds(0)));
  EXPECT_TRUE(other_->isMember(worker.id, "worker"));
}

TEST_F(ManagerFollowersTest, ARemovalOnOneManagerRevokesOnTheOther) {
  auto worker = must(joinWorker("w1"));
  must(other_->followStore(milliseconds(0)));
  must(nodes_->remove(worker.id));
  must(other_->followStore(milliseconds(0)));
  EXPECT_FALSE(other_->isMember(worker.id, "worker"));
  EXPECT_EQ(removedOnOther_, std::vector<std::string>{worker.id});
}

TEST_F(ManagerFollowersTest, ARoleChangeWrittenElsewhereChangesAdmission) {
  auto worker = must(joinWorker("w1"));
  must(other_->followStore(milliseconds(0)));
  auto record = must(store_->get(state::keys::node(worker.id)));
  auto node = must(decodeJson<api::Node>(record->value, "node"));
  node.role = "manager";
  must(store_->put(state::keys::node(worker.id), encodeJson(node)));
  must(other_->followStore(milliseconds(0)));
  EXPECT_TRUE(other_->isMember(worker.id, "manager"));
  // Its worker certificate stays admitted until it renews for its new role (promote: it
  // must reach a manager to get the manager certificate); no third role ever is.
  EXPECT_TRUE(other_->isMember(worker.id, "worker"));
  EXPECT_FALSE(other_->isMember(worker.id, "admin"));
  // It is listed among the managers, with its underlay address.
  auto managers = other_->managers();
  bool listed = false;
  for (const auto& manager : managers) {
    listed = listed || (manager.nodeId == worker.id && manager.address == "198.18.0.9");
  }
  EXPECT_TRUE(listed);
}

TEST_F(ManagerFollowersTest, ANonLeaderSendsHeartbeatsStatusAndRenewalsToTheLeader) {
  auto worker = must(joinWorker("w1"));
  FakeLeadership leadership;
  leadership.record = LeaderRecord{"n2", "198.18.0.2:2377", "", 7};
  api_->setLeadership(&leadership, 2377);

  for (const auto& [method, path, body] :
       std::vector<std::tuple<std::string, std::string, std::string>>{
           {"POST", api::kHeartbeatPath, "{}"},
           {"POST", "/cluster/v1/tasks/t1/status", R"({"state":"running"})"},
           {"POST", api::kRenewPath, R"({"csr":"x"})"}}) {
    auto response = call(method, path, body, worker.identity);
    EXPECT_EQ(response.status, api::kNotLeaderStatus) << path << ": " << response.body;
    auto json = nlohmann::json::parse(response.body);
    EXPECT_EQ(json["leader"], "198.18.0.2:2377") << path;
    auto error = api::errorFromResponse(response);
    EXPECT_EQ(error.kind, ErrorKind::FailedPrecondition) << path;
    EXPECT_NE(error.message.find("198.18.0.2:2377"), std::string::npos) << error.message;
  }
  // Snapshot and watch are every manager's.
  EXPECT_EQ(call("GET", api::kSnapshotPath, "", worker.identity).status, 200);
  EXPECT_EQ(call("GET", api::kWatchPath, "", worker.identity).status, 200);

  // With no leader at all, the answer says so with an empty address.
  leadership.record.reset();
  auto response = call("POST", api::kHeartbeatPath, "{}", worker.identity);
  EXPECT_EQ(response.status, api::kNotLeaderStatus);
  EXPECT_EQ(nlohmann::json::parse(response.body)["leader"], "");
}

TEST_F(ManagerFollowersTest, TheLeadersHeartbeatReplyListsTheManagers) {
  auto worker = must(joinWorker("w1"));
  FakeLeadership leadership;
  leadership.leading = true;
  leadership.record = LeaderRecord{init_.node.id, "198.18.0.1:2400", "", 7};
  api_->setLeadership(&leadership, 2400);
  auto response = call("POST", api::kHeartbeatPath, "{}", worker.identity);
  ASSERT_EQ(response.status, 200) << response.body;
  auto json = nlohmann::json::parse(response.body);
  EXPECT_EQ(json["leader"], "198.18.0.1:2400");
  EXPECT_EQ(json["managers"], nlohmann::json::array({"198.18.0.1:2400"}));
  EXPECT_EQ(json["nodeTimeoutMs"], 3000);
}

TEST(ManagerStatusTest, LeaderReachableUnreachableOrNothingForAWorker) {
  api::Node leader{.id = "a", .role = "manager", .state = "ready"};
  api::Node ready{.id = "b", .role = "manager", .state = "ready"};
  api::Node down{.id = "c", .role = "manager", .state = "down"};
  api::Node worker{.id = "d", .role = "worker", .state = "ready"};
  EXPECT_EQ(managerStatusOf(leader, "a"), "leader");
  EXPECT_EQ(managerStatusOf(ready, "a"), "reachable");
  EXPECT_EQ(managerStatusOf(down, "a"), "unreachable");
  EXPECT_EQ(managerStatusOf(worker, "a"), "");
  EXPECT_EQ(managerStatusOf(leader, ""), "reachable") << "no leader known";
}

TEST(ManagerStatusTest, ClusterAddressesPutTheLeaderFirstWithItsPortForAll) {
  std::vector<ManagerEndpoint> managers{
      {"a", "198.18.0.1"}, {"b", "198.18.0.2"}, {"c", "198.18.0.3"}};
  EXPECT_EQ(managerClusterAddresses(managers, "b", "198.18.0.2:2400", 2377),
            (std::vector<std::string>{"198.18.0.2:2400", "198.18.0.1:2400", "198.18.0.3:2400"}));
  EXPECT_EQ(managerClusterAddresses(managers, "", "", 2377),
            (std::vector<std::string>{"198.18.0.1:2377", "198.18.0.2:2377", "198.18.0.3:2377"}));
}

}  // namespace
}  // namespace overmesh::manager
