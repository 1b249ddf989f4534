// Kernel tier: the host firewall check reads a real rule set through libnftables, in a
// namespace the test creates ("omfw<pid>-<n>") and deletes in TearDown. The machine's own
// rule set is never read or written.

#include "dataplane/linux/host_firewall.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>

#include "dataplane/linux/netns.h"
#include "dataplane/linux/nftables.h"
#include "support/process.h"

namespace overmesh::dataplane::kernel {
namespace {

class HostFirewallTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!overmesh::testing::canUseNamespaces()) {
      GTEST_SKIP() << "needs root to create network namespaces";
    }
    static int counter = 0;
    ns_ = fmt::format("omfw{}-{}", getpid(), ++counter);
    ASSERT_TRUE(createNamespace(ns_)) << ns_;
  }

  void TearDown() override {
    if (!ns_.empty()) {
      EXPECT_TRUE(deleteNamespace(ns_)) << ns_;
    }
  }

  // Loads `script` into the test's namespace through the library (not the nft binary).
  void load(const std::string& script) {
    auto nft = Nftables::open(ns_);
    ASSERT_TRUE(nft) << nft.error().message;
    auto applied = nft->run(script);
    ASSERT_TRUE(applied) << applied.error().message;
  }

  std::string ns_;
};

const std::vector<NeededPort> kPorts =
    neededPorts(true, 2377, 2378, {{8080, "tcp", "published by web"}});

TEST_F(HostFirewallTest, AnEmptyRulesetBlocksNothing) {
  auto blocks = inspectHostFirewall(ns_, kPorts);
  ASSERT_TRUE(blocks) << blocks.error().message;
  EXPECT_TRUE(blocks->empty());
}

TEST_F(HostFirewallTest, FindsTheRulesOfAnotherTableAndIgnoresOurs) {
  load(
      "table inet filter {\n"
      "  chain input {\n"
      "    type filter hook input priority 0; policy accept;\n"
      "    udp dport 4789 counter reject\n"
      "    tcp dport { 2000-2400 } drop\n"
      "  }\n"
      "}\n"
      "table inet overmesh_underlay {\n"
      "  chain input {\n"
      "    type filter hook input priority 0; policy drop;\n"
      "  }\n"
      "}\n");
  auto blocks = inspectHostFirewall(ns_, kPorts);
  ASSERT_TRUE(blocks) << blocks.error().message;
  std::vector<std::string> described;
  for (const auto& block : *blocks) {
    described.push_back(describeFirewallBlock(block));
  }
  // Handles: the table's chains and rules are numbered from 1 in load order; read them back
  // from the blocks rather than guess, but check everything else.
  ASSERT_EQ(blocks->size(), 3u) << fmt::format("{}", fmt::join(described, "\n"));
  EXPECT_EQ((*blocks)[0].port.port, 2377);
  EXPECT_EQ((*blocks)[0].verdict, "drop");
  EXPECT_EQ((*blocks)[1].port.port, 2378);
  EXPECT_EQ((*blocks)[1].verdict, "drop");
  EXPECT_EQ((*blocks)[2].port.port, 4789);
  EXPECT_EQ((*blocks)[2].verdict, "reject");
  for (const auto& block : *blocks) {
    EXPECT_EQ(block.table, "inet filter");
    EXPECT_EQ(block.chain, "input");
    EXPECT_FALSE(block.conditional);
    EXPECT_NE(block.handle, 0u);
  }
}

TEST_F(HostFirewallTest, ANamespaceThatDoesNotExistIsNotFound) {
  auto blocks = inspectHostFirewall(ns_ + "-missing", kPorts);
  ASSERT_FALSE(blocks);
  EXPECT_EQ(blocks.error().kind, ErrorKind::NotFound) << blocks.error().message;
}

}  // namespace
}  // namespace overmesh::dataplane::kernel
