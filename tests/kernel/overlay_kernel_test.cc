// Kernel tier: the overlay half of the libnl wrapper (VXLAN devices, FDB and neighbour
// entries, routes, addresses, link listing) against the real kernel, and the overlay itself:
// two simulated hosts joined by a veth underlay, one task namespace on each, traffic between
// the tasks carried by VXLAN with static entries only. Every namespace is the test's own
// ("omko<pid>-<n>…") and is deleted in TearDown, also when the test fails.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/ip.h"
#include "common/mac.h"
#include "dataplane/linux/netlink.h"
#include "dataplane/linux/netns.h"
#include "support/ip_helpers.h"
#include "support/process.h"

namespace overmesh::dataplane::kernel {
namespace {

using overmesh::testing::runCommand;

constexpr std::uint16_t kVxlanPort = 4789;
constexpr std::uint32_t kVni = 4096;

using ::overmesh::testing::ip;
Ipv4Prefix prefix(std::string_view text) { return Ipv4Prefix::parse(text).value(); }
MacAddress mac(std::string_view text) { return MacAddress::parse(text).value(); }

// `TOOL -n NS -j ARGS...` parsed (ip or bridge, only to observe); null when it fails.
nlohmann::json toolJson(const std::string& tool, const std::string& ns,
                        const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"/usr/sbin/" + tool, "-n", ns, "-j"};
  argv.insert(argv.end(), args.begin(), args.end());
  auto result = runCommand(argv);
  if (result.exitCode != 0) {
    return nullptr;
  }
  return nlohmann::json::parse(result.out, nullptr, false);
}

// Namespaces made for one test and removed at its end, each with a Netlink bound to it.
class OverlayKernelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!overmesh::testing::canUseNamespaces()) {
      GTEST_SKIP() << "needs root to create network namespaces";
    }
    static int counter = 0;
    base_ = fmt::format("omko{}-{}", getpid(), ++counter);
  }

  void TearDown() override {
    netlinks_.clear();
    fds_.clear();
    for (const auto& ns : made_) {
      EXPECT_TRUE(deleteNamespace(ns)) << ns;
    }
  }

  // Creates the namespace `<base><role>` and returns its full name.
  std::string makeNamespace(const std::string& role) {
    std::string name = base_ + role;
    auto made = createNamespace(name);
    EXPECT_TRUE(made) << (made ? "" : made.error().message);
    if (made) {
      made_.push_back(name);
    }
    return name;
  }

  Netlink& nl(const std::string& ns) {
    auto found = netlinks_.find(ns);
    if (found == netlinks_.end()) {
      auto opened = Netlink::open(ns);
      if (!opened) {
        // Nothing else in the test can be right. gtest reports the exception as a failure
        // and still runs TearDown, which removes the namespaces.
        throw std::runtime_error(opened.error().message);
      }
      found = netlinks_.emplace(ns, std::make_unique<Netlink>(std::move(*opened))).first;
    }
    return *found->second;
  }

  int fdOf(const std::string& ns) {
    auto fd = openNamespace(ns);
    EXPECT_TRUE(fd) << fd.error().message;
    if (!fd) {
      return -1;
    }
    fds_.push_back(std::move(*fd));
    return fds_.back().get();
  }

  // Two namespaces joined by veth "v0" <-> "v0", 198.18.9.1/24 and .2/24, both up.
  void makeLinkedPair(std::string& a, std::string& b) {
    a = makeNamespace("a");
    b = makeNamespace("b");
    ASSERT_TRUE(nl(a).createVethPair("v0", "v0", fdOf(b), 1500));
    ASSERT_TRUE(nl(a).addAddress("v0", prefix("198.18.9.1/24")));
    ASSERT_TRUE(nl(b).addAddress("v0", prefix("198.18.9.2/24")));
    ASSERT_TRUE(nl(a).setUp("v0"));
    ASSERT_TRUE(nl(b).setUp("v0"));
  }

  std::string base_;
  std::vector<std::string> made_;
  std::map<std::string, std::unique_ptr<Netlink>> netlinks_;
  std::vector<UniqueFd> fds_;
};

// ---- sockets inside namespaces ----------------------------------------------------------------

// A socket created inside `ns`: it stays bound to that namespace whichever thread uses it.
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

// Binds `fd` to address:0 and returns the port the kernel picked.
std::uint16_t bindAnyPort(int fd, Ipv4Address address) {
  sockaddr_in local = socketAddress(address, 0);
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof(local)), 0) << errnoText(errno);
  socklen_t length = sizeof(local);
  EXPECT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&local), &length), 0);
  return ntohs(local.sin_port);
}

bool waitFor(int fd, short events, int timeoutMs) {
  pollfd entry{fd, events, 0};
  return poll(&entry, 1, timeoutMs) == 1 && (entry.revents & events) != 0;
}

// A TCP listener on address:port-0 inside `ns`.
struct Listener {
  UniqueFd fd;
  std::uint16_t port = 0;
};

