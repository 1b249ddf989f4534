#include "daemon/address_proof.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

namespace overmesh::daemon {

Result<std::string> makeAddressProof() {
  unsigned char bytes[16];
  ssize_t got = getrandom(bytes, sizeof(bytes), 0);
  if (got != static_cast<ssize_t>(sizeof(bytes))) {
    return errorf(ErrorKind::Unavailable, "getrandom: {}",
                  got < 0 ? errnoText(errno) : std::string("short read"));
  }
  std::string proof;
  for (unsigned char byte : bytes) {
    proof += fmt::format("{:02x}", byte);
  }
  return proof;
}

Result<std::unique_ptr<AddressProofServer>> AddressProofServer::start(const std::string& address,
                                                                      std::uint16_t port,
                                                                      std::string proof) {
  sockaddr_in in{};
  in.sin_family = AF_INET;
  in.sin_port = htons(port);
  if (inet_pton(AF_INET, address.c_str(), &in.sin_addr) != 1) {
    return errorf(ErrorKind::InvalidArgument, "address proof: {} is not an IPv4 address", address);
  }
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    return errorf(ErrorKind::Unavailable, "address proof: socket: {}", errnoText(errno));
  }
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (bind(fd, reinterpret_cast<sockaddr*>(&in), sizeof(in)) != 0 || listen(fd, 8) != 0) {
    int err = errno;
    close(fd);
    return errorf(ErrorKind::Unavailable,
                  "cannot listen on {}:{} for the manager's address check: {}", address, port,
                  errnoText(err));
  }
  socklen_t length = sizeof(in);
  getsockname(fd, reinterpret_cast<sockaddr*>(&in), &length);
  int wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake < 0) {
    int err = errno;
    close(fd);
    return errorf(ErrorKind::Unavailable, "address proof: eventfd: {}", errnoText(err));
  }
  auto server = std::unique_ptr<AddressProofServer>(
      new AddressProofServer(fd, wake, ntohs(in.sin_port), std::move(proof)));
  server->thread_ = std::thread([raw = server.get()] { raw->run(); });
  return server;
}

AddressProofServer::AddressProofServer(int listenFd, int wakeFd, std::uint16_t port,
                                       std::string proof)
    : listenFd_(listenFd), wakeFd_(wakeFd), port_(port), proof_(std::move(proof)) {}

AddressProofServer::~AddressProofServer() { stop(); }

void AddressProofServer::stop() {
  if (thread_.joinable()) {
    std::uint64_t one = 1;
    [[maybe_unused]] auto written = write(wakeFd_, &one, sizeof(one));
    thread_.join();
  }
  if (listenFd_ >= 0) {
    close(listenFd_);
    listenFd_ = -1;
  }
  if (wakeFd_ >= 0) {
    close(wakeFd_);
    wakeFd_ = -1;
  }
}

// Thread: answers each connection with the proof until stop(). A send that would block
// (a peer that reads nothing) is given up: the 32 bytes fit any socket buffer.
void AddressProofServer::run() {
  while (true) {
    pollfd fds[2] = {{listenFd_, POLLIN, 0}, {wakeFd_, POLLIN, 0}};
    int ready = poll(fds, 2, -1);
    if (ready < 0) {
      if (errno == EINTR) {
        continue;
      }
      return;
    }
    if (fds[1].revents != 0) {
      return;
    }
    int connection = accept4(listenFd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (connection < 0) {
      continue;  // EAGAIN, or a connection reset before it was accepted
    }
    if (send(connection, proof_.data(), proof_.size(), MSG_NOSIGNAL | MSG_DONTWAIT) ==
        static_cast<ssize_t>(proof_.size())) {
      served_.fetch_add(1);
    }
    close(connection);
  }
}

}  // namespace overmesh::daemon
