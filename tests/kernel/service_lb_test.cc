// Kernel tier: the sandbox VIP load balancer (SandboxLoadBalancers, LinuxNodeKernel) with
// real traffic. Each test builds its own lab of namespaces ("omlb<pid>-<n>…", see
// support/service_lb_lab.h): a client and three backends on a bridge (10.77.0.0/24),
// deleted in TearDown, also when the test fails. Backends are small listeners in this process whose
// sockets live in the backend namespaces; they record the address each peer came from.

#include "dataplane/linux/service_lb.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "dataplane/linux/linux_node_kernel.h"
#include "dataplane/linux/netlink.h"
#include "dataplane/linux/netns.h"
#include "dataplane/linux/nftables.h"
#include "dataplane/service_lb_rules.h"
#include "support/ip_helpers.h"
#include "support/process.h"
#include "support/service_lb_lab.h"

namespace overmesh::dataplane::kernel {
namespace {

using overmesh::testing::ip;
using overmesh::testing::prefix;

constexpr int kBackends = 3;
constexpr std::uint16_t kTcpPorts[] = {80, 4242};
constexpr std::uint16_t kUdpPort = 5353;
const Ipv4Address kVip = ip("10.77.0.2");
const Ipv4Address kEmptyVip = ip("10.77.0.3");
const Ipv4Address kClient = overmesh::testing::ServiceLbLab::clientAddress();

Ipv4Address backendAddress(int index) {
  return overmesh::testing::ServiceLbLab::backendAddress(index);
}

sockaddr_in socketAddress(Ipv4Address address, std::uint16_t port) {
  sockaddr_in result{};
  result.sin_family = AF_INET;
  result.sin_port = htons(port);
  result.sin_addr.s_addr = htonl(address.value());
  return result;
}

Ipv4Address addressOf(const sockaddr_in& socketAddr) {
  return Ipv4Address::fromValue(ntohl(socketAddr.sin_addr.s_addr));
}

// A socket of `type` opened inside the named namespace (it stays bound there).
UniqueFd socketIn(const std::string& ns, int type) {
  auto inside = NamespaceSwitch::enter(ns);
  if (!inside) {
    ADD_FAILURE() << inside.error().message;
    return UniqueFd();
  }
  return UniqueFd(socket(AF_INET, type | SOCK_CLOEXEC, 0));
}

void setTimeouts(int fd, int ms) {
  timeval timeout{ms / 1000, (ms % 1000) * 1000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
}

// The three backends: TCP listeners on kTcpPorts and a UDP socket on kUdpPort in each
// backend namespace, served by one thread. Each answers with its index ("1\n") and
// records the peer address. Thread: run() polls every socket until stop().
class Backends {
 public:
  struct Hit {
    int backend;
    Ipv4Address peer;
  };

  bool listen(const std::vector<std::string>& namespaces) {
    for (int i = 0; i < static_cast<int>(namespaces.size()); ++i) {
      for (auto port : kTcpPorts) {
        UniqueFd fd = socketIn(namespaces[i], SOCK_STREAM);
        auto where = socketAddress(backendAddress(i), port);
        if (!fd.valid() ||
            bind(fd.get(), reinterpret_cast<sockaddr*>(&where), sizeof(where)) != 0 ||
            ::listen(fd.get(), 128) != 0) {
          return false;
        }
        sockets_.push_back({std::move(fd), i, true});
      }
      UniqueFd udp = socketIn(namespaces[i], SOCK_DGRAM);
      auto where = socketAddress(backendAddress(i), kUdpPort);
      if (!udp.valid() ||
          bind(udp.get(), reinterpret_cast<sockaddr*>(&where), sizeof(where)) != 0) {
        return false;
      }
      sockets_.push_back({std::move(udp), i, false});
    }
    thread_ = std::thread([this] { run(); });
    return true;
  }

  void stop() {
    stopping_ = true;
    if (thread_.joinable()) {
      thread_.join();
    }
  }

  ~Backends() { stop(); }

  std::vector<Hit> hits() {
    std::lock_guard lock(mutex_);
    return hits_;
  }
  void clear() {
    std::lock_guard lock(mutex_);
    hits_.clear();
  }

 private:
  struct Listening {
    UniqueFd fd;
    int backend;
    bool tcp;
  };

  void run() {
    std::vector<pollfd> polled;
    for (const auto& listening : sockets_) {
      polled.push_back({listening.fd.get(), POLLIN, 0});
    }
    while (!stopping_) {
      if (poll(polled.data(), polled.size(), 50) <= 0) {
        continue;
      }
      for (std::size_t i = 0; i < polled.size(); ++i) {
        if ((polled[i].revents & POLLIN) != 0) {
          serve(sockets_[i]);
        }
      }
    }
  }

  void serve(const Listening& listening) {
    sockaddr_in peer{};
    socklen_t length = sizeof(peer);
    std::string reply = std::to_string(listening.backend) + "\n";
    if (listening.tcp) {
      UniqueFd conn(
          accept4(listening.fd.get(), reinterpret_cast<sockaddr*>(&peer), &length, SOCK_CLOEXEC));
      if (!conn.valid()) {
        return;
      }
      record(listening.backend, addressOf(peer));
      (void)!write(conn.get(), reply.data(), reply.size());
      return;
    }
    char buffer[512];
    ssize_t got = recvfrom(listening.fd.get(), buffer, sizeof(buffer), 0,
                           reinterpret_cast<sockaddr*>(&peer), &length);
    if (got < 0) {
      return;
    }
    record(listening.backend, addressOf(peer));
    sendto(listening.fd.get(), reply.data(), reply.size(), 0, reinterpret_cast<sockaddr*>(&peer),
           length);
  }

  void record(int backend, Ipv4Address peer) {
    std::lock_guard lock(mutex_);
    hits_.push_back({backend, peer});
  }

  std::vector<Listening> sockets_;  // written before the thread starts, read-only after
  std::thread thread_;
  std::atomic<bool> stopping_ = false;
  std::mutex mutex_;
  std::vector<Hit> hits_;  // guarded by mutex_
};

// What a client saw: the backend index it reached, or the errno of the failure.
struct Reply {
  int backend = -1;
  int error = 0;
};

class ServiceLbTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!overmesh::testing::canUseNamespaces()) {
      GTEST_SKIP() << "needs root to create network namespaces";
    }
    static int counter = 0;
    lab_ = std::make_unique<overmesh::testing::ServiceLbLab>(
        fmt::format("omlb{}-{}", getpid(), ++counter), kBackends);
    auto created = lab_->create();
    ASSERT_TRUE(created) << created.error().message;
    client_ = lab_->client();
    ASSERT_TRUE(servers_.listen(lab_->backends()));
  }

