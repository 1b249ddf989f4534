// TlsRelay alone: a server SSL and a client SSL over a socketpair (the "TCP" side), the
// plain side another socketpair, everything non-blocking and pumped by the test, so that
// the relay's decisions (what it waits for, its deadline, when it ends) are seen one
// pump at a time.

#include "api/tls_relay.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <memory>
#include <string>

#include "api/tls_context.h"
#include "support/test_certs.h"

namespace overmesh::api {
namespace {

using namespace std::chrono_literals;
using RelayClock = TlsRelay::Clock;

void makeNonBlocking(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL, 0) | O_NONBLOCK); }

// Everything readable on `fd` now (non-blocking).
std::string drainPlain(int fd) {
  std::string all;
  char buffer[16 * 1024];
  ssize_t n = 0;
  while ((n = recv(fd, buffer, sizeof(buffer), 0)) > 0) {
    all.append(buffer, static_cast<std::size_t>(n));
  }
  return all;
}

class TlsRelayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    signal(SIGPIPE, SIG_IGN);  // OpenSSL writes with write(2) to ends the test closes
    testing::TestCa ca = testing::makeTestCa("overmesh-ca-relay");
    testing::TestCert server = testing::makeTestCert(ca, testing::TestCertSpec{.nodeId = "m"});
    testing::TestCert client = testing::makeTestCert(ca, testing::TestCertSpec{.nodeId = "n"});
    auto serverCtx = makeServerContext(TlsServerConfig{ca.certPem, server.certPem, server.keyPem});
    ASSERT_TRUE(serverCtx.has_value()) << serverCtx.error().message;
    serverCtx_.reset(serverCtx->release());
    clientCtx_.reset(SSL_CTX_new(TLS_client_method()));
    SSL_CTX_set_verify(clientCtx_.get(), SSL_VERIFY_NONE, nullptr);
    BIO* certBio = BIO_new_mem_buf(client.certPem.data(), static_cast<int>(client.certPem.size()));
    X509* cert = PEM_read_bio_X509(certBio, nullptr, nullptr, nullptr);
    BIO* keyBio = BIO_new_mem_buf(client.keyPem.data(), static_cast<int>(client.keyPem.size()));
    EVP_PKEY* key = PEM_read_bio_PrivateKey(keyBio, nullptr, nullptr, nullptr);
    SSL_CTX_use_certificate(clientCtx_.get(), cert);
    SSL_CTX_use_PrivateKey(clientCtx_.get(), key);
    X509_free(cert);
    EVP_PKEY_free(key);
    BIO_free(certBio);
    BIO_free(keyBio);

    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, tcp_), 0);
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, plain_), 0);
    for (int fd : {tcp_[0], tcp_[1], plain_[0], plain_[1]}) {
      makeNonBlocking(fd);
    }
    server_ = SSL_new(serverCtx_.get());
    client_ = SSL_new(clientCtx_.get());
    SSL_set_fd(server_, tcp_[0]);
    SSL_set_fd(client_, tcp_[1]);
    bool serverDone = false;
    bool clientDone = false;
    for (int round = 0; round < 100 && !(serverDone && clientDone); ++round) {
      clientDone = clientDone || SSL_connect(client_) == 1;
      serverDone = serverDone || SSL_accept(server_) == 1;
    }
    ERR_clear_error();
    ASSERT_TRUE(serverDone && clientDone);
  }

  void TearDown() override {
    SSL_free(server_);
    SSL_free(client_);
    for (int fd : {tcp_[0], tcp_[1], plain_[0], plain_[1]}) {
      if (fd >= 0) {
        close(fd);
      }
    }
  }

  // What the client can read now (non-blocking), and whether it saw the server's
  // close_notify.
  std::string clientRead(bool* closed = nullptr) {
    std::string all;
    char buffer[16 * 1024];
    while (true) {
      int n = SSL_read(client_, buffer, sizeof(buffer));
      if (n > 0) {
        all.append(buffer, static_cast<std::size_t>(n));
        continue;
      }
      if (closed != nullptr) {
        *closed = SSL_get_error(client_, n) == SSL_ERROR_ZERO_RETURN;
      }
      ERR_clear_error();
      return all;
    }
  }

  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> serverCtx_{nullptr, &SSL_CTX_free};
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> clientCtx_{nullptr, &SSL_CTX_free};
  SSL* server_ = nullptr;
  SSL* client_ = nullptr;
  int tcp_[2] = {-1, -1};    // [0]: the relay's TCP socket, [1]: the client's
  int plain_[2] = {-1, -1};  // [0]: the HTTP server's end, [1]: the relay's
  char scratch_[TlsRelay::kBufferBytes];
};

TEST_F(TlsRelayTest, IdleMemberConnectionWaitsForBothSidesWithoutADeadline) {
  auto now = RelayClock::now();
  TlsRelay relay(server_, plain_[1], 1s, false, now);
  ASSERT_TRUE(relay.pump(now, scratch_));
  TlsRelay::Interest interest = relay.interest();
  EXPECT_TRUE(interest.tcpRead);
  EXPECT_TRUE(interest.plainRead);
  EXPECT_FALSE(interest.tcpWrite);
  EXPECT_FALSE(interest.plainWrite);
  EXPECT_FALSE(relay.deadline().has_value());
  // Hours later it is still there: a watch long-poll may wait that long.
  EXPECT_TRUE(relay.pump(now + 10h, scratch_));
}

