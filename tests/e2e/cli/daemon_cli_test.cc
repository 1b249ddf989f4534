// The daemon's life cycle and the CLI's behaviour before `swarm init`.

#include <sys/stat.h>

#include <gmock/gmock.h>

#include "e2e/cli/cli_fixture.h"

namespace overmesh::testing {
namespace {

using ::testing::HasSubstr;

TEST_F(CliTest, SocketIsPrivateToRoot) {
  struct stat info {};
  ASSERT_EQ(stat(daemon_->socketPath().c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);
}

TEST_F(CliTest, NetworkCommandsBeforeInitSayWhatToDo) {
  auto refused = cli({"network", "create", "chaos_net"});
  EXPECT_EQ(refused.exitCode, 1);
  EXPECT_THAT(refused.err, HasSubstr("run `overmesh swarm init`"));
}

TEST_F(CliTest, InitTwiceIsRefused) {
  init();
  auto again = cli({"swarm", "init"});
  EXPECT_EQ(again.exitCode, 1);
  EXPECT_THAT(again.err, HasSubstr("already part of a swarm"));
}

TEST_F(CliTest, InfoAndNodeListShowTheManager) {
  init();
  auto info = json({"info", "--format", "json"});
  EXPECT_EQ(info["swarm"], "active");
  EXPECT_EQ(info["role"], "manager");
  auto nodes = json({"node", "ls", "--format", "json"});
  ASSERT_EQ(nodes.size(), 1u);
  EXPECT_EQ(nodes[0]["id"], info["nodeId"]);
  EXPECT_EQ(nodes[0]["state"], "ready");
  auto table = cli({"node", "ls"});
  EXPECT_THAT(table.out, HasSubstr(" *"));
}

TEST_F(CliTest, BadPoolSettingsAtInitAreRefusedAndChangeNothing) {
  auto refused = cli({"swarm", "init", "--default-addr-pool", "10.9.0.1/16"});
  EXPECT_EQ(refused.exitCode, 1);
  EXPECT_THAT(refused.err, HasSubstr("--default-addr-pool"));
  auto mask = cli({"swarm", "init", "--default-addr-pool-mask-length", "8"});
  EXPECT_EQ(mask.exitCode, 1);
  EXPECT_THAT(mask.err, HasSubstr("--default-addr-pool-mask-length"));
  EXPECT_EQ(json({"info", "--format", "json"})["swarm"], "inactive");
}

TEST_F(CliTest, ExhaustedPoolGivesAClearError) {
  // Two /24s: the ingress network of swarm init takes the first, "a" the second.
  init({"--default-addr-pool", "10.9.0.0/23", "--default-addr-pool-mask-length", "24"});
  ASSERT_EQ(cli({"network", "create", "a"}).exitCode, 0);
  auto refused = cli({"network", "create", "c"});
  EXPECT_EQ(refused.exitCode, 1);
  EXPECT_THAT(refused.err, HasSubstr("10.9.0.0/23"));
  EXPECT_THAT(refused.err, HasSubstr("--subnet"));
}

TEST_F(CliTest, SecondDaemonOnTheSameStateDirIsRefused) {
  DaemonProcess second(dir_.path() + "/second.sock", dir_.path() + "/state");
  EXPECT_FALSE(second.start());
  EXPECT_THAT(second.log(), HasSubstr("another overmeshd is using --state-dir"));
}

TEST_F(CliTest, SecondDaemonOnTheSameSocketIsRefused) {
  auto second = runCommand({binaryPath("overmeshd"), "--socket", daemon_->socketPath(),
                            "--state-dir", dir_.path() + "/other-state"},
                           /*unshareNet=*/true);
  EXPECT_EQ(second.exitCode, 1);
  EXPECT_THAT(second.err, HasSubstr("already listening"));
  EXPECT_EQ(cli({"version"}).exitCode, 0) << "the first daemon keeps its socket";
}

TEST(CliWithoutDaemonTest, MissingDaemonIsReportedWithTheSocket) {
  auto result = runCommand({binaryPath("overmesh"), "-H", "unix:///nonexistent/overmesh.sock",
                            "network", "ls"});
  EXPECT_EQ(result.exitCode, 1);
  EXPECT_THAT(result.err, HasSubstr("unix:///nonexistent/overmesh.sock"));
}

TEST(CliWithoutDaemonTest, BadHostIsRefused) {
  auto result = runCommand({binaryPath("overmesh"), "-H", "ftp://x", "network", "ls"});
  EXPECT_EQ(result.exitCode, 1);
  EXPECT_THAT(result.err, HasSubstr("unix:///path/to/overmesh.sock"));
}

}  // namespace
}  // namespace overmesh::testing