Listener listenIn(const std::string& ns, Ipv4Address address) {
  Listener listener{socketIn(ns, SOCK_STREAM), 0};
  listener.port = bindAnyPort(listener.fd.get(), address);
  EXPECT_EQ(listen(listener.fd.get(), 4), 0) << errnoText(errno);
  return listener;
}

// Connects from `ns` to address:port, sends `payload` and checks that the listener gets it.
// Returns an empty string on success, else what went wrong (a timeout included).
std::string tcpExchange(const std::string& ns, Listener& listener, Ipv4Address address,
                        const std::string& payload, int timeoutMs) {
  UniqueFd client = socketIn(ns, SOCK_STREAM | SOCK_NONBLOCK);
  sockaddr_in remote = socketAddress(address, listener.port);
  if (connect(client.get(), reinterpret_cast<sockaddr*>(&remote), sizeof(remote)) != 0 &&
      errno != EINPROGRESS) {
    return "connect: " + errnoText(errno);
  }
  if (!waitFor(client.get(), POLLOUT, timeoutMs)) {
    return "connect timed out";
  }
  int soError = 0;
  socklen_t length = sizeof(soError);
  getsockopt(client.get(), SOL_SOCKET, SO_ERROR, &soError, &length);
  if (soError != 0) {
    return "connect: " + errnoText(soError);
  }
  if (!waitFor(listener.fd.get(), POLLIN, timeoutMs)) {
    return "accept timed out";
  }
  UniqueFd accepted(accept4(listener.fd.get(), nullptr, nullptr, SOCK_CLOEXEC));
  if (!accepted.valid()) {
    return "accept: " + errnoText(errno);
  }
  if (send(client.get(), payload.data(), payload.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(payload.size())) {
    return "send: " + errnoText(errno);
  }
  std::string received;
  while (received.size() < payload.size()) {
    if (!waitFor(accepted.get(), POLLIN, timeoutMs)) {
      return "receive timed out";
    }
    char buffer[4096];
    ssize_t got = recv(accepted.get(), buffer, sizeof(buffer), 0);
    if (got <= 0) {
      return "receive: connection closed";
    }
    received.append(buffer, static_cast<std::size_t>(got));
  }
  return received == payload ? "" : "payload differs";
}

// ---- VXLAN devices ----------------------------------------------------------------------------

TEST_F(OverlayKernelTest, CreatesAVxlanDeviceForStaticPeersOnly) {
  std::string ns = makeNamespace("h");
  ASSERT_TRUE(nl(ns).createVxlan("vx0", kVni, ip("198.18.0.1"), kVxlanPort, 1450));

  auto info = nl(ns).vxlanInfo("vx0");
  ASSERT_TRUE(info) << info.error().message;
  EXPECT_EQ(info->vni, kVni);
  EXPECT_EQ(info->local, ip("198.18.0.1"));
  EXPECT_EQ(info->port, kVxlanPort);
  EXPECT_FALSE(info->learning);
  EXPECT_TRUE(info->proxy);
  EXPECT_EQ(info->mtu, 1450u);

  auto shown = toolJson("ip", ns, {"-d", "link", "show", "vx0"});
  ASSERT_TRUE(shown.is_array() && shown.size() == 1) << shown.dump();
  EXPECT_EQ(shown[0]["mtu"], 1450);
  auto& linkinfo = shown[0]["linkinfo"];
  EXPECT_EQ(linkinfo["info_kind"], "vxlan");
  auto& data = linkinfo["info_data"];
  EXPECT_EQ(data["id"], kVni) << data.dump();
  EXPECT_EQ(data["local"], "198.18.0.1") << data.dump();
  EXPECT_EQ(data["port"], kVxlanPort) << data.dump();
  EXPECT_EQ(data["learning"], false) << data.dump();
  EXPECT_EQ(data["proxy"], true) << data.dump();
  EXPECT_FALSE(data.contains("remote")) << data.dump();
  EXPECT_FALSE(data.contains("group")) << data.dump();
  EXPECT_FALSE(data.contains("link")) << data.dump();
}

TEST_F(OverlayKernelTest, VxlanInfoIsStableSoAReconcilerCanAdoptTheDevice) {
  std::string ns = makeNamespace("h");
  ASSERT_TRUE(nl(ns).createVxlan("vx0", kVni, ip("198.18.0.1"), kVxlanPort, 1450));
  auto first = nl(ns).vxlanInfo("vx0");
  ASSERT_TRUE(nl(ns).setUp("vx0"));
  auto second = nl(ns).vxlanInfo("vx0");
  ASSERT_TRUE(first && second);
  EXPECT_EQ(first->vni, second->vni);
  EXPECT_EQ(first->local, second->local);
  EXPECT_EQ(first->port, second->port);
  EXPECT_EQ(first->learning, second->learning);
  EXPECT_EQ(first->proxy, second->proxy);
  EXPECT_EQ(first->mtu, second->mtu);

  // A fresh socket (an agent restarted) reads the same.
  auto reopened = Netlink::open(ns);
  ASSERT_TRUE(reopened);
  auto third = reopened->vxlanInfo("vx0");
  ASSERT_TRUE(third);
  EXPECT_EQ(third->vni, kVni);
  EXPECT_EQ(third->local, ip("198.18.0.1"));
}

TEST_F(OverlayKernelTest, CreatingAVxlanOverAnExistingNameIsAConflict) {
  std::string ns = makeNamespace("h");
  ASSERT_TRUE(nl(ns).createVxlan("vx0", kVni, ip("198.18.0.1"), kVxlanPort, 1450));
  auto again = nl(ns).createVxlan("vx0", kVni, ip("198.18.0.1"), kVxlanPort, 1450);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().kind, ErrorKind::Conflict) << again.error().message;
  EXPECT_NE(again.error().message.find("\"vx0\""), std::string::npos) << again.error().message;
  EXPECT_NE(again.error().message.find(ns), std::string::npos) << again.error().message;

  ASSERT_TRUE(nl(ns).createBridge("br0", 1500));
  auto overBridge = nl(ns).createVxlan("br0", kVni + 1, ip("198.18.0.1"), kVxlanPort, 1450);
  ASSERT_FALSE(overBridge);
  EXPECT_EQ(overBridge.error().kind, ErrorKind::Conflict) << overBridge.error().message;
}

