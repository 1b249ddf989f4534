#pragma once

// Daemon wires one overmeshd: the state directory, the node's membership, the manager's
// store and services (on a manager), and the local REST API on a unix socket. The
// local API's handlers call the methods below; each returns a typed error that the API
// turns into an HTTP status.
//
// Threads: the HTTP server runs one thread per connection, so every public method is
// thread-safe. roleMutex_ guards the node's role (shared for requests, exclusive while
// `swarm init` changes it).

#include <cstdint>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <vector>

#include "api/http_server.h"
#include "api/types.h"
#include "common/clock.h"
#include "common/error.h"
#include "daemon/node_state.h"
#include "manager/cluster_manager.h"
#include "manager/network_manager.h"
#include "store/store.h"

namespace overmesh::daemon {

struct DaemonOptions {
  std::string socketPath = "/run/overmesh/overmesh.sock";
  std::string stateDir = "/var/lib/overmesh";
  std::uint16_t clusterPort = 2377;  // the manager's cluster API (join, heartbeats, watch)
};

class Daemon {
 public:
  // Creates the state directory, takes its lock (one daemon per state directory),
  // reopens the store when this node is a manager, and starts the local API.
  // Fails with a message naming the path or setting that is wrong.
  static Result<std::unique_ptr<Daemon>> start(const DaemonOptions& options);
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // Stops serving and closes the store. Idempotent.
  void stop();

  api::Info info();
  Result<api::Cluster> swarmInit(const api::SwarmInitRequest& request);
  Result<std::string> workerJoinToken();

  Result<api::Network> createNetwork(const api::NetworkCreateRequest& request);
  Result<std::vector<api::Network>> listNetworks();
  Result<api::Network> inspectNetwork(const std::string& reference);
  Result<api::Network> removeNetwork(const std::string& reference);

  Result<std::vector<api::Node>> listNodes();
  Result<api::Node> inspectNode(const std::string& reference);

 private:
  explicit Daemon(DaemonOptions options);
  Status openManager();

  DaemonOptions options_;
  int lockFd_ = -1;
  SystemClock clock_;

  std::shared_mutex roleMutex_;
  std::optional<NodeState> node_;                   // guarded by roleMutex_
  std::unique_ptr<store::Store> store_;             // guarded by roleMutex_; managers only
  std::unique_ptr<manager::ClusterManager> clusterManager_;  // guarded by roleMutex_
  std::unique_ptr<manager::NetworkManager> networkManager_;  // guarded by roleMutex_

  api::HttpServer localServer_;
  bool stopped_ = false;
};

}  // namespace overmesh::daemon
