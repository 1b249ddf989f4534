// Join tokens pin the cluster CA and are rotated (issue 12), and a join crosses the
// underlay with nothing secret in clear. h3 leaves the lab's swarm first and joins again
// as the test says; the joins are watched with tcpdump on h3's underlay interface.
//
// Run one:  ctest --test-dir BUILD -R SecurityJoinTokenTest   (as root)

#include <gmock/gmock.h>

#include "e2e/security/security_fixture.h"

namespace overmesh::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

using SecurityJoinTokenTest = SecurityLabTest;

constexpr std::size_t kFingerprintAt = 8;  // after "OMTKN-1-"
constexpr std::size_t kFingerprintLength = 64;

std::string fingerprintOf(const std::string& token) {
  return token.size() > kFingerprintAt + kFingerprintLength
             ? token.substr(kFingerprintAt, kFingerprintLength)
             : "";
}

// The secret follows the fingerprint and its '-'; it is base64url, so it may hold '-' itself
// (taking what follows the last '-' gave a 2-byte "secret" that a store file may contain).
std::string secretOf(const std::string& token) {
  std::size_t at = kFingerprintAt + kFingerprintLength + 1;
  return token.size() > at ? token.substr(at) : "";
}

// The lines `tcpdump -r` prints for the packets of `pcap` that match `filter`.
std::vector<std::string> packets(const std::string& pcap, const std::string& filter) {
  std::vector<std::string> argv = {"/usr/bin/tcpdump", "-r", pcap, "-n"};
  if (!filter.empty()) {
    argv.push_back(filter);
  }
  auto read = runCommand(argv);
  EXPECT_EQ(read.exitCode, 0) << read.err;
  return nonEmptyLines(read.out);
}

// Connections opened from h3 to the manager's cluster port (SYN without ACK).
const std::string kConnectionsToTheManager =
    "tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn and dst host 198.18.0.1 and dst port 2377";

TEST_F(SecurityJoinTokenTest, TokenWithAnotherFingerprintIsRefusedBeforeTheSecretIsSent) {
  ASSERT_NO_FATAL_FAILURE(leave(3));
  std::string token = workerToken();
  std::string real = fingerprintOf(token);
  ASSERT_EQ(real.size(), kFingerprintLength) << token;
  std::string altered = token;
  altered[kFingerprintAt + 10] = altered[kFingerprintAt + 10] == '0' ? '1' : '0';
  std::string pinned = fingerprintOf(altered);
  ASSERT_NE(pinned, real);

  UnderlayCapture capture(*lab_, 3, files_.path() + "/bad-join.pcap", "tcp port 2377");
  ASSERT_TRUE(capture.listening()) << capture.error();
  auto refused = join(3, altered);
  capture.stop();

  EXPECT_EQ(refused.exitCode, 1) << refused.out;
  EXPECT_THAT(refused.err, HasSubstr("fingerprint"));
  EXPECT_THAT(refused.err, HasSubstr(pinned)) << "the refusal names the token's fingerprint";
  EXPECT_THAT(refused.err, HasSubstr(real)) << "and the one the manager presents";
  EXPECT_THAT(refused.err, Not(HasSubstr(secretOf(token))));
  // The manager never saw a join: the secret would travel on a second connection (the
  // verified one), after the CA fetch; h3 opened only the first.
  auto connections = packets(capture.file(), kConnectionsToTheManager);
  std::cerr << fmt::format("[ info ] connections from h3 to 2377 during the refused join: {}\n",
                           connections.size());
  EXPECT_EQ(connections.size(), 1u) << fmt::format("{}", fmt::join(connections, "\n"));
  EXPECT_EQ(listedNodeIds().size(), 2u) << lab_->cli(1, {"node", "ls"}).out;
  EXPECT_EQ(lab_->json(3, {"info"}).value("swarm", ""), "inactive");
  EXPECT_FALSE(std::filesystem::exists(pkiOf(3).cert)) << "the refused node stored a certificate";

  // Control: the right token joins from the same node.
  auto joined = join(3, token);
  EXPECT_EQ(joined.exitCode, 0) << joined.err;
  EXPECT_TRUE(eventually([&] { return allReady(kHosts); }, kConverge))
      << lab_->cli(1, {"node", "ls"}).out;
}

