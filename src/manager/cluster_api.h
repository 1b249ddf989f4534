#pragma once

// The manager's side of the cluster protocol (api/cluster_protocol.h): join, heartbeat,
// leave, and the desired-state snapshot and watch stream that agents keep their caches
// with. Registered on the manager's TCP server next to the forwarded local API.

#include <optional>
#include <string_view>

#include "api/http_server.h"
#include "manager/node_manager.h"
#include "manager/task_manager.h"
#include "security/node_pki.h"
#include "store/store.h"

namespace overmesh::manager {

// Decoders of the requests peers send (public for the fuzz target): never throw;
// InvalidArgument naming the field otherwise.
Result<JoinRequest> decodeJoinRequest(std::string_view body);
// The body of a task status report {"state","message","exitCode"}.
Result<StatusReport> decodeStatusReport(std::string_view body);

class ClusterApi {
 public:
  // `pki` holds the CA's key (signing joins and renewals); it outlives the API.
  ClusterApi(store::Store& store, NodeManager& nodes, TaskManager& tasks,
             security::NodePki& pki);
  // Transitional (issue 12 contracts): without a CA; removed by the manager lane.
  ClusterApi(store::Store& store, NodeManager& nodes, TaskManager& tasks);

  void registerRoutes(api::HttpServer& server);

  // The cluster listener's admission (api::PeerAdmission): true for a certificate of a
  // current member whose role matches its node record. A removed node's certificate
  // still chains to the CA; this is what refuses it (revocation).
  bool admit(const api::PeerIdentity& peer);

  // Transitional (issue 12 contracts): the header-secret check, until the manager lane
  // replaces it with the certificate's identity.
  std::optional<api::HttpResponse> rejectUnauthenticated(const api::HttpRequest& request);

 private:
  api::HttpResponse join(const api::HttpRequest& request);
  api::HttpResponse heartbeat(const api::HttpRequest& request);
  api::HttpResponse leave(const api::HttpRequest& request);
  api::HttpResponse snapshot(const api::HttpRequest& request);
  api::HttpResponse watch(const api::HttpRequest& request);
  api::HttpResponse taskStatus(const api::HttpRequest& request);

  store::Store& store_;
  NodeManager& nodes_;
  TaskManager& tasks_;
  security::NodePki* pki_ = nullptr;
};

}  // namespace overmesh::manager
