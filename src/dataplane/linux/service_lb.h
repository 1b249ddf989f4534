#pragma once

// The VIP load balancer of every sandbox on this node, in the kernel: one nftables table
// (service_lb_rules.h) per sandbox namespace, programmed through libnftables with an nft
// context bound to that namespace.
//
// It remembers, per namespace, the plan it last applied there, the backend maps its table
// has, and the namespace's identity (device and inode of /run/netns/NAME), so that a
// later apply sends only the difference: the elements of the services that changed, in
// one batch, whatever the number of services present. The
// first apply to a namespace, an apply to a namespace that was recreated under the same
// name, and an apply whose incremental batch the kernel refused (someone removed our
// table) replace the whole table instead, which also adopts what an earlier agent left.
//
// After an incremental change, the UDP flows conntrack still pins to a backend that left
// a service are deleted, so that a client reusing its socket is balanced afresh (TCP
// connections are left to finish; see conntrack.h). That deletion walks the host's whole
// conntrack table (~12 ms), so it runs on a thread of its own, a few milliseconds after
// apply() returned; new connections avoid the backend from the moment apply() returns.
//
// Each remembered namespace holds an open descriptor of it (the nft context's socket
// lives there), which keeps the kernel namespace alive after /run/netns/NAME is removed:
// call forget() when a sandbox goes.
//
// Needs CAP_NET_ADMIN and CAP_SYS_ADMIN (setns). Not thread-safe: the agent's reconcile
// thread is its one caller (the flow cleaner's thread shares nothing with it but a queue).

#include <cstddef>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "common/error.h"
#include "dataplane/linux/netns.h"
#include "dataplane/linux/nftables.h"
#include "dataplane/service_lb_plan.h"
#include "dataplane/service_lb_rules.h"

namespace overmesh::dataplane::kernel {

class SandboxLoadBalancers {
 public:
  SandboxLoadBalancers();
  // Stops the flow cleaner; deletions still queued are dropped (those flows end at their
  // conntrack timeout).
  ~SandboxLoadBalancers();
  SandboxLoadBalancers(const SandboxLoadBalancers&) = delete;
  SandboxLoadBalancers& operator=(const SandboxLoadBalancers&) = delete;

  // Makes the load balancer of namespace `sandboxNamespace` exactly `lb` (sorted by VIP,
  // one service per VIP, as LbIndex::forSandbox gives it). Changes nothing when `lb` is
  // what was last applied there. Fails with InvalidArgument for a bad namespace name,
  // NotFound when the namespace does not exist, Unavailable / InvalidArgument with nft's
  // message when the kernel refuses the batch; after a failure the namespace's table is
  // either what it was or whole and correct, never half-changed, and the next apply
  // replaces it whole.
  Status apply(const std::string& sandboxNamespace, const SandboxLb& lb);

  // Drops what is remembered about the namespace (and closes its descriptor). The table
  // itself goes with the namespace; nothing is changed in the kernel.
  void forget(const std::string& sandboxNamespace);

  // How many namespaces are remembered (for tests).
  std::size_t size() const { return applied_.size(); }

  // Waits until the UDP-flow deletions queued so far are done (tests, benchmarks).
  void waitForFlowCleanup();

 private:
  struct Applied {
    NamespaceId id;
    Nftables nft;
    SandboxLb lb;
    std::set<std::size_t> backendCounts;  // the backends_K maps the table has
  };

  class FlowCleaner;

  // Queues the deletion of the UDP conntrack entries that still lead to backends
  // `changes` took away (linux/conntrack.h says why UDP only); failures are logged.
  void forgetUdpFlows(const std::string& sandboxNamespace, const LbChanges& changes);

  // Opens a context in the namespace and replaces the table whole.
  Status replace(const std::string& sandboxNamespace, const NamespaceId& id, const SandboxLb& lb);

  std::map<std::string, Applied> applied_;
  std::unique_ptr<FlowCleaner> cleaner_;
};

}  // namespace overmesh::dataplane::kernel
