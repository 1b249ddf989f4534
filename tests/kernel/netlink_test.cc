// Kernel tier: named namespaces and the libnl wrapper against the real kernel. Every test
// works in namespaces it creates ("omkt<pid>-<n>…") and deletes them in TearDown, also when
// it fails; nothing touches the machine's own namespace.

#include "dataplane/linux/netlink.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/ip.h"
#include "dataplane/linux/netns.h"
#include "support/process.h"

namespace overmesh::dataplane::kernel {
namespace {

using overmesh::testing::runCommand;

std::string ipBinary() {
  for (const char* path : {"/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"}) {
    if (access(path, X_OK) == 0) {
      return path;
    }
  }
  return "ip";
}

// `ip -n NS -j ARGS...` parsed; null when ip fails or prints no JSON.
nlohmann::json ipJson(const std::string& ns, const std::vector<std::string>& args) {
  std::vector<std::string> argv = {ipBinary(), "-n", ns, "-j"};
  argv.insert(argv.end(), args.begin(), args.end());
  auto result = runCommand(argv);
  if (result.exitCode != 0) {
    return nullptr;
  }
  return nlohmann::json::parse(result.out, nullptr, false);
}

class NetlinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!overmesh::testing::canUseNamespaces()) {
      GTEST_SKIP() << "needs root to create network namespaces";
    }
    static int counter = 0;
    std::string base = fmt::format("omkt{}-{}", getpid(), ++counter);
    nsA_ = base + "a";
    nsB_ = base + "b";
    ASSERT_TRUE(createNamespace(nsA_)) << nsA_;
    ASSERT_TRUE(createNamespace(nsB_)) << nsB_;
    auto a = Netlink::open(nsA_);
    ASSERT_TRUE(a) << a.error().message;
    a_ = std::make_unique<Netlink>(std::move(*a));
    auto b = Netlink::open(nsB_);
    ASSERT_TRUE(b) << b.error().message;
    b_ = std::make_unique<Netlink>(std::move(*b));
  }

  void TearDown() override {
    a_.reset();
    b_.reset();
    for (const auto& ns : {nsA_, nsB_}) {
      if (!ns.empty()) {
        EXPECT_TRUE(deleteNamespace(ns)) << ns;
      }
    }
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

  std::string nsA_;
  std::string nsB_;
  std::unique_ptr<Netlink> a_;
  std::unique_ptr<Netlink> b_;
  std::vector<UniqueFd> fds_;
};

// ---- namespaces ---------------------------------------------------------------------------

TEST_F(NetlinkTest, CreatedNamespaceIsListedAndHoldsOnlyLoopback) {
  auto names = listNamespaces(nsA_.substr(0, nsA_.size() - 1));
  ASSERT_TRUE(names) << names.error().message;
  EXPECT_EQ(*names, (std::vector<std::string>{nsA_, nsB_}));
  auto links = ipJson(nsA_, {"link", "show"});
  ASSERT_TRUE(links.is_array());
  ASSERT_EQ(links.size(), 1u);
  EXPECT_EQ(links[0]["ifname"], "lo");
}

TEST_F(NetlinkTest, CreatingAnExistingNamespaceIsAConflict) {
  auto again = createNamespace(nsA_);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().kind, ErrorKind::Conflict);
  EXPECT_NE(again.error().message.find(nsA_), std::string::npos) << again.error().message;
}

TEST_F(NetlinkTest, DeletingANamespaceIsIdempotent) {
  std::string extra = nsA_ + "x";
  ASSERT_TRUE(createNamespace(extra));
  EXPECT_TRUE(namespaceExists(extra));
  EXPECT_TRUE(deleteNamespace(extra));
  EXPECT_FALSE(namespaceExists(extra));
  EXPECT_TRUE(deleteNamespace(extra));
}

TEST_F(NetlinkTest, RefusesNamespaceNamesWithASlash) {
  auto made = createNamespace("../etc");
  ASSERT_FALSE(made);
  EXPECT_EQ(made.error().kind, ErrorKind::InvalidArgument);
}

TEST_F(NetlinkTest, OpeningAMissingNamespaceIsNotFound) {
  auto fd = openNamespace(nsA_ + "missing");
  ASSERT_FALSE(fd);
  EXPECT_EQ(fd.error().kind, ErrorKind::NotFound);
  EXPECT_NE(fd.error().message.find(nsA_ + "missing"), std::string::npos);
  auto netlink = Netlink::open(nsA_ + "missing");
  ASSERT_FALSE(netlink);
  EXPECT_EQ(netlink.error().kind, ErrorKind::NotFound);
}

