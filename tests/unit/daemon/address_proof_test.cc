// The joining node's address-proof listener on 127.0.0.1: every connection reads the
// proof and is closed; the proof is 32 random hex digits; a taken port is refused.

#include "daemon/address_proof.h"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace overmesh::daemon {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;

// Everything 127.0.0.1:`port` sends before it closes ("" when the connect fails).
std::string readProofFrom(std::uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in in{};
  in.sin_family = AF_INET;
  in.sin_port = htons(port);
  in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string received;
  if (fd >= 0 && connect(fd, reinterpret_cast<sockaddr*>(&in), sizeof(in)) == 0) {
    char buffer[128];
    ssize_t got = 0;
    while ((got = read(fd, buffer, sizeof(buffer))) > 0) {
      received.append(buffer, static_cast<std::size_t>(got));
    }
  }
  if (fd >= 0) {
    close(fd);
  }
  return received;
}

TEST(AddressProof, IsThirtyTwoRandomHexDigits) {
  auto first = makeAddressProof();
  auto second = makeAddressProof();
  ASSERT_TRUE(first && second);
  EXPECT_THAT(*first, MatchesRegex("[0-9a-f]{32}"));
  EXPECT_NE(*first, *second);
}

TEST(AddressProofServer, EveryConnectionReadsTheProof) {
  auto server = AddressProofServer::start("127.0.0.1", 0, "0123456789abcdef0123456789abcdef");
  ASSERT_TRUE(server) << server.error().message;
  std::uint16_t port = (*server)->port();
  ASSERT_NE(port, 0);
  EXPECT_EQ(readProofFrom(port), "0123456789abcdef0123456789abcdef");
  EXPECT_EQ(readProofFrom(port), "0123456789abcdef0123456789abcdef");
  (*server)->stop();
  EXPECT_EQ((*server)->served(), 2);
  // Stopped: the port is closed (and stop() again is harmless).
  EXPECT_EQ(readProofFrom(port), "");
  (*server)->stop();
}

TEST(AddressProofServer, RefusesAPortInUseNamingIt) {
  auto first = AddressProofServer::start("127.0.0.1", 0, "a");
  ASSERT_TRUE(first);
  auto second = AddressProofServer::start("127.0.0.1", (*first)->port(), "b");
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().kind, ErrorKind::Unavailable);
  EXPECT_THAT(second.error().message, HasSubstr(fmt::format("127.0.0.1:{}", (*first)->port())));
}

TEST(AddressProofServer, RefusesAnAddressThatIsNotIpv4) {
  auto server = AddressProofServer::start("node1", 0, "a");
  ASSERT_FALSE(server);
  EXPECT_EQ(server.error().kind, ErrorKind::InvalidArgument);
}

}  // namespace
}  // namespace overmesh::daemon
