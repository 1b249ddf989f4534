// `overmesh network …` as a user types it, against a real daemon.

#include <gmock/gmock.h>

#include "e2e/cli/cli_fixture.h"

namespace overmesh::testing {
namespace {

using ::testing::HasSubstr;

class NetworkCliTest : public CliTest {
 protected:
  void SetUp() override {
    CliTest::SetUp();
    if (!IsSkipped()) {
      init();
    }
  }

  // The networks users created: the ingress network of `swarm init` is always there.
  std::string networkNames() {
    auto list = json({"network", "ls", "--format", "json"});
    std::string names;
    for (const auto& network : list) {
      if (network.value("name", "") != "ingress") {
        names += network.value("name", "") + " ";
      }
    }
    return names;
  }
};

TEST_F(NetworkCliTest, CreatesTheSeedsNetworkWithGatewayAndVni) {
  auto created = cli({"network", "create", "-d", "overlay", "--subnet=10.0.15.0/24", "chaos_net"});
  ASSERT_EQ(created.exitCode, 0) << created.err;
  EXPECT_EQ(created.out.size(), 26u) << "prints the 25-character ID";

  auto inspected = json({"network", "inspect", "chaos_net", "--format", "json"});
  ASSERT_EQ(inspected.size(), 1u);
  EXPECT_EQ(inspected[0]["subnet"], "10.0.15.0/24");
  EXPECT_EQ(inspected[0]["gateway"], "10.0.15.1");
  EXPECT_EQ(inspected[0]["driver"], "overlay");
  EXPECT_GE(inspected[0]["vni"].get<int>(), 4096);
}

TEST_F(NetworkCliTest, ListShowsAnAlignedTable) {
  ASSERT_EQ(cli({"network", "create", "--subnet", "10.0.15.0/24", "chaos_net"}).exitCode, 0);
  ASSERT_EQ(cli({"network", "create", "--attachable", "backend"}).exitCode, 0);
  auto list = cli({"network", "ls"});
  ASSERT_EQ(list.exitCode, 0) << list.err;
  EXPECT_THAT(list.out, HasSubstr("NETWORK ID"));
  EXPECT_THAT(list.out, HasSubstr("chaos_net"));
  EXPECT_THAT(list.out, HasSubstr("10.0.15.0/24"));
  EXPECT_THAT(list.out, HasSubstr("attachable"));
  EXPECT_THAT(list.out, HasSubstr("ingress")) << "made by swarm init";
  // Every row starts its NAME column where the header's does.
  std::istringstream lines(list.out);
  std::string header;
  std::getline(lines, header);
  auto nameColumn = header.find("NAME");
  std::string row;
  while (std::getline(lines, row)) {
    EXPECT_EQ(row[nameColumn - 1], ' ') << row;
    EXPECT_NE(row[nameColumn], ' ') << "NAME does not start under its header: " << row;
  }
}

TEST_F(NetworkCliTest, DefaultSubnetsComeFromThePoolWithoutOverlap) {
  // The ingress network of swarm init holds 10.0.0.0/24.
  ASSERT_EQ(cli({"network", "create", "--subnet", "10.0.1.0/24", "first"}).exitCode, 0);
  ASSERT_EQ(cli({"network", "create", "second"}).exitCode, 0);
  auto second = json({"network", "inspect", "second"});
  EXPECT_EQ(second[0]["subnet"], "10.0.2.0/24");
  EXPECT_EQ(second[0]["gateway"], "10.0.2.1");
}

TEST_F(NetworkCliTest, OverlappingSubnetIsRefusedAndChangesNothing) {
  ASSERT_EQ(cli({"network", "create", "--subnet", "10.0.15.0/24", "chaos_net"}).exitCode, 0);
  for (std::string subnet : {"10.0.15.0/24", "10.0.15.128/25", "10.0.8.0/21"}) {
    auto refused = cli({"network", "create", "--subnet", subnet, "other"});
    EXPECT_EQ(refused.exitCode, 1);
    EXPECT_THAT(refused.err, HasSubstr("overlaps network chaos_net (10.0.15.0/24)")) << subnet;
  }
  EXPECT_EQ(networkNames(), "chaos_net ");
}

struct BadCreate {
  std::vector<std::string> args;
  std::string message;
};

TEST_F(NetworkCliTest, BadInputIsRefusedWithAClearMessage) {
  const std::vector<BadCreate> cases = {
      {{"--subnet", "10.0.15.7/24", "x"},
       "subnet 10.0.15.7/24 is not a network address (did you mean 10.0.15.0/24?)"},
      {{"--subnet", "10.0.15.0/33", "x"}, "10.0.15.0/33"},
      {{"--subnet", "banana", "x"}, "banana"},
      {{"--subnet", "10.0.15.0/24", "--gateway", "10.0.16.1", "x"}, "gateway 10.0.16.1"},
      {{"--subnet", "10.0.15.0/24", "--gateway", "10.0.15.255", "x"}, "10.0.15.1-10.0.15.254"},
      {{"--subnet", "10.0.15.0/24", "--gateway", "10.0.15.0", "x"}, "10.0.15.1-10.0.15.254"},
      {{"--subnet", "10.0.15.0/31", "x"}, "10.0.15.0/31"},
      {{"-d", "bridge", "x"}, "driver \"bridge\" is not supported"},
      {{"bad name!"}, "network name \"bad name!\" is not valid"},
      {{"--label", "=v", "x"}, "--label"},
  };
  for (const auto& bad : cases) {
    std::vector<std::string> args = {"network", "create"};
    args.insert(args.end(), bad.args.begin(), bad.args.end());
    auto refused = cli(args);
    EXPECT_EQ(refused.exitCode, 1) << bad.message;
    EXPECT_THAT(refused.err, HasSubstr(bad.message));
    EXPECT_TRUE(refused.out.empty()) << refused.out;
  }
  EXPECT_EQ(networkNames(), "");
}

TEST_F(NetworkCliTest, DuplicateNameIsAConflict) {
  ASSERT_EQ(cli({"network", "create", "chaos_net"}).exitCode, 0);
  auto refused = cli({"network", "create", "chaos_net"});
  EXPECT_EQ(refused.exitCode, 1);
  EXPECT_THAT(refused.err, HasSubstr("a network named chaos_net already exists"));
}

TEST_F(NetworkCliTest, RemoveByNameOrIdPrefixFreesTheSubnet) {
  auto created = cli({"network", "create", "--subnet", "10.0.15.0/24", "chaos_net"});
  ASSERT_EQ(created.exitCode, 0);
  ASSERT_EQ(cli({"network", "create", "other"}).exitCode, 0);
  std::string idPrefix = created.out.substr(0, 12);
  auto removed = cli({"network", "rm", idPrefix});
  ASSERT_EQ(removed.exitCode, 0) << removed.err;
  EXPECT_EQ(networkNames(), "other ");
  EXPECT_EQ(cli({"network", "create", "--subnet", "10.0.15.0/24", "again"}).exitCode, 0);
  EXPECT_EQ(cli({"network", "rm", "other", "again"}).exitCode, 0);
  EXPECT_EQ(networkNames(), "");
}

TEST_F(NetworkCliTest, UnknownNetworkIsNotFound) {
  auto inspected = cli({"network", "inspect", "nope"});
  EXPECT_EQ(inspected.exitCode, 1);
  EXPECT_THAT(inspected.err, HasSubstr("network nope not found"));
  auto removed = cli({"network", "rm", "nope"});
  EXPECT_EQ(removed.exitCode, 1);
  EXPECT_THAT(removed.err, HasSubstr("network nope not found"));
}

TEST_F(NetworkCliTest, NetworksSurviveARestartAndACrash) {
  ASSERT_EQ(cli({"network", "create", "--subnet", "10.0.15.0/24", "chaos_net"}).exitCode, 0);
  ASSERT_EQ(daemon_->stop(), 0) << daemon_->log();
  ASSERT_TRUE(daemon_->start()) << daemon_->log();
  EXPECT_EQ(networkNames(), "chaos_net ");

  ASSERT_EQ(cli({"network", "create", "second"}).exitCode, 0);
  daemon_->kill9();
  ASSERT_TRUE(daemon_->start()) << daemon_->log();
  EXPECT_EQ(networkNames(), "chaos_net second ");
  auto refused = cli({"network", "create", "--subnet", "10.0.15.0/24", "third"});
  EXPECT_EQ(refused.exitCode, 1) << "allocations are remembered after a restart";
}

}  // namespace
}  // namespace overmesh::testing
