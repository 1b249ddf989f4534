#include "daemon/daemon.h"

#include <fcntl.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>

#include "api/api_error.h"
#include "api/cluster_protocol.h"
#include "api/http_client.h"
#include "api/percent_encoding.h"
#include "api/task_io.h"
#include "common/host_addresses.h"
#include "common/ip.h"
#include "common/json.h"
#include "common/quote.h"
#include "common/secret_hash.h"
#include "daemon/local_api.h"
#include "daemon/port_probe.h"
#include "daemon/version.h"
#include "dataplane/linux/nftables.h"
#include "dataplane/mesh_rules.h"
#include "dataplane/overlay_plan.h"
#include "manager/network_detail.h"
#include "manager/object_lookup.h"
#include "state/keys.h"

namespace overmesh::daemon {
namespace {

Error notInSwarm() {
  return Error{ErrorKind::FailedPrecondition,
               "this node is not part of a swarm: run `overmesh swarm init` to create one, or "
               "`overmesh swarm join` to join one"};
}

template <typename T>
Result<T> lookup(std::string_view kind, const std::vector<T>& objects,
                 const std::string& reference, auto nameOf) {
  std::vector<manager::NamedObject> named;
  for (const auto& object : objects) {
    named.push_back({object.id, nameOf(object)});
  }
  auto index = manager::findByReference(kind, named, reference);
  if (!index) {
    return std::unexpected(index.error());
  }
  return objects[*index];
}

// "198.18.0.1" or "198.18.0.1:2377" → "198.18.0.1:2377".
Result<std::string> managerEndpoint(const std::string& remote, std::uint16_t defaultPort) {
  std::string host = remote;
  std::string port = std::to_string(defaultPort);
  if (auto colon = remote.find(':'); colon != std::string::npos) {
    host = remote.substr(0, colon);
    port = remote.substr(colon + 1);
  }
  bool portValid = !port.empty() && port.size() <= 5 &&
                   std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }) &&
                   std::stoi(port) > 0 && std::stoi(port) < 65536;
  if (!Ipv4Address::parse(host) || !portValid) {
    return errorf(ErrorKind::InvalidArgument,
                  "manager address {} is not valid: use MANAGER_IP or MANAGER_IP:PORT, e.g. "
                  "198.18.0.1:2377",
                  remote);
  }
  return host + ":" + port;
}

}  // namespace

Daemon::Daemon(DaemonOptions options)
    : options_(std::move(options)),
      podman_(std::make_unique<runtime::podman::PodmanService>(
          runtime::podman::PodmanServiceOptions{.dir = options_.stateDir + "/podman"})),
      images_(std::make_unique<runtime::podman::PodmanImageStore>(*podman_)) {}

Daemon::~Daemon() { stop(); }

std::string Daemon::storePath() const { return options_.stateDir + "/cluster.db"; }

std::string Daemon::hostname() const {
  if (!options_.hostname.empty()) {
    return options_.hostname;
  }
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0) {
    return "localhost";
  }
  return name;
}

Result<std::unique_ptr<Daemon>> Daemon::start(const DaemonOptions& options) {
  auto gatewaySubnet = Ipv4Prefix::parse(options.gatewaySubnet);
  if (!gatewaySubnet || !gatewaySubnet->isNetworkAddress() || gatewaySubnet->length() > 28) {
    return errorf(ErrorKind::InvalidArgument,
                  "--gateway-subnet {} is not valid: give a network address of /28 or larger, "
                  "e.g. 172.18.0.0/16",
                  options.gatewaySubnet);
  }
  std::error_code error;
  std::filesystem::create_directories(options.stateDir, error);
  if (error) {
    return errorf(ErrorKind::Unavailable, "cannot create --state-dir {}: {}", options.stateDir,
                  error.message());
  }
  // The state directory holds the node's secrets: only its owner may read it.
  std::filesystem::permissions(options.stateDir, std::filesystem::perms::owner_all,
                               std::filesystem::perm_options::replace, error);
  if (error) {
    return errorf(ErrorKind::Unavailable, "cannot restrict --state-dir {} to its owner (0700): {}",
                  options.stateDir, error.message());
  }
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
  if (*state) {
    auto roles = daemon->launchRoles(**state, nullptr);
    if (!roles) {
      return std::unexpected(roles.error());
    }
    std::unique_lock lock(daemon->roleMutex_);
    daemon->node_ = *state;
    daemon->installRoles(std::move(*roles));
  }

  registerLocalApi(daemon->localServer_, *daemon);
  if (auto listening = daemon->localServer_.listenUnix(options.socketPath, 0600); !listening) {
    return std::unexpected(listening.error());
  }
  if (!options.tcpHost.empty()) {
    // The local API over TCP: TLS 1.3 with a client certificate of the operator's CA.
    auto endpoint = api::parseTcpEndpoint(options.tcpHost);
    if (!endpoint) {
      return std::unexpected(endpoint.error());
    }
    auto tls = api::loadServerTls(options.tcpTls);
    if (!tls) {
      return std::unexpected(tls.error());
    }
    auto config = std::make_shared<const api::TlsServerConfig>(std::move(*tls));
    auto port = daemon->localServer_.listenTls(endpoint->host, endpoint->port,
                                               {.config = [config] { return config; }});
    if (!port) {
      return std::unexpected(port.error());
    }
    spdlog::info("local API also on tcp://{}:{} (TLS, client certificates of {})",
                 endpoint->host, *port, options.tcpTls.caCert);
  }
  spdlog::info("overmeshd {} started socket={} state_dir={} role={}", kVersion,
               options.socketPath, options.stateDir,
               daemon->node_ ? daemon->node_->role : "none");
  return daemon;
}