TEST_F(SecurityJoinTokenTest, RotatedTokenNoLongerJoinsAndTheNewOneDoes) {
  std::string old = workerToken();
  ASSERT_EQ(fingerprintOf(old).size(), kFingerprintLength) << old;
  auto rotated = lab_->cli(1, {"swarm", "join-token", "--rotate", "worker"});
  ASSERT_EQ(rotated.exitCode, 0) << rotated.err;
  EXPECT_THAT(rotated.out, HasSubstr("Successfully rotated worker join token."));
  std::string fresh = workerToken();
  EXPECT_THAT(rotated.out, HasSubstr(fresh));
  ASSERT_NE(fresh, old);
  EXPECT_EQ(fingerprintOf(fresh), fingerprintOf(old)) << "the CA did not change";

  // The manager keeps only hashes of the secrets: neither is in its store's files.
  std::string store;
  for (const char* file : {"/cluster.db", "/cluster.db-wal"}) {
    store += readFile(lab_->stateDir(1) + file);
  }
  ASSERT_FALSE(store.empty()) << "no store at " << lab_->stateDir(1);
  EXPECT_THAT(store, Not(HasSubstr(secretOf(old))));
  EXPECT_THAT(store, Not(HasSubstr(secretOf(fresh))));

  ASSERT_NO_FATAL_FAILURE(leave(3));
  auto refused = join(3, old);
  EXPECT_EQ(refused.exitCode, 1) << refused.out;
  EXPECT_THAT(refused.err, Not(HasSubstr(secretOf(old)))) << "an error must not echo a secret";
  EXPECT_EQ(listedNodeIds().size(), 2u) << lab_->cli(1, {"node", "ls"}).out;
  EXPECT_EQ(lab_->json(3, {"info"}).value("swarm", ""), "inactive");

  auto joined = join(3, fresh);
  EXPECT_EQ(joined.exitCode, 0) << joined.err;
  EXPECT_TRUE(eventually([&] { return allReady(kHosts); }, kConverge))
      << lab_->cli(1, {"node", "ls"}).out;
}

TEST_F(SecurityJoinTokenTest, CapturedJoinShowsNoSecretInClear) {
  ASSERT_NO_FATAL_FAILURE(leave(3));
  std::string token = workerToken();
  ASSERT_FALSE(token.empty());

  UnderlayCapture capture(*lab_, 3, files_.path() + "/join.pcap", "tcp port 2377 or tcp port 2378");
  ASSERT_TRUE(capture.listening()) << capture.error();
  auto joined = join(3, token);
  ASSERT_EQ(joined.exitCode, 0) << joined.err;
  // A heartbeat and the first watch after the join are in the capture too.
  EXPECT_TRUE(eventually([&] { return allReady(kHosts); }, kConverge))
      << lab_->cli(1, {"node", "ls"}).out;
  capture.stop();

  std::string bytes = readFile(capture.file());
  auto all = packets(capture.file(), "");
  std::cerr << fmt::format("[ info ] join capture: {} packets, {} bytes\n", all.size(),
                           bytes.size());
  ASSERT_GT(all.size(), 10u) << "the capture missed the join: " << capture.error();
  // The capture saw the join's handshake: its ALPN is the one thing it shows in clear.
  EXPECT_THAT(bytes, HasSubstr("overmesh-join/1"));
  EXPECT_THAT(bytes, Not(HasSubstr(secretOf(token)))) << "the token's secret crossed in clear";
  EXPECT_THAT(bytes, Not(HasSubstr("OMTKN")));
  EXPECT_THAT(bytes, Not(HasSubstr("BEGIN"))) << "PEM text (a CSR or certificate) in clear";
  EXPECT_THAT(bytes, Not(HasSubstr("nodeSecret")));
  EXPECT_THAT(bytes, Not(HasSubstr("\"token\"")));
}

}  // namespace
}  // namespace overmesh::testing
