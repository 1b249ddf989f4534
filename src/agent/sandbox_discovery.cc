#include "agent/sandbox_discovery.h"

#include "state/liveness.h"

namespace overmesh::agent {

SandboxDiscovery::SandboxDiscovery(dataplane::NodeKernel& kernel, dns::EmbeddedDns& dns)
    : kernel_(kernel), dns_(dns) {}

void SandboxDiscovery::refresh(store::Revision revision, const std::vector<api::Network>& networks,
                               const std::vector<api::Service>& services,
                               const std::vector<api::Task>& tasks,
                               const std::vector<api::Node>& nodes) {
  if (built_ && revision == revision_) {
    return;
  }
  dns_.setDirectory(dns::DnsDirectory::build(networks, services, tasks, nodes));
  index_ = dataplane::LbIndex::build(services, tasks, state::NodeReadiness(nodes));
  revision_ = revision;
  built_ = true;
}

Status SandboxDiscovery::prepare(const api::Task& task, const std::string& sandbox,
                                 const std::string& sandboxPath, const dataplane::MeshIndex& mesh) {
  std::vector<std::string> networkIds;
  networkIds.reserve(task.attachments.size());
  for (const auto& attachment : task.attachments) {
    if (attachment.networkId != mesh.ingressNetworkId()) {
      networkIds.push_back(attachment.networkId);
    }
  }
  std::string problems;
  auto attached = attached_.find(task.id);
  if (attached == attached_.end() || attached->second != networkIds) {
    if (auto answered = dns_.attachSandbox(task.id, sandboxPath, networkIds); !answered) {
      problems = "embedded DNS: " + answered.error().message;
    } else {
      attached_[task.id] = networkIds;
    }
  }
  if (auto balanced = kernel_.applySandboxLb(sandbox, index_.forSandbox(networkIds)); !balanced) {
    problems +=
        (problems.empty() ? "" : "; ") + std::string("load balancer: ") + balanced.error().message;
  }
  if (auto ingress = kernel_.applySandboxIngress(sandbox, mesh.forSandbox(task)); !ingress) {
    problems +=
        (problems.empty() ? "" : "; ") + std::string("routing mesh: ") + ingress.error().message;
  }
  if (!problems.empty()) {
    return errorf(ErrorKind::Unavailable, "{}", problems);
  }
  return {};
}

void SandboxDiscovery::forget(const std::string& taskId, const std::string& sandbox) {
  if (attached_.erase(taskId) > 0) {
    dns_.detachSandbox(taskId);
  }
  kernel_.forgetSandboxLb(sandbox);
  kernel_.forgetSandboxIngress(sandbox);
}

}  // namespace overmesh::agent
