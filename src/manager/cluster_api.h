#pragma once

// The manager's side of the cluster protocol (api/cluster_protocol.h): the CA's
// certificate and join for nodes without a certificate; heartbeat, leave, the
// desired-state snapshot and watch stream, certificate renewal and task status reports
// for members. Registered on the manager's mutual-TLS cluster listener: who calls is the
// verified certificate (HttpRequest::identity), never a header, and every route but the
// CA and join answers 401 without one.

#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>

#include "api/http_server.h"
#include "manager/join_address.h"
#include "manager/leader_election.h"
#include "manager/node_manager.h"
#include "manager/task_manager.h"
#include "manager/watch_hub.h"
#include "security/node_pki.h"
#include "store/store.h"

namespace overmesh::manager {

// Decoders of the requests peers send (public for the fuzz target): never throw;
// InvalidArgument naming the field otherwise (fields longer than their bound included).
Result<JoinRequest> decodeJoinRequest(std::string_view body);
// The body of a task status report {"state","message","exitCode"}.
Result<StatusReport> decodeStatusReport(std::string_view body);
// The body of a renewal {"csr": PEM}: the CSR.
Result<std::string> decodeRenewRequest(std::string_view body);

class ClusterApi {
 public:
  // `pki` holds the CA's key (signing joins and renewals); it outlives the API. Joins
  // whose address must be proven are checked over TCP (TcpAddressProver).
  ClusterApi(store::Store& store, NodeManager& nodes, TaskManager& tasks, security::NodePki& pki);

  void registerRoutes(api::HttpServer& server);

  // Several managers: heartbeat, task status and renew are the leader's (liveness lives in
  // its memory); on another manager they answer api::kNotLeaderStatus (421) with the
  // error body plus "leader": "IP:PORT" ("" while none leads). The heartbeat reply then
  // carries "leader" and "managers" (every manager's cluster address; `clusterPort` is
  // this manager's, used for the others when no leader is known). Without a leadership
  // (tests, a single manager before issue 13) this manager answers everything. Call
  // before serving; `leadership` outlives the API.
  void setLeadership(const Leadership* leadership, std::uint16_t clusterPort) {
    leadership_ = leadership;
    clusterPort_ = clusterPort;
  }

  // Replaces how joining nodes' addresses are proven (tests: a fake). Call before serving.
  void setAddressProver(std::unique_ptr<AddressProver> prover) { prover_ = std::move(prover); }

  // The cluster listener's admission (api::PeerAdmission): true for a certificate of a
  // current member whose role matches its node record. A removed node's certificate
  // still chains to the CA; this is what refuses it (revocation). A connection without a
  // certificate (empty nodeId: a join connection, which the server limits to the CA and
  // join routes) is let through; its requests are judged by those routes.
  bool admit(const api::PeerIdentity& peer);

 private:
  api::HttpResponse caCertificate(const api::HttpRequest& request);
  api::HttpResponse join(const api::HttpRequest& request);
  api::HttpResponse heartbeat(const api::HttpRequest& request);
  api::HttpResponse leave(const api::HttpRequest& request);
  api::HttpResponse snapshot(const api::HttpRequest& request);
  // Parks the long-poll in the hub: no thread waits for the store on its behalf.
  void watch(const api::HttpRequest& request, api::HttpResponder responder);
  api::HttpResponse renew(const api::HttpRequest& request);
  api::HttpResponse taskStatus(const api::HttpRequest& request);
  api::HttpResponse managerCredentials(const api::HttpRequest& request);

  // The calling member's node ID: Unauthenticated (401) without a certificate, or for one
  // whose node is no longer a member in that role.
  Result<std::string> callerOf(const api::HttpRequest& request);
  // The 421 answer when another manager leads; nullopt when this one may answer.
  std::optional<api::HttpResponse> notLeader(std::string_view what) const;
  // The CA's certificate and key, for signing. Unavailable when `pki` holds no CA key.
  Result<security::CaMaterial> caMaterial() const;

  // Every member's watch long-poll; started by registerRoutes(), stopped (every waiter
  // answered 503) when the store closes or the API is destroyed. It uses only the store.
  WatchHub watchHub_;
  store::Store& store_;
  NodeManager& nodes_;
  TaskManager& tasks_;
  security::NodePki& pki_;
  std::unique_ptr<AddressProver> prover_;
  const Leadership* leadership_ = nullptr;
  std::uint16_t clusterPort_ = 0;
};

}  // namespace overmesh::manager