TEST_F(NetlinkTest, RunInNamespaceSwitchesTheThreadAndBack) {
  auto before = namespaceIdOf("/proc/thread-self/ns/net");
  auto target = namespaceIdOf(namespacePath(nsA_));
  ASSERT_TRUE(before && target);
  auto inside = runInNamespace(nsA_, [] { return namespaceIdOf("/proc/thread-self/ns/net"); });
  ASSERT_TRUE(inside) << inside.error().message;
  EXPECT_EQ(*inside, *target);
  auto after = namespaceIdOf("/proc/thread-self/ns/net");
  ASSERT_TRUE(after);
  EXPECT_EQ(*after, *before);
}

// ---- links --------------------------------------------------------------------------------

TEST_F(NetlinkTest, CreatesABridgeWithItsMtuAndSetsItUp) {
  ASSERT_TRUE(a_->createBridge("br0", 1400));
  auto link = a_->link("br0");
  ASSERT_TRUE(link) << link.error().message;
  EXPECT_EQ(link->type, "bridge");
  EXPECT_EQ(link->mtu, 1400u);
  EXPECT_FALSE(link->up);

  ASSERT_TRUE(a_->setUp("br0"));
  EXPECT_TRUE(a_->link("br0")->up);
  auto shown = ipJson(nsA_, {"-d", "link", "show", "br0"});
  ASSERT_TRUE(shown.is_array() && shown.size() == 1) << shown.dump();
  EXPECT_EQ(shown[0]["mtu"], 1400);
  EXPECT_EQ(shown[0]["linkinfo"]["info_kind"], "bridge");
  auto flags = shown[0]["flags"].get<std::vector<std::string>>();
  EXPECT_NE(std::find(flags.begin(), flags.end(), "UP"), flags.end());
}

TEST_F(NetlinkTest, CreatingAnExistingBridgeIsAConflictNamingIt) {
  ASSERT_TRUE(a_->createBridge("br0", 1500));
  auto again = a_->createBridge("br0", 1500);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().kind, ErrorKind::Conflict);
  EXPECT_NE(again.error().message.find("\"br0\""), std::string::npos) << again.error().message;
  EXPECT_NE(again.error().message.find(nsA_), std::string::npos) << again.error().message;
}

TEST_F(NetlinkTest, CreatesAVethPairAcrossNamespaces) {
  ASSERT_TRUE(a_->createVethPair("v0", "eth0", fdOf(nsB_), 1450));
  auto near = a_->link("v0");
  ASSERT_TRUE(near) << near.error().message;
  EXPECT_EQ(near->type, "veth");
  EXPECT_EQ(near->mtu, 1450u);
  auto far = b_->link("eth0");
  ASSERT_TRUE(far) << far.error().message;
  EXPECT_EQ(far->type, "veth");
  EXPECT_EQ(far->mtu, 1450u);
  EXPECT_FALSE(a_->linkExists("eth0").value_or(true));
  EXPECT_FALSE(b_->linkExists("v0").value_or(true));
  auto shown = ipJson(nsB_, {"link", "show", "eth0"});
  ASSERT_TRUE(shown.is_array() && shown.size() == 1) << shown.dump();
  EXPECT_EQ(shown[0]["mtu"], 1450);
}

TEST_F(NetlinkTest, CreatesAVethPairInOneNamespace) {
  ASSERT_TRUE(a_->createVethPair("v0", "v1", -1, 1500));
  EXPECT_TRUE(a_->linkExists("v0").value_or(false));
  EXPECT_TRUE(a_->linkExists("v1").value_or(false));
}

TEST_F(NetlinkTest, EnslavesAPortToABridge) {
  ASSERT_TRUE(a_->createBridge("br0", 1500));
  ASSERT_TRUE(a_->createVethPair("v0", "eth0", fdOf(nsB_), 1500));
  ASSERT_TRUE(a_->setMaster("v0", "br0"));
  auto bridgeIndex = a_->linkIndex("br0");
  ASSERT_TRUE(bridgeIndex);
  EXPECT_EQ(a_->link("v0")->masterIndex, *bridgeIndex);
  auto shown = ipJson(nsA_, {"link", "show", "v0"});
  ASSERT_TRUE(shown.is_array() && shown.size() == 1) << shown.dump();
  EXPECT_EQ(shown[0]["master"], "br0");
}

