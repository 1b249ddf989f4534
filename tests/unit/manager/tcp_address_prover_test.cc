// The real address prover over TCP on 127.0.0.1 (port 0, read back): what a node's proof
// listener sends is read until it closes; a closed port or a silent peer is Unavailable
// within the timeout.

#include "manager/tcp_address_prover.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

namespace overmesh::manager {
namespace {

// A listening socket on 127.0.0.1 with a port the kernel picked; closed at the end.
class ProofListener {
 public:
  ProofListener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
    EXPECT_EQ(::listen(fd_, 4), 0);
    socklen_t length = sizeof(address);
    EXPECT_EQ(::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length), 0);
    port_ = ntohs(address.sin_port);
  }
  ~ProofListener() { ::close(fd_); }
  ProofListener(const ProofListener&) = delete;
  ProofListener& operator=(const ProofListener&) = delete;

  // Accepts one connection, writes `text`, and closes it unless `hold` (then it stays
  // open for `hold`).
  std::thread serveOnce(std::string text, std::chrono::milliseconds hold = {}) {
    return std::thread([this, text = std::move(text), hold] {
      int connection = ::accept(fd_, nullptr, nullptr);
      if (connection < 0) {
        return;
      }
      EXPECT_EQ(::write(connection, text.data(), text.size()), static_cast<ssize_t>(text.size()));
      std::this_thread::sleep_for(hold);
      ::close(connection);
    });
  }
  std::uint16_t port() const { return port_; }

 private:
  int fd_ = -1;
  std::uint16_t port_ = 0;
};

TEST(TcpAddressProverTest, ReadsWhatThePeerSendsUntilItCloses) {
  ProofListener listener;
  std::thread server = listener.serveOnce(std::string(32, 'e'));
  auto read =
      TcpAddressProver().readProof("127.0.0.1", listener.port(), std::chrono::milliseconds(2000));
  server.join();
  ASSERT_TRUE(read) << read.error().message;
  EXPECT_EQ(*read, std::string(32, 'e'));
}

TEST(TcpAddressProverTest, ReadsAtMostSixtyFourBytes) {
  ProofListener listener;
  std::thread server = listener.serveOnce(std::string(1000, 'x'));
  auto read =
      TcpAddressProver().readProof("127.0.0.1", listener.port(), std::chrono::milliseconds(2000));
  server.join();
  ASSERT_TRUE(read) << read.error().message;
  EXPECT_EQ(read->size(), kMaxAddressProofBytes);
}

TEST(TcpAddressProverTest, ASilentPeerIsUnavailableAfterTheTimeout) {
  ProofListener listener;
  std::thread server = listener.serveOnce("", std::chrono::milliseconds(800));
  auto started = std::chrono::steady_clock::now();
  auto read =
      TcpAddressProver().readProof("127.0.0.1", listener.port(), std::chrono::milliseconds(300));
  auto took = std::chrono::steady_clock::now() - started;
  server.join();
  ASSERT_FALSE(read);
  EXPECT_EQ(read.error().kind, ErrorKind::Unavailable);
  EXPECT_LT(took, std::chrono::milliseconds(750)) << "bounded by the timeout, not the peer";
}

TEST(TcpAddressProverTest, AClosedPortIsUnavailable) {
  std::uint16_t closedPort = 0;
  {
    ProofListener listener;  // bound, then closed: nothing listens there any more
    closedPort = listener.port();
  }
  auto read =
      TcpAddressProver().readProof("127.0.0.1", closedPort, std::chrono::milliseconds(1000));
  ASSERT_FALSE(read);
  EXPECT_EQ(read.error().kind, ErrorKind::Unavailable);
  EXPECT_NE(read.error().message.find("127.0.0.1"), std::string::npos) << read.error().message;
}

}  // namespace
}  // namespace overmesh::manager
