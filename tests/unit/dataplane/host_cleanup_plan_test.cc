#include "dataplane/host_cleanup_plan.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "dataplane/overlay_plan.h"

namespace overmesh::dataplane {
namespace {

std::vector<std::string> described(const std::vector<CleanupStep>& steps) {
  std::vector<std::string> result;
  for (const auto& step : steps) {
    result.push_back(step.describe());
  }
  return result;
}

TEST(HostCleanupPlanTest, NothingOfOursGivesNoStep) {
  HostInventory inventory;
  inventory.namespaces = {"other", "om-x"};
  inventory.links = {{"lo", ""}, {"eth0", "veth"}, {"docker0", "bridge"}};
  inventory.tables = {{"inet", "filter"}, {"ip", "nat"}};
  EXPECT_TRUE(planHostCleanup(inventory, OwnedNames{}).empty());
}

TEST(HostCleanupPlanTest, RemovesTasksThenNamespacesThenLinksThenTables) {
  HostInventory inventory;
  // Listed in an order unlike the plan's, to show the plan orders them.
  inventory.tables = {
      {"inet", "overmesh_underlay"}, {"ip", "overmesh_gw"}, {"ip", "overmesh_mesh"}};
  inventory.links = {{"omgwbridge", "bridge"},
                     {"ombr4096", "bridge"},
                     {"omvx4096", "vxlan"},
                     {hostVethName("t1", 0), "veth"},
                     {"omg" + hostVethName("t1", 0).substr(3, 8), "veth"}};
  inventory.namespaces = {"om-t-t1"};
  inventory.tasks = {"t1"};
  std::vector<std::string> expected = {
      "task t1",
      "network namespace om-t-t1",
      // veths by name: "omg…" before "omv…"
      "link omg" + hostVethName("t1", 0).substr(3, 8),
      "link " + hostVethName("t1", 0),
      "link omvx4096",
      "link ombr4096",
      "link omgwbridge",
      "nftables table ip overmesh_mesh",
      "nftables table ip overmesh_gw",
      "nftables table inet overmesh_underlay",
  };
  EXPECT_EQ(described(planHostCleanup(inventory, OwnedNames{})), expected);
}

struct LinkCase {
  HostLink link;
  bool ours;
};

class LinkOwnershipTest : public ::testing::TestWithParam<LinkCase> {};

TEST_P(LinkOwnershipTest, KindAndNameMustBothMatch) {
  EXPECT_EQ(isOwnedLink(GetParam().link, OwnedNames{}), GetParam().ours)
      << GetParam().link.name << " (" << GetParam().link.type << ")";
}

INSTANTIATE_TEST_SUITE_P(
    Links, LinkOwnershipTest,
    ::testing::Values(
        LinkCase{{"ombr4096", "bridge"}, true}, LinkCase{{"omvx4096", "vxlan"}, true},
        LinkCase{{"omv0123abcd0", "veth"}, true}, LinkCase{{"omg0123abcd", "veth"}, true},
        LinkCase{{"omgwbridge", "bridge"}, true},
        // the right name with another kind
        LinkCase{{"ombr4096", "vxlan"}, false}, LinkCase{{"omvx4096", "bridge"}, false},
        LinkCase{{"omv0123abcd0", "bridge"}, false}, LinkCase{{"omgwbridge", "veth"}, false},
        // names that only look alike
        LinkCase{{"ombr", "bridge"}, false}, LinkCase{{"ombrx1", "bridge"}, false},
        LinkCase{{"ombr123456789", "bridge"}, false}, LinkCase{{"omv0123ABCD0", "veth"}, false},
        LinkCase{{"omv0123abcdx", "veth"}, false}, LinkCase{{"omg0123abcd1", "veth"}, false},
        LinkCase{{"omvxlan", "vxlan"}, false}, LinkCase{{"eth0", "veth"}, false},
        LinkCase{{"lo", ""}, false}));

TEST(HostCleanupPlanTest, GatewayBridgeIsTheConfiguredOne) {
  OwnedNames names;
  names.gatewayBridge = "labgw";
  EXPECT_TRUE(isOwnedLink({"labgw", "bridge"}, names));
  EXPECT_FALSE(isOwnedLink({"omgwbridge", "bridge"}, names));
}

TEST(HostCleanupPlanTest, TaskNamespacesCarryThePrefixAndATaskId) {
  OwnedNames names;
  names.netnsPrefix = "lab1-h2-";
  EXPECT_TRUE(isOwnedTaskNamespace("lab1-h2-t-abc123", names));
  EXPECT_FALSE(isOwnedTaskNamespace("lab1-h2-t-", names));
  EXPECT_FALSE(isOwnedTaskNamespace("lab1-h2-t-ABC", names));
  EXPECT_FALSE(isOwnedTaskNamespace("lab1-h2-t-a.b", names));
  EXPECT_FALSE(isOwnedTaskNamespace("lab1-h2-x-abc", names));
  EXPECT_FALSE(isOwnedTaskNamespace("lab1-h3-t-abc", names));  // another lab host's
  EXPECT_FALSE(isOwnedTaskNamespace("lab1-h2-t-" + std::string(65, 'a'), names));
  EXPECT_FALSE(isOwnedTaskNamespace("om-t-abc", names));
}

TEST(HostCleanupPlanTest, OnlyOurTablesAreRemovedAndNotThoseOfTaskNamespaces) {
  HostInventory inventory;
  inventory.tables = {{"ip", "overmesh_lb"},    {"ip", "overmesh_ingress"}, {"inet", "overmesh_gw"},
                      {"ip6", "overmesh_mesh"}, {"ip", "overmesh_gateway"}, {"inet", "filter"},
                      {"ip", "overmesh_gw"}};
  EXPECT_EQ(described(planHostCleanup(inventory, OwnedNames{})),
            std::vector<std::string>{"nftables table ip overmesh_gw"});
}

TEST(HostCleanupPlanTest, DuplicatesInTheListingGiveOneStep) {
  HostInventory inventory;
  inventory.tasks = {"t1", "t1"};
  inventory.namespaces = {"om-t-t1", "om-t-t1"};
  inventory.links = {{"omvx7", "vxlan"}, {"omvx7", "vxlan"}};
  EXPECT_EQ(planHostCleanup(inventory, OwnedNames{}).size(), 3u);
}

TEST(HostCleanupPlanTest, TablesOfRulesetKeepsEveryTableAndSkipsOtherEntries) {
  auto tables = tablesOfRuleset(R"({"nftables": [
      {"metainfo": {"json_schema_version": 1}},
      {"table": {"family": "ip", "name": "overmesh_gw", "handle": 3}},
      {"chain": {"family": "ip", "table": "overmesh_gw", "name": "post"}},
      {"table": {"family": "inet", "name": "firewalld"}},
      {"table": {"family": 4, "name": "bad-family"}},
      {"table": {"name": "no-family"}},
      {"table": "not an object"},
      7]})");
  ASSERT_TRUE(tables) << tables.error().message;
  EXPECT_EQ(*tables, (std::vector<NftTableName>{{"ip", "overmesh_gw"}, {"inet", "firewalld"}}));
}

TEST(HostCleanupPlanTest, TablesOfRulesetRefusesWhatIsNotARuleset) {
  for (const char* text :
       {"", "not json", "[]", R"({"nftables": {}})", R"({"other": []})", R"({"nftables": [)"}) {
    auto tables = tablesOfRuleset(text);
    ASSERT_FALSE(tables) << text;
    EXPECT_EQ(tables.error().kind, ErrorKind::Unavailable) << text;
    EXPECT_NE(tables.error().message.find("JSON ruleset"), std::string::npos) << text;
  }
}

}  // namespace
}  // namespace overmesh::dataplane
