#pragma once

// The node's published ports in the kernel: table ip overmesh_mesh (mesh_rules.h) in the
// namespace of the calling thread (the node's own, for the agent), through libnftables.
//
// It remembers the plan it last applied, the table's backend maps and the namespace's
// identity, so that a later apply sends only the elements of the ports that changed. The
// first apply (e.g. after an agent restart), an apply from another namespace, a change of
// the ingress bridge and an apply whose incremental batch the kernel refused replace the
// table whole, in one batch; established connections keep their translation (conntrack
// holds it, not the rules). An empty mesh removes the table.
//
// Needs CAP_NET_ADMIN. Not thread-safe: the agent's reconcile thread is its one caller.

#include <cstddef>
#include <optional>
#include <set>

#include "common/error.h"
#include "dataplane/linux/netns.h"
#include "dataplane/linux/nftables.h"
#include "dataplane/mesh_plan.h"

namespace overmesh::dataplane::kernel {

class NodeMeshTable {
 public:
  // Makes the calling thread's namespace's published ports exactly `mesh` (sorted by
  // protocol and port, one entry per pair, as MeshIndex gives it) and turns IPv4
  // forwarding on when there are ports. Fails with InvalidArgument for a protocol other
  // than tcp/udp or an ingress bridge that is not a plain device name (nothing changed),
  // Unavailable / InvalidArgument with nft's words when the kernel refuses; after a
  // failure the table is the old one or a whole new one, and the next apply replaces it.
  Status apply(const NodeMesh& mesh);

 private:
  struct Applied {
    NamespaceId id;
    Nftables nft;
    NodeMesh mesh;
    std::set<std::size_t> backendCounts;  // the backends_K maps the table has
  };

  Status replace(const NamespaceId& id, const NodeMesh& mesh);

  std::optional<Applied> applied_;
};

}  // namespace overmesh::dataplane::kernel
