// Kernel tier: the routing mesh with its real adapters (LinuxNodeKernel: overlay, sandbox
// wiring, NodeMeshTable, SandboxIngresses) and real traffic. Each test builds its own lab
// ("omms<pid>-<n>…"): three nodes n1, n2 and m and an outside client on an underlay bridge
// (198.18.77.0/24, in a hub namespace), the ingress overlay (10.99.0.0/24, VNI 4100) planned
// by planNode with the mesh active, and on m one backend sandbox wired as the agent wires
// it (eth0 on the ingress network, eth1 on m's gateway bridge with the default route).
// The decisions come from MeshIndex over cluster records, as in the agent. Every namespace
// is deleted in TearDown, also when the test fails; nothing touches the machine's own.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "dataplane/ingress_rules.h"
#include "dataplane/linux/linux_node_kernel.h"
#include "dataplane/linux/netlink.h"
#include "dataplane/linux/netns.h"
#include "dataplane/linux/nftables.h"
#include "dataplane/mesh_plan.h"
#include "dataplane/mesh_rules.h"
#include "dataplane/overlay_plan.h"
#include "support/ip_helpers.h"
#include "support/mesh_fixtures.h"
#include "support/process.h"

namespace overmesh::dataplane::kernel {
namespace {

using ::overmesh::testing::ip;
using ::overmesh::testing::prefix;

constexpr std::uint16_t kTcpPublished = 30080;
constexpr std::uint16_t kUdpPublished = 30053;
constexpr std::uint16_t kTcpTarget = 80;
constexpr std::uint16_t kUdpTarget = 53;
constexpr std::uint16_t kUnpublishedTarget = 81;  // the backend listens, nobody publishes it
constexpr int kTimeoutMs = 2000;

const Ipv4Address kClient = ip("198.18.77.100");
const Ipv4Address kBackend = ip("10.99.0.21");

// ---- sockets inside namespaces ----------------------------------------------------------

UniqueFd socketIn(const std::string& ns, int type) {
  auto fd = runInNamespace(ns, [type]() -> Result<int> {
    int made = socket(AF_INET, type | SOCK_CLOEXEC, 0);
    if (made < 0) {
      return errorf(ErrorKind::Unavailable, "socket: {}", errnoText(errno));
    }
    return made;
  });
  EXPECT_TRUE(fd) << fd.error().message;
  return UniqueFd(fd.value_or(-1));
}

sockaddr_in socketAddress(Ipv4Address address, std::uint16_t port) {
  sockaddr_in result{};
  result.sin_family = AF_INET;
  result.sin_port = htons(port);
  result.sin_addr.s_addr = htonl(address.value());
  return result;
}

bool waitFor(int fd, short events, int timeoutMs) {
  pollfd entry{fd, events, 0};
  return poll(&entry, 1, timeoutMs) == 1 && (entry.revents & events) != 0;
}

// One TCP connection as both ends see it: the client's socket, the backend's accepted
// one, and the peer address the backend saw. `error` says what failed instead.
struct Connection {
  UniqueFd client;
  UniqueFd server;
  Ipv4Address peer;
  std::string error;
  int errnoValue = 0;
};

// Sends `text` from `from` and reads it on `to`; empty on success, else what went wrong.
std::string carry(const UniqueFd& from, const UniqueFd& to, const std::string& text) {
  if (send(from.get(), text.data(), text.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(text.size())) {
    return "send: " + errnoText(errno);
  }
  std::string received;
  while (received.size() < text.size()) {
    if (!waitFor(to.get(), POLLIN, kTimeoutMs)) {
      return "receive timed out";
    }
    char buffer[256];
    ssize_t got = recv(to.get(), buffer, sizeof(buffer), 0);
    if (got <= 0) {
      return got == 0 ? "connection closed" : "receive: " + errnoText(errno);
    }
    received.append(buffer, static_cast<std::size_t>(got));
  }
  return received == text ? "" : "received \"" + received + "\"";
}

// Both directions of an established connection.
std::string talk(const Connection& connection, const std::string& tag) {
  if (auto there = carry(connection.client, connection.server, "ping " + tag); !there.empty()) {
    return "client to backend: " + there;
  }
  if (auto back = carry(connection.server, connection.client, "pong " + tag); !back.empty()) {
    return "backend to client: " + back;
  }
  return "";
}

// ---- the lab ----------------------------------------------------------------------------

struct LabNode {
  std::string id;        // the node ID in the cluster records ("n1")
  std::string ns;        // its namespace
  Ipv4Address underlay;  // its advertise address
  std::string ingress;   // its ingress endpoint ("10.99.0.11/24")
};

class MeshTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!overmesh::testing::canUseNamespaces()) {
      GTEST_SKIP() << "needs root to create network namespaces";
    }
    static int counter = 0;
    base_ = fmt::format("omms{}-{}", getpid(), ++counter);
    hub_ = makeNamespace("u");
    client_ = makeNamespace("c");
    nodes_ = {{"n1", makeNamespace("n1"), ip("198.18.77.1"), "10.99.0.11/24"},
              {"n2", makeNamespace("n2"), ip("198.18.77.2"), "10.99.0.12/24"},
              {"m", makeNamespace("m"), ip("198.18.77.3"), "10.99.0.13/24"}};
    sandbox_ = base_ + "b";
    made_.push_back(sandbox_);  // made by m's kernel below; deleted with the rest
    ASSERT_NO_FATAL_FAILURE(buildUnderlay());

