#pragma once

// The agent's seam to its node's kernel: everything the task agent changes in network
// namespaces, links and rule sets, as a few coarse, idempotent operations. The Linux
// implementation (linux/linux_node_kernel.h) drives netlink, nftables and named
// namespaces; tests use a fake (tests/support/fake_kernel.h) that records what it was
// asked to change. The decisions stay outside: planNode() says what is wanted, the
// operations below make the kernel match and change nothing that is already right.
//
// Errors carry the kernel's words and the object's name (see netlink.h for the kinds).
// Calls come from the agent's reconcile thread; implementations need not be thread-safe.

#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/ip.h"
#include "dataplane/gateway_nat.h"
#include "dataplane/mesh_plan.h"
#include "dataplane/overlay_diff.h"
#include "dataplane/overlay_plan.h"
#include "dataplane/service_lb_plan.h"

namespace overmesh::dataplane {

class NodeKernel {
 public:
  virtual ~NodeKernel() = default;

  // The MTU of the interface holding `address` in the node's namespace; 1500 when no
  // interface has it (or the kernel cannot be asked).
  virtual unsigned int underlayMtu(Ipv4Address address) = 0;

  // ---- overlay devices (bridges, VXLAN, FDB and neighbour entries) ----

  // Makes the node's overlay devices exactly `networks` (others of ours are removed).
  // `local` is the VXLAN source address. Failures are per network, in the report.
  virtual OverlayApplyReport applyOverlay(const std::vector<NetworkPlan>& networks,
                                          Ipv4Address local) = 0;

  // ---- sandboxes (a task's named network namespace) ----

  // Creates the named namespace unless it exists.
  virtual Status ensureNamespace(const std::string& name) = 0;
  // Deletes it; succeeds when it does not exist.
  virtual Status deleteNamespace(const std::string& name) = 0;
  // The names of the existing namespaces that start with `prefix`.
  virtual Result<std::vector<std::string>> listNamespaces(const std::string& prefix) = 0;
  // The file a process joins to enter the namespace (/run/netns/NAME).
  virtual std::string namespacePath(const std::string& name) = 0;

  // The gateway bridge with its address and NAT, up, forwarding on.
  virtual Status ensureGateway(const GatewayConfig& gateway, unsigned int mtu) = 0;
  // Wires the sandbox in namespace `sandbox` as `plan` says (see sandbox_wiring.h);
  // `egressAddress` is needed when plan.egress.
  virtual Status wireSandbox(const std::string& sandbox, const SandboxPlan& plan,
                             const GatewayConfig& gateway,
                             std::optional<Ipv4Prefix> egressAddress) = 0;
  // The gateway-subnet address a wired sandbox already has, if any.
  virtual Result<std::optional<Ipv4Prefix>> sandboxEgressAddress(const std::string& sandbox,
                                                                 const GatewayConfig& gateway) = 0;
  // Deletes the task's host-side devices; missing ones are fine.
  virtual Status unwireSandbox(const std::string& taskId) = 0;

  // ---- the sandbox's VIP load balancer (service_lb_rules.h) ----

  // Makes the sandbox's load-balancer rules exactly `lb`, changing only what differs from
  // what this kernel last applied to that namespace: a service added, removed or with
  // other backends is a batch of that service's map elements only (service_lb_rules.h),
  // whatever else the table holds. The first call for a namespace (e.g. after a restart)
  // replaces the table whole.
  // Fails with NotFound when the namespace does not exist, or with the kernel's words
  // when it refuses the batch; a failed call leaves the old rules or whole new ones, and
  // the next call replaces the table whole.
  virtual Status applySandboxLb(const std::string& sandboxNamespace, const SandboxLb& lb) = 0;
  // Forgets what was applied to a namespace that is gone (the Linux kernel also closes
  // the descriptor that kept it alive). Changes nothing in the kernel.
  virtual void forgetSandboxLb(const std::string& sandboxNamespace) = 0;

  // ---- the routing mesh (mesh_plan.h, mesh_rules.h) ----

  // Makes the node's published ports exactly `mesh` (table ip overmesh_mesh in the node's
  // own namespace), changing only the elements that differ from what was last applied,
  // as applySandboxLb does; the first call (e.g. after a restart) replaces the table
  // whole, which keeps established connections (conntrack keeps their translation).
  // Turns IPv4 forwarding on when there are ports. An empty mesh removes the table.
  virtual Status applyNodeMesh(const NodeMesh& mesh) = 0;

  // Makes the ingress side of the sandbox in namespace `sandboxNamespace` exactly
  // `ingress`: connections that come in on its ingress interface are marked by the node
  // they came through (conntrack mark from the source MAC), replies carry that mark and
  // policy routing sends them back through that node's ingress address; only the target
  // ports are reachable through the ingress interface. Skips what is already right. An
  // empty `ingress` removes all of it. NotFound when the namespace does not exist.
  virtual Status applySandboxIngress(const std::string& sandboxNamespace,
                                     const SandboxIngress& ingress) = 0;
  // Forgets what was applied to a namespace that is gone. Changes nothing in the kernel.
  virtual void forgetSandboxIngress(const std::string& sandboxNamespace) = 0;
};

}  // namespace overmesh::dataplane