TEST_F(OverlayKernelTest, VxlanInfoOfAnotherKindOrAMissingDeviceFails) {
  std::string ns = makeNamespace("h");
  ASSERT_TRUE(nl(ns).createBridge("br0", 1500));
  auto bridge = nl(ns).vxlanInfo("br0");
  ASSERT_FALSE(bridge);
  EXPECT_EQ(bridge.error().kind, ErrorKind::InvalidArgument) << bridge.error().message;
  EXPECT_NE(bridge.error().message.find("bridge"), std::string::npos) << bridge.error().message;
  auto missing = nl(ns).vxlanInfo("nope");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().kind, ErrorKind::NotFound);
  EXPECT_NE(missing.error().message.find("\"nope\""), std::string::npos);
}

TEST_F(OverlayKernelTest, RefusesAVniOrPortOutOfRange) {
  std::string ns = makeNamespace("h");
  auto bigVni = nl(ns).createVxlan("vx0", Netlink::kMaxVni + 1, ip("198.18.0.1"), kVxlanPort, 1450);
  ASSERT_FALSE(bigVni);
  EXPECT_EQ(bigVni.error().kind, ErrorKind::InvalidArgument);
  auto noPort = nl(ns).createVxlan("vx0", kVni, ip("198.18.0.1"), 0, 1450);
  ASSERT_FALSE(noPort);
  EXPECT_EQ(noPort.error().kind, ErrorKind::InvalidArgument);
  EXPECT_FALSE(nl(ns).linkExists("vx0").value_or(true));
}

// ---- FDB entries ------------------------------------------------------------------------------

TEST_F(OverlayKernelTest, AddsStaticFdbEntriesIdempotently) {
  std::string ns = makeNamespace("h");
  ASSERT_TRUE(nl(ns).createVxlan("vx0", kVni, ip("198.18.0.1"), kVxlanPort, 1450));
  MacAddress peer = macForIp(ip("10.0.15.3"));
  ASSERT_TRUE(nl(ns).addFdbEntry("vx0", peer, ip("198.18.0.2")));
  ASSERT_TRUE(nl(ns).addFdbEntry("vx0", peer, ip("198.18.0.2")));

  auto entries = nl(ns).listFdbEntries("vx0");
  ASSERT_TRUE(entries) << entries.error().message;
  EXPECT_EQ(*entries, (std::vector<FdbEntry>{{peer, ip("198.18.0.2")}}));

  auto shown = toolJson("bridge", ns, {"fdb", "show", "dev", "vx0"});
  ASSERT_TRUE(shown.is_array()) << shown.dump();
  int withDst = 0;
  for (const auto& entry : shown) {
    if (entry.contains("dst")) {
      ++withDst;
      EXPECT_EQ(entry["mac"], "02:42:0a:00:0f:03") << entry.dump();
      EXPECT_EQ(entry["dst"], "198.18.0.2") << entry.dump();
      EXPECT_EQ(entry["state"], "permanent") << entry.dump();
      auto flags = entry["flags"].get<std::vector<std::string>>();
      EXPECT_NE(std::find(flags.begin(), flags.end(), "self"), flags.end()) << entry.dump();
    }
  }
  EXPECT_EQ(withDst, 1) << shown.dump();
}

