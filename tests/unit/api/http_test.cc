#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <ostream>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "api/api_error.h"
#include "api/http_client.h"
#include "api/http_server.h"
#include "api/http_types.h"
#include "common/error.h"
#include "support/scratch.h"

namespace overmesh::api {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

// Generous: the machine is shared, and no test asserts a speed.
constexpr auto kWaitBound = 30s;

using overmesh::testing::must;
using TempDir = overmesh::testing::ScratchDir;

// A one-shot gate between a blocked handler and the test thread.
class Gate {
 public:
  void open() {
    std::lock_guard lock(mu_);
    open_ = true;
    cv_.notify_all();
  }
  // True when opened before `bound` passed.
  bool waitFor(std::chrono::milliseconds bound) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, bound, [this] { return open_; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
};

// Binds a unix socket at `path`, then closes it without unlinking: what a daemon that was
// killed leaves behind.
void leaveStaleSocket(const std::string& path) {
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0) << errnoText(errno);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, path.c_str(), sizeof(address.sun_path) - 1);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0)
      << errnoText(errno);
  close(fd);
}

// The routes every test server carries.
void addTestRoutes(HttpServer& server) {
  server.route("POST", "/v1/echo", [](const HttpRequest& request) {
    return HttpResponse{200, request.body, "text/plain"};
  });
  server.route("GET", "/v1/items/{id}", [](const HttpRequest& request) {
    return HttpResponse{200, request.params.at(0), "text/plain"};
  });
  server.route("POST", "/v1/conflict", [](const HttpRequest&) {
    return errorResponse(Error{ErrorKind::Conflict, "network frontend already exists"});
  });
  server.route("GET", "/v1/query", [](const HttpRequest& request) {
    return HttpResponse{200, request.queryOr("name", "(none)") + "|" + request.queryOr("wait", ""),
                        "text/plain"};
  });
  server.route("GET", "/v1/peer", [](const HttpRequest& request) {
    return HttpResponse{200, request.peer, "text/plain"};
  });
  server.route("GET", "/v1/header", [](const HttpRequest& request) {
    return HttpResponse{200, request.headerOr("x-overmesh-test", "(none)"), "text/plain"};
  });
}

class HttpUnixTest : public ::testing::Test {
 protected:
  void SetUp() override {
    addTestRoutes(server_);
    must(server_.listenUnix(socketPath_, 0600));
    client_ = must(HttpClient::create(endpoint_));
  }

  HttpResponse call(const std::string& method, const std::string& path,
                    const std::string& body = "") {
    return must(client_->request(method, path, body));
  }

  TempDir dir_;
  std::string socketPath_ = (dir_.path() / "api.sock").string();
  std::string endpoint_ = "unix://" + socketPath_;
  // Declared after dir_: destroyed first, so the server stops before its directory goes.
  HttpServer server_;
  std::unique_ptr<HttpClient> client_;
};

// --- routing --------------------------------------------------------------------------------

TEST_F(HttpUnixTest, PostBodyRoundTrips) {
  HttpResponse response = call("POST", "/v1/echo", R"({"name":"frontend"})");

  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, R"({"name":"frontend"})");
}

TEST_F(HttpUnixTest, LargeBodyRoundTrips) {
  std::string body(256 * 1024, 'x');

  EXPECT_EQ(call("POST", "/v1/echo", body).body, body);
}

TEST_F(HttpUnixTest, ABodyFileIsSentAndTheAnswerObservedAsItArrives) {
  std::string content(300 * 1024, 'y');
  content += "end";
  std::string file = (dir_.path() / "upload.bin").string();
  {
    std::ofstream out(file, std::ios::binary);
    out << content;
  }
  std::string observed;
  client_->setBodyObserver([&](std::string_view piece) { observed.append(piece); });
  client_->setBodyFile(file);
  HttpResponse response = must(client_->request("POST", "/v1/echo", "ignored"));
  EXPECT_EQ(response.body, content);
  EXPECT_EQ(observed, content) << "every piece reached the observer";
  client_->setBodyObserver(nullptr);
  EXPECT_EQ(call("POST", "/v1/echo", "next").body, "next") << "the file is used once";

  client_->setBodyFile((dir_.path() / "nosuch").string());
  auto missing = client_->request("POST", "/v1/echo");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().kind, ErrorKind::Unavailable);
  EXPECT_NE(missing.error().message.find("nosuch"), std::string::npos);
}

TEST_F(HttpUnixTest, BraceSegmentArrivesAsAParam) {
  EXPECT_EQ(call("GET", "/v1/items/frontend").body, "frontend");
}

