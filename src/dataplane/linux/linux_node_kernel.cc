#include "dataplane/linux/linux_node_kernel.h"

#include "dataplane/linux/netlink.h"
#include "dataplane/linux/netns.h"
#include "dataplane/linux/overlay_reconciler.h"
#include "dataplane/linux/sandbox_wiring.h"

namespace overmesh::dataplane::kernel {

unsigned int LinuxNodeKernel::underlayMtu(Ipv4Address address) {
  constexpr unsigned int kDefaultMtu = 1500;
  auto netlink = Netlink::open("");
  if (!netlink) {
    return kDefaultMtu;
  }
  auto addresses = netlink->listAddresses("");
  if (!addresses) {
    return kDefaultMtu;
  }
  for (const auto& entry : *addresses) {
    if (entry.address.address() == address) {
      auto link = netlink->link(entry.device);
      if (link && link->mtu > 0) {
        return link->mtu;
      }
    }
  }
  return kDefaultMtu;
}

OverlayApplyReport LinuxNodeKernel::applyOverlay(const std::vector<NetworkPlan>& networks,
                                                 Ipv4Address local) {
  auto host = Netlink::open("");
  if (!host) {
    OverlayApplyReport report;
    report.problems.push_back(host.error().message);
    report.kernelUnavailable = true;
    return report;
  }
  return kernel::applyOverlay(*host, networks, local);
}

Status LinuxNodeKernel::ensureNamespace(const std::string& name) {
  if (namespaceExists(name)) {
    return {};
  }
  return createNamespace(name);
}

Status LinuxNodeKernel::deleteNamespace(const std::string& name) {
  return kernel::deleteNamespace(name);
}

Result<std::vector<std::string>> LinuxNodeKernel::listNamespaces(const std::string& prefix) {
  return kernel::listNamespaces(prefix);
}

std::string LinuxNodeKernel::namespacePath(const std::string& name) {
  return kernel::namespacePath(name);
}

Status LinuxNodeKernel::ensureGateway(const GatewayConfig& gateway, unsigned int mtu) {
  auto host = Netlink::open("");
  if (!host) {
    return std::unexpected(host.error());
  }
  return kernel::ensureGateway(*host, gateway, mtu);
}

Status LinuxNodeKernel::wireSandbox(const std::string& sandbox, const SandboxPlan& plan,
                                    const GatewayConfig& gateway,
                                    std::optional<Ipv4Prefix> egressAddress) {
  auto host = Netlink::open("");
  if (!host) {
    return std::unexpected(host.error());
  }
  return kernel::wireSandbox(*host, sandbox, plan, gateway, egressAddress);
}

Result<std::optional<Ipv4Prefix>> LinuxNodeKernel::sandboxEgressAddress(
    const std::string& sandbox, const GatewayConfig& gateway) {
  return kernel::sandboxEgressAddress(sandbox, gateway);
}

Status LinuxNodeKernel::unwireSandbox(const std::string& taskId) {
  auto host = Netlink::open("");
  if (!host) {
    return std::unexpected(host.error());
  }
  return kernel::unwireSandbox(*host, taskId);
}

Status LinuxNodeKernel::applySandboxLb(const std::string& sandboxNamespace, const SandboxLb& lb) {
  return loadBalancers_.apply(sandboxNamespace, lb);
}

void LinuxNodeKernel::forgetSandboxLb(const std::string& sandboxNamespace) {
  loadBalancers_.forget(sandboxNamespace);
}

Status LinuxNodeKernel::applyNodeMesh(const NodeMesh& mesh) { return mesh_.apply(mesh); }

Status LinuxNodeKernel::applySandboxIngress(const std::string& sandboxNamespace,
                                            const SandboxIngress& ingress) {
  return ingresses_.apply(sandboxNamespace, ingress);
}

void LinuxNodeKernel::forgetSandboxIngress(const std::string& sandboxNamespace) {
  ingresses_.forget(sandboxNamespace);
}

}  // namespace overmesh::dataplane::kernel
