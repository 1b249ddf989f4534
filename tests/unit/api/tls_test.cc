// HttpServer::listenTls and HttpClient over TLS 1.3 on 127.0.0.1, with certificates
// made by tests/support/test_certs.h.

#include "api/tls.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "api/cluster_protocol.h"
#include "api/http_client.h"
#include "api/http_server.h"
#include "support/test_certs.h"

namespace overmesh::api {
namespace {

using namespace std::chrono_literals;
using testing::TestCa;
using testing::TestCert;
using testing::TestCertSpec;

// The server's configuration, swapped by a renewal.
class ConfigHolder {
 public:
  void set(std::shared_ptr<const TlsServerConfig> config) {
    std::lock_guard lock(mutex_);
    current_ = std::move(config);
  }
  TlsServerConfigSource source() {
    return [this] {
      std::lock_guard lock(mutex_);
      return current_;
    };
  }

 private:
  std::mutex mutex_;
  std::shared_ptr<const TlsServerConfig> current_;
};

int countOpenDescriptors() {
  int count = 0;
  if (DIR* dir = opendir("/proc/self/fd")) {
    while (readdir(dir) != nullptr) {
      ++count;
    }
    closedir(dir);
  }
  return count;
}

// What a handshake by a bare OpenSSL client gives.
struct RawHandshake {
  bool ok = false;
  std::string serverSerial;  // lower-case hex
  std::string error;
};

RawHandshake rawHandshake(std::uint16_t port, const TestCa& ca, const TestCert* client,
                          int maxVersion) {
  RawHandshake result;
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(TLS_client_method()),
                                                        &SSL_CTX_free);
  SSL_CTX_set_max_proto_version(ctx.get(), maxVersion);
  BIO* caBio = BIO_new_mem_buf(ca.certPem.data(), static_cast<int>(ca.certPem.size()));
  X509* caCert = PEM_read_bio_X509(caBio, nullptr, nullptr, nullptr);
  X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx.get()), caCert);
  X509_free(caCert);
  BIO_free(caBio);
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  if (client != nullptr) {
    BIO* certBio =
        BIO_new_mem_buf(client->certPem.data(), static_cast<int>(client->certPem.size()));
    X509* cert = PEM_read_bio_X509(certBio, nullptr, nullptr, nullptr);
    BIO* keyBio = BIO_new_mem_buf(client->keyPem.data(), static_cast<int>(client->keyPem.size()));
    EVP_PKEY* key = PEM_read_bio_PrivateKey(keyBio, nullptr, nullptr, nullptr);
    SSL_CTX_use_certificate(ctx.get(), cert);
    SSL_CTX_use_PrivateKey(ctx.get(), key);
    X509_free(cert);
    EVP_PKEY_free(key);
    BIO_free(certBio);
    BIO_free(keyBio);
  }
  static const unsigned char kAlpn[] = "\x0aovermesh/1";
  SSL_CTX_set_alpn_protos(ctx.get(), kAlpn, sizeof(kAlpn) - 1);
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  inet_pton(AF_INET, "127.0.0.1", &address.sin_addr);
  timeval timeout{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    close(fd);
    result.error = "connect failed";
    return result;
  }
  SSL* ssl = SSL_new(ctx.get());
  SSL_set_fd(ssl, fd);
  if (SSL_connect(ssl) == 1) {
    // TLS 1.3: the server judges the client's certificate after this; one read shows it.
    const char request[] = "GET /whoami HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    char buffer[256];
    if (SSL_write(ssl, request, sizeof(request) - 1) > 0 && SSL_read(ssl, buffer, 256) > 0) {
      result.ok = true;
      X509* peer = SSL_get0_peer_certificate(ssl);
      BIGNUM* serial = ASN1_INTEGER_to_BN(X509_get0_serialNumber(peer), nullptr);
      char* hex = BN_bn2hex(serial);
      result.serverSerial = hex;
      OPENSSL_free(hex);
      BN_free(serial);
      for (char& c : result.serverSerial) {
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      }
    }
  }
  if (!result.ok) {
    char text[256] = {};
    ERR_error_string_n(ERR_get_error(), text, sizeof(text));
    result.error = text;
  }
  ERR_clear_error();
  SSL_free(ssl);
  close(fd);
  return result;
}

