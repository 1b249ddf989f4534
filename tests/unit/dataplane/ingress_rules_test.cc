#include "dataplane/ingress_rules.h"

#include <gtest/gtest.h>

#include "support/ip_helpers.h"

namespace overmesh::dataplane {
namespace {

using ::overmesh::testing::ip;

IngressPeer peer(std::string_view address) { return {ip(address), macForIp(ip(address))}; }

TEST(IngressRulesTest, MarkIsTheNodesIngressAddress) {
  EXPECT_EQ(ingressMark(ip("10.0.0.2")), 0x0a000002u);
  EXPECT_TRUE(ingressMarkUsable(ip("10.0.0.2")));
  EXPECT_FALSE(ingressMarkUsable(ip("0.0.0.255")));
}

TEST(IngressRulesTest, ReplaceScriptMarksByMacFiltersPortsAndRoutesRepliesByMark) {
  SandboxIngress ingress{"eth1", {peer("10.0.0.2"), peer("10.0.0.3")}, {80, 443}, {53}};
  std::string expected =
      "table ip overmesh_ingress {}\n"
      "delete table ip overmesh_ingress\n"
      "table ip overmesh_ingress {\n"
      "  map nodes { type ether_addr : mark; }\n"
      "  set tcp_ports { type inet_service; }\n"
      "  set udp_ports { type inet_service; }\n"
      "  chain prerouting { type filter hook prerouting priority mangle; policy accept; }\n"
      "  chain input { type filter hook input priority filter; policy accept; }\n"
      "  chain output { type route hook output priority mangle; policy accept; }\n"
      "}\n"
      "add rule ip overmesh_ingress prerouting iifname \"eth1\" ct state new ct mark set ether "
      "saddr map @nodes\n"
      "add rule ip overmesh_ingress input iifname != \"eth1\" accept\n"
      "add rule ip overmesh_ingress input ct state established,related accept\n"
      "add rule ip overmesh_ingress input ct state new tcp dport @tcp_ports accept\n"
      "add rule ip overmesh_ingress input ct state new udp dport @udp_ports accept\n"
      "add rule ip overmesh_ingress input drop\n"
      "add rule ip overmesh_ingress output ct mark != 0 meta mark set ct mark\n"
      "add element ip overmesh_ingress nodes { 02:42:0a:00:00:02 : 0x0a000002, "
      "02:42:0a:00:00:03 : 0x0a000003 }\n"
      "add element ip overmesh_ingress tcp_ports { 80, 443 }\n"
      "add element ip overmesh_ingress udp_ports { 53 }\n";
  EXPECT_EQ(ingressReplaceScript(ingress), expected);
}

TEST(IngressRulesTest, DiffAndUpdateChangeOnlyNodesAndPortsThatMoved) {
  SandboxIngress before{"eth1", {peer("10.0.0.2"), peer("10.0.0.3")}, {80}, {}};
  SandboxIngress after{"eth1", {peer("10.0.0.3"), peer("10.0.0.4")}, {80, 81}, {53}};
  auto changes = diffSandboxIngress(before, after);
  EXPECT_FALSE(changes.interfaceChanged);
  EXPECT_EQ(changes.nodesRemoved, (std::vector<IngressPeer>{peer("10.0.0.2")}));
  EXPECT_EQ(changes.nodesAdded, (std::vector<IngressPeer>{peer("10.0.0.4")}));
  EXPECT_EQ(changes.tcpAdded, (std::vector<std::uint16_t>{81}));
  EXPECT_EQ(changes.udpAdded, (std::vector<std::uint16_t>{53}));
  EXPECT_TRUE(changes.tcpRemoved.empty());
  std::string expected =
      "delete element ip overmesh_ingress nodes { 02:42:0a:00:00:02 }\n"
      "add element ip overmesh_ingress nodes { 02:42:0a:00:00:04 : 0x0a000004 }\n"
      "add element ip overmesh_ingress tcp_ports { 81 }\n"
      "add element ip overmesh_ingress udp_ports { 53 }\n";
  EXPECT_EQ(ingressUpdateScript(changes), expected);
  EXPECT_TRUE(diffSandboxIngress(after, after).empty());
  EXPECT_TRUE(ingressUpdateScript(diffSandboxIngress(after, after)).empty());
}

TEST(IngressRulesTest, AnotherInterfaceOrAFirstApplyMakesEverythingAgain) {
  SandboxIngress before{"eth1", {peer("10.0.0.2")}, {80}, {}};
  SandboxIngress after = before;
  after.interface = "eth2";
  EXPECT_TRUE(diffSandboxIngress(before, after).interfaceChanged);
  EXPECT_TRUE(diffSandboxIngress(SandboxIngress{}, before).interfaceChanged);
}

TEST(IngressRulesDeathTest, AnUnquotableInterfaceIsACallerBug) {
  EXPECT_DEATH(ingressReplaceScript({"eth1\"", {}, {}, {}}), "not a valid interface name");
}

}  // namespace
}  // namespace overmesh::dataplane
