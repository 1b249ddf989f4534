#include "daemon/port_probe.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

namespace overmesh::daemon {

Status probeTcpPort(const std::string& address, std::uint16_t port, std::string_view flag) {
  if (port == 0) {
    return {};
  }
  sockaddr_in in{};
  in.sin_family = AF_INET;
  in.sin_port = htons(port);
  if (inet_pton(AF_INET, address.c_str(), &in.sin_addr) != 1) {
    return errorf(ErrorKind::InvalidArgument, "{} is not an IPv4 address", address);
  }
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return errorf(ErrorKind::Unavailable, "socket(AF_INET): {}", errnoText(errno));
  }
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  int err = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&in), sizeof(in)) != 0 || listen(fd, 1) != 0) {
    err = errno;
  }
  close(fd);
  if (err != 0) {
    return errorf(ErrorKind::Unavailable,
                  "cannot listen on {}:{} ({}): {}; free the port, or start overmeshd with "
                  "another {}",
                  address, port, flag, errnoText(err), flag);
  }
  return {};
}

}  // namespace overmesh::daemon
