// "No request can kill a daemon" in a real 3-host lab (h1 the manager, h2 and h3
// workers):
//  - a fuzz of every route on every listener (each host's unix socket, the manager's
//    cluster port 2377, every node port 2378): random and mutated requests sent from
//    inside a lab host, after which every daemon still runs and answers. The TCP ports
//    speak mutual TLS (issue 12): the fuzz gets past the handshake with the lab's own
//    certificates (a worker's on 2377, the manager's on 2378) and, on 2377, also as a
//    joining node without one, so that its bytes reach the decoders;
//  - task output is bytes: a task printing every byte 0-255 is read by `logs` and
//    `exec` on the manager from another node, byte for byte (a worker refuses both for
//    another node's task);
//  - a 2 MiB body is refused with 413, and a 32 MiB one does not grow the daemon;
//  - `exec` of a 35 s command succeeds, and `info` answers while it runs.
//
// Requests to TCP ports are sent from a thread that joined the lab host's network
// namespace (setns on that thread only): nothing touches the machine's own network.
//
// Run one:  ctest --test-dir BUILD -R HardeningTest.FuzzEveryRoute   (as root)

#include <fcntl.h>
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "support/lab_session.h"
#include "support/tls_exchange.h"

namespace overmesh::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr int kHosts = 3;

// A field of /proc/PID/status in kB ("VmRSS", "VmHWM"); -1 when unreadable.
long procStatusKb(int pid, const std::string& field) {
  std::istringstream status(readFile(fmt::format("/proc/{}/status", pid)));
  for (std::string line; std::getline(status, line);) {
    if (line.starts_with(field + ":")) {
      return std::stol(line.substr(field.size() + 1));
    }
  }
  return -1;
}

// Runs `work` on a thread that has joined network namespace `name` (sockets it opens
// live there); the test's own threads stay where they are.
void inNamespace(const std::string& name, const std::function<void()>& work) {
  std::string failure;
  std::thread thread([&] {
    int fd = open(("/run/netns/" + name).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0 || setns(fd, CLONE_NEWNET) != 0) {
      failure = "cannot join network namespace " + name + ": " + std::strerror(errno);
      if (fd >= 0) {
        close(fd);
      }
      return;
    }
    close(fd);
    work();
  });
  thread.join();
  ASSERT_TRUE(failure.empty()) << failure;
}

// The join ALPN (api/tls.h kJoinAlpn): a handshake without a certificate, for joins only.
constexpr const char* kJoinAlpn = "overmesh-join/1";

// Where a raw request goes: a unix socket path, or an IPv4 address and port (then over
// TLS as `tls`), and the routes that listener serves.
struct Target {
  std::string unixPath;
  std::string address;
  int port = 0;
  std::vector<std::string> routes;
  TlsIdentity tls;
  std::string label() const {
    return unixPath.empty() ? fmt::format("{}:{}", address, port) : unixPath;
  }
};

// Sent when the TLS handshake of a TCP target failed (sendRaw).
constexpr int kHandshakeFailed = -2;

// Sends `request` as raw bytes and reads the answer (until close, or 10 s of silence).
// Returns the HTTP status, 0 when the server closed without an answer, -1 when the
// connection could not be made, kHandshakeFailed when TLS failed.
int sendRaw(const Target& target, const std::string& request, std::string* answer = nullptr) {
  if (target.unixPath.empty()) {
    auto exchanged = exchangeOverTls(target.address, target.port, target.tls, request);
    if (answer != nullptr) {
      *answer = exchanged.answer + exchanged.error;
    }
    if (!exchanged.connected) {
      return -1;
    }
    return exchanged.handshake ? exchanged.status : kHandshakeFailed;
  }
  int fd = -1;
  fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, target.unixPath.c_str(), sizeof(address.sun_path) - 1);
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    close(fd);
    return -1;
  }
  timeval timeout{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
  std::string_view rest = request;
  while (!rest.empty()) {
    ssize_t sent = ::send(fd, rest.data(), rest.size(), MSG_NOSIGNAL);
    if (sent <= 0) {
      break;  // the server may answer (413) and close before taking everything
    }
    rest.remove_prefix(static_cast<std::size_t>(sent));
  }
  shutdown(fd, SHUT_WR);
  std::string reply;
  char buffer[8192];
  while (true) {
    ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
    if (n <= 0) {
      break;
    }
    reply.append(buffer, static_cast<std::size_t>(n));
  }
  close(fd);
  if (answer != nullptr) {
    *answer = reply;
  }
  if (reply.starts_with("HTTP/1.") && reply.size() >= 12) {
    return std::atoi(reply.substr(9, 3).c_str());
  }
  return 0;
}

