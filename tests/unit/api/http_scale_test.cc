// The event-driven server: thousands of idle connections on a bounded number of threads,
// handlers on the pool with their connection suspended, async routes that hold no thread,
// and stop() ending what still waits.

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "api/api_error.h"
#include "api/http_client.h"
#include "api/http_server.h"
#include "support/raw_socket.h"
#include "support/scratch.h"

namespace overmesh::api {
namespace {

using namespace std::chrono_literals;
using overmesh::testing::must;
using overmesh::testing::RawSocket;
using overmesh::testing::threadsOf;
using ::testing::HasSubstr;

// Generous: the machine is shared, and nothing here asserts a speed.
constexpr auto kScaleWait = 60s;
constexpr int kIdleConnections = 5000;
// The server's threads (one polling thread, the pool's cap of 32, the sweep) and this
// test's few, with room: far below one per connection.
constexpr std::size_t kThreadBound = 64;

const std::string kGetOk = "GET /v1/ok HTTP/1.1\r\nHost: x\r\n\r\n";

// Responders an async route parked, for the test thread to answer.
class ParkedResponders {
 public:
  void park(HttpResponder responder) {
    std::lock_guard lock(mutex_);
    parked_.push_back(std::move(responder));
    changed_.notify_all();
  }
  // Waits until `count` are parked (false after `bound`).
  bool waitFor(std::size_t count, std::chrono::milliseconds bound) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, bound, [&] { return parked_.size() >= count; });
  }
  std::optional<HttpResponder> take() {
    std::lock_guard lock(mutex_);
    if (parked_.empty()) {
      return std::nullopt;
    }
    HttpResponder responder = parked_.front();
    parked_.pop_front();
    return responder;
  }
  std::size_t size() {
    std::lock_guard lock(mutex_);
    return parked_.size();
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<HttpResponder> parked_;
};

void addScaleRoutes(HttpServer& server, ParkedResponders& parked) {
  server.route("GET", "/v1/ok", [](const HttpRequest&) {
    return HttpResponse{200, "ok", "text/plain"};
  });
  server.routeAsync("GET", "/v1/park", [&parked](const HttpRequest&, HttpResponder responder) {
    parked.park(std::move(responder));
  });
}

std::string okBody(const std::string& answer) { return answer.substr(answer.find("\r\n\r\n") + 4); }

enum class Transport { Unix, Tcp };

class HttpIdleConnectionsTest : public ::testing::TestWithParam<Transport> {
 protected:
  void SetUp() override {
    // Two descriptors per connection in this process (client and server ends).
    if (overmesh::testing::raiseDescriptorSoftLimit() < 2 * kIdleConnections + 500) {
      GTEST_SKIP() << "the descriptor hard limit is below " << 2 * kIdleConnections + 500;
    }
    addScaleRoutes(server_, parked_);
    if (GetParam() == Transport::Unix) {
      must(server_.listenUnix(socketPath_, 0600));
      endpoint_ = "unix://" + socketPath_;
    } else {
      port_ = must(server_.listenTcp("127.0.0.1", 0));
      endpoint_ = "tcp://127.0.0.1:" + std::to_string(port_);
    }
  }

  RawSocket connect() {
    return GetParam() == Transport::Unix ? RawSocket::connectUnix(socketPath_)
                                         : RawSocket::connectTcp(port_);
  }

