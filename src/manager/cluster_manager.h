#pragma once

// ClusterManager creates the cluster (`swarm init`) and answers questions about it.
// Node membership (join, liveness) is added by the cluster issue on top of this.

#include <cstdint>
#include <string>
#include <string_view>

#include "api/types.h"
#include "common/error.h"
#include "security/node_pki.h"
#include "security/pki.h"
#include "store/store.h"

namespace overmesh::manager {

struct LocalNode {
  std::string hostname;
  std::string address;         // advertise IP
  std::string managerAddress;  // IP:PORT where workers reach this manager
  std::string underlayPrefix;  // connected prefix of `address`; empty: unknown
  std::string gatewaySubnet;   // overmeshd --gateway-subnet; empty: unknown
};

// The key material `swarm init` makes (issue 12), for the manager's pki/ directory
// (security/node_pki.h); the store keeps only the CA's certificate and the tokens' hashes.
struct InitPki {
  security::CaMaterial ca;
  std::string nodeKeyPem;   // the manager's own node key...
  std::string nodeCertPem;  // ...and certificate (role manager), signed by the CA
  std::string workerToken;  // clear join tokens (security/join_token.h)
  std::string managerToken;
};

struct InitResult {
  api::Cluster cluster;
  api::Node node;
  api::Network ingress;  // the routing mesh's network, created with the cluster
  InitPki pki;
};

class ClusterManager {
 public:
  explicit ClusterManager(store::Store& store);

  // Validates the request (pools, mask length, ingress subnet, node timeout: messages name
  // the CLI flag) and writes the cluster record, this manager's node record (with its
  // ingress address) and the ingress network (named "ingress", subnet --ingress-subnet or
  // the pools' first free one) in one transaction. `request.store` is the store's URL as
  // store::StoreLocation::url() gives it ("" or "sqlite", or "etcd://…"): recorded in the
  // cluster record; on a shared store (etcd) the clear join tokens go to the store too
  // (state::keys::kJoinTokens, same transaction), so that every manager can show them.
  // Fails with FailedPrecondition when the store already holds a cluster.
  Result<InitResult> init(const api::SwarmInitRequest& request, const LocalNode& self);

  // The request checks of init() alone, without a store, so that `swarm init` can refuse
  // a bad request before it creates anything: pools (well-formed, not overlapping each
  // other, a reserved address class, this node's underlay network or gateway-bridge
  // subnet), mask length, --ingress-subnet (as `network create --subnet`), node timeout,
  // --insecure-registry and --registry-mirror.
  // InvalidArgument or Conflict naming the flag.
  static Status validateInit(const api::SwarmInitRequest& request, const LocalNode& self);

  Result<api::Cluster> cluster();

  // `swarm join-token worker|manager`: the clear token, from the store on a shared store
  // (every manager answers the same), else from the manager's pki/ files.
  // InvalidArgument naming the role for anything but worker/manager; FailedPrecondition
  // kSharedStoreRequired for the manager token on SQLite (no second manager can join);
  // NotFound when the file or record is missing (rotate to make a new one);
  // FailedPrecondition when the file is not the cluster's current token (a rotation was
  // interrupted: rotate again).
  Result<std::string> joinToken(std::string_view role, const security::NodePki& pki);
  // `swarm join-token --rotate ROLE`: a new secret; from the moment this returns, the old
  // token joins nothing. Returns the new token. On a shared store the hash and the clear
  // token change in one transaction; on SQLite the hash, then pki/'s file. The manager
  // token on SQLite: FailedPrecondition kSharedStoreRequired. Unavailable when the store
  // or the token file cannot be written (the old token may already be dead then: rotate
  // again).
  Result<std::string> rotateJoinToken(std::string_view role, security::NodePki& pki);

  // `swarm update --cert-expiry`: the validity of node certificates signed from now on.
  // InvalidArgument naming the flag and the bounds (nothing written), FailedPrecondition
  // without a cluster. Returns the value stored.
  Result<std::int64_t> updateCertExpiry(std::int64_t certExpiryMs);

  // The cluster's registry settings (empty lists when none were given).
  Result<api::RegistrySettings> registries();

  // `swarm update`: each list the request gives replaces the stored one (an empty list
  // clears it), checked and normalised as at init (registry_settings.h). Returns the
  // settings now stored. InvalidArgument naming the flag (nothing written),
  // FailedPrecondition without a cluster, Unavailable when the store fails or a concurrent
  // update keeps winning.
  Result<api::RegistrySettings> updateRegistries(const api::SwarmUpdateRequest& request);

 private:
  store::Store& store_;
};

}  // namespace overmesh::manager
