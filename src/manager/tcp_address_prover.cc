#include "manager/tcp_address_prover.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "common/ip.h"

namespace overmesh::manager {
namespace {

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) {
      ::close(fd_);
    }
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// Milliseconds left until `deadline`, at least 0.
int remainingMs(std::chrono::steady_clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  return left.count() > 0 ? static_cast<int>(left.count()) : 0;
}

}  // namespace

Result<std::string> TcpAddressProver::readProof(const std::string& address, std::uint16_t port,
                                                std::chrono::milliseconds timeout) {
  auto ip = Ipv4Address::parse(address);
  if (!ip) {
    return errorf(ErrorKind::InvalidArgument, "address proof: {} is not an IPv4 address", address);
  }
  auto deadline = std::chrono::steady_clock::now() + timeout;
  Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) {
    return errorf(ErrorKind::Unavailable, "address proof: socket: {}", errnoText(errno));
  }
  sockaddr_in peer{};
  peer.sin_family = AF_INET;
  peer.sin_port = htons(port);
  peer.sin_addr.s_addr = htonl(ip->value());
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&peer), sizeof(peer)) != 0 &&
      errno != EINPROGRESS) {
    return errorf(ErrorKind::Unavailable, "connecting to {}:{}: {}", address, port,
                  errnoText(errno));
  }
  pollfd wait{fd.get(), POLLOUT, 0};
  int ready = ::poll(&wait, 1, remainingMs(deadline));
  if (ready <= 0) {
    return errorf(ErrorKind::Unavailable, "connecting to {}:{}: {}", address, port,
                  ready == 0 ? "timed out" : errnoText(errno));
  }
  int soError = 0;
  socklen_t length = sizeof(soError);
  if (::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &soError, &length) != 0 || soError != 0) {
    return errorf(ErrorKind::Unavailable, "connecting to {}:{}: {}", address, port,
                  errnoText(soError != 0 ? soError : errno));
  }
  std::string proof;
  char buffer[kMaxAddressProofBytes];
  while (proof.size() < kMaxAddressProofBytes) {
    pollfd readable{fd.get(), POLLIN, 0};
    int polled = ::poll(&readable, 1, remainingMs(deadline));
    if (polled < 0 && errno == EINTR) {
      continue;
    }
    if (polled <= 0) {
      break;  // the deadline: judge what arrived
    }
    ssize_t got = ::read(fd.get(), buffer, kMaxAddressProofBytes - proof.size());
    if (got < 0 && (errno == EINTR || errno == EAGAIN)) {
      continue;
    }
    if (got <= 0) {
      break;  // closed (or reset): what arrived is the proof
    }
    proof.append(buffer, static_cast<std::size_t>(got));
  }
  if (proof.empty()) {
    return errorf(ErrorKind::Unavailable, "nothing was read from {}:{} within {}ms", address, port,
                  timeout.count());
  }
  return proof;
}

}  // namespace overmesh::manager