  overmesh::testing::ScratchDir dir_;
  std::string socketPath_ = (dir_.path() / "api.sock").string();
  std::uint16_t port_ = 0;
  std::string endpoint_;
  ParkedResponders parked_;
  HttpServer server_;
};

TEST_P(HttpIdleConnectionsTest, FiveThousandIdleConnectionsOnBoundedThreadsAndNewRequestsServed) {
  std::vector<RawSocket> idle;
  idle.reserve(kIdleConnections);
  std::size_t mostThreads = threadsOf();
  for (int i = 0; i < kIdleConnections; ++i) {
    idle.push_back(connect());
    ASSERT_TRUE(idle.back().connected()) << "connection " << i << ": " << errnoText(errno);
    // Half stop in the middle of their request line (the even ones: the first, and the
    // last but one), half say nothing (the last one).
    if (i % 2 == 0) {
      ASSERT_TRUE(idle.back().send("GET /v1/o"));
    }
    if (i % 250 == 0) {
      mostThreads = std::max(mostThreads, threadsOf());
    }
  }
  // The last-opened connection (it said nothing yet) gets a whole request.
  ASSERT_TRUE(idle.back().send(kGetOk));
  std::string last = idle.back().readAnswer(kScaleWait);
  EXPECT_THAT(last, HasSubstr("200 OK"));
  EXPECT_EQ(okBody(last), "ok");
  // One that stopped mid-line finishes it.
  ASSERT_TRUE(idle[kIdleConnections - 2].send("k HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_EQ(okBody(idle[kIdleConnections - 2].readAnswer(kScaleWait)), "ok");
  // And the first one, opened before all the others, is still served.
  ASSERT_TRUE(idle.front().send("k HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_EQ(okBody(idle.front().readAnswer(kScaleWait)), "ok");
  // A new connection, from the ordinary client.
  auto client = must(HttpClient::create(endpoint_));
  HttpResponse fresh = must(client->request("GET", "/v1/ok", "", kScaleWait));
  EXPECT_EQ(fresh.status, 200);
  mostThreads = std::max(mostThreads, threadsOf());

  EXPECT_LT(mostThreads, kThreadBound) << "threads must not grow with connections";
}

TEST_P(HttpIdleConnectionsTest, ParkedAsyncRequestsHoldNoThread) {
  constexpr int kParked = 300;
  std::vector<RawSocket> waiting;
  for (int i = 0; i < kParked; ++i) {
    waiting.push_back(connect());
    ASSERT_TRUE(waiting.back().connected());
    ASSERT_TRUE(waiting.back().send("GET /v1/park HTTP/1.1\r\nHost: x\r\n\r\n"));
  }
  ASSERT_TRUE(parked_.waitFor(kParked, kScaleWait)) << parked_.size() << " parked";
  EXPECT_LT(threadsOf(), kThreadBound);
  auto client = must(HttpClient::create(endpoint_));
  EXPECT_EQ(must(client->request("GET", "/v1/ok", "", kScaleWait)).body, "ok")
      << "parked requests leave the pool free";
  // Answered from this thread, in reverse order of arrival for good measure.
  for (int i = 0; i < kParked; ++i) {
    parked_.take()->respond(HttpResponse{200, "answer", "text/plain"});
  }
  for (int i = 0; i < kParked; ++i) {
    EXPECT_EQ(okBody(waiting[i].readAnswer(kScaleWait)), "answer") << "request " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(Transports, HttpIdleConnectionsTest,
                         ::testing::Values(Transport::Unix, Transport::Tcp),
                         [](const ::testing::TestParamInfo<Transport>& transport) {
                           return transport.param == Transport::Unix ? "Unix" : "Tcp";
                         });

// --- async routes ---------------------------------------------------------------------------

class HttpAsyncTest : public ::testing::Test {
 protected:
  void SetUp() override {
    addScaleRoutes(server_, parked_);
    server_.routeAsync("GET", "/v1/async-throws",
                       [](const HttpRequest&, HttpResponder) { throw std::runtime_error("bug"); });
    server_.routeAsync("GET", "/v1/async-drops", [](const HttpRequest&, HttpResponder) {});
    server_.routeAsync("GET", "/v1/async-now", [](const HttpRequest& request, HttpResponder r) {
      r.respond(HttpResponse{200, "now " + request.queryOr("n", ""), "text/plain"});
      r.respond(HttpResponse{500, "second answer ignored", "text/plain"});
    });
    for (const char* method : {"GET", "POST"}) {
      server_.route(method, "/v1/slow-ok", [](const HttpRequest&) {
        std::this_thread::sleep_for(100ms);
        return HttpResponse{200, "ok", "text/plain"};
      });
    }
    server_.route("POST", "/v1/ok", [](const HttpRequest&) {
      return HttpResponse{200, "ok", "text/plain"};
    });
    server_.routeInline("POST", "/v1/inline/{n}", [this](const HttpRequest& request) {
      inlineThreads_.note(std::this_thread::get_id());
      return HttpResponse{200, "inline " + request.params.at(0) + " " + request.body, "text/plain"};
    });
    server_.route("GET", "/v1/pooled-thread", [this](const HttpRequest&) {
      pooledThreads_.note(std::this_thread::get_id());
      return HttpResponse{200, "pooled", "text/plain"};
    });
    server_.routeInline("GET", "/v1/inline-throws", [](const HttpRequest&) -> HttpResponse {
      throw std::runtime_error("bug");
    });
    server_.setStopDrain(0ms);
    must(server_.listenUnix(socketPath_, 0600));
  }

  std::unique_ptr<HttpClient> client() { return must(HttpClient::create("unix://" + socketPath_)); }

  overmesh::testing::ScratchDir dir_;
  std::string socketPath_ = (dir_.path() / "api.sock").string();
  ParkedResponders parked_;
  // The threads routeInline handlers ran on.
  struct ThreadSet {
    std::mutex mutex;
    std::set<std::thread::id> ids;
    void note(std::thread::id id) {
      std::lock_guard lock(mutex);
      ids.insert(id);
    }
    std::size_t size() {
      std::lock_guard lock(mutex);
      return ids.size();
    }
    bool contains(std::thread::id id) {
      std::lock_guard lock(mutex);
      return ids.contains(id);
    }
  } inlineThreads_, pooledThreads_;
  HttpServer server_;
};

TEST_F(HttpAsyncTest, InlineRouteAnswersOnOneThreadWithParamsAndBody) {
  auto one = client();
  for (int i = 0; i < 20; ++i) {
    HttpResponse response =
        must(one->request("POST", fmt::format("/v1/inline/{}", i), "beat", kScaleWait));
    EXPECT_EQ(response.status, 200);
    EXPECT_EQ(response.body, fmt::format("inline {} beat", i));
  }
  // A pooled route on the same connection still works after inline answers.
  EXPECT_EQ(must(one->request("GET", "/v1/pooled-thread", "", kScaleWait)).body, "pooled");
  ASSERT_EQ(inlineThreads_.size(), 1u) << "every inline answer came from the polling thread";
  EXPECT_FALSE(pooledThreads_.contains(*inlineThreads_.ids.begin()))
      << "an inline handler ran on a pool thread";
}

TEST_F(HttpAsyncTest, ThrowingInlineHandlerIs500NamingTheRoute) {
  HttpResponse response = must(client()->request("GET", "/v1/inline-throws", "", kScaleWait));

  EXPECT_EQ(response.status, 500);
  EXPECT_THAT(errorFromResponse(response).message, HasSubstr("GET /v1/inline-throws"));
}

TEST_F(HttpAsyncTest, AnsweredFromAnotherThread) {
  std::thread answerer([this] {
    if (parked_.waitFor(1, kScaleWait)) {
      parked_.take()->respond(HttpResponse{201, "from elsewhere", "text/plain"});
    }
  });
  HttpResponse response = must(client()->request("GET", "/v1/park", "", kScaleWait));
  answerer.join();

  EXPECT_EQ(response.status, 201);
  EXPECT_EQ(response.body, "from elsewhere");
}

TEST_F(HttpAsyncTest, AnsweredInsideTheHandlerFirstAnswerWins) {
  HttpResponse response = must(client()->request("GET", "/v1/async-now?n=7", "", kScaleWait));

  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, "now 7");
}

TEST_F(HttpAsyncTest, ThrowingAsyncHandlerIs500NamingTheRoute) {
  HttpResponse response = must(client()->request("GET", "/v1/async-throws", "", kScaleWait));

  EXPECT_EQ(response.status, 500);
  EXPECT_THAT(errorFromResponse(response).message, HasSubstr("GET /v1/async-throws"));
}

TEST_F(HttpAsyncTest, DroppedResponderIs500NotAHang) {
  HttpResponse response = must(client()->request("GET", "/v1/async-drops", "", kScaleWait));

  EXPECT_EQ(response.status, 500);
  EXPECT_THAT(errorFromResponse(response).message, HasSubstr("without an answer"));
}

TEST_F(HttpAsyncTest, PendingLongPollEndsAtStopWith503AndIsAbandoned) {
  Result<HttpResponse> answer = makeError(ErrorKind::Internal, "not run");
  std::thread poller([&] { answer = client()->request("GET", "/v1/park", "", kScaleWait); });
  ASSERT_TRUE(parked_.waitFor(1, kScaleWait));
  HttpResponder responder = *parked_.take();
  EXPECT_FALSE(responder.abandoned());

  server_.stop();
  poller.join();

  EXPECT_TRUE(responder.abandoned());
  responder.respond(HttpResponse{200, "too late", "text/plain"});  // does nothing
  ASSERT_TRUE(answer.has_value()) << answer.error().message;
  EXPECT_EQ(answer->status, 503);
  EXPECT_THAT(errorFromResponse(*answer).message, HasSubstr("stopping"));
}

TEST_F(HttpAsyncTest, ClientThatLeavesIsNoticedAndItsResponderAbandoned) {
  {
    RawSocket socket = RawSocket::connectUnix(socketPath_);
    ASSERT_TRUE(socket.send("GET /v1/park HTTP/1.1\r\nHost: x\r\n\r\n"));
    ASSERT_TRUE(parked_.waitFor(1, kScaleWait));
  }  // closed
  HttpResponder responder = *parked_.take();
  auto deadline = std::chrono::steady_clock::now() + kScaleWait;
  while (!responder.abandoned() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);
  }

  EXPECT_TRUE(responder.abandoned());
}

// A client may half-close once its request is sent (shutdown(SHUT_WR)); libmicrohttpd
// must not take that EOF for a vanished client while the handler runs with the connection
// suspended. (On an async route a half-close is taken as the client leaving: a peek
// cannot tell the two apart, and long-poll clients do not half-close.)
TEST_F(HttpAsyncTest, AClientThatHalfClosesAfterItsRequestGetsItsAnswer) {
  std::uint16_t port = must(server_.listenTcp("127.0.0.1", 0));
  for (int i = 0; i < 32; ++i) {
    RawSocket client =
        i % 2 == 0 ? RawSocket::connectUnix(socketPath_) : RawSocket::connectTcp(port);
    // With a body and without; answered at once, or after the polling thread went back
    // to waiting.
    std::string path = i % 4 < 2 ? "/v1/ok" : "/v1/slow-ok";
    std::string request =
        i % 8 < 4 ? "GET " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                  : "POST " + path +
                        " HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}";
    ASSERT_TRUE(client.send(request));
    if (i % 16 >= 8) {
      std::this_thread::sleep_for(30ms);  // the EOF comes while the handler runs
    }
    ASSERT_TRUE(client.shutdownWrite());
    EXPECT_EQ(okBody(client.readAnswer(kScaleWait)), "ok") << "request " << i;
  }
}

// A client that sends part of a request and closes: libmicrohttpd's edge-triggered epoll
// misses an end that arrives with the last bytes, so the server's sweep must close the
// connection, long before libmicrohttpd's 120 s idle timeout would.
TEST_F(HttpAsyncTest, AClientThatClosesInTheMiddleOfItsRequestIsClosedWellBeforeTheTimeout) {
  for (const std::string& partial :
       {std::string("GET /v1/o"), std::string("POST /v1/ok HTTP/1.1\r\nHost: x\r\nContent-Le"),
        std::string("POST /v1/ok HTTP/1.1\r\nHost: x\r\nContent-Length: 12\r\n\r\n{\"na")}) {
    RawSocket client = RawSocket::connectUnix(socketPath_);
    ASSERT_TRUE(client.send(partial));
    ASSERT_TRUE(client.shutdownWrite());
    EXPECT_TRUE(client.closedWithin(30s)) << partial;
  }
  auto fresh = client();
  EXPECT_EQ(must(fresh->request("GET", "/v1/ok", "", kScaleWait)).body, "ok");
}

TEST_F(HttpAsyncTest, DispatchWaitsForAnAsyncAnswer) {
  std::thread answerer([this] {
    if (parked_.waitFor(1, kScaleWait)) {
      parked_.take()->respond(HttpResponse{200, "dispatched", "text/plain"});
    }
  });
  HttpRequest request;
  request.method = "GET";
  request.path = "/v1/park";
  HttpResponse response = server_.dispatch(request);
  answerer.join();

  EXPECT_EQ(response.body, "dispatched");
}

// --- the pool's bounds ----------------------------------------------------------------------

// Two threads, one queued request: with both threads blocked and the queue full, the next
// request is refused at once with 503 "busy" rather than held; once a thread is free
// the queued one runs.
TEST(HttpPoolBoundsTest, FullPoolAndQueueAnswer503BusyAndTheQueuedRequestRunsLater) {
  overmesh::testing::ScratchDir dir;
  std::string path = (dir.path() / "api.sock").string();
  std::mutex mutex;
  std::condition_variable changed;
  int blocked = 0;
  bool release = false;
  HttpServer server;
  server.route("GET", "/v1/block", [&](const HttpRequest&) {
    std::unique_lock lock(mutex);
    ++blocked;
    changed.notify_all();
    changed.wait_for(lock, kScaleWait, [&] { return release; });
    return HttpResponse{200, "unblocked", "text/plain"};
  });
  server.route("GET", "/v1/ok", [](const HttpRequest&) {
    return HttpResponse{200, "ok", "text/plain"};
  });
  server.setLimits({.handlerThreads = 2, .maxQueuedRequests = 1});
  must(server.listenUnix(path, 0600));

  std::vector<RawSocket> blockers;
  for (int i = 0; i < 2; ++i) {
    blockers.push_back(RawSocket::connectUnix(path));
    ASSERT_TRUE(blockers.back().send("GET /v1/block HTTP/1.1\r\nHost: x\r\n\r\n"));
  }
  {
    std::unique_lock lock(mutex);
    ASSERT_TRUE(changed.wait_for(lock, kScaleWait, [&] { return blocked == 2; }));
  }
  RawSocket queued = RawSocket::connectUnix(path);
  ASSERT_TRUE(queued.send(kGetOk));
  // The queued request must be in the queue before the next one arrives: wait until a
  // further request is refused.
  std::string refused;
  auto deadline = std::chrono::steady_clock::now() + kScaleWait;
  while (refused.find("503") == std::string::npos && std::chrono::steady_clock::now() < deadline) {
    RawSocket extra = RawSocket::connectUnix(path);
    extra.send(kGetOk);
    refused = extra.readAnswer(2s);
  }
  {
    std::lock_guard lock(mutex);
    release = true;
  }
  changed.notify_all();

  EXPECT_THAT(refused, HasSubstr("503"));
  EXPECT_THAT(refused, HasSubstr("overmeshd is busy"));
  EXPECT_EQ(okBody(queued.readAnswer(kScaleWait)), "ok");
  for (RawSocket& blocker : blockers) {
    EXPECT_EQ(okBody(blocker.readAnswer(kScaleWait)), "unblocked");
  }
}

// Many blocked handlers at once: the pool stops at its cap, and once they finish a plain
// request is still served.
TEST(HttpPoolBoundsTest, BlockedHandlersTakeAtMostTheCapOfThreads) {
  overmesh::testing::ScratchDir dir;
  std::string path = (dir.path() / "api.sock").string();
  std::mutex mutex;
  std::condition_variable changed;
  int blocked = 0;
  bool release = false;
  HttpServer server;
  server.route("GET", "/v1/block", [&](const HttpRequest&) {
    std::unique_lock lock(mutex);
    ++blocked;
    changed.notify_all();
    changed.wait_for(lock, kScaleWait, [&] { return release; });
    return HttpResponse{200, "unblocked", "text/plain"};
  });
  must(server.listenUnix(path, 0600));
  std::size_t before = threadsOf();

  std::vector<RawSocket> blockers;
  for (unsigned int i = 0; i < kMaxHandlerThreads + 10; ++i) {
    blockers.push_back(RawSocket::connectUnix(path));
    ASSERT_TRUE(blockers.back().send("GET /v1/block HTTP/1.1\r\nHost: x\r\n\r\n"));
  }
  bool capReached = false;
  {
    std::unique_lock lock(mutex);
    capReached = changed.wait_for(lock, kScaleWait,
                                  [&] { return blocked == static_cast<int>(kMaxHandlerThreads); });
  }
  std::this_thread::sleep_for(200ms);  // a thread beyond the cap would show up now
  std::size_t during = threadsOf();
  int blockedAtCap = 0;
  {
    std::lock_guard lock(mutex);
    blockedAtCap = blocked;
    release = true;
  }
  changed.notify_all();
  for (RawSocket& blocker : blockers) {
    EXPECT_EQ(okBody(blocker.readAnswer(kScaleWait)), "unblocked");
  }

  EXPECT_TRUE(capReached);
  EXPECT_EQ(blockedAtCap, static_cast<int>(kMaxHandlerThreads));
  EXPECT_LE(during, before + kMaxHandlerThreads);
}

}  // namespace
}  // namespace overmesh::api