std::string httpRequest(const std::string& method, const std::string& path,
                        const std::vector<std::pair<std::string, std::string>>& headers,
                        const std::string& body) {
  std::string text =
      fmt::format("{} {} HTTP/1.1\r\nHost: overmesh\r\nConnection: close\r\n", method, path);
  for (const auto& [name, value] : headers) {
    text += name + ": " + value + "\r\n";
  }
  text += fmt::format("Content-Length: {}\r\n\r\n", body.size());
  return text + body;
}

// Random requests: every route of every listener, with bodies that are valid JSON of the
// wrong shape, invalid JSON, non-UTF-8 bytes, huge numbers and missing fields, wrong
// methods, and byte-level mutations of all of it (request line and headers included).
// The routes of each listener. Routes that change membership (leave, init, join on the
// unix socket) are left out: the daemons must stay in the swarm for the checks after.
// Each is "METHOD PATH".
const std::vector<std::string> kLocalRoutes = {
    "GET /v1/version",           "GET /v1/info",           "GET /v1/swarm/join-token",
    "POST /v1/networks",         "GET /v1/networks",       "GET /v1/networks/{ref}",
    "DELETE /v1/networks/{ref}", "POST /v1/tasks",         "GET /v1/tasks",
    "GET /v1/tasks/{ref}",       "DELETE /v1/tasks/{ref}", "POST /v1/tasks/{ref}/exec",
    "GET /v1/tasks/{ref}/logs",  "GET /v1/nodes",          "GET /v1/nodes/{ref}"};
// With a worker's certificate. The local API's writes were never cluster routes; they
// stay in the list to prove so (404).
const std::vector<std::string> kClusterRoutes = {
    "POST /cluster/v1/join", "POST /cluster/v1/heartbeat", "GET /cluster/v1/snapshot",
    "GET /cluster/v1/watch", "POST /cluster/v1/renew",     "POST /cluster/v1/tasks/{id}/status",
    "POST /v1/networks",     "DELETE /v1/networks/{ref}",  "POST /v1/tasks",
    "DELETE /v1/tasks/{ref}"};
// A joining node's connection (no certificate, the join ALPN).
const std::vector<std::string> kJoinRoutes = {"POST /cluster/v1/join", "GET /cluster/v1/ca",
                                              "GET /cluster/v1/snapshot"};
const std::vector<std::string> kNodeRoutes = {"POST /v1/tasks/{id}/exec",
                                              "GET /v1/tasks/{id}/logs"};

class RequestFuzzer {
 public:
  explicit RequestFuzzer(std::uint64_t seed) : random_(seed) {}

  // A request for one of `routes` (the listener's own), or now and then any route.
  std::string next(const std::vector<std::string>& routes) {
    std::string route = pick(routes);
    std::string method = route.substr(0, route.find(' '));
    std::string path = route.substr(route.find(' ') + 1);
    if (chance(15)) {
      path = pick(kRoutes);
    }
    if (chance(20)) {
      method = pick(kMethods);
    }
    for (std::size_t brace = path.find('{'); brace != std::string::npos; brace = path.find('{')) {
      path.replace(brace, path.find('}', brace) - brace + 1, segment());
    }
    if (chance(20)) {
      path += "?" + pick(kQueryNames) + "=" + segment();
    }
    std::vector<std::pair<std::string, std::string>> headers = {
        {"Content-Type", "application/json"}};
    std::string request = httpRequest(method, path, headers, body());
    if (chance(25)) {
      mutate(request);
    }
    return request;
  }