    networks_ = {overmesh::testing::ingressNetwork("ing", 4100, "10.99.0.0/24")};
    for (const auto& node : nodes_) {
      records_.push_back(
          overmesh::testing::meshNode(node.id, node.underlay.toString(), node.ingress));
    }
    services_ = {overmesh::testing::publishingService(
        "web", {overmesh::testing::publish("tcp", kTcpPublished, kTcpTarget),
                overmesh::testing::publish("udp", kUdpPublished, kUdpTarget)})};
    tasks_ = {overmesh::testing::liveTask("backend1", "web", "m", {{"ing", "10.99.0.21/24"}})};
    for (const auto& node : nodes_) {
      kernels_[node.id] = std::make_unique<LinuxNodeKernel>();
    }
    ASSERT_NO_FATAL_FAILURE(applyEverything());
    ASSERT_NO_FATAL_FAILURE(listen());
  }

  void TearDown() override {
    listeners_.clear();
    kernels_.clear();
    for (auto it = made_.rbegin(); it != made_.rend(); ++it) {
      EXPECT_TRUE(deleteNamespace(*it)) << *it;
    }
  }

  std::string makeNamespace(const std::string& role) {
    std::string name = base_ + role;
    auto made = createNamespace(name);
    EXPECT_TRUE(made) << (made ? "" : made.error().message);
    if (made) {
      made_.push_back(name);
    }
    return name;
  }

  // A veth from the hub's bridge to `ns` ("eth0" there) with `address`/24.
  void attach(Netlink& hub, const std::string& ns, const std::string& hubSide,
              Ipv4Address address) {
    auto fd = openNamespace(ns);
    ASSERT_TRUE(fd) << fd.error().message;
    auto inside = Netlink::open(ns);
    ASSERT_TRUE(inside) << inside.error().message;
    ASSERT_TRUE(hub.createVethPair(hubSide, "eth0", fd->get(), 1500));
    ASSERT_TRUE(hub.setMaster(hubSide, "br0"));
    ASSERT_TRUE(hub.setUp(hubSide));
    ASSERT_TRUE(inside->setUp("lo"));
    ASSERT_TRUE(inside->addAddress("eth0", *Ipv4Prefix::fromParts(address, 24)));
    ASSERT_TRUE(inside->setUp("eth0"));
  }

  void buildUnderlay() {
    auto hub = Netlink::open(hub_);
    ASSERT_TRUE(hub) << hub.error().message;
    ASSERT_TRUE(hub->createBridge("br0", 1500));
    ASSERT_TRUE(hub->setUp("br0"));
    ASSERT_NO_FATAL_FAILURE(attach(*hub, client_, "uc", kClient));
    for (const auto& node : nodes_) {
      ASSERT_NO_FATAL_FAILURE(attach(*hub, node.ns, "u" + node.id, node.underlay));
    }
  }