  void TearDown() override {
    servers_.stop();
    balancers_.reset();
    lab_.reset();
  }

  static LbService service(Ipv4Address vip, std::vector<int> backendIndexes) {
    LbService result{fmt::format("svc{}", vip.value()), "web", vip, {}};
    for (int index : backendIndexes) {
      result.backends.push_back(backendAddress(index));
    }
    return result;
  }

  Status apply(const SandboxLb& lb) { return balancers_->apply(client_, lb); }

  Reply tcpAsk(Ipv4Address vip, std::uint16_t port) {
    Reply reply;
    UniqueFd fd = socketIn(client_, SOCK_STREAM);
    setTimeouts(fd.get(), 3000);
    auto target = socketAddress(vip, port);
    if (connect(fd.get(), reinterpret_cast<sockaddr*>(&target), sizeof(target)) != 0) {
      reply.error = errno;
      return reply;
    }
    char buffer[16] = {};
    ssize_t got = read(fd.get(), buffer, sizeof(buffer) - 1);
    if (got <= 0) {
      reply.error = got < 0 ? errno : EPIPE;
      return reply;
    }
    reply.backend = std::atoi(buffer);
    return reply;
  }

  Reply udpAsk(Ipv4Address vip) {
    Reply reply;
    UniqueFd fd = socketIn(client_, SOCK_DGRAM);
    setTimeouts(fd.get(), 3000);
    auto target = socketAddress(vip, kUdpPort);
    if (connect(fd.get(), reinterpret_cast<sockaddr*>(&target), sizeof(target)) != 0 ||
        send(fd.get(), "hi", 2, 0) != 2) {
      reply.error = errno;
      return reply;
    }
    char buffer[16] = {};
    ssize_t got = recv(fd.get(), buffer, sizeof(buffer) - 1, 0);
    if (got <= 0) {
      reply.error = got < 0 ? errno : EPIPE;
      return reply;
    }
    reply.backend = std::atoi(buffer);
    return reply;
  }

