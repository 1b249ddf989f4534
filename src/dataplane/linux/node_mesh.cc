#include "dataplane/linux/node_mesh.h"

#include <spdlog/spdlog.h>

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