int connectLoopback(std::uint16_t port, int receiveBuffer = 0) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (receiveBuffer > 0) {
    // Before connect: it sets the window the client offers.
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receiveBuffer, sizeof(receiveBuffer));
  }
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  inet_pton(AF_INET, "127.0.0.1", &address.sin_addr);
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// Whether the server closed `fd` within `wait` (EOF or reset), without sending a byte.
bool closedWithin(int fd, std::chrono::milliseconds wait) {
  pollfd ready{fd, POLLIN, 0};
  if (poll(&ready, 1, static_cast<int>(wait.count())) != 1) {
    return false;
  }
  char byte = 0;
  return recv(fd, &byte, 1, MSG_DONTWAIT) <= 0;
}

// A bare OpenSSL client connection: a join connection (kJoinAlpn, no certificate, the
// server not checked) when `client` is null, else a member's with that certificate.
class RawTls {
 public:
  RawTls(std::uint16_t port, const TestCert* client, int receiveBuffer = 0)
      : ctx_(SSL_CTX_new(TLS_client_method()), &SSL_CTX_free) {
    SSL_CTX_set_min_proto_version(ctx_.get(), TLS1_3_VERSION);
    SSL_CTX_set_verify(ctx_.get(), SSL_VERIFY_NONE, nullptr);
    std::string alpn = client == nullptr ? kJoinAlpn : kClusterAlpn;
    alpn.insert(alpn.begin(), static_cast<char>(alpn.size()));
    SSL_CTX_set_alpn_protos(ctx_.get(), reinterpret_cast<const unsigned char*>(alpn.data()),
                            static_cast<unsigned int>(alpn.size()));
    if (client != nullptr) {
      BIO* certBio =
          BIO_new_mem_buf(client->certPem.data(), static_cast<int>(client->certPem.size()));
      X509* cert = PEM_read_bio_X509(certBio, nullptr, nullptr, nullptr);
      BIO* keyBio = BIO_new_mem_buf(client->keyPem.data(), static_cast<int>(client->keyPem.size()));
      EVP_PKEY* key = PEM_read_bio_PrivateKey(keyBio, nullptr, nullptr, nullptr);
      SSL_CTX_use_certificate(ctx_.get(), cert);
      SSL_CTX_use_PrivateKey(ctx_.get(), key);
      X509_free(cert);
      EVP_PKEY_free(key);
      BIO_free(certBio);
      BIO_free(keyBio);
    }
    fd_ = connectLoopback(port, receiveBuffer);
    if (fd_ < 0) {
      return;
    }
    timeval timeout{5, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    ssl_ = SSL_new(ctx_.get());
    SSL_set_fd(ssl_, fd_);
    connected_ = SSL_connect(ssl_) == 1;
    ERR_clear_error();
  }
  ~RawTls() {
    if (ssl_ != nullptr) {
      SSL_free(ssl_);
    }
    if (fd_ >= 0) {
      close(fd_);
    }
  }
  RawTls(const RawTls&) = delete;
  RawTls& operator=(const RawTls&) = delete;

  bool connected() const { return connected_; }
  int fd() const { return fd_; }
  bool write(const std::string& bytes) {
    return SSL_write(ssl_, bytes.data(), static_cast<int>(bytes.size())) ==
           static_cast<int>(bytes.size());
  }
  // What the server sends until at least `bytes` came (or it ended the connection, or
  // 5 s passed without a byte).
  std::string readAtLeast(std::size_t bytes) {
    std::string all;
    char buffer[16 * 1024];
    int n = 0;
    while (all.size() < bytes && (n = SSL_read(ssl_, buffer, sizeof(buffer))) > 0) {
      all.append(buffer, static_cast<std::size_t>(n));
    }
    ERR_clear_error();
    return all;
  }
  // Everything the server sends until it ends the connection (or 5 s pass without a byte).
  std::string readToEnd() {
    std::string all;
    char buffer[16 * 1024];
    int n = 0;
    while ((n = SSL_read(ssl_, buffer, sizeof(buffer))) > 0) {
      all.append(buffer, static_cast<std::size_t>(n));
    }
    ERR_clear_error();
    return all;
  }

 private:
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx_;
  SSL* ssl_ = nullptr;
  int fd_ = -1;
  bool connected_ = false;
};

std::size_t occurrences(const std::string& text, const std::string& what) {
  std::size_t count = 0;
  for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) {
    ++count;
  }
  return count;
}

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ca_ = testing::makeTestCa("overmesh-ca-test");
    server_cert_ =
        testing::makeTestCert(ca_, TestCertSpec{.nodeId = "manager-1",
                                                .role = "manager",
                                                .dnsNames = {"manager-1", "overmesh-manager"},
                                                .ipAddresses = {"127.0.0.1"}});
    worker_ = testing::makeTestCert(
        ca_, TestCertSpec{.nodeId = "node-1", .dnsNames = {"node-1", "overmesh-worker"}});
    config_.set(serverConfig(server_cert_));

    server_.route("GET", "/whoami", [](const HttpRequest& request) {
      nlohmann::json body = {{"hasIdentity", request.identity.has_value()}};
      if (request.identity) {
        body["nodeId"] = request.identity->nodeId;
        body["role"] = request.identity->role;
        body["clusterId"] = request.identity->clusterId;
        body["serial"] = request.identity->serial;
        body["address"] = request.identity->address;
      }
      return HttpResponse{200, body.dump()};
    });
    server_.route("GET", kCaPath, [this](const HttpRequest&) {
      return HttpResponse{200, nlohmann::json{{"certificate", ca_.certPem}}.dump()};
    });
    server_.route("POST", kJoinPath, [this](const HttpRequest& request) {
      if (request.identity && !request.identity->join) {
        return HttpResponse{500, "a join request without the join flag"};
      }
      return HttpResponse{200, joinReply_};
    });
    server_.route("GET", "/longpoll", [this](const HttpRequest&) {
      std::unique_lock lock(mutex_);
      ++waiting_;
      changed_.notify_all();
      changed_.wait_for(lock, 20s, [this] { return released_; });
      return HttpResponse{200, "{}"};
    });
    server_.route("GET", "/large", [this](const HttpRequest&) {
      return HttpResponse{200, largeReply_};
    });
    server_.setStopDrain(0ms);
  }

  void TearDown() override {
    {
      std::lock_guard lock(mutex_);
      released_ = true;
    }
    changed_.notify_all();
    server_.stop();
  }

  std::shared_ptr<const TlsServerConfig> serverConfig(const TestCert& cert) {
    return std::make_shared<const TlsServerConfig>(
        TlsServerConfig{ca_.certPem, cert.certPem, cert.keyPem});
  }

  std::uint16_t listen(TlsListenOptions options = {}) {
    options.config = config_.source();
    auto port = server_.listenTls("127.0.0.1", 0, std::move(options));
    EXPECT_TRUE(port.has_value()) << port.error().message;
    return port.value_or(0);
  }

  std::shared_ptr<const TlsClientConfig> clientConfig(const TestCert* cert,
                                                      std::string serverName = "overmesh-manager",
                                                      bool join = false) {
    auto config = std::make_shared<TlsClientConfig>();
    config->caPem = ca_.certPem;
    config->serverName = std::move(serverName);
    if (cert != nullptr) {
      config->certPem = cert->certPem;
      config->keyPem = cert->keyPem;
    }
    config->joinAlpn = join;
    return config;
  }

  std::unique_ptr<HttpClient> client(std::uint16_t port,
                                     std::shared_ptr<const TlsClientConfig> config) {
    auto made = HttpClient::create(fmt::format("tcp://127.0.0.1:{}", port), std::move(config));
    EXPECT_TRUE(made.has_value()) << made.error().message;
    return made ? std::move(*made) : nullptr;
  }

  TestCa ca_;
  TestCert server_cert_;
  TestCert worker_;
  ConfigHolder config_;
  HttpServer server_;
  std::mutex mutex_;
  std::condition_variable changed_;
  int waiting_ = 0;
  bool released_ = false;
  std::string joinReply_ = R"({"joined":true})";
  std::string largeReply_;
};