  // A UDP socket in the client connected to VIP:kUdpPort, kept across several asks.
  UniqueFd udpSocket(Ipv4Address vip) {
    UniqueFd fd = socketIn(client_, SOCK_DGRAM);
    setTimeouts(fd.get(), 3000);
    auto target = socketAddress(vip, kUdpPort);
    if (connect(fd.get(), reinterpret_cast<sockaddr*>(&target), sizeof(target)) != 0) {
      ADD_FAILURE() << errnoText(errno);
    }
    return fd;
  }
  static int askOn(const UniqueFd& fd) {
    char buffer[16] = {};
    if (send(fd.get(), "hi", 2, 0) != 2 || recv(fd.get(), buffer, sizeof(buffer) - 1, 0) <= 0) {
      return -1;
    }
    return std::atoi(buffer);
  }

  // The client's table as the kernel reports it: the output chain's rule handles and
  // every set's or map's elements (each as its JSON text).
  struct TableSnapshot {
    std::vector<int> outputRules;
    std::map<std::string, std::set<std::string>> elements;
  };
  TableSnapshot snapshot() {
    TableSnapshot result;
    auto nft = Nftables::open(client_);
    if (!nft) {
      ADD_FAILURE() << nft.error().message;
      return result;
    }
    auto json = nft->listTableJson(kLbFamily, kLbTable);
    if (!json) {
      ADD_FAILURE() << json.error().message;
      return result;
    }
    auto listing = nlohmann::json::parse(*json, nullptr, false);
    for (const auto& item : listing.value("nftables", nlohmann::json::array())) {
      if (item.contains("rule") && item["rule"]["chain"] == "output") {
        result.outputRules.push_back(item["rule"]["handle"].get<int>());
      }
      for (const char* kind : {"set", "map"}) {
        if (item.contains(kind)) {
          auto& elements = result.elements[item[kind]["name"].get<std::string>()];
          for (const auto& element : item[kind].value("elem", nlohmann::json::array())) {
            elements.insert(element.dump());
          }
        }
      }
    }
    return result;
  }

  std::string tableText() {
    auto nft = Nftables::open(client_);
    if (!nft) {
      return "error: " + nft.error().message;
    }
    auto json = nft->listTableJson(kLbFamily, kLbTable);
    return json ? *json : "error: " + json.error().message;
  }

  std::unique_ptr<overmesh::testing::ServiceLbLab> lab_;
  std::string client_;
  Backends servers_;
  std::unique_ptr<SandboxLoadBalancers> balancers_ = std::make_unique<SandboxLoadBalancers>();
};

TEST_F(ServiceLbTest, SpreadsTcpOnAnyPortOverEveryBackendKeepingTheClientAddress) {
  ASSERT_TRUE(apply({{service(kVip, {0, 1, 2})}}));
  std::map<int, int> reached;
  for (int i = 0; i < 90; ++i) {
    auto reply = tcpAsk(kVip, kTcpPorts[i % 2]);
    ASSERT_EQ(reply.error, 0) << "connection " << i << ": " << errnoText(reply.error);
    ++reached[reply.backend];
  }
  EXPECT_EQ(reached.size(), 3u);
  for (const auto& [backend, count] : reached) {
    EXPECT_GT(count, 5) << "backend " << backend;
  }
  for (const auto& hit : servers_.hits()) {
    EXPECT_EQ(hit.peer, kClient) << "backend " << hit.backend << " saw " << hit.peer.toString();
  }
}

TEST_F(ServiceLbTest, CarriesUdpAndAnswersPingOfTheVip) {
  ASSERT_TRUE(apply({{service(kVip, {0, 1, 2})}}));
  std::set<int> reached;
  for (int i = 0; i < 30; ++i) {
    auto reply = udpAsk(kVip);
    ASSERT_EQ(reply.error, 0) << errnoText(reply.error);
    reached.insert(reply.backend);
  }
  EXPECT_EQ(reached.size(), 3u);
  for (const auto& hit : servers_.hits()) {
    EXPECT_EQ(hit.peer, kClient);
  }
  auto ping =
      overmesh::testing::runCommand({"/usr/sbin/ip", "netns", "exec", client_, "/usr/bin/ping",
                                     "-c", "2", "-W", "2", fmt::format("{}", kVip)});
  EXPECT_EQ(ping.exitCode, 0) << ping.out << ping.err;
}