TEST_F(HttpUnixTest, TrailingSlashMatchesTheSameRoute) {
  EXPECT_EQ(call("GET", "/v1/items/frontend/").body, "frontend");
}

TEST_F(HttpUnixTest, UnknownPathIs404WithAnErrorBody) {
  HttpResponse response = call("GET", "/v1/nothing");

  EXPECT_EQ(response.status, 404);
  Error error = errorFromResponse(response);
  EXPECT_EQ(error.kind, ErrorKind::NotFound);
  EXPECT_THAT(error.message, HasSubstr("/v1/nothing"));
}

TEST_F(HttpUnixTest, WrongMethodOnAKnownPathIs405) {
  HttpResponse response = call("DELETE", "/v1/items/frontend");

  EXPECT_EQ(response.status, 405);
  EXPECT_THAT(errorFromResponse(response).message, HasSubstr("DELETE"));
}

TEST_F(HttpUnixTest, ErrorResponseCarriesStatusKindAndMessage) {
  HttpResponse response = call("POST", "/v1/conflict");

  EXPECT_EQ(response.status, 409);
  Error error = errorFromResponse(response);
  EXPECT_EQ(error.kind, ErrorKind::Conflict);
  EXPECT_EQ(error.message, "network frontend already exists");
}

struct EscapedSegmentCase {
  std::string label;
  std::string escaped;
  std::string decoded;
};

// Names the case in gtest output instead of dumping its bytes.
void PrintTo(const EscapedSegmentCase& c, std::ostream* os) { *os << c.label; }

class HttpEscapedSegmentTest : public HttpUnixTest,
                               public ::testing::WithParamInterface<EscapedSegmentCase> {};

TEST_P(HttpEscapedSegmentTest, ArrivesDecoded) {
  HttpResponse response = call("GET", "/v1/items/" + GetParam().escaped);

  EXPECT_EQ(response.status, 200) << response.body;
  EXPECT_EQ(response.body, GetParam().decoded);
}

INSTANTIATE_TEST_SUITE_P(
    Segments, HttpEscapedSegmentTest,
    ::testing::Values(EscapedSegmentCase{"Space", "my%20net", "my net"},
                      EscapedSegmentCase{"Percent", "100%25", "100%"},
                      EscapedSegmentCase{"Utf8", "r%C3%A9seau", "r\xc3\xa9seau"},
                      EscapedSegmentCase{"QuestionMark", "what%3F", "what?"},
                      EscapedSegmentCase{"Slash", "a%2Fb", "a/b"},
                      EscapedSegmentCase{"PlusStaysAPlus", "a+b", "a+b"},
                      EscapedSegmentCase{"MalformedEscapeIsKept", "50%zz", "50%zz"}),
    [](const ::testing::TestParamInfo<EscapedSegmentCase>& paramInfo) {
      return paramInfo.param.label;
    });

TEST_F(HttpUnixTest, QueryArgumentsArriveDecoded) {
  EXPECT_EQ(call("GET", "/v1/query?name=my%20net&wait=5s").body, "my net|5s");
}

TEST_F(HttpUnixTest, MissingQueryArgumentTakesTheFallback) {
  EXPECT_EQ(call("GET", "/v1/query").body, "(none)|");
}

TEST_F(HttpUnixTest, HeaderNamesArriveLowerCased) {
  HttpResponse response =
      must(client_->request("GET", "/v1/header", "", kWaitBound, {{"X-Overmesh-Test", "yes"}}));

  EXPECT_EQ(response.body, "yes");
}

TEST_F(HttpUnixTest, UnixPeerIsReportedAsUnix) { EXPECT_EQ(call("GET", "/v1/peer").body, "unix"); }

TEST_F(HttpUnixTest, OneClientMakesManyRequestsInARow) {
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(call("GET", "/v1/items/" + std::to_string(i)).body, std::to_string(i));
  }
}

// --- the unix socket ------------------------------------------------------------------------

TEST_F(HttpUnixTest, SocketFileHasMode0600) {
  struct stat info {};
  ASSERT_EQ(stat(socketPath_.c_str(), &info), 0) << errnoText(errno);

  EXPECT_TRUE(S_ISSOCK(info.st_mode));
  EXPECT_EQ(info.st_mode & 07777, 0600u);
}

