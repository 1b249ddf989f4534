// TlsListener alone, at scale: many mutual-TLS connections on 127.0.0.1 handed to a
// stand-in for the HTTP server (one thread, poll()), so that the threads counted are the
// listener's own. Clients are bare OpenSSL, non-blocking, driven from the test's thread.

#include "api/tls_listener.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "support/test_certs.h"

namespace overmesh::api {
namespace {

using namespace std::chrono_literals;
using testing::TestCa;
using testing::TestCert;
using testing::TestCertSpec;

// The threads of this process now (/proc/self/task).
int processThreads() {
  int count = 0;
  if (DIR* dir = opendir("/proc/self/task")) {
    while (dirent* entry = readdir(dir)) {
      count += entry->d_name[0] != '.' ? 1 : 0;
    }
    closedir(dir);
  }
  return count;
}

// Waits up to `limit` for `done`; whether it became true.
template <typename Predicate>
bool eventually(Predicate done, std::chrono::milliseconds limit = 20s) {
  auto until = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= until) {
      return false;
    }
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

// What libmicrohttpd does behind the hand-off, reduced to what these tests need: one
// thread serving every plain socket with poll(); each request ("GET PATH ...\r\n\r\n")
// is answered "200" with the connection's nodeId as its body, keep-alive, except
// GET /longpoll, which is never answered (a watch waiting).
class PlainStub {
 public:
  PlainStub() {
    if (pipe2(wake_, O_CLOEXEC | O_NONBLOCK) != 0) {
      throw std::runtime_error("pipe2");
    }
    thread_ = std::thread([this] { run(); });
  }
  ~PlainStub() {
    stopping_ = true;
    [[maybe_unused]] ssize_t written = write(wake_[1], "x", 1);
    thread_.join();
    for (Served& served : served_) {
      close(served.fd);
    }
    std::lock_guard lock(mutex_);
    for (int fd : incoming_) {
      close(fd);
    }
    close(wake_[0]);
    close(wake_[1]);
  }
  PlainStub(const PlainStub&) = delete;
  PlainStub& operator=(const PlainStub&) = delete;

  void setListener(TlsListener* listener) { listener_ = listener; }
  TlsListener::Handoff handoff() {
    return [this](int fd, const sockaddr_in&) {
      {
        std::lock_guard lock(mutex_);
        incoming_.push_back(fd);
      }
      ++handedOff_;
      [[maybe_unused]] ssize_t written = write(wake_[1], "x", 1);
      return true;
    };
  }
  std::size_t handedOff() const { return handedOff_; }
  std::size_t longPolls() const { return longPolls_; }

 private:
  struct Served {
    int fd;
    std::string nodeId;
    std::string in;
    std::string out;
  };

  void run() {
    std::vector<pollfd> fds;
    char buffer[4096];
    while (!stopping_) {
      fds.assign(1, pollfd{wake_[0], POLLIN, 0});
      for (const Served& served : served_) {
        auto events = static_cast<short>(POLLIN | (served.out.empty() ? 0 : POLLOUT));
        fds.push_back(pollfd{served.fd, events, 0});
      }
      if (poll(fds.data(), fds.size(), 1000) <= 0) {
        continue;
      }
      while (read(wake_[0], buffer, sizeof(buffer)) > 0) {
      }
      std::vector<Served> next;
      for (std::size_t i = 0; i < served_.size(); ++i) {
        Served& served = served_[i];
        if (fds[i + 1].revents != 0 && !serve(served, buffer, sizeof(buffer))) {
          close(served.fd);
          continue;
        }
        next.push_back(std::move(served));
      }
      served_ = std::move(next);
      std::vector<int> incoming;
      {
        std::lock_guard lock(mutex_);
        incoming.swap(incoming_);
      }
      for (int fd : incoming) {
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL, 0) | O_NONBLOCK);
        TlsListener* listener = listener_.load();
        auto identity = listener != nullptr ? listener->takeIdentity(fd) : nullptr;
        served_.push_back(Served{fd, identity != nullptr ? identity->nodeId : "(none)", "", ""});
      }
    }
  }