  const LabNode& node(const std::string& id) {
    for (const auto& candidate : nodes_) {
      if (candidate.id == id) {
        return candidate;
      }
    }
    throw std::runtime_error("no node " + id);
  }

  // Runs `body` (returning Status) with this thread inside node `id`'s namespace, as the
  // agent runs in its node's.
  template <typename F>
  Status onNode(const std::string& id, F&& body) {
    return runInNamespace(node(id).ns, std::forward<F>(body));
  }

  MeshIndex indexFor(const std::string& id) {
    return MeshIndex::build(id, networks_, services_, tasks_, records_,
                            [](const std::string&) { return std::nullopt; });
  }

  Status applyMesh(const std::string& id, const NodeMesh& mesh) {
    return onNode(id, [&]() -> Status { return kernels_.at(id)->applyNodeMesh(mesh); });
  }

  Status applyIngress(const SandboxIngress& ingress) {
    return kernels_.at("m")->applySandboxIngress(sandbox_, ingress);
  }

  // What the agent of each node does on a pass: the overlay from planNode, on m the
  // backend's sandbox and gateway, then the published ports and the backend's ingress side.
  void applyEverything() {
    GatewayConfig gateway{prefix("172.31.0.0/24"), "omgwbridge"};
    for (const auto& labNode : nodes_) {
      auto index = indexFor(labNode.id);
      ASSERT_TRUE(index.meshActive());
      auto plan = planNode(labNode.id, labNode.underlay, 1500, networks_, records_, tasks_,
                           index.meshActive());
      ASSERT_TRUE(plan.problems.empty()) << plan.problems.front();
      LinuxNodeKernel& kernel = *kernels_.at(labNode.id);
      auto applied = onNode(labNode.id, [&]() -> Status {
        auto report = kernel.applyOverlay(plan.networks, labNode.underlay);
        if (!report.problems.empty()) {
          return errorf(ErrorKind::Internal, "{}", report.problems.front());
        }
        for (const auto& sandbox : plan.sandboxes) {
          if (auto made = kernel.ensureNamespace(sandbox_); !made) {
            return made;
          }
          if (auto ready = kernel.ensureGateway(gateway, 1500); !ready) {
            return ready;
          }
          if (auto wired = kernel.wireSandbox(sandbox_, sandbox, gateway, prefix("172.31.0.2/24"));
              !wired) {
            return wired;
          }
        }
        return kernel.applyNodeMesh(index.node());
      });
      ASSERT_TRUE(applied) << labNode.id << ": " << applied.error().message;
    }
    auto ingress = indexFor("m").forSandbox(tasks_[0]);
    ASSERT_EQ(ingress.interface, "eth0");
    ASSERT_EQ(ingress.nodes.size(), 3u);
    auto applied = applyIngress(ingress);
    ASSERT_TRUE(applied) << applied.error().message;
  }

  // The backend's listeners: TCP on the target port and on one nobody publishes, UDP on
  // the UDP target, all on any address of the sandbox.
  void listen() {
    for (std::uint16_t port : {kTcpTarget, kUnpublishedTarget}) {
      UniqueFd fd = socketIn(sandbox_, SOCK_STREAM);
      int on = 1;
      setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
      auto where = socketAddress(Ipv4Address(), port);
      ASSERT_EQ(bind(fd.get(), reinterpret_cast<sockaddr*>(&where), sizeof(where)), 0)
          << errnoText(errno);
      ASSERT_EQ(::listen(fd.get(), 16), 0);
      listeners_[port] = std::move(fd);
    }
    udp_ = socketIn(sandbox_, SOCK_DGRAM);
    auto where = socketAddress(Ipv4Address(), kUdpTarget);
    ASSERT_EQ(bind(udp_.get(), reinterpret_cast<sockaddr*>(&where), sizeof(where)), 0)
        << errnoText(errno);
  }

