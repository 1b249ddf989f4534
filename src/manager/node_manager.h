#pragma once

// NodeManager admits nodes (a join with the worker token and a CSR, answered with a
// certificate the cluster CA signs), tracks their heartbeats and marks them down when
// they miss the node timeout, ready again when they return. Who a caller is comes from its
// verified TLS certificate (api::PeerIdentity), checked against the records here
// (isMember: revocation of removed nodes).
//
// Heartbeats are cheap by design: a heartbeat updates one in-memory timestamp and writes
// nothing; the Store is written only when a node changes state (ready <-> down). See
// docs/liveness.md for the cost model at 1,000 nodes.
//
// Several managers (issue 13): every manager follows the node records in the store
// (followStore(), a watch on kNodes), so its member table — admission, revocation —
// matches joins, removals and role changes made on the others. Liveness (heartbeats,
// sweep, the ready/down writes) is the leader's alone: its state writes go through the
// store given to setLivenessStore() (the leader's FencedStore), so a deposed leader's
// sweep writes nothing.
//
// Thread safety: all methods may be called from any thread; mutex_ guards nodes_ and
// followFrom_. A join holds no lock while it checks the node's address (that may wait for
// the network).

#include <chrono>
#include <functional>
#include <mutex>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "api/types.h"
#include "common/clock.h"
#include "common/error.h"
#include "ipam/ipam.h"
#include "manager/join_address.h"
#include "manager/manager_status.h"
#include "security/pki.h"
#include "store/store.h"

namespace overmesh::manager {

struct JoinRequest {
  std::string token;
  std::string hostname;
  std::string address;  // the joining node's advertise IP
  std::string underlayPrefix;  // the connected prefix of `address`; empty: not reported
  std::string gatewaySubnet;   // its overmeshd --gateway-subnet; empty: not reported
  std::string csr;             // PEM, made with the node's own key
  bool advertiseAddrGiven = false;  // `swarm join --advertise-addr`: `address` may be proven
  std::string addressProof;         // 32 hex digits the node serves on proofPort
  std::int64_t proofPort = 0;
  // Not from the body: the join connection's peer address (HttpRequest::peer).
  std::string sourceAddress;
};

struct JoinResult {
  api::Node node;
  std::string clusterId;
  std::int64_t nodeTimeoutMs = 0;
  std::string certificate;    // the node's certificate (PEM), for node.role
  std::string caCertificate;  // the cluster CA's (PEM)
  std::string store;          // the cluster's store URL (api::Cluster::store)
};

// `node promote` / `node demote`: the node record as written, and whether it changed
// (false: the node already had that role; nothing was written).
struct RoleChange {
  api::Node node;
  bool changed = false;
};

// Docker's answer to demoting the only manager.
inline constexpr std::string_view kLastManagerRefusal =
    "cannot demote the last manager of the swarm";

// POST /v1/nodes/{ref}/update: labels to set (added or replaced) and to remove.
struct NodeUpdateRequest {
  api::Labels labelAdd;
  std::vector<std::string> labelRm;
};

struct StateChange {
  std::string nodeId;
  std::string hostname;
  std::string state;  // the new state
};

class NodeManager {
 public:
  // The longest label value a node may carry (labels travel to every agent).
  static constexpr std::size_t kMaxLabelValue = 1024;

  // `selfNodeId` is the manager's own node: it is never marked down by itself.
  NodeManager(store::Store& store, const Clock& clock, std::string selfNodeId);

  // Loads the cluster's ID and timeout and every node from the store. Every known node
  // gets a full timeout of grace from now, so a manager restart (or a new leader, which
  // has heard no heartbeats yet) does not mark live nodes down.
  Status load();

  // The store the node state writes (ready <-> down, by heartbeat() and sweep()) go
  // through; by default the one given to the constructor. The manager role passes its
  // FencedStore (store/fenced_store.h). `store` outlives this manager. Call before serving.
  void setLivenessStore(store::Store& store) { livenessStore_ = &store; }

  // Applies the node records changed in the store since load() or the last call (by any
  // manager): joins, removals, role and state changes. A removed node is dropped from the
  // member table and the removal listener is told, as for remove(). A new node gets a
  // full timeout of grace. Blocks up to `wait` for a change. When the store compacted the
  // history, reloads the table (keeping known nodes' heartbeats). Unavailable when the
  // store is closed or unreachable; Internal for a corrupt record (which is skipped).
  Status followStore(std::chrono::milliseconds wait);

  // Every manager node (ID and underlay address), for the heartbeat reply.
  std::vector<ManagerEndpoint> managers();

  // Admits a node, in this order, writing nothing unless every step passes:
  // InvalidArgument when the hostname, address or CSR is missing or the token malformed;
  // the token against the cluster (join_tokens.h matchJoinToken: Unauthenticated for
  // another cluster's or a wrong/rotated secret; the manager token joins as a manager
  // only when the cluster's store is shared, FailedPrecondition kSharedStoreRequired
  // otherwise); the address (join_address.h checkJoinAddress with `prover`, which may be
  // null); the CSR signed by `ca` for {new node ID, worker, cluster ID} with the
  // cluster's cert expiry (InvalidArgument for a bad CSR; the role is the token's); then
  // the node record: Conflict
  // when the node's underlay network or gateway-bridge subnet overlaps a network's subnet
  // (checked and written atomically with network creation through the allocation guard);
  // FailedPrecondition when the ingress network has no address left for the node. When an
  // ingress network exists the node gets its address on it (Node::ingressAddress) in the
  // same transaction.
  Result<JoinResult> join(const JoinRequest& request, const security::CaMaterial& ca,
                          AddressProver* prover);

