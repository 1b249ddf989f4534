// `swarm init` and `swarm join` that fail change nothing, and a hanging join does not
// block the daemon; network subnets and init pools that cannot work are refused. Each
// test's daemon runs in a network namespace of its own (advertise address 127.0.0.1);
// the busy ports and fake managers below are sockets the test opens inside that
// namespace, on 127.0.0.1 only. The fake managers speak TLS 1.3 with a CA the test makes
// (src/security), and the join tokens pin it, so a join gets as far as each test needs.

#include <arpa/inet.h>
#include <fcntl.h>
#include <gmock/gmock.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "e2e/cli/cli_fixture.h"
#include "security/join_token.h"
#include "security/pki.h"
#include "support/lab_session.h"
#include "support/tls_exchange.h"

namespace overmesh::testing {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

// Sets `lo` up in the calling thread's network namespace: a fresh namespace starts with it
// down, and the daemon (reached through its unix socket) does not need it otherwise.
bool setLoopbackUp() {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ifreq request{};
  std::strncpy(request.ifr_name, "lo", IFNAMSIZ - 1);
  bool up = fd >= 0 && ioctl(fd, SIOCGIFFLAGS, &request) == 0;
  request.ifr_flags = static_cast<short>(request.ifr_flags | IFF_UP);
  up = up && ioctl(fd, SIOCSIFFLAGS, &request) == 0;
  if (fd >= 0) {
    close(fd);
  }
  return up;
}

// A TCP socket listening on 127.0.0.1:`port` inside the network namespace of process
// `pid` (the daemon's own, made by the test), with lo up there (sockets keep the
// namespace they were made in; only a helper thread enters it).
int listenInNamespaceOf(pid_t pid, std::uint16_t port) {
  int result = -1;
  std::thread([&] {
    int ns = open(("/proc/" + std::to_string(pid) + "/ns/net").c_str(), O_RDONLY | O_CLOEXEC);
    if (ns < 0) {
      return;
    }
    bool entered = setns(ns, CLONE_NEWNET) == 0;
    close(ns);
    if (!entered || !setLoopbackUp()) {
      return;
    }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in in{};
    in.sin_family = AF_INET;
    in.sin_port = htons(port);
    in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, reinterpret_cast<sockaddr*>(&in), sizeof(in)) != 0 || listen(fd, 16) != 0) {
      close(fd);
      return;
    }
    result = fd;
  }).join();
  return result;
}

// Something on a port of the daemon's namespace: a plain listener that never accepts
// (a busy port, or a manager that never answers), or a fake manager that answers every
// request over TLS 1.3 (as the cluster port does since issue 12) with what `respond`
// returns, and records the request lines.
class FakePeer {
 public:
  explicit FakePeer(pid_t pid, std::uint16_t port) : fd_(listenInNamespaceOf(pid, port)) {}
  FakePeer(pid_t pid, std::uint16_t port, TlsIdentity identity, TlsResponder respond)
      : fd_(listenInNamespaceOf(pid, port)) {
    if (fd_ >= 0) {
      thread_ = std::thread([this, identity = std::move(identity), respond = std::move(respond)] {
        serve(identity, respond);
      });
    }
  }
  ~FakePeer() { close(); }
  FakePeer(const FakePeer&) = delete;
  FakePeer& operator=(const FakePeer&) = delete;

