// Kernel tier: the members-only underlay (NftUnderlayFilter, and the agent's UnderlayGuard
// over it) with real traffic. Each test builds its own small underlay ("omuf<pid>-<n>…"):
// a hub namespace with a bridge, and on it a node (198.18.91.1, the filter's namespace), a
// member (.2) and an outsider (.3). The node listens on UDP 4789 (a plain socket: what
// reaches it would reach a VXLAN device), on the node port and on the cluster port. Every
// namespace is deleted in TearDown, also when the test fails; nothing touches the
// machine's own.

#include "dataplane/linux/underlay_filter.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "daemon/underlay_guard.h"
#include "dataplane/linux/netlink.h"
#include "dataplane/linux/netns.h"
#include "dataplane/linux/nftables.h"
#include "support/ip_helpers.h"
#include "support/process.h"

namespace overmesh::dataplane::kernel {
namespace {

using ::overmesh::testing::ip;

const Ipv4Address kNodeAddress = ip("198.18.91.1");
const Ipv4Address kMemberAddress = ip("198.18.91.2");
const Ipv4Address kOutsiderAddress = ip("198.18.91.3");
constexpr std::uint16_t kVxlan = 4789;
constexpr std::uint16_t kNodePort = 2378;
constexpr std::uint16_t kClusterPort = 2377;
constexpr UnderlayPorts kPorts{kVxlan, kNodePort};

sockaddr_in underlayAddress(Ipv4Address address, std::uint16_t port) {
  sockaddr_in result{};
  result.sin_family = AF_INET;
  result.sin_port = htons(port);
  result.sin_addr.s_addr = htonl(address.value());
  return result;
}

// A socket of `type` made inside `ns` (it stays in that namespace); bound to `port` when
// non-zero, and listening when it is a TCP socket with a port.
UniqueFd underlaySocket(const std::string& ns, int type, std::uint16_t port = 0) {
  auto fd = runInNamespace(ns, [type, port]() -> Result<int> {
    int made = socket(AF_INET, type | SOCK_CLOEXEC, 0);
    if (made < 0) {
      return errorf(ErrorKind::Unavailable, "socket: {}", errnoText(errno));
    }
    if (port == 0) {
      return made;
    }
    UniqueFd owned(made);  // closed if the steps below fail
    int one = 1;
    setsockopt(made, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    auto address = underlayAddress(Ipv4Address(), port);
    if (bind(made, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
      return errorf(ErrorKind::Unavailable, "bind {}: {}", port, errnoText(errno));
    }
    if (type == SOCK_STREAM && listen(made, 8) != 0) {
      return errorf(ErrorKind::Unavailable, "listen: {}", errnoText(errno));
    }
    return dup(made);  // the owned copy closes; the duplicate goes to the caller
  });
  EXPECT_TRUE(fd) << fd.error().message;
  return UniqueFd(fd.value_or(-1));
}

bool readable(int fd, int timeoutMs) {
  pollfd entry{fd, POLLIN, 0};
  return poll(&entry, 1, timeoutMs) == 1 && (entry.revents & POLLIN) != 0;
}

class UnderlayFilterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!overmesh::testing::canUseNamespaces()) {
      GTEST_SKIP() << "needs root to create network namespaces";
    }
    static int counter = 0;
    base_ = fmt::format("omuf{}-{}", getpid(), ++counter);
    hub_ = makeNamespace("h");
    node_ = makeNamespace("n");
    member_ = makeNamespace("m");
    outsider_ = makeNamespace("o");
    auto hub = Netlink::open(hub_);
    ASSERT_TRUE(hub) << hub.error().message;
    ASSERT_TRUE(hub->createBridge("br0", 1500));
    ASSERT_TRUE(hub->setUp("br0"));
    ASSERT_NO_FATAL_FAILURE(attach(*hub, node_, "un", kNodeAddress));
    ASSERT_NO_FATAL_FAILURE(attach(*hub, member_, "um", kMemberAddress));
    ASSERT_NO_FATAL_FAILURE(attach(*hub, outsider_, "uo", kOutsiderAddress));
    vxlanSocket_ = underlaySocket(node_, SOCK_DGRAM, kVxlan);
    nodePortSocket_ = underlaySocket(node_, SOCK_STREAM, kNodePort);
    clusterPortSocket_ = underlaySocket(node_, SOCK_STREAM, kClusterPort);
    ASSERT_TRUE(vxlanSocket_.valid() && nodePortSocket_.valid() && clusterPortSocket_.valid());
    // A bridge port forwards only once the kernel's link watch has seen its carrier (up to
    // a second after the link came up): wait until both senders reach the node, so that a
    // packet the tests expect to be dropped is never lost on the way instead.
    for (const auto& ns : {member_, outsider_}) {
      bool reached = false;
      for (int attempt = 0; attempt < 30 && !reached; ++attempt) {
        reached = datagramArrives(ns, "warm-up-" + std::to_string(attempt), 100);
      }
      ASSERT_TRUE(reached) << ns << " cannot reach the node";
    }
    filter_ = std::make_unique<NftUnderlayFilter>(kPorts, node_);
  }