TEST_F(TlsTest, RequestCarriesTheVerifiedClientIdentity) {
  std::uint16_t port = listen();
  auto http = client(port, clientConfig(&worker_));
  auto response = http->request("GET", "/whoami");
  ASSERT_TRUE(response.has_value()) << response.error().message;
  ASSERT_EQ(response->status, 200) << response->body;
  auto body = nlohmann::json::parse(response->body);
  EXPECT_EQ(body["nodeId"], "node-1");
  EXPECT_EQ(body["role"], "worker");
  EXPECT_EQ(body["clusterId"], "cluster-1");
  EXPECT_EQ(body["serial"], worker_.serial);
  EXPECT_EQ(body["address"], "127.0.0.1");
  // Keep-alive: a second request on the same connection still knows its peer.
  auto again = http->request("GET", "/whoami");
  ASSERT_TRUE(again.has_value()) << again.error().message;
  EXPECT_EQ(nlohmann::json::parse(again->body)["nodeId"], "node-1");
}

TEST_F(TlsTest, ClientWithoutCertificateCannotCompleteTheHandshake) {
  std::uint16_t port = listen({.allowJoinWithoutCertificate = true});
  auto http = client(port, clientConfig(nullptr));
  auto response = http->request("GET", "/whoami");
  ASSERT_FALSE(response.has_value()) << response->body;
  EXPECT_EQ(response.error().kind, ErrorKind::Unavailable);
  EXPECT_NE(response.error().message.find("TLS handshake"), std::string::npos)
      << response.error().message;
  EXPECT_EQ(http->lastFailure(), HttpClient::Failure::Connect);
}

