// "No request can kill a daemon", limits, and timeouts that tell the truth: the HTTP
// server's barrier and body cap, the connection limit, the client's response cap and
// failure messages, the quoting helper and the JSON decoders fed hostile input.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "api/api_error.h"
#include "api/http_client.h"
#include "api/http_server.h"
#include "api/task_io.h"
#include "api/types.h"
#include "common/base64.h"
#include "common/json.h"
#include "common/quote.h"
#include "support/scratch.h"

namespace overmesh::api {
namespace {

using namespace std::chrono_literals;
using overmesh::testing::must;
using ::testing::HasSubstr;
using ::testing::Not;

std::string allBytes() {
  std::string bytes;
  for (int i = 0; i < 256; ++i) {
    bytes.push_back(static_cast<char>(i));
  }
  return bytes;
}

// A raw connection to a unix socket, for what libcurl will not send.
class RawConnection {
 public:
  explicit RawConnection(const std::string& path) {
    fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, path.c_str(), sizeof(address.sun_path) - 1);
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
    timeval timeout{10, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  }
  ~RawConnection() { close(fd_); }
  bool connected() const { return connected_; }
  // Sends what it can (the server may close early); false once a send fails.
  bool send(std::string_view data) {
    while (!data.empty()) {
      ssize_t sent = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (sent <= 0) {
        return false;
      }
      data.remove_prefix(static_cast<std::size_t>(sent));
    }
    return true;
  }
  // Everything until the server closes or 10 s of silence.
  std::string readAll() {
    std::string all;
    char buffer[4096];
    while (true) {
      ssize_t n = recv(fd_, buffer, sizeof(buffer), 0);
      if (n <= 0) {
        return all;
      }
      all.append(buffer, static_cast<std::size_t>(n));
      if (all.find("\r\n\r\n") != std::string::npos && all.find("}") != std::string::npos) {
        return all;
      }
    }
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
};

class HardeningServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_.route("GET", "/v1/boom/{id}", [](const HttpRequest&) -> HttpResponse {
      throw std::runtime_error("handler bug");
    });
    server_.route("POST", "/v1/throws-int", [](const HttpRequest&) -> HttpResponse { throw 42; });
    // What used to kill overmeshd: dumping a string that is not UTF-8.
    server_.route("GET", "/v1/dump", [](const HttpRequest&) {
      return HttpResponse{200, nlohmann::json{{"logs", std::string("\xce\x3b\xff")}}.dump()};
    });
    server_.route("POST", "/v1/echo", [this](const HttpRequest& request) {
      ++handled_;
      return HttpResponse{200, request.body, "text/plain"};
    });
    server_.route("GET", "/v1/big", [](const HttpRequest&) {
      return HttpResponse{200, std::string(3 * 1024 * 1024, 'b'), "text/plain"};
    });
    server_.route("GET", "/v1/slow", [](const HttpRequest&) {
      std::this_thread::sleep_for(1500ms);
      return HttpResponse{200, "late", "text/plain"};
    });
    server_.route("GET", "/v1/ok", [](const HttpRequest&) {
      return HttpResponse{200, "ok", "text/plain"};
    });
  }

  void listen(HttpServerLimits limits = {}) {
    server_.setLimits(limits);
    must(server_.listenUnix(socketPath_, 0600));
    client_ = must(HttpClient::create("unix://" + socketPath_));
  }

  HttpResponse call(const std::string& method, const std::string& path,
                    const std::string& body = "") {
    return must(client_->request(method, path, body, 30s));
  }