  void TearDown() override {
    filter_.reset();
    vxlanSocket_.reset();
    nodePortSocket_.reset();
    clusterPortSocket_.reset();
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

  // Sends one datagram from `ns` to the node's VXLAN port; true when the node's socket
  // receives exactly it within `timeoutMs`.
  bool datagramArrives(const std::string& ns, const std::string& payload, int timeoutMs = 1000) {
    UniqueFd sender = underlaySocket(ns, SOCK_DGRAM);
    auto to = underlayAddress(kNodeAddress, kVxlan);
    EXPECT_EQ(sendto(sender.get(), payload.data(), payload.size(), 0,
                     reinterpret_cast<sockaddr*>(&to), sizeof(to)),
              static_cast<ssize_t>(payload.size()))
        << errnoText(errno);
    while (readable(vxlanSocket_.get(), timeoutMs)) {
      char buffer[512];
      ssize_t got = recv(vxlanSocket_.get(), buffer, sizeof(buffer), 0);
      if (got > 0 && std::string(buffer, static_cast<std::size_t>(got)) == payload) {
        return true;
      }
    }
    return false;
  }

  // Whether a TCP connection from `ns` to the node's `port` is established within
  // `timeoutMs` (a dropped SYN is retried by the kernel, never refused).
  bool connects(const std::string& ns, std::uint16_t port, int timeoutMs = 1000) {
    UniqueFd client = underlaySocket(ns, SOCK_STREAM);
    fcntl(client.get(), F_SETFL, fcntl(client.get(), F_GETFL) | O_NONBLOCK);
    auto to = underlayAddress(kNodeAddress, port);
    if (connect(client.get(), reinterpret_cast<sockaddr*>(&to), sizeof(to)) == 0) {
      return true;
    }
    if (errno != EINPROGRESS) {
      return false;
    }
    pollfd entry{client.get(), POLLOUT, 0};
    if (poll(&entry, 1, timeoutMs) != 1) {
      return false;
    }
    int error = 0;
    socklen_t length = sizeof(error);
    getsockopt(client.get(), SOL_SOCKET, SO_ERROR, &error, &length);
    return error == 0;
  }

  UnderlayDropCounters counters() {
    auto read = filter_->dropCounters();
    EXPECT_TRUE(read) << read.error().message;
    return read.value_or(UnderlayDropCounters{});
  }

  // The table's member set as the nft command lists it inside the node's namespace (only
  // to observe).
  std::vector<std::string> listedMembers() {
    auto listed = overmesh::testing::runCommand({"/usr/sbin/ip", "netns", "exec", node_,
                                                 "/usr/sbin/nft", "-j", "list", "set", "inet",
                                                 "overmesh_underlay", "members"});
    EXPECT_EQ(listed.exitCode, 0) << listed.err;
    auto listing = nlohmann::json::parse(listed.out, nullptr, false);
    std::vector<std::string> members;
    if (!listing.is_object() || !listing.contains("nftables")) {
      ADD_FAILURE() << "nft printed: " << listed.out;
      return members;
    }
    for (const auto& item : listing["nftables"]) {
      if (item.contains("set") && item["set"].contains("elem")) {
        for (const auto& element : item["set"]["elem"]) {
          members.push_back(element.get<std::string>());
        }
      }
    }
    return members;
  }

  std::string base_;
  std::string hub_;
  std::string node_;
  std::string member_;
  std::string outsider_;
  std::vector<std::string> made_;
  UniqueFd vxlanSocket_;
  UniqueFd nodePortSocket_;
  UniqueFd clusterPortSocket_;
  std::unique_ptr<NftUnderlayFilter> filter_;
};

TEST_F(UnderlayFilterTest, WithoutTheTableEveryoneReachesTheNode) {
  auto installed = filter_->installed();
  ASSERT_TRUE(installed) << installed.error().message;
  EXPECT_FALSE(*installed);
  EXPECT_TRUE(datagramArrives(outsider_, "before"));
  EXPECT_TRUE(connects(outsider_, kNodePort));
}

TEST_F(UnderlayFilterTest, InstallsTheTableWithItsMembersAndZeroCounters) {
  ASSERT_TRUE(filter_->apply({kNodeAddress, kMemberAddress}));
  EXPECT_TRUE(filter_->installed().value_or(false));
  EXPECT_EQ(listedMembers(), (std::vector<std::string>{"198.18.91.1", "198.18.91.2"}));
  EXPECT_EQ(counters(), UnderlayDropCounters{});
}

TEST_F(UnderlayFilterTest, AMembersVxlanPassesAndANonMembersIsDroppedAndCounted) {
  ASSERT_TRUE(filter_->apply({kNodeAddress, kMemberAddress}));
  EXPECT_TRUE(datagramArrives(member_, "from-member"));
  EXPECT_FALSE(datagramArrives(outsider_, "from-outsider", 500));
  auto dropped = counters();
  EXPECT_EQ(dropped.vxlanPackets, 1u);
  EXPECT_EQ(dropped.vxlanBytes, 20u + 8u + std::string("from-outsider").size());
  EXPECT_EQ(dropped.nodePortPackets, 0u);
}

TEST_F(UnderlayFilterTest, TheNodePortIsForMembersAndTheClusterPortForEveryone) {
  ASSERT_TRUE(filter_->apply({kNodeAddress, kMemberAddress}));
  EXPECT_TRUE(connects(member_, kNodePort));
  EXPECT_FALSE(connects(outsider_, kNodePort, 500));
  EXPECT_GE(counters().nodePortPackets, 1u);
  EXPECT_TRUE(connects(outsider_, kClusterPort));
  EXPECT_EQ(counters().vxlanPackets, 0u);
}

TEST_F(UnderlayFilterTest, ElementChangesTakeEffectAndKeepTheCounters) {
  ASSERT_TRUE(filter_->apply({kNodeAddress}));
  EXPECT_FALSE(datagramArrives(member_, "not-yet", 300));
  ASSERT_EQ(counters().vxlanPackets, 1u);

  // The member joins: an element is added; the table (and its counter) stays.
  ASSERT_TRUE(filter_->apply({kNodeAddress, kMemberAddress}));
  EXPECT_TRUE(datagramArrives(member_, "joined"));
  EXPECT_EQ(counters().vxlanPackets, 1u);

  // It leaves and the outsider joins.
  ASSERT_TRUE(filter_->apply({kNodeAddress, kOutsiderAddress}));
  EXPECT_FALSE(datagramArrives(member_, "left", 300));
  EXPECT_TRUE(datagramArrives(outsider_, "now-a-member"));
  EXPECT_EQ(counters().vxlanPackets, 2u);
  EXPECT_EQ(listedMembers(), (std::vector<std::string>{"198.18.91.1", "198.18.91.3"}));
}

TEST_F(UnderlayFilterTest, ANewInstanceResetsATableLeftBehindToTheCurrentMembers) {
  ASSERT_TRUE(filter_->apply({kNodeAddress, kOutsiderAddress}));
  EXPECT_FALSE(datagramArrives(member_, "dropped", 300));
  // A restarted daemon: a new filter, whose first apply replaces the whole table.
  NftUnderlayFilter restarted(kPorts, node_);
  EXPECT_TRUE(restarted.installed().value_or(false));
  ASSERT_TRUE(restarted.apply({kNodeAddress, kMemberAddress}));
  EXPECT_EQ(listedMembers(), (std::vector<std::string>{"198.18.91.1", "198.18.91.2"}));
  EXPECT_EQ(counters(), UnderlayDropCounters{});
  EXPECT_TRUE(datagramArrives(member_, "member-again"));
}

TEST_F(UnderlayFilterTest, AnUpdateAfterTheTableVanishedInstallsItWhole) {
  ASSERT_TRUE(filter_->apply({kNodeAddress}));
  ASSERT_TRUE(removeUnderlayFilter(node_));
  ASSERT_TRUE(filter_->apply({kNodeAddress, kMemberAddress}));
  EXPECT_EQ(listedMembers(), (std::vector<std::string>{"198.18.91.1", "198.18.91.2"}));
  EXPECT_FALSE(datagramArrives(outsider_, "still-dropped", 300));
}

// The agent's guard over the real filter: someone deletes the table (as `nft flush
// ruleset` or a firewalld reload would); the guard's idle check puts it back whole.
TEST_F(UnderlayFilterTest, TheGuardReinstallsATableSomeoneElseDeleted) {
  using namespace std::chrono_literals;
  daemon::UnderlayGuard guard(std::make_unique<NftUnderlayFilter>(kPorts, node_), {kNodeAddress},
                              100ms, 100ms);
  guard.addFixedMember(kMemberAddress);
  const std::vector<std::string> wanted{"198.18.91.1", "198.18.91.2"};
  // The table there with both members (the guard may first install the node alone).
  auto waitForTable = [&] {
    for (int i = 0; i < 100; ++i) {
      if (filter_->installed().value_or(false) && listedMembers() == wanted) {
        return true;
      }
      std::this_thread::sleep_for(50ms);
    }
    return false;
  };
  ASSERT_TRUE(waitForTable());
  EXPECT_FALSE(datagramArrives(outsider_, "guarded", 300));

  ASSERT_TRUE(removeUnderlayFilter(node_));
  ASSERT_TRUE(waitForTable()) << "the guard did not reinstall the table";
  EXPECT_TRUE(datagramArrives(member_, "member-after"));
  EXPECT_FALSE(datagramArrives(outsider_, "dropped-again", 300));
  EXPECT_EQ(guard.problem(), "");
}

TEST_F(UnderlayFilterTest, RemoveLeavesNoTableAndOpensThePortsAgain) {
  ASSERT_TRUE(filter_->apply({kNodeAddress}));
  ASSERT_TRUE(filter_->remove());
  EXPECT_FALSE(filter_->installed().value_or(true));
  auto listed = runInNamespace(node_, []() -> Result<std::string> {
    auto nft = Nftables::open("");
    if (!nft) {
      return std::unexpected(nft.error());
    }
    return nft->listTableJson(kUnderlayFamily, kUnderlayTable);
  });
  ASSERT_FALSE(listed);
  EXPECT_EQ(listed.error().kind, ErrorKind::NotFound);
  EXPECT_TRUE(datagramArrives(outsider_, "open-again"));
  EXPECT_TRUE(filter_->remove());  // nothing left to remove
  auto counters = readUnderlayDropCounters(node_);
  ASSERT_FALSE(counters);
  EXPECT_EQ(counters.error().kind, ErrorKind::NotFound);
}

}  // namespace
}  // namespace overmesh::dataplane::kernel
