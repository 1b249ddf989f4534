#include "dataplane/gateway_nat.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace overmesh::dataplane {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

Ipv4Prefix prefix(std::string_view text) { return Ipv4Prefix::parse(text).value(); }

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> result;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) {
      end = text.size();
    }
    result.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return result;
}

TEST(GatewayNatRulesetTest, IsTheExpectedScript) {
  EXPECT_EQ(gatewayNatRuleset(prefix("172.18.0.0/16"), "omgw0"),
            "table ip overmesh_gw {}\n"
            "delete table ip overmesh_gw\n"
            "table ip overmesh_gw {\n"
            "  chain postrouting {\n"
            "    type nat hook postrouting priority srcnat; policy accept;\n"
            "    ip saddr 172.18.0.0/16 oifname != \"omgw0\" masquerade;\n"
            "  }\n"
            "  chain forward {\n"
            "    type filter hook forward priority filter; policy accept;\n"
            "    iifname \"omgw0\" oifname \"omgw0\" drop;\n"
            "  }\n"
            "}\n");
}

TEST(GatewayNatRulesetTest, ReplacesOnlyItsOwnTable) {
  std::string script = gatewayNatRuleset(prefix("172.18.0.0/16"), "omgw0");
  auto all = lines(script);
  ASSERT_GE(all.size(), 3u);
  // Create-if-missing, then delete, then the new table: one batch, so atomic.
  EXPECT_EQ(all[0], "table ip overmesh_gw {}");
  EXPECT_EQ(all[1], "delete table ip overmesh_gw");
  for (const auto& line : all) {
    if (line.starts_with("table") || line.starts_with("delete")) {
      EXPECT_THAT(line, HasSubstr("ip overmesh_gw")) << line;
    }
    EXPECT_THAT(line, Not(HasSubstr("flush ruleset"))) << line;
  }
}

TEST(GatewayNatRulesetTest, EveryStatementInsideAChainEndsWithASemicolon) {
  // nft 1.0.6 wants ';' before '}' when a chain is written on one line; keep every
  // statement terminated so the script also survives being joined.
  std::string script = gatewayNatRuleset(prefix("10.255.0.0/24"), "br-gw");
  for (const auto& line : lines(script)) {
    if (line.starts_with("    ")) {
      EXPECT_TRUE(line.ends_with(";")) << line;
    }
  }
}

TEST(GatewayNatRulesetTest, WritesTheSubnetMasked) {
  std::string script = gatewayNatRuleset(prefix("172.18.3.7/16"), "omgw0");
  EXPECT_THAT(script, HasSubstr("ip saddr 172.18.0.0/16 "));
  EXPECT_THAT(script, Not(HasSubstr("172.18.3.7")));
}

TEST(GatewayNatRulesetTest, NamesTheBridgeInBothChains) {
  std::string script = gatewayNatRuleset(prefix("172.18.0.0/16"), "gw_1.x");
  EXPECT_THAT(script, HasSubstr("oifname != \"gw_1.x\" masquerade;"));
  EXPECT_THAT(script, HasSubstr("iifname \"gw_1.x\" oifname \"gw_1.x\" drop;"));
}

TEST(GatewayNatRulesetDeathTest, AbortsOnABridgeNameThatWouldBreakTheScript) {
  EXPECT_DEATH(gatewayNatRuleset(prefix("172.18.0.0/16"), "br\" accept; #"),
               "not a valid bridge name");
  EXPECT_DEATH(gatewayNatRuleset(prefix("172.18.0.0/16"), ""), "not a valid bridge name");
  EXPECT_DEATH(gatewayNatRuleset(prefix("172.18.0.0/16"), "a-name-far-too-long"),
               "not a valid bridge name");
}

}  // namespace
}  // namespace overmesh::dataplane