TEST_F(TlsTest, JoinConnectionReachesOnlyTheCaAndJoinRoutes) {
  std::uint16_t port = listen({.allowJoinWithoutCertificate = true});
  auto fetch = clientConfig(nullptr, "overmesh-manager", true);
  auto unverified = std::make_shared<TlsClientConfig>(*fetch);
  unverified->skipServerVerification = true;
  unverified->caPem.clear();
  auto caResponse = client(port, unverified)->request("GET", kCaPath);
  ASSERT_TRUE(caResponse.has_value()) << caResponse.error().message;
  EXPECT_EQ(caResponse->status, 200);
  EXPECT_EQ(nlohmann::json::parse(caResponse->body)["certificate"], ca_.certPem);

  auto join = client(port, fetch);
  auto joined = join->request("POST", kJoinPath, "{}");
  ASSERT_TRUE(joined.has_value()) << joined.error().message;
  EXPECT_EQ(joined->status, 200);

  auto other = client(port, fetch)->request("GET", "/whoami");
  ASSERT_TRUE(other.has_value()) << other.error().message;
  EXPECT_EQ(other->status, 401);
  EXPECT_NE(other->body.find("only a join is possible"), std::string::npos) << other->body;
}

TEST_F(TlsTest, JoinAlpnWithoutCertificateFailsWhereJoinsAreNotServed) {
  std::uint16_t port = listen();
  auto response =
      client(port, clientConfig(nullptr, "overmesh-manager", true))->request("GET", kCaPath);
  EXPECT_FALSE(response.has_value());
}

TEST_F(TlsTest, CertificateOfAnotherCaIsRefused) {
  std::uint16_t port = listen({.allowJoinWithoutCertificate = true});
  TestCa other = testing::makeTestCa("overmesh-ca-other");
  TestCert stranger = testing::makeTestCert(other, TestCertSpec{.nodeId = "node-9"});
  auto response = client(port, clientConfig(&stranger))->request("GET", "/whoami");
  ASSERT_FALSE(response.has_value()) << response->body;
  EXPECT_NE(response.error().message.find("TLS handshake"), std::string::npos)
      << response.error().message;
}