TEST_F(HttpUnixTest, SecondListenerOnALiveSocketFailsWithFailedPrecondition) {
  HttpServer second;

  auto listened = second.listenUnix(socketPath_, 0600);

  ASSERT_FALSE(listened.has_value());
  EXPECT_EQ(listened.error().kind, ErrorKind::FailedPrecondition);
  EXPECT_THAT(listened.error().message, HasSubstr(socketPath_));
}

TEST_F(HttpUnixTest, FailedSecondListenerLeavesTheFirstServing) {
  {
    HttpServer second;
    ASSERT_FALSE(second.listenUnix(socketPath_, 0600).has_value());
  }

  EXPECT_TRUE(std::filesystem::exists(socketPath_));
  EXPECT_EQ(call("GET", "/v1/items/still-here").body, "still-here");
}

TEST_F(HttpUnixTest, StopRemovesTheSocketFile) {
  server_.stop();

  EXPECT_FALSE(std::filesystem::exists(socketPath_));
}

TEST_F(HttpUnixTest, StopIsIdempotent) {
  server_.stop();
  server_.stop();

  EXPECT_FALSE(std::filesystem::exists(socketPath_));
}

TEST_F(HttpUnixTest, ClientFailsWithUnavailableAfterStop) {
  server_.stop();

  auto response = client_->request("GET", "/v1/items/x", "", kWaitBound);

  ASSERT_FALSE(response.has_value());
  EXPECT_EQ(response.error().kind, ErrorKind::Unavailable);
}

TEST(HttpUnixSocketTest, StaleSocketFileIsReplaced) {
  TempDir dir;
  std::string path = (dir.path() / "api.sock").string();
  leaveStaleSocket(path);
  ASSERT_TRUE(std::filesystem::is_socket(path));
  HttpServer server;
  addTestRoutes(server);

  must(server.listenUnix(path, 0600));

  auto client = must(HttpClient::create("unix://" + path));
  EXPECT_EQ(must(client->request("GET", "/v1/items/fresh")).body, "fresh");
}

TEST(HttpUnixSocketTest, ARegularFileAtTheSocketPathIsRefusedAndKept) {
  TempDir dir;
  std::string path = (dir.path() / "api.sock").string();
  std::ofstream(path) << "not a socket";
  HttpServer server;

  auto listened = server.listenUnix(path, 0600);

  ASSERT_FALSE(listened.has_value());
  EXPECT_EQ(listened.error().kind, ErrorKind::FailedPrecondition);
  EXPECT_TRUE(std::filesystem::is_regular_file(path));
}

TEST(HttpUnixSocketTest, TooLongSocketPathIsInvalidArgument) {
  HttpServer server;

  auto listened = server.listenUnix("/tmp/" + std::string(200, 'x'), 0600);

  ASSERT_FALSE(listened.has_value());
  EXPECT_EQ(listened.error().kind, ErrorKind::InvalidArgument);
}

TEST(HttpClientTest, MissingSocketIsUnavailableNamingTheEndpoint) {
  TempDir dir;
  std::string endpoint = "unix://" + (dir.path() / "absent.sock").string();
  auto client = must(HttpClient::create(endpoint));

  auto response = client->request("GET", "/v1/version", "", kWaitBound);

  ASSERT_FALSE(response.has_value());
  EXPECT_EQ(response.error().kind, ErrorKind::Unavailable);
  EXPECT_THAT(response.error().message, HasSubstr(endpoint));
}

class HttpClientBadEndpointTest : public ::testing::TestWithParam<std::string> {};

TEST_P(HttpClientBadEndpointTest, IsInvalidArgumentNamingTheAcceptedForms) {
  auto client = HttpClient::create(GetParam());

  ASSERT_FALSE(client.has_value());
  EXPECT_EQ(client.error().kind, ErrorKind::InvalidArgument);
  EXPECT_THAT(client.error().message, HasSubstr("unix://"));
}

INSTANTIATE_TEST_SUITE_P(Endpoints, HttpClientBadEndpointTest,
                         ::testing::Values("", "unix://", "tcp://", "/var/run/overmesh.sock",
                                           "ftp://host:21"));

// --- TCP ------------------------------------------------------------------------------------

TEST(HttpTcpTest, ListenerOnPortZeroServesOnTheReturnedPort) {
  HttpServer server;
  addTestRoutes(server);
  std::uint16_t port = must(server.listenTcp("127.0.0.1", 0));
  ASSERT_NE(port, 0);

  auto client = must(HttpClient::create("tcp://127.0.0.1:" + std::to_string(port)));
  HttpResponse response = must(client->request("POST", "/v1/echo", "over tcp"));

  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, "over tcp");
}

