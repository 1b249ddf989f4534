#pragma once

// The cluster protocol between agents and the manager: HTTP/JSON over mutual TLS 1.3 on
// the manager's cluster port (2377 by default), and node-to-node calls on every member's
// node port (2378). docs/security.md has the threat model; api/tls.h the TLS settings.
//
// Who may call what (the manager checks the verified client certificate, never a header):
//   no certificate (ALPN kJoinAlpn only): GET kCaPath, POST kJoinPath
//   any member (worker or manager cert):  heartbeat, leave, snapshot, watch, renew, and
//                                         the status of a task placed on the caller's node
//   a manager (cert and record):          kManagerCredentialsPath
//   node port: exec and logs of a local task, from a manager certificate only.
// Cluster writes (networks, services, nodes, tokens) exist only on a manager's local
// socket: a worker's CLI is told "this node is not a swarm manager; run the command on a
// manager node" (kNotAManagerMessage), as Docker says.
//
// The join, step by step (daemon: swarmJoin; manager: ClusterApi::join):
// 1. The node parses its token (security/join_token.h): OMTKN-1-<CA fingerprint>-<secret>.
// 2. GET kCaPath over TLS offering kJoinAlpn, without checking the server (it has no CA
//    yet): {"certificate": CA PEM}. The node computes the fingerprint of that PEM and
//    refuses to go on when it differs from the token's ("the manager at … presents CA
//    fingerprint X, the token pins Y"): nothing secret was sent.
// 3. The node makes its key and CSR, and POSTs kJoinPath on a new connection that
//    verifies the manager's certificate against that CA and kManagerServerName:
//      {"token", "hostname", "address", "underlayPrefix", "gatewaySubnet",
//       "csr": PEM, "advertiseAddrGiven": bool,
//       "addressProof": "<32 hex>", "proofPort": N}
//    The manager checks the secret against its stored hashes, then the address: the
//    connection's source must be `address`. Otherwise, and only when advertiseAddrGiven,
//    the manager connects to `address`:`proofPort` and must read exactly `addressProof`
//    there within kAddressProofTimeout (the joining node serves it from a one-shot
//    listener on its node port for the duration of the join); anything else is refused
//    naming both addresses. Reply:
//      {"node": api::Node, "clusterId", "nodeTimeoutMs", "certificate": node PEM,
//       "caCertificate": CA PEM}
//    and, for a join with the manager token (accepted only when the cluster's store is
//    shared, etcd: issue 13), also {"caKey": the CA's private key PEM, "store": the store's
//    URL "etcd://H:P,…" (no TLS paths: the joining manager brings its own etcd client files)}.
//    node.role is then "manager" and the certificate's OU manager.
// 4. The node checks the certificate (its key, chains to the CA, subject = the node ID of
//    the reply, role = node.role) and stores pki/ (security/node_pki.h); a manager also
//    stores ca.key (it must be the key of that CA) and opens the store.

#include <chrono>
#include <cstdint>
#include <string_view>

namespace overmesh::api {

inline constexpr const char* kCaPath = "/cluster/v1/ca";                // GET
inline constexpr const char* kJoinPath = "/cluster/v1/join";            // POST
inline constexpr const char* kHeartbeatPath = "/cluster/v1/heartbeat";  // POST
inline constexpr const char* kLeavePath = "/cluster/v1/leave";          // POST
inline constexpr const char* kSnapshotPath = "/cluster/v1/snapshot";    // GET
inline constexpr const char* kWatchPath = "/cluster/v1/watch";          // GET ?from=REV&waitMs=N
// POST {"csr": PEM} -> {"certificate": PEM}: a new certificate for the caller's own
// identity (node ID and role from its current certificate, validity from the cluster's
// cert expiry). Called by the agent's renewal loop before its certificate expires.
inline constexpr const char* kRenewPath = "/cluster/v1/renew";
// POST {"state","message","exitCode"}: the observed state of a task on the calling node.
inline constexpr const char* kTaskStatusPattern = "/cluster/v1/tasks/{id}/status";
// POST {} -> {"caKey": the CA's private key PEM, "store": the cluster's store URL}: what a
// node promoted to manager (`node promote`) needs to serve as one. Manager-only: the
// caller's certificate must say OU=manager (it renews for its new role first: the renewal
// signs the role of its node record) and its node record must be a manager; 403
// (PermissionDenied) otherwise, 401 for a non-member. Answered by any manager.
inline constexpr const char* kManagerCredentialsPath = "/cluster/v1/manager-credentials";

inline constexpr std::uint16_t kDefaultNodePort = 2378;


// How long the manager waits for a joining node's address proof.
inline constexpr std::chrono::milliseconds kAddressProofTimeout{3000};

// Several managers (issue 13, store etcd): heartbeat, task status and renew must reach the
// leader (liveness lives in its memory). Another manager answers them with this status and
// {"error", "kind": "FailedPrecondition", "leader": "IP:PORT"} ("" while none leads); the
// agent moves to that address. Snapshot and watch are answered by every manager.
// The heartbeat's reply is {"nodeTimeoutMs", "leader": "IP:PORT", "managers": ["IP:PORT",…]}
// (every manager's cluster address), so an agent knows where to go when its manager dies.
inline constexpr int kNotLeaderStatus = 421;

// Docker's answer to a cluster write on a worker.
inline constexpr std::string_view kNotAManagerMessage =
    "this node is not a swarm manager; run the command on a manager node";

// A watch long-poll is held at most this long; the client's timeout must exceed it.
inline constexpr std::chrono::milliseconds kMaxWatchWait{25'000};

}  // namespace overmesh::api
