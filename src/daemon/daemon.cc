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

#include "agent/manager_client.h"
#include "api/api_error.h"
#include "api/cluster_protocol.h"
#include "api/http_client.h"
#include "api/task_io.h"
#include "common/host_addresses.h"
#include "common/ip.h"
#include "common/json.h"
#include "common/quote.h"
#include "daemon/address_proof.h"
#include "daemon/cert_renewers.h"
#include "daemon/host_cleanup.h"
#include "daemon/local_api.h"
#include "daemon/port_probe.h"
#include "daemon/role_change.h"
#include "daemon/store_flags.h"
#include "daemon/tls_sources.h"
#include "daemon/version.h"
#include "dataplane/linux/host_firewall.h"
#include "dataplane/linux/nftables.h"
#include "dataplane/linux/underlay_filter.h"
#include "dataplane/mesh_rules.h"
#include "dataplane/overlay_plan.h"
#include "manager/cert_expiry.h"
#include "manager/manager_status.h"
#include "manager/network_detail.h"
#include "manager/object_lookup.h"
#include "security/join_token.h"
#include "security/pki.h"
#include "state/keys.h"
#include "store/open_store.h"

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
    auto pki = security::NodePki::load(options.stateDir);
    if (!pki) {
      if (pki.error().kind == ErrorKind::NotFound) {
        return errorf(ErrorKind::FailedPrecondition,
                      "this node's certificates are missing from {}/pki; leave and join again "
                      "(`overmesh swarm leave --force`, then `overmesh swarm join`)",
                      options.stateDir);
      }
      return std::unexpected(pki.error().withContext("resume the swarm membership"));
    }
    auto roles = daemon->launchRoles(**state, nullptr, **pki);
    if (!roles) {
      return std::unexpected(roles.error());
    }
    std::unique_lock lock(daemon->roleMutex_);
    daemon->node_ = *state;
    daemon->pki_ = std::move(*pki);
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
    // A node certificate (of this or any overmesh cluster: subject OU manager|worker with a
    // cluster ID) never opens the local API, even when --tlscacert names the cluster's own
    // CA by mistake: otherwise every worker's certificate would be root on this node.
    auto notANodeCertificate = [](const api::PeerIdentity& peer) {
      bool nodeCertificate =
          !peer.clusterId.empty() && (peer.role == "manager" || peer.role == "worker");
      if (nodeCertificate) {
        spdlog::warn("local API over TCP: refused the node certificate of {} ({}) from {}: "
                     "give operators certificates of a CA of their own",
                     peer.nodeId, peer.role, peer.address);
      }
      return !nodeCertificate;
    };
    auto port = daemon->localServer_.listenTls(
        endpoint->host, endpoint->port,
        {.config = [config] { return config; }, .admit = notANodeCertificate});
    if (!port) {
      return std::unexpected(port.error());
    }
    spdlog::info("local API also on tcp://{}:{} (TLS, client certificates of {})", endpoint->host,
                 *port, options.tcpTls.caCert);
  }
  daemon->roleWatchThread_ = std::thread([raw = daemon.get()] { raw->roleWatchLoop(); });
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
  config.nodePort = options_.nodePort;
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
                                          std::unique_ptr<ManagerRole> manager,
                                          security::NodePki& pki) {
  Roles roles;
  roles.manager = std::move(manager);
  // Whatever fails below, what was started so far is stopped again: no listener or
  // thread outlives a failed start.
  auto fail = [&roles](Error error) -> Result<Roles> {
    shutDown(std::move(roles));
    return std::unexpected(std::move(error));
  };
  // Every member serves the node API (exec and logs of its tasks) to managers: their
  // certificate is the only one its TLS admission lets in.
  roles.nodeServer = std::make_unique<api::HttpServer>();
  registerNodeApi(*roles.nodeServer, *this);
  api::TlsListenOptions nodeTls;
  nodeTls.config = serverConfigSource(credentialsOf(pki));
  nodeTls.admit = [](const api::PeerIdentity& peer) { return peer.role == "manager"; };
  if (auto bound =
          roles.nodeServer->listenTls(node.advertiseAddress, options_.nodePort, std::move(nodeTls));
      !bound) {
    return fail(bound.error().withContext("listen for other nodes (--node-port)"));
  }
  if (node.role != "manager") {
    auto agent = AgentRole::forWorker(
        node.managerAddress,
        clientConfigSource(credentialsOf(pki), std::string(security::kManagerServerName),
                           node.advertiseAddress),
        taskAgentConfig(node), *podman_, *images_);
    if (!agent) {
      return fail(agent.error().withContext("the manager address in node.json"));
    }
    roles.agent = std::move(*agent);
    roles.renewal = std::make_unique<agent::CertRenewalLoop>(
        workerRenewal(pki, roles.agent->managers(), node.advertiseAddress, roles.agent->cache()));
    roles.renewal->start();
    return roles;
  }
  if (!roles.manager) {
    auto opened = ManagerRole::open(node.store, storePath(), clock_);
    if (!opened) {
      return fail(opened.error());
    }
    roles.manager = std::move(*opened);
  }
  auto served = roles.manager->serve(node.nodeId, node.advertiseAddress, options_.clusterPort, pki);
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
  roles.renewal =
      std::make_unique<agent::CertRenewalLoop>(managerRenewal(pki, roles.manager->store()));
  roles.renewal->start();
  return roles;
}