 private:
  inline static const std::vector<std::string> kRoutes = {"/v1/version",
                                                          "/v1/info",
                                                          "/v1/swarm/join-token",
                                                          "/v1/networks",
                                                          "/v1/networks/{ref}",
                                                          "/v1/tasks",
                                                          "/v1/tasks/{ref}",
                                                          "/v1/tasks/{ref}/exec",
                                                          "/v1/tasks/{ref}/logs",
                                                          "/v1/nodes",
                                                          "/v1/nodes/{ref}",
                                                          "/cluster/v1/join",
                                                          "/cluster/v1/heartbeat",
                                                          "/cluster/v1/snapshot",
                                                          "/cluster/v1/watch",
                                                          "/cluster/v1/renew",
                                                          "/cluster/v1/ca",
                                                          "/cluster/v1/tasks/{id}/status",
                                                          "/",
                                                          "/v1",
                                                          "/cluster/v1/tasks/{id}/status/x",
                                                          "/v1/%FF%CE/x",
                                                          "//v1//tasks"};
  inline static const std::vector<std::string> kMethods = {
      "GET", "POST", "POST", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"};
  inline static const std::vector<std::string> kQueryNames = {"from", "waitMs", "force", "x"};
  inline static const std::vector<std::string> kFields = {"name",
                                                          "driver",
                                                          "subnet",
                                                          "gateway",
                                                          "attachable",
                                                          "internal",
                                                          "labels",
                                                          "options",
                                                          "networks",
                                                          "node",
                                                          "command",
                                                          "timeoutMs",
                                                          "token",
                                                          "hostname",
                                                          "address",
                                                          "state",
                                                          "message",
                                                          "exitCode",
                                                          "remoteAddress",
                                                          "advertiseAddr",
                                                          "defaultAddrPools",
                                                          "defaultAddrPoolMaskLength",
                                                          "nodeTimeoutMs",
                                                          "csr",
                                                          "advertiseAddrGiven",
                                                          "addressProof",
                                                          "proofPort",
                                                          "underlayPrefix"};

  bool chance(int percent) { return std::uniform_int_distribution<int>(0, 99)(random_) < percent; }
  std::size_t below(std::size_t n) {
    return std::uniform_int_distribution<std::size_t>(0, n - 1)(random_);
  }
  const std::string& pick(const std::vector<std::string>& from) { return from[below(from.size())]; }

  // A path segment that names nothing real ("fz" keeps it from matching a real object).
  std::string segment() {
    switch (below(4)) {
      case 0:
        return "fz" + std::to_string(random_() % 100000);
      case 1:
        return "%FF%00%CE";
      case 2:
        return std::string(300, 'a');
      default:
        return "fz-%2F..%2F";
    }
  }

  // A JSON value of any type, sometimes not valid JSON at all.
  std::string value(int depth) {
    switch (below(depth > 2 ? 9 : 11)) {
      case 0:
        return "\"fz-" + std::to_string(random_() % 1000) + "\"";
      case 1:
        return "\"\xce\x3b\xff\"";  // not UTF-8
      case 2:
        return pick({"1e300", "-1e300", "18446744073709551616", "-9223372036854775809",
                     "9223372036854775807", "1.5", "-0", "0"});
      case 3:
        return pick({"true", "false", "null"});
      case 4:
        return "\"fz-" + std::string(below(5000), 'x') + "\"";
      case 5:
        return "\"\\ud800\"";  // a lone surrogate
      case 6:
        return pick({"[", "{\"a\":", "\"unterminated", "[1,,2]", "{\"a\" 1}"});
      case 7:
        return std::to_string(static_cast<std::int64_t>(random_()));
      case 8:
        return "\"" + std::string(1, static_cast<char>(below(32))) + "\"";
      case 9: {
        std::string array = "[";
        for (std::size_t i = 0, n = below(4); i < n; ++i) {
          array += (i > 0 ? "," : "") + value(depth + 1);
        }
        return array + "]";
      }
      default:
        return object(depth + 1);
    }
  }

  std::string object(int depth) {
    std::string text = "{";
    for (std::size_t i = 0, n = below(6); i < n; ++i) {
      text += (i > 0 ? "," : "") + ("\"" + pick(kFields) + "\":" + value(depth));
    }
    return text + "}";
  }

  std::string body() {
    switch (below(8)) {
      case 0:
        return "";
      case 1:
        return "\xce\x3b";  // the two bytes that used to kill the manager
      case 2: {
        std::string bytes;
        for (std::size_t i = 0, n = below(2000); i < n; ++i) {
          bytes.push_back(static_cast<char>(random_() & 0xff));
        }
        return bytes;
      }
      case 3:
        return std::string(below(20000) + 1, '[');  // deep nesting, unterminated
      case 4:
        return value(0);
      default:
        return object(0);
    }
  }

  void mutate(std::string& request) {
    for (std::size_t i = 0, n = below(8) + 1; i < n && !request.empty(); ++i) {
      std::size_t at = below(request.size());
      switch (below(4)) {
        case 0:
          request[at] = static_cast<char>(random_() & 0xff);
          break;
        case 1:
          request.erase(at, below(16) + 1);
          break;
        case 2:
          request.insert(at, std::string(below(16) + 1, static_cast<char>(random_() & 0xff)));
          break;
        default:
          request.resize(at);
          break;
      }
    }
  }

  std::mt19937_64 random_;
};

class HardeningTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!canUseNamespaces()) {
      GTEST_SKIP() << "needs root to create network namespaces";
    }
    lab_ = std::make_unique<LabSession>("hrd");
    ASSERT_TRUE(lab_->up(kHosts)) << lab_->error();
    auto status = lab_->lab({"status", "--format", "json"});
    ASSERT_EQ(status.exitCode, 0) << status.err;
    status_ = nlohmann::json::parse(status.out, nullptr, false);
    ASSERT_TRUE(status_.is_object() && status_["hosts"].size() == kHosts) << status.out;
  }

  void TearDown() override {
    if (lab_ && HasFailure()) {
      std::cerr << lab_->logs();
    }
    lab_.reset();
  }

  const nlohmann::json& host(int index) const { return status_["hosts"][index - 1]; }
  int pid(int index) const { return host(index).value("pid", 0); }
  std::string address(int index) const { return host(index).value("address", ""); }
  std::string socketPath(int index) const { return host(index).value("socket", ""); }
  std::string stateDir(int index) const { return host(index).value("stateDir", ""); }

  // Host `index`'s own certificate and key (<state-dir>/pki), as a TLS client identity.
  TlsIdentity identityOf(int index) const {
    return TlsIdentity{readFile(stateDir(index) + "/pki/node.pem"),
                       readFile(stateDir(index) + "/pki/node.key"), ""};
  }
  static TlsIdentity joiningNode() { return TlsIdentity{"", "", kJoinAlpn}; }

  // Every daemon runs and answers `info` and the manager sees every node ready.
  void expectEveryDaemonAliveAndAnswering() {
    for (int index = 1; index <= kHosts; ++index) {
      EXPECT_TRUE(processRuns(pid(index))) << "the daemon of h" << index << " died";
      auto info = lab_->cli(index, {"info"});
      EXPECT_EQ(info.exitCode, 0) << "h" << index << ": " << info.err;
    }
    EXPECT_TRUE(eventually(
        [&] {
          auto nodes = lab_->json(1, {"node", "ls"});
          if (!nodes.is_array() || nodes.size() != kHosts) {
            return false;
          }
          for (const auto& node : nodes) {
            if (node.value("state", "") != "ready") {
              return false;
            }
          }
          return true;
        },
        seconds(20)))
        << lab_->cli(1, {"node", "ls"}).out;
  }

  // Runs a task pinned to host `index` and waits until it runs.
  void runTask(const std::string& name, int index, const std::vector<std::string>& command) {
    if (!networkMade_) {
      auto made = lab_->cli(1, {"network", "create", "-d", "overlay", "--attachable", "hnet"});
      ASSERT_EQ(made.exitCode, 0) << made.err;
      networkMade_ = true;
    }
    std::vector<std::string> args = {
        "run", "--name", name, "--node", lab_->hostNamespace(index), "--network", "hnet", "--"};
    args.insert(args.end(), command.begin(), command.end());
    auto result = lab_->cli(1, args);
    ASSERT_EQ(result.exitCode, 0) << result.err;
  }

  std::unique_ptr<LabSession> lab_;
  nlohmann::json status_;
  bool networkMade_ = false;
  TempDir files_;
};

