#pragma once

// NodeKernel on Linux: libnl for links and entries, libnftables for the gateway NAT,
// named namespaces under /run/netns, all in the calling process's network namespace.
// Each operation opens its own route-netlink socket, so the object holds no kernel
// resource and may outlive a namespace change of the thread that made it.

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
};

}  // namespace overmesh::dataplane::kernel
