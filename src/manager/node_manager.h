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
// Thread safety: all methods may be called from any thread; mutex_ guards nodes_. A join
// holds no lock while it checks the node's address (that may wait for the network).

#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "api/types.h"
#include "common/clock.h"
#include "common/error.h"
#include "ipam/ipam.h"
#include "manager/join_address.h"
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
  std::string certificate;    // the node's certificate (PEM), role worker
  std::string caCertificate;  // the cluster CA's (PEM)
};

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
  // gets a full timeout of grace from now, so a manager restart does not mark live nodes
  // down.
  Status load();

  // Admits a node, in this order, writing nothing unless every step passes:
  // InvalidArgument when the hostname, address or CSR is missing or the token malformed;
  // the token against the cluster (join_tokens.h matchJoinToken: Unauthenticated for
  // another cluster's or a wrong/rotated secret, FailedPrecondition for the manager
  // token); the address (join_address.h checkJoinAddress with `prover`, which may be
  // null); the CSR signed by `ca` for {new node ID, worker, cluster ID} with the
  // cluster's cert expiry (InvalidArgument for a bad CSR); then the node record: Conflict
  // when the node's underlay network or gateway-bridge subnet overlaps a network's subnet
  // (checked and written atomically with network creation through the allocation guard);
  // FailedPrecondition when the ingress network has no address left for the node. When an
  // ingress network exists the node gets its address on it (Node::ingressAddress) in the
  // same transaction.
  Result<JoinResult> join(const JoinRequest& request, const security::CaMaterial& ca,
                          AddressProver* prover);

  // True when `nodeId` is a current member whose role is `role` (the cluster listener's
  // admission: a removed node's certificate still chains to the CA).
  bool isMember(const std::string& nodeId, const std::string& role);

  // A new certificate for the member `nodeId` (POST kRenewPath): the identity comes from
  // its record (ID, role, cluster), the validity from the cluster's cert expiry.
  // Unauthenticated for a node that is not a member; InvalidArgument for a bad CSR.
  Result<std::string> renewCertificate(const std::string& nodeId, std::string_view csrPem,
                                       const security::CaMaterial& ca);

  // Records a heartbeat from an authenticated node; a down node becomes ready (one
  // store write). NotFound when the node was removed.
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

  // Marks every node whose last heartbeat is older than the node timeout as down.
  // Returns the changes written. Call it periodically (a fraction of the timeout).
  Result<std::vector<StateChange>> sweep();

  std::chrono::milliseconds nodeTimeout() const { return nodeTimeout_; }

 private:
  struct TrackedNode {
    std::string hostname;
    std::string state;
    std::string role;
    std::chrono::steady_clock::time_point lastSeen;
  };

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

  store::Store& store_;
  const Clock& clock_;
  std::string selfNodeId_;
  std::string clusterId_;
  std::chrono::milliseconds nodeTimeout_{3000};
  // Serialises the ready <-> down store writes (sweep, a down node's heartbeat); taken
  // before mutex_, never while holding it: mutex_ is never held across a store commit.
  std::mutex stateWriteMutex_;
  std::mutex mutex_;
  std::unordered_map<std::string, TrackedNode> nodes_;  // guarded by mutex_
  std::function<void(const std::string&)> removalListener_;
};

}  // namespace overmesh::manager
