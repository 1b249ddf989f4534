#include "manager/node_manager.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <span>

#include "common/ids.h"
#include "common/ip.h"
#include "common/json.h"
#include "common/quote.h"
#include "common/secret_hash.h"
#include "manager/address_allocation.h"
#include "manager/cert_expiry.h"
#include "manager/cluster_record.h"
#include "manager/ingress_network.h"
#include "manager/join_tokens.h"
#include "manager/network_rules.h"
#include "manager/object_lookup.h"
#include "manager/service_validation.h"
#include "manager/store_records.h"
#include "security/join_token.h"
#include "state/keys.h"

namespace overmesh::manager {

namespace {

// Every node record with its mod revision (for a compare), and the index of the one
// `reference` names: what an update of one node record reads before its txn.
struct NodeRecords {
  std::vector<std::pair<api::Node, store::Revision>> nodes;
  std::size_t index = 0;
};

Result<NodeRecords> readNodeRecords(store::Store& store, const std::string& reference) {
  auto range = store.range(std::string(state::keys::kNodes));
  if (!range) {
    return std::unexpected(range.error());
  }
  NodeRecords records;
  std::vector<NamedObject> named;
  for (const auto& kv : range->kvs) {
    auto node = decodeJson<api::Node>(kv.value, kv.key);
    if (!node) {
      return errorf(ErrorKind::Internal, "corrupt node record: {}", node.error().message);
    }
    named.push_back({node->id, node->hostname});
    records.nodes.emplace_back(std::move(*node), kv.modRevision);
  }
  auto index = findByReference("node", named, reference);
  if (!index) {
    return std::unexpected(index.error());
  }
  records.index = *index;
  return records;
}

}  // namespace

NodeManager::NodeManager(store::Store& store, const Clock& clock, std::string selfNodeId)
    : store_(store), clock_(clock), selfNodeId_(std::move(selfNodeId)), livenessStore_(&store) {}

Status NodeManager::load() {
  auto cluster = readCluster(store_);
  if (!cluster) {
    return std::unexpected(cluster.error());
  }
  auto nodes = store_.range(std::string(state::keys::kNodes));
  if (!nodes) {
    return std::unexpected(nodes.error());
  }
  std::lock_guard lock(mutex_);
  clusterId_ = cluster->id;
  nodeTimeout_ = std::chrono::milliseconds(cluster->nodeTimeoutMs);
  nodes_.clear();
  auto now = clock_.now();
  for (const auto& kv : nodes->kvs) {
    auto node = decodeJson<api::Node>(kv.value, kv.key);
    if (!node) {
      return errorf(ErrorKind::Internal, "corrupt node record: {}", node.error().message);
    }
    nodes_[node->id] = TrackedNode{node->hostname, node->state, node->role, now, node->address};
  }
  followFrom_ = nodes->revision + 1;
  return {};
}

Status NodeManager::resync(std::vector<std::string>& removed) {
  auto nodes = store_.range(std::string(state::keys::kNodes));
  if (!nodes) {
    return std::unexpected(nodes.error());
  }
  std::unordered_map<std::string, TrackedNode> fresh;
  auto now = clock_.now();
  for (const auto& kv : nodes->kvs) {
    auto node = decodeJson<api::Node>(kv.value, kv.key);
    if (!node) {
      spdlog::error("corrupt node record {}: {}", kv.key, node.error().message);
      continue;
    }
    fresh[node->id] = TrackedNode{node->hostname, node->state, node->role, now, node->address};
  }
  std::lock_guard lock(mutex_);
  for (auto& [nodeId, node] : fresh) {
    if (auto known = nodes_.find(nodeId); known != nodes_.end()) {
      node.lastSeen = known->second.lastSeen;
    }
  }
  for (const auto& [nodeId, node] : nodes_) {
    if (!fresh.contains(nodeId)) {
      removed.push_back(nodeId);
    }
  }
  nodes_ = std::move(fresh);
  followFrom_ = nodes->revision + 1;
  return {};
}

Status NodeManager::followStore(std::chrono::milliseconds wait) {
  store::Revision from = 0;
  {
    std::lock_guard lock(mutex_);
    from = followFrom_;
  }
  std::vector<std::string> removed;
  Status outcome;
  if (from == 0) {
    outcome = resync(removed);  // never loaded
  } else if (auto batch = store_.watch(std::string(state::keys::kNodes), from, wait); !batch) {
    if (batch.error().kind != ErrorKind::Compacted) {
      return std::unexpected(batch.error());
    }
    spdlog::info("node records: history compacted at revision {}; reloading them", from);
    outcome = resync(removed);
  } else {
    std::lock_guard lock(mutex_);
    auto now = clock_.now();
    for (const auto& event : batch->events) {
      // A load() meanwhile already holds everything up to followFrom_.
      if (event.kv.modRevision < followFrom_ || !event.kv.key.starts_with(state::keys::kNodes)) {
        continue;
      }
      std::string nodeId = event.kv.key.substr(state::keys::kNodes.size());
      if (event.type == store::Event::Type::Delete) {
        if (nodes_.erase(nodeId) > 0) {
          removed.push_back(nodeId);
        }
        continue;
      }
      if (auto gone = removedAt_.find(nodeId);
          gone != removedAt_.end() && event.kv.modRevision < gone->second) {
        continue;
      }
      auto node = decodeJson<api::Node>(event.kv.value, event.kv.key);
      if (!node) {
        outcome = errorf(ErrorKind::Internal, "corrupt node record: {}", node.error().message);
        continue;
      }
      auto [it, added] = nodes_.try_emplace(
          nodeId, TrackedNode{node->hostname, node->state, node->role, now, node->address});
      if (!added) {
        it->second.hostname = node->hostname;
        it->second.state = node->state;
        if (it->second.role != node->role) {
          // A promote/demote made on another manager: the node's certificate still names
          // the old role until it renews, and it must be admitted to renew.
          it->second.formerRole = it->second.role;
        }
        it->second.role = node->role;
        it->second.address = node->address;
      }
    }
    followFrom_ = std::max(followFrom_, batch->nextRevision);
    std::erase_if(removedAt_, [this](const auto& gone) { return gone.second < followFrom_; });
  }
  // Outside the lock: the listener closes connections. A node this manager removed
  // itself is already gone from the table, so it is not announced twice.
  for (const auto& nodeId : removed) {
    spdlog::info("node left id={} (seen in the store)", nodeId);
    if (removalListener_) {
      removalListener_(nodeId);
    }
  }
  return outcome;
}

std::vector<ManagerEndpoint> NodeManager::managers() {
  std::lock_guard lock(mutex_);
  std::vector<ManagerEndpoint> managers;
  for (const auto& [nodeId, node] : nodes_) {
    if (node.role == "manager") {
      managers.push_back({nodeId, node.address});
    }
  }
  std::sort(managers.begin(), managers.end(),
            [](const ManagerEndpoint& a, const ManagerEndpoint& b) { return a.nodeId < b.nodeId; });
  return managers;
}

Result<std::vector<ipam::ExistingNetwork>> NodeManager::existingNetworks(
    const std::vector<api::Network>& networks) {
  std::vector<ipam::ExistingNetwork> existing;
  for (const auto& network : networks) {
    auto subnet = Ipv4Prefix::parse(network.subnet);
    if (!subnet) {
      return errorf(ErrorKind::Internal, "network {} has a corrupt subnet {}", network.name,
                    network.subnet);
    }
    existing.push_back({network.name, *subnet, network.vni});
  }
  return existing;
}

Result<NodeManager::IngressGrant> NodeManager::ingressAddressFor(const api::Network& ingress) {
  // The guard before what it protects: a task or node that takes an address after this
  // read moves it, and the join's compare fails.
  auto guard = guardRevision(store_, state::keys::networkAttachmentGuard(ingress.id));
  if (!guard) {
    return std::unexpected(guard.error());
  }
  auto tasks = readValues<api::Task>(store_, state::keys::kTasks);
  if (!tasks) {
    return std::unexpected(tasks.error());
  }
  auto services = readValues<api::Service>(store_, state::keys::kServices);
  if (!services) {
    return std::unexpected(services.error());
  }
  auto nodes = readValues<api::Node>(store_, state::keys::kNodes);
  if (!nodes) {
    return std::unexpected(nodes.error());
  }
  auto used = usedAddresses(ingress, *tasks, *services, *nodes);
  auto address = allocateAddress(ingress, used);
  if (!address) {
    return std::unexpected(address.error().withContext("ingress address"));
  }
  return IngressGrant{*address, *guard};
}

Result<JoinResult> NodeManager::join(const JoinRequest& request, const security::CaMaterial& ca,
                                     AddressProver* prover) {
  if (request.hostname.empty() || request.address.empty()) {
    return errorf(ErrorKind::InvalidArgument, "swarm join: the node's hostname and address are "
                                              "required");
  }
  if (auto ip = Ipv4Address::parse(request.address); !ip) {
    return errorf(ErrorKind::InvalidArgument,
                  "swarm join: field \"address\" {} is not valid: expected the node's IPv4 "
                  "address (dotted quad)",
                  quote(request.address, 80));
  }
  auto token = security::parseJoinToken(request.token);
  if (!token) {
    return std::unexpected(token.error().withContext("swarm join"));
  }
  if (request.csr.empty()) {
    return errorf(ErrorKind::InvalidArgument,
                  "swarm join: field \"csr\" is required (a PEM certificate signing request "
                  "made with the node's key); is the node an overmesh of the same version?");
  }
  // Read at each join, not cached: a rotation or a `swarm update --cert-expiry` on this
  // manager takes effect for the very next join.
  auto cluster = readCluster(store_);
  if (!cluster) {
    return std::unexpected(cluster.error().withContext("swarm join"));
  }
  auto hashes = readJoinTokenHashes(store_);
  if (!hashes) {
    return std::unexpected(hashes.error().withContext("swarm join"));
  }
  const bool sharedStore = isSharedStore(cluster->store);
  auto role = matchJoinToken(*token, cluster->caFingerprint, *hashes, sharedStore);
  if (!role) {
    return std::unexpected(role.error().withContext("swarm join"));
  }
  if (auto where = checkJoinAddress(request, prover); !where) {
    return std::unexpected(where.error());
  }
  api::Node node;
  node.id = newObjectId();
  node.hostname = request.hostname;
  node.address = request.address;
  node.role = *role;
  node.state = "ready";
  node.createdAt = nowRfc3339();
  node.underlayPrefix = request.underlayPrefix;
  node.gatewaySubnet = request.gatewaySubnet;
  auto certificate =
      security::signNodeCertificate(ca, request.csr, {node.id, node.role, cluster->id},
                                    certValidity(*cluster), std::chrono::system_clock::now());
  if (!certificate) {
    return std::unexpected(certificate.error().withContext("swarm join: field \"csr\""));
  }

  // A network created while we check would escape the check: read the allocation guard
  // first, write it with the node, and retry when a create moved it in between.
  constexpr int kMaxAttempts = 8;
  bool admitted = false;
  for (int attempt = 0; attempt < kMaxAttempts && !admitted; ++attempt) {
    auto guard = store_.get(std::string(state::keys::kNetworkAllocationGuard));
    if (!guard) {
      return std::unexpected(guard.error().withContext("swarm join"));
    }
    store::Revision guardRevision = *guard ? (*guard)->modRevision : 0;
    auto networkList = readValues<api::Network>(store_, state::keys::kNetworks);
    if (!networkList) {
      return std::unexpected(networkList.error().withContext("swarm join"));
    }
    auto networks = existingNetworks(*networkList);
    if (!networks) {
      return std::unexpected(networks.error().withContext("swarm join"));
    }
    if (auto fits = checkJoiningNode(request.underlayPrefix, request.address,
                                     request.gatewaySubnet, *networks);
        !fits) {
      return std::unexpected(fits.error().withContext("swarm join"));
    }
    store::Txn txn;
    // The node's address on the ingress network, when there is one (created or removed
    // in between: the allocation guard compared below moves).
    node.ingressAddress.clear();
    if (const api::Network* ingress = findIngressNetwork(*networkList)) {
      auto grant = ingressAddressFor(*ingress);
      if (!grant) {
        return std::unexpected(grant.error().withContext("swarm join"));
      }
      node.ingressAddress = grant->address;
      const std::string guardKey = state::keys::networkAttachmentGuard(ingress->id);
      txn.compares.push_back(store::Compare::modRevisionIs(guardKey, grant->guardRevision));
      txn.success.push_back(store::Operation::put(guardKey, node.id));
    }
    txn.compares.push_back(store::Compare::modRevisionIs(
        std::string(state::keys::kNetworkAllocationGuard), guardRevision));
    // A rotation between the token check and this write must refuse the join.
    txn.compares.push_back(store::Compare::modRevisionIs(std::string(state::keys::kJoinTokenHashes),
                                                         hashes->modRevision));
    txn.success.push_back(store::Operation::put(state::keys::node(node.id), encodeJson(node)));
    txn.success.push_back(
        store::Operation::put(std::string(state::keys::kNetworkAllocationGuard), node.id));
    auto committed = store_.txn(txn);
    if (!committed) {
      return std::unexpected(committed.error().withContext("swarm join"));
    }
    admitted = committed->succeeded;
    if (!admitted) {
      // Was it the tokens that moved? Then the token is judged again.
      auto current = readJoinTokenHashes(store_);
      if (!current) {
        return std::unexpected(current.error().withContext("swarm join"));
      }
      if (current->modRevision != hashes->modRevision) {
        if (auto still = matchJoinToken(*token, cluster->caFingerprint, *current, sharedStore);
            !still) {
          return std::unexpected(still.error().withContext("swarm join"));
        }
        *hashes = *current;
      }
    }
  }
  if (!admitted) {
    return errorf(ErrorKind::Unavailable,
                  "swarm join: networks kept changing while the node was being admitted; retry");
  }
  {
    std::lock_guard lock(mutex_);
    nodes_[node.id] = TrackedNode{node.hostname, node.state, node.role, clock_.now(), node.address};
  }
  spdlog::info("node joined id={} hostname={} address={} role={}", node.id, node.hostname,
               node.address, node.role);
  return JoinResult{node,
                    cluster->id,
                    cluster->nodeTimeoutMs,
                    std::move(*certificate),
                    cluster->caCertificate,
                    cluster->store};
}

bool NodeManager::isMember(const std::string& nodeId, const std::string& role) {
  std::lock_guard lock(mutex_);
  auto it = nodes_.find(nodeId);
  return !nodeId.empty() && it != nodes_.end() &&
         (it->second.role == role || (!role.empty() && it->second.formerRole == role));
}

bool NodeManager::isManager(const std::string& nodeId) {
  std::lock_guard lock(mutex_);
  auto it = nodes_.find(nodeId);
  return it != nodes_.end() && it->second.role == kManagerRole;
}

Result<std::string> NodeManager::renewCertificate(const std::string& nodeId,
                                                  std::string_view csrPem,
                                                  const security::CaMaterial& ca) {
  security::NodeIdentity who;
  {
    std::lock_guard lock(mutex_);
    auto it = nodes_.find(nodeId);
    if (nodeId.empty() || it == nodes_.end()) {
      return errorf(ErrorKind::Unauthenticated,
                    "certificate renewal: node {} is not a member of this swarm; join it again "
                    "with `overmesh swarm join`",
                    nodeId.empty() ? "(none)" : nodeId);
    }
    who = {nodeId, it->second.role, clusterId_};
  }
  // Signed below for the record's role: from now on only that certificate is admitted.
  auto forgetFormerRole = [this, &nodeId, &who] {
    std::lock_guard lock(mutex_);
    if (auto it = nodes_.find(nodeId); it != nodes_.end() && it->second.role == who.role) {
      it->second.formerRole.clear();
    }
  };
  auto cluster = readCluster(store_);
  if (!cluster) {
    return std::unexpected(cluster.error().withContext("certificate renewal"));
  }
  auto certificate = security::signNodeCertificate(ca, csrPem, who, certValidity(*cluster),
                                                   std::chrono::system_clock::now());
  if (!certificate) {
    return std::unexpected(certificate.error().withContext("certificate renewal: field \"csr\""));
  }
  forgetFormerRole();
  spdlog::info("certificate renewed node={} role={}", who.nodeId, who.role);
  return certificate;
}

Status NodeManager::writeState(const std::string& nodeId, const std::string& state) {
  auto record = store_.get(state::keys::node(nodeId));
  if (!record) {
    return std::unexpected(record.error());
  }
  if (!*record) {
    return errorf(ErrorKind::NotFound, "node {} not found", nodeId);
  }
  auto node = decodeJson<api::Node>((*record)->value, (*record)->key);
  if (!node) {
    return errorf(ErrorKind::Internal, "corrupt node record: {}", node.error().message);
  }
  node->state = state;
  store::Txn txn;
  txn.compares.push_back(
      store::Compare::modRevisionIs(state::keys::node(nodeId), (*record)->modRevision));
  txn.success.push_back(store::Operation::put(state::keys::node(nodeId), encodeJson(*node)));
  auto committed = livenessStore_->txn(txn);
  if (!committed) {
    return std::unexpected(committed.error());
  }
  if (!committed->succeeded) {
    return errorf(ErrorKind::Conflict, "node {} changed while its state was being written",
                  nodeId);
  }
  return {};
}

// A heartbeat never writes the store, whatever the node's state: it updates the node's
// timestamp and, for a node marked down, notes that it is back; the next sweep writes it
// ready. A heartbeat that waited for a store commit would hold a handler thread: when
// many nodes come back at once (after a manager stall), hundreds of them queued behind
// the sweep's commits, timed out, and were marked down again (a storm).
Status NodeManager::heartbeat(const std::string& nodeId) {
  std::lock_guard lock(mutex_);
  auto it = nodes_.find(nodeId);
  if (it == nodes_.end()) {
    return errorf(ErrorKind::NotFound, "node {} is not a member of this swarm", nodeId);
  }
  it->second.lastSeen = clock_.now();
  if (it->second.state != "ready") {
    it->second.returning = true;
  }
  return {};
}

Result<api::Node> NodeManager::updateLabels(const std::string& reference,
                                            const NodeUpdateRequest& request) {
  for (const auto& [key, value] : request.labelAdd) {
    if (auto valid = validateLabelKey("--label-add", key); !valid) {
      return std::unexpected(valid.error().withContext("node update"));
    }
    if (value.size() > kMaxLabelValue) {
      return errorf(ErrorKind::InvalidArgument,
                    "node update: --label-add {} has a value of {} bytes: at most {} are allowed",
                    key, value.size(), kMaxLabelValue);
    }
  }
  for (const auto& key : request.labelRm) {
    if (auto valid = validateLabelKey("--label-rm", key); !valid) {
      return std::unexpected(valid.error().withContext("node update"));
    }
    if (request.labelAdd.contains(key)) {
      return errorf(ErrorKind::InvalidArgument,
                    "node update: label {} is both added (--label-add) and removed (--label-rm); "
                    "give it once",
                    key);
    }
  }
  constexpr int kMaxAttempts = 8;
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    auto read = readNodeRecords(store_, reference);
    if (!read) {
      return std::unexpected(read.error().withContext("node update"));
    }
    auto& [nodes, index] = *read;
    auto [node, revision] = nodes[index];
    for (const auto& [key, value] : request.labelAdd) {
      node.labels[key] = value;
    }
    for (const auto& key : request.labelRm) {
      node.labels.erase(key);
    }
    store::Txn txn;
    txn.compares.push_back(store::Compare::modRevisionIs(state::keys::node(node.id), revision));
    txn.success.push_back(store::Operation::put(state::keys::node(node.id), encodeJson(node)));
    auto committed = store_.txn(txn);
    if (!committed) {
      return std::unexpected(committed.error().withContext("node update"));
    }
    if (committed->succeeded) {
      return node;
    }
  }
  return errorf(ErrorKind::Unavailable, "node update: the node kept changing; retry");
}

