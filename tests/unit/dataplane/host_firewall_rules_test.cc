// The host firewall check over rule sets that nft 1.0.6 itself listed (tests/fixtures/firewall:
// made with `nft -f` / iptables-nft in a scratch namespace, then `nft -j list ruleset`).

#include "dataplane/host_firewall_rules.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

namespace overmesh::dataplane {

// Readable failures: gtest finds this by argument-dependent lookup.
void PrintTo(const FirewallBlock& block, std::ostream* out) {
  *out << describeFirewallBlock(block) << " [" << block.verdict << "]";
}

namespace {

std::string fixture(const std::string& name) {
  std::ifstream in(std::string(OVERMESH_SOURCE_DIR) + "/tests/fixtures/firewall/" + name);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// A manager that publishes 8080/tcp (iptables_nft.json) or 8050/tcp (jumps.json).
std::vector<NeededPort> managerPorts(std::uint16_t published) {
  return neededPorts(true, 2377, 2378, {{published, "tcp", "published by web"}});
}

FirewallBlock block(std::uint16_t port, std::string protocol, std::string purpose,
                    std::string table, std::string chain, std::string verdict, bool conditional,
                    std::uint64_t handle) {
  return FirewallBlock{{port, std::move(protocol), std::move(purpose)},
                       std::move(table),
                       std::move(chain),
                       std::move(verdict),
                       conditional,
                       handle};
}

TEST(NeededPorts, ManagersAlsoNeedTheClusterPort) {
  EXPECT_EQ(neededPorts(false, 2377, 2378, {}),
            (std::vector<NeededPort>{{2378, "tcp", "node API"}, {4789, "udp", "VXLAN"}}));
  auto manager = neededPorts(true, 2377, 2378, {{80, "tcp", "published by web"}});
  ASSERT_EQ(manager.size(), 4u);
  EXPECT_EQ(manager.front(), (NeededPort{2377, "tcp", "cluster API"}));
  EXPECT_EQ(manager.back(), (NeededPort{80, "tcp", "published by web"}));
}

TEST(NeededPorts, PublishedPortsOncePerPortAndProtocol) {
  auto service = [](std::string name, std::vector<api::PortConfig> ports) {
    api::Service value;
    value.spec.name = std::move(name);
    value.ports = std::move(ports);
    return value;
  };
  std::vector<api::Service> services{
      service("web", {{"tcp", 80, 8080, "ingress"}, {"udp", 53, 8053, "ingress"}}),
      service("api", {{"tcp", 80, 8080, "ingress"}, {"tcp", 80, 0, "ingress"}}),
      service("dns", {{"udp", 53, 9053, "host"}})};
  EXPECT_EQ(publishedPorts(services), (std::vector<NeededPort>{{8080, "tcp", "published by web"},
                                                               {8053, "udp", "published by web"},
                                                               {9053, "udp", "published by dns"}}));
  EXPECT_EQ(describeNeededPort({2377, "tcp", "cluster API"}), "2377/tcp (cluster API)");
}

TEST(HostFirewall, PolicyDropWithoutAnAcceptBlocksThePort) {
  auto blocks = findFirewallBlocks(fixture("policy_drop.json"), managerPorts(8080));
  ASSERT_TRUE(blocks) << blocks.error().message;
  // 2377 is accepted by "tcp dport { 22, 2377 } accept"; ct state and iifname lo accepts
  // are conditions on something else and do not accept the others; the forward chain is
  // not an input hook.
  EXPECT_EQ(*blocks,
            (std::vector<FirewallBlock>{
                block(2378, "tcp", "node API", "inet filter", "input", "policy drop", false, 0),
                block(4789, "udp", "VXLAN", "inet filter", "input", "policy drop", false, 0),
                block(8080, "tcp", "published by web", "inet filter", "input", "policy drop", false,
                      0)}));
}

TEST(HostFirewall, ReadsIptablesNftRules) {
  auto blocks = findFirewallBlocks(fixture("iptables_nft.json"), managerPorts(8080));
  ASSERT_TRUE(blocks) << blocks.error().message;
  // -j REJECT is an xt target; -m multiport an xt match the check cannot read (so the
  // DROP is "only some packets"), and the chain's policy then drops the rest.
  EXPECT_EQ(
      *blocks,
      (std::vector<FirewallBlock>{
          block(2378, "tcp", "node API", "ip filter", "INPUT", "drop", true, 5),
          block(2378, "tcp", "node API", "ip filter", "INPUT", "policy drop", false, 0),
          block(4789, "udp", "VXLAN", "ip filter", "INPUT", "reject", false, 4),
          block(8080, "tcp", "published by web", "ip filter", "INPUT", "drop", true, 5),
          block(8080, "tcp", "published by web", "ip filter", "INPUT", "policy drop", false, 0)}));
}

TEST(HostFirewall, FollowsJumpsNamedSetsAndRangesAndSkipsOursAndIpv6) {
  auto blocks = findFirewallBlocks(fixture("jumps.json"), managerPorts(8050));
  ASSERT_TRUE(blocks) << blocks.error().message;
  // 2378 and 8050 are in @blocked_ports (8050 through its 8000-8100 range); 4789's rate
  // limited accept is not an accept of every packet, so the walk returns to input, where
  // a drop of some sources follows. overmesh_underlay and the ip6 table are not reported.
  EXPECT_EQ(*blocks,
            (std::vector<FirewallBlock>{
                block(2378, "tcp", "node API", "ip fw", "checks", "reject", false, 6),
                block(4789, "udp", "VXLAN", "ip fw", "input", "drop", true, 5),
                block(8050, "tcp", "published by web", "ip fw", "checks", "reject", false, 6)}));
}

TEST(HostFirewall, AnEmptyRulesetBlocksNothing) {
  auto blocks =
      findFirewallBlocks(R"({"nftables": [{"metainfo": {"version": "1.0.6"}}]})", managerPorts(80));
  ASSERT_TRUE(blocks) << blocks.error().message;
  EXPECT_TRUE(blocks->empty());
}

TEST(HostFirewall, RefusesWhatIsNotARuleset) {
  for (const char* text : {"", "not json", "[]", R"({"nftables": 3})", R"({"other": []})"}) {
    auto blocks = findFirewallBlocks(text, managerPorts(80));
    ASSERT_FALSE(blocks) << text;
    EXPECT_EQ(blocks.error().kind, ErrorKind::InvalidArgument) << text;
    EXPECT_NE(blocks.error().message.find("nftables rule set"), std::string::npos) << text;
  }
}

TEST(HostFirewall, SkipsObjectsOfUnexpectedShapesWithoutThrowing) {
  // Wrong types everywhere the analysis reads: nothing is decided from them, nothing throws.
  const char* text = R"({"nftables": [
    {"chain": {"family": "ip", "table": "t", "name": "in", "hook": "input", "policy": "drop"}},
    {"rule": {"family": "ip", "table": "t", "chain": "in", "handle": "x", "expr": [
      {"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}},
                 "right": {"range": [1]}}}, {"drop": null}]}},
    {"rule": {"family": "ip", "table": "t", "chain": "in", "expr": "nope"}},
    {"rule": {"family": "ip", "table": "t", "chain": "in", "expr": [3, [], {"jump": 5},
      {"match": 7}, {"accept": null}]}},
    {"set": {"family": "ip", "table": "t", "name": "s", "elem": 3}},
    7, "text", null]})";
  auto blocks = findFirewallBlocks(text, managerPorts(80));
  ASSERT_TRUE(blocks) << blocks.error().message;
  // The malformed range is undecidable: a conditional drop (handle unreadable: 0); the
  // fourth rule has a match it cannot read, so its accept is conditional; then the policy.
  EXPECT_EQ(blocks->front(), block(2377, "tcp", "cluster API", "ip t", "in", "drop", true, 0));
  EXPECT_EQ(blocks->back(),
            block(80, "tcp", "published by web", "ip t", "in", "policy drop", false, 0));
}

TEST(HostFirewall, DescribesABlockForTheLogAndInfo) {
  EXPECT_EQ(
      describeFirewallBlock(block(4789, "udp", "VXLAN", "ip filter", "INPUT", "reject", false, 4)),
      "4789/udp (VXLAN): rejected by table ip filter, chain INPUT, rule handle 4");
  EXPECT_EQ(describeFirewallBlock(
                block(2378, "tcp", "node API", "inet filter", "input", "policy drop", false, 0)),
            "2378/tcp (node API): dropped by the policy of table inet filter, chain input");
  EXPECT_EQ(
      describeFirewallBlock(block(2378, "tcp", "node API", "ip fw", "input", "drop", true, 5)),
      "2378/tcp (node API): dropped by table ip fw, chain input, rule handle 5 (only some "
      "packets: the rule also matches other fields)");
}

}  // namespace
}  // namespace overmesh::dataplane