  overmesh::testing::ScratchDir dir_;
  std::string socketPath_ = (dir_.path() / "api.sock").string();
  HttpServer server_;
  std::unique_ptr<HttpClient> client_;
  std::atomic<int> handled_{0};
};

// --- the barrier ----------------------------------------------------------------------------

TEST_F(HardeningServerTest, ThrowingHandlerIs500NamingTheRouteAndTheServerKeepsServing) {
  listen();
  HttpResponse response = call("GET", "/v1/boom/x1");

  EXPECT_EQ(response.status, 500);
  Error error = errorFromResponse(response);
  EXPECT_EQ(error.kind, ErrorKind::Internal);
  EXPECT_THAT(error.message, HasSubstr("GET /v1/boom/{id}"));
  EXPECT_THAT(error.message, HasSubstr("handler bug"));
  EXPECT_EQ(call("GET", "/v1/ok").body, "ok");
}

TEST_F(HardeningServerTest, HandlerThrowingANonExceptionIs500) {
  listen();
  HttpResponse response = call("POST", "/v1/throws-int", "{}");

  EXPECT_EQ(response.status, 500);
  EXPECT_THAT(errorFromResponse(response).message, HasSubstr("POST /v1/throws-int"));
  EXPECT_EQ(call("GET", "/v1/ok").body, "ok");
}

TEST_F(HardeningServerTest, NonUtf8DumpInAHandlerIs500NotACrash) {
  listen();
  EXPECT_EQ(call("GET", "/v1/dump").status, 500);
  EXPECT_EQ(call("GET", "/v1/ok").body, "ok");
}

TEST_F(HardeningServerTest, NonUtf8PathInA404IsEscapedIntoValidJson) {
  listen();
  HttpResponse response = call("GET", "/v1/%CE%3B%FF");

  EXPECT_EQ(response.status, 404);
  auto json = nlohmann::json::parse(response.body, nullptr, false);
  EXPECT_FALSE(json.is_discarded()) << response.body;
}

// --- body cap -------------------------------------------------------------------------------

TEST_F(HardeningServerTest, TwoMebibyteBodyIs413AndNeverReachesTheHandler) {
  listen();
  HttpResponse response = call("POST", "/v1/echo", std::string(2 * 1024 * 1024, 'x'));

  EXPECT_EQ(response.status, 413);
  EXPECT_THAT(errorFromResponse(response).message, HasSubstr("exceeds the limit of 1048576"));
  EXPECT_EQ(handled_.load(), 0);
  client_ = must(HttpClient::create("unix://" + socketPath_));
  EXPECT_EQ(call("POST", "/v1/echo", "small").body, "small");
}

TEST_F(HardeningServerTest, BodyJustUnderTheCapIsServed) {
  listen();
  std::string body(kMaxRequestBody, 'y');
  EXPECT_EQ(call("POST", "/v1/echo", body).body.size(), body.size());
}

TEST_F(HardeningServerTest, ChunkedBodyOverTheCapIsRefusedWithoutReadingItAll) {
  listen(HttpServerLimits{64 * 1024, kMaxConnections});
  RawConnection connection(socketPath_);
  ASSERT_TRUE(connection.connected());
  std::string head = "POST /v1/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
  connection.send(head);
  std::string chunk = fmt::format("{:x}\r\n{}\r\n", 16 * 1024, std::string(16 * 1024, 'z'));
  // Up to 1 MiB offered; the server answers (or closes) after 64 KiB.
  for (int i = 0; i < 64 && connection.send(chunk); ++i) {
  }
  connection.send("0\r\n\r\n");
  std::string answer = connection.readAll();
  if (!answer.empty()) {
    EXPECT_THAT(answer, HasSubstr("413"));
  }
  EXPECT_EQ(handled_.load(), 0);
  EXPECT_EQ(call("GET", "/v1/ok").body, "ok");
}

// --- connection limit -----------------------------------------------------------------------

TEST_F(HardeningServerTest, ConnectionsBeyondTheLimitGet503NamingTheLimit) {
  listen(HttpServerLimits{kMaxRequestBody, 2});
  auto idle1 = std::make_unique<RawConnection>(socketPath_);
  auto idle2 = std::make_unique<RawConnection>(socketPath_);
  ASSERT_TRUE(idle1->connected() && idle2->connected());
  // The server counts a connection once its thread started: wait until the third is refused.
  bool refused = false;
  HttpResponse response;
  for (int i = 0; i < 100 && !refused; ++i) {
    client_ = must(HttpClient::create("unix://" + socketPath_));
    response = call("GET", "/v1/ok");
    refused = response.status == 503;
    if (!refused) {
      std::this_thread::sleep_for(50ms);
    }
  }
  ASSERT_TRUE(refused) << response.status << " " << response.body;
  EXPECT_THAT(errorFromResponse(response).message, HasSubstr("at most 2 connections"));
  idle1.reset();
  idle2.reset();
  bool served = false;
  for (int i = 0; i < 200 && !served; ++i) {
    client_ = must(HttpClient::create("unix://" + socketPath_));
    served = call("GET", "/v1/ok").status == 200;
    if (!served) {
      std::this_thread::sleep_for(50ms);
    }
  }
  EXPECT_TRUE(served);
}

// --- client ---------------------------------------------------------------------------------

TEST_F(HardeningServerTest, ClientRefusesAResponseAboveItsCap) {
  listen();
  client_->setResponseLimit(1024 * 1024);
  auto response = client_->request("GET", "/v1/big", "", 30s);

  ASSERT_FALSE(response.has_value());
  EXPECT_EQ(response.error().kind, ErrorKind::Unavailable);
  EXPECT_THAT(response.error().message, HasSubstr("exceeds the limit of 1048576 bytes"));
  EXPECT_EQ(client_->lastFailure(), HttpClient::Failure::TooLarge);
}

TEST_F(HardeningServerTest, TimeoutNamesTheRequestAndHowLongNotIsItRunning) {
  listen();
  auto response = client_->request("GET", "/v1/slow", "", 300ms);

  ASSERT_FALSE(response.has_value());
  EXPECT_THAT(response.error().message, HasSubstr("GET /v1/slow: no answer from overmeshd"));
  EXPECT_THAT(response.error().message, HasSubstr("after 300ms"));
  EXPECT_EQ(client_->lastFailure(), HttpClient::Failure::Timeout);
}

TEST_F(HardeningServerTest, NoTimeoutWaitsForASlowAnswer) {
  listen();
  EXPECT_EQ(must(client_->request("GET", "/v1/slow", "", kNoTimeout)).body, "late");
}

TEST(HardeningClientTest, ConnectFailureIsReportedAsSuch) {
  overmesh::testing::ScratchDir dir;
  auto client = must(HttpClient::create("unix://" + (dir.path() / "absent.sock").string()));
  auto response = client->request("GET", "/v1/info", "", 5s);

  ASSERT_FALSE(response.has_value());
  EXPECT_THAT(response.error().message, HasSubstr("cannot reach overmeshd"));
  EXPECT_EQ(client->lastFailure(), HttpClient::Failure::Connect);
}

TEST(FormatDurationTest, ReadsLikeAHuman) {
  EXPECT_EQ(formatDuration(30s), "30s");
  EXPECT_EQ(formatDuration(1500ms), "1.5s");
  EXPECT_EQ(formatDuration(250ms), "250ms");
}

// --- quoting --------------------------------------------------------------------------------

TEST(QuotedTest, ShortPrintableValueIsQuotedAsIs) { EXPECT_EQ(quote("frontend"), "\"frontend\""); }

TEST(QuotedTest, NonPrintablesAndQuotesAreEscaped) {
  EXPECT_EQ(quote(std::string("a\"b\\c\n\x01\xce", 8)), R"("a\"b\\c\n\x01\xce")");
}

TEST(QuotedTest, LongValueIsCutAtAHundredBytesNamingItsLength) {
  std::string value(300'000'000 / 1000, 'v');
  std::string text = quote(value);
  EXPECT_EQ(text, "\"" + std::string(100, 'v') + "\"…(300000 bytes)");
}

TEST(QuotedTest, ResultIsAlwaysSerialisableJson) {
  std::string text = quote(allBytes());
  EXPECT_NO_THROW((void)nlohmann::json(text).dump());
}

// --- JSON -----------------------------------------------------------------------------------

TEST(DumpJsonTest, InvalidUtf8IsReplacedNotThrown) {
  nlohmann::json json = {{"out", std::string("\xce\x3b\xff")}};
  EXPECT_THROW((void)json.dump(), nlohmann::json::type_error);
  std::string text;
  EXPECT_NO_THROW(text = dumpJson(json));
  EXPECT_FALSE(nlohmann::json::parse(text, nullptr, false).is_discarded());
}

TEST(ErrorResponseTest, MessageWithNonUtf8BytesIsValidJson) {
  HttpResponse response =
      errorResponse(Error{ErrorKind::InvalidArgument, std::string("bad \xce\x3b value")});
  EXPECT_EQ(response.status, 400);
  EXPECT_FALSE(nlohmann::json::parse(response.body, nullptr, false).is_discarded());
}

TEST(ErrorFromResponseTest, WrongTypesInAPeersErrorAreNotThrown) {
  Error error = errorFromResponse(HttpResponse{500, R"({"error":{"kind":7,"message":[1]}})"});
  EXPECT_EQ(error.kind, ErrorKind::Unavailable);
}

struct BadBody {
  std::string name;
  std::string body;
  std::string mentions;
};

class DecodeNetworkCreateTest : public ::testing::TestWithParam<BadBody> {};

TEST_P(DecodeNetworkCreateTest, IsInvalidArgumentNamingTheProblem) {
  auto decoded = decodeJson<NetworkCreateRequest>(GetParam().body, "network create");

  ASSERT_FALSE(decoded.has_value());
  EXPECT_EQ(decoded.error().kind, ErrorKind::InvalidArgument);
  EXPECT_THAT(decoded.error().message, HasSubstr(GetParam().mentions));
  EXPECT_LT(decoded.error().message.size(), 1200u);
  EXPECT_NO_THROW((void)errorResponse(decoded.error()));
}

INSTANTIATE_TEST_SUITE_P(
    Hostile, DecodeNetworkCreateTest,
    ::testing::Values(
        BadBody{"NonUtf8", "{\"name\":\"\xce\x3b\"}", "not valid JSON"},
        BadBody{"TwoBytes", "\xce\x3b", "not valid JSON"},
        BadBody{"NameIsANumber", R"({"name":5})",
                "field \"name\" has the wrong type (got number 5): expected a string"},
        BadBody{"AttachableIsAString", R"({"attachable":"yes"})", "expected true or false"},
        BadBody{"LabelsIsAnArray", R"({"labels":[1,2]})", "field \"labels\""},
        BadBody{"TopLevelString", R"("hello")", "expected a JSON object"},
        BadBody{"HugeValueIsQuotedBounded", "{\"name\":[\"" + std::string(1'000'000, 'n') + "\"]}",
                "bytes)"}),
    [](const auto& param) { return param.param.name; });

TEST(DecodeJsonTest, HugeNumbersAreRefusedNotConverted) {
  for (const char* body :
       {R"({"nodeTimeoutMs":1e300})", R"({"nodeTimeoutMs":18446744073709551615})",
        R"({"nodeTimeoutMs":1.5})", R"({"nodeTimeoutMs":true})",
        R"({"defaultAddrPoolMaskLength":4294967296})"}) {
    auto decoded = decodeJson<SwarmInitRequest>(body, "swarm init");
    ASSERT_FALSE(decoded.has_value()) << body;
    EXPECT_THAT(decoded.error().message, HasSubstr("expected a whole number")) << body;
  }
}

TEST(DecodeJsonTest, DeeplyNestedValueOfAWrongTypeIsDescribedNotDumped) {
  // Half a million levels: dump() would recurse that deep.
  std::string body = "{\"name\":" + std::string(500'000, '[') + std::string(500'000, ']') + "}";
  auto decoded = decodeJson<NetworkCreateRequest>(body, "network create");
  ASSERT_FALSE(decoded.has_value());
  EXPECT_THAT(decoded.error().message, HasSubstr("nested deeper than 16 levels"));
}

TEST(DecodeJsonTest, WholeFloatInRangeIsAccepted) {
  auto decoded = must(decodeJson<SwarmInitRequest>(R"({"nodeTimeoutMs":5000.0})", "swarm init"));
  EXPECT_EQ(decoded.nodeTimeoutMs, 5000);
}

TEST(ExecRequestTest, MissingCommandIsNamed) {
  auto decoded = decodeExecRequest(R"({"timeoutMs":5})");
  ASSERT_FALSE(decoded.has_value());
  EXPECT_THAT(decoded.error().message, HasSubstr("field \"command\" is missing"));
}

TEST(ExecRequestTest, NoTimeoutMeansNoLimit) {
  EXPECT_EQ(must(decodeExecRequest(R"({"command":["true"]})")).timeout.count(), 0);
}

TEST(ExecRequestTest, NegativeOrHugeTimeoutIsRefused) {
  EXPECT_FALSE(decodeExecRequest(R"({"command":["true"],"timeoutMs":-1})").has_value());
  EXPECT_FALSE(decodeExecRequest(R"({"command":["true"],"timeoutMs":1e18})").has_value());
}

TEST(ExecRequestTest, CommandOfWrongTypeIsNamed) {
  auto decoded = decodeExecRequest(R"({"command":"ls"})");
  ASSERT_FALSE(decoded.has_value());
  EXPECT_THAT(decoded.error().message, HasSubstr("expected an array of a string"));
}

TEST(TaskOutputTest, EveryByteRoundTripsThroughExecAndLogs) {
  std::string bytes = allBytes() + allBytes();
  auto output = must(decodeExecOutput(encodeExecOutput({3, bytes, "\xff\xfe", false}), "exec"));
  EXPECT_EQ(output.out, bytes);
  EXPECT_EQ(output.err, "\xff\xfe");
  EXPECT_EQ(output.exitCode, 3);
  EXPECT_EQ(must(decodeLogs(encodeLogs(bytes), "logs")), bytes);
}

TEST(TaskOutputTest, BadBase64IsInvalidArgumentNamingTheField) {
  auto decoded = decodeLogs(R"({"logsBase64":"a*=="})", "logs answer");
  ASSERT_FALSE(decoded.has_value());
  EXPECT_THAT(decoded.error().message, HasSubstr("logsBase64"));
  EXPECT_FALSE(decodeLogs(R"({"logsBase64":5})", "logs answer").has_value());
  EXPECT_FALSE(decodeLogs(R"({})", "logs answer").has_value());
  EXPECT_FALSE(decodeExecOutput(R"({"outBase64":"AA=="})", "exec").has_value());
}

TEST(Base64Test, MatchesRfc4648Vectors) {
  EXPECT_EQ(base64Encode(""), "");
  EXPECT_EQ(base64Encode("f"), "Zg==");
  EXPECT_EQ(base64Encode("fo"), "Zm8=");
  EXPECT_EQ(base64Encode("foo"), "Zm9v");
  EXPECT_EQ(base64Encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(must(base64Decode("Zm9vYg==", "x")), "foob");
  EXPECT_FALSE(base64Decode("Zm9", "x").has_value());
  EXPECT_FALSE(base64Decode("Z===", "x").has_value());
}

// OpenSSL's decoder, which does the work, would accept each of these: the shape checks
// in front of it must not.
TEST(Base64Test, RefusesWhatALenientDecoderWouldAccept) {
  for (const char* text : {"=Zg=", "Zg==\n", " Zg=", "Zg==Zg==", "Zm 9", "Zm9v\n"}) {
    EXPECT_FALSE(base64Decode(text, "x").has_value()) << text;
  }
}

TEST(Base64Test, EveryByteAndLongerThanOneChunkRoundTrips) {
  std::string bytes;
  for (int i = 0; i < 5 * 1024 * 1024 + 1; ++i) {
    bytes.push_back(static_cast<char>(i * 131 % 256));
  }
  for (std::size_t size : {std::size_t{0}, std::size_t{1}, std::size_t{2}, std::size_t{256},
                           bytes.size()}) {
    std::string part = bytes.substr(0, size);
    EXPECT_EQ(must(base64Decode(base64Encode(part), "x")), part) << size << " bytes";
  }
}

}  // namespace
}  // namespace overmesh::api