agent::TaskAgentConfig Daemon::taskAgentConfig(const NodeState& node) const {
  agent::TaskAgentConfig config;
  config.nodeId = node.nodeId;
  config.advertiseAddress = Ipv4Address::parse(node.advertiseAddress).value_or(Ipv4Address());
  config.stateDir = options_.stateDir;
  config.shimPath = options_.shimPath;
  config.resolvConfPath = options_.resolvConfPath;
  config.namespacePrefix = options_.netnsPrefix;
  config.gatewaySubnet = Ipv4Prefix::parse(options_.gatewaySubnet).value_or(Ipv4Prefix());
  config.reservedPorts = {{"tcp", options_.nodePort},
                          {"tcp", options_.clusterPort},
                          {"udp", dataplane::kVxlanPort}};
  // The manager's cluster port as this node reaches it (it may differ from ours).
  if (auto colon = node.managerAddress.rfind(':'); colon != std::string::npos) {
    unsigned int port = 0;
    auto text = std::string_view(node.managerAddress).substr(colon + 1);
    if (std::from_chars(text.data(), text.data() + text.size(), port).ec == std::errc() &&
        port > 0 && port <= 65535) {
      config.reservedPorts.insert({"tcp", static_cast<std::uint16_t>(port)});
    }
  }
  return config;
}

Result<Daemon::Roles> Daemon::launchRoles(const NodeState& node,
                                          std::unique_ptr<ManagerRole> manager) {
  Roles roles;
  roles.manager = std::move(manager);
  // Whatever fails below, what was started so far is stopped again: no listener or
  // thread outlives a failed start.
  auto fail = [&roles](Error error) -> Result<Roles> {
    shutDown(std::move(roles));
    return std::unexpected(std::move(error));
  };
  // Every member serves the node API (exec and logs of its tasks for other nodes).
  roles.nodeServer = std::make_unique<api::HttpServer>();
  registerNodeApi(*roles.nodeServer, *this);
  if (auto bound = roles.nodeServer->listenTcp(node.advertiseAddress, options_.nodePort);
      !bound) {
    return fail(bound.error().withContext("listen for other nodes (--node-port)"));
  }
  if (node.role != "manager") {
    roles.agent = AgentRole::forWorker(node.managerAddress, {node.nodeId, node.nodeSecret},
                                       taskAgentConfig(node), *podman_, *images_);
    return roles;
  }
  if (!roles.manager) {
    auto opened = ManagerRole::open(storePath(), clock_);
    if (!opened) {
      return fail(opened.error());
    }
    roles.manager = std::move(*opened);
  }
  auto served = roles.manager->serve(
      node.nodeId, node.advertiseAddress, options_.clusterPort,
      [this](api::HttpServer& server, const api::RouteGuard& guard) {
        registerForwardedApi(server, *this, guard);
      });
  if (!served) {
    return fail(served.error().withContext("--cluster-port"));
  }
  std::string self = node.nodeId;
  roles.agent = AgentRole::forManager(
      roles.manager->store(), taskAgentConfig(node),
      [tasks = &roles.manager->tasks(), self](const std::string& taskId,
                                              const agent::TaskReport& report) {
        return tasks->reportStatus(
            {taskId, self, report.state, report.message, report.exitCode, report.health});
      },
      *podman_, *images_);
  return roles;
}

void Daemon::installRoles(Roles roles) {
  manager_ = std::move(roles.manager);
  agent_ = std::move(roles.agent);
  nodeServer_ = std::move(roles.nodeServer);
}

void Daemon::shutDown(Roles roles) {
  // An exec may have no time limit: end the running ones first, or stopping the node
  // API below would wait for them (and a leave would never finish).
  if (roles.agent) {
    roles.agent->cancelExecs();
  }
  if (roles.nodeServer) {
    roles.nodeServer->stop();
  }
  // The manager's own agent may be in a store watch: ask it to stop, close the store
  // (which wakes the watch), then wait for it.
  if (roles.agent) {
    roles.agent->requestStop();
  }
  if (roles.manager) {
    roles.manager->stop();
  }
  if (roles.agent) {
    roles.agent->stop();
  }
}

void Daemon::stopRoles() {
  Roles roles;
  {
    // Take the roles out, then stop them unlocked: their servers wait for handler
    // threads, which may be waiting for roleMutex_ themselves.
    std::unique_lock lock(roleMutex_);
    roles.manager = std::move(manager_);
    roles.agent = std::move(agent_);
    roles.nodeServer = std::move(nodeServer_);
  }
  shutDown(std::move(roles));
}

