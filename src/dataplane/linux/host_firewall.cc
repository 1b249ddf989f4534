#include "dataplane/linux/host_firewall.h"

#include "dataplane/linux/nftables.h"

namespace overmesh::dataplane::kernel {

Result<std::vector<FirewallBlock>> inspectHostFirewall(std::string_view namespaceName,
                                                       const std::vector<NeededPort>& ports) {
  auto nft = Nftables::open(namespaceName);
  if (!nft) {
    return std::unexpected(nft.error().withContext("host firewall check"));
  }
  auto ruleset = nft->listRulesetJson();
  if (!ruleset) {
    return std::unexpected(ruleset.error().withContext("host firewall check"));
  }
  return findFirewallBlocks(*ruleset, ports);
}

}  // namespace overmesh::dataplane::kernel