  bool ok() const { return fd_ >= 0; }
  // True once a client's connection waits in the listen queue (a peer built without a
  // reply never accepts, so a connection stays there): the client's request is under way.
  bool hasWaitingConnection() const {
    pollfd listening{fd_, POLLIN, 0};
    return fd_ >= 0 && poll(&listening, 1, 0) > 0 && (listening.revents & POLLIN) != 0;
  }
  void close() {
    stop_ = true;
    if (thread_.joinable()) {
      thread_.join();
    }
    if (fd_ >= 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }
  std::vector<std::string> requests() {
    std::lock_guard lock(mutex_);
    return requests_;
  }

 private:
  // Thread: answers connections one at a time until close().
  void serve(const TlsIdentity& identity, const TlsResponder& respond) {
    while (!stop_) {
      pollfd listening{fd_, POLLIN, 0};
      if (poll(&listening, 1, 100) <= 0) {
        continue;
      }
      int connection = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (connection < 0) {
        continue;
      }
      std::string line = serveOneOverTls(connection, identity, respond);
      if (!line.empty()) {
        std::lock_guard lock(mutex_);
        requests_.push_back(line);
      }
    }
  }

  int fd_ = -1;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex mutex_;
  std::vector<std::string> requests_;
};

constexpr std::uint16_t kFakeManagerPort = 2999;

// A cluster of the test's own making for the fake managers: its CA, a manager
// certificate (it carries kManagerServerName, as a joining node checks) and a worker join
// token that pins the CA, so that a join gets as far as the test wants.
struct FakeCluster {
  security::CaMaterial ca;
  TlsIdentity manager;
  std::string token;
};

FakeCluster makeFakeCluster() {
  FakeCluster cluster;
  auto now = std::chrono::system_clock::now();
  auto ca = security::createCa("fakecluster", now);
  auto key = security::generateKey();
  auto csr = key ? security::makeCsr(key->privateKeyPem, "fakemanager")
                 : Result<std::string>(std::unexpected(key.error()));
  if (!ca || !csr) {
    ADD_FAILURE() << "cannot make the fake cluster's CA or manager key";
    return cluster;
  }
  cluster.ca = *ca;
  auto cert = security::signNodeCertificate(
      cluster.ca, *csr, security::NodeIdentity{"fakemanager", "manager", "fakecluster"},
      std::chrono::hours(1), now);
  auto fingerprint = security::certificateFingerprint(cluster.ca.certPem);
  if (!cert || !fingerprint) {
    ADD_FAILURE() << "cannot sign the fake manager's certificate";
    return cluster;
  }
  cluster.manager = TlsIdentity{*cert, key->privateKeyPem, ""};
  cluster.token =
      security::formatJoinToken(security::JoinToken{*fingerprint, std::string(43, 'A')});
  return cluster;
}

// The CA route of a fake manager: what a joining node fetches first.
std::optional<std::string> caAnswer(const FakeCluster& cluster, const std::string& line) {
  if (line.starts_with("GET /cluster/v1/ca ")) {
    return nlohmann::json{{"certificate", cluster.ca.certPem}}.dump();
  }
  return std::nullopt;
}

// A manager that accepts every join: it signs the node's CSR as node "fakenode".
TlsResponder acceptingManager(const FakeCluster& cluster) {
  return [cluster](const std::string& line, const std::string& body) -> std::string {
    if (auto ca = caAnswer(cluster, line)) {
      return *ca;
    }
    if (!line.starts_with("POST /cluster/v1/join ")) {
      return "{}";
    }
    auto request = nlohmann::json::parse(body, nullptr, false);
    std::string csr = request.is_object() ? request.value("csr", "") : "";
    auto cert = security::signNodeCertificate(
        cluster.ca, csr, security::NodeIdentity{"fakenode", "worker", "fakecluster"},
        std::chrono::hours(1), std::chrono::system_clock::now());
    return nlohmann::json{{"node", {{"id", "fakenode"}}},
                          {"clusterId", "fakecluster"},
                          {"nodeTimeoutMs", 3000},
                          {"certificate", cert ? *cert : ""},
                          {"caCertificate", cluster.ca.certPem}}
        .dump();
  };
}

// A manager that serves its CA but answers the join with garbage.
TlsResponder garbageManager(const FakeCluster& cluster) {
  return [cluster](const std::string& line, const std::string&) -> std::string {
    return caAnswer(cluster, line).value_or("garbage");
  };
}

class MembershipCliTest : public CliTest {
 protected:
  std::string stateDir() const { return dir_.path() + "/state"; }

