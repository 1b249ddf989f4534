#include "dataplane/ingress_rules.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <iterator>

#include "dataplane/gateway_nat.h"

namespace overmesh::dataplane {
namespace {

// The items of `before` not in `after` and the reverse (both sorted).
template <typename T>
void splitSorted(const std::vector<T>& before, const std::vector<T>& after, std::vector<T>& gone,
                 std::vector<T>& came) {
  std::set_difference(before.begin(), before.end(), after.begin(), after.end(),
                      std::back_inserter(gone));
  std::set_difference(after.begin(), after.end(), before.begin(), before.end(),
                      std::back_inserter(came));
}

void appendNodeElements(std::string& script, std::string_view verb,
                        const std::vector<IngressPeer>& nodes) {
  if (nodes.empty()) {
    return;
  }
  fmt::format_to(std::back_inserter(script), "{} element {} {} nodes {{ ", verb, kIngressFamily,
                 kIngressTable);
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    if (!ingressMarkUsable(nodes[i].address)) {
      std::fprintf(stderr, "fatal: ingress rules: %s cannot be a mark\n",
                   nodes[i].address.toString().c_str());
      std::abort();
    }
    fmt::format_to(std::back_inserter(script), "{}{}", i == 0 ? "" : ", ", nodes[i].mac);
    if (verb == "add") {
      fmt::format_to(std::back_inserter(script), " : {:#010x}", ingressMark(nodes[i].address));
    }
  }
  script += " }\n";
}

void appendPortElements(std::string& script, std::string_view verb, std::string_view set,
                        const std::vector<std::uint16_t>& ports) {
  if (ports.empty()) {
    return;
  }
  fmt::format_to(std::back_inserter(script), "{} element {} {} {} {{ {} }}\n", verb, kIngressFamily,
                 kIngressTable, set, fmt::join(ports, ", "));
}

}  // namespace

IngressChanges diffSandboxIngress(const SandboxIngress& applied, const SandboxIngress& wanted) {
  IngressChanges changes;
  if (applied.interface != wanted.interface || applied.empty()) {
    changes.interfaceChanged = true;
    return changes;
  }
  splitSorted(applied.nodes, wanted.nodes, changes.nodesRemoved, changes.nodesAdded);
  splitSorted(applied.tcpPorts, wanted.tcpPorts, changes.tcpRemoved, changes.tcpAdded);
  splitSorted(applied.udpPorts, wanted.udpPorts, changes.udpRemoved, changes.udpAdded);
  return changes;
}

std::string ingressReplaceScript(const SandboxIngress& ingress) {
  if (!isPlainDeviceName(ingress.interface)) {
    std::fprintf(stderr, "fatal: ingressReplaceScript: \"%s\" is not a valid interface name\n",
                 ingress.interface.c_str());
    std::abort();
  }
  std::string script = fmt::format(
      "table {0} {1} {{}}\n"
      "delete table {0} {1}\n"
      "table {0} {1} {{\n"
      "  map nodes {{ type ether_addr : mark; }}\n"
      "  set tcp_ports {{ type inet_service; }}\n"
      "  set udp_ports {{ type inet_service; }}\n"
      "  chain prerouting {{ type filter hook prerouting priority mangle; policy accept; }}\n"
      "  chain input {{ type filter hook input priority filter; policy accept; }}\n"
      "  chain output {{ type route hook output priority mangle; policy accept; }}\n"
      "}}\n"
      "add rule {0} {1} prerouting iifname \"{2}\" ct state new ct mark set ether saddr map "
      "@nodes\n"
      "add rule {0} {1} input iifname != \"{2}\" accept\n"
      "add rule {0} {1} input ct state established,related accept\n"
      "add rule {0} {1} input ct state new tcp dport @tcp_ports accept\n"
      "add rule {0} {1} input ct state new udp dport @udp_ports accept\n"
      "add rule {0} {1} input drop\n"
      "add rule {0} {1} output ct mark != 0 meta mark set ct mark\n",
      kIngressFamily, kIngressTable, ingress.interface);
  appendNodeElements(script, "add", ingress.nodes);
  appendPortElements(script, "add", "tcp_ports", ingress.tcpPorts);
  appendPortElements(script, "add", "udp_ports", ingress.udpPorts);
  return script;
}

std::string ingressUpdateScript(const IngressChanges& changes) {
  std::string script;
  appendNodeElements(script, "delete", changes.nodesRemoved);
  appendPortElements(script, "delete", "tcp_ports", changes.tcpRemoved);
  appendPortElements(script, "delete", "udp_ports", changes.udpRemoved);
  appendNodeElements(script, "add", changes.nodesAdded);
  appendPortElements(script, "add", "tcp_ports", changes.tcpAdded);
  appendPortElements(script, "add", "udp_ports", changes.udpAdded);
  return script;
}

}  // namespace overmesh::dataplane
