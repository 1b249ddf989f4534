#pragma once

// NodeKernel on Linux: libnl for links and entries, libnftables for the gateway NAT and
// the sandboxes' load balancers, named namespaces under /run/netns. Each link operation
// opens its own route-netlink socket in the calling process's network namespace; the only
// kernel resources the object holds are nft contexts: the load balancers' and the ingress
// sides', one per sandbox namespace, each bound to its namespace (service_lb.h,
// sandbox_ingress.h), and the routing mesh's in the node's namespace (node_mesh.h).
// applyNodeMesh() works in the calling thread's namespace, like applyOverlay().

#include "dataplane/linux/node_mesh.h"
#include "dataplane/linux/sandbox_ingress.h"
#include "dataplane/linux/service_lb.h"
#include "dataplane/node_kernel.h"

namespace overmesh::dataplane::kernel {

class LinuxNodeKernel final : public NodeKernel {
 public:
  unsigned int underlayMtu(Ipv4Address address) override;
  OverlayApplyReport applyOverlay(const std::vector<NetworkPlan>& networks,
                                  Ipv4Address local) override;
  Status ensureNamespace(const std::string& name) override;
  Status deleteNamespace(const std::string& name) override;
  Result<std::vector<std::string>> listNamespaces(const std::string& prefix) override;
  std::string namespacePath(const std::string& name) override;
  Status ensureGateway(const GatewayConfig& gateway, unsigned int mtu) override;
  Status wireSandbox(const std::string& sandbox, const SandboxPlan& plan,
                     const GatewayConfig& gateway,
                     std::optional<Ipv4Prefix> egressAddress) override;
  Result<std::optional<Ipv4Prefix>> sandboxEgressAddress(const std::string& sandbox,
                                                         const GatewayConfig& gateway) override;
  Status unwireSandbox(const std::string& taskId) override;
  Status applySandboxLb(const std::string& sandboxNamespace, const SandboxLb& lb) override;
  void forgetSandboxLb(const std::string& sandboxNamespace) override;
  Status applyNodeMesh(const NodeMesh& mesh) override;
  Status applySandboxIngress(const std::string& sandboxNamespace,
                             const SandboxIngress& ingress) override;
  void forgetSandboxIngress(const std::string& sandboxNamespace) override;

 private:
  SandboxLoadBalancers loadBalancers_;
  NodeMeshTable mesh_;          // the node's published ports (table ip overmesh_mesh)
  SandboxIngresses ingresses_;  // the backends' ingress sides
};

}  // namespace overmesh::dataplane::kernel