TEST_F(TlsTest, ServerOfAnotherCaIsRefusedByTheClient) {
  TestCa other = testing::makeTestCa("overmesh-ca-other");
  config_.set(std::make_shared<const TlsServerConfig>(TlsServerConfig{
      ca_.certPem,
      testing::makeTestCert(other, TestCertSpec{.dnsNames = {"overmesh-manager"}}).certPem, ""}));
  // The key does not match: the server refuses to use this configuration at all.
  std::uint16_t port = listen();
  EXPECT_FALSE(client(port, clientConfig(&worker_))->request("GET", "/whoami").has_value());
  TestCert foreign = testing::makeTestCert(other, TestCertSpec{.dnsNames = {"overmesh-manager"}});
  config_.set(serverConfig(foreign));
  auto response = client(port, clientConfig(&worker_))->request("GET", "/whoami");
  ASSERT_FALSE(response.has_value());
  EXPECT_NE(response.error().message.find("certificate"), std::string::npos)
      << response.error().message;
}

TEST_F(TlsTest, Tls12OnlyClientFails) {
  std::uint16_t port = listen();
  RawHandshake tls13 = rawHandshake(port, ca_, &worker_, TLS1_3_VERSION);
  EXPECT_TRUE(tls13.ok) << tls13.error;
  RawHandshake tls12 = rawHandshake(port, ca_, &worker_, TLS1_2_VERSION);
  EXPECT_FALSE(tls12.ok);
}

TEST_F(TlsTest, PeerRefusedByAdmissionCannotConnect) {
  std::atomic<bool> revoked{false};
  std::uint16_t port = listen(
      {.admit = [&](const PeerIdentity& peer) { return !(revoked && peer.nodeId == "node-1"); }});
  ASSERT_TRUE(client(port, clientConfig(&worker_))->request("GET", "/whoami").has_value());
  revoked = true;
  auto response = client(port, clientConfig(&worker_))->request("GET", "/whoami");
  ASSERT_FALSE(response.has_value()) << response->body;
  EXPECT_NE(response.error().message.find("revoked"), std::string::npos)
      << response.error().message;
}

TEST_F(TlsTest, CloseConnectionsCutsALongPollWithinOneSecond) {
  std::uint16_t port = listen();
  auto http = client(port, clientConfig(&worker_));
  std::atomic<bool> done{false};
  Result<HttpResponse> outcome = HttpResponse{};
  std::thread poller([&] {
    outcome = http->request("GET", "/longpoll", "", 30s);
    done = true;
  });
  {
    std::unique_lock lock(mutex_);
    ASSERT_TRUE(changed_.wait_for(lock, 10s, [this] { return waiting_ == 1; }));
  }
  EXPECT_EQ(
      server_.closeConnections([](const PeerIdentity& peer) { return peer.nodeId == "node-2"; }),
      0u);
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(
      server_.closeConnections([](const PeerIdentity& peer) { return peer.nodeId == "node-1"; }),
      1u);
  while (!done && std::chrono::steady_clock::now() - start < 5s) {
    std::this_thread::sleep_for(5ms);
  }
  auto elapsed = std::chrono::steady_clock::now() - start;
  poller.join();
  EXPECT_LT(elapsed, 1s);
  EXPECT_FALSE(outcome.has_value());
}

TEST_F(TlsTest, RenewedServerCertificateServesTheNextConnections) {
  std::uint16_t port = listen();
  RawHandshake before = rawHandshake(port, ca_, &worker_, TLS1_3_VERSION);
  ASSERT_TRUE(before.ok) << before.error;
  EXPECT_EQ(before.serverSerial, server_cert_.serial);
  TestCert renewed = testing::makeTestCert(
      ca_,
      TestCertSpec{.nodeId = "manager-1", .role = "manager", .dnsNames = {"overmesh-manager"}});
  config_.set(serverConfig(renewed));
  RawHandshake after = rawHandshake(port, ca_, &worker_, TLS1_3_VERSION);
  ASSERT_TRUE(after.ok) << after.error;
  EXPECT_EQ(after.serverSerial, renewed.serial);
  EXPECT_NE(after.serverSerial, before.serverSerial);
}

