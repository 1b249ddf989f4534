// probeTcpPort on 127.0.0.1: a port something listens on is refused naming the flag; a
// free one (or port 0) passes, and probing leaves the port free.

#include "daemon/port_probe.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace overmesh::daemon {
namespace {

using ::testing::HasSubstr;

// A socket listening on 127.0.0.1 on a port the kernel picks; -1 on failure.
int listenOnLoopback(std::uint16_t& port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in in{};
  in.sin_family = AF_INET;
  in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(in);
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&in), sizeof(in)) != 0 ||
      listen(fd, 1) != 0 || getsockname(fd, reinterpret_cast<sockaddr*>(&in), &length) != 0) {
    if (fd >= 0) {
      close(fd);
    }
    return -1;
  }
  port = ntohs(in.sin_port);
  return fd;
}

TEST(PortProbeTest, BusyPortIsRefusedNamingAddressPortAndFlag) {
  std::uint16_t port = 0;
  int fd = listenOnLoopback(port);
  ASSERT_GE(fd, 0);
  auto busy = probeTcpPort("127.0.0.1", port, "--node-port");
  close(fd);
  ASSERT_FALSE(busy.has_value());
  EXPECT_EQ(busy.error().kind, ErrorKind::Unavailable);
  EXPECT_THAT(busy.error().message,
              HasSubstr("cannot listen on 127.0.0.1:" + std::to_string(port) + " (--node-port)"));
  EXPECT_THAT(busy.error().message, HasSubstr("another --node-port"));
}

TEST(PortProbeTest, FreePortPassesAndStaysFree) {
  std::uint16_t port = 0;
  int fd = listenOnLoopback(port);
  ASSERT_GE(fd, 0);
  close(fd);
  EXPECT_TRUE(probeTcpPort("127.0.0.1", port, "--cluster-port"));
  EXPECT_TRUE(probeTcpPort("127.0.0.1", port, "--cluster-port")) << "the probe let it go";
  EXPECT_TRUE(probeTcpPort("127.0.0.1", 0, "--cluster-port"));
}

TEST(PortProbeTest, AddressThatIsNotIpv4IsInvalid) {
  auto bad = probeTcpPort("banana", 2377, "--cluster-port");
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().kind, ErrorKind::InvalidArgument);
}

}  // namespace
}  // namespace overmesh::daemon