TEST_F(HardeningTest, FuzzEveryRouteOnEveryListenerLeavesEveryDaemonAlive) {
  // The lab's own certificates, so that requests get past the handshake into the
  // decoders: a manager's on the node ports (the only role they admit), a worker's on
  // the cluster port, and none (a joining node) on the cluster port's join routes.
  TlsIdentity manager = identityOf(1);
  TlsIdentity worker = identityOf(2);
  ASSERT_FALSE(manager.certPem.empty() || worker.certPem.empty())
      << "no certificates in " << stateDir(1) << "/pki or " << stateDir(2) << "/pki";

  std::vector<Target> targets;
  for (int index = 1; index <= kHosts; ++index) {
    targets.push_back(Target{socketPath(index), "", 0, kLocalRoutes, {}});
    targets.push_back(Target{"", address(index), 2378, kNodeRoutes, manager});
  }
  targets.push_back(Target{"", address(1), 2377, kClusterRoutes, worker});
  targets.push_back(Target{"", address(1), 2377, kJoinRoutes, joiningNode()});

  std::uint64_t seed = std::random_device{}();
  SCOPED_TRACE(fmt::format("fuzz seed {}", seed));
  RequestFuzzer fuzzer(seed);
  constexpr int kRequests = 10000;
  const auto deadline = Clock::now() + seconds(60);
  int sent = 0;
  int refusedConnections = 0;
  int failedHandshakes = 0;
  std::map<int, int> statuses;
  // Sent from inside h3: the underlay as another host sees it.
  inNamespace(lab_->hostNamespace(3), [&] {
    for (; sent < kRequests && Clock::now() < deadline; ++sent) {
      const Target& target = targets[static_cast<std::size_t>(sent) % targets.size()];
      int status = sendRaw(target, fuzzer.next(target.routes));
      if (status == -1) {
        ++refusedConnections;
      } else if (status == kHandshakeFailed) {
        ++failedHandshakes;
      }
      ++statuses[status];
    }
  });
  std::string summary;
  for (const auto& [status, count] : statuses) {
    summary += fmt::format(" {}x{}", status, count);
  }
  std::cerr << fmt::format("fuzz: {} requests to {} listeners (statuses:{})\n", sent,
                           targets.size(), summary);
  // Each raw request half-closes its connection after sending. libmicrohttpd's epoll mode
  // (issue 13's event-driven server) does not see a FIN that arrives with the request's
  // last bytes; the server's sweep notices it within ~20-50 ms, so this loop sends about
  // half as many requests in its minute as the thread-per-connection server allowed.
  // A thousand fuzzed requests over 8 listeners still means something.
  EXPECT_GE(sent, 1000) << "the fuzz loop was too slow to mean much";
  EXPECT_EQ(refusedConnections, 0) << "a listener stopped accepting connections";
  EXPECT_EQ(failedHandshakes, 0) << "a TLS listener refused a valid certificate";
  EXPECT_EQ(statuses.count(500), 0u) << "a handler threw (the barrier caught it):" << summary;
  expectEveryDaemonAliveAndAnswering();
}