TEST_F(TlsTest, ClientRefusesAServerWithoutTheExpectedName) {
  std::uint16_t port = listen();
  auto response = client(port, clientConfig(&worker_, "node-7"))->request("GET", "/whoami");
  ASSERT_FALSE(response.has_value()) << response->body;
  EXPECT_EQ(response.error().kind, ErrorKind::Unavailable);
  EXPECT_NE(response.error().message.find("TLS handshake"), std::string::npos)
      << response.error().message;
}

TEST_F(TlsTest, WithoutServerNameTheClientChecksTheAddress) {
  std::uint16_t port = listen();
  auto response = client(port, clientConfig(&worker_, ""))->request("GET", "/whoami");
  ASSERT_TRUE(response.has_value()) << response.error().message;
  EXPECT_EQ(response->status, 200);
}

TEST_F(TlsTest, SilentClientIsClosedAfterTheHandshakeTimeout) {
  std::uint16_t port = listen({.handshakeTimeout = 300ms});
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  inet_pton(AF_INET, "127.0.0.1", &address.sin_addr);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  auto start = std::chrono::steady_clock::now();
  pollfd wait{fd, POLLIN, 0};
  ASSERT_EQ(poll(&wait, 1, 5000), 1);
  char byte = 0;
  EXPECT_LE(recv(fd, &byte, 1, 0), 0);  // closed without a byte
  auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_GE(elapsed, 250ms);
  EXPECT_LT(elapsed, 3s);
  close(fd);
}

TEST_F(TlsTest, SequentialConnectionsDoNotLeakDescriptors) {
  std::uint16_t port = listen();
  auto config = clientConfig(&worker_);
  // Warm up (libcurl's and OpenSSL's one-time state).
  ASSERT_TRUE(client(port, config)->request("GET", "/whoami").has_value());
  int before = countOpenDescriptors();
  for (int i = 0; i < 300; ++i) {
    auto response = client(port, config)->request("GET", "/whoami");
    ASSERT_TRUE(response.has_value()) << i << ": " << response.error().message;
  }
  // The server side ends each connection's relay shortly after its client went away.
  int after = countOpenDescriptors();
  for (int i = 0; i < 500 && after > before + 2; ++i) {
    std::this_thread::sleep_for(10ms);
    after = countOpenDescriptors();
  }
  EXPECT_LE(after, before + 2);
}

TEST_F(TlsTest, StopEndsOpenConnectionsPromptly) {
  std::uint16_t port = listen();
  auto http = client(port, clientConfig(&worker_));
  ASSERT_TRUE(http->request("GET", "/whoami").has_value());  // an idle keep-alive connection
  auto start = std::chrono::steady_clock::now();
  server_.stop();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
  EXPECT_FALSE(http->request("GET", "/whoami", "", 5s).has_value());
}

TEST_F(TlsTest, JoinConnectionThatNeverReadsIsClosedAfterTheStallDeadline) {
  // An answer far larger than what the socket buffers hold: with a client that reads
  // nothing, the relay cannot finish writing it.
  constexpr std::size_t kReply = 16 * 1024 * 1024;
  joinReply_ = std::string(kReply, 'x');
  std::uint16_t port = listen({.allowJoinWithoutCertificate = true, .stallTimeout = 1s});
  RawTls join(port, nullptr, 16 * 1024);
  ASSERT_TRUE(join.connected());
  ASSERT_TRUE(join.write(
      fmt::format("POST {} HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{{}}", kJoinPath)));
  std::this_thread::sleep_for(2500ms);  // never reading, past the 1 s deadline
  // The server gave up: what was already in flight arrives, then the end, far short of
  // the answer. (Without the deadline reading now would resume it to its last byte.)
  std::size_t received = 0;
  bool ended = false;
  char buffer[64 * 1024];
  while (true) {
    pollfd ready{join.fd(), POLLIN, 0};
    if (poll(&ready, 1, 5000) != 1) {
      break;
    }
    ssize_t n = recv(join.fd(), buffer, sizeof(buffer), 0);
    if (n <= 0) {
      ended = true;
      break;
    }
    received += static_cast<std::size_t>(n);
  }
  EXPECT_TRUE(ended);
  EXPECT_LT(received, kReply / 2);
}

