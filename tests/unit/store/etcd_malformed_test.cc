// The etcd store against a fake "etcd" on 127.0.0.1 that answers every request with the
// same bytes: whatever those are, the store answers Unavailable naming the endpoint, and
// never throws or crashes.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "store/etcd/etcd_gateway.h"
#include "store/etcd/etcd_store.h"

namespace overmesh::store {
namespace {

using namespace std::chrono_literals;

// Thread: accepts connections and answers each request with `body` (HTTP 200), until
// destroyed.
class CannedHttpServer {
 public:
  explicit CannedHttpServer(std::string body) : body_(std::move(body)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(address);
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&address), length) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length) != 0 ||
        ::listen(fd_, 16) != 0) {
      throw std::runtime_error("cannot listen on 127.0.0.1");
    }
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~CannedHttpServer() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    thread_.join();
    ::close(fd_);
  }
  std::string endpoint() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  void serve() {
    while (!stop_) {
      int client = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (client < 0) {
        return;
      }
      // Reads the headers and the body (Content-Length), then answers and closes.
      std::string request;
      char buffer[4096];
      std::size_t headersEnd = std::string::npos;
      std::size_t wanted = 0;
      while (true) {
        ssize_t got = ::recv(client, buffer, sizeof(buffer), 0);
        if (got <= 0) {
          break;
        }
        request.append(buffer, static_cast<std::size_t>(got));
        if (headersEnd == std::string::npos) {
          headersEnd = request.find("\r\n\r\n");
          if (headersEnd != std::string::npos) {
            auto at = request.find("Content-Length: ");
            wanted = at == std::string::npos ? 0 : std::stoul(request.substr(at + 16));
          }
        }
        if (headersEnd != std::string::npos && request.size() >= headersEnd + 4 + wanted) {
          break;
        }
      }
      std::string answer = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
                           std::to_string(body_.size()) + "\r\nConnection: close\r\n\r\n" + body_;
      ::send(client, answer.data(), answer.size(), MSG_NOSIGNAL);
      ::close(client);
    }
  }

  std::string body_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

TEST(EtcdMalformedAnswerTest, AnyAnswerThatIsNotEtcdsIsUnavailableNamingTheEndpoint) {
  std::vector<std::string> bodies{
      "not json at all",
      R"({"header":{"revision":"seven"}})",
      R"({"header":{"revision":{"deep":[1,2,3]}}})",
      R"([1,2,3])",
      std::string(200000, '['),
      std::string("{\"header\":\xff\xfe}", 14),
  };
  for (const std::string& body : bodies) {
    CannedHttpServer fake(body);
    EtcdStoreOptions options;
    options.endpoints = {fake.endpoint()};
    options.requestTimeout = 2000ms;
    auto opened = EtcdStore::open(options);
    ASSERT_FALSE(opened) << body.substr(0, 40);
    EXPECT_EQ(opened.error().kind, ErrorKind::Unavailable);
    EXPECT_NE(opened.error().message.find(fake.endpoint()), std::string::npos)
        << opened.error().message;
  }
}

TEST(EtcdMalformedAnswerTest, AnswersAreBoundedBeforeTheyAreAllocated) {
  etcd::BoundedBody body;
  std::string chunk(1 << 20, 'x');
  std::size_t taken = 0;
  for (int i = 0; i < 70; ++i) {
    taken = etcd::appendBoundedBody(chunk.data(), 1, chunk.size(), &body);
    if (taken == 0) {
      break;
    }
  }
  EXPECT_EQ(taken, 0U);
  EXPECT_TRUE(body.overflowed);
  EXPECT_LE(body.data.size(), etcd::kMaxEtcdAnswerBytes);
}

}  // namespace
}  // namespace overmesh::store
