#pragma once

// NodeKernel on Linux: libnl for links and entries, libnftables for the gateway NAT and
// the sandboxes' load balancers, named namespaces under /run/netns. Each link operation
// opens its own route-netlink socket in the calling process's network namespace; the only
// kernel resources the object holds are the load balancers' nft contexts, one per sandbox
// namespace, each bound to its namespace (see service_lb.h).

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
};

}  // namespace overmesh::dataplane::kernel