TEST_F(TlsTest, ClientThatPausesLessThanTheStallDeadlineGetsItsWholeAnswer) {
  // A client that pauses, then reads: progress restarts the deadline.
  joinReply_ = std::string(2 * 1024 * 1024, 'y');
  std::uint16_t port = listen({.allowJoinWithoutCertificate = true, .stallTimeout = 1s});
  RawTls join(port, nullptr, 16 * 1024);
  ASSERT_TRUE(join.connected());
  ASSERT_TRUE(join.write(
      fmt::format("POST {} HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{{}}", kJoinPath)));
  std::this_thread::sleep_for(600ms);  // stalled, but less than the deadline
  std::string answer = join.readToEnd();
  EXPECT_NE(answer.find("HTTP/1.1 200"), std::string::npos);
  EXPECT_GE(answer.size(), 2u * 1024 * 1024);
}

TEST_F(TlsTest, ClientThatStopsReadingDoesNotHoldUpOtherConnections) {
  // Far more than the socket buffers on the way hold: the answer waits for the client.
  constexpr std::size_t kLarge = 8 * 1024 * 1024;
  largeReply_ = std::string(kLarge, 'z');
  std::uint16_t port = listen();
  RawTls slow(port, &worker_, 16 * 1024);
  ASSERT_TRUE(slow.connected());
  ASSERT_TRUE(slow.write("GET /large HTTP/1.1\r\nHost: x\r\n\r\n"));
  std::this_thread::sleep_for(300ms);  // every buffer between the server and it is full
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 20; ++i) {
    auto response = client(port, clientConfig(&worker_))->request("GET", "/whoami");
    ASSERT_TRUE(response.has_value()) << i << ": " << response.error().message;
    EXPECT_EQ(response->status, 200);
  }
  auto keepAlive = client(port, clientConfig(&worker_));
  for (int i = 0; i < 20; ++i) {
    auto response = keepAlive->request("GET", "/whoami");
    ASSERT_TRUE(response.has_value()) << i << ": " << response.error().message;
  }
  // Generous: the point is that they are answered while the slow client still waits.
  EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
  // Nothing of the slow answer was lost while it waited.
  std::string answer = slow.readAtLeast(kLarge);
  EXPECT_NE(answer.find("HTTP/1.1 200"), std::string::npos);
  EXPECT_GE(answer.size(), kLarge);
  EXPECT_EQ(answer.substr(answer.size() - 16), std::string(16, 'z'));
}

TEST_F(TlsTest, EveryAnswerOnAJoinConnectionClosesIt) {
  std::uint16_t port = listen({.allowJoinWithoutCertificate = true});
  RawTls join(port, nullptr);
  ASSERT_TRUE(join.connected());
  // Pipelined: only the first is answered, and the connection ends after it.
  std::string request = fmt::format("GET {} HTTP/1.1\r\nHost: x\r\n\r\n", kCaPath);
  ASSERT_TRUE(join.write(request + request + request));
  std::string answer = join.readToEnd();
  EXPECT_EQ(occurrences(answer, "HTTP/1.1 200"), 1u) << answer;
  EXPECT_NE(answer.find("Connection: close"), std::string::npos) << answer;

  RawTls refused(port, nullptr);
  ASSERT_TRUE(refused.connected());
  ASSERT_TRUE(refused.write("GET /whoami HTTP/1.1\r\nHost: x\r\n\r\n" + request));
  std::string refusal = refused.readToEnd();
  EXPECT_EQ(occurrences(refusal, "HTTP/1.1 "), 1u) << refusal;
  EXPECT_NE(refusal.find("HTTP/1.1 401"), std::string::npos) << refusal;
}

