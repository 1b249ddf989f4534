#pragma once

// The host firewall check's kernel side: reads the nftables rule set through libnftables
// (never the nft binary) and hands it to the pure analysis (dataplane/host_firewall_rules.h).
// Rules of iptables-nft are nftables rules and are seen; legacy iptables (x_tables) is not.

#include <string_view>
#include <vector>

#include "common/error.h"
#include "dataplane/host_firewall_rules.h"

namespace overmesh::dataplane::kernel {

// What in the rule set of `namespaceName` ("" = the calling thread's namespace) drops or
// rejects `ports`. Fails with Unavailable when the rule set cannot be read (no netfilter
// socket, no permission), NotFound for a namespace that does not exist, InvalidArgument
// when libnftables' output cannot be analysed.
Result<std::vector<FirewallBlock>> inspectHostFirewall(std::string_view namespaceName,
                                                       const std::vector<NeededPort>& ports);

}  // namespace overmesh::dataplane::kernel
