// A real overmeshd holding 5,000 idle connections on its unix socket: the CLI still gets
// its answers and the daemon's thread count does not grow with the connections (issue 13).
// The daemon has no plain TCP listener (its TCP ports are TLS: tests/unit/api/tls_test.cc
// covers those); the unit test covers plain TCP on the same server code.

#include <fmt/format.h>
#include <gmock/gmock.h>

#include <string>
#include <vector>

#include "e2e/cli/cli_fixture.h"
#include "support/raw_socket.h"

namespace overmesh::testing {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

constexpr int kDaemonIdleConnections = 5000;
// Threads the connections may add at most: none is per connection, and the handler
// pool is capped at 32 (plus room for the daemon's own loops starting meanwhile).
constexpr std::size_t kAddedThreadBound = 40;

TEST_F(CliTest, FiveThousandIdleConnectionsAndTheCliStillAnswers) {
  if (raiseDescriptorSoftLimit() < kDaemonIdleConnections + 500) {
    GTEST_SKIP() << "this process cannot hold " << kDaemonIdleConnections << " descriptors";
  }
  init();
  std::string pid = std::to_string(daemon_->pid());
  std::size_t threadsBefore = threadsOf(pid);
  std::size_t rssBefore = residentKibOf(pid);
  EXPECT_THAT(daemon_->log(), HasSubstr("descriptor limit"));

  std::vector<RawSocket> idle;
  idle.reserve(kDaemonIdleConnections);
  std::size_t mostThreads = threadsBefore;
  for (int i = 0; i < kDaemonIdleConnections; ++i) {
    idle.push_back(RawSocket::connectUnix(daemon_->socketPath()));
    ASSERT_TRUE(idle.back().connected()) << "connection " << i;
    if (i % 2 == 0) {
      ASSERT_TRUE(idle.back().send("GET /v1/in"));  // half a request line
    }
    if (i % 500 == 0) {
      mostThreads = std::max(mostThreads, threadsOf(pid));
    }
  }
  // The last-opened connection (silent so far) asks for the version.
  ASSERT_TRUE(idle.back().send("GET /v1/version HTTP/1.1\r\nHost: x\r\n\r\n"));
  std::string answer = idle.back().readAnswer(60s);
  EXPECT_THAT(answer, HasSubstr("200 OK"));
  // The CLI, on a new connection, while all of them are held.
  auto info = cli({"info", "--format", "json"});
  EXPECT_EQ(info.exitCode, 0) << info.err;
  EXPECT_THAT(info.out, HasSubstr("\"swarm\""));
  auto nodes = cli({"node", "ls"});
  EXPECT_EQ(nodes.exitCode, 0) << nodes.err;
  mostThreads = std::max(mostThreads, threadsOf(pid));
  std::size_t rssHeld = residentKibOf(pid);
  std::printf(
      "overmeshd with %d idle connections: threads %zu (before %zu, most %zu), RSS %zu "
      "KiB (before %zu KiB, %.1f KiB per connection)\n",
      kDaemonIdleConnections, threadsOf(pid), threadsBefore, mostThreads, rssHeld, rssBefore,
      static_cast<double>(rssHeld - std::min(rssHeld, rssBefore)) / kDaemonIdleConnections);

  EXPECT_LT(mostThreads, threadsBefore + kAddedThreadBound);
  idle.clear();
  EXPECT_EQ(cli({"version"}).exitCode, 0) << "the daemon serves on after they all closed";
}

}  // namespace
}  // namespace overmesh::testing
