// Kernel tier: the libnftables wrapper and the gateway NAT rule set, in namespaces the tests
// create ("omkn<pid>-<n>…") and delete in TearDown. Nothing reads or writes the machine's
// own rule set.

#include "dataplane/linux/nftables.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/ip.h"
#include "dataplane/gateway_nat.h"
#include "dataplane/linux/netlink.h"
#include "dataplane/linux/netns.h"
#include "support/process.h"

namespace overmesh::dataplane::kernel {
namespace {

using overmesh::testing::runCommand;

// `nft -j list ruleset` inside `ns` (ip netns exec, only to observe); null on failure.
nlohmann::json rulesetOf(const std::string& ns) {
  auto result =
      runCommand({"/usr/sbin/ip", "netns", "exec", ns, "/usr/sbin/nft", "-j", "list", "ruleset"});
  if (result.exitCode != 0) {
    return nullptr;
  }
  return nlohmann::json::parse(result.out, nullptr, false);
}

// The objects of one kind ("table", "chain", "rule") in nft JSON output.
std::vector<nlohmann::json> objectsOf(const nlohmann::json& listing, const std::string& kind) {
  std::vector<nlohmann::json> found;
  if (!listing.is_object() || !listing.contains("nftables")) {
    return found;
  }
  for (const auto& item : listing["nftables"]) {
    if (item.contains(kind)) {
      found.push_back(item[kind]);
    }
  }
  return found;
}

std::string gatewayScript() {
  return gatewayNatRuleset(*Ipv4Prefix::parse("172.18.0.0/16"), "omgw0");
}

class NftablesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!overmesh::testing::canUseNamespaces()) {
      GTEST_SKIP() << "needs root to create network namespaces";
    }
    static int counter = 0;
    std::string base = fmt::format("omkn{}-{}", getpid(), ++counter);
    ns_ = base + "a";
    other_ = base + "b";
    ASSERT_TRUE(createNamespace(ns_)) << ns_;
    ASSERT_TRUE(createNamespace(other_)) << other_;
    auto opened = Nftables::open(ns_);
    ASSERT_TRUE(opened) << opened.error().message;
    nft_ = std::make_unique<Nftables>(std::move(*opened));
  }

  void TearDown() override {
    nft_.reset();
    for (const auto& ns : {ns_, other_}) {
      if (!ns.empty()) {
        EXPECT_TRUE(deleteNamespace(ns)) << ns;
      }
    }
  }

  std::string ns_;
  std::string other_;
  std::unique_ptr<Nftables> nft_;
};

TEST_F(NftablesTest, AppliesTheGatewayNatAndReadsItBackAsJson) {
  ASSERT_TRUE(nft_->run(gatewayScript()));
  auto json = nft_->listTableJson(std::string(kGatewayNatFamily), std::string(kGatewayNatTable));
  ASSERT_TRUE(json) << json.error().message;
  auto listing = nlohmann::json::parse(*json, nullptr, false);
  ASSERT_TRUE(listing.is_object()) << *json;

  auto chains = objectsOf(listing, "chain");
  ASSERT_EQ(chains.size(), 2u) << *json;
  bool sawPostrouting = false;
  for (const auto& chain : chains) {
    EXPECT_EQ(chain["table"], "overmesh_gw");
    if (chain["name"] == "postrouting") {
      sawPostrouting = true;
      EXPECT_EQ(chain["type"], "nat");
      EXPECT_EQ(chain["hook"], "postrouting");
      EXPECT_EQ(chain["prio"], 100);  // srcnat
      EXPECT_EQ(chain["policy"], "accept");
    }
  }
  EXPECT_TRUE(sawPostrouting) << *json;

  bool sawMasquerade = false;
  for (const auto& rule : objectsOf(listing, "rule")) {
    if (rule["chain"] != "postrouting") {
      continue;
    }
    std::string expressions = rule["expr"].dump();
    EXPECT_NE(expressions.find("\"masquerade\""), std::string::npos) << expressions;
    EXPECT_NE(expressions.find("172.18.0.0"), std::string::npos) << expressions;
    EXPECT_NE(expressions.find("omgw0"), std::string::npos) << expressions;
    sawMasquerade = true;
  }
  EXPECT_TRUE(sawMasquerade) << *json;
}

TEST_F(NftablesTest, ApplyingTwiceKeepsOneTableWithTheSameRules) {
  ASSERT_TRUE(nft_->run(gatewayScript()));
  auto once = rulesetOf(ns_);
  ASSERT_TRUE(nft_->run(gatewayScript()));
  auto twice = rulesetOf(ns_);
  EXPECT_EQ(objectsOf(twice, "table").size(), 1u) << twice.dump();
  EXPECT_EQ(objectsOf(twice, "chain").size(), 2u) << twice.dump();
  EXPECT_EQ(objectsOf(twice, "rule").size(), 2u) << twice.dump();
  EXPECT_EQ(objectsOf(once, "rule").size(), objectsOf(twice, "rule").size());
}

TEST_F(NftablesTest, ReplacingLeavesOtherTablesAlone) {
  ASSERT_TRUE(
      nft_->run("table inet someone_else {\n  chain c {\n    ip saddr 1.2.3.4 drop;\n  }\n}\n"));
  ASSERT_TRUE(nft_->run(gatewayScript()));
  ASSERT_TRUE(nft_->run(gatewayScript()));
  ASSERT_TRUE(nft_->deleteTableIfExists("ip", "overmesh_gw"));
  auto tables = objectsOf(rulesetOf(ns_), "table");
  ASSERT_EQ(tables.size(), 1u);
  EXPECT_EQ(tables[0]["name"], "someone_else");
}