void Daemon::stop() {
  if (stopped_) {
    return;
  }
  stopped_ = true;
  // localServer_.stop() waits for every request in progress: end the execs first (local
  // ones through the runtime, forwarded ones by cutting their call to the task's node),
  // since an exec may have no time limit.
  stopping_ = true;
  if (auto agent = currentAgent()) {
    agent->cancelExecs();
  }
  localServer_.stop();
  stopRoles();
  // Containers keep running (each has its conmon); the next daemon starts podman again
  // when it needs it.
  podman_->stop();
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
    if (manager_) {
      if (auto registries = manager_->clusters().registries()) {
        info.registries = std::move(*registries);
      }
    } else if (agent_ && agent_->cache().synced()) {
      info.registries = agent_->cache().registries();
    }
  }
  return info;
}

Result<std::optional<NodeState>> Daemon::beginMembershipChange(std::string_view command) {
  std::unique_lock lock(roleMutex_);
  if (membershipChanging_) {
    return errorf(ErrorKind::FailedPrecondition,
                  "{}: another swarm init, join or leave is in progress on this node; wait for "
                  "it to finish, then check `overmesh info`",
                  command);
  }
  membershipChanging_ = true;
  return node_;
}

void Daemon::endMembershipChange() {
  std::unique_lock lock(roleMutex_);
  membershipChanging_ = false;
}

Status Daemon::removeStoreFiles() const {
  std::vector<std::string> problems;
  for (const char* suffix : {"", "-wal", "-shm"}) {
    std::error_code error;
    std::filesystem::remove(storePath() + suffix, error);  // false without error: absent
    if (error) {
      problems.push_back(fmt::format("{}{}: {}", storePath(), suffix, error.message()));
    }
  }
  if (!problems.empty()) {
    return errorf(ErrorKind::Unavailable, "cannot remove the cluster store ({}); remove it by hand",
                  fmt::join(problems, "; "));
  }
  return {};
}

namespace {

// Runs `undo` when the scope is left early; dismiss() once the change is complete.
class Rollback {
 public:
  explicit Rollback(std::function<void()> undo) : undo_(std::move(undo)) {}
  ~Rollback() {
    if (undo_) {
      undo_();
    }
  }
  Rollback(const Rollback&) = delete;
  Rollback& operator=(const Rollback&) = delete;
  void dismiss() { undo_ = nullptr; }

 private:
  std::function<void()> undo_;
};

// Appends what a rollback could not undo to the error that caused it.
Error withRollbackProblem(Error error, const Status& undone) {
  if (!undone) {
    error.message += fmt::format(" (rolling back: {})", undone.error().message);
  }
  return error;
}

// Asks the manager at `managerAddress` to remove node `nodeId`: at `swarm leave`, and to
// undo a join that failed on this side. Returns what went wrong, empty when it confirmed.
std::string leaveOnManager(const std::string& managerAddress, const std::string& nodeId,
                           const std::string& nodeSecret) {
  auto client = api::HttpClient::create("tcp://" + managerAddress);
  if (!client) {
    return client.error().message;
  }
  auto response = (*client)->request("POST", api::kLeavePath, "{}", std::chrono::seconds(10),
                                     agent::credentialHeaders({nodeId, nodeSecret}));
  if (!response) {
    return response.error().message;
  }
  if (!api::isSuccess(*response)) {
    return api::errorFromResponse(*response).message;
  }
  return {};
}

// The node's underlay network; a host that hides it (no interface holds the address)
// reports the address alone, which still keeps overlays off it.
std::string underlayPrefixOf(const std::string& address) {
  auto prefix = connectedPrefixOf(address);
  if (prefix) {
    return *prefix;
  }
  spdlog::warn("cannot find the network of advertise address {}: {}", address,
               prefix.error().message);
  return address + "/32";
}

}  // namespace

Status Daemon::commitMembership(const NodeState& state, std::unique_ptr<ManagerRole> manager,
                                std::string_view command) {
  auto roles = launchRoles(state, std::move(manager));  // stops the manager on failure
  if (!roles) {
    return std::unexpected(roles.error().withContext(std::string(command)));
  }
  // node.json last: once it exists, a restarted daemon resumes this membership.
  if (auto saved = saveNodeState(options_.stateDir, state); !saved) {
    shutDown(std::move(*roles));
    return std::unexpected(
        withRollbackProblem(saved.error(), removeNodeState(options_.stateDir))
            .withContext(std::string(command)));
  }
  std::unique_lock lock(roleMutex_);
  node_ = state;
  installRoles(std::move(*roles));
  return {};
}

