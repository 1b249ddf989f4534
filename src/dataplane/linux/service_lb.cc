#include "dataplane/linux/service_lb.h"

#include <netinet/in.h>
#include <spdlog/spdlog.h>

#include "dataplane/linux/conntrack.h"

#include "dataplane/service_lb_rules.h"

namespace overmesh::dataplane::kernel {

Status SandboxLoadBalancers::apply(const std::string& sandboxNamespace, const SandboxLb& lb) {
  if (auto valid = validateNamespaceName(sandboxNamespace); !valid) {
    return std::unexpected(valid.error().withContext("load balancer"));
  }
  auto id = namespaceIdOf(namespacePath(sandboxNamespace));
  if (!id) {
    applied_.erase(sandboxNamespace);
    return std::unexpected(id.error().withContext(
        fmt::format("load balancer of namespace \"{}\"", sandboxNamespace)));
  }
  auto found = applied_.find(sandboxNamespace);
  if (found == applied_.end() || found->second.id != *id) {
    return replace(sandboxNamespace, *id, lb);
  }
  auto changes = diffSandboxLb(found->second.lb, lb);
  if (changes.empty()) {
    found->second.lb = lb;  // IDs or names may differ; the rules do not
    return {};
  }
  auto counts = found->second.backendCounts;
  auto updated = found->second.nft.run(lbUpdateScript(changes, counts));
  if (updated) {
    found->second.lb = lb;
    found->second.backendCounts = std::move(counts);
    forgetUdpFlows(sandboxNamespace, changes);
    return {};
  }
  // The table is not what we remember (removed or edited by someone else): the batch
  // changed nothing, so start again from a whole table.
  spdlog::warn("load balancer of namespace {}: incremental update refused ({}); replacing the "
               "table",
               sandboxNamespace, updated.error().message);
  return replace(sandboxNamespace, *id, lb);
}

Status SandboxLoadBalancers::replace(const std::string& sandboxNamespace, const NamespaceId& id,
                                     const SandboxLb& lb) {
  applied_.erase(sandboxNamespace);
  auto nft = Nftables::open(sandboxNamespace);
  if (!nft) {
    return std::unexpected(nft.error().withContext("load balancer"));
  }
  if (auto replaced = nft->run(lbReplaceScript(lb)); !replaced) {
    return std::unexpected(replaced.error().withContext("load balancer"));
  }
  applied_.emplace(sandboxNamespace, Applied{id, std::move(*nft), lb, lbBackendCounts(lb)});
  return {};
}

void SandboxLoadBalancers::forgetUdpFlows(const std::string& sandboxNamespace,
                                          const LbChanges& changes) {
  for (const auto& departure : lbDepartures(changes)) {
    auto deleted =
        deleteConntrackFlows(sandboxNamespace, departure.vip, departure.backend, IPPROTO_UDP);
    if (!deleted) {
      // The rules are right; a stale UDP flow only lasts until its conntrack timeout.
      spdlog::warn("load balancer: {}", deleted.error().message);
    }
  }
}

void SandboxLoadBalancers::forget(const std::string& sandboxNamespace) {
  applied_.erase(sandboxNamespace);
}

}  // namespace overmesh::dataplane::kernel