  // A TCP connection from namespace `from` to address:port, accepted by the backend's
  // listener on `backendPort`.
  Connection connectTo(const std::string& from, Ipv4Address address, std::uint16_t port,
                       std::uint16_t backendPort = kTcpTarget) {
    Connection connection;
    connection.client = socketIn(from, SOCK_STREAM | SOCK_NONBLOCK);
    auto target = socketAddress(address, port);
    if (connect(connection.client.get(), reinterpret_cast<sockaddr*>(&target), sizeof(target)) !=
            0 &&
        errno != EINPROGRESS) {
      connection.errnoValue = errno;
      connection.error = "connect: " + errnoText(errno);
      return connection;
    }
    if (!waitFor(connection.client.get(), POLLOUT, kTimeoutMs)) {
      connection.errnoValue = ETIMEDOUT;
      connection.error = "connect timed out";
      return connection;
    }
    int soError = 0;
    socklen_t length = sizeof(soError);
    getsockopt(connection.client.get(), SOL_SOCKET, SO_ERROR, &soError, &length);
    if (soError != 0) {
      connection.errnoValue = soError;
      connection.error = "connect: " + errnoText(soError);
      return connection;
    }
    const UniqueFd& listener = listeners_.at(backendPort);
    if (!waitFor(listener.get(), POLLIN, kTimeoutMs)) {
      connection.error = "the backend accepted nothing";
      return connection;
    }
    sockaddr_in peer{};
    socklen_t peerLength = sizeof(peer);
    connection.server = UniqueFd(
        accept4(listener.get(), reinterpret_cast<sockaddr*>(&peer), &peerLength, SOCK_CLOEXEC));
    if (!connection.server.valid()) {
      connection.error = "accept: " + errnoText(errno);
      return connection;
    }
    connection.peer = Ipv4Address::fromValue(ntohl(peer.sin_addr.s_addr));
    return connection;
  }

  // One datagram from namespace `from` to address:port and the backend's answer. Returns
  // the peer address the backend saw, or an error text.
  std::string udpRoundTrip(const std::string& from, Ipv4Address address, std::uint16_t port,
                           Ipv4Address& peerSeen) {
    UniqueFd fd = socketIn(from, SOCK_DGRAM);
    auto target = socketAddress(address, port);
    // Connected: the client takes answers only from address:port, so an answer that does
    // not come back through the node it was sent to never arrives.
    if (connect(fd.get(), reinterpret_cast<sockaddr*>(&target), sizeof(target)) != 0 ||
        send(fd.get(), "ask", 3, 0) != 3) {
      return "send: " + errnoText(errno);
    }
    if (!waitFor(udp_.get(), POLLIN, kTimeoutMs)) {
      return "the backend got nothing";
    }
    char buffer[64];
    sockaddr_in peer{};
    socklen_t length = sizeof(peer);
    ssize_t got = recvfrom(udp_.get(), buffer, sizeof(buffer), 0,
                           reinterpret_cast<sockaddr*>(&peer), &length);
    if (got != 3) {
      return "recvfrom: " + errnoText(errno);
    }
    peerSeen = Ipv4Address::fromValue(ntohl(peer.sin_addr.s_addr));
    sendto(udp_.get(), "answer", 6, 0, reinterpret_cast<sockaddr*>(&peer), length);
    if (!waitFor(fd.get(), POLLIN, kTimeoutMs)) {
      return "no answer came back";
    }
    got = recv(fd.get(), buffer, sizeof(buffer), 0);
    return got == 6 ? "" : "recv: " + errnoText(errno);
  }

  // The rules inside the backend's sandbox at `priority` (the fwmark rules by default).
  std::vector<PolicyRule> sandboxRules(std::uint32_t priority = kIngressRulePriority) {
    auto inside = Netlink::open(sandbox_);
    EXPECT_TRUE(inside) << inside.error().message;
    if (!inside) {
      return {};
    }
    auto rules = inside->listRules();
    EXPECT_TRUE(rules) << rules.error().message;
    std::vector<PolicyRule> found;
    for (const auto& rule : rules.value_or(std::vector<PolicyRule>{})) {
      if (rule.priority == priority) {
        found.push_back(rule);
      }
    }
    return found;
  }

