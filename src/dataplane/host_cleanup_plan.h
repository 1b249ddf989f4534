#pragma once

// What `swarm leave` and `overmeshd cleanup` remove from a host, decided from a listing of
// what exists (HostInventory) without touching anything: pure, unit-tested without root.
// daemon/host_cleanup.h lists the host and carries the plan out.
//
// Ownership: an object is ours only when its kind AND its name match what the daemon
// makes (never by name alone), so a link, namespace or table of another owner survives
// even when its name looks alike:
//   task namespaces   <netns prefix>t-<task id>, the id 1-64 characters of [a-z0-9]
//   task veths        type veth, "omv" + 8 lowercase hex + 1 digit (overlay_plan.h's
//                     hostVethName) or "omg" + 8 lowercase hex (the gateway link)
//   overlay devices   type vxlan "omvx<VNI>", type bridge "ombr<VNI>" (decimal VNI)
//   gateway bridge    type bridge, the configured name ("omgwbridge")
//   nftables tables   exactly ip overmesh_mesh, ip overmesh_gw, inet overmesh_underlay in
//                     the node's own namespace (overmesh_lb and overmesh_ingress live in
//                     task namespaces and go with them)
//   tasks             what the task runtimes list from the state dir (process tasks'
//                     directories, containers labelled with the node's ID)
//
// Order: tasks first (their processes hold their namespaces), then their namespaces and
// host-side links, then the overlay devices (VXLAN before its bridge), then node-wide
// objects (gateway bridge, then the tables; the underlay filter last, so that the node
// stays closed to outsiders until everything behind it is gone).

#include <compare>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace overmesh::dataplane {

// The names that tell ours from others'.
struct OwnedNames {
  std::string netnsPrefix = "om-";           // the daemon's --netns-prefix
  std::string gatewayBridge = "omgwbridge";  // GatewayConfig::bridge
};

struct HostLink {
  std::string name;
  std::string type;  // IFLA_INFO_KIND ("bridge", "veth", "vxlan"); empty for lo/physical
};

struct NftTableName {
  std::string family;
  std::string name;
  auto operator<=>(const NftTableName&) const = default;
};

// What exists on the host, as listed (anything, ours or not).
struct HostInventory {
  std::vector<std::string> tasks;       // task ids the runtimes found
  std::vector<std::string> namespaces;  // named network namespaces (/run/netns)
  std::vector<HostLink> links;          // links of the node's own namespace
  std::vector<NftTableName> tables;     // nftables tables of the node's own namespace
};

enum class CleanupKind { Task, Namespace, Link, Table };

struct CleanupStep {
  CleanupKind kind = CleanupKind::Task;
  std::string name;
  std::string family;  // tables only
  // "task 3k5…", "network namespace om-t-…", "link omvx4096 (vxlan)", "nftables table ip
  // overmesh_gw": how reports and logs name the object.
  std::string describe() const;
  auto operator<=>(const CleanupStep&) const = default;
};

// The tables in nft's JSON ruleset (`list ruleset`: {"nftables": [{"table": {"family",
// "name", …}}, …]}), ours or not. Unavailable when `json` is not that shape; entries that
// are not tables, or lack a string family or name, are skipped. Never throws.
Result<std::vector<NftTableName>> tablesOfRuleset(std::string_view json);

// The tables the daemon creates in the node's own namespace, in removal order.
std::vector<NftTableName> ownedHostTables();

// Whether `name` is a task namespace of a daemon with these names.
bool isOwnedTaskNamespace(std::string_view name, const OwnedNames& names);
// Whether `link` is one the daemon makes in the node's namespace (kind and name).
bool isOwnedLink(const HostLink& link, const OwnedNames& names);

// The steps that remove everything of ours in `inventory`, in the order above; objects
// that are not ours are left out. Empty when nothing of ours exists. Duplicates in the
// inventory give one step each.
std::vector<CleanupStep> planHostCleanup(const HostInventory& inventory, const OwnedNames& names);

}  // namespace overmesh::dataplane