TEST_F(OverlayKernelTest, ReaddingAnFdbEntryWithAnotherVtepMovesIt) {
  std::string ns = makeNamespace("h");
  ASSERT_TRUE(nl(ns).createVxlan("vx0", kVni, ip("198.18.0.1"), kVxlanPort, 1450));
  MacAddress peer = macForIp(ip("10.0.15.3"));
  ASSERT_TRUE(nl(ns).addFdbEntry("vx0", peer, ip("198.18.0.2")));
  ASSERT_TRUE(nl(ns).addFdbEntry("vx0", peer, ip("198.18.0.3")));
  auto entries = nl(ns).listFdbEntries("vx0");
  ASSERT_TRUE(entries);
  EXPECT_EQ(*entries, (std::vector<FdbEntry>{{peer, ip("198.18.0.3")}}));
}

TEST_F(OverlayKernelTest, DeletesOnlyTheNamedFdbEntryAndToleratesMissingOnes) {
  std::string ns = makeNamespace("h");
  ASSERT_TRUE(nl(ns).createVxlan("vx0", kVni, ip("198.18.0.1"), kVxlanPort, 1450));
  MacAddress b = macForIp(ip("10.0.15.3"));
  MacAddress c = macForIp(ip("10.0.15.4"));
  ASSERT_TRUE(nl(ns).addFdbEntry("vx0", b, ip("198.18.0.2")));
  ASSERT_TRUE(nl(ns).addFdbEntry("vx0", c, ip("198.18.0.3")));

  // The right MAC with another VTEP is not this entry: left alone, and not an error.
  ASSERT_TRUE(nl(ns).deleteFdbEntry("vx0", b, ip("198.18.0.9")));
  EXPECT_EQ(nl(ns).listFdbEntries("vx0")->size(), 2u);

  ASSERT_TRUE(nl(ns).deleteFdbEntry("vx0", b, ip("198.18.0.2")));
  ASSERT_TRUE(nl(ns).deleteFdbEntry("vx0", b, ip("198.18.0.2")));
  auto entries = nl(ns).listFdbEntries("vx0");
  ASSERT_TRUE(entries);
  EXPECT_EQ(*entries, (std::vector<FdbEntry>{{c, ip("198.18.0.3")}}));
}

TEST_F(OverlayKernelTest, FdbListLeavesOutTheBridgesOwnEntries) {
  std::string ns = makeNamespace("h");
  ASSERT_TRUE(nl(ns).createBridge("br0", 1450));
  ASSERT_TRUE(nl(ns).createVxlan("vx0", kVni, ip("198.18.0.1"), kVxlanPort, 1450));
  ASSERT_TRUE(nl(ns).setMaster("vx0", "br0"));
  ASSERT_TRUE(nl(ns).setUp("vx0"));
  ASSERT_TRUE(nl(ns).setUp("br0"));
  // The bridge now holds a permanent entry for vx0's own MAC, reported on vx0.
  auto all = toolJson("bridge", ns, {"fdb", "show", "dev", "vx0"});
  ASSERT_TRUE(all.is_array() && !all.empty()) << all.dump();
  auto entries = nl(ns).listFdbEntries("vx0");
  ASSERT_TRUE(entries) << entries.error().message;
  EXPECT_TRUE(entries->empty());
}

TEST_F(OverlayKernelTest, FdbEntriesNeedAnExistingVxlanDevice) {
  std::string ns = makeNamespace("h");
  ASSERT_TRUE(nl(ns).createBridge("br0", 1500));
  MacAddress peer = macForIp(ip("10.0.15.3"));
  auto onBridge = nl(ns).addFdbEntry("br0", peer, ip("198.18.0.2"));
  ASSERT_FALSE(onBridge);
  EXPECT_EQ(onBridge.error().kind, ErrorKind::InvalidArgument) << onBridge.error().message;
  for (const auto& status : {nl(ns).addFdbEntry("nope", peer, ip("198.18.0.2")),
                             nl(ns).deleteFdbEntry("nope", peer, ip("198.18.0.2"))}) {
    ASSERT_FALSE(status);
    EXPECT_EQ(status.error().kind, ErrorKind::NotFound);
    EXPECT_NE(status.error().message.find("\"nope\""), std::string::npos);
    EXPECT_NE(status.error().message.find(ns), std::string::npos) << status.error().message;
  }
  auto list = nl(ns).listFdbEntries("nope");
  ASSERT_FALSE(list);
  EXPECT_EQ(list.error().kind, ErrorKind::NotFound);
}

// ---- neighbour entries ------------------------------------------------------------------------