TEST_F(NetlinkTest, SetsTheMtu) {
  ASSERT_TRUE(a_->createVethPair("v0", "v1", -1, 1500));
  ASSERT_TRUE(a_->setMtu("v0", 1280));
  EXPECT_EQ(a_->link("v0")->mtu, 1280u);
}

TEST_F(NetlinkTest, RefusesAnMtuTheKernelRejectsNamingTheDevice) {
  ASSERT_TRUE(a_->createVethPair("v0", "v1", -1, 1500));
  auto tooSmall = a_->setMtu("v0", 10);
  ASSERT_FALSE(tooSmall);
  EXPECT_EQ(tooSmall.error().kind, ErrorKind::InvalidArgument) << tooSmall.error().message;
  EXPECT_NE(tooSmall.error().message.find("\"v0\""), std::string::npos);
}

TEST_F(NetlinkTest, AddsAnAddressWithItsPrefixLength) {
  ASSERT_TRUE(a_->createVethPair("v0", "eth0", fdOf(nsB_), 1500));
  auto prefix = Ipv4Prefix::parse("198.18.7.1/24");
  ASSERT_TRUE(prefix);
  ASSERT_TRUE(b_->addAddress("eth0", *prefix));
  auto shown = ipJson(nsB_, {"-4", "addr", "show", "eth0"});
  ASSERT_TRUE(shown.is_array() && shown.size() == 1) << shown.dump();
  auto& info = shown[0]["addr_info"];
  ASSERT_EQ(info.size(), 1u) << shown.dump();
  EXPECT_EQ(info[0]["local"], "198.18.7.1");
  EXPECT_EQ(info[0]["prefixlen"], 24);

  auto again = b_->addAddress("eth0", *prefix);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().kind, ErrorKind::Conflict);
}

TEST_F(NetlinkTest, AnAddressMakesItsSubnetReachableOnceUp) {
  ASSERT_TRUE(a_->createVethPair("v0", "eth0", fdOf(nsB_), 1500));
  ASSERT_TRUE(b_->addAddress("eth0", *Ipv4Prefix::parse("198.18.7.1/24")));
  ASSERT_TRUE(b_->setUp("eth0"));
  auto routes = ipJson(nsB_, {"-4", "route", "show"});
  ASSERT_TRUE(routes.is_array()) << routes.dump();
  ASSERT_EQ(routes.size(), 1u) << routes.dump();
  EXPECT_EQ(routes[0]["dst"], "198.18.7.0/24");
  EXPECT_EQ(routes[0]["dev"], "eth0");
}

TEST_F(NetlinkTest, DeletingOneEndRemovesThePairAndIsIdempotent) {
  ASSERT_TRUE(a_->createVethPair("v0", "eth0", fdOf(nsB_), 1500));
  ASSERT_TRUE(a_->deleteLink("v0"));
  EXPECT_FALSE(a_->linkExists("v0").value_or(true));
  EXPECT_FALSE(b_->linkExists("eth0").value_or(true));
  EXPECT_TRUE(a_->deleteLink("v0"));
}

TEST_F(NetlinkTest, DeletingANamespaceDestroysItsDevices) {
  std::string extra = nsA_ + "x";
  ASSERT_TRUE(createNamespace(extra));
  {
    UniqueFd extraFd = std::move(*openNamespace(extra));
    ASSERT_TRUE(a_->createVethPair("v0", "eth0", extraFd.get(), 1500));
  }
  ASSERT_TRUE(deleteNamespace(extra));
  // The kernel destroys the namespace asynchronously; the veth goes with it.
  bool gone = false;
  for (int i = 0; i < 100 && !gone; ++i) {
    gone = !a_->linkExists("v0").value_or(true);
    if (!gone) {
      usleep(20000);
    }
  }
  EXPECT_TRUE(gone);
}