TEST(HttpTcpTest, TcpPeerIsTheClientAddress) {
  HttpServer server;
  addTestRoutes(server);
  std::uint16_t port = must(server.listenTcp("127.0.0.1", 0));

  auto client = must(HttpClient::create("tcp://127.0.0.1:" + std::to_string(port)));

  EXPECT_EQ(must(client->request("GET", "/v1/peer")).body, "127.0.0.1");
}

TEST(HttpTcpTest, ListenAddressThatIsNotIpv4IsInvalidArgument) {
  HttpServer server;

  auto port = server.listenTcp("localhost", 0);

  ASSERT_FALSE(port.has_value());
  EXPECT_EQ(port.error().kind, ErrorKind::InvalidArgument);
}

// --- concurrency ----------------------------------------------------------------------------

TEST_F(HttpUnixTest, ConcurrentClientsFromEightThreadsAllGetTheirOwnAnswers) {
  constexpr int kThreads = 8;
  constexpr int kRequests = 20;
  std::atomic<int> wrong{0};
  std::vector<std::string> failures(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    // Each thread uses its own client (HttpClient is not thread-safe) for kRequests echoes.
    threads.emplace_back([&, t] {
      auto client = HttpClient::create(endpoint_);
      if (!client) {
        failures[t] = client.error().message;
        return;
      }
      for (int i = 0; i < kRequests; ++i) {
        std::string body = "thread " + std::to_string(t) + " request " + std::to_string(i);
        auto response = (*client)->request("POST", "/v1/echo", body, kWaitBound);
        if (!response) {
          failures[t] = response.error().message;
          return;
        }
        if (response->body != body) {
          ++wrong;
        }
      }
    });
  }
  for (auto& thread : threads) {
    thread.join();
  }

  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(failures[t], "") << "thread " << t;
  }
  EXPECT_EQ(wrong.load(), 0);
}

// A blocked handler holds only its own connection's thread: a second request is served while
// the first still waits (it waits for exactly that second request, so a server that handled
// one request at a time would answer the first only when its wait timed out).
TEST(HttpThreadingTest, BlockedHandlerDoesNotBlockAnotherRequest) {
  TempDir dir;
  std::string path = (dir.path() / "api.sock").string();
  Gate entered;
  Gate released;
  HttpServer server;
  server.route("GET", "/v1/block", [&](const HttpRequest&) {
    entered.open();
    bool wasReleased = released.waitFor(kWaitBound);
    return HttpResponse{200, wasReleased ? "released" : "timed out", "text/plain"};
  });
  server.route("POST", "/v1/release", [&](const HttpRequest&) {
    released.open();
    return HttpResponse{200, "ok", "text/plain"};
  });
  must(server.listenUnix(path, 0600));

  Result<HttpResponse> blocked = makeError(ErrorKind::Internal, "not run");
  // Sends the blocking request and waits for its answer.
  std::thread blocker([&] {
    auto client = HttpClient::create("unix://" + path);
    if (client) {
      blocked = (*client)->request("GET", "/v1/block", "", 2 * kWaitBound);
    }
  });
  bool handlerRan = entered.waitFor(kWaitBound);
  Result<HttpResponse> release = makeError(ErrorKind::Internal, "not run");
  if (auto client = HttpClient::create("unix://" + path)) {
    release = (*client)->request("POST", "/v1/release", "", kWaitBound);
  }
  released.open();  // lets the blocker finish even when the release request failed
  blocker.join();

  EXPECT_TRUE(handlerRan) << "the blocking handler never ran";
  ASSERT_TRUE(release.has_value()) << release.error().message;
  EXPECT_EQ(release->body, "ok");
  ASSERT_TRUE(blocked.has_value()) << blocked.error().message;
  EXPECT_EQ(blocked->body, "released");
}

// dispatch() is what the libmicrohttpd callback calls; driving it directly shows the error
// bodies stay valid JSON whatever characters the path holds.
struct UnroutablePathCase {
  std::string label;
  std::string method;
  std::string path;
  int status;
};

// Names the case in gtest output instead of dumping its bytes.
void PrintTo(const UnroutablePathCase& c, std::ostream* os) { *os << c.label; }

class HttpDispatchErrorBodyTest : public ::testing::TestWithParam<UnroutablePathCase> {};