// Order: every check that can fail before anything exists (request, advertise address,
// pools, free ports, no leftover store); then the store and the roles, undone on failure;
// node.json last, so a node whose roles could not start has no membership to resume.
Result<api::Cluster> Daemon::swarmInit(const api::SwarmInitRequest& request) {
  auto current = beginMembershipChange("swarm init");
  if (!current) {
    return std::unexpected(current.error());
  }
  Rollback endChange([this] { endMembershipChange(); });
  if (*current) {
    return errorf(ErrorKind::FailedPrecondition,
                  "swarm init: this node is already part of a swarm (role {}); run `overmesh "
                  "swarm leave` first",
                  (*current)->role);
  }
  auto address = chooseAdvertiseAddress(request.advertiseAddr);
  if (!address) {
    return std::unexpected(address.error().withContext("swarm init"));
  }
  manager::LocalNode self{hostname(), *address,
                          fmt::format("{}:{}", *address, options_.clusterPort),
                          underlayPrefixOf(*address), options_.gatewaySubnet};
  if (auto valid = manager::ClusterManager::validateInit(request, self); !valid) {
    return std::unexpected(valid.error());
  }
  for (auto [port, flag] : {std::pair{options_.clusterPort, "--cluster-port"},
                            std::pair{options_.nodePort, "--node-port"}}) {
    if (auto free = probeTcpPort(*address, port, flag); !free) {
      return std::unexpected(free.error().withContext("swarm init"));
    }
  }
  for (const char* suffix : {"", "-wal", "-shm"}) {
    std::error_code error;
    bool exists = std::filesystem::exists(storePath() + suffix, error);
    if (error || exists) {
      return errorf(ErrorKind::FailedPrecondition,
                    "swarm init: {}{} {}; it is left from an earlier swarm: move it away first",
                    storePath(), suffix,
                    error ? "cannot be checked (" + error.message() + ")" : "exists");
    }
  }

  // From here on files exist: remove them again unless the init completes.
  Rollback removeStore([this] {
    if (auto removed = removeStoreFiles(); !removed) {
      spdlog::error("swarm init rollback: {}", removed.error().message);
    }
  });
  auto opened = ManagerRole::open(storePath(), clock_);
  if (!opened) {
    return std::unexpected(opened.error().withContext("swarm init"));
  }
  auto initialised = (*opened)->clusters().init(request, self);
  if (!initialised) {
    (*opened)->stop();
    return std::unexpected(initialised.error());
  }
  NodeState state{initialised->node.id, "manager", initialised->cluster.id, *address,
                  self.managerAddress, "", initialised->cluster.memberSecret};
  if (auto committed = commitMembership(state, std::move(*opened), "swarm init"); !committed) {
    return std::unexpected(committed.error());
  }
  removeStore.dismiss();
  spdlog::info("swarm initialised cluster={} node={} advertise={}", initialised->cluster.id,
               initialised->node.id, *address);
  return initialised->cluster;
}

// The call to the manager runs without roleMutex_ (a manager that does not answer must
// not block `overmesh info`); beginMembershipChange() keeps a second init or join out
// meanwhile. Local checks come before the call, so most failures leave nothing on the
// manager either; a failure after it (node port taken meanwhile, node.json not
// writable) undoes the local steps and asks the manager to forget the node.
Status Daemon::swarmJoin(const SwarmJoinRequest& request) {
  auto current = beginMembershipChange("swarm join");
  if (!current) {
    return std::unexpected(current.error());
  }
  Rollback endChange([this] { endMembershipChange(); });
  if (*current) {
    return errorf(ErrorKind::FailedPrecondition,
                  "swarm join: this node is already part of a swarm (role {}); run `overmesh "
                  "swarm leave` first",
                  (*current)->role);
  }
  if (request.token.empty()) {
    return errorf(ErrorKind::InvalidArgument,
                  "swarm join: --token is required; get it with `overmesh swarm join-token "
                  "worker` on a manager");
  }
  auto endpoint = managerEndpoint(request.remoteAddress, options_.clusterPort);
  if (!endpoint) {
    return std::unexpected(endpoint.error().withContext("swarm join"));
  }
  auto address = chooseAdvertiseAddress(request.advertiseAddr);
  if (!address) {
    return std::unexpected(address.error().withContext("swarm join"));
  }
  if (auto free = probeTcpPort(*address, options_.nodePort, "--node-port"); !free) {
    return std::unexpected(free.error().withContext("swarm join"));
  }
  auto client = api::HttpClient::create("tcp://" + *endpoint);
  if (!client) {
    return std::unexpected(client.error().withContext("swarm join"));
  }
  nlohmann::json body = {{"token", request.token},
                         {"hostname", hostname()},
                         {"address", *address},
                         {"underlayPrefix", underlayPrefixOf(*address)},
                         {"gatewaySubnet", options_.gatewaySubnet}};
  auto response =
      (*client)->request("POST", api::kJoinPath, dumpJson(body), std::chrono::seconds(10));
  if (!response) {
    return errorf(ErrorKind::Unavailable, "swarm join: cannot reach the manager at {}: {}",
                  *endpoint, response.error().message);
  }
  if (!api::isSuccess(*response)) {
    return std::unexpected(api::errorFromResponse(*response));
  }
  NodeState state;
  auto read = decodeFields(response->body, "join answer", [&state](const nlohmann::json& json) {
    // Read in place: copying a hostile, deeply nested "node" value would recurse.
    auto node = json.find("node");
    if (node == json.end() || !node->is_object()) {
      throw JsonFieldError("field \"node\" is missing or not an object");
    }
    requireField(*node, "id", state.nodeId);
    requireField(json, "clusterId", state.clusterId);
    requireField(json, "nodeSecret", state.nodeSecret);
    requireField(json, "memberSecret", state.memberSecret);
  });
  if (!read) {
    return errorf(ErrorKind::Unavailable,
                  "swarm join: the manager at {} answered with something that is not a join "
                  "answer ({}); is it an overmesh manager of the same version? Nothing was "
                  "changed on this node",
                  *endpoint, read.error().message);
  }
  state.role = "worker";
  state.advertiseAddress = *address;
  state.managerAddress = *endpoint;

  // The manager has admitted the node: undo that too unless the join completes.
  Rollback forget([&state] {
    if (auto problem = leaveOnManager(state.managerAddress, state.nodeId, state.nodeSecret);
        !problem.empty()) {
      spdlog::error("swarm join rollback: the manager at {} did not forget node {} ({}); it "
                    "shows the node as down until it is removed",
                    state.managerAddress, state.nodeId, problem);
    }
  });
  if (auto committed = commitMembership(state, nullptr, "swarm join"); !committed) {
    return committed;
  }
  forget.dismiss();
  spdlog::info("joined swarm cluster={} node={} manager={}", state.clusterId, state.nodeId,
               state.managerAddress);
  return {};
}