TEST_F(ServiceLbTest, RemovedBackendGetsNoNewConnections) {
  ASSERT_TRUE(apply({{service(kVip, {0, 1, 2})}}));
  ASSERT_EQ(tcpAsk(kVip, 80).error, 0);
  ASSERT_TRUE(apply({{service(kVip, {0, 1})}}));
  servers_.clear();
  std::set<int> reached;
  for (int i = 0; i < 60; ++i) {
    auto reply = tcpAsk(kVip, 80);
    ASSERT_EQ(reply.error, 0) << errnoText(reply.error);
    reached.insert(reply.backend);
  }
  EXPECT_EQ(reached, (std::set<int>{0, 1}));
}

TEST_F(ServiceLbTest, UdpFlowsToARemovedBackendMoveAndOthersStay) {
  ASSERT_TRUE(apply({{service(kVip, {0, 1, 2})}}));
  std::vector<UniqueFd> sockets;
  std::vector<int> first;
  for (int i = 0; i < 30; ++i) {
    sockets.push_back(udpSocket(kVip));
    first.push_back(askOn(sockets.back()));
    ASSERT_GE(first.back(), 0);
    ASSERT_EQ(askOn(sockets.back()), first.back()) << "conntrack keeps a flow on its backend";
  }
  ASSERT_NE(std::count(first.begin(), first.end(), 2), 0);
  ASSERT_TRUE(apply({{service(kVip, {0, 1})}}));
  balancers_->waitForFlowCleanup();
  for (std::size_t i = 0; i < sockets.size(); ++i) {
    int now = askOn(sockets[i]);
    if (first[i] == 2) {
      EXPECT_TRUE(now == 0 || now == 1) << "flow " << i << " still reaches " << now;
    } else {
      EXPECT_EQ(now, first[i]) << "flow " << i << " to a backend that stayed was moved";
    }
  }
}

TEST_F(ServiceLbTest, ServiceWithoutBackendsIsRefusedFast) {
  ASSERT_TRUE(apply({{service(kVip, {0}), service(kEmptyVip, {})}}));
  auto start = std::chrono::steady_clock::now();
  auto tcp = tcpAsk(kEmptyVip, 80);
  auto udp = udpAsk(kEmptyVip);
  auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(tcp.error, ECONNREFUSED) << errnoText(tcp.error);
  // The datagram is dropped on its way out: send() itself fails (EPERM), or the ICMP
  // port unreachable the rule also sends back arrives first (ECONNREFUSED).
  EXPECT_TRUE(udp.error == EPERM || udp.error == ECONNREFUSED) << errnoText(udp.error);
  EXPECT_LT(elapsed, std::chrono::seconds(1));
  EXPECT_EQ(tcpAsk(kVip, 80).backend, 0);
  // Backends arriving later take the refusal away.
  ASSERT_TRUE(apply({{service(kVip, {0}), service(kEmptyVip, {2})}}));
  EXPECT_EQ(tcpAsk(kEmptyVip, 80).backend, 2);
}

TEST_F(ServiceLbTest, SecondApplyOfTheSamePlanChangesNothing) {
  SandboxLb lb{{service(kVip, {0, 1, 2}), service(kEmptyVip, {})}};
  ASSERT_TRUE(apply(lb));
  std::string before = tableText();
  ASSERT_TRUE(apply(lb));
  EXPECT_EQ(tableText(), before);
}