TEST_F(TlsRelayTest, IdleJoinConnectionEndsAfterTheStallTime) {
  auto now = RelayClock::now();
  TlsRelay relay(server_, plain_[1], 1s, true, now);
  ASSERT_TRUE(relay.pump(now, scratch_));
  ASSERT_TRUE(relay.deadline().has_value());
  EXPECT_EQ(*relay.deadline(), now + 1s);
  EXPECT_TRUE(relay.pump(now + 900ms, scratch_));
  EXPECT_FALSE(relay.pump(now + 1s, scratch_));
}

TEST_F(TlsRelayTest, MovesARequestAndItsAnswer) {
  auto now = RelayClock::now();
  TlsRelay relay(server_, plain_[1], 1s, false, now);
  std::string request = "GET / HTTP/1.1\r\n\r\n";
  ASSERT_EQ(SSL_write(client_, request.data(), static_cast<int>(request.size())),
            static_cast<int>(request.size()));
  ASSERT_TRUE(relay.pump(now, scratch_));
  EXPECT_EQ(drainPlain(plain_[0]), request);
  std::string answer = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
  ASSERT_EQ(send(plain_[0], answer.data(), answer.size(), 0), static_cast<ssize_t>(answer.size()));
  ASSERT_TRUE(relay.pump(now, scratch_));
  EXPECT_EQ(clientRead(), answer);
}

TEST_F(TlsRelayTest, ClientThatDoesNotReadStopsTheServerSideAndStallsOut) {
  auto now = RelayClock::now();
  TlsRelay relay(server_, plain_[1], 1s, false, now);
  // The HTTP server writes a large answer until its socket is full.
  std::string chunk(64 * 1024, 'a');
  std::size_t written = 0;
  std::string sentAll;
  for (int round = 0; round < 400; ++round) {
    ssize_t n = send(plain_[0], chunk.data(), chunk.size(), 0);
    if (n > 0) {
      written += static_cast<std::size_t>(n);
    }
    ASSERT_TRUE(relay.pump(now, scratch_));
    if (n <= 0 && !relay.interest().plainRead) {
      break;  // nothing more fits anywhere, and the relay stopped reading the server
    }
  }
  // Backpressure: the relay waits to write to the client and no longer reads the
  // server's side (what it holds is bounded by kBufferBytes).
  TlsRelay::Interest interest = relay.interest();
  EXPECT_TRUE(interest.tcpWrite);
  EXPECT_FALSE(interest.plainRead);
  EXPECT_LT(written, 40u * chunk.size()) << "the server side was never held back";
  ASSERT_TRUE(relay.deadline().has_value());
  EXPECT_EQ(*relay.deadline(), now + 1s);
  // Progress restarts the deadline: the client reads, the relay moves on.
  auto later = now + 800ms;
  std::string received = clientRead();
  EXPECT_FALSE(received.empty());
  ASSERT_TRUE(relay.pump(later, scratch_));
  EXPECT_EQ(*relay.deadline(), later + 1s);
  // Then nothing moves for the stall time: the relay ends.
  EXPECT_TRUE(relay.pump(later + 999ms, scratch_));
  EXPECT_FALSE(relay.pump(later + 1s, scratch_));
}

TEST_F(TlsRelayTest, ClientCloseNotifyHalfClosesAndTheAnswerStillArrives) {
  auto now = RelayClock::now();
  TlsRelay relay(server_, plain_[1], 1s, false, now);
  std::string request = "GET / HTTP/1.1\r\n\r\n";
  SSL_write(client_, request.data(), static_cast<int>(request.size()));
  SSL_shutdown(client_);  // close_notify: the client sends nothing more
  ASSERT_TRUE(relay.pump(now, scratch_));
  EXPECT_EQ(drainPlain(plain_[0]), request);
  char byte = 0;
  EXPECT_EQ(recv(plain_[0], &byte, 1, 0), 0) << "the server side saw no end of the request";
  std::string answer = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
  send(plain_[0], answer.data(), answer.size(), 0);
  close(plain_[0]);  // the server answers and closes
  plain_[0] = -1;
  relay.plainHungUp();
  EXPECT_FALSE(relay.pump(now, scratch_));  // over: answer passed on, close_notify sent
  bool closed = false;
  EXPECT_EQ(clientRead(&closed), answer);
  EXPECT_TRUE(closed);
}

TEST_F(TlsRelayTest, ClientResetEndsTheRelay) {
  auto now = RelayClock::now();
  TlsRelay relay(server_, plain_[1], 1s, false, now);
  ASSERT_TRUE(relay.pump(now, scratch_));
  close(tcp_[1]);  // gone without close_notify
  tcp_[1] = -1;
  EXPECT_FALSE(relay.pump(now, scratch_));
}

}  // namespace
}  // namespace overmesh::api