// Order: the manager's confirmation (a worker), then node.json (so a failure there leaves
// the node in the swarm, as it was), then the roles, then the store files.
Status Daemon::swarmLeave(bool force) {
  auto current = beginMembershipChange("swarm leave");
  if (!current) {
    return std::unexpected(current.error());
  }
  Rollback endChange([this] { endMembershipChange(); });
  if (!*current) {
    return std::unexpected(notInSwarm());
  }
  const NodeState node = **current;
  if (node.role == "manager" && !force) {
    return errorf(ErrorKind::FailedPrecondition,
                  "swarm leave: this node is the swarm's manager; leaving destroys the swarm's "
                  "state. Use `overmesh swarm leave --force` to do it anyway");
  }
  if (node.role == "worker") {
    std::string problem = leaveOnManager(node.managerAddress, node.nodeId, node.nodeSecret);
    if (!problem.empty() && !force) {
      return errorf(ErrorKind::Unavailable,
                    "swarm leave: the manager at {} did not confirm ({}); the node stays in the "
                    "swarm. Use --force to leave anyway (the manager then shows it as down)",
                    node.managerAddress, problem);
    }
  }
  if (auto removed = removeNodeState(options_.stateDir); !removed) {
    return std::unexpected(removed.error().withContext(
        "swarm leave: the node stays in the swarm on this side"));
  }
  Roles roles;
  {
    std::unique_lock lock(roleMutex_);
    node_.reset();
    roles.manager = std::move(manager_);
    roles.agent = std::move(agent_);
    roles.nodeServer = std::move(nodeServer_);
  }
  shutDown(std::move(roles));
  // A node out of the swarm must not go on forwarding published ports into an overlay it
  // no longer follows (its agent stopped; nothing else would remove the table).
  if (auto nft = dataplane::kernel::Nftables::open(""); !nft) {
    spdlog::warn("swarm leave: routing mesh: {}", nft.error().message);
  } else if (auto removed = nft->deleteTableIfExists(dataplane::kMeshFamily, dataplane::kMeshTable);
             !removed) {
    spdlog::warn("swarm leave: routing mesh: {}", removed.error().message);
  }
  spdlog::info("left the swarm");
  if (node.role == "manager") {
    if (auto removed = removeStoreFiles(); !removed) {
      return std::unexpected(removed.error().withContext(
          "swarm leave: the node left the swarm, but before the next `swarm init`"));
    }
  }
  return {};
}

Result<std::string> Daemon::workerJoinToken() {
  std::shared_lock lock(roleMutex_);
  if (!manager_) {
    return errorf(ErrorKind::FailedPrecondition,
                  "this node is not a swarm manager: run the command on the manager{}",
                  node_ ? " (" + node_->managerAddress + ")" : "");
  }
  auto cluster = manager_->clusters().cluster();
  if (!cluster) {
    return std::unexpected(cluster.error());
  }
  return cluster->workerJoinToken;
}

Result<api::RegistrySettings> Daemon::swarmUpdate(const api::SwarmUpdateRequest& request) {
  std::shared_lock lock(roleMutex_);
  if (!manager_) {
    return std::unexpected(notInSwarm());
  }
  auto settings = manager_->clusters().updateRegistries(request);
  if (settings) {
    spdlog::info("swarm updated insecure-registries=[{}] registry-mirrors=[{}]",
                 fmt::join(settings->insecureRegistries, ","),
                 fmt::join(settings->registryMirrors, ","));
  }
  return settings;
}

bool Daemon::isWorker() {
  std::shared_lock lock(roleMutex_);
  return node_ && node_->role == "worker";
}

api::HttpResponse Daemon::forwardToManager(const api::HttpRequest& request) {
  std::optional<NodeState> node;
  {
    std::shared_lock lock(roleMutex_);
    node = node_;
  }
  if (!node) {
    return api::errorResponse(notInSwarm());
  }
  auto client = api::HttpClient::create("tcp://" + node->managerAddress);
  if (!client) {
    return api::errorResponse(client.error());
  }
  std::string path = request.path;
  char separator = '?';
  for (const auto& [name, value] : request.query) {
    path += separator + api::percentEncode(name) + "=" + api::percentEncode(value);
    separator = '&';
  }
  // A stack deploy pins every image (registry I/O per image) and a stack rm waits up to
  // 30 s for tasks to stop before it removes the networks: they get longer.
  auto timeout = request.path.starts_with("/v1/stacks/") ? std::chrono::seconds(180)
                                                         : std::chrono::seconds(30);
  auto response = (*client)->request(request.method, path, request.body, timeout,
                                     agent::credentialHeaders({node->nodeId, node->nodeSecret}));
  if (!response) {
    // Only a failed connect proves the manager saw nothing; after a timeout it may have.
    bool connected = (*client)->lastFailure() != api::HttpClient::Failure::Connect;
    return api::errorResponse(Error{
        ErrorKind::Unavailable,
        connected ? fmt::format("this worker forwards changes to the manager at {}, which did "
                                "not answer ({}); check with a read command whether the "
                                "change was made",
                                node->managerAddress, response.error().message)
                  : fmt::format("this worker forwards changes to the manager at {}, which "
                                "cannot be reached ({}); nothing was changed",
                                node->managerAddress, response.error().message)});
  }
  return *response;
}