  std::string base_;
  std::string hub_;
  std::string client_;
  std::string sandbox_;
  std::vector<LabNode> nodes_;
  std::vector<std::string> made_;
  std::vector<api::Network> networks_;
  std::vector<api::Node> records_;
  std::vector<api::Service> services_;
  std::vector<api::Task> tasks_;
  std::map<std::string, std::unique_ptr<LinuxNodeKernel>> kernels_;
  std::map<std::uint16_t, UniqueFd> listeners_;
  UniqueFd udp_;
};

TEST_F(MeshTest, ClientReachesTheBackendThroughANodeWithoutAReplicaKeepingItsAddress) {
  auto connection = connectTo(client_, node("n1").underlay, kTcpPublished);
  ASSERT_TRUE(connection.error.empty()) << connection.error;
  EXPECT_EQ(connection.peer, kClient) << "the backend saw " << connection.peer.toString();
  // The reply leaves through n1: were it routed out of m's gateway instead, the client
  // would get a SYN-ACK from an address it never called and the connection would not
  // complete, let alone carry data.
  EXPECT_EQ(talk(connection, "n1"), "");
}

TEST_F(MeshTest, UdpGoesThroughTheMeshAndBackTheSameWay) {
  // The backend's UDP socket is bound to 0.0.0.0, as most servers' are: its answers get
  // their source address from the sandbox's UDP source-port rule (ingress_rules.h).
  Ipv4Address peer;
  EXPECT_EQ(udpRoundTrip(client_, node("n1").underlay, kUdpPublished, peer), "");
  EXPECT_EQ(peer, kClient);
  EXPECT_EQ(udpRoundTrip(client_, node("n2").underlay, kUdpPublished, peer), "");
  EXPECT_EQ(peer, kClient);
}

TEST_F(MeshTest, EachNodeForwardsAndGetsItsOwnRepliesBack) {
  auto viaN1 = connectTo(client_, node("n1").underlay, kTcpPublished);
  ASSERT_TRUE(viaN1.error.empty()) << viaN1.error;
  auto viaN2 = connectTo(client_, node("n2").underlay, kTcpPublished);
  ASSERT_TRUE(viaN2.error.empty()) << viaN2.error;
  auto viaM = connectTo(client_, node("m").underlay, kTcpPublished);
  ASSERT_TRUE(viaM.error.empty()) << viaM.error;
  for (auto* connection : {&viaN1, &viaN2, &viaM}) {
    EXPECT_EQ(connection->peer, kClient);
  }
  // Interleaved, so that each reply must find its own node (n2's replies through n1
  // would meet no conntrack entry there and never reach the client as n2's answer).
  EXPECT_EQ(talk(viaN2, "n2"), "");
  EXPECT_EQ(talk(viaN1, "n1"), "");
  EXPECT_EQ(talk(viaM, "m"), "");
}

TEST_F(MeshTest, TheNodeItselfReachesItsPublishedPort) {
  auto fromN1 = connectTo(node("n1").ns, node("n1").underlay, kTcpPublished);
  ASSERT_TRUE(fromN1.error.empty()) << fromN1.error;
  EXPECT_EQ(fromN1.peer, node("n1").underlay);
  EXPECT_EQ(talk(fromN1, "self"), "");
  // Loopback is not published.
  auto loopback = connectTo(node("n1").ns, ip("127.0.0.1"), kTcpPublished);
  EXPECT_EQ(loopback.errnoValue, ECONNREFUSED) << loopback.error;
}

TEST_F(MeshTest, ATaskReachesANodesPublishedPortThroughItsGateway) {
  // The backend itself, as any task would: out of its gateway link, masqueraded by m,
  // published by n1, and back to itself through the mesh.
  auto connection = connectTo(sandbox_, node("n1").underlay, kTcpPublished);
  ASSERT_TRUE(connection.error.empty()) << connection.error;
  EXPECT_EQ(talk(connection, "task"), "");
}