TEST_F(ServiceLbTest, EndpointChangeAmongAThousandServicesChangesOnlyItsElements) {
  SandboxLb lb;
  for (std::uint32_t i = 0; i < 1000; ++i) {
    // VIPs 10.78.x.y: routed nowhere, never dialled; only the table matters here.
    lb.services.push_back(service(Ipv4Address::fromValue(ip("10.78.0.1").value() + i), {0, 1}));
  }
  ASSERT_TRUE(apply(lb));
  auto before = snapshot();
  ASSERT_EQ(before.elements["backends_2"].size(), 2000u);
  lb.services[500].backends = {backendAddress(0), backendAddress(2)};
  ASSERT_TRUE(apply(lb));
  auto after = snapshot();
  EXPECT_EQ(after.outputRules, before.outputRules);  // no rule rewritten
  std::vector<std::string> gone;
  std::vector<std::string> came;
  std::set_difference(before.elements["backends_2"].begin(), before.elements["backends_2"].end(),
                      after.elements["backends_2"].begin(), after.elements["backends_2"].end(),
                      std::back_inserter(gone));
  std::set_difference(after.elements["backends_2"].begin(), after.elements["backends_2"].end(),
                      before.elements["backends_2"].begin(), before.elements["backends_2"].end(),
                      std::back_inserter(came));
  std::string vip = fmt::format("\"{}\"", lb.services[500].vip);
  ASSERT_EQ(gone.size(), 1u);
  ASSERT_EQ(came.size(), 1u);
  EXPECT_NE(gone[0].find(vip), std::string::npos) << gone[0];
  EXPECT_NE(came[0].find(fmt::format("\"{}\"", backendAddress(2))), std::string::npos) << came[0];

  // Removing a service takes its elements only; a new backend count adds one map and rule.
  lb.services.erase(lb.services.begin() + 10);
  lb.services[20].backends = {backendAddress(0), backendAddress(1), backendAddress(2)};
  ASSERT_TRUE(apply(lb));
  auto last = snapshot();
  EXPECT_EQ(last.elements["backends_2"].size(), 2000u - 4);
  EXPECT_EQ(last.elements["backends_3"].size(), 3u);
  EXPECT_EQ(last.outputRules.size(), before.outputRules.size() + 1);
}

TEST_F(ServiceLbTest, FirstApplyReplacesWhatAnEarlierAgentLeft) {
  ASSERT_TRUE(apply({{service(kVip, {0}), service(kEmptyVip, {})}}));
  // A new agent (fresh memory) with another plan: the old table is replaced whole.
  balancers_ = std::make_unique<SandboxLoadBalancers>();
  ASSERT_TRUE(apply({{service(kVip, {2})}}));
  auto table = snapshot();
  EXPECT_TRUE(table.elements["refused"].empty()) << tableText();
  EXPECT_EQ(table.elements["backends_1"].size(), 1u) << tableText();
  EXPECT_EQ(tcpAsk(kVip, 80).backend, 2);
}

TEST_F(ServiceLbTest, RepairsATableRemovedBehindItsBack) {
  ASSERT_TRUE(apply({{service(kVip, {0})}}));
  auto nft = Nftables::open(client_);
  ASSERT_TRUE(nft) << nft.error().message;
  ASSERT_TRUE(nft->deleteTableIfExists(kLbFamily, kLbTable));
  ASSERT_TRUE(apply({{service(kVip, {1})}}));
  EXPECT_EQ(tcpAsk(kVip, 80).backend, 1);
}

TEST_F(ServiceLbTest, NamespaceMadeAgainUnderTheSameNameGetsAWholeTable) {
  ASSERT_TRUE(apply({{service(kVip, {0})}}));
  ASSERT_TRUE(deleteNamespace(client_));
  ASSERT_TRUE(createNamespace(client_));
  // Same plan: without noticing the new namespace this would change nothing.
  ASSERT_TRUE(apply({{service(kVip, {0})}}));
  EXPECT_EQ(snapshot().elements["backends_1"].size(), 1u) << tableText();
}

TEST_F(ServiceLbTest, MissingNamespaceIsNotFoundAndForgotten) {
  auto applied = balancers_->apply(client_ + "x", {});
  ASSERT_FALSE(applied);
  EXPECT_EQ(applied.error().kind, ErrorKind::NotFound) << applied.error().message;
  auto invalid = balancers_->apply("a/b", {});
  ASSERT_FALSE(invalid);
  EXPECT_EQ(invalid.error().kind, ErrorKind::InvalidArgument);
  ASSERT_TRUE(apply({}));
  EXPECT_EQ(balancers_->size(), 1u);
  balancers_->forget(client_);
  EXPECT_EQ(balancers_->size(), 0u);
}

TEST_F(ServiceLbTest, LinuxNodeKernelProgramsTheSandbox) {
  LinuxNodeKernel kernel;
  ASSERT_TRUE(kernel.applySandboxLb(client_, {{service(kVip, {1})}}));
  EXPECT_EQ(tcpAsk(kVip, 4242).backend, 1);
  ASSERT_TRUE(kernel.applySandboxLb(client_, {{service(kVip, {2})}}));
  EXPECT_EQ(tcpAsk(kVip, 4242).backend, 2);
  kernel.forgetSandboxLb(client_);
}

}  // namespace
}  // namespace overmesh::dataplane::kernel
