#pragma once

// Everything a node runs because it is a manager: the Store, the managers that decide
// (cluster, networks, nodes), the cluster API on mutual TLS that agents talk to, the
// leader election, and — on the leader only — the liveness sweep that marks silent nodes
// down and the orchestration loop.
//
// Leadership (issue 13): every manager campaigns (manager/leader_election.h; on SQLite the
// single manager wins at once). While this manager leads, the sweep and the service
// reconciler run, writing through fencedStore_ (store/fenced_store.h), so that a deposed
// leader's writes fail once another manager holds the leader key. Exactly one manager's
// loops run at a time: they start on election and stop (joined) on deposition. CLI writes
// and joins are served by every manager, straight on the store.
//
// Threads: the HTTP server's connection threads call into the managers (each is
// thread-safe); the election thread campaigns and renews, and starts/stops the leader's
// loops from its callbacks; while leading, the liveness thread runs sweep() every tenth of
// the node timeout and the orchestration thread (ServiceReconciler) keeps services at
// their spec; the node-follow thread keeps NodeManager's member table in step with the
// store on every manager.

#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "agent/stop_signal.h"
#include "api/http_server.h"
#include "common/clock.h"
#include "daemon/connection_revoker.h"
#include "manager/cluster_api.h"
#include "manager/cluster_manager.h"
#include "manager/leader_election.h"
#include "manager/network_manager.h"
#include "manager/node_manager.h"
#include "manager/service_manager.h"
#include "manager/service_reconciler.h"
#include "manager/skopeo_image_resolver.h"
#include "manager/stack_manager.h"
#include "manager/task_manager.h"
#include "security/node_pki.h"
#include "store/fenced_store.h"
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
  // that signs joins and renewals; it outlives the role), follows the node records, and
  // campaigns for the leadership (the leader runs the liveness sweep and the orchestration
  // loop; on a single manager that is this one, before serve() returns). A node removed
  // from the swarm has its open connections closed at once and its certificate refused
  // from then on. Requires an initialised cluster.
  Status serve(const std::string& selfNodeId, const std::string& listenAddress, std::uint16_t port,
               security::NodePki& pki);

  // Resigns the leadership (another manager leads at once), stops serving and closes the
  // store. Idempotent.
  void stop();

  // Who leads the cluster, as this manager knows it; null before serve().
  const manager::Leadership* leadership() const { return election_.get(); }
  // The store as `info` shows it ("sqlite" or "etcd://h:p,…").
  const std::string& storeUrl() const { return storeUrl_; }

  store::Store& store() { return *store_; }
  manager::ClusterManager& clusters() { return *clusterManager_; }
  manager::NetworkManager& networks() { return *networkManager_; }
  manager::NodeManager* nodes() { return nodeManager_.get(); }
  manager::TaskManager& tasks() { return *taskManager_; }
  manager::ServiceManager& services() { return *serviceManager_; }
  manager::StackManager& stacks() { return *stackManager_; }

 private:
  ManagerRole(std::unique_ptr<store::Store> store, const Clock& clock);
  // Thread bodies. Each loop ends when its stop signal fires.
  void sweepLoop(agent::StopSignal& stop);
  void followLoop();
  // Starts following the node records and campaigning; steps the election a few times
  // first, so a single manager leads when this returns.
  void startElection(const std::string& selfNodeId, const std::string& listenAddress,
                     std::uint16_t port);
  // Election callbacks (on the election thread).
  void becomeLeader(store::Revision fence);
  void stopLeading(const std::string& reason);

  // What runs only while this manager leads; replaced at each election.
  struct LeaderLoops {
    std::unique_ptr<agent::StopSignal> stopSweep;
    std::thread sweep;
    std::unique_ptr<manager::ServiceReconciler> reconciler;
  };

  const Clock& clock_;
  std::unique_ptr<store::Store> store_;
  std::string storeUrl_ = "sqlite";
  bool sharedStore_ = false;  // etcd: several managers, a 3 s leader lease
  // The leader's loops write through it; fenced while this manager leads.
  std::unique_ptr<store::FencedStore> fencedStore_;
  std::unique_ptr<manager::ClusterManager> clusterManager_;
  std::unique_ptr<manager::NetworkManager> networkManager_;
  std::unique_ptr<manager::NodeManager> nodeManager_;
  std::unique_ptr<manager::TaskManager> taskManager_;
  // Pins service images to digests; before serviceManager_, which holds a pointer to it.
  manager::SkopeoImageResolver imageResolver_;
  std::unique_ptr<manager::ServiceManager> serviceManager_;
  // Uses networkManager_ and serviceManager_: declared after them.
  std::unique_ptr<manager::StackManager> stackManager_;
  // The orchestration loop's ServiceManager, on fencedStore_ (the CLI's writes use
  // serviceManager_, on the plain store).
  std::unique_ptr<manager::ServiceManager> leaderServices_;
  std::unique_ptr<manager::ClusterApi> clusterApi_;
  api::HttpServer clusterServer_;
  // Uses clusterServer_: declared after it, stopped before it.
  std::unique_ptr<ConnectionRevoker> revoker_;
  std::unique_ptr<manager::LeaderElection> election_;  // created by serve()
  std::mutex loopsMutex_;
  LeaderLoops loops_;  // guarded by loopsMutex_ (threads joined outside it)
  agent::StopSignal stopFollow_;
  std::thread followThread_;
  bool stopped_ = false;
};

}  // namespace overmesh::daemon