  // True when `nodeId` is a current member whose role is `role` (the cluster listener's
  // admission: a removed node's certificate still chains to the CA). After a promote or
  // demote, the certificate of the former role is admitted too until the node renews it
  // (renewCertificate signs the new role): it needs a connection to do so.
  bool isMember(const std::string& nodeId, const std::string& role);

  // True when `nodeId` is a member whose record's role is manager (the manager-only
  // routes check this on top of the certificate's role).
  bool isManager(const std::string& nodeId);

  // `node promote` (role "manager") / `node demote` (role "worker") of the node
  // `reference` (ID, hostname or unique ID prefix): the role in its record, in one
  // transaction that compares the record's mod revision (and, for a demote, every
  // manager record's, so that two concurrent demotes cannot leave no manager).
  // The node's daemon sees the change in its agent's cache and renews its certificate
  // for the new role. InvalidArgument for another role; NotFound for an unknown node;
  // FailedPrecondition kSharedStoreRequired for a promote on a cluster without a shared
  // store, kLastManagerRefusal for a demote of the only manager; Unavailable when the
  // records keep changing.
  Result<RoleChange> setRole(const std::string& reference, std::string_view role);

  // A new certificate for the member `nodeId` (POST kRenewPath): the identity comes from
  // its record (ID, role, cluster), the validity from the cluster's cert expiry.
  // Unauthenticated for a node that is not a member; InvalidArgument for a bad CSR.
  Result<std::string> renewCertificate(const std::string& nodeId, std::string_view csrPem,
                                       const security::CaMaterial& ca);

  // Records a heartbeat from an authenticated node (memory only, never a store write); a
  // down node is written ready by the next sweep(). NotFound when the node was removed.
  Status heartbeat(const std::string& nodeId);

  // Sets and removes labels of the node `reference` (ID, hostname or unique ID prefix)
  // and returns the updated node; the orchestrator's constraints see them at once.
  // InvalidArgument for a bad key (named as --label-add/--label-rm) or a key both added
  // and removed; NotFound for an unknown node. Removing a label the node lacks is no error.
  Result<api::Node> updateLabels(const std::string& reference, const NodeUpdateRequest& request);

  // Removes a node (its ingress address is free again: addresses are taken only by the
  // records that hold them), then tells the removal listener. FailedPrecondition for the
  // manager itself.
  Status remove(const std::string& nodeId);

  // Called (outside any lock) with the ID of every node removed, by `node rm` or a
  // leave: the cluster listener closes that node's connections (revocation). Set before
  // serving.
  void setRemovalListener(std::function<void(const std::string& nodeId)> listener) {
    removalListener_ = std::move(listener);
  }

  // Marks every node whose last heartbeat is older than the node timeout as down, and
  // every down node heard since as ready, in batched transactions. Returns the changes
  // written. Call it periodically (a fraction of the timeout).
  Result<std::vector<StateChange>> sweep();

  std::chrono::milliseconds nodeTimeout() const { return nodeTimeout_; }

 private:
  struct TrackedNode {
    std::string hostname;
    std::string state;
    std::string role;
    std::chrono::steady_clock::time_point lastSeen;
    std::string address;  // the underlay IP
    // The role before a promote/demote on this manager, admitted until the node renews
    // its certificate; empty otherwise.
    std::string formerRole;
    // A heartbeat came while the node was not ready: the next sweep writes it ready.
    bool returning = false;
  };

  // Nodes written in one state transaction (etcd refuses a txn of more than 128
  // operations by default; each node is one compare and one put).
  static constexpr std::size_t kStateBatch = 60;

  // Re-reads every node record (after a compaction), keeping known nodes' lastSeen.
  // Appends the IDs of nodes that are gone to `removed`.
  Status resync(std::vector<std::string>& removed);

  // Every network's name, subnet and VNI, for the join check.
  static Result<std::vector<ipam::ExistingNetwork>> existingNetworks(
      const std::vector<api::Network>& networks);
  // A free address on the ingress network for a joining node, with the revision of that
  // network's attachment guard it was decided at (the join compares it).
  struct IngressGrant {
    std::string address;
    store::Revision guardRevision = 0;
  };
  Result<IngressGrant> ingressAddressFor(const api::Network& ingress);
  // Writes a node's new state if it is still the record we know. Caller holds
  // stateWriteMutex_ (not mutex_: a store commit must not stall heartbeats).
  Status writeState(const std::string& nodeId, const std::string& state);
  // The store records (by key) of the nodes in `changes`, read once per sweep.
  using StateRecords = std::unordered_map<std::string, store::KeyValue>;
  Result<StateRecords> readStateRecords(std::span<const StateChange> changes);
  // Writes the batch's states, comparing each node on its record in `records`; returns the
  // changes that were written (a node removed or changed meanwhile is left out).
  // Unavailable when the store is. Caller holds stateWriteMutex_.
  Result<std::vector<StateChange>> writeStates(std::span<const StateChange> batch,
                                               const StateRecords& records);

  store::Store& store_;
  const Clock& clock_;
  std::string selfNodeId_;
  std::string clusterId_;
  std::chrono::milliseconds nodeTimeout_{3000};
  // Serialises the ready <-> down store writes (sweep); taken
  // before mutex_, never while holding it: mutex_ is never held across a store commit.
  std::mutex stateWriteMutex_;
  std::mutex mutex_;
  std::unordered_map<std::string, TrackedNode> nodes_;  // guarded by mutex_
  store::Revision followFrom_ = 0;  // the next revision followStore() reads; guarded by mutex_
  // Nodes remove() deleted, with the deletion's revision, until followStore() passes it.
  std::unordered_map<std::string, store::Revision> removedAt_;  // guarded by mutex_
  store::Store* livenessStore_;                                 // never null
  std::function<void(const std::string&)> removalListener_;
};

}  // namespace overmesh::manager