TEST_F(MeshTest, OnlyTheTargetPortsAreReachableThroughTheIngressNetwork) {
  // n1 sits on the ingress network: the published target answers, another port of the
  // backend does not (dropped on the backend's ingress interface, so it times out).
  auto target = connectTo(node("n1").ns, kBackend, kTcpTarget);
  EXPECT_TRUE(target.error.empty()) << target.error;
  auto other = connectTo(node("n1").ns, kBackend, kUnpublishedTarget, kUnpublishedTarget);
  EXPECT_EQ(other.errnoValue, ETIMEDOUT) << other.error;
}

TEST_F(MeshTest, ANewConnectionFromTheIngressBridgeIntoTheNodeIsDropped) {
  // The backend (on the ingress network) tries n1's own ingress address: the node's input
  // chain drops it. A listener of n1 on any address would otherwise answer.
  UniqueFd nodeListener = socketIn(node("n1").ns, SOCK_STREAM);
  auto any = socketAddress(Ipv4Address(), 2222);
  ASSERT_EQ(bind(nodeListener.get(), reinterpret_cast<sockaddr*>(&any), sizeof(any)), 0);
  ASSERT_EQ(::listen(nodeListener.get(), 4), 0);
  UniqueFd fd = socketIn(sandbox_, SOCK_STREAM | SOCK_NONBLOCK);
  auto target = socketAddress(ip("10.99.0.11"), 2222);
  connect(fd.get(), reinterpret_cast<sockaddr*>(&target), sizeof(target));
  EXPECT_FALSE(waitFor(fd.get(), POLLOUT, 1000)) << "the connection went through";
  // From the underlay the same listener answers.
  UniqueFd outside = socketIn(client_, SOCK_STREAM);
  auto viaUnderlay = socketAddress(node("n1").underlay, 2222);
  EXPECT_EQ(connect(outside.get(), reinterpret_cast<sockaddr*>(&viaUnderlay), sizeof(viaUnderlay)),
            0)
      << errnoText(errno);
}

TEST_F(MeshTest, BackendChangesKeepEstablishedConnectionsAndAnEmptyPortRefuses) {
  auto connection = connectTo(client_, node("n1").underlay, kTcpPublished);
  ASSERT_TRUE(connection.error.empty()) << connection.error;
  ASSERT_EQ(talk(connection, "before"), "");

  // A second replica appears (nobody answers at its address; only the change matters).
  NodeMesh mesh = indexFor("n1").node();
  mesh.ports[0].backends.push_back({ip("10.99.0.22"), kTcpTarget});
  ASSERT_TRUE(applyMesh("n1", mesh));
  EXPECT_EQ(talk(connection, "two backends"), "");

  // Then every replica is gone: the port refuses new connections at once, the old one lives.
  for (auto& port : mesh.ports) {
    port.backends.clear();
  }
  ASSERT_TRUE(applyMesh("n1", mesh));
  EXPECT_EQ(talk(connection, "no backend"), "");
  auto refused = connectTo(client_, node("n1").underlay, kTcpPublished);
  EXPECT_EQ(refused.errnoValue, ECONNREFUSED) << refused.error;
  Ipv4Address peer;
  EXPECT_NE(udpRoundTrip(client_, node("n1").underlay, kUdpPublished, peer), "");

  // And back.
  ASSERT_TRUE(applyMesh("n1", indexFor("n1").node()));
  auto again = connectTo(client_, node("n1").underlay, kTcpPublished);
  EXPECT_TRUE(again.error.empty()) << again.error;
}