Status NodeManager::remove(const std::string& nodeId) {
  if (nodeId == selfNodeId_) {
    return errorf(ErrorKind::FailedPrecondition,
                  "node {} is the manager; it cannot leave its own swarm", nodeId);
  }
  // The commit without mutex_: heartbeats run on the cluster listener's polling thread
  // (routeInline) and take mutex_, so no store round trip may happen under it.
  store::Txn txn;
  txn.success.push_back(store::Operation::del(state::keys::node(nodeId)));
  auto committed = store_.txn(txn);
  if (!committed) {
    return std::unexpected(committed.error());
  }
  {
    std::lock_guard lock(mutex_);
    // From here isMember() refuses the node's certificate for new connections.
    nodes_.erase(nodeId);
    // followStore() may hold an older change of this node not applied yet: it must not
    // bring the node back.
    removedAt_[nodeId] = committed->revision;
  }
  spdlog::info("node left id={}", nodeId);
  if (removalListener_) {
    removalListener_(nodeId);  // outside the lock: it closes connections
  }
  return {};
}

Result<RoleChange> NodeManager::setRole(const std::string& reference, std::string_view role) {
  const std::string command = role == kManagerRole ? "node promote" : "node demote";
  if (role != kManagerRole && role != kWorkerRole) {
    return errorf(ErrorKind::InvalidArgument, "node role {} is not valid: use manager or worker",
                  quote(std::string(role)));
  }
  auto cluster = readCluster(store_);
  if (!cluster) {
    return std::unexpected(cluster.error().withContext(command));
  }
  constexpr int kMaxAttempts = 8;
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    auto read = readNodeRecords(store_, reference);
    if (!read) {
      return std::unexpected(read.error().withContext(command));
    }
    auto& [nodes, index] = *read;
    auto [node, revision] = nodes[index];
    if (node.role == role) {
      return RoleChange{node, false};
    }
    if (role == kManagerRole && !isSharedStore(cluster->store)) {
      return errorf(ErrorKind::FailedPrecondition, "{}: {}", command, kSharedStoreRequired);
    }
    store::Txn txn;
    txn.compares.push_back(store::Compare::modRevisionIs(state::keys::node(node.id), revision));
    if (role == kWorkerRole) {
      // Every manager record is compared: a concurrent demote of another manager (or a
      // promote) moves one of them, and this one is decided again.
      int managers = 0;
      for (const auto& [other, otherRevision] : nodes) {
        if (other.role == kManagerRole) {
          ++managers;
          txn.compares.push_back(
              store::Compare::modRevisionIs(state::keys::node(other.id), otherRevision));
        }
      }
      if (managers <= 1) {
        return errorf(ErrorKind::FailedPrecondition,
                      "{}: {} ({}) is the only manager: {}; promote another node first", command,
                      node.hostname, node.id, kLastManagerRefusal);
      }
    }
    std::string formerRole = node.role;
    node.role = std::string(role);
    txn.success.push_back(store::Operation::put(state::keys::node(node.id), encodeJson(node)));
    auto committed = store_.txn(txn);
    if (!committed) {
      return std::unexpected(committed.error().withContext(command));
    }
    if (!committed->succeeded) {
      continue;
    }
    {
      std::lock_guard lock(mutex_);
      if (auto it = nodes_.find(node.id); it != nodes_.end()) {
        it->second.formerRole = formerRole;
        it->second.role = node.role;
      }
    }
    spdlog::info("node role changed id={} hostname={} role={} (was {})", node.id, node.hostname,
                 node.role, formerRole);
    return RoleChange{node, true};
  }
  return errorf(ErrorKind::Unavailable, "{}: the nodes kept changing; retry", command);
}

