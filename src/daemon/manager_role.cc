#include "daemon/manager_role.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

#include "daemon/tls_sources.h"
#include "state/keys.h"
#include "store/sqlite/sqlite_store.h"
#include "store/open_store.h"

namespace overmesh::daemon {

Result<std::unique_ptr<ManagerRole>> ManagerRole::open(const store::StoreLocation& location,
                                                       const std::string& sqlitePath,
                                                       const Clock& clock) {
  auto store = store::openStore(location, sqlitePath, clock);
  if (!store) {
    return std::unexpected(
        store.error().withContext(fmt::format("open the cluster store ({})", location.url())));
  }
  auto role = std::unique_ptr<ManagerRole>(new ManagerRole(std::move(*store), clock));
  role->storeUrl_ = location.url();
  role->sharedStore_ = location.isEtcd();
  return role;
}

ManagerRole::ManagerRole(std::unique_ptr<store::Store> store, const Clock& clock)
    : clock_(clock),
      store_(std::move(store)),
      clusterManager_(std::make_unique<manager::ClusterManager>(*store_)),
      networkManager_(std::make_unique<manager::NetworkManager>(*store_)),
      taskManager_(std::make_unique<manager::TaskManager>(*store_)),
      serviceManager_(std::make_unique<manager::ServiceManager>(*store_, &imageResolver_)),
      stackManager_(
          std::make_unique<manager::StackManager>(*store_, *networkManager_, *serviceManager_)) {
  fencedStore_ = std::make_unique<store::FencedStore>(*store_, std::string(state::keys::kLeader));
  leaderServices_ = std::make_unique<manager::ServiceManager>(*fencedStore_, &imageResolver_);
}

ManagerRole::~ManagerRole() { stop(); }

Status ManagerRole::serve(const std::string& selfNodeId, const std::string& listenAddress,
                          std::uint16_t port, security::NodePki& pki) {
  nodeManager_ = std::make_unique<manager::NodeManager>(*store_, clock_, selfNodeId);
  nodeManager_->setLivenessStore(*fencedStore_);
  if (auto loaded = nodeManager_->load(); !loaded) {
    return loaded;
  }
  clusterApi_ = std::make_unique<manager::ClusterApi>(*store_, *nodeManager_, *taskManager_, pki);
  clusterApi_->registerRoutes(clusterServer_);
  // Revocation: a removed node's certificate still chains to the CA; admit() refuses it
  // for new connections, and the revoker cuts the ones it holds (a watch long-poll)
  // right after the answer to the request that removed it (its own leave) went out.
  revoker_ = std::make_unique<ConnectionRevoker>([this](const std::string& nodeId) {
    return clusterServer_.closeConnections(
        [&nodeId](const api::PeerIdentity& peer) { return peer.nodeId == nodeId; });
  });
  nodeManager_->setRemovalListener(
      [revoker = revoker_.get()](const std::string& nodeId) { revoker->revoke(nodeId); });
  // The election before the listener, so that the first requests already know who leads
  // (with port 0 the address is known only once bound: then right after).
  if (port != 0) {
    startElection(selfNodeId, listenAddress, port);
  }
  clusterServer_.setLimits({api::kMaxRequestBody, api::kMaxClusterConnections});
  // Agents hold watch long-polls open here: stopping must not wait for them.
  clusterServer_.setStopDrain(std::chrono::milliseconds(0));
  api::TlsListenOptions tls;
  tls.config = serverConfigSource(credentialsOf(pki));
  tls.admit = [clusterApi = clusterApi_.get()](const api::PeerIdentity& peer) {
    return clusterApi->admit(peer);
  };
  tls.allowJoinWithoutCertificate = true;  // joining nodes have no certificate yet
  auto bound = clusterServer_.listenTls(listenAddress, port, std::move(tls));
  if (!bound) {
    return std::unexpected(bound.error().withContext("listen for cluster members"));
  }
  if (!election_) {
    startElection(selfNodeId, listenAddress, *bound);  // port 0: known only now
  }
  spdlog::info("manager serving the cluster on {}:{} (leader: {})", listenAddress, *bound,
               election_->isLeader() ? "this manager" : "another manager");
  return {};
}

void ManagerRole::startElection(const std::string& selfNodeId, const std::string& listenAddress,
                                std::uint16_t port) {
  followThread_ = std::thread([this] { followLoop(); });
  manager::LeaderIdentity self{selfNodeId, fmt::format("{}:{}", listenAddress, port)};
  manager::LeaderElectionOptions options;
  if (!sharedStore_) {
    // SQLite: this manager is the only one there can be, so a short lease buys no
    // failover; it only lets a stalled fsync (a disk busy with other work holds the store's
    // lock past 3 s) expire the lease and restart this manager's own leader loops. A
    // restarted process clears its own stale key at once (clearStaleOwnKey).
    options.ttl = std::chrono::seconds(30);
    options.renewEvery = std::chrono::seconds(5);
  }
  election_ = std::make_unique<manager::LeaderElection>(
      *store_, clock_, self, options, [this](store::Revision fence) { becomeLeader(fence); },
      [this](const std::string& reason) { stopLeading(reason); });
  clusterApi_->setLeadership(election_.get(), port);
  // A few steps right here: a single manager (SQLite) leads before serve() returns, so
  // the first heartbeats are not sent elsewhere. On a shared store another manager may
  // lead; the election thread goes on from there.
  for (int i = 0; i < 3 && !election_->isLeader(); ++i) {
    election_->step(std::chrono::milliseconds(0));
  }
  election_->start();
}

// Election thread: this manager now leads. A new leader has heard no heartbeats yet, so
// every node gets one node timeout of grace (NodeManager::load) before the sweep may mark
// it down; then the leader's loops start on the fenced store.
void ManagerRole::becomeLeader(store::Revision fence) {
  fencedStore_->setFence(fence);
  if (auto loaded = nodeManager_->load(); !loaded) {
    // The follow thread keeps the table current; the grace is what is lost.
    spdlog::error("new leader: reload nodes: {}", loaded.error().message);
  }
  std::lock_guard lock(loopsMutex_);
  loops_.stopSweep = std::make_unique<agent::StopSignal>();
  loops_.sweep = std::thread([this, stop = loops_.stopSweep.get()] { sweepLoop(*stop); });
  loops_.reconciler = std::make_unique<manager::ServiceReconciler>(*fencedStore_, *leaderServices_,
                                                                   orchestrator::reconcile);
  loops_.reconciler->start();
}

// Election thread (or stop()): this manager no longer leads. The fence goes first, so a
// write already under way fails; the loops' threads are joined outside the lock.
void ManagerRole::stopLeading(const std::string& reason) {
  fencedStore_->clearFence();
  LeaderLoops loops;
  {
    std::lock_guard lock(loopsMutex_);
    loops = std::move(loops_);
    loops_ = LeaderLoops{};
  }
  if (loops.stopSweep) {
    loops.stopSweep->stop();
  }
  if (loops.reconciler) {
    loops.reconciler->requestStop();
  }
  if (loops.sweep.joinable()) {
    loops.sweep.join();
  }
  if (loops.reconciler) {
    loops.reconciler->join();
    spdlog::info("leader loops stopped: {}", reason);
  }
}

// Thread: keeps NodeManager's member table in step with the node records other managers
// write (joins, removals, role changes). Ends when the store closes.
void ManagerRole::followLoop() {
  std::string lastProblem;
  while (!stopFollow_.stopped()) {
    auto followed = nodeManager_->followStore(std::chrono::milliseconds(250));
    if (followed) {
      lastProblem.clear();
      continue;
    }
    if (stopFollow_.stopped()) {
      return;
    }
    if (followed.error().message != lastProblem) {
      spdlog::warn("follow node records: {}", followed.error().message);
      lastProblem = followed.error().message;
    }
    stopFollow_.sleepFor(std::chrono::milliseconds(200));
  }
}

// Thread: marks silent nodes down. The sweep is an in-memory scan (a store write only for
// a node that changes state), so it runs often: every 50 ms, or a tenth of the node
// timeout when that is shorter than half a second; a dead node's endpoints leave every
// DNS answer and load balancer within the timeout plus this period.
void ManagerRole::sweepLoop(agent::StopSignal& stop) {
  auto period = std::clamp(nodeManager_->nodeTimeout() / 10, std::chrono::milliseconds(10),
                           std::chrono::milliseconds(50));
  while (stop.sleepFor(period)) {
    if (auto swept = nodeManager_->sweep(); !swept) {
      spdlog::error("liveness sweep: {}", swept.error().message);
    }
  }
}

void ManagerRole::stop() {
  if (stopped_) {
    return;
  }
  stopped_ = true;
  // Resigning revokes the lease: another manager leads at once, and the callback stops
  // this one's loops (joined) before the store closes under them.
  if (election_) {
    if (auto resigned = election_->resign(); !resigned) {
      spdlog::warn("resign the leadership: {} (it ends when the lease expires)",
                   resigned.error().message);
    }
  }
  stopLeading("the manager stops");
  stopFollow_.stop();
  // Closing the store wakes every watch long-poll (the follow thread's too), so the
  // server's connection threads can finish and stop() does not wait out a poll.
  store_->close();
  if (followThread_.joinable()) {
    followThread_.join();
  }
  if (revoker_) {
    revoker_->stop();
  }
  clusterServer_.stop();
}

}  // namespace overmesh::daemon