// A UDP client that keeps its socket is not pinned to a replica that left: the node
// forgets the flow, so the next datagram is balanced afresh (here: refused, no replica).
TEST_F(MeshTest, AUdpFlowToAReplicaThatLeftIsForgottenByTheNode) {
  UniqueFd client = socketIn(client_, SOCK_DGRAM);
  auto target = socketAddress(node("n1").underlay, kUdpPublished);
  ASSERT_EQ(connect(client.get(), reinterpret_cast<sockaddr*>(&target), sizeof(target)), 0)
      << errnoText(errno);
  auto exchange = [&](const char* text) -> bool {
    if (send(client.get(), text, 3, 0) != 3 || !waitFor(udp_.get(), POLLIN, kTimeoutMs)) {
      return false;
    }
    char buffer[64];
    sockaddr_in peer{};
    socklen_t length = sizeof(peer);
    return recvfrom(udp_.get(), buffer, sizeof(buffer), 0, reinterpret_cast<sockaddr*>(&peer),
                    &length) == 3;
  };
  ASSERT_TRUE(exchange("one")) << "the first datagram reaches the backend";
  ASSERT_TRUE(exchange("two")) << "the same flow keeps reaching it";

  NodeMesh mesh = indexFor("n1").node();
  for (auto& port : mesh.ports) {
    if (port.protocol == "udp") {
      port.backends.clear();
    }
  }
  ASSERT_TRUE(applyMesh("n1", mesh));
  // Without the flow deleted, conntrack would still send this one to the old backend.
  send(client.get(), "thr", 3, 0);
  EXPECT_FALSE(waitFor(udp_.get(), POLLIN, 500))
      << "the node still sends the old flow to a replica that left the port";
}

TEST_F(MeshTest, ARestartedAgentReplacesTheTablesWithoutDroppingAStream) {
  auto connection = connectTo(client_, node("n1").underlay, kTcpPublished);
  ASSERT_TRUE(connection.error.empty()) << connection.error;
  ASSERT_EQ(talk(connection, "before"), "");

  // Fresh kernels on n1 and m (nothing remembered): both replace their tables whole.
  kernels_["n1"] = std::make_unique<LinuxNodeKernel>();
  kernels_["m"] = std::make_unique<LinuxNodeKernel>();
  ASSERT_TRUE(applyMesh("n1", indexFor("n1").node()));
  auto reapplied = applyIngress(indexFor("m").forSandbox(tasks_[0]));
  ASSERT_TRUE(reapplied) << reapplied.error().message;
  EXPECT_EQ(talk(connection, "after restart"), "");
  for (int i = 0; i < 20; ++i) {
    ASSERT_EQ(talk(connection, fmt::format("stream {}", i)), "");
  }
  auto fresh = connectTo(client_, node("n1").underlay, kTcpPublished);
  EXPECT_TRUE(fresh.error.empty()) << fresh.error;
  EXPECT_EQ(sandboxRules().size(), 3u) << "no duplicate rules";
}

TEST_F(MeshTest, NodesLeavingTheSandboxesViewLoseTheirRuleAndRouteOnly) {
  auto rules = sandboxRules();
  ASSERT_EQ(rules.size(), 3u);
  for (const auto& rule : rules) {
    EXPECT_EQ(rule.priority, kIngressRulePriority);
    EXPECT_EQ(rule.fwmark, rule.table);
  }
  auto ingress = indexFor("m").forSandbox(tasks_[0]);
  auto leaving = ingress.nodes[1];  // n2
  ASSERT_EQ(leaving.address, ip("10.99.0.12"));
  ingress.nodes.erase(ingress.nodes.begin() + 1);
  ASSERT_TRUE(applyIngress(ingress));
  rules = sandboxRules();
  ASSERT_EQ(rules.size(), 2u);
  for (const auto& rule : rules) {
    EXPECT_NE(rule.fwmark, ingressMark(leaving.address));
  }
  auto inside = Netlink::open(sandbox_);
  ASSERT_TRUE(inside);
  EXPECT_TRUE(inside->listRoutes(ingressMark(leaving.address))->empty());
  EXPECT_EQ(inside->listRoutes(ingressMark(ip("10.99.0.11")))->size(), 1u);
  // n1 still works.
  auto viaN1 = connectTo(client_, node("n1").underlay, kTcpPublished);
  EXPECT_TRUE(viaN1.error.empty()) << viaN1.error;

  // No UDP port any more: the source-port rules and their table go, the rest stays.
  ASSERT_EQ(sandboxRules(kIngressSourceRulePriority).size(), 1u);
  ingress.udpPorts.clear();
  ASSERT_TRUE(applyIngress(ingress));
  EXPECT_TRUE(sandboxRules(kIngressSourceRulePriority).empty());
  EXPECT_TRUE(sandboxRules(kIngressMainRulePriority).empty());
  EXPECT_TRUE(inside->listRoutes(kIngressSourceTable)->empty());
  EXPECT_EQ(sandboxRules().size(), 2u);

  // Nothing wanted: rules, routes and table go.
  ASSERT_TRUE(applyIngress(SandboxIngress{}));
  EXPECT_TRUE(sandboxRules().empty());
  EXPECT_TRUE(inside->listRoutes(ingressMark(ip("10.99.0.11")))->empty());
  auto nft = Nftables::open(sandbox_);
  ASSERT_TRUE(nft);
  auto table = nft->listTableJson(kIngressFamily, kIngressTable);
  ASSERT_FALSE(table);
  EXPECT_EQ(table.error().kind, ErrorKind::NotFound);
}