TEST_F(OverlayKernelTest, AddsPermanentNeighboursWithReplaceSemantics) {
  std::string ns = makeNamespace("h");
  ASSERT_TRUE(nl(ns).createVxlan("vx0", kVni, ip("198.18.0.1"), kVxlanPort, 1450));
  MacAddress first = macForIp(ip("10.0.15.3"));
  MacAddress second = mac("02:42:0a:00:0f:63");
  ASSERT_TRUE(nl(ns).addNeighbour("vx0", ip("10.0.15.3"), first));
  ASSERT_TRUE(nl(ns).addNeighbour("vx0", ip("10.0.15.3"), first));
  auto entries = nl(ns).listNeighbours("vx0");
  ASSERT_TRUE(entries) << entries.error().message;
  EXPECT_EQ(*entries, (std::vector<NeighbourEntry>{{ip("10.0.15.3"), first, true}}));

  ASSERT_TRUE(nl(ns).addNeighbour("vx0", ip("10.0.15.3"), second));
  entries = nl(ns).listNeighbours("vx0");
  ASSERT_TRUE(entries);
  EXPECT_EQ(*entries, (std::vector<NeighbourEntry>{{ip("10.0.15.3"), second, true}}));

  auto shown = toolJson("ip", ns, {"neigh", "show", "dev", "vx0"});
  ASSERT_TRUE(shown.is_array() && shown.size() == 1) << shown.dump();
  EXPECT_EQ(shown[0]["dst"], "10.0.15.3");
  EXPECT_EQ(shown[0]["lladdr"], "02:42:0a:00:0f:63");
  auto state = shown[0]["state"].get<std::vector<std::string>>();
  EXPECT_NE(std::find(state.begin(), state.end(), "PERMANENT"), state.end()) << shown.dump();
}

TEST_F(OverlayKernelTest, DeletesNeighboursAndToleratesMissingOnes) {
  std::string ns = makeNamespace("h");
  ASSERT_TRUE(nl(ns).createVxlan("vx0", kVni, ip("198.18.0.1"), kVxlanPort, 1450));
  ASSERT_TRUE(nl(ns).addNeighbour("vx0", ip("10.0.15.3"), macForIp(ip("10.0.15.3"))));
  ASSERT_TRUE(nl(ns).addNeighbour("vx0", ip("10.0.15.4"), macForIp(ip("10.0.15.4"))));
  ASSERT_TRUE(nl(ns).deleteNeighbour("vx0", ip("10.0.15.3")));
  ASSERT_TRUE(nl(ns).deleteNeighbour("vx0", ip("10.0.15.3")));
  auto entries = nl(ns).listNeighbours("vx0");
  ASSERT_TRUE(entries);
  EXPECT_EQ(*entries,
            (std::vector<NeighbourEntry>{{ip("10.0.15.4"), macForIp(ip("10.0.15.4")), true}}));
  auto missing = nl(ns).deleteNeighbour("nope", ip("10.0.15.4"));
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().kind, ErrorKind::NotFound);
}

// ---- routes -----------------------------------------------------------------------------------

TEST_F(OverlayKernelTest, AddsListsAndDeletesADefaultRoute) {
  std::string a;
  std::string b;
  makeLinkedPair(a, b);
  Ipv4Prefix defaultRoute = prefix("0.0.0.0/0");
  ASSERT_TRUE(nl(a).addRoute(defaultRoute, ip("198.18.9.2"), "v0"));
  ASSERT_TRUE(nl(a).addRoute(defaultRoute, ip("198.18.9.2"), "v0"));

  auto routes = nl(a).listRoutes();
  ASSERT_TRUE(routes) << routes.error().message;
  EXPECT_EQ(*routes, (std::vector<RouteEntry>{{defaultRoute, ip("198.18.9.2"), "v0"},
                                              {prefix("198.18.9.0/24"), std::nullopt, "v0"}}));
  auto shown = toolJson("ip", a, {"-4", "route", "show", "default"});
  ASSERT_TRUE(shown.is_array() && shown.size() == 1) << shown.dump();
  EXPECT_EQ(shown[0]["gateway"], "198.18.9.2");
  EXPECT_EQ(shown[0]["dev"], "v0");

  ASSERT_TRUE(nl(a).deleteRoute(defaultRoute));
  ASSERT_TRUE(nl(a).deleteRoute(defaultRoute));
  routes = nl(a).listRoutes();
  ASSERT_TRUE(routes);
  EXPECT_EQ(*routes, (std::vector<RouteEntry>{{prefix("198.18.9.0/24"), std::nullopt, "v0"}}));
}

TEST_F(OverlayKernelTest, ReaddingARouteReplacesItsNextHop) {
  std::string a;
  std::string b;
  makeLinkedPair(a, b);
  Ipv4Prefix defaultRoute = prefix("0.0.0.0/0");
  ASSERT_TRUE(nl(a).addRoute(defaultRoute, ip("198.18.9.2"), "v0"));
  ASSERT_TRUE(nl(a).addRoute(defaultRoute, ip("198.18.9.3"), ""));
  auto shown = toolJson("ip", a, {"-4", "route", "show", "default"});
  ASSERT_TRUE(shown.is_array() && shown.size() == 1) << shown.dump();
  EXPECT_EQ(shown[0]["gateway"], "198.18.9.3");
  EXPECT_EQ(shown[0]["dev"], "v0");
}

