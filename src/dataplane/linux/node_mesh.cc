#include "dataplane/linux/node_mesh.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <vector>

#include "dataplane/linux/conntrack.h"

#include "dataplane/gateway_nat.h"
#include "dataplane/linux/sysctl.h"
#include "dataplane/mesh_rules.h"

namespace overmesh::dataplane::kernel {
namespace {

// The namespace of the calling thread, as the kernel names it.
constexpr const char* kThreadNamespace = "/proc/thread-self/ns/net";

Status validateMesh(const NodeMesh& mesh) {
  if (!mesh.ingressBridge.empty() && !isPlainDeviceName(mesh.ingressBridge)) {
    return errorf(ErrorKind::InvalidArgument,
                  "routing mesh: ingress bridge \"{}\" is not a device name (1-15 characters "
                  "of A-Z a-z 0-9 _ . -)",
                  mesh.ingressBridge);
  }
  for (const auto& port : mesh.ports) {
    if (port.protocol != "tcp" && port.protocol != "udp") {
      return errorf(ErrorKind::InvalidArgument,
                    "routing mesh: port {} of service {} has protocol \"{}\"; valid: tcp, udp",
                    port.publishedPort, port.serviceName, port.protocol);
    }
  }
  return {};
}

// The (backend, target port) pairs of UDP ports that `changes` takes away: a removed
// port's backends, the backends a changed port lost.
std::vector<MeshBackend> departedUdpBackends(const MeshChanges& changes) {
  std::vector<MeshBackend> departed;
  for (const auto& port : changes.removed) {
    if (port.protocol == "udp") {
      departed.insert(departed.end(), port.backends.begin(), port.backends.end());
    }
  }
  for (const auto& change : changes.changed) {
    if (change.before.protocol != "udp") {
      continue;
    }
    for (const auto& backend : change.before.backends) {
      if (std::find(change.after.backends.begin(), change.after.backends.end(), backend) ==
          change.after.backends.end()) {
        departed.push_back(backend);
      }
    }
  }
  return departed;
}

// A UDP flow keeps the backend conntrack chose for it as long as its client keeps sending
// (30 s, 120 s once answered), so a client that reuses its socket (a resolver, statsd)
// would go on reaching a replica that left. Its entries go; its next datagram is
// balanced afresh. TCP is left alone, as in the VIP balancer (conntrack.h says why).
// Each deletion walks the host's conntrack table (~12 ms), so a pass deletes for a bounded
// number of backends; the rest expire on their own.
constexpr std::size_t kMaxUdpCleanupsPerApply = 16;

void forgetUdpFlows(const MeshChanges& changes) {
  auto departed = departedUdpBackends(changes);
  if (departed.empty()) {
    return;
  }
  UniqueFd self(open(kThreadNamespace, O_RDONLY | O_CLOEXEC));
  if (!self.valid()) {
    spdlog::warn("routing mesh: forget UDP flows: open {}: {}", kThreadNamespace,
                 errnoText(errno));
    return;
  }
  std::size_t done = 0;
  for (const auto& backend : departed) {
    if (done++ == kMaxUdpCleanupsPerApply) {
      spdlog::warn("routing mesh: {} UDP backends left at once; flows beyond the first {} are "
                   "left to expire",
                   departed.size(), kMaxUdpCleanupsPerApply);
      return;
    }
    auto deleted = deleteConntrackFlowsFrom(self.get(), "of the node", backend.address,
                                            backend.port, IPPROTO_UDP);
    if (!deleted) {
      spdlog::warn("routing mesh: {}", deleted.error().message);
    }
  }
}

}  // namespace

Status NodeMeshTable::apply(const NodeMesh& mesh) {
  if (auto valid = validateMesh(mesh); !valid) {
    return valid;
  }
  auto id = namespaceIdOf(kThreadNamespace);
  if (!id) {
    return std::unexpected(id.error().withContext("routing mesh"));
  }
  if (applied_ && applied_->id != *id) {
    applied_.reset();
  }
  if (mesh.empty()) {
    if (applied_ && applied_->mesh.empty()) {
      return {};
    }
    auto nft = applied_ ? Result<Nftables>(std::move(applied_->nft)) : Nftables::open("");
    applied_.reset();
    if (!nft) {
      return std::unexpected(nft.error().withContext("routing mesh"));
    }
    if (auto removed = nft->deleteTableIfExists(kMeshFamily, kMeshTable); !removed) {
      return std::unexpected(removed.error().withContext("routing mesh"));
    }
    applied_.emplace(Applied{*id, std::move(*nft), {}, {}});
    return {};
  }
  if (!applied_ || applied_->mesh.empty()) {
    return replace(*id, mesh);
  }
  auto changes = diffNodeMesh(applied_->mesh, mesh);
  if (changes.empty()) {
    applied_->mesh = mesh;  // service names may differ; the rules do not
    return {};
  }
  if (changes.rulesChanged) {
    return replace(*id, mesh);
  }
  auto counts = applied_->backendCounts;
  auto updated = applied_->nft.run(meshUpdateScript(changes, counts));
  if (updated) {
    applied_->mesh = mesh;
    applied_->backendCounts = std::move(counts);
    forgetUdpFlows(changes);
    return {};
  }
  // The table is not what we remember (removed or edited by someone else): the batch
  // changed nothing, so start again from a whole table.
  spdlog::warn("routing mesh: incremental update refused ({}); replacing the table",
               updated.error().message);
  return replace(*id, mesh);
}

Status NodeMeshTable::replace(const NamespaceId& id, const NodeMesh& mesh) {
  auto nft = applied_ ? Result<Nftables>(std::move(applied_->nft)) : Nftables::open("");
  applied_.reset();
  if (!nft) {
    return std::unexpected(nft.error().withContext("routing mesh"));
  }
  // Forwarding first: a table that DNATs to other hosts is useless without it.
  if (auto forwarding = enableIpv4Forwarding(); !forwarding) {
    return std::unexpected(forwarding.error().withContext("routing mesh"));
  }
  if (auto replaced = nft->run(meshReplaceScript(mesh)); !replaced) {
    return std::unexpected(replaced.error().withContext("routing mesh"));
  }
  applied_.emplace(Applied{id, std::move(*nft), mesh, meshBackendCounts(mesh)});
  return {};
}

}  // namespace overmesh::dataplane::kernel