TEST_P(HttpDispatchErrorBodyTest, IsValidErrorJsonNamingThePath) {
  HttpServer server;
  addTestRoutes(server);
  HttpRequest request;
  request.method = GetParam().method;
  request.path = GetParam().path;

  HttpResponse response = server.dispatch(request);

  EXPECT_EQ(response.status, GetParam().status);
  Error error = errorFromResponse(response);
  EXPECT_NE(error.kind, ErrorKind::Internal) << response.body;
  EXPECT_THAT(error.message, HasSubstr(GetParam().path));
}

INSTANTIATE_TEST_SUITE_P(
    Paths, HttpDispatchErrorBodyTest,
    ::testing::Values(UnroutablePathCase{"Plain404", "GET", "/v1/nothing", 404},
                      UnroutablePathCase{"Quote404", "GET", "/v1/\"quoted\"", 404},
                      UnroutablePathCase{"Backslash404", "GET", "/v1/back\\slash", 404},
                      UnroutablePathCase{"Quote405", "DELETE", "/v1/items/\"x\"", 405}),
    [](const ::testing::TestParamInfo<UnroutablePathCase>& paramInfo) {
      return paramInfo.param.label;
    });

// --- errors across the API ------------------------------------------------------------------

struct KindCase {
  ErrorKind kind;
  int status;
};

// Names the case in gtest output instead of dumping its bytes.
void PrintTo(const KindCase& c, std::ostream* os) { *os << errorKindName(c.kind); }

class ErrorKindOverHttpTest : public ::testing::TestWithParam<KindCase> {};

TEST_P(ErrorKindOverHttpTest, MapsToItsStatus) {
  EXPECT_EQ(httpStatusFor(GetParam().kind), GetParam().status);
}

TEST_P(ErrorKindOverHttpTest, RoundTripsKindAndMessage) {
  Error original{GetParam().kind, "network \"frontend\" said: ünïcode & <tags>"};

  HttpResponse response = errorResponse(original);
  Error decoded = errorFromResponse(response);

  EXPECT_EQ(response.status, GetParam().status);
  EXPECT_EQ(decoded.kind, original.kind);
  EXPECT_EQ(decoded.message, original.message);
}

INSTANTIATE_TEST_SUITE_P(
    Kinds, ErrorKindOverHttpTest,
    ::testing::Values(KindCase{ErrorKind::InvalidArgument, 400},
                      KindCase{ErrorKind::Unauthenticated, 401}, KindCase{ErrorKind::NotFound, 404},
                      KindCase{ErrorKind::Conflict, 409}, KindCase{ErrorKind::Compacted, 410},
                      KindCase{ErrorKind::FailedPrecondition, 412},
                      KindCase{ErrorKind::Internal, 500}, KindCase{ErrorKind::Unavailable, 503}),
    [](const ::testing::TestParamInfo<KindCase>& paramInfo) {
      return std::string(errorKindName(paramInfo.param.kind));
    });

TEST(ErrorFromResponseTest, NonJsonServerErrorIsUnavailableWithStatusAndBody) {
  Error error = errorFromResponse(HttpResponse{502, "<html>Bad Gateway</html>", "text/html"});

  EXPECT_EQ(error.kind, ErrorKind::Unavailable);
  EXPECT_THAT(error.message, HasSubstr("502"));
  EXPECT_THAT(error.message, HasSubstr("<html>Bad Gateway</html>"));
}

TEST(ErrorFromResponseTest, NonJsonClientErrorIsInternal) {
  Error error = errorFromResponse(HttpResponse{400, "bad request", "text/plain"});

  EXPECT_EQ(error.kind, ErrorKind::Internal);
  EXPECT_THAT(error.message, HasSubstr("400"));
}

TEST(ErrorFromResponseTest, JsonWithoutAnErrorObjectIsTreatedAsForeign) {
  Error error = errorFromResponse(HttpResponse{503, R"({"error":"busy"})", "application/json"});

  EXPECT_EQ(error.kind, ErrorKind::Unavailable);
  EXPECT_THAT(error.message, HasSubstr("503"));
}

TEST(ErrorFromResponseTest, LongForeignBodyIsCut) {
  Error error = errorFromResponse(HttpResponse{500, std::string(10'000, 'x'), "text/plain"});

  EXPECT_LT(error.message.size(), 1000u);
}

TEST(ErrorFromResponseTest, UnknownKindNameBecomesInternal) {
  Error error = errorFromResponse(
      HttpResponse{418, R"({"error":{"kind":"Teapot","message":"short and stout"}})"});

  EXPECT_EQ(error.kind, ErrorKind::Internal);
  EXPECT_EQ(error.message, "short and stout");
}

}  // namespace
}  // namespace overmesh::api