TEST_F(OverlayKernelTest, AddsAnOnLinkRoute) {
  std::string a;
  std::string b;
  makeLinkedPair(a, b);
  ASSERT_TRUE(nl(a).addRoute(prefix("10.9.0.0/16"), std::nullopt, "v0"));
  auto shown = toolJson("ip", a, {"-4", "route", "show", "10.9.0.0/16"});
  ASSERT_TRUE(shown.is_array() && shown.size() == 1) << shown.dump();
  EXPECT_EQ(shown[0]["dev"], "v0");
  EXPECT_EQ(shown[0]["scope"], "link");
  EXPECT_FALSE(shown[0].contains("gateway"));
  // Deleting a link-scope route works too (the scope is not guessed).
  ASSERT_TRUE(nl(a).deleteRoute(prefix("10.9.0.0/16")));
  shown = toolJson("ip", a, {"-4", "route", "show", "10.9.0.0/16"});
  EXPECT_TRUE(shown.is_array() && shown.empty()) << shown.dump();
}

TEST_F(OverlayKernelTest, RouteErrorsSayWhatIsWrong) {
  std::string a;
  std::string b;
  makeLinkedPair(a, b);
  auto offLink = nl(a).addRoute(prefix("0.0.0.0/0"), ip("203.0.113.1"), "v0");
  ASSERT_FALSE(offLink);
  EXPECT_EQ(offLink.error().kind, ErrorKind::InvalidArgument) << offLink.error().message;
  EXPECT_NE(offLink.error().message.find("0.0.0.0/0"), std::string::npos)
      << offLink.error().message;
  EXPECT_NE(offLink.error().message.find(a), std::string::npos) << offLink.error().message;

  auto missing = nl(a).addRoute(prefix("0.0.0.0/0"), ip("198.18.9.2"), "nope");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().kind, ErrorKind::NotFound);

  auto hostBits = nl(a).addRoute(prefix("10.9.0.1/16"), std::nullopt, "v0");
  ASSERT_FALSE(hostBits);
  EXPECT_EQ(hostBits.error().kind, ErrorKind::InvalidArgument);
  EXPECT_NE(hostBits.error().message.find("10.9.0.0/16"), std::string::npos);

  auto nowhere = nl(a).addRoute(prefix("10.9.0.0/16"), std::nullopt, "");
  ASSERT_FALSE(nowhere);
  EXPECT_EQ(nowhere.error().kind, ErrorKind::InvalidArgument);
}

// ---- addresses and links ----------------------------------------------------------------------

TEST_F(OverlayKernelTest, ListsAndDeletesAddresses) {
  std::string a;
  std::string b;
  makeLinkedPair(a, b);
  ASSERT_TRUE(nl(a).addAddress("v0", prefix("10.0.15.2/24")));
  auto onDevice = nl(a).listAddresses("v0");
  ASSERT_TRUE(onDevice) << onDevice.error().message;
  EXPECT_EQ(*onDevice, (std::vector<AddressEntry>{{"v0", prefix("10.0.15.2/24")},
                                                  {"v0", prefix("198.18.9.1/24")}}));
  auto everywhere = nl(a).listAddresses();
  ASSERT_TRUE(everywhere);
  EXPECT_EQ(*everywhere, *onDevice);  // lo is down, so it has no address yet

  ASSERT_TRUE(nl(a).deleteAddress("v0", prefix("10.0.15.2/24")));
  ASSERT_TRUE(nl(a).deleteAddress("v0", prefix("10.0.15.2/24")));
  auto after = nl(a).listAddresses("v0");
  ASSERT_TRUE(after);
  EXPECT_EQ(*after, (std::vector<AddressEntry>{{"v0", prefix("198.18.9.1/24")}}));
  auto shown = toolJson("ip", a, {"-4", "addr", "show", "v0"});
  ASSERT_TRUE(shown.is_array() && shown.size() == 1) << shown.dump();
  EXPECT_EQ(shown[0]["addr_info"].size(), 1u) << shown.dump();

  auto missing = nl(a).listAddresses("nope");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().kind, ErrorKind::NotFound);
}

TEST_F(OverlayKernelTest, ListsLinksAndSetsThemDown) {
  std::string ns = makeNamespace("h");
  ASSERT_TRUE(nl(ns).createBridge("br0", 1450));
  ASSERT_TRUE(nl(ns).createVxlan("vx0", kVni, ip("198.18.0.1"), kVxlanPort, 1450));
  ASSERT_TRUE(nl(ns).setUp("br0"));
  auto links = nl(ns).listLinks();
  ASSERT_TRUE(links) << links.error().message;
  std::vector<std::string> names;
  for (const auto& link : *links) {
    names.push_back(link.name);
  }
  EXPECT_EQ(names, (std::vector<std::string>{"lo", "br0", "vx0"}));
  EXPECT_EQ((*links)[1].type, "bridge");
  EXPECT_TRUE((*links)[1].up);
  EXPECT_EQ((*links)[2].type, "vxlan");

  ASSERT_TRUE(nl(ns).setDown("br0"));
  EXPECT_FALSE(nl(ns).link("br0")->up);
}