// The scan holds mutex_; the store writes do not, so heartbeats keep flowing while many
// nodes change state at once. Every change of one sweep is written in transactions of up
// to kStateBatch nodes: one commit (one fsync, one etcd round trip) and one watch event for
// a whole burst, so the fan-out to every agent, the manager's own agent and the
// orchestrator each see the burst once instead of once per node.
// A heartbeat that lands between the scan and the write finds the node still ready: the
// node is marked down (it was silent past the timeout) and, being heard again, is written
// ready by the next sweep.
Result<std::vector<StateChange>> NodeManager::sweep() {
  std::lock_guard writing(stateWriteMutex_);
  std::vector<StateChange> wanted;
  {
    std::lock_guard lock(mutex_);
    auto now = clock_.now();
    for (auto& [nodeId, node] : nodes_) {
      if (nodeId == selfNodeId_) {
        continue;
      }
      bool silent = now - node.lastSeen > nodeTimeout_;
      if (node.state == "ready" && silent) {
        wanted.push_back({nodeId, node.hostname, "down"});
        spdlog::warn(
            "node down id={} hostname={} silent_for_ms={}", nodeId, node.hostname,
            std::chrono::duration_cast<std::chrono::milliseconds>(now - node.lastSeen).count());
      } else if (node.state != "ready" && node.returning) {
        if (silent) {
          node.returning = false;  // heard once, then silent again: it stays down
        } else {
          wanted.push_back({nodeId, node.hostname, "ready"});
        }
      }
    }
  }
  std::vector<StateChange> changes;
  if (wanted.empty()) {
    return changes;
  }
  auto records = readStateRecords(wanted);  // once for every batch of this pass
  if (!records) {
    return std::unexpected(records.error());
  }
  for (std::size_t first = 0; first < wanted.size(); first += kStateBatch) {
    std::span<const StateChange> batch(wanted.data() + first,
                                       std::min(kStateBatch, wanted.size() - first));
    auto written = writeStates(batch, *records);
    if (!written) {
      return std::unexpected(written.error());
    }
    std::lock_guard lock(mutex_);
    auto now = clock_.now();
    for (const StateChange& change : *written) {
      auto it = nodes_.find(change.nodeId);
      if (it == nodes_.end()) {
        continue;
      }
      it->second.state = change.state;
      // A node written down that was heard meanwhile comes back at the next sweep.
      it->second.returning = change.state != "ready" && now - it->second.lastSeen <= nodeTimeout_;
      if (change.state == "ready") {
        spdlog::info("node ready id={} hostname={}", change.nodeId, change.hostname);
      }
      changes.push_back(change);
    }
  }
  return changes;
}

