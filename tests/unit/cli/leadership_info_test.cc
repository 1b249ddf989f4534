#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "api/types.h"
#include "cli/manager_status_format.h"

namespace overmesh::cli {
namespace {

TEST(LeadershipInfoTest, NodeLsShowsDockersManagerStatusWords) {
  EXPECT_EQ(managerStatusColumn("leader"), "Leader");
  EXPECT_EQ(managerStatusColumn("reachable"), "Reachable");
  EXPECT_EQ(managerStatusColumn("unreachable"), "Unreachable");
  EXPECT_EQ(managerStatusColumn(""), "");
  EXPECT_EQ(managerStatusColumn("something-new"), "");
}

TEST(LeadershipInfoTest, InfoShowsTheStoreAndWhoLeads) {
  api::Info info;
  info.swarm = "active";
  info.store = "etcd://198.18.0.10:2379,198.18.0.11:2379";
  info.isLeader = false;
  info.leaderAddress = "198.18.0.2:2377";
  nlohmann::json json = info;
  EXPECT_EQ(formatLeadershipLines(json),
            "Store:           etcd://198.18.0.10:2379,198.18.0.11:2379\n"
            "Is Leader:       false\n"
            "Leader Address:  198.18.0.2:2377\n");
  info.isLeader = true;
  info.leaderAddress.clear();
  json = info;
  EXPECT_EQ(formatLeadershipLines(json),
            "Store:           etcd://198.18.0.10:2379,198.18.0.11:2379\n"
            "Is Leader:       true\n"
            "Leader Address:  (none: an election is under way)\n");
}

TEST(LeadershipInfoTest, AWorkersInfoHasNoLeadershipLines) {
  api::Info info;
  info.swarm = "active";
  nlohmann::json json = info;
  EXPECT_EQ(formatLeadershipLines(json), "");
}

}  // namespace
}  // namespace overmesh::cli