  // Reads, answers, writes; false once the connection ended.
  bool serve(Served& served, char* buffer, std::size_t size) {
    ssize_t n = recv(served.fd, buffer, size, 0);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
      return false;
    }
    if (n > 0) {
      served.in.append(buffer, static_cast<std::size_t>(n));
    }
    for (std::size_t end = served.in.find("\r\n\r\n"); end != std::string::npos;
         end = served.in.find("\r\n\r\n")) {
      std::string request = served.in.substr(0, end);
      served.in.erase(0, end + 4);
      if (request.starts_with("GET /longpoll ")) {
        ++longPolls_;
        continue;
      }
      served.out += fmt::format("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{}",
                                served.nodeId.size(), served.nodeId);
    }
    if (!served.out.empty()) {
      ssize_t sent = send(served.fd, served.out.data(), served.out.size(), MSG_NOSIGNAL);
      if (sent > 0) {
        served.out.erase(0, static_cast<std::size_t>(sent));
      } else if (errno != EAGAIN && errno != EINTR) {
        return false;
      }
    }
    return true;
  }

  int wake_[2] = {-1, -1};
  std::atomic<bool> stopping_{false};
  std::atomic<TlsListener*> listener_{nullptr};
  std::atomic<std::size_t> handedOff_{0};
  std::atomic<std::size_t> longPolls_{0};
  std::mutex mutex_;
  std::vector<int> incoming_;   // guarded by mutex_
  std::vector<Served> served_;  // the stub's thread only
  std::thread thread_;
};

// A client connection driven without blocking, so that hundreds handshake at once.
struct ClientConnection {
  int fd = -1;
  SSL* ssl = nullptr;
  bool established = false;
  bool failed = false;
  int wantEvents = POLLOUT;  // what the handshake waits for (the connect first)

  ClientConnection() = default;
  ClientConnection(const ClientConnection&) = delete;
  ClientConnection& operator=(const ClientConnection&) = delete;
  ~ClientConnection() {
    if (ssl != nullptr) {
      SSL_free(ssl);
    }
    if (fd >= 0) {
      close(fd);
    }
  }
};
using Clients = std::vector<std::unique_ptr<ClientConnection>>;

class TlsListenerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // The clients write with OpenSSL (write(2)) to connections the server ends.
    signal(SIGPIPE, SIG_IGN);
    ca_ = testing::makeTestCa("overmesh-ca-listener");
    TestCert server = testing::makeTestCert(
        ca_, TestCertSpec{.nodeId = "manager-1", .role = "manager", .dnsNames = {"manager-1"}});
    serverConfig_ = std::make_shared<const TlsServerConfig>(
        TlsServerConfig{ca_.certPem, server.certPem, server.keyPem});
    node1_ = clientContext(testing::makeTestCert(ca_, TestCertSpec{.nodeId = "node-1"}));
    node2_ = clientContext(testing::makeTestCert(ca_, TestCertSpec{.nodeId = "node-2"}));
    threadsBefore_ = processThreads();
  }

  void TearDown() override {
    if (listener_ != nullptr) {
      listener_->stop();
    }
    stub_.setListener(nullptr);
  }

  using ContextPtr = std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)>;

  ContextPtr clientContext(const TestCert& cert) {
    ContextPtr ctx(SSL_CTX_new(TLS_client_method()), &SSL_CTX_free);
    SSL_CTX_set_min_proto_version(ctx.get(), TLS1_3_VERSION);
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
    SSL_CTX_set_mode(ctx.get(), SSL_MODE_RELEASE_BUFFERS);
    std::string alpn = kClusterAlpn;
    alpn.insert(alpn.begin(), static_cast<char>(alpn.size()));
    SSL_CTX_set_alpn_protos(ctx.get(), reinterpret_cast<const unsigned char*>(alpn.data()),
                            static_cast<unsigned int>(alpn.size()));
    BIO* certBio = BIO_new_mem_buf(cert.certPem.data(), static_cast<int>(cert.certPem.size()));
    X509* x509 = PEM_read_bio_X509(certBio, nullptr, nullptr, nullptr);
    BIO* keyBio = BIO_new_mem_buf(cert.keyPem.data(), static_cast<int>(cert.keyPem.size()));
    EVP_PKEY* key = PEM_read_bio_PrivateKey(keyBio, nullptr, nullptr, nullptr);
    SSL_CTX_use_certificate(ctx.get(), x509);
    SSL_CTX_use_PrivateKey(ctx.get(), key);
    X509_free(x509);
    EVP_PKEY_free(key);
    BIO_free(certBio);
    BIO_free(keyBio);
    return ctx;
  }

  // Starts the listener on 127.0.0.1 with the stub behind it; its port.
  std::uint16_t start(TlsListenOptions options = {.maxUnverifiedConnections = 256,
                                                  .maxUnverifiedPerAddress = 256}) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    inet_pton(AF_INET, "127.0.0.1", &address.sin_addr);
    EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
    EXPECT_EQ(::listen(fd, 4096), 0);
    socklen_t length = sizeof(address);
    getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
    options.config = [config = serverConfig_] { return config; };
    auto started = TlsListener::start(fd, std::move(options), 10'000, stub_.handoff());
    EXPECT_TRUE(started.has_value()) << started.error().message;
    listener_ = started ? std::move(*started) : nullptr;
    stub_.setListener(listener_.get());
    return ntohs(address.sin_port);
  }

  // Opens `count` connections at once and drives their handshakes together; appends
  // them to `clients`. Whether every one completed.
  static bool handshakeAll(std::uint16_t port, SSL_CTX* ctx, std::size_t count, Clients& clients) {
    std::size_t first = clients.size();
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    inet_pton(AF_INET, "127.0.0.1", &address.sin_addr);
    for (std::size_t i = 0; i < count; ++i) {
      auto client = std::make_unique<ClientConnection>();
      client->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
      if (connect(client->fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 &&
          errno != EINPROGRESS) {
        return false;
      }
      client->ssl = SSL_new(ctx);
      SSL_set_fd(client->ssl, client->fd);
      SSL_set_connect_state(client->ssl);
      clients.push_back(std::move(client));
    }
    auto until = std::chrono::steady_clock::now() + 60s;
    while (std::chrono::steady_clock::now() < until) {
      std::vector<pollfd> fds;
      std::vector<ClientConnection*> pending;
      for (std::size_t i = first; i < clients.size(); ++i) {
        ClientConnection& client = *clients[i];
        if (client.established || client.failed) {
          continue;
        }
        ERR_clear_error();
        int result = SSL_do_handshake(client.ssl);
        if (result == 1) {
          client.established = true;
          continue;
        }
        int error = SSL_get_error(client.ssl, result);
        if (error != SSL_ERROR_WANT_READ && error != SSL_ERROR_WANT_WRITE) {
          client.failed = true;
          continue;
        }
        client.wantEvents = error == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
        fds.push_back(pollfd{client.fd, static_cast<short>(client.wantEvents), 0});
        pending.push_back(&client);
      }
      if (pending.empty()) {
        break;
      }
      poll(fds.data(), fds.size(), 100);
    }
    ERR_clear_error();
    for (std::size_t i = first; i < clients.size(); ++i) {
      if (!clients[i]->established) {
        return false;
      }
    }
    return true;
  }

  // Sends `request` on an established connection and reads one answer (up to 5 s);
  // its body, or "" when none came.
  static std::string exchange(ClientConnection& client, const std::string& request) {
    ERR_clear_error();
    std::size_t sent = 0;
    std::string got;
    auto until = std::chrono::steady_clock::now() + 5s;
    char buffer[4096];
    while (std::chrono::steady_clock::now() < until) {
      if (sent < request.size()) {
        int n =
            SSL_write(client.ssl, request.data() + sent, static_cast<int>(request.size() - sent));
        if (n > 0) {
          sent += static_cast<std::size_t>(n);
        }
      }
      int n = SSL_read(client.ssl, buffer, sizeof(buffer));
      if (n > 0) {
        got.append(buffer, static_cast<std::size_t>(n));
        std::size_t head = got.find("\r\n\r\n");
        std::size_t length = got.find("Content-Length: ");
        if (head != std::string::npos && length != std::string::npos) {
          std::size_t bodyLength = std::stoul(got.substr(length + 16));
          if (got.size() >= head + 4 + bodyLength) {
            return got.substr(head + 4, bodyLength);
          }
        }
        continue;
      }
      int error = SSL_get_error(client.ssl, n);
      if (error != SSL_ERROR_WANT_READ && error != SSL_ERROR_WANT_WRITE) {
        break;
      }
      pollfd ready{client.fd, POLLIN, 0};
      poll(&ready, 1, 50);
    }
    ERR_clear_error();
    return "";
  }

  TestCa ca_;
  std::shared_ptr<const TlsServerConfig> serverConfig_;
  ContextPtr node1_{nullptr, &SSL_CTX_free};
  ContextPtr node2_{nullptr, &SSL_CTX_free};
  int threadsBefore_ = 0;
  PlainStub stub_;
  std::unique_ptr<TlsListener> listener_;
};

const std::string kHello = "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n";

