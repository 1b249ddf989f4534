#include "dataplane/linux/linux_host_objects.h"

#include <nlohmann/json.hpp>

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
  // nft's JSON: {"nftables": [{"metainfo": …}, {"table": {"family", "name", …}}, …]}.
  // Parsed without exceptions: a malformed answer is an error, never a throw.
  auto json = nlohmann::json::parse(*text, nullptr, false);
  if (json.is_discarded() || !json.is_object() || !json.contains("nftables") ||
      !json["nftables"].is_array()) {
    return errorf(ErrorKind::Unavailable,
                  "list ruleset: nft answered something that is not its "
                  "JSON ruleset");
  }
  std::vector<NftTableName> tables;
  for (const auto& entry : json["nftables"]) {
    if (!entry.is_object() || !entry.contains("table") || !entry["table"].is_object()) {
      continue;
    }
    const auto& table = entry["table"];
    auto family = table.find("family");
    auto name = table.find("name");
    if (family != table.end() && family->is_string() && name != table.end() && name->is_string()) {
      tables.push_back({family->get<std::string>(), name->get<std::string>()});
    }
  }
  return tables;
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
