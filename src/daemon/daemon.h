#pragma once

// Daemon wires one overmeshd: the state directory, the node's membership, its roles
// (ManagerRole on a manager, AgentRole on every member) and the local REST API on a
// unix socket. The local API's handlers call the methods below; each returns a typed
// error that the API turns into an HTTP status.
//
// Where requests go: on a manager, reads and writes go to the Store through the
// managers. On a worker, reads are answered from the agent's cache and writes are
// refused (api::kNotAManagerMessage): cluster writes exist only on a manager's socket.
//
// Security (docs/security.md): the node's keys and certificates (security::NodePki,
// <state-dir>/pki) authenticate it on every node-to-node connection: to the manager's
// cluster port, and on its own node port, which admits manager certificates only.
//
// Threads: the HTTP servers run one thread per connection, so every public method is
// thread-safe. roleMutex_ guards the node's membership and roles (shared for requests,
// exclusive only for the moment init/join/leave swap them; nothing slow, such as a
// network call, runs while it is held exclusively). membershipChanging_ keeps init, join
// and leave apart for their whole run.

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "agent/cert_renewal.h"
#include "agent/stop_signal.h"
#include "api/http_server.h"
#include "api/network_detail.h"
#include "api/service_types.h"
#include "api/stack_types.h"
#include "api/tls_files.h"
#include "api/types.h"
#include "common/clock.h"
#include "common/error.h"
#include "daemon/agent_role.h"
#include "daemon/host_cleanup.h"
#include "daemon/manager_role.h"
#include "daemon/node_state.h"
#include "daemon/store_flags.h"
#include "manager/node_manager.h"
#include "manager/task_manager.h"
#include "runtime/image_store.h"
#include "runtime/podman/podman_image_store.h"
#include "runtime/podman/podman_service.h"
#include "runtime/runtime.h"
#include "security/node_pki.h"

namespace overmesh::daemon {

struct DaemonOptions {
  std::string socketPath = "/run/overmesh/overmesh.sock";
  std::string stateDir = "/var/lib/overmesh";
  std::string hostname;              // node name; empty = the host's name
  std::uint16_t clusterPort = 2377;  // the manager's cluster API (join, heartbeats, watch)
  std::uint16_t nodePort = 2378;     // every member's node API (exec, logs from other nodes)
  std::string netnsPrefix = "om-";   // task sandboxes are named network namespaces <prefix>t-<id>
  std::string gatewaySubnet = "172.18.0.0/16";  // node-local egress subnet (NAT out)
  std::string shimPath;              // the overmeshd binary that runs task shims
  // The node's resolvers, for the embedded DNS's forwarding (dns::DnsServerConfig).
  std::string resolvConfPath = "/etc/resolv.conf";
  // `--host tcp://ADDR:PORT`: the local API also on TCP, with TLS and client
  // certificates chaining to tcpTls.caCert (any identity: an operator's). Empty = unix
  // socket only.
  std::string tcpHost;
  api::TlsFiles tcpTls;
  // overmeshd --store-cacert/--store-cert/--store-key: the etcd client files this node
  // uses once `node promote` makes it a manager (a join as manager brings its own).
  StoreTlsFiles storeTls;
};

struct SwarmJoinRequest {
  std::string token;
  std::string remoteAddress;  // MANAGER_IP[:PORT]
  std::string advertiseAddr;  // empty = this host's only address
  // True when --advertise-addr was given: the manager may then check the address by
  // connecting to it instead of requiring the join to come from it.
  bool advertiseAddrGiven = false;
  // `--store-cacert/--store-cert/--store-key`: this node's own etcd client files, used
  // when it joins as a manager (the manager token); checked before the join.
  StoreTlsFiles storeTls;
};

class Daemon {
 public:
  // Creates the state directory, takes its lock (one daemon per state directory),
  // resumes the node's roles from its saved membership, and starts the local API.
  // Fails with a message naming the path or setting that is wrong.
  static Result<std::unique_ptr<Daemon>> start(const DaemonOptions& options);
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // Stops serving, stops the roles and closes the store. Idempotent.
  void stop();

  api::Info info();
  Result<api::Cluster> swarmInit(const api::SwarmInitRequest& request);
  Status swarmJoin(const SwarmJoinRequest& request);
  // `swarm leave`: out of the swarm, then everything the node made on the host is removed
  // (host_cleanup.h: tasks first, then networks, then node-wide objects). Returns what was
  // removed and what could not be (named); a failed removal does not fail the leave.
  Result<HostCleanupReport> swarmLeave(bool force);
  // `swarm join-token [--rotate] worker|manager` on the manager: the clear token (a new
  // one with `rotate`; the old one joins nothing from then on). InvalidArgument naming
  // the role; FailedPrecondition api::kNotAManagerMessage on a worker.
  Result<std::string> joinToken(std::string_view role, bool rotate);
  // `swarm update` on the manager: registry lists and/or --cert-expiry (checked before
  // anything is written). Returns the registry settings now stored. FailedPrecondition
  // api::kNotAManagerMessage on a worker.
  Result<api::RegistrySettings> swarmUpdate(const api::SwarmUpdateRequest& request);
  // This node's key material (security/node_pki.h); null outside a swarm. Caller holds
  // roleMutex_ (shared is enough) for as long as it uses it.
  security::NodePki* pki();

