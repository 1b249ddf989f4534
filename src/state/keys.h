#pragma once

// The Store's key layout (DESIGN.md "Cluster state"), shared by the manager (which writes
// it) and the agent (which reads its part of it). Objects are JSON values under one
// prefix per kind; a name index per kind makes names unique through a compare on
// the index key; guard keys serialise allocation decisions across managers.

#include <string>
#include <string_view>

namespace overmesh::state::keys {

inline constexpr std::string_view kRoot = "/overmesh/";
inline constexpr std::string_view kCluster = "/overmesh/cluster";
inline constexpr std::string_view kNetworks = "/overmesh/networks/";
inline constexpr std::string_view kNetworkNames = "/overmesh/names/networks/";
inline constexpr std::string_view kTaskNames = "/overmesh/names/tasks/";
inline constexpr std::string_view kNodes = "/overmesh/nodes/";
inline constexpr std::string_view kTasks = "/overmesh/tasks/";
inline constexpr std::string_view kServices = "/overmesh/services/";
inline constexpr std::string_view kServiceNames = "/overmesh/names/services/";
// The cluster's registry settings (api::RegistrySettings): written by `swarm init` and
// `swarm update`, read by every agent (its node's podman) and by digest resolution.
inline constexpr std::string_view kRegistries = "/overmesh/registries";
// Secrets of the cluster, never sent to agents (state/agent_view.cc lets through only the
// prefixes it names) nor shown by the API.
inline constexpr std::string_view kCredentials = "/overmesh/credentials/";
// {"worker": hashSecret(secret), "manager": hashSecret(secret)} of the join tokens
// (security/join_token.h): `swarm init` writes it, `swarm join-token --rotate` replaces
// one hash (a compare on its mod revision), every join reads it.
inline constexpr std::string_view kJoinTokenHashes = "/overmesh/credentials/join-tokens";
// The elected leader among the managers (manager/leader_election.h): {"nodeId", "address"
// (IP:PORT of its cluster port), "since"}, attached to the leader's lease, so it vanishes
// when the leader stops renewing. Created with a compare on its absence; its create
// revision fences the leader's writes (a txn of the leader's loops compares it).
inline constexpr std::string_view kLeader = "/overmesh/leader";
// The clear join tokens of a cluster whose store is shared by several managers (etcd):
// {"worker": TOKEN, "manager": TOKEN}, so that every manager can show them. Under the
// credentials prefix: never sent to agents.
inline constexpr std::string_view kJoinTokens = "/overmesh/credentials/join-tokens-clear";
// Changed by every transaction that allocates or frees a subnet or VNI, and by every join
// (which adds a node's underlay and gateway-bridge networks), so that two concurrent
// creates, or a create and a join, cannot both pass the overlap check (compare on its
// mod revision).
inline constexpr std::string_view kNetworkAllocationGuard = "/overmesh/guards/network-allocation";

// Changed by every transaction that writes a service whose published ports change (create
// and update with ports, update that drops them, rm of a service with ports), and compared
// by each of them and by `network rm` of the ingress network, so that two services cannot
// both take one published port and the ingress network is not removed under a service
// that just published an ingress-mode port.
inline constexpr std::string_view kPublishedPortsGuard = "/overmesh/guards/published-ports";

// Changed by every transaction that attaches a task to (or detaches it from) network
// `id`; `network rm` compares it so that it never deletes a network a task just joined.
inline std::string networkAttachmentGuard(std::string_view id) {
  return "/overmesh/guards/network-attachments/" + std::string(id);
}

inline std::string network(std::string_view id) { return std::string(kNetworks) + std::string(id); }
inline std::string networkName(std::string_view name) {
  return std::string(kNetworkNames) + std::string(name);
}
inline std::string node(std::string_view id) { return std::string(kNodes) + std::string(id); }
inline std::string taskName(std::string_view name) {
  return std::string(kTaskNames) + std::string(name);
}
inline std::string service(std::string_view id) {
  return std::string(kServices) + std::string(id);
}
inline std::string serviceName(std::string_view name) {
  return std::string(kServiceNames) + std::string(name);
}
inline std::string task(std::string_view id) { return std::string(kTasks) + std::string(id); }

}  // namespace overmesh::state::keys