TEST_F(NetlinkTest, ErrorsNameTheMissingDeviceAndTheNamespace) {
  ASSERT_TRUE(a_->createBridge("br0", 1500));
  struct Case {
    const char* what;
    Status status;
  };
  std::vector<Case> cases;
  cases.push_back({"setUp", a_->setUp("nope")});
  cases.push_back({"setMtu", a_->setMtu("nope", 1400)});
  cases.push_back({"setMaster", a_->setMaster("nope", "br0")});
  cases.push_back({"setMaster to a missing bridge", a_->setMaster("br0", "nope")});
  cases.push_back({"addAddress", a_->addAddress("nope", *Ipv4Prefix::parse("198.18.7.1/24"))});
  for (const auto& c : cases) {
    ASSERT_FALSE(c.status) << c.what;
    EXPECT_EQ(c.status.error().kind, ErrorKind::NotFound)
        << c.what << ": " << c.status.error().message;
    EXPECT_NE(c.status.error().message.find("\"nope\""), std::string::npos)
        << c.what << ": " << c.status.error().message;
    EXPECT_NE(c.status.error().message.find(nsA_), std::string::npos)
        << c.what << ": " << c.status.error().message;
  }
  auto index = a_->linkIndex("nope");
  ASSERT_FALSE(index);
  EXPECT_EQ(index.error().kind, ErrorKind::NotFound);
}

TEST_F(NetlinkTest, RefusesDeviceNamesTheKernelWouldCut) {
  auto made = a_->createBridge("a-name-far-too-long", 1500);
  ASSERT_FALSE(made);
  EXPECT_EQ(made.error().kind, ErrorKind::InvalidArgument);
  EXPECT_NE(made.error().message.find("a-name-far-too-long"), std::string::npos);
}

// ---- policy rules and routes in other tables (the routing mesh's sandboxes) ----

TEST_F(NetlinkTest, RulesAreAddedOnceListedAsIpShowsThemAndDeletedIdempotently) {
  PolicyRule mark{1000, 0x0a000002, 0x0a000002, 0, 0, -1};
  PolicyRule source{1002, 250, 0, 17, 53, -1};
  PolicyRule mainWithoutDefault{1001, kMainRouteTable, 0, 0, 0, 0};
  for (const auto& rule : {mark, source, mainWithoutDefault, mark}) {
    ASSERT_TRUE(a_->addRule(rule));
  }
  auto rules = a_->listRules();
  ASSERT_TRUE(rules) << rules.error().message;
  std::vector<PolicyRule> ours;
  std::copy_if(rules->begin(), rules->end(), std::back_inserter(ours), [](const PolicyRule& rule) {
    return rule.priority >= 1000 && rule.priority <= 1002;
  });
  EXPECT_EQ(ours, (std::vector<PolicyRule>{mark, mainWithoutDefault, source}));
  auto shown = ipJson(nsA_, {"rule", "show", "priority", "1000"});
  ASSERT_TRUE(shown.is_array() && shown.size() == 1) << shown.dump();
  EXPECT_EQ(shown[0]["fwmark"], "0xa000002") << shown.dump();
  EXPECT_EQ(shown[0]["table"], "167772162") << shown.dump();

  ASSERT_TRUE(a_->deleteRule(mark));
  ASSERT_TRUE(a_->deleteRule(mark));
  auto after = a_->listRules();
  ASSERT_TRUE(after);
  EXPECT_EQ(std::count(after->begin(), after->end(), mark), 0);
  EXPECT_FALSE(a_->addRule({1000, 255, 7, 0, 0, -1})) << "the local table is not ours";
}

TEST_F(NetlinkTest, RoutesLiveInTheirOwnTable) {
  ASSERT_TRUE(a_->createBridge("br0", 1500));
  ASSERT_TRUE(a_->addAddress("br0", Ipv4Prefix::parse("10.99.0.21/24").value()));
  ASSERT_TRUE(a_->setUp("br0"));
  auto any = Ipv4Prefix::parse("0.0.0.0/0").value();
  auto gateway = Ipv4Address::parse("10.99.0.11").value();
  ASSERT_TRUE(a_->addRoute(any, gateway, "br0", 0x0a00000b));
  ASSERT_TRUE(a_->addRoute(any, gateway, "br0", 0x0a00000b));  // replace semantics
  auto table = a_->listRoutes(0x0a00000b);
  ASSERT_TRUE(table) << table.error().message;
  EXPECT_EQ(*table, (std::vector<RouteEntry>{{any, gateway, "br0"}}));
  auto main = a_->listRoutes();
  ASSERT_TRUE(main);
  for (const auto& route : *main) {
    EXPECT_NE(route.destination, any) << "the main table got the route";
  }
  ASSERT_TRUE(a_->deleteRoute(any, 0x0a00000b));
  ASSERT_TRUE(a_->deleteRoute(any, 0x0a00000b));
  EXPECT_TRUE(a_->listRoutes(0x0a00000b)->empty());
}

}  // namespace
}  // namespace overmesh::dataplane::kernel
