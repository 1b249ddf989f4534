#include "daemon/daemon.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>

#include <spdlog/spdlog.h>

#include "common/host_addresses.h"
#include "common/json.h"
#include "daemon/local_api.h"
#include "daemon/version.h"
#include "manager/keys.h"
#include "manager/object_lookup.h"
#include "store/sqlite/sqlite_store.h"

namespace overmesh::daemon {
namespace {

std::string storePath(const std::string& stateDir) { return stateDir + "/cluster.db"; }

std::string localHostname() {
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0) {
    return "localhost";
  }
  return name;
}

Error notManager() {
  return Error{ErrorKind::FailedPrecondition,
               "this node is not a swarm manager: run `overmesh swarm init` first (or run the "
               "command on a manager)"};
}

}  // namespace

Daemon::Daemon(DaemonOptions options) : options_(std::move(options)) {}

Daemon::~Daemon() { stop(); }

Result<std::unique_ptr<Daemon>> Daemon::start(const DaemonOptions& options) {
  std::error_code error;
  std::filesystem::create_directories(options.stateDir, error);
  if (error) {
    return errorf(ErrorKind::Unavailable, "cannot create --state-dir {}: {}", options.stateDir,
                  error.message());
  }
  std::filesystem::permissions(options.stateDir, std::filesystem::perms::owner_all,
                               std::filesystem::perm_options::replace, error);
  std::string socketDir = std::filesystem::path(options.socketPath).parent_path().string();
  if (!socketDir.empty()) {
    std::filesystem::create_directories(socketDir, error);
    if (error) {
      return errorf(ErrorKind::Unavailable, "cannot create the directory of --socket {}: {}",
                    options.socketPath, error.message());
    }
  }

  auto daemon = std::unique_ptr<Daemon>(new Daemon(options));
  std::string lockPath = options.stateDir + "/lock";
  daemon->lockFd_ = open(lockPath.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (daemon->lockFd_ < 0) {
    return errorf(ErrorKind::Unavailable, "open {}: {}", lockPath, errnoText(errno));
  }
  if (flock(daemon->lockFd_, LOCK_EX | LOCK_NB) != 0) {
    return errorf(ErrorKind::FailedPrecondition,
                  "another overmeshd is using --state-dir {}; give each daemon its own",
                  options.stateDir);
  }

  auto state = loadNodeState(options.stateDir);
  if (!state) {
    return std::unexpected(state.error());
  }
  daemon->node_ = *state;
  if (daemon->node_ && daemon->node_->role == "manager") {
    if (auto opened = daemon->openManager(); !opened) {
      return std::unexpected(opened.error());
    }
  }

  registerLocalApi(daemon->localServer_, *daemon);
  if (auto listening = daemon->localServer_.listenUnix(options.socketPath, 0600); !listening) {
    return std::unexpected(listening.error());
  }
  spdlog::info("overmeshd {} started socket={} state_dir={} role={}", kVersion,
               options.socketPath, options.stateDir,
               daemon->node_ ? daemon->node_->role : "none");
  return daemon;
}

Status Daemon::openManager() {
  auto store = store::SqliteStore::open(storePath(options_.stateDir), clock_);
  if (!store) {
    return std::unexpected(store.error().withContext("open the cluster store"));
  }
  store_ = std::move(*store);
  clusterManager_ = std::make_unique<manager::ClusterManager>(*store_);
  networkManager_ = std::make_unique<manager::NetworkManager>(*store_);
  return {};
}

void Daemon::stop() {
  if (stopped_) {
    return;
  }
  stopped_ = true;
  localServer_.stop();
  std::unique_lock lock(roleMutex_);
  if (store_) {
    store_->close();
  }
  networkManager_.reset();
  clusterManager_.reset();
  store_.reset();
  if (lockFd_ >= 0) {
    close(lockFd_);
    lockFd_ = -1;
  }
  spdlog::info("overmeshd stopped");
}

api::Info Daemon::info() {
  std::shared_lock lock(roleMutex_);
  api::Info info;
  info.version = kVersion;
  info.stateDir = options_.stateDir;
  info.socket = options_.socketPath;
  info.swarm = node_ ? "active" : "inactive";
  if (node_) {
    info.nodeId = node_->nodeId;
    info.role = node_->role;
    info.clusterId = node_->clusterId;
    info.managerAddress = node_->managerAddress;
  }
  return info;
}

Result<api::Cluster> Daemon::swarmInit(const api::SwarmInitRequest& request) {
  std::unique_lock lock(roleMutex_);
  if (node_) {
    return errorf(ErrorKind::FailedPrecondition,
                  "swarm init: this node is already part of a swarm (role {}); run `overmesh "
                  "swarm leave` first",
                  node_->role);
  }
  auto address = chooseAdvertiseAddress(request.advertiseAddr);
  if (!address) {
    return std::unexpected(address.error().withContext("swarm init"));
  }
  if (auto opened = openManager(); !opened) {
    return std::unexpected(opened.error());
  }
  manager::LocalNode self{localHostname(), *address,
                          fmt::format("{}:{}", *address, options_.clusterPort)};
  auto initialised = clusterManager_->init(request, self);
  if (!initialised) {
    // The store holds nothing of this failed init; drop it so the node stays inactive.
    networkManager_.reset();
    clusterManager_.reset();
    store_->close();
    store_.reset();
    std::filesystem::remove(storePath(options_.stateDir));
    std::filesystem::remove(storePath(options_.stateDir) + "-wal");
    std::filesystem::remove(storePath(options_.stateDir) + "-shm");
    return std::unexpected(initialised.error());
  }
  NodeState state{initialised->node.id,     "manager", initialised->cluster.id, *address,
                  self.managerAddress, ""};
  if (auto saved = saveNodeState(options_.stateDir, state); !saved) {
    return std::unexpected(saved.error().withContext("swarm init"));
  }
  node_ = state;
  spdlog::info("swarm initialised cluster={} node={} advertise={}", initialised->cluster.id,
               initialised->node.id, *address);
  return initialised->cluster;
}

Result<std::string> Daemon::workerJoinToken() {
  std::shared_lock lock(roleMutex_);
  if (!clusterManager_) {
    return std::unexpected(notManager());
  }
  auto cluster = clusterManager_->cluster();
  if (!cluster) {
    return std::unexpected(cluster.error());
  }
  return cluster->workerJoinToken;
}

Result<api::Network> Daemon::createNetwork(const api::NetworkCreateRequest& request) {
  std::shared_lock lock(roleMutex_);
  if (!networkManager_) {
    return std::unexpected(notManager());
  }
  auto network = networkManager_->create(request);
  if (network) {
    spdlog::info("network created name={} id={} subnet={} vni={}", network->name, network->id,
                 network->subnet, network->vni);
  }
  return network;
}

Result<std::vector<api::Network>> Daemon::listNetworks() {
  std::shared_lock lock(roleMutex_);
  if (!networkManager_) {
    return std::unexpected(notManager());
  }
  return networkManager_->list();
}

Result<api::Network> Daemon::inspectNetwork(const std::string& reference) {
  std::shared_lock lock(roleMutex_);
  if (!networkManager_) {
    return std::unexpected(notManager());
  }
  return networkManager_->inspect(reference);
}

Result<api::Network> Daemon::removeNetwork(const std::string& reference) {
  std::shared_lock lock(roleMutex_);
  if (!networkManager_) {
    return std::unexpected(notManager());
  }
  auto network = networkManager_->remove(reference);
  if (network) {
    spdlog::info("network removed name={} id={}", network->name, network->id);
  }
  return network;
}

Result<std::vector<api::Node>> Daemon::listNodes() {
  std::shared_lock lock(roleMutex_);
  if (!store_) {
    return std::unexpected(notManager());
  }
  auto range = store_->range(std::string(manager::keys::kNodes));
  if (!range) {
    return std::unexpected(range.error());
  }
  std::vector<api::Node> nodes;
  for (const auto& kv : range->kvs) {
    auto node = decodeJson<api::Node>(kv.value, kv.key);
    if (!node) {
      return errorf(ErrorKind::Internal, "corrupt node record: {}", node.error().message);
    }
    nodes.push_back(std::move(*node));
  }
  std::sort(nodes.begin(), nodes.end(),
            [](const api::Node& a, const api::Node& b) { return a.hostname < b.hostname; });
  return nodes;
}

Result<api::Node> Daemon::inspectNode(const std::string& reference) {
  auto nodes = listNodes();
  if (!nodes) {
    return std::unexpected(nodes.error());
  }
  std::vector<manager::NamedObject> named;
  for (const auto& node : *nodes) {
    named.push_back({node.id, node.hostname});
  }
  auto index = manager::findByReference("node", named, reference);
  if (!index) {
    return std::unexpected(index.error());
  }
  return (*nodes)[*index];
}

}  // namespace overmesh::daemon