  // The state directory holds no membership and no cluster store, and the daemon says so.
  void expectNothingLeft() {
    for (std::string name :
         {"node.json", "node.json.tmp", "cluster.db", "cluster.db-wal", "cluster.db-shm", "pki"}) {
      EXPECT_FALSE(fs::exists(stateDir() + "/" + name)) << name << " was left behind";
    }
    EXPECT_EQ(json({"info", "--format", "json"})["swarm"], "inactive");
  }

  CommandResult join(const std::string& manager) {
    return cli({"swarm", "join", "--token", cluster_.token, manager});
  }

  FakeCluster cluster_ = makeFakeCluster();
};

class BusyPortInitTest : public MembershipCliTest,
                         public ::testing::WithParamInterface<std::pair<int, const char*>> {};

TEST_P(BusyPortInitTest, LeavesNothingAndALaterInitWorks) {
  auto [port, flag] = GetParam();
  FakePeer busy(daemon_->pid(), static_cast<std::uint16_t>(port));
  ASSERT_TRUE(busy.ok());
  auto refused = cli({"swarm", "init"});
  EXPECT_EQ(refused.exitCode, 1);
  EXPECT_THAT(refused.err, HasSubstr("127.0.0.1:" + std::to_string(port)));
  EXPECT_THAT(refused.err, HasSubstr(flag));
  expectNothingLeft();

  busy.close();
  init();
  EXPECT_EQ(json({"info", "--format", "json"})["swarm"], "active");
  EXPECT_TRUE(fs::exists(stateDir() + "/node.json"));
}

INSTANTIATE_TEST_SUITE_P(Ports, BusyPortInitTest,
                         ::testing::Values(std::pair{2377, "--cluster-port"},
                                           std::pair{2378, "--node-port"}));

TEST_F(MembershipCliTest, InitWhoseStateCannotBeSavedRemovesTheStoreAndStopsTheRoles) {
  // A directory where node.json belongs: the last step of init (after the store exists
  // and the roles listen) fails, so everything before it must be undone.
  ASSERT_TRUE(fs::create_directory(stateDir() + "/node.json"));
  auto refused = cli({"swarm", "init"});
  EXPECT_EQ(refused.exitCode, 1);
  EXPECT_THAT(refused.err, HasSubstr("swarm init: rename"));
  EXPECT_THAT(refused.err, HasSubstr("node.json"));
  for (std::string name : {"node.json.tmp", "cluster.db", "cluster.db-wal", "cluster.db-shm"}) {
    EXPECT_FALSE(fs::exists(stateDir() + "/" + name)) << name << " was left behind";
  }
  EXPECT_EQ(json({"info", "--format", "json"})["swarm"], "inactive");

  // The cluster and node ports were released: init works once the obstacle is gone.
  fs::remove(stateDir() + "/node.json");
  init();
  EXPECT_EQ(json({"info", "--format", "json"})["role"], "manager");
}

TEST_F(MembershipCliTest, JoinToAnUnreachableManagerLeavesNothing) {
  auto refused = join("127.0.0.1:" + std::to_string(kFakeManagerPort));
  EXPECT_EQ(refused.exitCode, 1);
  EXPECT_THAT(refused.err, HasSubstr("cannot reach the manager at 127.0.0.1:2999"));
  expectNothingLeft();
}

TEST_F(MembershipCliTest, JoinToAManagerThatAnswersGarbageLeavesNothing) {
  FakePeer manager(daemon_->pid(), kFakeManagerPort, cluster_.manager, garbageManager(cluster_));
  ASSERT_TRUE(manager.ok());
  auto refused = join("127.0.0.1:" + std::to_string(kFakeManagerPort));
  EXPECT_EQ(refused.exitCode, 1);
  EXPECT_THAT(refused.err, HasSubstr("not a join answer"));
  expectNothingLeft();
}

TEST_F(MembershipCliTest, JoinWithTheNodePortBusyFailsBeforeAskingTheManager) {
  FakePeer busy(daemon_->pid(), 2378);
  FakePeer manager(daemon_->pid(), kFakeManagerPort, cluster_.manager, acceptingManager(cluster_));
  ASSERT_TRUE(busy.ok() && manager.ok());
  auto refused = join("127.0.0.1:" + std::to_string(kFakeManagerPort));
  EXPECT_EQ(refused.exitCode, 1);
  EXPECT_THAT(refused.err, HasSubstr("127.0.0.1:2378 (--node-port)"));
  EXPECT_TRUE(manager.requests().empty()) << "the manager was asked before the local checks";
  expectNothingLeft();
}

TEST_F(MembershipCliTest, JoinWhoseStateCannotBeSavedIsUndoneHereAndOnTheManager) {
  FakePeer manager(daemon_->pid(), kFakeManagerPort, cluster_.manager, acceptingManager(cluster_));
  ASSERT_TRUE(manager.ok());
  // A directory where node.json belongs: the final rename of the state file fails (root
  // ignores file modes, so an unwritable file cannot be made otherwise).
  ASSERT_TRUE(fs::create_directory(stateDir() + "/node.json"));
  auto refused = join("127.0.0.1:" + std::to_string(kFakeManagerPort));
  EXPECT_EQ(refused.exitCode, 1);
  EXPECT_THAT(refused.err, HasSubstr("node.json"));
  EXPECT_EQ(json({"info", "--format", "json"})["swarm"], "inactive");
  EXPECT_TRUE(fs::is_directory(stateDir() + "/node.json")) << "the obstacle is left as it was";
  EXPECT_FALSE(fs::exists(stateDir() + "/node.json.tmp"));
  EXPECT_FALSE(fs::exists(stateDir() + "/pki")) << "the node's certificate and key were kept";
  auto requests = manager.requests();
  EXPECT_THAT(requests, ::testing::Contains("POST /cluster/v1/join HTTP/1.1"));
  EXPECT_THAT(requests, ::testing::Contains("POST /cluster/v1/leave HTTP/1.1"))
      << "the manager is asked to forget the node";

  // No listener or role is left: init on the same ports works once the obstacle is gone.
  fs::remove(stateDir() + "/node.json");
  manager.close();
  init();
  EXPECT_EQ(json({"info", "--format", "json"})["role"], "manager");
}

TEST_F(MembershipCliTest, InfoAnswersWhileAJoinHangsAndASecondJoinIsRefused) {
  FakePeer silent(daemon_->pid(), kFakeManagerPort);  // accepts into its backlog, never answers
  ASSERT_TRUE(silent.ok());
  CommandResult hanging;
  std::thread joiner([&] { hanging = join("127.0.0.1:" + std::to_string(kFakeManagerPort)); });

  // Once the first join's request reaches the silent manager, a second join (to a port
  // where nothing listens) is refused as "in progress" before it tries to connect. Waiting
  // for that request first keeps the second join from racing the first one's start.
  // (EXPECT, not ASSERT: returning early would leave the joiner thread unjoined.)
  EXPECT_TRUE(eventually([&] { return silent.hasWaitingConnection(); }, std::chrono::seconds(8)))
      << "the first join never reached the fake manager";
  CommandResult second = join("127.0.0.1:2998");
  EXPECT_EQ(second.exitCode, 1);
  EXPECT_THAT(second.err, HasSubstr("another swarm init, join or leave is in progress"));
  auto init = cli({"swarm", "init"});
  EXPECT_EQ(init.exitCode, 1);
  EXPECT_THAT(init.err, HasSubstr("in progress"));

  auto start = std::chrono::steady_clock::now();
  auto info = json({"info", "--format", "json"});
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(info["swarm"], "inactive");
  EXPECT_LT(took, std::chrono::seconds(5)) << "info waited for the join";

  joiner.join();
  EXPECT_EQ(hanging.exitCode, 1);
  EXPECT_THAT(hanging.err, HasSubstr("cannot reach the manager at 127.0.0.1:2999"));
  silent.close();
  expectNothingLeft();
  this->init();
}

struct RefusedSubnet {
  std::string subnet;
  std::string message;
};

TEST_F(MembershipCliTest, SubnetsThatCannotWorkAreRefusedByClass) {
  init();
  const std::vector<RefusedSubnet> cases = {
      {"127.0.0.0/24",
       "network create: subnet 127.0.0.0/24 is in the loopback range 127.0.0.0/8; choose a "
       "subnet outside it, e.g. 10.0.1.0/24"},
      {"169.254.1.0/24",
       "network create: subnet 169.254.1.0/24 is in the link-local range 169.254.0.0/16; "
       "choose a subnet outside it, e.g. 10.0.1.0/24"},
      {"239.1.0.0/24",
       "network create: subnet 239.1.0.0/24 is in the multicast range 224.0.0.0/4; choose a "
       "subnet outside it, e.g. 10.0.1.0/24"},
      {"0.0.0.0/24",
       "network create: subnet 0.0.0.0/24 is in the reserved range 0.0.0.0/8; choose a subnet "
       "outside it, e.g. 10.0.1.0/24"},
      {"240.0.0.0/24",
       "network create: subnet 240.0.0.0/24 is in the reserved range 240.0.0.0/4; choose a "
       "subnet outside it, e.g. 10.0.1.0/24"},
      {"172.18.3.0/24",
       "network create: subnet 172.18.3.0/24 is in the gateway-bridge subnet 172.18.0.0/16 of "
       "node "},
  };
  for (const auto& bad : cases) {
    auto refused = cli({"network", "create", "--subnet", bad.subnet, "x"});
    EXPECT_EQ(refused.exitCode, 1) << bad.subnet;
    EXPECT_THAT(refused.err, HasSubstr(bad.message));
  }
  EXPECT_EQ(json({"network", "ls", "--format", "json"}).size(), 1u) << "the ingress network";
  EXPECT_EQ(cli({"network", "create", "--subnet", "172.19.0.0/24", "ok"}).exitCode, 0);
}

TEST_F(MembershipCliTest, PoolsThatCannotWorkAreRefusedAtInitAndChangeNothing) {
  auto loopback = cli({"swarm", "init", "--default-addr-pool", "127.0.0.0/8"});
  EXPECT_EQ(loopback.exitCode, 1);
  EXPECT_THAT(loopback.err,
              HasSubstr("swarm init: --default-addr-pool 127.0.0.0/8 is in the loopback range "
                        "127.0.0.0/8; choose a pool outside it, e.g. 10.0.0.0/8"));
  auto multicast = cli({"swarm", "init", "--default-addr-pool", "10.0.0.0/8",
                        "--default-addr-pool", "224.0.0.0/8"});
  EXPECT_EQ(multicast.exitCode, 1);
  EXPECT_THAT(multicast.err, HasSubstr("is in the multicast range 224.0.0.0/4"));
  auto gateway = cli({"swarm", "init", "--default-addr-pool", "172.16.0.0/12"});
  EXPECT_EQ(gateway.exitCode, 1);
  EXPECT_THAT(gateway.err, HasSubstr("--default-addr-pool 172.16.0.0/12 overlaps the "
                                     "gateway-bridge subnet 172.18.0.0/16"));
  expectNothingLeft();
  init({"--default-addr-pool", "10.20.0.0/16"});
  ASSERT_EQ(cli({"network", "create", "a"}).exitCode, 0);
  EXPECT_EQ(json({"network", "inspect", "ingress"})[0]["subnet"], "10.20.0.0/24");
  EXPECT_EQ(json({"network", "inspect", "a"})[0]["subnet"], "10.20.1.0/24");
}

}  // namespace
}  // namespace overmesh::testing