Result<const agent::StateCache*> Daemon::workerCache() {
  if (!agent_) {
    return std::unexpected(notInSwarm());
  }
  if (!agent_->cache().synced()) {
    return errorf(ErrorKind::Unavailable,
                  "this worker has not received the swarm's state from its manager at {} yet: {}",
                  node_ ? node_->managerAddress : "?", agent_->problem());
  }
  return &agent_->cache();
}

Result<api::Network> Daemon::createNetwork(const api::NetworkCreateRequest& request) {
  std::shared_lock lock(roleMutex_);
  if (!manager_) {
    return std::unexpected(notInSwarm());
  }
  auto network = manager_->networks().create(request);
  if (network) {
    spdlog::info("network created name={} id={} subnet={} vni={}", network->name, network->id,
                 network->subnet, network->vni);
  }
  return network;
}

Result<std::vector<api::Network>> Daemon::listNetworks() {
  std::shared_lock lock(roleMutex_);
  if (manager_) {
    return manager_->networks().list();
  }
  auto cache = workerCache();
  if (!cache) {
    return std::unexpected(cache.error());
  }
  return (*cache)->networks();
}

Result<api::Network> Daemon::inspectNetwork(const std::string& reference) {
  std::shared_lock lock(roleMutex_);
  if (manager_) {
    return manager_->networks().inspect(reference);
  }
  auto cache = workerCache();
  if (!cache) {
    return std::unexpected(cache.error());
  }
  return lookup("network", (*cache)->networks(), reference,
                [](const api::Network& n) { return n.name; });
}

Result<api::Network> Daemon::removeNetwork(const std::string& reference) {
  std::shared_lock lock(roleMutex_);
  if (!manager_) {
    return std::unexpected(notInSwarm());
  }
  auto network = manager_->networks().remove(reference);
  if (network) {
    spdlog::info("network removed name={} id={}", network->name, network->id);
  }
  return network;
}

Result<api::NetworkDetail> Daemon::inspectNetworkDetail(const std::string& reference) {
  std::shared_lock lock(roleMutex_);
  if (manager_) {
    return manager_->networks().inspectDetail(reference);
  }
  auto cache = workerCache();
  if (!cache) {
    return std::unexpected(cache.error());
  }
  auto network = lookup("network", (*cache)->networks(), reference,
                        [](const api::Network& n) { return n.name; });
  if (!network) {
    return std::unexpected(network.error());
  }
  return manager::describeNetwork(*network, (*cache)->services(), (*cache)->tasks());
}

// The image resolution inside runs skopeo for up to its timeout per registry under the
// shared role lock: it holds off only membership changes (init, join, leave), never reads.
Result<manager::ServiceWrite> Daemon::createService(const api::ServiceSpec& spec,
                                                    const manager::ServiceWriteOptions& options) {
  std::shared_lock lock(roleMutex_);
  if (!manager_) {
    return std::unexpected(notInSwarm());
  }
  auto written = manager_->services().create(spec, options);
  if (written) {
    const api::Service& service = written->service;
    spdlog::info("service created name={} id={} mode={} replicas={} image={}", service.spec.name,
                 service.id, service.spec.mode, service.spec.replicas,
                 service.spec.container.image);
  }
  return written;
}

Result<std::vector<api::Service>> Daemon::listServices() {
  std::shared_lock lock(roleMutex_);
  if (manager_) {
    return manager_->services().list();
  }
  auto cache = workerCache();
  if (!cache) {
    return std::unexpected(cache.error());
  }
  return (*cache)->services();
}

Result<api::Service> Daemon::inspectService(const std::string& reference) {
  {
    std::shared_lock lock(roleMutex_);
    if (manager_) {
      return manager_->services().inspect(reference);
    }
  }
  auto services = listServices();
  if (!services) {
    return std::unexpected(services.error());
  }
  return lookup("service", *services, reference, [](const api::Service& s) { return s.spec.name; });
}

Result<manager::ServiceWrite> Daemon::updateService(const std::string& reference,
                                                    const api::ServiceUpdateRequest& request,
                                                    const manager::ServiceWriteOptions& options) {
  std::shared_lock lock(roleMutex_);
  if (!manager_) {
    return std::unexpected(notInSwarm());
  }
  auto written = manager_->services().update(reference, request, options);
  if (written) {
    const api::Service& service = written->service;
    spdlog::info("service updated name={} id={} version={} image={}", service.spec.name, service.id,
                 service.version, service.spec.container.image);
  }
  return written;
}