TEST_F(HardeningTest, TheTwoBytesThatKilledTheManagerGetA400) {
  std::string answer;
  int status = 0;
  inNamespace(lab_->hostNamespace(2), [&] {
    status = sendRaw(Target{"", address(1), 2377, {}, joiningNode()},
                     httpRequest("POST", "/cluster/v1/join", {}, "\xce\x3b"), &answer);
  });
  EXPECT_EQ(status, 400) << answer;
  EXPECT_THAT(answer, HasSubstr("\\xce;"));
  expectEveryDaemonAliveAndAnswering();
}

TEST_F(HardeningTest, BinaryTaskOutputIsReadByteForByteFromAnotherNode) {
  std::string bytes;
  for (int round = 0; round < 2; ++round) {
    for (int i = 0; i < 256; ++i) {
      bytes.push_back(static_cast<char>(i));
    }
  }
  std::string file = files_.path() + "/all-bytes";
  std::ofstream(file, std::ios::binary) << bytes;
  ASSERT_NO_FATAL_FAILURE(runTask("bin", 2, {"sh", "-c", "head -c 512 " + file + "; sleep 600"}));

  // logs: from the manager (it calls h2's node port with its certificate) and on h2
  // itself.
  for (int from : {1, 2}) {
    SCOPED_TRACE(fmt::format("logs on h{}", from));
    CommandResult logs;
    EXPECT_TRUE(eventually(
        [&] {
          logs = lab_->cli(from, {"logs", "bin"});
          return logs.exitCode == 0 && logs.out.size() >= bytes.size();
        },
        seconds(20)))
        << logs.err;
    EXPECT_EQ(logs.out, bytes);
  }
  auto exec = lab_->cli(1, {"exec", "bin", "--", "sh", "-c",
                            "head -c 512 " + file + "; head -c 256 " + file + " >&2"});
  EXPECT_EQ(exec.exitCode, 0) << exec.err;
  EXPECT_EQ(exec.out, bytes);
  EXPECT_EQ(exec.err, bytes.substr(0, 256));
  // Another worker refuses both for a task on h2, and says where to run them.
  for (const std::vector<std::string>& command :
       {std::vector<std::string>{"logs", "bin"},
        std::vector<std::string>{"exec", "bin", "--", "true"}}) {
    SCOPED_TRACE(fmt::format("{} on h3", command.front()));
    auto refused = lab_->cli(3, command);
    EXPECT_EQ(refused.exitCode, 1) << refused.out;
    EXPECT_THAT(refused.err, HasSubstr("runs on node"));
    EXPECT_THAT(refused.err, HasSubstr("run the command there or on a manager node"));
    EXPECT_TRUE(refused.out.empty()) << refused.out;
  }
  expectEveryDaemonAliveAndAnswering();
}

