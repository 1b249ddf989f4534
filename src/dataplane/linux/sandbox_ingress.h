#pragma once

// The ingress side of every backend sandbox on this node, in the kernel (ingress_rules.h):
// table ip overmesh_ingress inside the sandbox's namespace (libnftables), one fwmark rule
// per node and a default route in that node's routing table (libnl), and rp_filter off
// for "all" and the ingress interface, so that a client's packet arriving on the ingress
// interface is not dropped for having a source the sandbox routes elsewhere.
//
// It remembers, per namespace, what it applied and the namespace's identity (as
// SandboxLoadBalancers does), so that a later apply changes only what differs: a node
// joining or leaving is one map element, one rule and one route; a target port one set
// element. The first apply to a namespace (e.g. after an agent restart), one to a
// namespace made again under the same name, a change of interface and an apply whose
// element batch the kernel refused make everything again, which also removes what an
// earlier agent left and no longer fits (rules at kIngressRulePriority are ours).
//
// Each remembered namespace holds an open descriptor of it (the nft context's socket):
// call forget() when a sandbox goes. Needs CAP_NET_ADMIN and CAP_SYS_ADMIN (setns). Not
// thread-safe: the agent's reconcile thread is its one caller.

#include <cstddef>
#include <map>
#include <optional>
#include <string>

#include "common/error.h"
#include "dataplane/linux/netlink.h"
#include "dataplane/linux/netns.h"
#include "dataplane/linux/nftables.h"
#include "dataplane/mesh_plan.h"

namespace overmesh::dataplane::kernel {

class SandboxIngresses {
 public:
  // Makes the ingress side of namespace `sandboxNamespace` exactly `ingress`; an empty
  // one removes the table, our rules and their routes. Fails with InvalidArgument for a
  // bad namespace or interface name or a node address that cannot be a mark (nothing
  // changed), NotFound when the namespace or the interface does not exist, and with the
  // kernel's words when it refuses a change; after a failure the next apply makes
  // everything again.
  Status apply(const std::string& sandboxNamespace, const SandboxIngress& ingress);

  // Drops what is remembered about the namespace (and closes its descriptor). Nothing is
  // changed in the kernel.
  void forget(const std::string& sandboxNamespace);

  // How many namespaces are remembered (for tests).
  std::size_t size() const { return applied_.size(); }

 private:
  struct Applied {
    NamespaceId id;
    std::optional<Nftables> nft;
    SandboxIngress ingress;
  };

  // Makes everything for `ingress` (or removes it all when empty), whatever is there.
  Status rebuild(const std::string& sandboxNamespace, const NamespaceId& id,
                 std::optional<Nftables> nft, const SandboxIngress& ingress);

  std::map<std::string, Applied> applied_;
};

}  // namespace overmesh::dataplane::kernel