Result<api::Service> Daemon::removeService(const std::string& reference) {
  std::shared_lock lock(roleMutex_);
  if (!manager_) {
    return std::unexpected(notInSwarm());
  }
  auto service = manager_->services().remove(reference);
  if (service) {
    spdlog::info("service removed name={} id={}", service->spec.name, service->id);
  }
  return service;
}

Result<api::StackDeployReply> Daemon::deployStack(const api::StackDeployRequest& request) {
  std::shared_lock lock(roleMutex_);
  if (!manager_) {
    return std::unexpected(notInSwarm());
  }
  return manager_->stacks().deploy(request);
}

Result<std::vector<api::StackSummary>> Daemon::listStacks() {
  {
    std::shared_lock lock(roleMutex_);
    if (manager_) {
      return manager_->stacks().list();
    }
  }
  auto services = listServices();
  if (!services) {
    return std::unexpected(services.error());
  }
  auto networks = listNetworks();
  if (!networks) {
    return std::unexpected(networks.error());
  }
  return manager::summarizeStacks(*services, *networks);
}

Result<api::StackRemoveReply> Daemon::removeStack(const std::string& stack) {
  std::shared_lock lock(roleMutex_);
  if (!manager_) {
    return std::unexpected(notInSwarm());
  }
  return manager_->stacks().remove(stack);
}

Result<api::Node> Daemon::updateNode(const std::string& reference,
                                     const manager::NodeUpdateRequest& request) {
  std::shared_lock lock(roleMutex_);
  if (!manager_ || manager_->nodes() == nullptr) {
    return std::unexpected(notInSwarm());
  }
  auto node = manager_->nodes()->updateLabels(reference, request);
  if (node) {
    spdlog::info("node updated hostname={} id={} labels={}", node->hostname, node->id,
                 node->labels.size());
  }
  return node;
}

Status Daemon::removeNode(const std::string& reference, bool force) {
  auto node = inspectNode(reference);  // takes the role lock itself
  if (!node) {
    return std::unexpected(node.error());
  }
  std::shared_lock lock(roleMutex_);
  if (!manager_ || manager_->nodes() == nullptr) {
    return std::unexpected(notInSwarm());
  }
  if (node->state != "down" && !force) {
    return errorf(ErrorKind::FailedPrecondition,
                  "node rm: node {} ({}) is {}, not down, and cannot be removed; stop its "
                  "daemon first, or use --force to remove it now (its certificate is refused "
                  "from then on)",
                  node->hostname, node->id, node->state);
  }
  if (auto removed = manager_->nodes()->remove(node->id); !removed) {
    return std::unexpected(removed.error().withContext("node rm"));
  }
  spdlog::info("node removed hostname={} id={} force={}", node->hostname, node->id, force);
  return {};
}

Result<std::vector<api::Node>> Daemon::listNodes() {
  std::shared_lock lock(roleMutex_);
  if (!manager_) {
    auto cache = workerCache();
    if (!cache) {
      return std::unexpected(cache.error());
    }
    return (*cache)->nodes();
  }
  auto range = manager_->store().range(std::string(state::keys::kNodes));
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
  return lookup("node", *nodes, reference, [](const api::Node& n) { return n.hostname; });
}

Result<api::Task> Daemon::runTask(const manager::RunRequest& request) {
  std::shared_lock lock(roleMutex_);
  if (!manager_) {
    return std::unexpected(notInSwarm());
  }
  auto task = manager_->tasks().run(request);
  if (task) {
    spdlog::info("task created name={} id={} node={}", task->name, task->id, task->nodeName);
  }
  return task;
}