TEST_F(OverlayKernelTest, SetsAMacAddress) {
  std::string ns = makeNamespace("h");
  ASSERT_TRUE(nl(ns).createVethPair("v0", "v1", -1, 1500));
  MacAddress wanted = macForIp(ip("10.0.15.2"));
  ASSERT_TRUE(nl(ns).setMacAddress("v0", wanted));
  EXPECT_EQ(nl(ns).link("v0")->mac, wanted);
  auto shown = toolJson("ip", ns, {"link", "show", "v0"});
  ASSERT_TRUE(shown.is_array() && shown.size() == 1) << shown.dump();
  EXPECT_EQ(shown[0]["address"], "02:42:0a:00:0f:02");
  auto multicast = nl(ns).setMacAddress("v0", mac("01:00:5e:00:00:01"));
  ASSERT_FALSE(multicast);
  EXPECT_EQ(multicast.error().kind, ErrorKind::InvalidArgument) << multicast.error().message;
}

TEST_F(OverlayKernelTest, MovesADeviceToAnotherNamespace) {
  std::string a = makeNamespace("a");
  std::string b = makeNamespace("b");
  ASSERT_TRUE(nl(a).createVethPair("v0", "v1", -1, 1500));
  ASSERT_TRUE(nl(a).moveToNamespace("v1", fdOf(b)));
  EXPECT_FALSE(nl(a).linkExists("v1").value_or(true));
  EXPECT_TRUE(nl(b).linkExists("v1").value_or(false));

  // A name that is taken over there.
  ASSERT_TRUE(nl(a).createVethPair("v1", "v2", -1, 1500));
  auto clash = nl(a).moveToNamespace("v1", fdOf(b));
  ASSERT_FALSE(clash);
  EXPECT_EQ(clash.error().kind, ErrorKind::Conflict) << clash.error().message;
  auto missing = nl(a).moveToNamespace("nope", fdOf(b));
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().kind, ErrorKind::NotFound);
}

// ---- the overlay: two hosts, two tasks, VXLAN in between --------------------------------------

// hostA and hostB share an underlay veth (198.18.0.1/.2, MTU 1500); each has a bridge and a
// VXLAN device (VNI 4096, MTU 1450) and one task namespace attached to the bridge by a veth
// (10.0.15.2 on A, 10.0.15.3 on B, MACs from macForIp). Peers are programmed statically.
class OverlayTrafficTest : public OverlayKernelTest {
 protected:
  void SetUp() override {
    OverlayKernelTest::SetUp();
    if (IsSkipped()) {
      return;
    }
    hostA_ = makeNamespace("hostA");
    hostB_ = makeNamespace("hostB");
    taskA_ = makeNamespace("taskA");
    taskB_ = makeNamespace("taskB");
    ASSERT_FALSE(HasFailure());

    ASSERT_TRUE(nl(hostA_).createVethPair("ul0", "ul0", fdOf(hostB_), kUnderlayMtu));
    ASSERT_TRUE(nl(hostA_).addAddress("ul0", prefix("198.18.0.1/24")));
    ASSERT_TRUE(nl(hostB_).addAddress("ul0", prefix("198.18.0.2/24")));
    ASSERT_TRUE(nl(hostA_).setUp("ul0"));
    ASSERT_TRUE(nl(hostB_).setUp("ul0"));

    wireHost(hostA_, underlayA_, taskA_, addressA_);
    wireHost(hostB_, underlayB_, taskB_, addressB_);
    ASSERT_FALSE(HasFailure());
    programPeers();
  }

  void wireHost(const std::string& host, Ipv4Address underlay, const std::string& task,
                Ipv4Address address) {
    Netlink& h = nl(host);
    ASSERT_TRUE(h.createBridge("br0", kOverlayMtu));
    ASSERT_TRUE(h.createVxlan("vx0", kVni, underlay, kVxlanPort, kOverlayMtu));
    ASSERT_TRUE(h.setMaster("vx0", "br0"));
    ASSERT_TRUE(h.createVethPair("vtask", "eth0", fdOf(task), kOverlayMtu));
    ASSERT_TRUE(h.setMaster("vtask", "br0"));
    for (const char* device : {"br0", "vx0", "vtask"}) {
      ASSERT_TRUE(h.setUp(device)) << device;
    }
    Netlink& t = nl(task);
    ASSERT_TRUE(t.setMacAddress("eth0", macForIp(address)));
    ASSERT_TRUE(t.addAddress("eth0", *Ipv4Prefix::fromParts(address, 24)));
    ASSERT_TRUE(t.setUp("eth0"));
    ASSERT_TRUE(t.setUp("lo"));
  }

  void programPeers() {
    ASSERT_TRUE(nl(hostA_).addFdbEntry("vx0", macForIp(addressB_), underlayB_));
    ASSERT_TRUE(nl(hostA_).addNeighbour("vx0", addressB_, macForIp(addressB_)));
    ASSERT_TRUE(nl(hostB_).addFdbEntry("vx0", macForIp(addressA_), underlayA_));
    ASSERT_TRUE(nl(hostB_).addNeighbour("vx0", addressA_, macForIp(addressA_)));
  }