TEST_F(TlsListenerTest, HoldsTwoThousandIdleConnectionsOnBoundedThreads) {
  constexpr std::size_t kIdle = 2000;
  std::uint16_t port = start();
  int threadsStarted = processThreads();
  // The stub's thread and the listener's loop: nothing else.
  EXPECT_LE(threadsStarted, threadsBefore_ + 1);
  Clients clients;
  int mostThreads = threadsStarted;
  for (std::size_t opened = 0; opened < kIdle; opened += 200) {
    ASSERT_TRUE(handshakeAll(port, node1_.get(), 200, clients)) << "after " << opened;
    mostThreads = std::max(mostThreads, processThreads());
  }
  // TLS 1.3: the client is done before the server checked its certificate; the hand-off
  // says the server is done too.
  ASSERT_TRUE(eventually([&] { return stub_.handedOff() == kIdle; }))
      << stub_.handedOff() << " handed off";
  EXPECT_EQ(listener_->connectionCount(), kIdle);
  mostThreads = std::max(mostThreads, processThreads());
  EXPECT_LE(mostThreads, threadsStarted + 2) << "threads grew with the connections";

  EXPECT_EQ(exchange(*clients.back(), kHello), "node-1");  // the last idle one
  Clients fresh;
  ASSERT_TRUE(handshakeAll(port, node2_.get(), 1, fresh));
  EXPECT_EQ(exchange(*fresh.front(), kHello), "node-2");
  EXPECT_EQ(exchange(*clients.front(), kHello), "node-1");  // the first idle one
  EXPECT_EQ(listener_->connectionCount(), kIdle + 1);
  EXPECT_LE(processThreads(), threadsStarted + 2);
}

TEST_F(TlsListenerTest, TwoHundredHandshakesAtOnceAllComplete) {
  std::uint16_t port = start();
  int threadsStarted = processThreads();
  Clients clients;
  ASSERT_TRUE(handshakeAll(port, node1_.get(), 200, clients));
  ASSERT_TRUE(eventually([&] { return stub_.handedOff() == 200; })) << stub_.handedOff();
  for (std::size_t i = 0; i < clients.size(); ++i) {
    ASSERT_EQ(exchange(*clients[i], kHello), "node-1") << "connection " << i;
  }
  EXPECT_LE(processThreads(), threadsStarted);
}

TEST_F(TlsListenerTest, CloseConnectionsEndsALongPollAtOnceAndSparesTheOthers) {
  std::uint16_t port = start();
  Clients members;
  ASSERT_TRUE(handshakeAll(port, node1_.get(), 50, members));
  Clients watcher;
  ASSERT_TRUE(handshakeAll(port, node2_.get(), 1, watcher));
  ASSERT_TRUE(eventually([&] { return stub_.handedOff() == 51; }));
  ClientConnection& poll2 = *watcher.front();
  std::string longPoll = "GET /longpoll HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_EQ(SSL_write(poll2.ssl, longPoll.data(), static_cast<int>(longPoll.size())),
            static_cast<int>(longPoll.size()));
  ASSERT_TRUE(eventually([&] { return stub_.longPolls() == 1; }));

  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(
      listener_->closeConnections([](const PeerIdentity& peer) { return peer.nodeId == "node-2"; }),
      1u);
  // The client's long-poll ends: its socket reports the end (no answer) at once.
  pollfd ended{poll2.fd, POLLIN, 0};
  ASSERT_EQ(poll(&ended, 1, 1000), 1);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
  char byte = 0;
  EXPECT_LE(recv(poll2.fd, &byte, 1, 0), 0);
  EXPECT_TRUE(eventually([&] { return listener_->connectionCount() == 50; }))
      << listener_->connectionCount();
  // Node-1's connections go on.
  EXPECT_EQ(exchange(*members.back(), kHello), "node-1");
  EXPECT_EQ(exchange(*members.front(), kHello), "node-1");
}

TEST_F(TlsListenerTest, StopEndsHandshakingAndRelayingConnections) {
  std::uint16_t port = start();
  Clients members;
  ASSERT_TRUE(handshakeAll(port, node1_.get(), 20, members));
  ASSERT_TRUE(eventually([&] { return stub_.handedOff() == 20; }));
  int silent = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);  // never handshakes
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  inet_pton(AF_INET, "127.0.0.1", &address.sin_addr);
  ASSERT_EQ(connect(silent, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  ASSERT_TRUE(eventually([&] { return listener_->connectionCount() == 21; }));
  auto start = std::chrono::steady_clock::now();
  listener_->stop();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
  EXPECT_EQ(listener_->connectionCount(), 0u);
  pollfd ended{silent, POLLIN, 0};
  EXPECT_EQ(poll(&ended, 1, 1000), 1);
  close(silent);
  EXPECT_EQ(exchange(*members.front(), kHello), "");
}

}  // namespace
}  // namespace overmesh::api
