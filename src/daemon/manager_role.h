#pragma once

// Everything a node runs because it is a manager: the Store, the managers that decide
// (cluster, networks, nodes), the cluster API on mutual TLS that agents talk to, and the
// liveness sweep that marks silent nodes down.
//
// Threads: the HTTP server's connection threads call into the managers (each is
// thread-safe); the liveness thread runs sweep() every tenth of the node timeout; the
// orchestration thread (ServiceReconciler) keeps services at their spec.

#include <memory>
#include <string>
#include <thread>

#include "agent/stop_signal.h"
#include "api/http_server.h"
#include "common/clock.h"
#include "daemon/connection_revoker.h"
#include "manager/cluster_api.h"
#include "manager/cluster_manager.h"
#include "manager/network_manager.h"
#include "manager/node_manager.h"
#include "manager/service_manager.h"
#include "manager/service_reconciler.h"
#include "manager/skopeo_image_resolver.h"
#include "manager/stack_manager.h"
#include "manager/task_manager.h"
#include "security/node_pki.h"
#include "store/store.h"
#include "store/store_location.h"

namespace overmesh::daemon {

class ManagerRole {
 public:
  // Opens the store `location` names (store::openStore): the SQLite file at `sqlitePath`
  // (created when missing) or the etcd cluster. No cluster needs to exist yet.
  // Unavailable (etcd unreachable, file not writable) or InvalidArgument (TLS files).
  static Result<std::unique_ptr<ManagerRole>> open(const store::StoreLocation& location,
                                                   const std::string& sqlitePath,
                                                   const Clock& clock);
  ~ManagerRole();

  // Loads node state for `selfNodeId`, listens for agents on `listenAddress`:`port` over
  // mutual TLS with the manager's certificate from `pki` (which also holds the CA key
  // that signs joins and renewals; it outlives the role), and starts the liveness sweep
  // and the orchestration loop. A node removed from the swarm has its open connections
  // closed at once and its certificate refused from then on. Requires an initialised
  // cluster.
  Status serve(const std::string& selfNodeId, const std::string& listenAddress, std::uint16_t port,
               security::NodePki& pki);

  // Stops serving and closes the store. Idempotent.
  void stop();

  store::Store& store() { return *store_; }
  manager::ClusterManager& clusters() { return *clusterManager_; }
  manager::NetworkManager& networks() { return *networkManager_; }
  manager::NodeManager* nodes() { return nodeManager_.get(); }
  manager::TaskManager& tasks() { return *taskManager_; }
  manager::ServiceManager& services() { return *serviceManager_; }
  manager::StackManager& stacks() { return *stackManager_; }

 private:
  ManagerRole(std::unique_ptr<store::Store> store, const Clock& clock);
  void sweepLoop();

  const Clock& clock_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<manager::ClusterManager> clusterManager_;
  std::unique_ptr<manager::NetworkManager> networkManager_;
  std::unique_ptr<manager::NodeManager> nodeManager_;
  std::unique_ptr<manager::TaskManager> taskManager_;
  // Pins service images to digests; before serviceManager_, which holds a pointer to it.
  manager::SkopeoImageResolver imageResolver_;
  std::unique_ptr<manager::ServiceManager> serviceManager_;
  // Uses networkManager_ and serviceManager_: declared after them.
  std::unique_ptr<manager::StackManager> stackManager_;
  std::unique_ptr<manager::ServiceReconciler> reconciler_;  // started by serve()
  std::unique_ptr<manager::ClusterApi> clusterApi_;
  api::HttpServer clusterServer_;
  // Uses clusterServer_: declared after it, stopped before it.
  std::unique_ptr<ConnectionRevoker> revoker_;
  agent::StopSignal stopSweep_;
  std::thread sweepThread_;
  bool stopped_ = false;
};

}  // namespace overmesh::daemon