TEST_F(MeshTest, AnEmptyMeshRemovesTheNodesTable) {
  ASSERT_TRUE(applyMesh("n2", NodeMesh{}));
  auto nft = Nftables::open(node("n2").ns);
  ASSERT_TRUE(nft);
  auto table = nft->listTableJson(kMeshFamily, kMeshTable);
  ASSERT_FALSE(table);
  EXPECT_EQ(table.error().kind, ErrorKind::NotFound);
  auto refused = connectTo(client_, node("n2").underlay, kTcpPublished);
  EXPECT_EQ(refused.errnoValue, ECONNREFUSED) << refused.error;
}

TEST_F(MeshTest, AHostModePortGoesStraightToTheLocalTaskThroughTheGatewayBridge) {
  // What MeshIndex gives m for a host-mode port: its local task at its gateway-bridge
  // address. n1 has no local task and opens nothing.
  NodeMesh mesh = indexFor("m").node();
  mesh.ports.push_back({"tcp", 8080, "api", {{ip("172.31.0.2"), kTcpTarget}}});
  ASSERT_TRUE(applyMesh("m", mesh));
  auto connection = connectTo(client_, node("m").underlay, 8080);
  ASSERT_TRUE(connection.error.empty()) << connection.error;
  EXPECT_EQ(connection.peer, kClient);
  EXPECT_EQ(talk(connection, "host mode"), "");
  auto elsewhere = connectTo(client_, node("n1").underlay, 8080);
  EXPECT_EQ(elsewhere.errnoValue, ECONNREFUSED) << elsewhere.error;
}

TEST_F(MeshTest, TheIngressBridgeHoldsTheNodesEndpointWithItsOwnMac) {
  auto plan = planNode("n1", node("n1").underlay, 1500, networks_, records_, tasks_, true);
  ASSERT_FALSE(plan.networks.empty());
  auto nl = Netlink::open(node("n1").ns);
  ASSERT_TRUE(nl);
  auto bridge = nl->link(plan.networks[0].bridge);
  ASSERT_TRUE(bridge) << bridge.error().message;
  EXPECT_EQ(bridge->mac, macForIp(ip("10.99.0.11")));
  auto addresses = nl->listAddresses(plan.networks[0].bridge);
  ASSERT_TRUE(addresses);
  ASSERT_EQ(addresses->size(), 1u);
  EXPECT_EQ(addresses->front().address, prefix("10.99.0.11/24"));
  // A second pass changes nothing.
  auto again = onNode("n1", [&]() -> Status {
    auto second = kernels_.at("n1")->applyOverlay(plan.networks, node("n1").underlay);
    if (second.mutations() != 0 || !second.problems.empty()) {
      return errorf(ErrorKind::Internal, "{} mutations on a second pass", second.mutations());
    }
    return {};
  });
  EXPECT_TRUE(again) << again.error().message;
}

}  // namespace
}  // namespace overmesh::dataplane::kernel
