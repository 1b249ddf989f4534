#include "dataplane/linux/linux_host_objects.h"

#include "dataplane/linux/netlink.h"
#include "dataplane/linux/netns.h"
#include "dataplane/linux/nftables.h"

namespace overmesh::dataplane::kernel {

Result<std::vector<std::string>> LinuxHostObjects::listNamespaces(const std::string& prefix) {
  return kernel::listNamespaces(prefix);
}

Result<std::vector<HostLink>> LinuxHostObjects::listLinks() {
  auto netlink = Netlink::open("");
  if (!netlink) {
    return std::unexpected(netlink.error());
  }
  auto links = netlink->listLinks();
  if (!links) {
    return std::unexpected(links.error());
  }
  std::vector<HostLink> result;
  result.reserve(links->size());
  for (const auto& link : *links) {
    result.push_back({link.name, link.type});
  }
  return result;
}

Result<std::vector<NftTableName>> LinuxHostObjects::listTables() {
  auto nft = Nftables::open("");
  if (!nft) {
    return std::unexpected(nft.error());
  }
  auto text = nft->listRulesetJson();
  if (!text) {
    return std::unexpected(text.error());
  }
  return tablesOfRuleset(*text);
}

Status LinuxHostObjects::deleteNamespace(const std::string& name) {
  return kernel::deleteNamespace(name);
}

Status LinuxHostObjects::deleteLink(const std::string& name) {
  auto netlink = Netlink::open("");
  if (!netlink) {
    return std::unexpected(netlink.error());
  }
  return netlink->deleteLink(name);
}

Status LinuxHostObjects::deleteTable(const NftTableName& table) {
  auto nft = Nftables::open("");
  if (!nft) {
    return std::unexpected(nft.error());
  }
  return nft->deleteTableIfExists(table.family, table.name);
}

}  // namespace overmesh::dataplane::kernel