TEST_F(TlsTest, HandshakingAndJoinConnectionsHaveTheirOwnCap) {
  std::uint16_t port = listen({.allowJoinWithoutCertificate = true,
                               .maxUnverifiedConnections = 64,
                               .maxUnverifiedPerAddress = 2});
  // A member's connection is not counted among them.
  auto member = client(port, clientConfig(&worker_));
  ASSERT_TRUE(member->request("GET", "/whoami").has_value());
  RawTls join(port, nullptr);  // one join connection, idle
  ASSERT_TRUE(join.connected());
  int silent = connectLoopback(port);  // one that never starts its handshake
  ASSERT_GE(silent, 0);
  std::this_thread::sleep_for(200ms);
  int third = connectLoopback(port);
  ASSERT_GE(third, 0);
  EXPECT_TRUE(closedWithin(third, 2s));
  close(third);
  // The member's open connection goes on.
  auto again = member->request("GET", "/whoami");
  ASSERT_TRUE(again.has_value()) << again.error().message;
  EXPECT_EQ(again->status, 200);
  // Once they are gone a new connection gets its slot.
  close(silent);
  bool served = false;
  for (int i = 0; i < 50 && !served; ++i) {
    served = client(port, clientConfig(&worker_))->request("GET", "/whoami").has_value();
    if (!served) {
      std::this_thread::sleep_for(50ms);
    }
  }
  EXPECT_TRUE(served);

  // The cap over all addresses.
  std::uint16_t capped = listen({.maxUnverifiedConnections = 1});
  int first = connectLoopback(capped);
  ASSERT_GE(first, 0);
  std::this_thread::sleep_for(200ms);
  int second = connectLoopback(capped);
  ASSERT_GE(second, 0);
  EXPECT_TRUE(closedWithin(second, 2s));
  EXPECT_FALSE(closedWithin(first, 100ms));
  close(second);
  close(first);
}

TEST_F(TlsTest, CertificateWithoutCommonNameIsNotAJoinConnection) {
  TestCert nameless = testing::makeTestCert(ca_, TestCertSpec{.nodeId = ""});
  for (bool joinPort : {false, true}) {
    std::uint16_t port = listen({.allowJoinWithoutCertificate = joinPort});
    auto response = client(port, clientConfig(&nameless))->request("GET", "/whoami");
    ASSERT_TRUE(response.has_value()) << response.error().message;
    ASSERT_EQ(response->status, 200) << joinPort << ": " << response->body;
    auto body = nlohmann::json::parse(response->body);
    EXPECT_EQ(body["hasIdentity"], true);
    EXPECT_EQ(body["nodeId"], "");
    EXPECT_EQ(body["role"], "worker");
  }
}

TEST_F(TlsTest, AdmissionThatThrowsRefusesTheConnectionAndTheServerGoesOn) {
  std::atomic<int> calls{0};
  std::atomic<bool> throwing{true};
  // The first call (during the handshake) admits; the second (once the connection is
  // registered) throws.
  std::uint16_t port = listen({.admit = [&](const PeerIdentity&) -> bool {
    if (++calls % 2 == 0 && throwing) {
      throw std::runtime_error("admission store unreadable");
    }
    return true;
  }});
  EXPECT_FALSE(client(port, clientConfig(&worker_))->request("GET", "/whoami").has_value());
  EXPECT_GE(calls.load(), 2);
  throwing = false;
  auto response = client(port, clientConfig(&worker_))->request("GET", "/whoami");
  ASSERT_TRUE(response.has_value()) << response.error().message;
  EXPECT_EQ(response->status, 200);
}

TEST_F(TlsTest, ClientConnectsFromItsSourceAddress) {
  std::uint16_t port = listen();
  auto config = std::make_shared<TlsClientConfig>(*clientConfig(&worker_));
  config->sourceAddress = "127.0.0.2";  // still the loopback interface
  auto response = client(port, config)->request("GET", "/whoami");
  ASSERT_TRUE(response.has_value()) << response.error().message;
  EXPECT_EQ(nlohmann::json::parse(response->body)["address"], "127.0.0.2");

  config->sourceAddress = "eth0";
  auto invalid = HttpClient::create(fmt::format("tcp://127.0.0.1:{}", port), config);
  ASSERT_FALSE(invalid.has_value());
  EXPECT_EQ(invalid.error().kind, ErrorKind::InvalidArgument);
  EXPECT_NE(invalid.error().message.find("sourceAddress eth0"), std::string::npos)
      << invalid.error().message;
}

}  // namespace
}  // namespace overmesh::api