TEST_F(NftablesTest, DeletingATableTwiceSucceeds) {
  ASSERT_TRUE(nft_->run(gatewayScript()));
  ASSERT_TRUE(nft_->deleteTableIfExists("ip", "overmesh_gw"));
  ASSERT_TRUE(nft_->deleteTableIfExists("ip", "overmesh_gw"));
  EXPECT_TRUE(objectsOf(rulesetOf(ns_), "table").empty());
  auto listed = nft_->listTableJson("ip", "overmesh_gw");
  ASSERT_FALSE(listed);
  EXPECT_EQ(listed.error().kind, ErrorKind::NotFound) << listed.error().message;
}

TEST_F(NftablesTest, ASyntaxErrorIsReportedWithNftsMessageAndChangesNothing) {
  ASSERT_TRUE(nft_->run(gatewayScript()));
  auto before = rulesetOf(ns_);
  auto broken = nft_->run(
      "delete table ip overmesh_gw\n"
      "table ip overmesh_gw {\n"
      "  chain postrouting {\n"
      "    type nat hook postrouting priority srcnat; policy accept;\n"
      "    ip saddr 172.18.0.0/16 masqerade;\n"
      "  }\n"
      "}\n");
  ASSERT_FALSE(broken);
  EXPECT_EQ(broken.error().kind, ErrorKind::InvalidArgument) << broken.error().message;
  EXPECT_NE(broken.error().message.find("syntax error"), std::string::npos)
      << broken.error().message;
  // nft names and quotes the offending line (the fifth), not the first.
  EXPECT_NE(broken.error().message.find("line 5:"), std::string::npos) << broken.error().message;
  EXPECT_NE(broken.error().message.find("masqerade;"), std::string::npos) << broken.error().message;
  EXPECT_NE(broken.error().message.find(ns_), std::string::npos) << broken.error().message;
  EXPECT_EQ(rulesetOf(ns_), before);
}

TEST_F(NftablesTest, ABatchTheKernelRefusesChangesNothing) {
  ASSERT_TRUE(nft_->run(gatewayScript()));
  auto before = rulesetOf(ns_);
  // The first command alone would succeed; the second names a chain that does not exist.
  auto refused = nft_->run(
      "delete table ip overmesh_gw\n"
      "add rule ip overmesh_gw nosuchchain ip saddr 1.2.3.4 drop\n");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, ErrorKind::NotFound) << refused.error().message;
  EXPECT_EQ(rulesetOf(ns_), before);
}

TEST_F(NftablesTest, RulesStayInTheirNamespace) {
  ASSERT_TRUE(nft_->run(gatewayScript()));
  auto other = Nftables::open(other_);
  ASSERT_TRUE(other) << other.error().message;
  auto listed = other->listTableJson("ip", "overmesh_gw");
  ASSERT_FALSE(listed);
  EXPECT_EQ(listed.error().kind, ErrorKind::NotFound);
  EXPECT_TRUE(objectsOf(rulesetOf(other_), "table").empty());
}

TEST_F(NftablesTest, CallsLeaveTheThreadInItsOwnNamespace) {
  auto before = namespaceIdOf("/proc/thread-self/ns/net");
  ASSERT_TRUE(before);
  ASSERT_TRUE(nft_->run(gatewayScript()));
  ASSERT_TRUE(nft_->listTableJson("ip", "overmesh_gw"));
  ASSERT_FALSE(nft_->run("this is not nft"));
  auto after = namespaceIdOf("/proc/thread-self/ns/net");
  ASSERT_TRUE(after);
  EXPECT_EQ(*after, *before);
}

TEST_F(NftablesTest, ResolvesInterfaceNamesInItsNamespaceWhateverTheCallingThread) {
  // libnftables looks interface indexes up (`oif`) in the calling thread's namespace, not
  // its socket's: the wrapper must switch for every call. "onlyhere" exists only in ns_.
  auto netlink = Netlink::open(ns_);
  ASSERT_TRUE(netlink) << netlink.error().message;
  ASSERT_TRUE(netlink->createVethPair("onlyhere", "peer", -1, 1500));
  auto applied = nft_->run(
      "table ip overmesh_probe {\n"
      "  chain c {\n"
      "    oif \"onlyhere\" accept;\n"
      "  }\n"
      "}\n");
  ASSERT_TRUE(applied) << applied.error().message;
  auto json = nft_->listTableJson("ip", "overmesh_probe");
  ASSERT_TRUE(json) << json.error().message;
  EXPECT_NE(json->find("onlyhere"), std::string::npos) << *json;
}

TEST_F(NftablesTest, RefusesNamesThatAreNotIdentifiers) {
  auto family = nft_->listTableJson("ipx", "t");
  ASSERT_FALSE(family);
  EXPECT_EQ(family.error().kind, ErrorKind::InvalidArgument);
  auto table = nft_->deleteTableIfExists("ip", "t; flush ruleset");
  ASSERT_FALSE(table);
  EXPECT_EQ(table.error().kind, ErrorKind::InvalidArgument);
}

TEST_F(NftablesTest, OpeningInAMissingNamespaceIsNotFound) {
  auto missing = Nftables::open(ns_ + "missing");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().kind, ErrorKind::NotFound);
  EXPECT_NE(missing.error().message.find(ns_ + "missing"), std::string::npos);
}

}  // namespace
}  // namespace overmesh::dataplane::kernel