  // True on a worker: cluster writes are refused here (run them on a manager).
  bool isWorker();

  Result<api::Network> createNetwork(const api::NetworkCreateRequest& request);
  Result<std::vector<api::Network>> listNetworks();
  Result<api::Network> inspectNetwork(const std::string& reference);
  Result<api::Network> removeNetwork(const std::string& reference);
  // inspectNetwork plus the network's services (VIPs) and endpoints (`network inspect`).
  Result<api::NetworkDetail> inspectNetworkDetail(const std::string& reference);

  // Pins the image unless `options.resolveImage` is false (manager::ServiceManager).
  Result<manager::ServiceWrite> createService(const api::ServiceSpec& spec,
                                              const manager::ServiceWriteOptions& options);
  Result<std::vector<api::Service>> listServices();
  Result<api::Service> inspectService(const std::string& reference);
  Result<manager::ServiceWrite> updateService(const std::string& reference,
                                              const api::ServiceUpdateRequest& request,
                                              const manager::ServiceWriteOptions& options);
  Result<api::Service> removeService(const std::string& reference);

  // Stacks (issue 11; manager::StackManager). deployStack and removeStack need a manager
  // (workers forward them); listStacks answers from a worker's cache too.
  Result<api::StackDeployReply> deployStack(const api::StackDeployRequest& request);
  Result<std::vector<api::StackSummary>> listStacks();
  Result<api::StackRemoveReply> removeStack(const std::string& stack);

  Result<std::vector<api::Node>> listNodes();
  Result<api::Node> inspectNode(const std::string& reference);
  Result<api::Node> updateNode(const std::string& reference,
                               const manager::NodeUpdateRequest& request);
  // `node rm`: removes a worker from the cluster (a manager only). Its record goes, so its
  // certificate is refused from then on and its open connections are cut (the cluster
  // server's removal listener). Docker's rule: a node that is not down is refused unless
  // `force`. NotFound for an unknown reference; FailedPrecondition for this node itself,
  // for a node that is not down without `force`, and outside a swarm.
  Status removeNode(const std::string& reference, bool force);
  // `node promote` (role "manager") / `node demote` (role "worker") on a manager
  // (manager::NodeManager::setRole: the role in the node record; the node's daemon notices
  // and changes its roles). FailedPrecondition kNotAManagerMessage on a worker, and
  // setRole's errors (the shared store for promote, the last manager for demote).
  Result<manager::RoleChange> setNodeRole(const std::string& reference, std::string_view role);

  Result<api::Task> runTask(const manager::RunRequest& request);
  Result<std::vector<api::Task>> listTasks();
  Result<api::Task> inspectTask(const std::string& reference);
  Result<api::Task> removeTask(const std::string& reference, bool force);
  // Runs `argv` in the task's namespaces on whichever node runs it; timeout 0 = no limit.
  // A task on another node: a manager calls that node's node port with its manager
  // certificate; a worker answers FailedPrecondition naming the node (run it there or
  // on a manager). No lock is held while the command runs.
  Result<runtime::ExecResult> execTask(const std::string& reference,
                                       const std::vector<std::string>& argv,
                                       std::chrono::milliseconds timeout);
  Result<std::string> taskLogs(const std::string& reference);
  // The same, for a task on this node only (the node API's handlers).
  Result<runtime::ExecResult> execLocalTask(const std::string& taskId,
                                            const std::vector<std::string>& argv,
                                            std::chrono::milliseconds timeout);
  Result<std::string> localTaskLogs(const std::string& taskId);

  // The node's image store (podman under <state dir>/podman, started on first use), in
  // or out of a swarm: `overmesh image ls|pull|load|rm` work on any node.
  runtime::ImageStore& images() { return *images_; }
  // True once stop() began: `image pull` requests watch it, so that stopping never waits
  // minutes for a registry.
  const std::atomic<bool>& stopping() const { return stopping_; }

 private:
  explicit Daemon(DaemonOptions options);

