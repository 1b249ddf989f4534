#pragma once

// HostObjects on Linux: named namespaces under /run/netns (netns.h), links through route
// netlink (netlink.h), tables through libnftables (nftables.h), all in the calling
// thread's namespace. Each call opens its own socket or context, so the object holds
// nothing between calls.

#include "dataplane/host_objects.h"

namespace overmesh::dataplane::kernel {

class LinuxHostObjects final : public HostObjects {
 public:
  Result<std::vector<std::string>> listNamespaces(const std::string& prefix) override;
  Result<std::vector<HostLink>> listLinks() override;
  // Reads `list ruleset` as JSON and keeps the tables' family and name. Unavailable when
  // nftables cannot be asked or answers something that is not nft's JSON.
  Result<std::vector<NftTableName>> listTables() override;
  Status deleteNamespace(const std::string& name) override;
  Status deleteLink(const std::string& name) override;
  Status deleteTable(const NftTableName& table) override;
};

}  // namespace overmesh::dataplane::kernel
