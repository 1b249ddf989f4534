#include "daemon/manager_role.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "daemon/tls_sources.h"
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
  return std::unique_ptr<ManagerRole>(new ManagerRole(std::move(*store), clock));
}

ManagerRole::ManagerRole(std::unique_ptr<store::Store> store, const Clock& clock)
    : clock_(clock),
      store_(std::move(store)),
      clusterManager_(std::make_unique<manager::ClusterManager>(*store_)),
      networkManager_(std::make_unique<manager::NetworkManager>(*store_)),
      taskManager_(std::make_unique<manager::TaskManager>(*store_)),
      serviceManager_(std::make_unique<manager::ServiceManager>(*store_, &imageResolver_)),
      stackManager_(
          std::make_unique<manager::StackManager>(*store_, *networkManager_, *serviceManager_)) {}

ManagerRole::~ManagerRole() { stop(); }

Status ManagerRole::serve(const std::string& selfNodeId, const std::string& listenAddress,
                          std::uint16_t port, security::NodePki& pki) {
  nodeManager_ = std::make_unique<manager::NodeManager>(*store_, clock_, selfNodeId);
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
  sweepThread_ = std::thread([this] { sweepLoop(); });
  reconciler_ = std::make_unique<manager::ServiceReconciler>(*store_, *serviceManager_,
                                                             orchestrator::reconcile);
  reconciler_->start();
  spdlog::info("manager serving the cluster on {}:{}", listenAddress, *bound);
  return {};
}

// Thread: marks silent nodes down. The sweep is an in-memory scan (a store write only for
// a node that changes state), so it runs often: every 50 ms, or a tenth of the node
// timeout when that is shorter than half a second; a dead node's endpoints leave every
// DNS answer and load balancer within the timeout plus this period.
void ManagerRole::sweepLoop() {
  auto period = std::clamp(nodeManager_->nodeTimeout() / 10, std::chrono::milliseconds(10),
                           std::chrono::milliseconds(50));
  while (stopSweep_.sleepFor(period)) {
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
  stopSweep_.stop();
  if (sweepThread_.joinable()) {
    sweepThread_.join();
  }
  if (reconciler_) {
    reconciler_->requestStop();
  }
  // Closing the store first wakes every watch long-poll (the orchestration loop's too),
  // so the server's connection threads can finish and stop() does not wait out a poll.
  store_->close();
  if (reconciler_) {
    reconciler_->join();
  }
  if (revoker_) {
    revoker_->stop();
  }
  clusterServer_.stop();
}

}  // namespace overmesh::daemon