  // The roles a membership runs, started and stopped as one.
  struct Roles {
    std::unique_ptr<ManagerRole> manager;
    std::shared_ptr<AgentRole> agent;  // shared: see agent_
    std::unique_ptr<api::HttpServer> nodeServer;
    std::unique_ptr<agent::CertRenewalLoop> renewal;
  };
  // Starts the roles `node` calls for: the node API, and on a manager `manager` (opened
  // here when null) serving the cluster, the agent, and the certificate renewal, all
  // with `pki` (which must outlive the roles). Reads no guarded member, so it runs
  // without roleMutex_; on failure it stops everything it started (`manager` included)
  // and returns why.
  Result<Roles> launchRoles(const NodeState& node, std::unique_ptr<ManagerRole> manager,
                            security::NodePki& pki);
  // The last steps of an init or join: launches the roles `state` calls for (with
  // `manager` on a manager), saves node.json, and makes both (and `pki`) the daemon's.
  // On failure it stops what it started and removes node.json, and returns why prefixed
  // by `command`; the caller's own rollbacks (store and pki files, the manager's record)
  // are its business.
  Status commitMembership(const NodeState& state, std::unique_ptr<ManagerRole> manager,
                          std::unique_ptr<security::NodePki> pki, std::string_view command);
  // Makes `roles` the daemon's. Caller holds roleMutex_ exclusively.
  void installRoles(Roles roles);
  // Stops roles that no member points to any more. Call it unlocked: the servers wait for
  // their handler threads, which may be waiting for roleMutex_.
  static void shutDown(Roles roles);
  // Takes the daemon's roles out and shuts them down.
  void stopRoles();
  // Marks an init, join or leave as running (FailedPrecondition if one already is) and
  // returns the membership at that moment; endMembershipChange() clears the mark.
  Result<std::optional<NodeState>> beginMembershipChange(std::string_view command);
  void endMembershipChange();
  // Removes cluster.db and its -wal and -shm files; Unavailable naming those that remain.
  Status removeStoreFiles() const;
  // The agent's cache when it is usable for reads; Unavailable naming the manager if not.
  Result<const agent::StateCache*> workerCache();
  std::string hostname() const;
  agent::TaskAgentConfig taskAgentConfig(const NodeState& node) const;
  // Where a task runs: here, or on the node at nodeAddress (reached through its node
  // API with this manager's certificate; `client` is that call's TLS configuration).
  struct TaskLocation {
    api::Task task;
    bool local = false;
    std::string nodeAddress;
    std::shared_ptr<const api::TlsClientConfig> client;
  };
  Result<TaskLocation> locateTask(const std::string& reference);
  // The node that runs `task` and its address, for calls to its node API.
  Result<std::string> nodeAddressOf(const api::Task& task);
  std::string storePath() const;
  // The agent, taken under roleMutex_ and used after releasing it; null outside a swarm.
  std::shared_ptr<AgentRole> currentAgent();
  // Thread: every second, checks whether this node's own record changed role (`node
  // promote|demote` on a manager, seen in the agent's cache) and follows it. Started last
  // in start(), stopped first in stop().
  void roleWatchLoop();
  // One check: nothing while an init, join or leave runs (it is one of those itself).
  // A step that fails leaves the node as it was, and the next check tries again.
  Status followRoleChange();
  // Worker -> manager: renew as manager, fetch the CA key and the store URL, open the store
  // (with options_.storeTls), then swap the worker's roles for a manager's and save
  // node.json. On failure after the swap, the worker's roles come back.
  Status promoteSelf(const NodeState& node);
  // Manager -> worker: renew as worker at one of `managers` (IP:PORT of the others), then
  // stop the manager role, delete pki/ca.key and go on as a worker of the first that
  // answered.
  Status demoteSelf(const NodeState& node, const std::vector<std::string>& managers);

  DaemonOptions options_;
  int lockFd_ = -1;
  SystemClock clock_;
  // Before the roles: the agent's image runtime uses them until the roles are gone.
  std::unique_ptr<runtime::podman::PodmanService> podman_;
  std::unique_ptr<runtime::podman::PodmanImageStore> images_;

  std::shared_mutex roleMutex_;
  std::optional<NodeState> node_;         // guarded by roleMutex_
  std::unique_ptr<ManagerRole> manager_;  // guarded by roleMutex_
  std::unique_ptr<security::NodePki> pki_;  // guarded by roleMutex_
  // Shared so that a long exec or logs call can keep the agent alive without holding
  // roleMutex_ (see currentAgent()).
  std::shared_ptr<AgentRole> agent_;      // guarded by roleMutex_
  std::unique_ptr<agent::CertRenewalLoop> renewal_;  // guarded by roleMutex_

  api::HttpServer localServer_;
  std::unique_ptr<api::HttpServer> nodeServer_;  // guarded by roleMutex_
  // True while an init, join or leave runs; they change the membership partly without
  // holding roleMutex_ (the join's call to the manager), so this keeps them apart.
  bool membershipChanging_ = false;  // guarded by roleMutex_
  bool stopped_ = false;
  agent::StopSignal stopRoleWatch_;
  std::thread roleWatchThread_;
  // Set when stop() begins: forwarded exec and logs calls and image pulls watch it
  // (HttpClient's cancel flag) so that stopping never waits for another node or a registry.
  std::atomic<bool> stopping_{false};
};

}  // namespace overmesh::daemon