// Few nodes: one read each; many: one read of every record (one round trip on etcd).
Result<NodeManager::StateRecords> NodeManager::readStateRecords(
    std::span<const StateChange> changes) {
  StateRecords records;
  if (changes.size() > 8) {
    auto range = livenessStore_->range(std::string(state::keys::kNodes));
    if (!range) {
      return std::unexpected(range.error());
    }
    for (auto& kv : range->kvs) {
      records.emplace(kv.key, std::move(kv));
    }
    return records;
  }
  for (const StateChange& change : changes) {
    auto record = livenessStore_->get(state::keys::node(change.nodeId));
    if (!record) {
      return std::unexpected(record.error());
    }
    if (*record) {
      records.emplace((*record)->key, std::move(**record));
    }
  }
  return records;
}

// One transaction for the whole batch, each record compared on the revision it was read
// at; when another writer changed one of them (a conflict), each node is written on its
// own so that the others still change.
Result<std::vector<StateChange>> NodeManager::writeStates(std::span<const StateChange> batch,
                                                          const StateRecords& records) {
  store::Txn txn;
  std::vector<StateChange> included;
  for (const StateChange& change : batch) {
    auto found = records.find(state::keys::node(change.nodeId));
    if (found == records.end()) {
      continue;  // removed meanwhile
    }
    auto node = decodeJson<api::Node>(found->second.value, found->first);
    if (!node) {
      spdlog::error("corrupt node record {}: {}", found->first, node.error().message);
      continue;
    }
    node->state = change.state;
    txn.compares.push_back(store::Compare::modRevisionIs(found->first, found->second.modRevision));
    txn.success.push_back(store::Operation::put(found->first, encodeJson(*node)));
    included.push_back(change);
  }
  if (included.empty()) {
    return included;
  }
  auto committed = livenessStore_->txn(txn);
  if (!committed) {
    return std::unexpected(committed.error());
  }
  if (committed->succeeded) {
    return included;
  }
  std::vector<StateChange> written;
  for (const StateChange& change : included) {
    if (auto one = writeState(change.nodeId, change.state); !one) {
      if (one.error().kind == ErrorKind::Unavailable) {
        return std::unexpected(one.error());
      }
      continue;  // removed or changed meanwhile: the next sweep sees the new record
    }
    written.push_back(change);
  }
  return written;
}

}  // namespace overmesh::manager