TEST_F(HardeningTest, OversizedBodiesAre413AndDoNotGrowTheDaemon) {
  std::string answer;
  int status = sendRaw(Target{socketPath(1), "", 0},
                       httpRequest("POST", "/v1/networks", {}, std::string(2 << 20, 'x')), &answer);
  EXPECT_EQ(status, 413) << answer;
  EXPECT_THAT(answer, HasSubstr("exceeds the limit of 1048576 bytes"));

  // Peak memory before and after 32 MiB bodies on every listener of the manager: read
  // whole, each would add 32 MiB.
  long peakBefore = procStatusKb(pid(1), "VmHWM");
  long rssBefore = procStatusKb(pid(1), "VmRSS");
  std::string huge(32 << 20, '{');
  EXPECT_EQ(sendRaw(Target{socketPath(1), "", 0}, httpRequest("POST", "/v1/tasks", {}, huge)), 413);
  // Over TLS the server may close (and the kernel reset) the connection while the body
  // is still being sent, so our read can lose its 413: 0 (no answer) is accepted there.
  // What matters is the peak memory below.
  inNamespace(lab_->hostNamespace(2), [&] {
    std::string overTls;
    int join = sendRaw(Target{"", address(1), 2377, {}, joiningNode()},
                       httpRequest("POST", "/cluster/v1/join", {}, huge), &overTls);
    EXPECT_THAT(join, ::testing::AnyOf(413, 0)) << overTls;
    int exec = sendRaw(Target{"", address(1), 2378, {}, identityOf(1)},
                       httpRequest("POST", "/v1/tasks/x/exec", {}, huge), &overTls);
    EXPECT_THAT(exec, ::testing::AnyOf(413, 0)) << overTls;
  });
  long peakAfter = procStatusKb(pid(1), "VmHWM");
  long rssAfter = procStatusKb(pid(1), "VmRSS");
  std::cerr << fmt::format("manager VmRSS {} → {} kB, VmHWM {} → {} kB\n", rssBefore, rssAfter,
                           peakBefore, peakAfter);
  EXPECT_LT(peakAfter - peakBefore, 16 * 1024) << "the daemon read an oversized body";
  expectEveryDaemonAliveAndAnswering();
}

