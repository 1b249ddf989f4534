#include "cli/host_ports_info.h"

#include <gtest/gtest.h>

namespace overmesh::cli {
namespace {

TEST(HostPortsInfo, ListsPortsAndSaysWhenNothingBlocksThem) {
  auto info = nlohmann::json::parse(R"js({"ports": ["2378/tcp (node API)", "4789/udp (VXLAN)"],
                                        "firewall": {"blocks": []}})js");
  EXPECT_EQ(formatHostPorts(info),
            "Ports needed:    2378/tcp (node API), 4789/udp (VXLAN)\n"
            "Host firewall:   no nftables rule of another table blocks them (legacy iptables "
            "rules are not visible)\n");
}

TEST(HostPortsInfo, ListsEachBlockingRule) {
  auto info = nlohmann::json::parse(R"js({"ports": ["4789/udp (VXLAN)"], "firewall": {"blocks": [
      "4789/udp (VXLAN): rejected by table ip filter, chain INPUT, rule handle 4"]}})js");
  EXPECT_EQ(formatHostPorts(info),
            "Ports needed:    4789/udp (VXLAN)\n"
            "Host firewall:   1 rule blocks ports this node needs:\n"
            "  4789/udp (VXLAN): rejected by table ip filter, chain INPUT, rule handle 4\n");
}

TEST(HostPortsInfo, SaysWhyItCouldNotCheck) {
  auto info = nlohmann::json::parse(
      R"js({"ports": [], "firewall": {"blocks": [], "error": "host firewall check: EPERM"}})js");
  EXPECT_EQ(formatHostPorts(info), "Host firewall:   cannot check: host firewall check: EPERM\n");
}

TEST(HostPortsInfo, AnOlderDaemonOrWrongTypesPrintNothing) {
  EXPECT_EQ(formatHostPorts(nlohmann::json::parse(R"js({"version": "0.1.0"})js")), "");
  EXPECT_EQ(formatHostPorts(nlohmann::json::parse(R"js({"ports": 3, "firewall": [1]})js")), "");
  EXPECT_EQ(formatHostPorts(nlohmann::json::parse(R"js([])js")), "");
  EXPECT_EQ(
      formatHostPorts(nlohmann::json::parse(R"js({"firewall": {"blocks": [3], "error": 4}})js")),
      "Host firewall:   no nftables rule of another table blocks them (legacy iptables "
      "rules are not visible)\n");
}

}  // namespace
}  // namespace overmesh::cli