Result<std::vector<api::Task>> Daemon::listTasks() {
  std::shared_lock lock(roleMutex_);
  if (manager_) {
    return manager_->tasks().list();
  }
  auto cache = workerCache();
  if (!cache) {
    return std::unexpected(cache.error());
  }
  auto tasks = (*cache)->tasks();
  std::sort(tasks.begin(), tasks.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return tasks;
}

Result<api::Task> Daemon::inspectTask(const std::string& reference) {
  auto tasks = listTasks();
  if (!tasks) {
    return std::unexpected(tasks.error());
  }
  return lookup("task", *tasks, reference, [](const api::Task& t) { return t.name; });
}

Result<api::Task> Daemon::removeTask(const std::string& reference, bool force) {
  std::shared_lock lock(roleMutex_);
  if (!manager_) {
    return std::unexpected(notInSwarm());
  }
  auto task = manager_->tasks().remove(reference, force);
  if (task) {
    spdlog::info("task removed name={} id={}", task->name, task->id);
  }
  return task;
}

Result<std::string> Daemon::nodeAddressOf(const api::Task& task) {
  auto nodes = listNodes();
  if (!nodes) {
    return std::unexpected(nodes.error());
  }
  for (const auto& node : *nodes) {
    if (node.id == task.nodeId) {
      return node.address;
    }
  }
  return errorf(ErrorKind::NotFound, "task {} is placed on node {}, which is no longer in the swarm",
                task.name, task.nodeId);
}

namespace {

// What an exec without a timeout is given: the runtime wants a deadline, and ten years
// is none in practice.
constexpr std::chrono::milliseconds kExecWithoutLimit{10LL * 365 * 24 * 3600 * 1000};

// Calls another node's node API with the members' secret; returns the answer's body.
// timeout 0 = no limit; the call is cut short once `*cancel` is true (the daemon stops).
Result<std::string> callNode(const std::string& address, std::uint16_t port,
                             const std::string& secret, const std::string& method,
                             const std::string& path, const std::string& body,
                             std::chrono::milliseconds timeout, const std::atomic<bool>* cancel) {
  auto client = api::HttpClient::create(fmt::format("tcp://{}:{}", address, port));
  if (!client) {
    return std::unexpected(client.error());
  }
  (*client)->setCancelFlag(cancel);
  auto response = (*client)->request(method, path, body, timeout,
                                     {{api::kMemberSecretHeader, secret}});
  if (!response) {
    return errorf(ErrorKind::Unavailable, "the task's node at {}: {}", address,
                  response.error().message);
  }
  if (!api::isSuccess(*response)) {
    return std::unexpected(api::errorFromResponse(*response));
  }
  return std::move(response->body);
}

}  // namespace

Result<Daemon::TaskLocation> Daemon::locateTask(const std::string& reference) {
  auto task = inspectTask(reference);
  if (!task) {
    return std::unexpected(task.error());
  }
  TaskLocation location{*task, true, "", ""};
  {
    std::shared_lock lock(roleMutex_);
    location.local = node_ && task->nodeId == node_->nodeId;
    location.memberSecret = node_ ? node_->memberSecret : "";
  }
  if (!location.local) {
    auto address = nodeAddressOf(*task);
    if (!address) {
      return std::unexpected(address.error());
    }
    location.nodeAddress = *address;
  }
  return location;
}

Result<runtime::ExecResult> Daemon::execTask(const std::string& reference,
                                             const std::vector<std::string>& argv,
                                             std::chrono::milliseconds timeout) {
  if (argv.empty()) {
    return errorf(ErrorKind::InvalidArgument, "exec: a command is required after --");
  }
  auto where = locateTask(reference);
  if (!where) {
    return std::unexpected(where.error());
  }
  if (where->local) {
    return execLocalTask(where->task.id, argv, timeout);
  }
  // The node runs the command with the same timeout; this call waits that long plus a
  // margin for the node to answer (or without limit when the command has none).
  std::string body = api::encodeExecRequest(api::ExecRequest{argv, timeout});
  auto answer = callNode(where->nodeAddress, options_.nodePort, where->memberSecret, "POST",
                         "/v1/tasks/" + where->task.id + "/exec", body,
                         timeout.count() > 0 ? timeout + std::chrono::seconds(10)
                                             : api::kNoTimeout,
                         &stopping_);
  if (!answer) {
    return std::unexpected(answer.error());
  }
  auto output = api::decodeExecOutput(*answer, fmt::format("exec answer of node {}",
                                                           where->nodeAddress));
  if (!output) {
    return std::unexpected(Error{ErrorKind::Internal, output.error().message});
  }
  return runtime::ExecResult{static_cast<int>(output->exitCode), std::move(output->out),
                             std::move(output->err), output->timedOut};
}

Result<std::string> Daemon::taskLogs(const std::string& reference) {
  auto where = locateTask(reference);
  if (!where) {
    return std::unexpected(where.error());
  }
  if (where->local) {
    return localTaskLogs(where->task.id);
  }
  auto answer = callNode(where->nodeAddress, options_.nodePort, where->memberSecret, "GET",
                         "/v1/tasks/" + where->task.id + "/logs", "", std::chrono::seconds(30),
                         &stopping_);
  if (!answer) {
    return std::unexpected(answer.error());
  }
  auto logs = api::decodeLogs(*answer, fmt::format("logs answer of node {}", where->nodeAddress));
  if (!logs) {
    return std::unexpected(Error{ErrorKind::Internal, logs.error().message});
  }
  return logs;
}

std::shared_ptr<AgentRole> Daemon::currentAgent() {
  std::shared_lock lock(roleMutex_);
  return agent_;
}

// The role lock is held only to take the agent: the command runs unlocked, so `info`,
// other requests and a `swarm leave` are never stuck behind a long exec. The agent stays
// alive while the command runs because this call holds a reference to it.
Result<runtime::ExecResult> Daemon::execLocalTask(const std::string& taskId,
                                                  const std::vector<std::string>& argv,
                                                  std::chrono::milliseconds timeout) {
  auto agent = currentAgent();
  if (!agent) {
    return std::unexpected(notInSwarm());
  }
  return agent->tasks().exec(taskId, argv, timeout.count() > 0 ? timeout : kExecWithoutLimit);
}

Result<std::string> Daemon::localTaskLogs(const std::string& taskId) {
  auto agent = currentAgent();
  if (!agent) {
    return std::unexpected(notInSwarm());
  }
  return agent->tasks().logs(taskId);
}

bool Daemon::isMemberRequest(const api::HttpRequest& request) {
  std::shared_lock lock(roleMutex_);
  std::string given = request.headerOr("x-overmesh-member-secret", "");
  return node_ && !node_->memberSecret.empty() && constantTimeEquals(given, node_->memberSecret);
}

}  // namespace overmesh::daemon
