#pragma once

// The seam through which the host clean-up (daemon/host_cleanup.h) lists and removes
// kernel objects of the node's own namespace and its named namespaces. The Linux
// implementation is linux/linux_host_objects.h; tests use a fake.
//
// Every call works in the calling thread's network namespace (the node's). Removals
// succeed when the object is already gone, so a clean-up can be run again.

#include <string>
#include <vector>

#include "common/error.h"
#include "dataplane/host_cleanup_plan.h"

namespace overmesh::dataplane {

class HostObjects {
 public:
  virtual ~HostObjects() = default;

  // The named network namespaces (/run/netns) whose names start with `prefix`.
  virtual Result<std::vector<std::string>> listNamespaces(const std::string& prefix) = 0;
  // Every link of the namespace with its kind.
  virtual Result<std::vector<HostLink>> listLinks() = 0;
  // Every nftables table of the namespace.
  virtual Result<std::vector<NftTableName>> listTables() = 0;

  virtual Status deleteNamespace(const std::string& name) = 0;
  virtual Status deleteLink(const std::string& name) = 0;
  virtual Status deleteTable(const NftTableName& table) = 0;
};

}  // namespace overmesh::dataplane