TEST_F(HardeningTest, ExecOfA35SecondCommandSucceedsAndInfoAnswersMeanwhile) {
  ASSERT_NO_FATAL_FAILURE(runTask("long", 2, {"sleep", "600"}));
  CommandResult exec;
  auto started = Clock::now();
  std::thread execThread([&] {
    exec = lab_->cli(1, {"exec", "long", "--", "sh", "-c", "sleep 35; echo finished"});
  });
  std::this_thread::sleep_for(seconds(3));
  // While the exec runs (forwarded by the manager h1, running on h2), both daemons answer.
  std::vector<double> infoSeconds;
  bool answered = true;
  for (int round = 0; round < 5; ++round) {
    for (int index : {1, 2}) {
      auto before = Clock::now();
      auto info = lab_->cli(index, {"info"});
      infoSeconds.push_back(std::chrono::duration<double>(Clock::now() - before).count());
      answered = answered && info.exitCode == 0;
      EXPECT_EQ(info.exitCode, 0) << info.err;
    }
    std::this_thread::sleep_for(seconds(2));
  }
  execThread.join();
  double execSeconds = std::chrono::duration<double>(Clock::now() - started).count();
  double slowest = *std::max_element(infoSeconds.begin(), infoSeconds.end());
  std::cerr << fmt::format("exec took {:.1f} s; info during it: slowest {:.3f} s of {}\n",
                           execSeconds, slowest, infoSeconds.size());
  EXPECT_TRUE(answered);
  EXPECT_LT(slowest, 5.0) << "info waited for the exec";
  EXPECT_EQ(exec.exitCode, 0) << exec.err;
  EXPECT_EQ(exec.out, "finished\n");
  EXPECT_GE(execSeconds, 35.0);
}

TEST_F(HardeningTest, ExecTimeoutKillsTheCommandAndSaysSo) {
  ASSERT_NO_FATAL_FAILURE(runTask("short", 3, {"sleep", "600"}));
  auto exec = lab_->cli(1, {"exec", "--timeout", "2s", "short", "--", "sleep", "30"});
  EXPECT_EQ(exec.exitCode, 124) << exec.out << exec.err;
}

// An exec has no time limit by default, so a daemon that stops must end the execs it
// runs (local, and forwarded from the manager) instead of waiting for them: `lab stop`
// finishes with SIGTERM alone, and both exec commands return, saying why.
TEST_F(HardeningTest, StoppingADaemonEndsExecsWithoutALimit) {
  ASSERT_NO_FATAL_FAILURE(runTask("endless", 2, {"sleep", "600"}));
  CommandResult local;
  CommandResult forwarded;
  std::thread localThread(
      [&] { local = lab_->cli(2, {"exec", "endless", "--", "sleep", "3600"}); });
  std::thread forwardedThread([&] {
    forwarded = lab_->cli(1, {"exec", "endless", "--", "sleep", "3600"});
  });
  std::this_thread::sleep_for(seconds(3));
  auto before = Clock::now();
  auto stopped = lab_->lab({"stop", "2"});
  double stopSeconds = std::chrono::duration<double>(Clock::now() - before).count();
  localThread.join();
  forwardedThread.join();
  std::cerr << fmt::format("lab stop with two endless execs took {:.1f} s\n", stopSeconds);
  EXPECT_EQ(stopped.exitCode, 0) << stopped.out << stopped.err;
  EXPECT_THAT(stopped.out, Not(HasSubstr("SIGKILL"))) << "the daemon waited for its execs";
  EXPECT_NE(local.exitCode, 0);
  EXPECT_NE(forwarded.exitCode, 0);
  EXPECT_THAT(forwarded.err, HasSubstr("was stopped")) << forwarded.err;
}

}  // namespace
}  // namespace overmesh::testing
