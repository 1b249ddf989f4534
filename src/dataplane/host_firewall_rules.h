#pragma once

// Finding a host firewall that blocks what overmesh needs: a pure analysis of the host's
// nftables rule set (libnftables' JSON of `list ruleset`), unit-tested with fixtures. The
// adapter that reads the rule set is dataplane/linux/host_firewall.h.
//
// What is analysed: every base chain hooked on `input` of an `ip` or `inet` table that is
// not overmesh's own (overmesh_*), rules of iptables-nft included (they are nftables
// rules). For each needed port the chain is walked as the kernel would, first match wins:
//   - a rule that cannot match the port (another port, another protocol) is skipped;
//   - `accept` ends the walk when the rule matches nothing else, or names the port (an
//     operator's "tcp dport 2377 ip saddr 10.0.0.0/8 accept" is taken as deliberate);
//     an accept on other conditions only (ct state, iifname lo) does not;
//   - `drop` / `reject` is reported; when the rule also matches other things (a source
//     address, an interface) it is reported as conditional and the walk goes on;
//   - `jump` / `goto` walk the target chain (up to 16 deep), `return` ends the chain;
//   - a chain ending with `policy drop` that nothing accepted the port before is reported.
// Not analysed (documented): legacy iptables (x_tables, invisible to nftables), netdev
// ingress hooks, the forward hook, and conditions the analysis cannot decide (a named set
// it cannot find, a service name) which count as conditional.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "api/service_types.h"
#include "common/error.h"

namespace overmesh::dataplane {

// A port that cluster members (or clients, for published ports) must reach on this node.
struct NeededPort {
  std::uint16_t port = 0;
  std::string protocol;  // "tcp" or "udp"
  std::string purpose;   // "cluster API", "node API", "VXLAN", "published by web"

  bool operator==(const NeededPort&) const = default;
};

// The ports of a node: the cluster API when it is a manager, its node API and VXLAN
// always, then each published port.
std::vector<NeededPort> neededPorts(bool manager, std::uint16_t clusterPort, std::uint16_t nodePort,
                                    const std::vector<NeededPort>& published);

// The ports the services publish ("published by NAME"), one per port and protocol (the
// first service's name when several share one), in the services' order.
std::vector<NeededPort> publishedPorts(const std::vector<api::Service>& services);

// "2377/tcp (cluster API)".
std::string describeNeededPort(const NeededPort& port);

// One finding: a rule (or a chain's policy) of someone else's table that drops a needed port.
struct FirewallBlock {
  NeededPort port;
  std::string table;    // "inet filter"
  std::string chain;    // "input"
  std::string verdict;  // "drop", "reject" or "policy drop"
  // The rule also matches something else (a source, an interface, a rate): it blocks
  // some packets to the port, maybe not the cluster's.
  bool conditional = false;
  std::uint64_t handle = 0;  // the rule's handle (`nft -a list ruleset`); 0 for a policy

  bool operator==(const FirewallBlock&) const = default;
};

// "4789/udp (VXLAN): dropped by table inet filter, chain input, rule handle 7 (only some
// packets: the rule also matches other fields)".
std::string describeFirewallBlock(const FirewallBlock& block);

// The blocks of `ports` in `rulesetJson` ({"nftables": [...]}), in the order of `ports`.
// InvalidArgument when the text is not such JSON (larger than 64 MiB, not JSON, no
// "nftables" array); parts of it that are not understood are skipped, never thrown on.
Result<std::vector<FirewallBlock>> findFirewallBlocks(std::string_view rulesetJson,
                                                      const std::vector<NeededPort>& ports);

}  // namespace overmesh::dataplane