void Daemon::installRoles(Roles roles) {
  manager_ = std::move(roles.manager);
  agent_ = std::move(roles.agent);
  nodeServer_ = std::move(roles.nodeServer);
  renewal_ = std::move(roles.renewal);
}

void Daemon::shutDown(Roles roles) {
  // First: it reads the store and the agent's cache, and may be calling the manager.
  if (roles.renewal) {
    roles.renewal->stop();
  }
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
    roles.renewal = std::move(renewal_);
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
  // A role change in progress is cut short by stopping_ (its calls to managers watch it).
  stopRoleWatch_.stop();
  if (roleWatchThread_.joinable()) {
    roleWatchThread_.join();
  }
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
      info.store = manager_->storeUrl();
      if (const manager::Leadership* leadership = manager_->leadership()) {
        info.isLeader = leadership->isLeader();
        if (auto leader = leadership->leader()) {
          info.leaderAddress = leader->address;
        }
      }
    } else if (agent_ && agent_->cache().synced()) {
      info.registries = agent_->cache().registries();
    }
    if (auto drops = dataplane::kernel::readUnderlayDropCounters(""); drops) {
      info.underlayFilter = api::UnderlayFilterStatus{drops->vxlanPackets, drops->nodePortPackets};
    }
  }
  // The ports this node needs (a node out of a swarm may become a manager: 2377 too), and
  // what of them the host's firewall blocks (read now: rules change under us).
  std::vector<dataplane::NeededPort> published;
  if (agent_ && agent_->cache().synced()) {
    published = dataplane::publishedPorts(agent_->cache().services());
  }
  auto ports = dataplane::neededPorts(!node_ || node_->role == "manager", options_.clusterPort,
                                      options_.nodePort, published);
  for (const auto& port : ports) {
    info.ports.push_back(dataplane::describeNeededPort(port));
  }
  if (auto blocks = dataplane::kernel::inspectHostFirewall("", ports); blocks) {
    for (const auto& block : *blocks) {
      info.firewallBlocks.push_back(dataplane::describeFirewallBlock(block));
    }
  } else {
    info.firewallError = blocks.error().message;
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

// Asks the manager at `managerAddress` to remove this node (the one `tls`'s certificate
// names): at `swarm leave`, and to undo a join that failed on this side. Returns what
// went wrong, empty when it confirmed.
std::string leaveOnManager(const std::string& managerAddress,
                           std::shared_ptr<const api::TlsClientConfig> tls) {
  agent::ManagerClient client("tcp://" + managerAddress, [tls] { return tls; });
  auto answer = client.call("POST", api::kLeavePath, "{}", std::chrono::seconds(10));
  if (!answer) {
    return answer.error().message;
  }
  return {};
}

// Join step 2 (api/cluster_protocol.h): GET kCaPath over a join connection that does
// not check the server (the node has no CA yet). Returns the PEM as sent; the caller
// checks it against the token before it trusts or sends anything. The connection
// leaves from `sourceAddress` (the joining node's advertise address).
Result<std::string> fetchClusterCa(const std::string& managerUrl, const std::string& endpoint,
                                   const std::string& sourceAddress) {
  auto fetch = std::make_shared<api::TlsClientConfig>();
  fetch->sourceAddress = sourceAddress;
  fetch->joinAlpn = true;
  fetch->skipServerVerification = true;
  auto client = api::HttpClient::create(managerUrl, fetch);
  if (!client) {
    return std::unexpected(client.error().withContext("swarm join"));
  }
  auto response = (*client)->request("GET", api::kCaPath, "", std::chrono::seconds(10));
  if (!response) {
    return errorf(ErrorKind::Unavailable, "swarm join: cannot reach the manager at {}: {}",
                  endpoint, response.error().message);
  }
  if (!api::isSuccess(*response)) {
    return std::unexpected(api::errorFromResponse(*response).withContext("swarm join"));
  }
  std::string caPem;
  auto read = decodeFields(response->body, "CA answer", [&caPem](const nlohmann::json& json) {
    requireField(json, "certificate", caPem);
  });
  if (!read || caPem.size() > security::kMaxPemBytes) {
    return errorf(ErrorKind::Unavailable,
                  "swarm join: the manager at {} did not send the cluster's CA certificate ({}); "
                  "is it an overmesh manager of the same version? Nothing was sent",
                  endpoint, read ? "it is too large" : read.error().message);
  }
  // Exactly one CA certificate, re-encoded: the fingerprint below must cover everything
  // this node will trust (an answer "real CA + another CA" would pass a check of the
  // first one and let the other one's certificates in).
  auto single = security::singleCaCertificate(caPem);
  if (!single) {
    return errorf(ErrorKind::Unauthenticated,
                  "swarm join: the manager at {} sent a CA answer this node cannot pin ({}); "
                  "nothing secret was sent",
                  endpoint, single.error().message);
  }
  return *single;
}

// `swarm init --store etcd://…` never takes over another cluster's state: the init's own
// transaction would refuse it too (a compare on the cluster key's absence), this says why.
Status refuseHeldEtcd(store::Store& store, const store::StoreLocation& location) {
  auto record = store.get(std::string(state::keys::kCluster));
  if (!record) {
    return std::unexpected(record.error().withContext("swarm init: read the etcd store"));
  }
  if (!*record) {
    return {};
  }
  auto cluster = decodeJson<api::Cluster>((*record)->value, "cluster record");
  return errorf(ErrorKind::FailedPrecondition,
                "swarm init: etcd at {} already holds cluster {}; use a fresh etcd (or another "
                "key space)",
                location.url(), cluster ? cluster->id : std::string("(unreadable record)"));
}

// Undoes an init on etcd that wrote its records but did not complete: everything under
// the cluster's prefix goes (nobody else can have joined: no token was handed out yet).
Status removeEtcdState(const store::StoreLocation& location, const Clock& clock) {
  auto store = store::openStore(location, "", clock);
  if (!store) {
    return std::unexpected(store.error().withContext(fmt::format(
        "cannot remove this init's records from etcd at {}; delete the prefix {} by hand",
        location.url(), state::keys::kRoot)));
  }
  store::Txn txn;
  txn.success.push_back(store::Operation::delPrefix(std::string(state::keys::kRoot)));
  auto committed = (*store)->txn(txn);
  (*store)->close();
  if (!committed) {
    return std::unexpected(committed.error().withContext(fmt::format(
        "cannot remove this init's records from etcd at {}; delete the prefix {} by hand",
        location.url(), state::keys::kRoot)));
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
                                std::unique_ptr<security::NodePki> pki, std::string_view command) {
  auto roles = launchRoles(state, std::move(manager), *pki);  // stops the manager on failure
  if (!roles) {
    return std::unexpected(roles.error().withContext(std::string(command)));
  }
  // node.json last: once it exists, a restarted daemon resumes this membership.
  if (auto saved = saveNodeState(options_.stateDir, state); !saved) {
    shutDown(std::move(*roles));
    // The agent may have installed the underlay filter already; the node is not a member.
    if (auto removed = dataplane::kernel::removeUnderlayFilter(""); !removed) {
      spdlog::warn("{}: {}", command, removed.error().message);
    }
    return std::unexpected(
        withRollbackProblem(saved.error(), removeNodeState(options_.stateDir))
            .withContext(std::string(command)));
  }
  std::unique_lock lock(roleMutex_);
  node_ = state;
  pki_ = std::move(pki);
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
  // --store and its TLS files first: a bad flag is refused before anything exists.
  auto location = initStoreLocation(request);
  if (!location) {
    return std::unexpected(location.error());
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
  const bool etcd = location->isEtcd();
  for (const char* suffix : {"", "-wal", "-shm"}) {
    if (etcd) {
      break;  // the state is in etcd: a cluster.db left over is not in the way
    }
    std::error_code error;
    bool exists = std::filesystem::exists(storePath() + suffix, error);
    if (error || exists) {
      return errorf(ErrorKind::FailedPrecondition,
                    "swarm init: {}{} {}; it is left from an earlier swarm: move it away first",
                    storePath(), suffix,
                    error ? "cannot be checked (" + error.message() + ")" : "exists");
    }
  }

  // From here on the store exists: SQLite's files are removed again unless the init
  // completes; in etcd, what this init wrote (and only once it wrote it: an etcd holding
  // another cluster is never touched).
  bool wroteEtcd = false;
  Rollback removeStore([this, etcd, &wroteEtcd, location = *location] {
    Status removed =
        etcd ? (wroteEtcd ? removeEtcdState(location, clock_) : Status{}) : removeStoreFiles();
    if (!removed) {
      spdlog::error("swarm init rollback: {}", removed.error().message);
    }
  });
  auto opened = ManagerRole::open(*location, storePath(), clock_);
  if (!opened) {
    return std::unexpected(opened.error().withContext("swarm init"));
  }
  if (etcd) {
    if (auto held = refuseHeldEtcd((*opened)->store(), *location); !held) {
      (*opened)->stop();
      return std::unexpected(held.error());
    }
  }
  api::SwarmInitRequest recorded = request;
  recorded.store = location->url();  // the cluster record names the store, without TLS paths
  auto initialised = (*opened)->clusters().init(recorded, self);
  if (!initialised) {
    (*opened)->stop();
    return std::unexpected(initialised.error());
  }
  wroteEtcd = etcd;
  // The keys the init made (the CA, the manager's own certificate, the join tokens) go
  // to pki/; removed again unless the init completes.
  Rollback removePki([this] {
    if (auto removed = security::NodePki::remove(options_.stateDir); !removed) {
      spdlog::error("swarm init rollback: {}", removed.error().message);
    }
  });
  const manager::InitPki& keys = initialised->pki;
  auto pki = security::NodePki::create(options_.stateDir, keys.ca.certPem, keys.nodeKeyPem,
                                       keys.nodeCertPem);
  Status saved = pki ? Status{} : Status(std::unexpected(pki.error()));
  if (saved) {
    saved = (*pki)->saveCaKey(keys.ca.keyPem);
  }
  // On etcd the clear tokens are in the store (every manager shows them); on SQLite here.
  if (saved && !etcd) {
    saved = (*pki)->saveToken("worker", keys.workerToken);
  }
  if (saved && !etcd) {
    saved = (*pki)->saveToken("manager", keys.managerToken);
  }
  if (!saved) {
    (*opened)->stop();
    return std::unexpected(saved.error().withContext("swarm init: store the cluster's keys"));
  }
  NodeState state;
  state.nodeId = initialised->node.id;
  state.role = "manager";
  state.clusterId = initialised->cluster.id;
  state.advertiseAddress = *address;
  state.managerAddress = self.managerAddress;
  state.store = *location;
  if (auto committed = commitMembership(state, std::move(*opened), std::move(*pki), "swarm init");
      !committed) {
    return std::unexpected(committed.error());
  }
  removePki.dismiss();
  removeStore.dismiss();
  spdlog::info("swarm initialised cluster={} node={} advertise={} store={}",
               initialised->cluster.id, initialised->node.id, *address, location->url());
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
  auto token = security::parseJoinToken(request.token);
  if (!token) {
    return std::unexpected(token.error().withContext("swarm join"));
  }
  auto endpoint = managerEndpoint(request.remoteAddress, options_.clusterPort);
  if (!endpoint) {
    return std::unexpected(endpoint.error().withContext("swarm join"));
  }
  if (auto files = checkStoreTlsFiles(request.storeTls, "swarm join"); !files) {
    return files;
  }
  auto address = chooseAdvertiseAddress(request.advertiseAddr);
  if (!address) {
    return std::unexpected(address.error().withContext("swarm join"));
  }
  if (auto free = probeTcpPort(*address, options_.nodePort, "--node-port"); !free) {
    return std::unexpected(free.error().withContext("swarm join"));
  }
  std::string managerUrl = "tcp://" + *endpoint;

  // Step 2: the CA's certificate, from a manager not checked yet, compared with the
  // token's fingerprint before anything secret is sent (no trust on first use).
  auto caPem = fetchClusterCa(managerUrl, *endpoint, *address);
  if (!caPem) {
    return std::unexpected(caPem.error());
  }
  auto fingerprint = security::certificateFingerprint(*caPem);
  if (!fingerprint) {
    return errorf(ErrorKind::Unauthenticated,
                  "swarm join: the manager at {} sent a CA certificate that cannot be read "
                  "({}); nothing secret was sent",
                  *endpoint, fingerprint.error().message);
  }
  if (*fingerprint != token->caFingerprint) {
    return errorf(ErrorKind::Unauthenticated,
                  "swarm join: the manager at {} presents CA fingerprint {}, the token pins {}: "
                  "it is not the swarm this token was made for (or something is in between). "
                  "Nothing secret was sent; check the address and the token",
                  *endpoint, *fingerprint, token->caFingerprint);
  }

  // Step 3: this node's key (it never leaves the node) and the join over a connection
  // that checks the manager's certificate against that CA.
  auto key = security::generateKey();
  if (!key) {
    return std::unexpected(key.error().withContext("swarm join"));
  }
  auto csr = security::makeCsr(key->privateKeyPem, hostname());
  if (!csr) {
    return std::unexpected(csr.error().withContext("swarm join"));
  }
  nlohmann::json body = {{"token", request.token},
                         {"hostname", hostname()},
                         {"address", *address},
                         {"underlayPrefix", underlayPrefixOf(*address)},
                         {"gatewaySubnet", options_.gatewaySubnet},
                         {"csr", *csr},
                         {"advertiseAddrGiven", request.advertiseAddrGiven}};
  // With --advertise-addr the join may come from another address: the manager then
  // connects back to the advertised one and must read this proof there.
  std::unique_ptr<AddressProofServer> proofServer;
  if (request.advertiseAddrGiven) {
    auto proof = makeAddressProof();
    if (!proof) {
      return std::unexpected(proof.error().withContext("swarm join"));
    }
    auto server = AddressProofServer::start(*address, options_.nodePort, *proof);
    if (!server) {
      return std::unexpected(server.error().withContext("swarm join"));
    }
    proofServer = std::move(*server);
    body["addressProof"] = *proof;
    body["proofPort"] = proofServer->port();
  }
  auto joinTls = std::make_shared<api::TlsClientConfig>();
  joinTls->caPem = *caPem;
  joinTls->serverName = std::string(security::kManagerServerName);
  joinTls->joinAlpn = true;
  // The manager compares the connection's source with the claimed address.
  joinTls->sourceAddress = *address;
  auto client = api::HttpClient::create(managerUrl, joinTls);
  if (!client) {
    return std::unexpected(client.error().withContext("swarm join"));
  }
  auto response = (*client)->request("POST", api::kJoinPath, dumpJson(body),
                                     std::chrono::seconds(10) + api::kAddressProofTimeout);
  proofServer.reset();  // the node port is the node API's from here on
  if (!response) {
    return errorf(ErrorKind::Unavailable, "swarm join: cannot reach the manager at {}: {}",
                  *endpoint, response.error().message);
  }
  if (!api::isSuccess(*response)) {
    return std::unexpected(api::errorFromResponse(*response));
  }
  NodeState state;
  std::string certPem;
  std::string replyCa;
  std::string caKeyPem;  // a manager's join only
  std::string storeUrl;  // a manager's join only
  auto read = decodeFields(response->body, "join answer", [&](const nlohmann::json& json) {
    // Read in place: copying a hostile, deeply nested "node" value would recurse.
    auto node = json.find("node");
    if (node == json.end() || !node->is_object()) {
      throw JsonFieldError("field \"node\" is missing or not an object");
    }
    requireField(*node, "id", state.nodeId);
    state.role = "worker";
    readField(*node, "role", state.role);
    requireField(json, "clusterId", state.clusterId);
    requireField(json, "certificate", certPem);
    requireField(json, "caCertificate", replyCa);
    if (state.role == "manager") {
      requireField(json, "caKey", caKeyPem);
      requireField(json, "store", storeUrl);
    } else if (state.role != "worker") {
      throw JsonFieldError("field \"node.role\" must be worker or manager");
    }
  });
  if (!read) {
    return errorf(ErrorKind::Unavailable,
                  "swarm join: the manager at {} answered with something that is not a join "
                  "answer ({}); is it an overmesh manager of the same version? Nothing was "
                  "changed on this node",
                  *endpoint, read.error().message);
  }
  const bool manager = state.role == "manager";
  state.advertiseAddress = *address;
  // A manager's agent reads its own store, and its join command names itself.
  state.managerAddress = manager ? fmt::format("{}:{}", *address, options_.clusterPort) : *endpoint;
  if (!manager && request.storeTls.any()) {
    spdlog::warn("swarm join: joined as a worker; the --store-* files are not used");
  }

  // Step 4: the certificate is checked before it is stored. The manager has admitted the
  // node from here on: undo that too unless the join completes.
  auto checked =
      replyCa == *caPem
          ? agent::checkIssuedCertificate(key->privateKeyPem, certPem, *caPem, state.nodeId,
                                          state.role, std::chrono::system_clock::now())
          : Result<security::CertificateInfo>(std::unexpected(
                Error{ErrorKind::Unauthenticated,
                      "the join answer names another CA than the one the token pins"}));
  std::shared_ptr<const api::TlsClientConfig> leaveTls;
  if (checked) {
    leaveTls =
        clientConfig(security::NodeCredentials{*caPem, certPem, key->privateKeyPem, *checked},
                     std::string(security::kManagerServerName), *address);
  }
  const std::string joinedManager = *endpoint;
  Rollback forget([&state, &joinedManager, leaveTls] {
    std::string problem = leaveTls ? leaveOnManager(joinedManager, leaveTls)
                                   : "this node has no valid certificate to ask with";
    if (!problem.empty()) {
      spdlog::error(
          "swarm join rollback: the manager at {} did not forget node {} ({}); it "
          "shows the node as down until it is removed",
          joinedManager, state.nodeId, problem);
    }
  });
  if (!checked) {
    return std::unexpected(checked.error().withContext("swarm join"));
  }
  Rollback removePki([this] {
    if (auto removed = security::NodePki::remove(options_.stateDir); !removed) {
      spdlog::error("swarm join rollback: {}", removed.error().message);
    }
  });
  if (manager) {
    auto location = joinedStoreLocation(storeUrl, request.storeTls);
    if (!location) {
      return std::unexpected(location.error().withContext("swarm join"));
    }
    state.store = *location;
    if (auto free = probeTcpPort(*address, options_.clusterPort, "--cluster-port"); !free) {
      return std::unexpected(free.error().withContext("swarm join"));
    }
  }
  auto pki = security::NodePki::create(options_.stateDir, *caPem, key->privateKeyPem, certPem);
  if (!pki) {
    return std::unexpected(pki.error().withContext("swarm join: store the node's certificate"));
  }
  std::unique_ptr<ManagerRole> managerRole;
  if (manager) {
    // saveCaKey checks that it is the key of the CA the token pinned.
    if (auto saved = (*pki)->saveCaKey(caKeyPem); !saved) {
      return std::unexpected(saved.error().withContext("swarm join: store the CA key"));
    }
    auto opened = ManagerRole::open(state.store, storePath(), clock_);
    if (!opened) {
      return std::unexpected(opened.error().withContext("swarm join"));
    }
    managerRole = std::move(*opened);
  }
  if (auto committed =
          commitMembership(state, std::move(managerRole), std::move(*pki), "swarm join");
      !committed) {
    return committed;
  }
  removePki.dismiss();
  forget.dismiss();
  spdlog::info("joined swarm cluster={} node={} role={} manager={} store={}", state.clusterId,
               state.nodeId, state.role, joinedManager, state.store.url());
  return {};
}

// Order: the manager's confirmation (a worker), then node.json (so a failure there leaves
// the node in the swarm, as it was), then the roles, then the store files.
Result<HostCleanupReport> Daemon::swarmLeave(bool force) {
  auto current = beginMembershipChange("swarm leave");
  if (!current) {
    return std::unexpected(current.error());
  }
  Rollback endChange([this] { endMembershipChange(); });
  if (!*current) {
    return std::unexpected(notInSwarm());
  }
  const NodeState node = **current;
  if (node.role == "manager" && node.store.isEtcd()) {
    // One of several managers: the swarm goes on without it. Docker's rule: demote first.
    if (!force) {
      return errorf(ErrorKind::FailedPrecondition,
                    "swarm leave: this node is a manager; demote it first (`overmesh node "
                    "demote {}` on another manager), or use --force to leave anyway",
                    node.nodeId);
    }
    std::shared_lock lock(roleMutex_);
    if (manager_) {
      store::Txn txn;
      txn.success.push_back(store::Operation::del(state::keys::node(node.nodeId)));
      if (auto removed = manager_->store().txn(txn); !removed) {
        spdlog::warn(
            "swarm leave: this manager's record stays in the store ({}); remove it "
            "with `overmesh node rm --force {}` on another manager",
            removed.error().message, node.nodeId);
      }
    }
  } else if (node.role == "manager" && !force) {
    return errorf(ErrorKind::FailedPrecondition,
                  "swarm leave: this node is the swarm's manager; leaving destroys the swarm's "
                  "state. Use `overmesh swarm leave --force` to do it anyway");
  }
  if (node.role == "worker") {
    std::shared_ptr<const api::TlsClientConfig> tls;
    {
      std::shared_lock lock(roleMutex_);
      if (pki_) {
        tls = clientConfig(*pki_->current(), std::string(security::kManagerServerName),
                           node.advertiseAddress);
      }
    }
    std::string problem = tls ? leaveOnManager(node.managerAddress, tls)
                              : std::string("this node has no certificate to ask with");
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
  std::unique_ptr<security::NodePki> pki;
  {
    std::unique_lock lock(roleMutex_);
    node_.reset();
    roles.manager = std::move(manager_);
    roles.agent = std::move(agent_);
    roles.nodeServer = std::move(nodeServer_);
    roles.renewal = std::move(renewal_);
    pki = std::move(pki_);
  }
  shutDown(std::move(roles));
  pki.reset();  // after the roles: they used it until they stopped
  // Everything this node made on the host goes, as Docker's leave does: its tasks, their
  // namespaces and links, the overlay devices, the gateway bridge, the routing mesh and
  // the members-only underlay filter (host_cleanup.h). The agent has stopped, so nothing
  // puts them back; a node out of the swarm must not go on forwarding published ports
  // into an overlay it no longer follows. What cannot be removed is named in the answer.
  NodeCleanupOptions cleanup;
  cleanup.stateDir = options_.stateDir;
  cleanup.shimPath = options_.shimPath;
  cleanup.nodeId = node.nodeId;
  cleanup.names.netnsPrefix = options_.netnsPrefix;
  HostCleanupReport report = cleanNodeHost(cleanup, podman_.get());
  spdlog::info("left the swarm");
  if (auto removed = security::NodePki::remove(options_.stateDir); !removed) {
    return std::unexpected(removed.error().withContext(
        "swarm leave: the node left the swarm, but its keys remain; remove them by hand"));
  }
  if (node.role == "manager" && !node.store.isEtcd()) {
    if (auto removed = removeStoreFiles(); !removed) {
      return std::unexpected(removed.error().withContext(
          "swarm leave: the node left the swarm, but before the next `swarm init`"));
    }
  }
  return report;
}

void Daemon::roleWatchLoop() {
  while (stopRoleWatch_.sleepFor(std::chrono::seconds(1))) {
    if (auto followed = followRoleChange(); !followed) {
      spdlog::error("node role change: {} (tried again in a second)", followed.error().message);
    }
  }
}

Status Daemon::followRoleChange() {
  NodeState node;
  std::string recorded;
  std::vector<std::string> otherManagers;
  {
    std::shared_lock lock(roleMutex_);
    if (!node_ || !agent_ || membershipChanging_ || !agent_->cache().synced()) {
      return {};
    }
    node = *node_;
    for (const auto& member : agent_->cache().nodes()) {
      if (member.id == node.nodeId) {
        recorded = member.role;
      } else if (member.role == "manager" && member.state == "ready") {
        // Every manager listens on the same cluster port in practice (overmeshd's
        // --cluster-port): the lab and the docs give them one.
        otherManagers.push_back(fmt::format("{}:{}", member.address, options_.clusterPort));
      }
    }
  }
  auto transition = decideRoleTransition(node.role, recorded);
  if (transition == RoleTransition::None) {
    return {};
  }
  auto current =
      beginMembershipChange(transition == RoleTransition::Promote ? "node promote" : "node demote");
  if (!current) {
    return {};  // an init, join or leave runs: the next check sees its outcome
  }
  Rollback endChange([this] { endMembershipChange(); });
  if (!*current || (*current)->nodeId != node.nodeId || (*current)->role != node.role) {
    return {};
  }
  spdlog::info("this node's record says {}: it runs as {}; following", recorded, node.role);
  return transition == RoleTransition::Promote ? promoteSelf(node)
                                               : demoteSelf(node, otherManagers);
}

Status Daemon::promoteSelf(const NodeState& node) {
  security::NodePki* keys = nullptr;
  {
    std::shared_lock lock(roleMutex_);
    keys = pki_.get();  // stays: membershipChanging_ keeps a leave out
  }
  if (keys == nullptr) {
    return errorf(ErrorKind::Internal, "node promote: this node has no key material loaded");
  }
  if (auto renewed =
          renewForRole(*keys, node.managerAddress, node.advertiseAddress, "manager", &stopping_);
      !renewed) {
    return std::unexpected(renewed.error().withContext("node promote"));
  }
  auto credentials =
      fetchManagerCredentials(*keys, node.managerAddress, node.advertiseAddress, &stopping_);
  if (!credentials) {
    return std::unexpected(credentials.error().withContext("node promote"));
  }
  auto location = joinedStoreLocation(credentials->storeUrl, options_.storeTls);
  if (!location) {
    return std::unexpected(location.error().withContext("node promote"));
  }
  if (auto saved = keys->saveCaKey(credentials->caKeyPem); !saved) {
    return std::unexpected(saved.error().withContext("node promote: store the CA key"));
  }
  auto removeCaKey = [keys] {
    std::error_code error;
    std::filesystem::remove(keys->directory() + "/ca.key", error);
  };
  Rollback forgetCaKey(removeCaKey);
  auto opened = ManagerRole::open(*location, storePath(), clock_);
  if (!opened) {
    return std::unexpected(opened.error().withContext("node promote"));
  }
  NodeState next = node;
  next.role = "manager";
  next.store = *location;
  next.managerAddress = fmt::format("{}:{}", node.advertiseAddress, options_.clusterPort);
  stopRoles();
  auto roles = launchRoles(next, std::move(*opened), *keys);
  Status saved = roles ? saveNodeState(options_.stateDir, next) : Status{};
  if (!roles || !saved) {
    Error why = !roles ? roles.error() : saved.error();
    if (roles) {
      shutDown(std::move(*roles));
    }
    // Back to the worker it was: its roles again, node.json unchanged.
    if (auto back = launchRoles(node, nullptr, *keys); back) {
      std::unique_lock lock(roleMutex_);
      installRoles(std::move(*back));
    } else {
      why.message +=
          fmt::format(" (and the worker's roles did not start again: {})", back.error().message);
    }
    return std::unexpected(why.withContext("node promote"));
  }
  forgetCaKey.dismiss();
  {
    std::unique_lock lock(roleMutex_);
    node_ = next;
    installRoles(std::move(*roles));
  }
  spdlog::info("promoted: this node is now a manager store={}", location->url());
  return {};
}

Status Daemon::demoteSelf(const NodeState& node, const std::vector<std::string>& managers) {
  security::NodePki* keys = nullptr;
  {
    std::shared_lock lock(roleMutex_);
    keys = pki_.get();
  }
  if (keys == nullptr) {
    return errorf(ErrorKind::Internal, "node demote: this node has no key material loaded");
  }
  // The worker certificate first, from another manager (the record says worker, so that
  // is what it signs); the manager role keeps running until then.
  std::string renewedAt;
  std::vector<std::string> problems;
  for (const auto& manager : managers) {
    auto renewed = renewForRole(*keys, manager, node.advertiseAddress, "worker", &stopping_);
    if (renewed) {
      renewedAt = manager;
      break;
    }
    problems.push_back(fmt::format("{}: {}", manager, renewed.error().message));
  }
  if (renewedAt.empty()) {
    return errorf(ErrorKind::Unavailable,
                  "node demote: no other manager renewed this node's certificate as a worker "
                  "({})",
                  managers.empty() ? std::string("none is ready")
                                   : fmt::format("{}", fmt::join(problems, "; ")));
  }
  NodeState next = node;
  next.role = "worker";
  next.store = {};
  next.managerAddress = renewedAt;
  stopRoles();
  std::error_code error;
  std::filesystem::remove(keys->directory() + "/ca.key", error);
  if (error) {
    spdlog::error("node demote: cannot delete {}/ca.key ({}); delete it by hand", keys->directory(),
                  error.message());
  }
  auto roles = launchRoles(next, nullptr, *keys);
  if (!roles) {
    return std::unexpected(roles.error().withContext(
        "node demote: the manager role stopped, but the worker's did not start; restart "
        "overmeshd"));
  }
  if (auto saved = saveNodeState(options_.stateDir, next); !saved) {
    spdlog::error(
        "node demote: node.json still says manager ({}); a restart would fail to "
        "serve as one",
        saved.error().message);
  }
  {
    std::unique_lock lock(roleMutex_);
    node_ = next;
    installRoles(std::move(*roles));
  }
  spdlog::info("demoted: this node is now a worker of the manager at {}", renewedAt);
  return {};
}

security::NodePki* Daemon::pki() { return pki_.get(); }

Result<std::string> Daemon::joinToken(std::string_view role, bool rotate) {
  std::shared_lock lock(roleMutex_);
  if (!manager_) {
    if (node_) {
      return errorf(ErrorKind::FailedPrecondition, "{}", api::kNotAManagerMessage);
    }
    return std::unexpected(notInSwarm());
  }
  security::NodePki* keys = pki();
  if (keys == nullptr) {
    return errorf(ErrorKind::Unavailable,
                  "swarm join-token: this manager's key material (pki/ in {}) is not loaded",
                  options_.stateDir);
  }
  if (!rotate) {
    return manager_->clusters().joinToken(role, *keys);
  }
  auto token = manager_->clusters().rotateJoinToken(role, *keys);
  if (token) {
    spdlog::info("join token rotated role={}", role);
  }
  return token;
}

Result<api::RegistrySettings> Daemon::swarmUpdate(const api::SwarmUpdateRequest& request) {
  std::shared_lock lock(roleMutex_);
  if (!manager_) {
    if (node_) {
      return errorf(ErrorKind::FailedPrecondition, "{}", api::kNotAManagerMessage);
    }
    return std::unexpected(notInSwarm());
  }
  // Every flag is checked before anything is written: a bad --cert-expiry must not leave
  // the registry lists changed.
  if (request.certExpiryMs) {
    if (auto valid = manager::checkCertExpiry(*request.certExpiryMs, "--cert-expiry"); !valid) {
      return std::unexpected(valid.error().withContext("swarm update"));
    }
  }
  bool registries = request.insecureRegistries || request.registryMirrors;
  auto settings = registries ? manager_->clusters().updateRegistries(request)
                             : manager_->clusters().registries();
  if (!settings) {
    return settings;
  }
  if (registries) {
    spdlog::info("swarm updated insecure-registries=[{}] registry-mirrors=[{}]",
                 fmt::join(settings->insecureRegistries, ","),
                 fmt::join(settings->registryMirrors, ","));
  }
  if (request.certExpiryMs) {
    auto expiry = manager_->clusters().updateCertExpiry(*request.certExpiryMs);
    if (!expiry) {
      return std::unexpected(expiry.error());
    }
    spdlog::info("swarm updated cert-expiry-ms={}", *expiry);
  }
  return settings;
}

bool Daemon::isWorker() {
  std::shared_lock lock(roleMutex_);
  return node_ && node_->role == "worker";
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

Result<manager::RoleChange> Daemon::setNodeRole(const std::string& reference,
                                                std::string_view role) {
  std::shared_lock lock(roleMutex_);
  if (!manager_ || manager_->nodes() == nullptr) {
    if (node_) {
      return errorf(ErrorKind::FailedPrecondition, "{}", api::kNotAManagerMessage);
    }
    return std::unexpected(notInSwarm());
  }
  return manager_->nodes()->setRole(reference, role);
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
  // Computed, never stored: who leads as this manager's election knows it. A worker's
  // cache has no leader key (it is not in the agent view), so its answer leaves it empty.
  std::string leaderNodeId;
  if (const manager::Leadership* leadership = manager_->leadership()) {
    if (auto leader = leadership->leader()) {
      leaderNodeId = leader->nodeId;
    }
  }
  manager::fillManagerStatus(nodes, leaderNodeId);
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

// Calls another node's node API over mutual TLS (`tls`: this manager's certificate, and
// the node's ID as the name its certificate must carry); returns the answer's body.
// timeout 0 = no limit; the call is cut short once `*cancel` is true (the daemon stops).
Result<std::string> callNode(const std::string& address, std::uint16_t port,
                             std::shared_ptr<const api::TlsClientConfig> tls,
                             const std::string& method, const std::string& path,
                             const std::string& body, std::chrono::milliseconds timeout,
                             const std::atomic<bool>* cancel) {
  auto client = api::HttpClient::create(fmt::format("tcp://{}:{}", address, port), std::move(tls));
  if (!client) {
    return std::unexpected(client.error());
  }
  (*client)->setCancelFlag(cancel);
  auto response = (*client)->request(method, path, body, timeout);
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
  TaskLocation location{*task, true, "", nullptr};
  bool manager = false;
  {
    std::shared_lock lock(roleMutex_);
    location.local = node_ && task->nodeId == node_->nodeId;
    manager = manager_ != nullptr;
    if (!location.local && manager && pki_) {
      // From the manager's advertise address: the node's underlay filter admits only it.
      location.client = clientConfig(*pki_->current(), task->nodeId,
                                     node_ ? node_->advertiseAddress : std::string());
    }
  }
  if (!location.local) {
    // A node's node port admits manager certificates only: a worker cannot reach it.
    if (!manager || !location.client) {
      return errorf(ErrorKind::FailedPrecondition,
                    "task {} runs on node {} ({}): run the command there or on a manager node",
                    task->name, task->nodeId, task->nodeName);
    }
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
  auto answer = callNode(where->nodeAddress, options_.nodePort, where->client, "POST",
                         "/v1/tasks/" + where->task.id + "/exec", body,
                         timeout.count() > 0 ? timeout + std::chrono::seconds(10) : api::kNoTimeout,
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
  auto answer =
      callNode(where->nodeAddress, options_.nodePort, where->client, "GET",
               "/v1/tasks/" + where->task.id + "/logs", "", std::chrono::seconds(30), &stopping_);
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

}  // namespace overmesh::daemon