  static constexpr unsigned int kUnderlayMtu = 1500;
  static constexpr unsigned int kOverlayMtu = kUnderlayMtu - 50;
  const Ipv4Address underlayA_ = ip("198.18.0.1");
  const Ipv4Address underlayB_ = ip("198.18.0.2");
  const Ipv4Address addressA_ = ip("10.0.15.2");
  const Ipv4Address addressB_ = ip("10.0.15.3");
  std::string hostA_;
  std::string hostB_;
  std::string taskA_;
  std::string taskB_;
};

TEST_F(OverlayTrafficTest, TasksOnTwoHostsTalkTcpOverVxlan) {
  Listener onB = listenIn(taskB_, addressB_);
  EXPECT_EQ(tcpExchange(taskA_, onB, addressB_, "hello from taskA", 5000), "");
  Listener onA = listenIn(taskA_, addressA_);
  EXPECT_EQ(tcpExchange(taskB_, onA, addressA_, "hello from taskB", 5000), "");

  // The tasks learnt each other's deterministic MAC (through the VXLAN ARP proxy).
  auto neighbours = nl(taskA_).listNeighbours("eth0");
  ASSERT_TRUE(neighbours) << neighbours.error().message;
  ASSERT_EQ(neighbours->size(), 1u);
  EXPECT_EQ((*neighbours)[0].ip, addressB_);
  EXPECT_EQ((*neighbours)[0].mac, macForIp(addressB_));
  EXPECT_FALSE((*neighbours)[0].permanent);

  // The underlay carried it: nothing in the overlay subnet is routed in the host namespaces.
  for (const auto& host : {hostA_, hostB_}) {
    auto routes = nl(host).listRoutes();
    ASSERT_TRUE(routes);
    for (const auto& route : *routes) {
      EXPECT_FALSE(route.destination.overlaps(prefix("10.0.15.0/24"))) << host;
    }
  }
}

TEST_F(OverlayTrafficTest, WithoutTheFdbEntryTheTrafficStops) {
  Listener onB = listenIn(taskB_, addressB_);
  ASSERT_EQ(tcpExchange(taskA_, onB, addressB_, "before", 5000), "");

  ASSERT_TRUE(nl(hostA_).deleteFdbEntry("vx0", macForIp(addressB_), underlayB_));
  EXPECT_EQ(tcpExchange(taskA_, onB, addressB_, "during", 1500), "connect timed out");

  ASSERT_TRUE(nl(hostA_).addFdbEntry("vx0", macForIp(addressB_), underlayB_));
  EXPECT_EQ(tcpExchange(taskA_, onB, addressB_, "after", 5000), "");
}

TEST_F(OverlayTrafficTest, AFullSizedOverlayDatagramCrossesWithoutFragmentation) {
  EXPECT_EQ(nl(hostA_).link("vx0")->mtu, kOverlayMtu);
  EXPECT_EQ(nl(taskA_).link("eth0")->mtu, kOverlayMtu);
  EXPECT_EQ(nl(taskB_).link("eth0")->mtu, kOverlayMtu);

  UniqueFd receiver = socketIn(taskB_, SOCK_DGRAM);
  std::uint16_t port = bindAnyPort(receiver.get(), addressB_);
  UniqueFd sender = socketIn(taskA_, SOCK_DGRAM);
  int doNotFragment = IP_PMTUDISC_DO;
  ASSERT_EQ(
      setsockopt(sender.get(), IPPROTO_IP, IP_MTU_DISCOVER, &doNotFragment, sizeof(doNotFragment)),
      0);
  // IPv4 20 + UDP 8: the largest payload that fills the overlay MTU exactly. Encapsulated,
  // it is exactly the underlay's 1500.
  std::string payload(kOverlayMtu - 28, 'x');
  sockaddr_in to = socketAddress(addressB_, port);
  std::string received;
  // The first datagram may wait on ARP; a few tries, each checked.
  for (int attempt = 0; attempt < 5 && received.empty(); ++attempt) {
    ASSERT_EQ(sendto(sender.get(), payload.data(), payload.size(), 0,
                     reinterpret_cast<sockaddr*>(&to), sizeof(to)),
              static_cast<ssize_t>(payload.size()))
        << errnoText(errno);
    if (waitFor(receiver.get(), POLLIN, 1000)) {
      std::string buffer(65536, '\0');
      ssize_t got = recv(receiver.get(), buffer.data(), buffer.size(), 0);
      ASSERT_GT(got, 0);
      received = buffer.substr(0, static_cast<std::size_t>(got));
    }
  }
  EXPECT_EQ(received.size(), payload.size());

  // One byte more does not fit the overlay MTU: refused at the sender, not fragmented.
  std::string tooBig(kOverlayMtu - 27, 'x');
  EXPECT_EQ(sendto(sender.get(), tooBig.data(), tooBig.size(), 0, reinterpret_cast<sockaddr*>(&to),
                   sizeof(to)),
            -1);
  EXPECT_EQ(errno, EMSGSIZE);
}

}  // namespace
}  // namespace overmesh::dataplane::kernel
